"""Gateway Load Balancer: one GENEVE listener for all IP traffic, symmetric
flow hashing to a node's Maglev table, target failover, random placement
(reported as dropped) when no appliance is healthy. docs/elb.md."""
from __future__ import annotations

from typing import Any

import numpy as np

from lbcore import Flow, Flows
from lbcore.elb._decisions import L4Decision, L4Result
from lbcore.elb._l4base import (UDP_IDLE_SECONDS, Attributes, L4Listener, L4LoadBalancer,
                                check_flow, check_flows, check_times)
from lbcore.elb._targets import (DRAINING, HEALTHY, INITIAL, UNHEALTHY, Clock, Target,
                                 TargetGroup)

__all__ = ["GatewayLoadBalancer"]

_GWLB_FIELDS = {False: "5-tuple", "source_ip_dest_ip_proto": "3-tuple",
                "source_ip_dest_ip": "2-tuple"}
_new_tuple = tuple.__new__


def _gwlb_decide(targets: tuple[Target, ...], zones: tuple[str, ...], t: int, z: int,
                 dropped: int) -> L4Decision:
    """The decision of target index ``t`` (-1: none) from node ``z``, ``dropped``
    when the flow was placed while no appliance was healthy (L4Path's ``decide``)."""
    return _new_tuple(L4Decision, (targets[t] if t >= 0 else None, zones[z], bool(dropped)))


class GatewayLoadBalancer(L4LoadBalancer):
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
    ``tcp.idle_timeout.seconds``), other flows 120 s. ``clock``: where
    :meth:`route` reads ``now`` when it is not given (default
    :func:`time.monotonic`).
    """
    _family = "gwlb"
    _decision_maker = staticmethod(_gwlb_decide)

    def __init__(self, availability_zones: Any, target_group: TargetGroup | None = None, *,
                 attributes: Attributes = None, seed: int = 0, table_size: int = 65537,
                 flow_capacity: int = 1024, listener_attributes: Attributes = None,
                 clock: Clock | None = None, **kwargs: str | int | bool) -> None:
        super().__init__(availability_zones, attributes=attributes, seed=seed,
                         table_size=table_size, flow_capacity=flow_capacity, clock=clock,
                         **kwargs)
        if target_group is not None:
            self.set_target_group(target_group, attributes=listener_attributes)

    def set_target_group(self, target_group: TargetGroup, *, attributes: Attributes = None,
                         **kwargs: str | int | bool) -> GatewayLoadBalancer:
        """The listener's target group (a GWLB has a single listener)."""
        with self._lock:
            if self._listeners:
                raise ValueError("target_group: this Gateway Load Balancer already has its "
                                 "listener")
            self._add_listener("GENEVE", 6081, target_group, attributes, kwargs)
        return self

    def _valid_mask(self, tg: TargetGroup, codes: np.ndarray, any_healthy: bool) -> np.ndarray:
        # GWLB guide, "Edit target group attributes" (target failover):
        # no_rebalance (default) keeps sending existing flows to failed or
        # deregistered targets; rebalance rehashes them to healthy targets, for a
        # deregistered target after the deregistration delay.
        rebalance = tg.attribute_values["target_failover.on_unhealthy"] == "rebalance"
        if not rebalance:
            return np.ones(codes.shape[0], dtype=bool)
        if not any_healthy:
            # flows placed at random stay there for their life
            placed: np.ndarray = (codes == INITIAL) | (codes == HEALTHY) | \
                (codes == UNHEALTHY) | (codes == DRAINING)
            return placed
        kept: np.ndarray = (codes == HEALTHY) | (codes == DRAINING)
        return kept

    def _fields(self) -> str:
        tg = self._listeners[0].target_group
        if not tg.attribute_values["stickiness.enabled"]:
            return "5-tuple"
        return _GWLB_FIELDS[tg.attribute_values["stickiness.type"]]

    def _configure(self, lst: L4Listener) -> None:
        fields = {"5-tuple": 0, "3-tuple": 1, "2-tuple": 2}[self._fields()]
        lst.path.configure(self._key_seed, self._node_seed, fields, True, True, False, 0,
                           lst.tcp_idle, UDP_IDLE_SECONDS)

    def _flow_listener(self, flow: Flow) -> L4Listener | None:
        return self._listeners[0] if self._listeners else None

    def _only_listener(self) -> L4Listener:
        if not self._listeners:
            raise ValueError("target_group: set the listener's target group first")
        return self._listeners[0]

    def route(self, flow: Flow, now: float | None = None, *,
              node: str | int | None = None) -> L4Decision:
        """Route one flow (either direction) at ``now`` (omitted: the load
        balancer's clock) → :class:`~lbcore.elb.L4Decision` (target, node, dropped)."""
        if type(flow) is not Flow:
            check_flow(flow)
        lst = self._listeners[0] if self._listeners else self._only_listener()
        if now is None:      # the clock is read and used under one lock (the thread rule)
            with self._lock:
                return self._route_at(lst, flow, self._clock(), node, True)
        return self._route_at(lst, flow, now, node, False)

    def _route_at(self, lst: L4Listener, flow: Flow, now: float, node: str | int | None,
                  locked: bool) -> L4Decision:
        tg = lst.target_group
        tg.advance(now)       # timed transitions, then a rebuild if anything moved
        if lst.built_tg_version != tg.version or lst.built_config != self._config:
            self._ensure(lst) if locked else self._ensure_locked(lst)
        return lst.path.route_decision(                   # type: ignore[no-any-return]
            flow, now, -1 if node is None else self._node_index(node))

    def route_many(self, flows: Flows, times: Any, *,
                   node: str | int | None = None) -> L4Result:
        """Route a batch; returns an :class:`~lbcore.elb.L4Result` (see ``dropped``)."""
        check_flows(flows)
        lst = self._only_listener()
        n = len(flows)
        t = check_times(times, n)
        z = self._node_index(node)
        with self._lock:
            if n:
                self._prepare(lst, float(t[0]))
            target, nd, fl = lst.path.route_flows(flows, t, z)
            if n:       # the clock moves on to the batch's last time
                lst.target_group.advance(float(t[-1]))
            return L4Result(self.target_groups, target, nd, np.zeros(n, dtype=np.int32), fl)
