"""Availability Zones and load balancer nodes (shared by every ELB type).

AWS ("How Elastic Load Balancing works"): each enabled AZ has a load balancer
node; DNS hands out the nodes; with cross-zone load balancing a node spreads over
the targets of every enabled AZ, without it over its own AZ's targets only.

This module decides *which targets may take new requests or flows*:
:func:`scope_pool` for one scope (a node's AZ, or every AZ), with the
``unhealthy_state_routing`` minimum and fail open; :func:`node_pools` for every
node of a layer-4 load balancer, plus the nodes DNS hands out. Load balancers
build their own selectors (Maglev, round robin, ...) over these pools.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from lbcore.elb._targets import (HEALTHY, UNAVAILABLE, UNHEALTHY, UNHEALTHY_DRAINING,
                                 TargetGroup)

__all__ = ["NodePools", "node_pools", "minimum_healthy", "scope_pool", "routable_mask",
           "ROUTING_MINIMUM", "DNS_MINIMUM"]

ROUTING_MINIMUM = "target_group_health.unhealthy_state_routing.minimum_healthy_targets"
DNS_MINIMUM = "target_group_health.dns_failover.minimum_healthy_targets"
_MINIMUM_PREFIXES = frozenset((ROUTING_MINIMUM, DNS_MINIMUM))


class NodePools:
    """Result of :func:`node_pools`.

    ``pools[z]``: int32 target indices node ``z`` places new flows on (sorted);
    ``healthy[z]``: whether that pool is the node's healthy targets (False: no /
    too few healthy targets, the pool is every registered target of the node's
    scope — fail open, or GWLB's random drop); ``dns``: int32 node indices DNS
    hands out.
    """

    __slots__ = ("pools", "healthy", "dns")

    def __init__(self, pools: list[np.ndarray], healthy: list[bool], dns: np.ndarray) -> None:
        self.pools = pools
        self.healthy = healthy
        self.dns = dns

    def __repr__(self) -> str:
        return (f"NodePools(pools={[p.tolist() for p in self.pools]}, healthy={self.healthy}, "
                f"dns={self.dns.tolist()})")


def minimum_healthy(tg: TargetGroup, prefix: str, n_registered: int) -> int:
    """The healthy-target minimum of a ``target_group_health.*.minimum_healthy_targets``
    pair (count and percentage; the larger applies; ``off`` ignores one)."""
    if not isinstance(tg, TargetGroup):
        raise TypeError(f"tg must be a TargetGroup, got {type(tg).__name__}")
    if prefix not in _MINIMUM_PREFIXES:
        raise ValueError(f"prefix must be one of {', '.join(sorted(_MINIMUM_PREFIXES))}, "
                         f"got {prefix!r}")
    if isinstance(n_registered, bool) or not isinstance(n_registered, int) or n_registered < 0:
        raise ValueError(f"n_registered must be an int >= 0, got {n_registered!r}")
    v = tg.attribute_values
    count = v.get(prefix + ".count", 1)
    pct = v.get(prefix + ".percentage")
    need = 1 if count is None else count
    if pct is not None:
        need = max(need, math.ceil(pct * n_registered / 100.0))
    return int(need)


def routable_mask(tg: TargetGroup) -> np.ndarray:
    """bool array: the targets that take new requests or flows when the group is
    not failing open -- ``healthy``, and ``unavailable`` (health checks disabled,
    ALB Lambda targets). ``initial`` targets take none: "before a target can
    receive requests from the load balancer, it must pass the initial health
    checks" (ALB guide, target health status)."""
    codes = tg.state_codes
    mask: np.ndarray = (codes == HEALTHY) | (codes == UNAVAILABLE)
    return mask


def scope_pool(tg: TargetGroup, scope: np.ndarray, *,
               fail_open: bool = True) -> tuple[np.ndarray, bool]:
    """``(mask, healthy)``: the targets of ``scope`` (a bool mask) that may take
    new requests. The scope's healthy targets (:func:`routable_mask`) when at
    least ``target_group_health.unhealthy_state_routing.minimum_healthy_targets``
    of them are healthy (default 1); else, with ``fail_open``, the scope's healthy
    and unhealthy (incl. ``unhealthy.draining``) targets (``healthy`` False) --
    fail open is for targets that failed their checks, not for ``initial`` ones
    still in their first checks; without ``fail_open`` the healthy ones."""
    codes = tg.state_codes
    ok = routable_mask(tg) & scope
    n_ok = int(np.count_nonzero(ok))
    if not fail_open:
        return ok, True
    registered = tg.registered_mask() & scope
    if n_ok and n_ok >= minimum_healthy(tg, ROUTING_MINIMUM,
                                        int(np.count_nonzero(registered))):
        return ok, True
    failed: np.ndarray = ok | (((codes == UNHEALTHY) | (codes == UNHEALTHY_DRAINING)) & scope)
    return failed, False


def node_pools(tg: TargetGroup, zones: Sequence[str], *, cross_zone: bool) -> NodePools:
    """Per-node pools of ``tg`` for a load balancer whose enabled AZs are ``zones``.

    A node routes to the healthy targets of its scope (its AZ; every enabled AZ
    with ``cross_zone``) when at least
    ``target_group_health.unhealthy_state_routing.minimum_healthy_targets`` are
    healthy (default 1), else to the healthy and unhealthy targets of its scope
    (fail open; ``initial`` targets get no new flows). A node is
    in DNS when its scope has at least
    ``target_group_health.dns_failover.minimum_healthy_targets`` healthy targets
    (default 1); when no node is, DNS hands out every node with registered
    targets (all nodes if none has any). Targets in AZs the load balancer has not
    enabled are not used.
    """
    if not isinstance(tg, TargetGroup):
        raise TypeError(f"tg must be a TargetGroup, got {type(tg).__name__}")
    az = tg.zone_index(zones)
    in_lb = az >= 0
    registered = tg.registered_mask() & in_lb
    ok = routable_mask(tg) & in_lb
    pools, healthy, dns, fallback = [], [], [], []
    for z in range(len(zones)):
        scope = in_lb if cross_zone else (az == z)
        mask, is_healthy = scope_pool(tg, scope)
        pools.append(np.flatnonzero(mask).astype(np.int32))
        healthy.append(is_healthy)
        n_reg = int(np.count_nonzero(registered & scope))
        n_ok = int(np.count_nonzero(ok & scope))
        if n_ok and n_ok >= minimum_healthy(tg, DNS_MINIMUM, n_reg):
            dns.append(z)
        if n_reg:
            fallback.append(z)
    return NodePools(pools, healthy,
                     np.array(dns or fallback or list(range(len(zones))), dtype=np.int32))
