"""Network and Gateway Load Balancers over lbcore's L4 data path (lbcore._l4).

Per listener: one connection table (``L4Path``, over a ``lbcore.FlowTable``)
and, per load balancer node (one per enabled Availability Zone), a Maglev
lookup table over the targets that node may place new flows on. Tables are rebuilt when a target group's ``version``
changes; a flow already pinned stays on its target while that target is
``valid`` for existing flows (rules differ between NLB and GWLB, see
docs/elb.md).
"""
from __future__ import annotations

import math

import numpy as np

from lbcore._flow import Flow
from lbcore._hash import flow_hash, hash_key, hash_u64_many, parse_seed
from lbcore._flowtable import _MAX_CAPACITY as _MAX_FLOW_CAPACITY, _flow_columns
from lbcore._l4 import L4Path
from lbcore.flows import Flows
from lbcore._maglev import Maglev
from lbcore.elb._attributes import (LISTENER_ATTRIBUTES, LOAD_BALANCER_ATTRIBUTES,
                                    parse_attributes)
from lbcore.elb.targets import DRAINING, HEALTHY, INITIAL, UNHEALTHY, UNUSED, TargetGroup
from lbcore.elb.zones import node_pools

__all__ = ["NetworkLoadBalancer", "GatewayLoadBalancer", "L4Result"]

_DROPPED, _NEW, _NO_TARGET = 0x01, 0x02, 0x04
_U64 = (1 << 64) - 1
UDP_IDLE_SECONDS = 120.0     # NLB UDP flows and GWLB non-TCP flows
_NODE_SALT, _KEY_SALT, _STICKY_SALT, _TARGET_SALT = 0x4E4F4445, 0x4B4559, 0x535449, 0x544754


def _is_prime(m):
    if m < 2:
        return False
    i = 2
    while i * i <= m:
        if m % i == 0:
            return False
        i += 1
    return True


def _derive(seed, salt):
    return hash_key(salt, seed=seed) & ((1 << 63) - 1)


class L4Result:
    """A routed batch: per flow ``target`` (index into ``target_groups[listener]``,
    -1 = none), ``node`` (index into ``availability_zones``, -1 = no listener),
    ``listener`` (-1 = no listener matched), ``dropped`` (GWLB: placed while no
    target was healthy), ``new`` (placed now rather than found pinned)."""

    __slots__ = ("target", "node", "listener", "dropped", "new", "_lb")

    def __init__(self, lb, target, node, listener, flags):
        self._lb = lb
        self.target = target
        self.node = node
        self.listener = listener
        self.dropped = (flags & _DROPPED) != 0
        self.new = (flags & _NEW) != 0

    def __len__(self):
        return self.target.shape[0]

    def target_ids(self):
        """The target ids as a list (None where no target)."""
        out = [None] * len(self)
        for li, lst in enumerate(self._lb._listeners):
            targets = lst.target_group._targets
            for i in np.flatnonzero((self.listener == li) & (self.target >= 0)).tolist():
                out[i] = targets[self.target[i]].id
        return out

    def counts(self, listener=0):
        """Flows per target index of one listener's target group (int64 array)."""
        tg = self._lb._listeners[listener].target_group
        t = self.target[(self.listener == listener) & (self.target >= 0)]
        return np.bincount(t, minlength=len(tg))


class _Listener:
    __slots__ = ("protocol", "port", "target_group", "tcp_idle", "attributes", "path",
                 "built_version", "dns", "valid", "index")


class _L4LoadBalancer:
    _family = None

    def __init__(self, availability_zones, *, attributes=None, seed=0, table_size=65537,
                 flow_capacity=1024, **kwargs):
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
        self._seed = parse_seed(seed)
        if isinstance(table_size, bool) or not isinstance(table_size, int) or \
                not _is_prime(table_size) or table_size < 7:
            raise ValueError(f"table_size must be a prime >= 7, got {table_size!r}")
        self.table_size = table_size
        if isinstance(flow_capacity, bool) or not isinstance(flow_capacity, int) or \
                not 1 <= flow_capacity <= _MAX_FLOW_CAPACITY:
            raise ValueError(f"flow_capacity must be an int in 1..2**26 (a connection-table "
                             f"entry takes 96 bytes: 2**26 of them are about 6.5 GiB), got {flow_capacity!r}")
        self.flow_capacity = flow_capacity
        self.attribute_values, self.attributes = parse_attributes(
            LOAD_BALANCER_ATTRIBUTES, self._family, None, attributes, kwargs)
        self._listeners = []
        self._node_seed = _derive(self._seed, _NODE_SALT)
        self._key_seed = _derive(self._seed, _KEY_SALT)
        self._sticky_seed = _derive(self._seed, _STICKY_SALT)
        self._target_seed = _derive(self._seed, _TARGET_SALT)
        self._config = 0

    # ------------------------------------------------------------ configuration
    @property
    def cross_zone(self):
        return self.attribute_values["load_balancing.cross_zone.enabled"]

    def set_attributes(self, attributes=None, **kwargs):
        """ModifyLoadBalancerAttributes: change some attributes (the others keep
        their values); takes the same forms as the constructor."""
        values, strings = parse_attributes(LOAD_BALANCER_ATTRIBUTES, self._family, None,
                                           attributes, kwargs)
        changed = set()
        if attributes is not None:
            changed |= set(attributes) if isinstance(attributes, dict) else \
                {a["Key"] for a in attributes}
        changed |= {k for k in LOAD_BALANCER_ATTRIBUTES if k.replace(".", "_") in kwargs}
        merged = dict(self.attributes)
        merged.update({k: strings[k] for k in changed})
        self.attribute_values, self.attributes = parse_attributes(
            LOAD_BALANCER_ATTRIBUTES, self._family, None, merged)
        self._config += 1
        return self

    def _add_listener(self, protocol, port, target_group, attributes, kwargs):
        if not isinstance(target_group, TargetGroup):
            raise TypeError(f"target_group must be a TargetGroup, got {type(target_group).__name__}")
        if target_group.family != self._family:
            raise ValueError(f"target_group: a {self._family.upper()} needs a "
                             f"{'GENEVE' if self._family == 'gwlb' else 'TCP/UDP/TCP_UDP/TLS'} "
                             f"target group, got protocol {target_group.protocol}")
        values, strings = parse_attributes(LISTENER_ATTRIBUTES, self._family, None, attributes,
                                           kwargs, what="listener attributes")
        lst = _Listener()
        lst.protocol = protocol
        lst.port = port
        lst.target_group = target_group
        lst.tcp_idle = float(values["tcp.idle_timeout.seconds"])
        lst.attributes = strings
        lst.index = len(self._listeners)
        lst.path = L4Path(self.flow_capacity, seed=_derive(self._seed, 0x4C53 + lst.index))
        lst.built_version = None
        self._listeners.append(lst)
        self._config += 1
        return lst

    @property
    def target_groups(self):
        return [lst.target_group for lst in self._listeners]

    # ------------------------------------------------------------ health and nodes
    def is_healthy(self, now):
        """Route 53 alias EvaluateTargetHealth: healthy when every target group
        with registered targets has at least one healthy target."""
        for tg in {id(l.target_group): l.target_group for l in self._listeners}.values():
            tg.advance(now)
            if not tg.is_empty() and not tg.has_healthy():
                return False
        return True

    def _valid_mask(self, tg, codes, any_healthy):
        raise NotImplementedError

    def _configure(self, lst):
        raise NotImplementedError

    def _rebuild(self, lst):
        tg = lst.target_group
        codes = tg._codes
        cross = tg.cross_zone
        if cross is None:
            cross = self.cross_zone
        np_ = node_pools(tg, self.availability_zones, cross_zone=cross)
        ids = [t.id for t in tg._targets]
        random_drop = self._family == "gwlb"
        tables, offsets, lengths, randoms = [], [], [], []
        cache = {}
        pos = 0
        for pool, healthy in zip(np_.pools, np_.healthy):
            rand = random_drop and not healthy
            sig = (rand, pool.tobytes())
            if sig not in cache:
                if pool.size == 0 or rand:
                    table = pool
                else:
                    m = self.table_size
                    if m < 100 * pool.size:      # Maglev paper: M well above 100 N
                        m = _next_prime(100 * pool.size)
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
                               valid.astype(np.uint8))
        lst.valid = valid
        lst.dns = np_.dns
        lst.path.set_dns(lst.dns)
        self._configure(lst)
        lst.built_version = (tg.version, self._config)

    def _ensure(self, lst):
        if lst.built_version != (lst.target_group.version, self._config):
            self._rebuild(lst)

    def nodes_in_dns(self, now, listener=0):
        """AZ names whose node DNS hands out for this listener at ``now``."""
        lst = self._listener(listener)
        lst.target_group.advance(now)
        self._ensure(lst)
        return [self.availability_zones[z] for z in lst.dns.tolist()]

    def _listener(self, listener):
        if isinstance(listener, bool) or not isinstance(listener, int) or \
                not 0 <= listener < len(self._listeners):
            raise ValueError(f"listener must be an index in 0..{len(self._listeners) - 1}, "
                             f"got {listener!r}")
        return self._listeners[listener]

    def _node_index(self, node):
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

    # ------------------------------------------------------------ batch helpers
    @staticmethod
    def _times(times, n):
        t = np.asarray(times, dtype=np.float64) if not np.isscalar(times) else \
            np.full(n, float(times))
        if t.ndim != 1 or t.shape[0] != n:
            raise ValueError(f"times must be a number or one time per flow ({n}), "
                             f"got shape {t.shape}")
        if n and not np.all(np.isfinite(t)):
            raise ValueError("times must be finite")
        if n > 1 and not np.all(t[1:] >= t[:-1]):
            raise ValueError("times must not decrease within a batch (flows are routed "
                             "in order and time never goes backwards)")
        return t

    def _prepare(self, lst, t0):
        lst.target_group.advance(t0)
        self._ensure(lst)


def _next_prime(m):
    while not _is_prime(m):
        m += 1
    return m


def _check_flow(flow):
    if type(flow) is not Flow:
        raise TypeError(f"flow must be a lbcore.Flow, got {type(flow).__name__}")


def _check_flows(flows):
    """A ``lbcore.Flows`` whose columns have the kernels' dtypes and one length."""
    if not isinstance(flows, Flows):
        raise TypeError(f"flows must be a lbcore.Flows, got {type(flows).__name__}")
    _flow_columns(flows)


class NetworkLoadBalancer(_L4LoadBalancer):
    """An AWS Network Load Balancer.

    ``availability_zones``: the enabled AZs (one node each). Load balancer
    attributes as the elbv2 API gives them (``load_balancing.cross_zone.enabled``,
    default ``false``; ``dns_record.client_routing_policy`` is accepted but not
    modelled). Add listeners with :meth:`add_listener`. ``seed`` makes every
    hash and random choice reproducible; ``table_size`` (prime) is the Maglev
    table size; ``flow_capacity`` the initial size of each listener's
    connection table (it grows as needed). See docs/elb.md.
    """
    _family = "nlb"

    def __init__(self, availability_zones, *, attributes=None, seed=0, table_size=65537,
                 flow_capacity=1024, **kwargs):
        super().__init__(availability_zones, attributes=attributes, seed=seed,
                         table_size=table_size, flow_capacity=flow_capacity, **kwargs)
        self._by_port = {}

    def add_listener(self, protocol, port, target_group, *, attributes=None, **kwargs):
        """A listener (``TCP``, ``UDP``, ``TCP_UDP`` or ``TLS`` on ``port``)
        forwarding to ``target_group``; listener attribute
        ``tcp.idle_timeout.seconds`` 60–6000 (default 350)."""
        if protocol not in ("TCP", "UDP", "TCP_UDP", "TLS"):
            raise ValueError(f"protocol must be TCP, UDP, TCP_UDP or TLS, got {protocol!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be in 1..65535, got {port!r}")
        mine = _l4_protocols(protocol)
        for other in self._listeners:
            if other.port == port and mine & _l4_protocols(other.protocol):
                raise ValueError(f"port: a listener on {port} already takes "
                                 f"{other.protocol} traffic")
        lst = self._add_listener(protocol, port, target_group, attributes, kwargs)
        for p in mine:
            self._by_port[(p, port)] = lst
        return lst.index

    def _configure(self, lst):
        tg = lst.target_group
        lst.path.configure(self._key_seed, self._node_seed, 0, False, False,
                           tg.attribute_values["stickiness.enabled"], self._sticky_seed,
                           lst.tcp_idle, UDP_IDLE_SECONDS)

    def _valid_mask(self, tg, codes, any_healthy):
        # Existing flows stay on healthy and draining targets (draining ends at
        # the deregistration delay). Unhealthy: kept unless the target group
        # terminates connections to unhealthy targets (TCP/TLS default) while
        # some target is healthy (when none is, the group fails open).
        # Deregistered targets: connections are closed at the end of the delay only
        # with deregistration_delay.connection_termination.enabled (UDP default);
        # otherwise existing flows continue on the now unused target until idle.
        terminate = tg.attribute_values.get(
            "target_health_state.unhealthy.connection_termination.enabled", False)
        dereg_terminate = tg.attribute_values.get(
            "deregistration_delay.connection_termination.enabled", False)
        valid = (codes == HEALTHY) | (codes == DRAINING) | (codes == INITIAL)
        if not terminate or not any_healthy:
            valid |= codes == UNHEALTHY
        if not dereg_terminate:
            valid |= codes == UNUSED
        return valid

    def route(self, flow, now, *, node=None):
        """Route one flow at time ``now`` → ``(Target or None, AZ name or None)``.

        ``node``: the AZ (name or index) whose node the client reached; default:
        chosen as DNS would, uniformly over the nodes in DNS (by the client's
        address). No listener for the flow's protocol/port → ``(None, None)``.
        """
        lst = self._by_port.get((flow.proto, flow.dport)) if type(flow) is Flow else \
            _check_flow(flow)
        if lst is None:
            return None, None
        tg = lst.target_group
        tg._advance_clock(now)
        if lst.built_version != (tg.version, self._config):
            self._rebuild(lst)
        t = lst.path.route_flow(flow, now, -1 if node is None else self._node_index(node))
        return (tg._targets[t] if t >= 0 else None), self.availability_zones[lst.path.last_node]

    def route_many(self, flows, times, *, node=None):
        """Route a batch (``lbcore.Flows``) at per-flow ``times`` (or one time).

        Returns an :class:`L4Result`. Target states are sampled once, at the
        earliest time of the batch; flows are processed in batch order.
        """
        _check_flows(flows)
        n = len(flows)
        times = self._times(times, n)
        z = self._node_index(node)
        out = (np.full(n, -1, np.int32), np.full(n, -1, np.int32), np.zeros(n, np.uint8))
        listener = np.full(n, -1, dtype=np.int32)
        if n == 0:
            return L4Result(self, out[0], out[1], listener, out[2])
        proto = flows.protocol
        port = flows.dst_port
        routed = []
        for lst in self._listeners:
            ps = _l4_protocols(lst.protocol)
            hit = port == lst.port
            hit &= (proto == 6) | (proto == 17) if len(ps) == 2 else proto == next(iter(ps))
            if hit.all():
                index = None
                t0 = times[0]
            else:
                index = np.flatnonzero(hit)
                if index.size == 0:
                    continue
                t0 = times[index[0]]
            self._prepare(lst, float(t0))
            lst.path.route_flows(flows, times, z, index, out)
            listener[hit] = lst.index
            routed.append(lst)
        for lst in routed:      # the clock moves on to the batch's last time
            lst.target_group._advance_clock(float(times[-1]))
        return L4Result(self, out[0], out[1], listener, out[2])


def _l4_protocols(protocol):
    return {"TCP": {6}, "TLS": {6}, "UDP": {17}, "TCP_UDP": {6, 17}}[protocol]


_GWLB_FIELDS = {False: "5-tuple", "source_ip_dest_ip_proto": "3-tuple",
                "source_ip_dest_ip": "2-tuple"}


class GatewayLoadBalancer(_L4LoadBalancer):
    """An AWS Gateway Load Balancer: one listener (all IP traffic) forwarding
    to a GENEVE target group of appliances.

    Flows are keyed by a symmetric hash (both directions of a flow reach the
    same appliance) of the 5-tuple, or the 3-/2-tuple under
    ``stickiness.type`` ``source_ip_dest_ip_proto`` / ``source_ip_dest_ip``;
    flows that are neither TCP nor UDP use the 3-tuple. ``target_failover``
    (``no_rebalance`` default, or ``rebalance``) decides whether existing flows
    leave an unhealthy or deregistered appliance. With no healthy appliance, a
    new flow goes to a random registered appliance for its life and is
    reported as dropped. Idle timeout: TCP 350 s (listener attribute
    ``tcp.idle_timeout.seconds``), other flows 120 s.
    """
    _family = "gwlb"

    def __init__(self, availability_zones, target_group=None, *, attributes=None, seed=0,
                 table_size=65537, flow_capacity=1024, listener_attributes=None, **kwargs):
        super().__init__(availability_zones, attributes=attributes, seed=seed,
                         table_size=table_size, flow_capacity=flow_capacity, **kwargs)
        if target_group is not None:
            self.set_target_group(target_group, attributes=listener_attributes)

    def set_target_group(self, target_group, *, attributes=None, **kwargs):
        """The listener's target group (a GWLB has a single listener)."""
        if self._listeners:
            raise ValueError("target_group: this Gateway Load Balancer already has its listener")
        self._add_listener("GENEVE", 6081, target_group, attributes, kwargs)
        return self

    def _valid_mask(self, tg, codes, any_healthy):
        # GWLB guide, "Edit target group attributes" (target failover):
        # no_rebalance (default) keeps sending existing flows to failed or
        # deregistered targets; rebalance rehashes them to healthy targets, for a
        # deregistered target after the deregistration delay.
        rebalance = tg.attribute_values["target_failover.on_unhealthy"] == "rebalance"
        if not rebalance:
            return np.ones(codes.shape[0], dtype=bool)
        if not any_healthy:
            # flows placed at random stay there for their life
            return (codes == INITIAL) | (codes == HEALTHY) | (codes == UNHEALTHY) | \
                (codes == DRAINING)
        return (codes == HEALTHY) | (codes == DRAINING)

    def _fields(self):
        tg = self._listeners[0].target_group
        if not tg.attribute_values["stickiness.enabled"]:
            return "5-tuple"
        return _GWLB_FIELDS[tg.attribute_values["stickiness.type"]]

    def route(self, flow, now, *, node=None):
        """Route one flow (either direction) → ``(Target or None, AZ name, dropped)``."""
        if type(flow) is not Flow:
            _check_flow(flow)
        if not self._listeners:
            raise ValueError("target_group: set the listener's target group first")
        lst = self._listeners[0]
        tg = lst.target_group
        tg._advance_clock(now)
        if lst.built_version != (tg.version, self._config):
            self._rebuild(lst)
        path = lst.path
        t = path.route_flow(flow, now, -1 if node is None else self._node_index(node))
        return ((tg._targets[t] if t >= 0 else None), self.availability_zones[path.last_node],
                bool(path.last_flags & _DROPPED))

    def _configure(self, lst):
        fields = {"5-tuple": 0, "3-tuple": 1, "2-tuple": 2}[self._fields()]
        lst.path.configure(self._key_seed, self._node_seed, fields, True, True, False, 0,
                           lst.tcp_idle, UDP_IDLE_SECONDS)

    def route_many(self, flows, times, *, node=None):
        """Route a batch; returns an :class:`L4Result` (see ``dropped``)."""
        _check_flows(flows)
        if not self._listeners:
            raise ValueError("target_group: set the listener's target group first")
        lst = self._listeners[0]
        n = len(flows)
        times = self._times(times, n)
        z = self._node_index(node)
        if n:
            self._prepare(lst, float(times[0]))
        t, nd, fl = lst.path.route_flows(flows, times, z)
        if n:       # the clock moves on to the batch's last time
            lst.target_group._advance_clock(float(times[-1]))
        return L4Result(self, t, nd, np.zeros(n, dtype=np.int32), fl)
