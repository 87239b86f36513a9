"""Availability Zones and load balancer nodes (shared by every ELB type).

AWS ("How Elastic Load Balancing works"): each enabled AZ has a load balancer
node; DNS hands out the nodes; with cross-zone load balancing a node spreads over
the targets of every enabled AZ, without it over its own AZ's targets only.
:func:`node_pools` computes, for one target group, what every node may use for
new flows and which nodes DNS hands out. Load balancers build their own
selectors (Maglev, round robin, ...) over these pools.
"""
from __future__ import annotations

import math

import numpy as np

from lbcore.elb.targets import HEALTHY, INITIAL, UNHEALTHY

__all__ = ["NodePools", "node_pools", "minimum_healthy"]


class NodePools:
    """Result of :func:`node_pools`.

    ``pools[z]``: int32 target indices node ``z`` places new flows on (sorted);
    ``healthy[z]``: whether that pool is the node's healthy targets (False: no /
    too few healthy targets, the pool is every registered target of the node's
    scope — fail open, or GWLB's random drop); ``dns``: int32 node indices DNS
    hands out.
    """

    __slots__ = ("pools", "healthy", "dns")

    def __init__(self, pools, healthy, dns):
        self.pools = pools
        self.healthy = healthy
        self.dns = dns

    def __repr__(self):
        return (f"NodePools(pools={[p.tolist() for p in self.pools]}, healthy={self.healthy}, "
                f"dns={self.dns.tolist()})")


def minimum_healthy(tg, prefix, n_registered):
    """The healthy-target minimum of a ``target_group_health.*.minimum_healthy_targets``
    pair (count and percentage; the larger applies; ``off`` ignores one)."""
    v = tg.attribute_values
    count = v.get(prefix + ".count", 1)
    pct = v.get(prefix + ".percentage")
    need = 1 if count is None else count
    if pct is not None:
        need = max(need, math.ceil(pct * n_registered / 100.0))
    return need


def node_pools(tg, zones, *, cross_zone):
    """Per-node pools of ``tg`` for a load balancer whose enabled AZs are ``zones``.

    A node routes to the healthy targets of its scope (its AZ; every enabled AZ
    with ``cross_zone``) when at least
    ``target_group_health.unhealthy_state_routing.minimum_healthy_targets`` are
    healthy (default 1), else to every registered target of its scope. A node is
    in DNS when its scope has at least
    ``target_group_health.dns_failover.minimum_healthy_targets`` healthy targets
    (default 1); when no node is, DNS hands out every node with registered
    targets (all nodes if none has any). Targets in AZs the load balancer has not
    enabled are not used.
    """
    codes = tg.state_codes
    az = tg.zone_index(zones)
    in_lb = az >= 0
    registered = ((codes == INITIAL) | (codes == HEALTHY) | (codes == UNHEALTHY)) & in_lb
    ok = (codes == HEALTHY) & in_lb
    route_prefix = "target_group_health.unhealthy_state_routing.minimum_healthy_targets"
    dns_prefix = "target_group_health.dns_failover.minimum_healthy_targets"
    pools, healthy, dns, fallback = [], [], [], []
    for z in range(len(zones)):
        scope = in_lb if cross_zone else (az == z)
        n_reg = int(np.count_nonzero(registered & scope))
        n_ok = int(np.count_nonzero(ok & scope))
        if n_ok and n_ok >= minimum_healthy(tg, route_prefix, n_reg):
            pools.append(np.flatnonzero(ok & scope).astype(np.int32))
            healthy.append(True)
        else:
            pools.append(np.flatnonzero(registered & scope).astype(np.int32))
            healthy.append(False)
        if n_ok and n_ok >= minimum_healthy(tg, dns_prefix, n_reg):
            dns.append(z)
        if n_reg:
            fallback.append(z)
    return NodePools(pools, healthy,
                     np.array(dns or fallback or list(range(len(zones))), dtype=np.int32))
