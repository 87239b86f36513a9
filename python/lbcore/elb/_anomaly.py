"""Automatic target weights (ATW): anomaly detection and mitigation for ALB target
groups with ``load_balancing.algorithm.type = weighted_random``.

What AWS documents (sources and lbcore's choices: docs/alb.md, "Automatic target
weights"): detection compares each target's errors (HTTP 5xx from the target,
connection errors, timeouts) with the other targets of the same group, on groups with
at least three healthy targets; ``load_balancing.algorithm.anomaly_mitigation = on``
iteratively reduces the traffic an anomalous target receives (never to nothing) and,
once it recovers, gradually gives it back its share; DescribeTargetHealth reports
``AnomalyDetection.Result`` (normal | anomalous) and ``MitigationInEffect`` (yes | no).

What AWS does not document, and lbcore chooses (:class:`AnomalySettings`): outcomes
are counted per target and evaluated every ``window_seconds``; a target with at least
``min_requests`` outcomes since its last evaluation is anomalous when a one-sided
two-proportion z-test of its error rate against the pooled rate of the other healthy
targets gives ``z >= z_threshold`` and the difference is at least ``min_difference``
(a target with fewer outcomes keeps counting and keeps its result); each anomalous
evaluation halves the target's weight down to ``floor``, each normal one doubles it
back up to 1.
"""
from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any

from lbcore.elb._targets import HEALTHY, STATE_NAMES, UNUSED, check_now

if TYPE_CHECKING:
    from lbcore.elb._pool import Pool, TargetGroupPools

__all__ = ["AnomalySettings", "AnomalyDetector", "check_outcome", "describe_target_health",
           "OUTCOMES"]

OUTCOMES = ("connection_error", "timeout")     # besides an HTTP status code


def check_outcome(outcome: object) -> bool:
    """Whether ``outcome`` is an error for anomaly detection: an HTTP status code
    the target sent (int 100..599; 5xx is an error) or ``"connection_error"`` /
    ``"timeout"`` (errors); TypeError/ValueError naming ``outcome`` otherwise."""
    if type(outcome) is int:
        if 100 <= outcome <= 599:
            return outcome >= 500
        raise ValueError(f"outcome must be an HTTP status code 100..599, got {outcome}")
    if isinstance(outcome, str):
        if outcome in OUTCOMES:
            return True
        raise ValueError(f"outcome must be an HTTP status code or one of "
                         f"{', '.join(OUTCOMES)}, got {outcome!r}")
    if isinstance(outcome, bool) or not hasattr(outcome, "__index__"):
        raise TypeError(f"outcome must be an int status code or a str, got "
                        f"{type(outcome).__name__}")
    return check_outcome(operator.index(outcome))


class AnomalySettings:
    """lbcore's choices where AWS is silent (module docstring): ``window_seconds``
    (> 0, default 10) between evaluations, ``min_requests`` (>= 1, default 20)
    outcomes before a target is evaluated, ``z_threshold`` (> 0, default 3),
    ``min_difference`` (0..1, default 0.05) of error rates, ``floor`` (0 < floor
    <= 1, default 0.02): the lowest weight mitigation sets (a normal target's
    weight is 1), ``min_targets`` (>= 2, default 3; AWS: three healthy targets)."""

    __slots__ = ("window_seconds", "min_requests", "z_threshold", "min_difference", "floor",
                 "min_targets")

    def __init__(self, *, window_seconds: float = 10.0, min_requests: int = 20,
                 z_threshold: float = 3.0, min_difference: float = 0.05,
                 floor: float = 0.02, min_targets: int = 3) -> None:
        for name, value, ok in (
                ("window_seconds", window_seconds, lambda v: v > 0),
                ("z_threshold", z_threshold, lambda v: v > 0),
                ("min_difference", min_difference, lambda v: 0 <= v <= 1),
                ("floor", floor, lambda v: 0 < v <= 1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or not ok(value):
                raise ValueError(f"{name}: {value!r} is out of range")
        for name, value, lo in (("min_requests", min_requests, 1),
                                ("min_targets", min_targets, 2)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < lo:
                raise ValueError(f"{name} must be >= {lo}, got {value}")
        self.window_seconds = float(window_seconds)
        self.min_requests = min_requests
        self.z_threshold = float(z_threshold)
        self.min_difference = float(min_difference)
        self.floor = float(floor)
        self.min_targets = min_targets

    def __repr__(self) -> str:
        return ("AnomalySettings(" + ", ".join(f"{n}={getattr(self, n)!r}"
                                               for n in self.__slots__) + ")")


class AnomalyDetector:
    """The ATW state of one weighted_random target group as one ALB routes to it:
    per target (dense index) the outcomes since its last evaluation, its latest
    result and its weight; ``mitigation``: whether weights follow the results
    (``anomaly_mitigation = on``). :meth:`record` feeds one outcome; the pools'
    weighted_random selectors get the weights (:meth:`weights`, :meth:`push`)."""

    __slots__ = ("tg", "mitigation", "settings", "pools", "requests", "errors", "weight",
                 "anomalous", "next_eval", "version")

    def __init__(self, tg: Any, mitigation: bool, settings: AnomalySettings) -> None:
        self.tg = tg
        self.mitigation = mitigation
        self.settings = settings
        self.pools: TargetGroupPools | None = None
        self.requests: list[int] = []
        self.errors: list[int] = []
        self.weight: list[float] = []
        self.anomalous: list[bool] = []
        self.next_eval = -math.inf            # the first outcome sets it
        self.version = 0                      # bumped when a weight changes

    def _grow(self, n: int) -> None:
        k = n - len(self.requests)
        if k > 0:
            self.requests += [0] * k
            self.errors += [0] * k
            self.weight += [1.0] * k
            self.anomalous += [False] * k

    def record(self, index: int, error: bool, now: float) -> None:
        """One outcome of a request to target ``index`` ended at ``now`` (an error
        or not); evaluates first when a window has passed."""
        if now >= self.next_eval:
            if self.next_eval == -math.inf:           # the first outcome
                self.next_eval = now + self.settings.window_seconds
            else:
                self.evaluate(now)
        if index >= len(self.requests):
            self._grow(index + 1)
        self.requests[index] += 1
        if error:
            self.errors[index] += 1

    def evaluate(self, now: float) -> None:
        """Evaluate every target with enough outcomes (module docstring) and set the
        weights; the next evaluation is one window later."""
        s = self.settings
        self.next_eval = now + s.window_seconds
        codes = self.tg.state_codes
        self._grow(len(codes))
        n_all = len(codes)
        healthy = [j for j in range(n_all) if codes[j] == HEALTHY]
        changed = []
        for j in range(n_all):
            if codes[j] != HEALTHY:
                # not in the comparison; leaves it with a clean slate
                self.requests[j] = self.errors[j] = 0
                if self.anomalous[j] or self.weight[j] != 1.0:
                    self.anomalous[j] = False
                    self.weight[j] = 1.0
                    changed.append(j)
        total_n = sum(self.requests[j] for j in healthy)
        total_e = sum(self.errors[j] for j in healthy)
        decided = []
        for j in healthy:
            n = self.requests[j]
            if n < s.min_requests:
                continue                                  # keeps counting
            if len(healthy) < s.min_targets:
                result = False                            # no detection (module doc)
            else:
                result = self._anomalous(self.errors[j], n, total_e - self.errors[j],
                                         total_n - n)
                if result is None:
                    continue                              # the others have too few
            decided.append(j)
            self.anomalous[j] = result
            w = self.weight[j]
            if self.mitigation:
                w = max(s.floor, w / 2) if result else min(1.0, w * 2)
            if w != self.weight[j]:
                self.weight[j] = w
                changed.append(j)
        for j in decided:
            self.requests[j] = self.errors[j] = 0
        if changed:
            self.version += 1
            self.push(changed, now)

    def _anomalous(self, e: int, n: int, e_o: int, n_o: int) -> bool | None:
        s = self.settings
        if n_o < s.min_requests:
            return None
        r, r_o = e / n, e_o / n_o
        if r - r_o < s.min_difference:
            return False
        p = (e + e_o) / (n + n_o)
        var = p * (1.0 - p) * (1.0 / n + 1.0 / n_o)
        return var > 0 and (r - r_o) / math.sqrt(var) >= s.z_threshold

    def set_mitigation(self, mitigation: bool, now: float) -> None:
        """``anomaly_mitigation`` changed at run time: off restores every weight to 1
        (detection goes on); on lets the next evaluations lower them again."""
        self.mitigation = mitigation
        if not mitigation:
            changed = [j for j, w in enumerate(self.weight) if w != 1.0]
            for j in changed:
                self.weight[j] = 1.0
            if changed:
                self.version += 1
                self.push(changed, now)

    def weights(self, n: int) -> list[float]:
        """The weights of dense indices ``0..n-1`` (1 = a normal target's)."""
        self._grow(n)
        return self.weight[:n]

    def push(self, indices: list[int], now: float) -> None:
        """Set the weights of ``indices`` in every pool's selector."""
        if self.pools is None:
            return
        for pool in self.pools.pools.values():
            self.apply(pool, now, indices)

    def apply(self, pool: Pool, now: float, indices: list[int] | None = None) -> None:
        """Set ``pool``'s selector weights (``indices``: only those; None: every
        weight that is not 1)."""
        k = pool.kernel
        if k is None:
            return
        n = len(pool.avail)
        self._grow(n)
        todo = [j for j in range(n) if self.weight[j] != 1.0] if indices is None \
            else [j for j in indices if j < n]
        for j in todo:
            k.set_weight(j, self.weight[j], now=now)

    def describe(self, index: int) -> dict[str, str]:
        """The ``AnomalyDetection`` of a TargetHealthDescription for target ``index``."""
        self._grow(index + 1)
        return {"Result": "anomalous" if self.anomalous[index] else "normal",
                "MitigationInEffect": "yes" if self.weight[index] < 1.0 else "no"}


def describe_target_health(tg: Any, detector: AnomalyDetector | None,
                           now: float | None = None) -> list[dict[str, Any]]:
    """``describe_target_health()['TargetHealthDescriptions']`` of ``tg``: every
    registered or draining target with its ``TargetHealth.State`` and, for a
    weighted_random group (``detector``), its ``AnomalyDetection``."""
    if now is not None:
        tg.advance(check_now(now))
    out = []
    codes = tg.state_codes
    for j, target in enumerate(tg.targets):
        code = int(codes[j])
        if code == UNUSED:
            continue
        tid, port = tg.key_of(target)
        desc: dict[str, Any] = {
            "Target": {"Id": tid, "Port": port, "AvailabilityZone": target.availability_zone},
            "TargetHealth": {"State": STATE_NAMES[code]}}
        if port is None:
            del desc["Target"]["Port"]
        if detector is not None:
            desc["AnomalyDetection"] = detector.describe(j)
        out.append(desc)
    return out
