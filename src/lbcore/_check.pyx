# cython: language_level=3
"""Boundary checks of the kernel objects (see _check.pxd for the message style)."""
from cpython.long cimport PyLong_CheckExact
from libc.math cimport isfinite, floor

import numbers

import numpy as np

cdef object _np_bool = np.bool_
cdef object _MAX_INT_WEIGHT = 1 << 31       # integer weights (LeastOutstanding): [1, 2**31)


cdef double check_now_slow(object now, str name) except? -1.0:
    cdef double t
    if now is None:
        raise ValueError(f"{name} is required: a finite number of seconds")
    if not PyLong_CheckExact(now):                  # an exact int needs no ABC test
        if isinstance(now, (bool, _np_bool)) or not isinstance(now, numbers.Real):
            raise TypeError(f"{name} must be a finite number of seconds, "
                            f"got {type(now).__name__}")
    try:
        t = float(now)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number of seconds, got {now!r}") from None
    if not isfinite(t):
        raise ValueError(f"{name} must be a finite number of seconds, got {t!r}")
    return t


cpdef double check_time(object now, str name="now") except? -1.0:
    """``now`` as a float (the check every request-level ``now`` goes through)."""
    return check_now(now, name)


cpdef bint check_bool(object value, str name) except -1:
    """``True`` or ``False`` (numpy bools too; not 0/1, not None)."""
    if value is True:
        return True
    if value is False:
        return False
    if isinstance(value, _np_bool):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


cpdef Py_ssize_t check_count(object n, str name="n") except -1:
    """A non-negative int (a number of picks)."""
    if isinstance(n, (bool, _np_bool)) or not hasattr(n, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}")
    v = n.__index__()
    if v < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {v}")
    if v > 2**62:
        raise ValueError(f"{name} must be < 2**62, got {v}")
    return v


cpdef uint64_t check_seed(object seed, str name="seed") except? 0xFFFFFFFFFFFFFFFF:
    """An integer in [0, 2**64)."""
    if PyLong_CheckExact(seed):          # the per-call case: one C conversion, no compares
        try:
            return <uint64_t>seed        # OverflowError when negative or >= 2**64
        except OverflowError:
            raise ValueError(f"{name} must be in [0, 2**64), got {seed}") from None
    if isinstance(seed, (bool, _np_bool)) or not hasattr(seed, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(seed).__name__}")
    seed = seed.__index__()
    if not 0 <= seed < 2**64:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}")
    return <uint64_t>seed


cpdef double check_slow_start(object seconds, str name="slow_start_seconds") except -1.0:
    """ALB ``slow_start.duration_seconds``: 0 (off) or an integer in [30, 900]."""
    if isinstance(seconds, (bool, _np_bool)) or not isinstance(seconds, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(seconds).__name__}")
    s = int(seconds)
    if s != 0 and not SLOW_START_MIN <= s <= SLOW_START_MAX:
        raise ValueError(f"{name} must be 0 (off) or in [{SLOW_START_MIN}, "
                         f"{SLOW_START_MAX}], got {s}")
    return <double>s


cpdef reject_slow_start(object seconds, str cls):
    """ALB refuses slow start with least outstanding requests; so do we."""
    if check_slow_start(seconds):
        raise ValueError(f"slow_start_seconds must be 0 for {cls}: AWS does not support slow "
                         "start mode with the least outstanding requests algorithm")


cpdef object check_weight(object weight, str name, bint integer, bint allow_zero):
    """One target's weight: a finite number >= 0 (> 0 unless ``allow_zero``); an int
    in [1, 2**31) when ``integer`` (returned as int), else returned as float."""
    if isinstance(weight, (bool, _np_bool)) or not isinstance(weight, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(weight).__name__}")
    cdef double w
    try:
        w = float(weight)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {weight!r}") from None
    if not isfinite(w):
        raise ValueError(f"{name} must be finite (no NaN or infinity), got {weight!r}")
    if w < 0 or (w == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, "
                         f"got {weight!r}")
    if integer:
        if w != floor(w):
            raise ValueError(f"{name} must be an integer, got {weight!r}")
        if w >= _MAX_INT_WEIGHT:
            raise ValueError(f"{name} must be < 2**31, got {weight!r}")
        return int(w)
    return w


cpdef object check_weight_array(object weights, Py_ssize_t n, bint integer, bint allow_zero,
                                str name="weights"):
    """``n`` weights as a C-contiguous float64 array (int64 when ``integer``): finite,
    non-negative (positive unless ``allow_zero``), not all zero, a finite sum."""
    if isinstance(weights, (str, bytes, dict)):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(weights).__name__}")
    try:
        arr = np.asarray(weights)
    except Exception:
        raise TypeError(f"{name} must be a sequence of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n >= 0 and arr.shape[0] != n:
        raise ValueError(f"{name} must have one entry per target ({n}), got {arr.shape[0]}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative")
    if integer:
        if np.issubdtype(arr.dtype, np.floating) and np.any(arr != np.floor(arr)):
            raise ValueError(f"{name} must be integers")
        if np.any(arr >= _MAX_INT_WEIGHT):
            raise ValueError(f"{name} must be < 2**31")
        out = arr.astype(np.int64)
    else:
        out = arr.astype(np.float64)
    if not allow_zero and np.any(out == 0):
        raise ValueError(f"{name} must be positive")
    if out.shape[0] and not np.any(out > 0):
        raise ValueError(f"{name} must not be all zero")
    if not integer:
        with np.errstate(over="ignore"):
            total = out.sum()
        if not np.isfinite(total):
            raise ValueError(f"{name} must have a finite sum")
    return np.ascontiguousarray(out)


cpdef check_total(object existing, double weight, str name="weight"):
    """Adding ``weight`` to the weights ``existing`` must keep their sum finite."""
    with np.errstate(over="ignore"):
        total = float(np.sum(existing)) + weight
    if not isfinite(total):
        raise ValueError(f"{name} would make the sum of weights infinite, got {weight!r}")


cpdef list check_targets(object targets, str name="targets"):
    """A non-empty list of distinct hashable target identities."""
    if isinstance(targets, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of target identities, not a string")
    try:
        out = list(targets)
    except TypeError:
        raise TypeError(f"{name} must be an iterable, got {type(targets).__name__}") from None
    if not out:
        raise ValueError(f"{name} must not be empty")
    seen = set()
    for t in out:
        check_hashable(t, name)
        if t in seen:
            raise ValueError(f"{name} must be distinct, {t!r} appears twice")
        seen.add(t)
    return out


cpdef check_hashable(object target, str name="target"):
    """A target identity: any hashable object."""
    try:
        hash(target)
    except TypeError:
        raise TypeError(f"{name} must be hashable, got {type(target).__name__}") from None
