"""What Network and Gateway Load Balancers share, over lbcore's L4 data path.

Per listener: one connection table (``L4Path``, over a ``lbcore.FlowTable``)
and, per load balancer node (one per enabled Availability Zone), a Maglev
lookup table over the targets that node may place new flows on
(:func:`lbcore.elb._zones.node_pools`). Tables are rebuilt when a target
group's ``version`` changes; a flow already pinned stays on its target while
that target is ``valid`` for existing flows (the rules differ between NLB and
GWLB: their ``valid_mask``; see docs/elb.md).
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Mapping, Sequence

import numpy as np

from lbcore import Flow, Flows, Maglev, hash_key
from lbcore.elb._attributes import (LISTENER_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES,
                                    modify_attributes, parse_attributes)
from lbcore.elb._kernels import (MAX_FLOW_CAPACITY, L4Path, flow_columns, is_prime,
                                 maglev_table_size, parse_seed)
from lbcore.elb._targets import (HEALTHY, Clock, PickleWithoutLock, Target, TargetGroup,
                                 check_clock)
from lbcore.elb._zones import node_pools

__all__ = ["L4LoadBalancer", "L4Listener", "UDP_IDLE_SECONDS", "TLS_IDLE_SECONDS",
           "ZONE_AFFINITY", "check_flow", "check_flows", "check_times", "Attributes"]

UDP_IDLE_SECONDS = 120.0     # NLB UDP flows and GWLB non-TCP flows
TLS_IDLE_SECONDS = 350       # NLB TLS listeners: fixed (NLB guide, "Update the TCP idle timeout")
# dns_record.client_routing_policy -> share of a client's queries answered with its
# own zone's node (NLB guide, "Availability Zone DNS affinity")
ZONE_AFFINITY = {"availability_zone_affinity": 1.0,
                 "partial_availability_zone_affinity": 0.85,
                 "any_availability_zone": 0.0}
_AFFINITY_SALT = 0x415A41
_NODE_SALT, _KEY_SALT, _STICKY_SALT, _TARGET_SALT = 0x4E4F4445, 0x4B4559, 0x535449, 0x544754

Attributes = Sequence[Mapping[str, str]] | Mapping[str, str] | None


def _derive(seed: int, salt: int) -> int:
    return int(hash_key(salt, seed=seed)) & ((1 << 63) - 1)


def check_flow(flow: object) -> None:
    if type(flow) is not Flow:
        raise TypeError(f"flow must be a lbcore.Flow, got {type(flow).__name__}")


def check_flows(flows: object) -> None:
    """A ``lbcore.Flows`` whose columns have the kernels' dtypes and one length."""
    if not isinstance(flows, Flows):
        raise TypeError(f"flows must be a lbcore.Flows, got {type(flows).__name__}")
    flow_columns(flows)


def check_times(times: object, n: int) -> np.ndarray:
    """``times`` (a number or one time per flow) as a float64 array of ``n``:
    finite and non-decreasing, or ValueError naming ``times``."""
    if isinstance(times, (bool, np.bool_, str, bytes)):
        raise TypeError(f"times must be seconds (a number or an array), got "
                        f"{type(times).__name__}")
    try:
        t = np.asarray(times, dtype=np.float64) if not np.isscalar(times) else \
            np.full(n, float(times))        # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise TypeError(f"times must be seconds (a number or an array): {e}") from None
    if isinstance(times, np.ndarray) and times.dtype == np.bool_:
        raise TypeError("times must be seconds, got a bool array")
    if t.ndim != 1 or t.shape[0] != n:
        raise ValueError(f"times must be a number or one time per flow ({n}), "
                         f"got shape {t.shape}")
    if n and not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if n > 1 and not np.all(t[1:] >= t[:-1]):
        raise ValueError("times must not decrease within a batch (flows are routed "
                         "in order and time never goes backwards)")
    return t


class L4Listener:
    """One listener of an NLB or GWLB: protocol, port, target group, idle
    timeout, its connection table (``path``) and what was last built for it."""

    __slots__ = ("protocol", "port", "target_group", "tcp_idle", "attributes", "path",
                 "built_tg_version", "built_config", "dns", "valid", "index", "targets")

    def __init__(self, protocol: str, port: int, target_group: TargetGroup,
                 tcp_idle: float, attributes: dict[str, str], index: int,
                 path: Any) -> None:
        self.protocol = protocol
        self.port = port
        self.target_group = target_group
        self.tcp_idle = tcp_idle
        self.attributes = attributes
        self.index = index
        self.path = path
        # what the path was last built from: the target group's version and the load
        # balancer's configuration counter (-1: never built)
        self.built_tg_version = -1
        self.built_config = -1
        self.dns: np.ndarray = np.zeros(0, np.int32)
        self.valid: np.ndarray = np.zeros(0, bool)
        self.targets: list[Target] = []      # the target group's targets at the last build


class L4LoadBalancer(PickleWithoutLock):
    """The shared part of :class:`~lbcore.elb.NetworkLoadBalancer` and
    :class:`~lbcore.elb.GatewayLoadBalancer` (not used directly)."""

    _family = ""
    # (targets, zones, target index, node index, dropped) -> the route's decision: a
    # module-level function (so the partial the path holds pickles), set per family
    _decision_maker: Any = None

    def __init__(self, availability_zones: Sequence[str], *, attributes: Attributes = None,
                 seed: int = 0, table_size: int = 65537, flow_capacity: int = 1024,
                 clock: Clock | None = None, **kwargs: str | int | bool) -> None:
        if isinstance(availability_zones, str):
            raise TypeError("availability_zones must be a sequence of AZ names, not a str")
        zones = tuple(availability_zones)
        if not zones:
            raise ValueError("availability_zones must not be empty")
        for z in zones:
            if not isinstance(z, str) or not z:
                raise ValueError(f"availability_zones: names must be non-empty str, got {z!r}")
        if len(set(zones)) != len(zones):
            raise ValueError("availability_zones: an AZ is listed twice")
        self.availability_zones = zones
        self._n_nodes = len(zones)
        self._seed = parse_seed(seed)
        if isinstance(table_size, bool) or not isinstance(table_size, int) or \
                not is_prime(table_size) or table_size < 7:
            raise ValueError(f"table_size must be a prime >= 7, got {table_size!r}")
        self.table_size = table_size
        if isinstance(flow_capacity, bool) or not isinstance(flow_capacity, int) or \
                not 1 <= flow_capacity <= MAX_FLOW_CAPACITY:
            raise ValueError(f"flow_capacity must be an int in 1..2**26 (a connection-table "
                             f"entry takes 96 bytes: 2**26 of them are about 6.5 GiB), got {flow_capacity!r}")
        self.flow_capacity = flow_capacity
        self._clock = check_clock(clock)
        self.attribute_values, self.attributes = parse_attributes(
            LOAD_BALANCER_ATTRIBUTES, self._family, None, attributes, kwargs)
        self._listeners: list[L4Listener] = []
        self._node_seed = _derive(self._seed, _NODE_SALT)
        self._key_seed = _derive(self._seed, _KEY_SALT)
        self._sticky_seed = _derive(self._seed, _STICKY_SALT)
        self._target_seed = _derive(self._seed, _TARGET_SALT)
        self._affinity_seed = _derive(self._seed, _AFFINITY_SALT)
        self._config = 0
        # The thread rule: one load balancer may be shared by threads. Every call that
        # changes listeners or rebuilds tables holds this lock, and so does a ``route``
        # that reads the load balancer's clock (the clock read and the route are one
        # step, so threads' times reach the table in order). A ``route`` given ``now``
        # does not: the path routes a flow and picks its decision object under the
        # path's own lock, and a rebuild swaps the path's tables and decisions together
        # (set_selection), so a route sees one build or the next, never a mix.
        self._lock = threading.Lock()

    # ------------------------------------------------------------ configuration
    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def cross_zone(self) -> bool:
        return bool(self.attribute_values["load_balancing.cross_zone.enabled"])

    def set_attributes(self, attributes: Attributes = None,
                       **kwargs: str | int | bool) -> L4LoadBalancer:
        """ModifyLoadBalancerAttributes: change some attributes (the others keep
        their values); takes the same forms as the constructor."""
        with self._lock:
            self.attribute_values, self.attributes = modify_attributes(
                LOAD_BALANCER_ATTRIBUTES, self._family, None, self.attributes, attributes,
                kwargs)
            self._config += 1
        return self

    def _add_listener(self, protocol: str, port: int, target_group: TargetGroup,
                      attributes: Attributes, kwargs: Mapping[str, Any]) -> L4Listener:
        if not isinstance(target_group, TargetGroup):
            raise TypeError(f"target_group must be a TargetGroup, got {type(target_group).__name__}")
        if target_group.family != self._family:
            raise ValueError(f"target_group: a {self._family.upper()} needs a "
                             f"{'GENEVE' if self._family == 'gwlb' else 'TCP/UDP/TCP_UDP/TLS'} "
                             f"target group, got protocol {target_group.protocol}")
        values, strings = parse_attributes(LISTENER_ATTRIBUTES, self._family, None, attributes,
                                           kwargs, what="listener attributes")
        if protocol == "TLS":
            # NLB guide: "The connection idle timeout for TLS listeners is 350 seconds
            # and can't be modified"; sticky sessions are not supported for TLS
            # listeners that use TLS target groups
            if values["tcp.idle_timeout.seconds"] != TLS_IDLE_SECONDS:
                raise ValueError(f"tcp.idle_timeout.seconds: a TLS listener's idle timeout is "
                                 f"fixed at {TLS_IDLE_SECONDS}, got "
                                 f"{strings['tcp.idle_timeout.seconds']!r}")
            if target_group.protocol == "TLS" and target_group.stickiness_enabled:
                raise ValueError("target_group: stickiness.enabled is not supported for a TLS "
                                 "listener with a TLS target group")
        index = len(self._listeners)
        lst = L4Listener(protocol, port, target_group, float(values["tcp.idle_timeout.seconds"]),
                         strings, index,
                         L4Path(self.flow_capacity, seed=_derive(self._seed, 0x4C53 + index)))
        self._listeners.append(lst)
        self._config += 1
        return lst

    @property
    def target_groups(self) -> list[TargetGroup]:
        return [lst.target_group for lst in self._listeners]

    # ------------------------------------------------------------ health and nodes
    def is_healthy(self, now: float | None = None) -> bool:
        """Route 53 alias EvaluateTargetHealth: healthy when every target group of
        its listeners has at least one healthy target at ``now`` (omitted: the load
        balancer's clock). A target group with no registered targets is unhealthy
        (Route 53 guide, "Evaluate target health"); so is a load balancer without
        listeners (nothing to route to)."""
        with self._lock:
            if now is None:
                now = self._clock()
            if not self._listeners:
                return False
            for tg in {id(lst.target_group): lst.target_group for lst in self._listeners}.values():
                tg.advance(now)
                if not tg.has_healthy():
                    return False
            return True

    def target_health(self, now: float | None = None, listener: int = 0) -> dict[Any, str]:
        """``{target id: state}`` as DescribeTargetHealth reports it for this load
        balancer at ``now``: the target group's states, except that a registered
        target in an Availability Zone the load balancer has not enabled is
        ``unused`` (reason ``Target.NotInUse``; ELB guides, target health status)
        -- such targets get no traffic (:func:`~lbcore.elb.node_pools`)."""
        lst = self._listener(listener)
        tg = lst.target_group
        states = tg.states(self._clock() if now is None else now)
        zones = set(self.availability_zones)
        registered = tg.registered_mask()
        for j, t in enumerate(tg.targets):
            if registered[j] and t.availability_zone not in zones:
                states[t.id] = "unused"
        return states

    @property
    def client_routing_policy(self) -> str:
        """``dns_record.client_routing_policy`` (NLB; a GWLB has no such attribute)."""
        return str(self.attribute_values.get("dns_record.client_routing_policy",
                                             "any_availability_zone"))

    def dns_answer(self, client_zone: str | None = None, now: float | None = None, *,
                   listener: int = 0, client: object = None) -> list[str]:
        """The nodes (AZ names, standing for their IP addresses) a DNS query for the
        load balancer's name is answered with at ``now``, for a client in
        ``client_zone`` (None: outside AWS, or unknown). Without affinity, or with
        no such client zone, or when that zone's node is out of DNS: every node in
        DNS (:meth:`nodes_in_dns`). ``dns_record.client_routing_policy``
        ``availability_zone_affinity``: only the client's zone's node;
        ``partial_availability_zone_affinity``: that node for 85 % of clients
        (drawn by a seeded hash of ``client``, e.g. its address, so one client
        keeps its answer), every node in DNS for the others (NLB guide,
        "Availability Zone DNS affinity")."""
        dns = self.nodes_in_dns(now, listener)
        z = self._affinity_node(self._listener(listener), client_zone, client)
        return [self.availability_zones[z]] if z >= 0 else dns

    def _affinity_node(self, lst: L4Listener, client_zone: str | None, client: object) -> int:
        # the node a client in client_zone is sent to by zonal DNS affinity, -1 for
        # "any node in DNS" (then the flow's hash chooses, as without affinity)
        if client_zone is None:
            return -1
        if not isinstance(client_zone, str):
            raise TypeError(f"client_zone must be an AZ name (str) or None, got "
                            f"{type(client_zone).__name__}")
        share = ZONE_AFFINITY[self.client_routing_policy]
        if share == 0.0 or client_zone not in self.availability_zones:
            return -1
        z = self.availability_zones.index(client_zone)
        if z not in lst.dns.tolist():
            return -1         # no healthy node in the client's zone: any zone in DNS
        if share < 1.0:
            key = client if isinstance(client, (str, bytes, int)) else repr(client)
            u = int(hash_key(key, seed=self._affinity_seed)) / 2.0 ** 64
            if u >= share:
                return -1
        return z

    def _valid_mask(self, tg: TargetGroup, codes: np.ndarray, any_healthy: bool) -> np.ndarray:
        raise NotImplementedError

    def _configure(self, lst: L4Listener) -> None:
        raise NotImplementedError

    def _rebuild(self, lst: L4Listener) -> None:
        tg = lst.target_group
        codes = tg.state_codes
        cross = tg.cross_zone
        if cross is None:
            cross = self.cross_zone
        np_ = node_pools(tg, self.availability_zones, cross_zone=cross)
        targets = tg.targets
        ids = [t.id for t in targets]
        random_drop = self._family == "gwlb"
        tables, offsets, lengths, randoms = [], [], [], []
        cache: dict[tuple[bool, bytes], tuple[int, np.ndarray]] = {}
        pos = 0
        for pool, healthy in zip(np_.pools, np_.healthy):
            rand = random_drop and not healthy
            sig = (rand, pool.tobytes())
            if sig not in cache:
                if pool.size == 0 or rand:
                    table = pool
                else:
                    m = maglev_table_size(pool.size, self.table_size)
                    mg = Maglev([ids[i] for i in pool.tolist()], table_size=m,
                                seed=self._target_seed)
                    table = pool[mg.table]
                cache[sig] = (pos, table)
                tables.append(table)
                pos += table.shape[0]
            off, table = cache[sig]
            offsets.append(off)
            lengths.append(table.shape[0])
            randoms.append(rand)
        all_tables = np.concatenate(tables) if tables else np.zeros(0, np.int32)
        valid = self._valid_mask(tg, codes, bool(np.any(codes == HEALTHY)))
        lst.path.set_selection(all_tables, np.array(offsets, np.int64),
                               np.array(lengths, np.int32), np.array(randoms, np.uint8),
                               valid.astype(np.uint8),
                               decide=functools.partial(self._decision_maker, tuple(targets),
                                                        self.availability_zones))
        lst.valid = valid
        lst.dns = np_.dns
        lst.targets = targets
        lst.path.set_dns(lst.dns)
        self._configure(lst)
        lst.built_tg_version, lst.built_config = tg.version, self._config

    def _ensure(self, lst: L4Listener) -> None:
        if lst.built_tg_version != lst.target_group.version or lst.built_config != self._config:
            self._rebuild(lst)

    def _ensure_locked(self, lst: L4Listener) -> None:
        """A route's rebuild: routes do not hold the load balancer's lock (see the
        thread rule), so take it and check again under it."""
        with self._lock:
            self._ensure(lst)

    def nodes_in_dns(self, now: float | None = None, listener: int = 0) -> list[str]:
        """AZ names whose node DNS hands out for this listener at ``now``
        (omitted: the load balancer's clock)."""
        with self._lock:
            lst = self._listener(listener)
            lst.target_group.advance(self._clock() if now is None else now)
            self._ensure(lst)
            return [self.availability_zones[z] for z in lst.dns.tolist()]

    def close(self, flow: Flow, now: float | None = None) -> bool:
        """The flow's connection ended at ``now`` (omitted: the load balancer's clock):
        the load balancer saw its FIN or RST, so its entry leaves the connection table
        and the next flow with the same 5-tuple is placed afresh. True when it was
        tracked. A listener keying flows by fewer fields (GWLB 2- and 3-tuple
        stickiness) keeps the entry, which stands for every connection of the pair,
        until it idles out (False); UDP flows have no end to see: they idle out."""
        check_flow(flow)
        lst = self._flow_listener(flow)
        if lst is None:
            return False
        if now is None:
            with self._lock:
                return bool(lst.path.close_flow(flow, self._clock()))
        return bool(lst.path.close_flow(flow, now))

    def _flow_listener(self, flow: Flow) -> L4Listener | None:
        raise NotImplementedError

    def flow_path(self, now: float | None = None, listener: int = 0) -> tuple[Any, tuple]:
        """The listener's data path as :meth:`route` finds it at ``now`` (omitted: the
        load balancer's clock): its ``L4Path`` (connection table and node selection
        tables, rebuilt first if the target group changed) and the targets its
        indices name. C code routes flows on it through ``path.ctypes``
        (``lb_l4_route_fields``: the route of ``route(flow, now)`` without a node,
        decision object aside) while the target group stays as it was at ``now``;
        after a change, call again. lbcore's simulator places its flows so."""
        with self._lock:
            lst = self._listener(listener)
            lst.target_group.advance(self._clock() if now is None else now)
            self._ensure(lst)
            return lst.path, tuple(lst.targets)

    def _listener(self, listener: int) -> L4Listener:
        if isinstance(listener, bool) or not isinstance(listener, int) or \
                not 0 <= listener < len(self._listeners):
            raise ValueError(f"listener must be an index in 0..{len(self._listeners) - 1}, "
                             f"got {listener!r}")
        return self._listeners[listener]

    def _node_index(self, node: str | int | None) -> int:
        if node is None:
            return -1
        if isinstance(node, str):
            try:
                return self.availability_zones.index(node)
            except ValueError:
                raise ValueError(f"node must be one of {self.availability_zones}, "
                                 f"got {node!r}") from None
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)) or \
                not 0 <= node < len(self.availability_zones):
            raise ValueError(f"node must be an AZ name or an index < "
                             f"{len(self.availability_zones)}, got {node!r}")
        return int(node)

    def _prepare(self, lst: L4Listener, t0: float) -> None:
        lst.target_group.advance(t0)
        self._ensure(lst)
