"""Per-target-group selection state shared by the ALB and the Classic LB: a
pool of eligible targets kept in sync with the target group's health, driven
by one request-level kernel (lbcore.RoundRobin / LeastOutstanding /
WeightedRandom), and the opaque stickiness cookie codec."""
from __future__ import annotations

import base64
import math
import struct

from lbcore import LeastOutstanding, RoundRobin, WeightedRandom, hash_key
from lbcore.elb.targets import HEALTHY, INITIAL, UNHEALTHY
from lbcore.elb.zones import minimum_healthy

_MIN_HEALTHY = "target_group_health.unhealthy_state_routing.minimum_healthy_targets"

__all__ = ["CookieCodec", "Pool", "ALGORITHMS"]

ALGORITHMS = ("round_robin", "least_outstanding_requests", "weighted_random")
_REGISTERED = (INITIAL, HEALTHY, UNHEALTHY)


class CookieCodec:
    """Opaque, tamper-evident stickiness cookie values: ``(a, b, expiry)``
    packed with a keyed 64-bit tag (lbcore.hash_key seeded by the load
    balancer's seed). ``expiry`` None = no expiry (browser session)."""

    __slots__ = ("key",)
    _FMT = struct.Struct(">IId")

    def __init__(self, seed):
        self.key = hash_key(f"lbcore-cookie:{seed}")

    def encode(self, a, b, expiry):
        payload = self._FMT.pack(a, b, math.inf if expiry is None else float(expiry))
        tag = hash_key(payload, seed=self.key).to_bytes(8, "big")
        return base64.urlsafe_b64encode(payload + tag).decode("ascii").rstrip("=")

    def decode(self, value):
        """``(a, b, expiry)`` or None when the value is not one of ours."""
        if not isinstance(value, str) or len(value) != 32:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 24:
            return None
        payload, tag = raw[:16], raw[16:]
        if hash_key(payload, seed=self.key).to_bytes(8, "big") != tag:
            return None
        return self._FMT.unpack(payload)


class Pool:
    """Targets of one target group eligible for new requests, optionally only
    those in ``zone`` (cross-zone off), and the kernel that picks among them.

    Eligible = healthy (in the zone); if none is, or fewer than
    ``target_group_health.unhealthy_state_routing.minimum_healthy_targets``
    (count / percentage, :func:`lbcore.elb.minimum_healthy`), and ``fail_open``,
    every registered (initial/healthy/unhealthy) target in the zone. Draining and
    unused targets never get new requests. The kernel's dense indices are the
    target group's dense indices.
    """

    __slots__ = ("tg", "algorithm", "slow_start", "zone", "seed", "fail_open_allowed",
                 "kernel", "version", "avail", "any", "fail_open", "lor")

    def __init__(self, tg, algorithm, slow_start, zone, seed, fail_open=True):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"load_balancing.algorithm.type must be one of "
                             f"{', '.join(ALGORITHMS)}, got {algorithm!r}")
        self.tg = tg
        self.algorithm = algorithm
        self.slow_start = slow_start
        self.zone = zone
        self.seed = seed
        self.fail_open_allowed = fail_open
        self.kernel = None
        self.version = -1
        self.avail = []
        self.any = False
        self.fail_open = False
        self.lor = algorithm == "least_outstanding_requests"

    def _make_kernel(self, n):
        ts = list(range(n))
        if self.algorithm == "round_robin":
            return RoundRobin(ts, slow_start_seconds=self.slow_start)
        if self.algorithm == "weighted_random":
            return WeightedRandom(ts, [1.0] * n, seed=self.seed, slow_start_seconds=self.slow_start)
        return LeastOutstanding(ts, seed=self.seed)

    def _set(self, i, available, now):
        if self.lor:
            self.kernel.set_available(i, available)
        else:
            self.kernel.set_available(i, available, now=now)

    def sync(self, now):
        """Bring availability in line with the target group (cheap when unchanged)."""
        tg = self.tg
        if tg.version == self.version:
            return
        codes = tg.state_codes.tolist()
        targets = tg.targets
        n = len(codes)
        zone = self.zone
        in_zone = [zone is None or t.availability_zone == zone for t in targets]
        elig = [c == HEALTHY and z for c, z in zip(codes, in_zone)]
        fail_open = False
        if self.fail_open_allowed:
            registered = [c in _REGISTERED and z for c, z in zip(codes, in_zone)]
            n_ok = sum(elig)
            if n_ok == 0 or n_ok < minimum_healthy(tg, _MIN_HEALTHY, sum(registered)):
                elig = registered
                fail_open = any(elig)
        if self.kernel is None:
            if n:
                self.kernel = self._make_kernel(n)
                for i in range(n):
                    if not elig[i]:
                        self._set(i, False, now)
        else:
            old = len(self.avail)
            for i in range(old, n):
                if self.lor:
                    self.kernel.add(i)
                else:
                    self.kernel.add(i, now=now)
                self.avail.append(True)
            for i in range(n):
                if elig[i] != self.avail[i]:
                    self._set(i, elig[i], now)
        self.avail = elig
        self.any = any(elig)
        self.fail_open = fail_open
        self.version = tg.version

    def pick(self, now):
        """A dense target index from the kernel (-1 if none eligible); the
        second value says whether the kernel counted it (LOR)."""
        if not self.any:
            return -1, False
        if self.lor:
            return self.kernel.acquire_index(), True
        return self.kernel.pick_index(now), False

    def stick(self, index):
        """A sticky request bound to ``index``: least outstanding counts it too,
        so the target's load is visible to the next pick. Returns whether the
        kernel counted it."""
        if self.lor:
            self.kernel.acquire_at_index(index)
            return True
        return False

    def release(self, index, charged):
        if charged:
            self.kernel.release_index(index)
