"""Network Load Balancer: TCP / UDP / TCP_UDP / TLS listeners, flow hash to a
node's Maglev table, connection tracking, source-IP stickiness, the
unhealthy / deregistration connection-termination rules. docs/elb.md."""
from __future__ import annotations

from typing import Any

import numpy as np

from lbcore import Flow, Flows
from lbcore.elb._decisions import L4Decision, L4Result, nlb_decision
from lbcore.elb._l4base import (UDP_IDLE_SECONDS, Attributes, L4Listener, L4LoadBalancer,
                                check_flow, check_flows, check_times)
from lbcore.elb._targets import (DRAINING, HEALTHY, INITIAL, UNHEALTHY, UNHEALTHY_DRAINING,
                                 UNUSED, Clock, Target, TargetGroup)

__all__ = ["NetworkLoadBalancer", "l4_protocols"]


def l4_protocols(protocol: str) -> set[int]:
    """The IP protocol numbers a listener protocol takes."""
    return {"TCP": {6}, "TLS": {6}, "UDP": {17}, "TCP_UDP": {6, 17}}[protocol]


def _nlb_decide(targets: tuple[Target, ...], zones: tuple[str, ...], t: int, z: int,
                dropped: int) -> L4Decision:
    """The decision of target index ``t`` (-1: none) from node ``z`` (L4Path's
    ``decide``: made once per (t, z) and build)."""
    return nlb_decision(targets[t] if t >= 0 else None, zones[z])


class NetworkLoadBalancer(L4LoadBalancer):
    """An AWS Network Load Balancer.

    ``availability_zones``: the enabled AZs (one node each). Load balancer
    attributes as the elbv2 API gives them (``load_balancing.cross_zone.enabled``,
    default ``false``; ``dns_record.client_routing_policy``: zonal DNS affinity,
    :meth:`dns_answer` and ``route(..., client_zone=)``). Add listeners with
    :meth:`add_listener`. ``seed`` makes every
    hash and random choice reproducible; ``table_size`` (prime) is the Maglev
    table size; ``flow_capacity`` the initial size of each listener's
    connection table (it grows as needed). ``clock``: where :meth:`route` reads
    ``now`` when it is not given (default :func:`time.monotonic`). See docs/elb.md.
    """
    _family = "nlb"
    _decision_maker = staticmethod(_nlb_decide)

    def __init__(self, availability_zones: Any, *, attributes: Attributes = None,
                 seed: int = 0, table_size: int = 65537, flow_capacity: int = 1024,
                 clock: Clock | None = None, **kwargs: str | int | bool) -> None:
        super().__init__(availability_zones, attributes=attributes, seed=seed,
                         table_size=table_size, flow_capacity=flow_capacity, clock=clock,
                         **kwargs)
        self._by_port: dict[int, L4Listener] = {}      # Flow.listener_key -> listener

    def add_listener(self, protocol: str, port: int, target_group: TargetGroup, *,
                     attributes: Attributes = None, **kwargs: str | int | bool) -> int:
        """A listener (``TCP``, ``UDP``, ``TCP_UDP`` or ``TLS`` on ``port``)
        forwarding to ``target_group``; listener attribute
        ``tcp.idle_timeout.seconds`` 60–6000 (default 350; fixed at 350 on a TLS
        listener, and a TLS listener can't use a TLS target group with stickiness:
        ValueError). Returns its index."""
        if protocol not in ("TCP", "UDP", "TCP_UDP", "TLS"):
            raise ValueError(f"protocol must be TCP, UDP, TCP_UDP or TLS, got {protocol!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be in 1..65535, got {port!r}")
        with self._lock:
            mine = l4_protocols(protocol)
            for other in self._listeners:
                if other.port == port and mine & l4_protocols(other.protocol):
                    raise ValueError(f"port: a listener on {port} already takes "
                                     f"{other.protocol} traffic")
            lst = self._add_listener(protocol, port, target_group, attributes, kwargs)
            for p in mine:
                self._by_port[p << 16 | port] = lst
            return lst.index

    def _configure(self, lst: L4Listener) -> None:
        tg = lst.target_group
        lst.path.configure(self._key_seed, self._node_seed, 0, False, False,
                           tg.attribute_values["stickiness.enabled"], self._sticky_seed,
                           lst.tcp_idle, UDP_IDLE_SECONDS)

    def _flow_listener(self, flow: Flow) -> L4Listener | None:
        return self._by_port.get(flow.listener_key)

    def _valid_mask(self, tg: TargetGroup, codes: np.ndarray, any_healthy: bool) -> np.ndarray:
        # Existing flows stay on healthy and draining targets (draining ends at
        # the deregistration delay). Unhealthy: kept unless the target group
        # terminates connections to unhealthy targets (TCP/TLS default) while
        # some target is healthy (when none is, the group fails open).
        # Deregistered targets: connections are closed at the end of the delay only
        # with deregistration_delay.connection_termination.enabled (UDP default);
        # otherwise existing flows continue on the now unused target until idle.
        # unhealthy.draining (target_health_state.unhealthy.draining_interval_seconds
        # > 0) keeps its connections for the interval; then the target is unhealthy
        # and its connections are terminated (NLB guide, target health).
        v = tg.attribute_values
        terminate = v.get("target_health_state.unhealthy.connection_termination.enabled",
                          False) or v.get(
            "target_health_state.unhealthy.draining_interval_seconds", 0) > 0
        dereg_terminate = v.get("deregistration_delay.connection_termination.enabled", False)
        valid: np.ndarray = (codes == HEALTHY) | (codes == DRAINING) | (codes == INITIAL) | \
            (codes == UNHEALTHY_DRAINING)
        if not terminate or not any_healthy:
            valid |= codes == UNHEALTHY
        if not dereg_terminate:
            valid |= codes == UNUSED
        return valid

    def alias_answer(self, rtype: str, client: Any = None,
                     now: float | None = None) -> list[str]:
        """What a Route 53 alias record to this load balancer answers a query with:
        :meth:`dns_answer` for the query's client (``client.availability_zone``
        and, as the key of the partial-affinity draw, ``client.ip``; the
        ``lbcore.route53.Client``), node AZ names standing for their addresses."""
        zone = getattr(client, "availability_zone", None)
        return self.dns_answer(zone, now, client=getattr(client, "ip", None))

    def route(self, flow: Flow, now: float | None = None, *,
              node: str | int | None = None, client_zone: str | None = None) -> L4Decision:
        """Route one flow at time ``now`` (omitted: the load balancer's clock) →
        :class:`~lbcore.elb.L4Decision` (``target`` None when no target can take it).

        ``node``: the AZ (name or index) whose node the client reached; default:
        chosen as DNS would, uniformly over the nodes in DNS (by the client's
        address). ``client_zone``: the AZ of a client inside AWS; with
        ``dns_record.client_routing_policy`` zonal affinity it reaches the node
        :meth:`dns_answer` gives it (keyed by the flow's source address) when
        ``node`` is None. No listener for the flow's protocol/port → target and node None.
        (For one release the decision also unpacks as the old ``(target, node)``
        pair, with a DeprecationWarning.)
        """
        if type(flow) is Flow:
            lst = self._by_port.get(flow.listener_key)
        else:
            check_flow(flow)
        if lst is None:
            return nlb_decision(None, None)
        if now is None:      # the clock is read and used under one lock (the thread rule)
            with self._lock:
                return self._route_at(lst, flow, self._clock(), node, client_zone, True)
        return self._route_at(lst, flow, now, node, client_zone, False)

    def _route_at(self, lst: L4Listener, flow: Flow, now: float, node: str | int | None,
                  client_zone: str | None, locked: bool) -> L4Decision:
        tg = lst.target_group
        tg.advance(now)       # timed transitions, then a rebuild if anything moved
        if lst.built_tg_version != tg.version or lst.built_config != self._config:
            self._ensure(lst) if locked else self._ensure_locked(lst)
        if node is not None:
            zi = self._node_index(node)
        elif client_zone is not None:
            zi = self._affinity_node(lst, client_zone, (flow.src_hi, flow.src_lo))
        else:
            zi = -1
        return lst.path.route_decision(flow, now, zi)      # type: ignore[no-any-return]

    def route_many(self, flows: Flows, times: Any, *,
                   node: str | int | None = None) -> L4Result:
        """Route a batch (``lbcore.Flows``) at per-flow ``times`` (or one time).

        Returns an :class:`~lbcore.elb.L4Result`. Target states are sampled once,
        at the earliest time of the batch; flows are processed in batch order.
        """
        check_flows(flows)
        n = len(flows)
        t = check_times(times, n)
        z = self._node_index(node)
        out = (np.full(n, -1, np.int32), np.full(n, -1, np.int32), np.zeros(n, np.uint8))
        listener = np.full(n, -1, dtype=np.int32)
        if n == 0:
            return L4Result(self.target_groups, out[0], out[1], listener, out[2])
        with self._lock:
            proto = flows.protocol
            port = flows.dst_port
            routed = []
            for lst in self._listeners:
                ps = l4_protocols(lst.protocol)
                hit = port == lst.port
                hit &= (proto == 6) | (proto == 17) if len(ps) == 2 else proto == next(iter(ps))
                if hit.all():
                    index = None
                    t0 = t[0]
                else:
                    index = np.flatnonzero(hit)
                    if index.size == 0:
                        continue
                    t0 = t[index[0]]
                self._prepare(lst, float(t0))
                lst.path.route_flows(flows, t, z, index, out)
                listener[hit] = lst.index
                routed.append(lst)
            for lst in routed:      # the clock moves on to the batch's last time
                lst.target_group.advance(float(t[-1]))
            return L4Result(self.target_groups, out[0], out[1], listener, out[2])
