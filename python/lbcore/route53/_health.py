"""Route 53 health checks driven by explicit observations and an explicit ``now``.

What the Route 53 Developer Guide documents ("How Amazon Route 53 determines whether a
health check is healthy", "Values that you specify when you create or update health
checks") and what lbcore models:

* ``FailureThreshold`` 1-10 (default 3): the number of consecutive checks an endpoint must
  fail to become unhealthy, or pass to become healthy again.
* ``RequestInterval`` 10 or 30 seconds (default 30).
* A new health check is healthy until enough observations say otherwise.
* ``Inverted`` flips the status; a ``Disabled`` check is always considered healthy.
* Calculated checks: healthy when at least ``HealthThreshold`` children are healthy
  (0 -> always healthy; more than the number of children -> always unhealthy); up to 256
  children. AND = N, OR = 1, NOT = ``inverted``.

Route 53 aggregates the results of checkers in many locations (healthy when more than
18 % of them report healthy); an lbcore observation is one such aggregated result,
supplied by the caller with its time (or read from the check's clock). ``is_healthy(now)``
replays the observations made at or before ``now`` -- it does not depend on call order.

Time (docs/route53.md, "Time"): ``now`` in seconds from the caller, or, when omitted, from
the object's ``clock`` (default :func:`time.monotonic`).

The alias-target protocol: anything with ``is_healthy(now) -> bool`` can be the target of
an alias record with ``EvaluateTargetHealth`` (lbcore.elb load balancers implement it).
"""
from __future__ import annotations

import bisect
import math
import time
import warnings
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

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


class HealthCheck:
    """A Route 53 endpoint health check whose status follows timed observations.

    ``observe(ok, now=t)`` records one aggregated check result at time ``t``;
    ``is_healthy(now)`` is the status after every observation made at or before ``now``.
    ``clock``: where both read ``now`` when it is omitted (default :func:`time.monotonic`).
    (An ELB target group's health check settings are :class:`lbcore.elb.HealthCheckSettings`.)
    """

    def __init__(self, id: str | None = None, *, failure_threshold: int = 3,
                 request_interval: int = 30, inverted: bool = False, disabled: bool = False,
                 clock: Clock | None = None) -> None:
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int):
            raise TypeError("failure_threshold must be an int")
        if not 1 <= failure_threshold <= 10:
            raise ValueError(f"failure_threshold must be in 1..10, got {failure_threshold}")
        if request_interval not in (10, 30) or isinstance(request_interval, bool):
            raise ValueError(f"request_interval must be 10 or 30, got {request_interval!r}")
        self.id = id
        self.failure_threshold = failure_threshold
        self.request_interval = request_interval
        self.inverted = _check_bool(inverted, "inverted")
        self.disabled = _check_bool(disabled, "disabled")
        self._clock = check_clock(clock)
        self._times: list[float] = []
        self._oks: list[bool] = []
        self._states: list[bool] | None = []   # raw status after each observation

    @property
    def clock(self) -> Clock:
        return self._clock

    def observe(self, ok: bool, *legacy: Any, now: float | None = None) -> None:
        """Record one check result (``ok`` True = passed) made at time ``now``
        (omitted: the health check's clock). ``observe(now, ok)``, the order
        before, still works for one release (DeprecationWarning)."""
        if legacy:
            if len(legacy) != 1 or now is not None:
                raise TypeError("observe takes ok and the keyword argument now")
            warnings.warn(_LEGACY_OBSERVE, DeprecationWarning, stacklevel=2)
            now, ok = ok, legacy[0]
        t = check_now(self._clock() if now is None else now)
        _check_bool(ok, "ok")
        i = bisect.bisect_right(self._times, t)
        self._times.insert(i, t)
        self._oks.insert(i, ok)
        if i == len(self._times) - 1 and self._states is not None:
            self._states.append(self._step(i))
        else:
            self._states = None                 # out-of-order insert: recompute lazily

    def _step(self, i: int) -> bool:
        assert self._states is not None
        prev = self._states[i - 1] if i > 0 else True
        k = self.failure_threshold
        if i + 1 < k:
            return prev
        window = self._oks[i + 1 - k:i + 1]
        if all(window):
            return True
        if not any(window):
            return False
        return prev

    def _raw(self, now: float) -> bool:
        if self._states is None:
            self._states = []
            for i in range(len(self._times)):
                self._states.append(self._step(i))
        i = bisect.bisect_right(self._times, now)
        return True if i == 0 else self._states[i - 1]

    def is_healthy(self, now: float | None = None) -> bool:
        """The status at ``now`` (omitted: the health check's clock)."""
        t = check_now(self._clock() if now is None else now)
        if self.disabled:
            return True
        return self._raw(t) != self.inverted

    def next_check_time(self, now: float | None = None) -> float:
        """When the next check is due after ``now`` (the last observation + interval)."""
        t = check_now(self._clock() if now is None else now)
        if not self._times:
            return t
        i = bisect.bisect_right(self._times, t)
        return t if i == 0 else max(t, self._times[i - 1] + self.request_interval)

    def __repr__(self) -> str:
        return (f"HealthCheck(id={self.id!r}, failure_threshold={self.failure_threshold}, "
                f"request_interval={self.request_interval}, inverted={self.inverted}, "
                f"disabled={self.disabled})")


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
        if self.disabled:
            return True
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
