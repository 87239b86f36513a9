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
                 "release", "anomaly", "retired", "synced")

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
        # kernels replaced by set_algorithm while requests they counted were out:
        # [kernel, its count per target when last read, those of its own leases left]
        self.retired: list[tuple[RequestSelector, list[int], list[int]]] = []
        self.synced = -1           # the target group version the availability mirrors

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

    def set_algorithm(self, algorithm: str, slow_start: float, now: float) -> None:
        """Use ``algorithm`` (and ``slow_start`` seconds) from ``now`` on: a new
        selector over the same targets and availability that counts the old one's
        outstanding requests on the same targets. Leases made before still release
        on the old selector (their ``release`` is bound to it: complete stays one
        compiled call); each sync carries those releases over to the new one, and
        until the last is back every pick syncs first. The new selector starts with
        every eligible target at full weight: a slow start ramp in progress ends at
        the change (as when targets are registered into a group with none settled)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancing.algorithm.type must be one of "
                             f"{', '.join(ALGORITHMS)}, got {algorithm!r}")
        if algorithm == self.algorithm and slow_start == self.slow_start:
            return
        self._reconcile()
        old = self.kernel
        self.algorithm, self.slow_start = algorithm, slow_start
        self.kernel, self.synced = None, -1
        self.avail, self.draw, self.release = [], _none_eligible, uncounted
        self._sync(now)
        if old is not None:
            raw = [int(old.outstanding(i)) for i in range(len(old))]
            if any(raw):
                k = self.kernel         # over every target: never fewer than old's
                assert k is not None and len(k) >= len(raw)
                for i, c in enumerate(raw):
                    for _ in range(c):
                        k.acquire_at_index(i, now=now)
                # old's counts also hold requests carried over from kernels retired
                # before it, which release on those: its own are the rest
                own = list(raw)
                for _, _, left in self.retired:
                    for i, c in enumerate(left[:len(own)]):
                        own[i] -= c
                self.retired.append((old, raw, own))
        self.version = -2 if self.retired else self.synced

    def _reconcile(self) -> None:
        # requests released on retired kernels since the last look: release them on
        # the current kernel too; forget a retired kernel once its requests are back
        k = self.kernel
        keep = []
        for old, seen, left in self.retired:
            for i, c in enumerate(left):
                if c:
                    now_out = int(old.outstanding(i))
                    d = seen[i] - now_out
                    if d:
                        assert k is not None
                        seen[i] = now_out
                        left[i] = c - d
                        for _ in range(d):
                            k.release_index(i)
            if any(left):
                keep.append((old, seen, left))
        self.retired = keep

    def sync(self, now: float) -> None:
        """Bring availability in line with the target group (cheap when unchanged)."""
        if self.retired:
            self._reconcile()
        if self.tg.version != self.synced:
            self._sync(now)
        # while requests counted by a retired kernel are out, every pick syncs first
        self.version = -2 if self.retired else self.synced

    def _sync(self, now: float) -> None:
        tg = self.tg
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
        self.synced = tg.version

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
        if self.retired:
            self._reconcile()
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
                 "zone_fallback", "pools", "anomaly", "attributes_seen")

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
        # the target group's attributes_version the owner last applied (forward
        # answers None past it, so the owner re-reads them before deciding)
        self.attributes_seen = tg.attributes_version

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
        pool = self.pool_for(zone, now)
        if pool is None:
            return None, -1
        if sticky >= 0 and pool.stick(sticky, now):
            return pool, sticky
        return pool, pool.draw(now)

    def pool_for(self, zone: str | None, now: float) -> Pool | None:
        """The pool that decides a request received in ``zone`` at ``now`` (the target
        group advanced to ``now``, the pool re-synced after a change, every zone's when
        the request's has no eligible target), as :meth:`pick` finds it; None when no
        target may take the request."""
        tg = self.tg
        tg.advance(now)
        key = zone if (zone is not None and not self.cross_zone) else None
        pool = self.pools.get(key)
        if pool is None or pool.version != tg.version or not pool.any:
            pool = self._eligible(key, now)
        return pool

    def forward(self, zone: str | None, now: float,
                rule_priority: int | None) -> Forward | None:
        """:meth:`pick` without stickiness, made into the load balancer's
        :class:`~lbcore.elb.Forward` (no cookies to set, counted until released):
        the per-request path of a forward to one target group without stickiness,
        in one call. None when no target may take the request, or when the target
        group's attributes changed since :attr:`attributes_seen` (the owner applies
        them and asks again)."""
        tg = self.tg
        tg.advance(now)
        key = zone if (zone is not None and not self.cross_zone) else None
        try:
            pool: Pool | None = self.pools[key]     # (a subscript, not a .get call)
        except KeyError:
            pool = None
        if pool is None or pool.version != tg.version or not pool.any:
            if self.attributes_seen != tg.attributes_version:
                return None
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

    def set_anomaly(self, anomaly: AnomalyDetector | None) -> None:
        """Automatic target weights from ``anomaly`` (None: none) for the selectors
        built from now on (:meth:`set_algorithm` builds them)."""
        self.anomaly = anomaly
        if anomaly is not None:
            anomaly.pools = self
        for pool in self.pools.values():
            pool.anomaly = anomaly

    def set_algorithm(self, algorithm: str, slow_start: float, now: float) -> None:
        """Every pool uses ``algorithm`` and ``slow_start`` from ``now`` on, keeping
        its outstanding requests (:meth:`Pool.set_algorithm`)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancing.algorithm.type must be one of "
                             f"{', '.join(ALGORITHMS)}, got {algorithm!r}")
        self.algorithm, self.slow_start = algorithm, slow_start
        for pool in self.pools.values():
            pool.set_algorithm(algorithm, slow_start, now)
