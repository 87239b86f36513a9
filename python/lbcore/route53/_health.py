"""Route 53 health checks driven by explicit observations and an explicit ``now``.

What the Route 53 Developer Guide documents ("How Amazon Route 53 determines whether a
health check is healthy", "Values that you specify when you create or update health
checks") and what lbcore models:

* ``FailureThreshold`` 1-10 (default 3): the number of consecutive checks an endpoint must
  fail to become unhealthy, or pass to become healthy again.
* ``RequestInterval`` 10 or 30 seconds (default 30).
* A new health check is healthy until enough observations say otherwise.
* ``Inverted`` flips the status ("Inverting health checks"). A ``Disabled`` check is not
  checked and its status is always healthy -- before ``Inverted``: the API reference
  (HealthCheckConfig.Disabled) says to change Inverted to stop routing traffic to a
  disabled check's resource, so Disabled + Inverted is unhealthy.
* Calculated checks: healthy when at least ``HealthThreshold`` children are healthy
  (0 -> always healthy; more than the number of children -> always unhealthy); up to 256
  children. AND = N, OR = 1, NOT = ``inverted``.

Route 53 aggregates the results of checkers in many locations (healthy when more than
18 % of them report healthy): ``HealthCheck(checkers=N)`` takes each checker's results
(``observe(ok, now=t, checker=i)``) and applies that rule; with the default one checker an
observation is one aggregated result. Results come from the caller with their time (or
the check's clock). ``is_healthy(now)`` replays the observations made at or before
``now`` -- it does not depend on call order; memory is bounded (``history`` results kept
per checker).

Time (docs/route53.md, "Time"): ``now`` in seconds from the caller, or, when omitted, from
the object's ``clock`` (default :func:`time.monotonic`).

The alias-target protocol: anything with ``is_healthy(now) -> bool`` can be the target of
an alias record with ``EvaluateTargetHealth`` (lbcore.elb load balancers implement it).
"""
from __future__ import annotations

import bisect
import math
import threading
import time
import warnings
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from lbcore.locking import PickleWithoutLock

__all__ = ["HealthCheck", "CalculatedHealthCheck", "HealthReporter", "Clock", "check_now",
           "check_clock"]

Clock = Callable[[], float]


@runtime_checkable
class HealthReporter(Protocol):
    """What a health check or an alias target must provide."""

    def is_healthy(self, now: float) -> bool: ...


def check_now(now: object, name: str = "now") -> float:
    """``now`` as a finite float, or TypeError/ValueError naming ``name``."""
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"{name} must be a number (seconds), got {type(now).__name__}")
    if not math.isfinite(now):
        raise ValueError(f"{name} must be finite, got {now!r}")
    return float(now)


def check_clock(clock: Clock | None) -> Clock:
    """The ``clock=`` argument: a callable returning seconds (None = time.monotonic)."""
    if clock is None:
        return time.monotonic
    if not callable(clock):
        raise TypeError(f"clock must be a callable returning seconds, got "
                        f"{type(clock).__name__}")
    return clock


def _check_bool(value: object, name: str) -> bool:
    if value is not True and value is not False:
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


_LEGACY_OBSERVE = ("HealthCheck.observe(now, ok) is deprecated: call observe(ok, now=now) "
                   "(the order of TargetGroup.observe(target_id, ok, now=now))")


# Route 53 Developer Guide, "How Amazon Route 53 determines whether a health check is
MAX_CHECKERS = 1024
MAX_HISTORY = 1 << 20
# healthy": an endpoint is healthy when more than 18% of the health checkers report it so.
CHECKER_FRACTION = 0.18
DEFAULT_HISTORY = 256


class _Timeline:
    """One checker's observations, sorted by time, with the status after each, kept to
    the newest ``cap``; what older ones decided is folded into ``base``."""

    __slots__ = ("k", "cap", "times", "oks", "states", "base_state", "base_time", "base_oks")

    def __init__(self, k: int, cap: int) -> None:
        self.k, self.cap = k, cap
        self.times: list[float] = []
        self.oks: list[bool] = []
        self.states: list[bool] = []
        self.base_state = True                # a new check is healthy
        self.base_time = -math.inf            # time of the newest dropped observation
        self.base_oks: list[bool] = []        # the k - 1 newest dropped results

    def add(self, t: float, ok: bool) -> None:
        if t < self.base_time:
            # older than every kept observation: ordered as far as memory allows, it
            # counts as the newest of the dropped ones (never rejected)
            window = (self.base_oks + [ok])[-self.k:]
            if len(window) == self.k and (all(window) or not any(window)):
                self.base_state = window[0]
            self.base_oks = window[-(self.k - 1):] if self.k > 1 else []
            for j in range(len(self.times)):
                self.states[j] = self._step(j)
            return
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.oks.insert(i, ok)
        self.states.insert(i, True)
        for j in range(i, len(self.times)):    # in order: j = the last one, O(k)
            self.states[j] = self._step(j)
        if len(self.times) > self.cap:
            self.base_state, self.base_time = self.states[0], self.times[0]
            self.base_oks = (self.base_oks + [self.oks[0]])[-(self.k - 1):] if self.k > 1 \
                else []
            del self.times[0], self.oks[0], self.states[0]

    def _step(self, j: int) -> bool:
        prev = self.states[j - 1] if j > 0 else self.base_state
        k = self.k
        lo = j + 1 - k
        if lo >= 0:
            window = self.oks[lo:j + 1]
        else:
            if len(self.base_oks) < -lo:
                return prev                       # fewer than k results so far
            window = self.base_oks[lo:] + self.oks[:j + 1]
        if all(window):
            return True
        if not any(window):
            return False
        return prev

    def state(self, now: float) -> bool:
        i = bisect.bisect_right(self.times, now)
        return self.states[i - 1] if i else self.base_state

    def last_time(self, now: float) -> float | None:
        i = bisect.bisect_right(self.times, now)
        if i:
            return self.times[i - 1]
        return None if self.base_time == -math.inf else self.base_time


class HealthCheck(PickleWithoutLock):
    """A Route 53 endpoint health check whose status follows timed observations.

    ``observe(ok, now=t)`` records one check result at time ``t``; ``is_healthy(now)`` is
    the status after every observation made at or before ``now``, in time order whatever
    the order of the calls. ``checkers``: how many independent health checkers report
    (``observe(ok, now=t, checker=i)``, ``i`` in ``0..checkers-1``); each applies
    ``failure_threshold`` to its own results, and the check is healthy when more than
    18% of the checkers see the endpoint healthy (Route 53 Developer Guide, "How Amazon
    Route 53 determines whether a health check is healthy"). The default, one checker,
    is one aggregated result per observation.

    ``history``: observations kept per checker (default 256; memory is bounded by it).
    An observation older than every kept one is not rejected: it counts as the newest
    of the dropped ones (the status they left, and so every kept one after it, is
    recomputed); ``is_healthy`` at a time before the kept history gives the status the
    dropped observations left.
    ``clock``: where both read ``now`` when it is omitted (default :func:`time.monotonic`).
    (An ELB target group's health check settings are :class:`lbcore.elb.HealthCheckSettings`.)
    """

    def __init__(self, id: str | None = None, *, failure_threshold: int = 3,
                 request_interval: int = 30, inverted: bool = False, disabled: bool = False,
                 checkers: int = 1, history: int = DEFAULT_HISTORY,
                 clock: Clock | None = None) -> None:
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int):
            raise TypeError("failure_threshold must be an int")
        if not 1 <= failure_threshold <= 10:
            raise ValueError(f"failure_threshold must be in 1..10, got {failure_threshold}")
        if request_interval not in (10, 30) or isinstance(request_interval, bool):
            raise ValueError(f"request_interval must be 10 or 30, got {request_interval!r}")
        # upper bounds keep a typo from allocating a timeline per checker for ever
        # (Route 53 itself uses a few dozen checkers)
        for name, value, lo, hi in (("checkers", checkers, 1, MAX_CHECKERS),
                                    ("history", history, 10, MAX_HISTORY)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
        self.id = id
        self.failure_threshold = failure_threshold
        self.request_interval = request_interval
        self.inverted = _check_bool(inverted, "inverted")
        self.disabled = _check_bool(disabled, "disabled")
        self.checkers = checkers
        self.history = history
        self._clock = check_clock(clock)
        self._lines = [_Timeline(failure_threshold, history) for _ in range(checkers)]
        # The thread rule: observe rewrites a timeline's lists (insert, then the states
        # after it) while is_healthy may read them from another thread: both hold this.
        self._lock = threading.Lock()

    @property
    def clock(self) -> Clock:
        return self._clock

    def observe(self, ok: bool, *legacy: Any, now: float | None = None,
                checker: int = 0) -> None:
        """Record one check result (``ok`` True = passed) made at time ``now``
        (omitted: the health check's clock) by health checker ``checker``.
        ``observe(now, ok)``, the order before, still works for one release
        (DeprecationWarning)."""
        if legacy:
            if len(legacy) != 1 or now is not None:
                raise TypeError("observe takes ok and the keyword argument now")
            warnings.warn(_LEGACY_OBSERVE, DeprecationWarning, stacklevel=2)
            now, ok = ok, legacy[0]
        t = check_now(self._clock() if now is None else now)
        _check_bool(ok, "ok")
        if isinstance(checker, bool) or not isinstance(checker, int) \
                or not 0 <= checker < self.checkers:
            raise ValueError(f"checker must be an int in 0..{self.checkers - 1}, got "
                             f"{checker!r}")
        with self._lock:
            self._lines[checker].add(t, ok)

    def _raw(self, now: float) -> bool:
        if self.checkers == 1:
            return self._lines[0].state(now)
        healthy = sum(1 for line in self._lines if line.state(now))
        return healthy > CHECKER_FRACTION * self.checkers

    def is_healthy(self, now: float | None = None) -> bool:
        """The status at ``now`` (omitted: the health check's clock)."""
        t = check_now(self._clock() if now is None else now)
        if self.disabled:                      # healthy, then Inverted (HealthCheckConfig)
            return not self.inverted
        with self._lock:
            return self._raw(t) != self.inverted

    def next_check_time(self, now: float | None = None) -> float:
        """When the next check is due after ``now``: the newest observation at or before
        ``now`` (any checker) + the request interval."""
        t = check_now(self._clock() if now is None else now)
        with self._lock:
            last = [x for x in (line.last_time(t) for line in self._lines) if x is not None]
        return max(t, max(last) + self.request_interval) if last else t

    def __repr__(self) -> str:
        return (f"HealthCheck(id={self.id!r}, failure_threshold={self.failure_threshold}, "
                f"request_interval={self.request_interval}, inverted={self.inverted}, "
                f"disabled={self.disabled}, checkers={self.checkers})")


class CalculatedHealthCheck:
    """Healthy when at least ``health_threshold`` of ``children`` are healthy at ``now``
    (omitted: the check's ``clock``, default :func:`time.monotonic`)."""

    def __init__(self, children: Iterable[HealthReporter], health_threshold: int,
                 id: str | None = None, *, inverted: bool = False, disabled: bool = False,
                 clock: Clock | None = None) -> None:
        children = list(children)
        if len(children) > 256:
            raise ValueError(f"children: at most 256 child health checks, got {len(children)}")
        for c in children:
            if not callable(getattr(c, "is_healthy", None)):
                raise TypeError("children must provide is_healthy(now)")
        if isinstance(health_threshold, bool) or not isinstance(health_threshold, int):
            raise TypeError("health_threshold must be an int")
        if not 0 <= health_threshold <= 256:
            raise ValueError(f"health_threshold must be in 0..256, got {health_threshold}")
        self.id = id
        self.children = tuple(children)
        self.health_threshold = health_threshold
        self.inverted = _check_bool(inverted, "inverted")
        self.disabled = _check_bool(disabled, "disabled")
        self._clock = check_clock(clock)

    def is_healthy(self, now: float | None = None) -> bool:
        t = check_now(self._clock() if now is None else now)
        if self.disabled:                      # children not aggregated; then Inverted
            return not self.inverted
        if self.health_threshold == 0:
            raw = True
        elif self.health_threshold > len(self.children):
            raw = False
        else:
            raw = sum(1 for c in self.children if c.is_healthy(t)) >= self.health_threshold
        return raw != self.inverted

    def __repr__(self) -> str:
        return (f"CalculatedHealthCheck(id={self.id!r}, children={len(self.children)}, "
                f"health_threshold={self.health_threshold}, inverted={self.inverted})")
