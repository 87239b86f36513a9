"""Boundary validation shared by the request-level selection objects.

(LeastOutstanding, PowerOfTwoChoices, RoundRobin, WeightedRandom.) Everything
here runs once per constructor / add / remove / set_available call, never on
the per-request path.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

SLOW_START_MIN, SLOW_START_MAX = 30, 900   # ALB slow_start.duration_seconds (0 = off)
MAX_INT_WEIGHT = 1 << 31                   # LeastOutstanding integer weights: [1, 2**31)


def check_targets(targets) -> list:
    """A non-empty list of distinct hashable target identities."""
    if isinstance(targets, (str, bytes)):
        raise TypeError("targets must be a sequence of target identities, not a string")
    try:
        out = list(targets)
    except TypeError:
        raise TypeError(f"targets must be an iterable, got {type(targets).__name__}") from None
    if not out:
        raise ValueError("targets must not be empty")
    seen = set()
    for t in out:
        try:
            hash(t)
        except TypeError:
            raise TypeError(f"targets must be hashable, got {type(t).__name__}") from None
        if t in seen:
            raise ValueError(f"targets must be distinct, {t!r} appears twice")
        seen.add(t)
    return out


def check_weight_array(weights, n: int, *, integer: bool, allow_zero: bool) -> np.ndarray:
    """Validate ``weights`` (length ``n``); float64 array, or int64 when ``integer``."""
    if isinstance(weights, (str, bytes)):
        raise TypeError("weights must be a sequence of numbers")
    try:
        arr = np.asarray(weights)
    except Exception:
        raise TypeError("weights must be a sequence of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"weights must be one-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"weights must have one entry per target ({n}), got {arr.shape[0]}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"weights must be numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError("weights must be finite (no NaN or infinity)")
    if np.any(arr < 0):
        raise ValueError("weights must be non-negative")
    if integer:
        if np.issubdtype(arr.dtype, np.floating) and np.any(arr != np.floor(arr)):
            raise ValueError("weights must be integers")
        if np.any(arr >= MAX_INT_WEIGHT):
            raise ValueError(f"weights must be < 2**31")
        out = arr.astype(np.int64)
    else:
        out = arr.astype(np.float64)
    if not allow_zero and np.any(out == 0):
        raise ValueError("weights must be positive")
    if n and not np.any(out > 0):
        raise ValueError("weights must not be all zero")
    if not integer:
        with np.errstate(over="ignore"):
            total = out.sum()
        if not np.isfinite(total):
            raise ValueError("weights must have a finite sum")
    return np.ascontiguousarray(out)


def check_total(existing, weight) -> None:
    """Adding ``weight`` must keep the sum of weights finite."""
    with np.errstate(over="ignore"):
        total = float(np.sum(existing)) + weight
    if not math.isfinite(total):
        raise ValueError("weight would make the sum of weights infinite")


def check_weight(weight, *, integer: bool, allow_zero: bool):
    """One target's weight (for ``add``)."""
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise TypeError(f"weight must be a number, got {type(weight).__name__}")
    w = float(weight)
    if not math.isfinite(w):
        raise ValueError("weight must be finite (no NaN or infinity)")
    if w < 0 or (w == 0 and not allow_zero):
        raise ValueError(f"weight must be {'non-negative' if allow_zero else 'positive'}, got {weight!r}")
    if integer:
        if w != math.floor(w):
            raise ValueError(f"weight must be an integer, got {weight!r}")
        if w >= MAX_INT_WEIGHT:
            raise ValueError("weight must be < 2**31")
        return int(w)
    return w


def check_slow_start(seconds) -> float:
    """ALB ``slow_start.duration_seconds``: 0 (off) or an integer in [30, 900]."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Integral):
        raise TypeError(f"slow_start_seconds must be an integer, got {type(seconds).__name__}")
    s = int(seconds)
    if s != 0 and not SLOW_START_MIN <= s <= SLOW_START_MAX:
        raise ValueError(f"slow_start_seconds must be 0 (off) or in [{SLOW_START_MIN}, "
                         f"{SLOW_START_MAX}], got {s}")
    return float(s)


def check_now(now, slow_start: float) -> float:
    """``now`` (seconds, any clock): required when slow start is on, else ignored."""
    if now is None:
        if slow_start > 0:
            raise ValueError("now is required when slow start is enabled")
        return 0.0
    if isinstance(now, bool) or not isinstance(now, numbers.Real):
        raise TypeError(f"now must be a number of seconds, got {type(now).__name__}")
    f = float(now)
    if not math.isfinite(f):
        raise ValueError("now must be finite")
    return f


def check_count(n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    return n


def check_seed(seed) -> int:
    from lbcore._hash import parse_seed
    return parse_seed(seed)


def reject_slow_start(slow_start_seconds, cls: str) -> None:
    """ALB refuses slow start with least outstanding requests; so do we."""
    s = check_slow_start(slow_start_seconds)
    if s:
        raise ValueError(f"slow_start_seconds must be 0 for {cls}: AWS does not support slow "
                         "start mode with the least outstanding requests algorithm")


FREE = object()   # marks a free index slot


class TargetMap:
    """Target identity <-> dense int32 index, with free slots reused LIFO."""

    __slots__ = ("index", "targets", "free")

    def __init__(self, targets: list):
        self.index = {t: i for i, t in enumerate(targets)}
        self.targets = list(targets)
        self.free = []

    def lookup(self, target, what: str) -> int:
        try:
            return self.index[target]
        except KeyError:
            raise ValueError(f"{what}: unknown target {target!r}") from None
        except TypeError:
            raise TypeError(f"target must be hashable, got {type(target).__name__}") from None

    def check_index(self, index) -> int:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < len(self.targets) or self.targets[index] is FREE:
            raise ValueError(f"index {index} is not a registered target")
        return index

    def add(self, target) -> tuple[int, bool]:
        """Returns (index, grew): grew means a new slot at the end was used."""
        try:
            hash(target)
        except TypeError:
            raise TypeError(f"target must be hashable, got {type(target).__name__}") from None
        if target in self.index:
            raise ValueError(f"add: target {target!r} is already registered")
        if self.free:
            i = self.free.pop()
            self.targets[i] = target
            grew = False
        else:
            i = len(self.targets)
            if i >= 2**31 - 2:
                raise ValueError("add: too many targets")
            self.targets.append(target)
            grew = True
        self.index[target] = i
        return i, grew

    def remove(self, target) -> int:
        i = self.lookup(target, "remove")
        del self.index[target]
        self.targets[i] = FREE
        self.free.append(i)
        return i

    def live(self) -> list:
        return [t for t in self.targets if t is not FREE]


def check_bool(value, name: str) -> bool:
    if value is not True and value is not False:
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def slow_start_entry(avail, ss_start, i: int, now: float, slow_start: float) -> None:
    """Target ``i`` just became available (registered healthy, or healthy again).

    It enters slow start (ramp starts at ``now``) when slow start is on and at
    least one *other* target is available; a target joining a group with no
    healthy target serves its full share at once (AWS: targets registered into
    an empty group don't enter slow start)."""
    others = int(avail.sum()) - int(avail[i])
    ss_start[i] = now if (slow_start > 0 and others > 0) else -np.inf
