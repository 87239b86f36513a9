"""Per-target-group selection for the ALB and the Classic LB.

A :class:`Pool` keeps one request-level selector (lbcore.RoundRobin,
LeastOutstanding or WeightedRandom) in step with the target group's health for
one zone scope; :class:`TargetGroupPools` holds a target group's pools by zone
and answers, for one request, the pool that decides it (advancing the target
group's clock, re-syncing after a change, falling back to every zone when the
request's zone has no eligible target). Which targets are eligible is
:func:`lbcore.elb._zones.scope_pool`'s decision; this module only mirrors it
into the selector.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from lbcore import LeastOutstanding, RequestSelector, RoundRobin, WeightedRandom
from lbcore.elb._decisions import Forward, forward, uncounted
from lbcore.elb._targets import Target, TargetGroup
from lbcore.elb._zones import scope_pool

if TYPE_CHECKING:
    from lbcore.elb._anomaly import AnomalyDetector

__all__ = ["Pool", "TargetGroupPools", "ALGORITHMS"]

ALGORITHMS = ("round_robin", "least_outstanding_requests", "weighted_random")


class Pool:
    """Targets of one target group eligible for new requests, optionally only
    those in ``zone`` (cross-zone off), and the selector that picks among them.

    Eligible: :func:`~lbcore.elb._zones.scope_pool` (healthy, or with
    ``fail_open`` every registered target when too few are healthy). Draining
    and unused targets never get new requests. The selector's dense indices are
    the target group's dense indices. Every request the pool hands out is
    counted by the selector until ``release(index)``. The selector is called
    through the :class:`lbcore.RequestSelector` protocol only (``pick_index(now)``,
    ``acquire_at_index(i, now=)``, ``release_index(i)``, ``add(i, now=)``,
    ``sync_available(mask, now=)``), whatever the algorithm. ``anomaly``: the
    target group's automatic target weights (weighted_random only), whose weights
    a new selector starts with.
    """

    __slots__ = ("tg", "algorithm", "slow_start", "zone", "seed", "fail_open_allowed",
                 "kernel", "version", "avail", "any", "fail_open", "targets", "draw",
                 "release", "anomaly")

    def __init__(self, tg: TargetGroup, algorithm: str, slow_start: float, zone: str | None,
                 seed: int, fail_open: bool = True,
                 anomaly: AnomalyDetector | None = None) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancing.algorithm.type must be one of "
                             f"{', '.join(ALGORITHMS)}, got {algorithm!r}")
        self.tg = tg
        self.algorithm = algorithm
        self.slow_start = slow_start
        self.zone = zone
        self.seed = seed
        self.fail_open_allowed = fail_open
        self.kernel: RequestSelector | None = None
        self.version = -1
        self.avail: list[bool] = []
        self.any = False
        self.fail_open = False
        self.targets: list[Target] = []
        self.draw: Callable[[float], int] = _none_eligible
        self.release: Callable[[int], object] = uncounted
        self.anomaly = anomaly

    def _make_kernel(self, n: int) -> RequestSelector:
        ts = list(range(n))
        k: RequestSelector
        if self.algorithm == "round_robin":
            k = RoundRobin(ts, slow_start_seconds=self.slow_start)
        elif self.algorithm == "weighted_random":
            weights = [1.0] * n if self.anomaly is None else self.anomaly.weights(n)
            k = WeightedRandom(ts, weights, seed=self.seed, slow_start_seconds=self.slow_start)
        else:
            k = LeastOutstanding(ts, seed=self.seed)
        self.draw, self.release = k.pick_index, k.release_index
        return k

    def sync(self, now: float) -> None:
        """Bring availability in line with the target group (cheap when unchanged)."""
        tg = self.tg
        if tg.version == self.version:
            return
        mask, healthy = scope_pool(tg, tg.zone_mask(self.zone),
                                   fail_open=self.fail_open_allowed)
        elig = mask.tolist()
        n = len(elig)
        k = self.kernel
        # Slow start entry (ALB guide, "Slow start mode"): newly eligible targets
        # enter slow start "only when there is at least one healthy target that is
        # not in slow start mode" -- so targets registered together into an empty
        # group, or into one whose every target is still ramping, get their full
        # share at once. The kernel starts a ramp whenever another target is
        # available; entering them a full duration back in time ends that ramp.
        entry = now
        if self.slow_start > 0 and not self._settled(now):
            entry = now - self.slow_start
        if k is None:
            if n:
                k = self.kernel = self._make_kernel(n)
                k.sync_available(mask, now=entry)
        else:
            for i in range(len(self.avail), n):
                k.add(i, available=False, now=now)
            k.sync_available(mask, now=entry)
        self.avail = elig
        self.any = any(elig)
        self.fail_open = not healthy and self.any
        self.targets = tg.targets
        self.version = tg.version

    def _settled(self, now: float) -> bool:
        # some target is eligible now and past its slow start ramp
        k = self.kernel
        if k is None:
            return False
        in_slow_start = getattr(k, "in_slow_start")
        return any(a and not in_slow_start(i, now) for i, a in enumerate(self.avail))

    def stick(self, index: int, now: float) -> bool:
        """A sticky request bound to ``index``: True (and counted like a pick, so
        the target's load is visible to the next pick) when ``index`` is eligible."""
        if not (0 <= index < len(self.avail) and self.avail[index]):
            return False
        k = self.kernel
        assert k is not None        # an eligible index means a kernel was made
        k.acquire_at_index(index, now=now)
        return True

    def outstanding(self, index: int) -> int:
        """Requests counted on ``index`` and not released."""
        k = self.kernel
        if k is None or index >= len(self.avail):
            return 0
        return int(k.outstanding(index))


def _none_eligible(now: float = 0.0) -> int:
    return -1


class TargetGroupPools:
    """The pools of one target group by zone scope (one pool when ``cross_zone``).

    ``seed_for(zone or None)`` gives each pool's selector seed. ``zone_fallback``:
    a request whose zone has no eligible target is served from every zone (the
    ALB; AWS would have taken that zone's node out of DNS). ``anomaly``: the
    automatic target weights of a weighted_random group (every pool's selector
    follows its weights).
    """

    __slots__ = ("tg", "algorithm", "slow_start", "seed_for", "cross_zone", "fail_open",
                 "zone_fallback", "pools", "anomaly")

    def __init__(self, tg: TargetGroup, algorithm: str, slow_start: float,
                 seed_for: Callable[[str | None], int], *, cross_zone: bool,
                 fail_open: bool, zone_fallback: bool,
                 anomaly: AnomalyDetector | None = None) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancing.algorithm.type must be one of "
                             f"{', '.join(ALGORITHMS)}, got {algorithm!r}")
        self.tg = tg
        self.algorithm = algorithm
        self.slow_start = slow_start
        self.seed_for = seed_for
        self.cross_zone = cross_zone
        self.fail_open = fail_open
        self.zone_fallback = zone_fallback
        self.pools: dict[str | None, Pool] = {}
        self.anomaly = anomaly
        if anomaly is not None:
            anomaly.pools = self

    def _pool(self, key: str | None, now: float) -> Pool:
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = Pool(self.tg, self.algorithm, self.slow_start, key,
                                          self.seed_for(key), self.fail_open, self.anomaly)
        if pool.version != self.tg.version:
            pool.sync(now)
        return pool

    def _eligible(self, key: str | None, now: float) -> Pool | None:
        # the slow path of pick: create or re-sync the zone's pool, fall back to
        # every zone when it has no eligible target
        pool = self._pool(key, now)
        if pool.any:
            return pool
        if key is not None and self.zone_fallback:
            pool = self._pool(None, now)
            if pool.any:
                return pool
        return None

    def pick(self, zone: str | None, now: float,
             sticky: int = -1) -> tuple[Pool | None, int]:
        """One request received in ``zone`` at ``now`` (the target group is first
        advanced to ``now``): ``(pool, target index)``. ``sticky``: the target a
        stickiness cookie names, kept when it may still take requests; else the
        pool's selector picks. ``(None, -1)`` when no target may take the request
        (the index is -1 too if the selector finds none). The request is counted
        in the pool until ``pool.release(index)``."""
        tg = self.tg
        tg.advance(now)
        key = zone if (zone is not None and not self.cross_zone) else None
        pool = self.pools.get(key)
        if pool is None or pool.version != tg.version or not pool.any:
            pool = self._eligible(key, now)
            if pool is None:
                return None, -1
        if sticky >= 0 and pool.stick(sticky, now):
            return pool, sticky
        return pool, pool.draw(now)

    def forward(self, zone: str | None, now: float,
                rule_priority: int | None) -> Forward | None:
        """:meth:`pick` without stickiness, made into the load balancer's
        :class:`~lbcore.elb.Forward` (no cookies to set, counted until released):
        the per-request path of a forward to one target group without stickiness,
        in one call. None when no target may take the request."""
        tg = self.tg
        tg.advance(now)
        key = zone if (zone is not None and not self.cross_zone) else None
        try:
            pool: Pool | None = self.pools[key]     # (a subscript, not a .get call)
        except KeyError:
            pool = None
        if pool is None or pool.version != tg.version or not pool.any:
            pool = self._eligible(key, now)
            if pool is None:
                return None
        idx = pool.draw(now)
        if idx < 0:
            return None
        return forward(tg, pool.targets[idx], (), rule_priority, pool.fail_open,
                       pool.release, idx)

    def outstanding(self, index: int) -> int:
        """Requests counted on target ``index`` over every pool."""
        return sum(p.outstanding(index) for p in self.pools.values())
