# cython: language_level=3
"""Token buckets: the compiled kernels and the ``TokenBuckets`` Python entry point.

Exact arithmetic (docs/throttling.md): time is integer nanoseconds, a bucket whose rate
is p/q tokens/s counts tokens in units of 1/(10**9 * q) token, so one nanosecond adds
exactly p units. Refill never rounds, so nothing drifts or is lost over any horizon.
"""
from fractions import Fraction
import math

from libc.math cimport isfinite, llrint
from libc.stdint cimport int32_t, int64_t, uint8_t, INT64_MAX

import numpy as np


cdef int lb_bucket_try_acquire(int64_t* state, int64_t n_buckets, int32_t bucket,
                               int64_t now, int64_t cost) noexcept nogil:
    # 1 admit, 0 refuse, -1 time went back, -2 bucket out of range, -3 negative cost
    if bucket < 0 or bucket >= n_buckets:
        return -2
    if cost < 0:
        return -3
    return lb_bucket_acquire1(state + <int64_t>bucket * LB_BUCKET_STRIDE, now, cost)


cdef int64_t lb_bucket_acquire_many(int64_t* state, int64_t n_buckets, int64_t n,
                                    const int32_t* buckets, const int64_t* times,
                                    const int64_t* costs, int64_t* journal,
                                    uint8_t* out, int* reason) noexcept nogil:
    # Sequential try_acquire over n requests. Returns -1 when all went through, else the
    # index of the first bad request with *reason set; when `journal` (2*n int64) is given
    # every bucket touched before it is restored, so an error leaves no state change.
    cdef int64_t i, j
    cdef int64_t cost = 1
    cdef int32_t b
    cdef int64_t* s
    cdef int r
    reason[0] = LB_BUCKET_OK
    for i in range(n):
        b = buckets[i]
        if b < 0 or b >= n_buckets:
            reason[0] = LB_BUCKET_ERR_INDEX
            break
        if costs != NULL:
            cost = costs[i]
            if cost < 0:
                reason[0] = LB_BUCKET_ERR_COST
                break
        s = state + <int64_t>b * LB_BUCKET_STRIDE
        if journal != NULL:
            journal[2 * i] = s[LB_TOK]
            journal[2 * i + 1] = s[LB_LAST]
        r = lb_bucket_acquire1(s, times[i], cost)
        if r < 0:
            reason[0] = LB_BUCKET_ERR_TIME
            break
        out[i] = <uint8_t>r
    if reason[0] == LB_BUCKET_OK:
        return -1
    if journal != NULL:
        j = i - 1
        while j >= 0:
            s = state + <int64_t>buckets[j] * LB_BUCKET_STRIDE
            s[LB_TOK] = journal[2 * j]
            s[LB_LAST] = journal[2 * j + 1]
            j -= 1
    return i


# ---------------------------------------------------------------- Python API

# Floats are read as the nearest rational with a denominator up to this (0.1 -> 1/10,
# 1/3 -> 1/3, 2.5 -> 5/2); ints and Fractions are taken exactly.
MAX_FLOAT_DENOMINATOR = 1000
_NS_LIMIT = 9.2e18          # < 2**63: largest representable time in ns


def _exact(value, str name):
    """A non-negative finite number as an exact Fraction (see MAX_FLOAT_DENOMINATOR)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, np.integer,
                                                         np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
        f = Fraction(v).limit_denominator(MAX_FLOAT_DENOMINATOR)
    else:
        f = Fraction(int(value)) if isinstance(value, (int, np.integer)) else value
    if f < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return f


def _encode(rate, burst):
    """(rate_units_per_ns, scale, cap_units, max_cost) of one exact (rate, burst) pair."""
    r = _exact(rate, "rate")
    b = _exact(burst, "burst")
    scale = 10**9 * r.denominator
    cap = (b * scale).numerator // (b * scale).denominator   # burst rounded down to a unit
    if scale > INT64_MAX or cap > INT64_MAX or r.numerator > INT64_MAX:
        raise ValueError(f"rate={rate!r} with burst={burst!r} does not fit lbcore's int64 "
                         "token units (burst * 1e9 * rate denominator must be < 2**63)")
    return r.numerator, scale, cap, cap // scale


def _per_bucket(value, Py_ssize_t n, str name):
    """Scalar or length-n array -> (unique values, inverse index) without a per-bucket loop
    over repeated values."""
    if np.ndim(value) == 0:
        return [value], np.zeros(n, dtype=np.intp)
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}")
    if arr.dtype.kind == "O":          # e.g. Fractions: dedupe through a dict
        seen = {}
        inv = np.fromiter((seen.setdefault(v, len(seen)) for v in arr.tolist()),
                          dtype=np.intp, count=n)
        return list(seen), inv
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    uniq, inv = np.unique(arr, return_inverse=True)
    return [u.item() for u in uniq], inv.reshape(-1)


cdef inline int64_t _to_ns(double now) except -1:
    if not isfinite(now) or now < 0.0:
        raise ValueError(f"now must be finite and >= 0 seconds, got {now!r}")
    cdef double x = now * 1e9
    if x >= _NS_LIMIT:
        raise ValueError(f"now={now!r} s is beyond lbcore's int64 nanosecond clock")
    return llrint(x)


def seconds_to_ns(times):
    """The conversion every entry point applies to ``now`` given in seconds: the double
    product ``now * 1e9`` rounded to the nearest integer, ties to even (``llrint`` /
    ``numpy.rint``); monotone, so non-decreasing seconds give non-decreasing ns."""
    t = np.asarray(times, dtype=np.float64)
    if t.size and (not np.isfinite(t).all() or (t < 0).any()):
        raise ValueError("times must be finite and >= 0 seconds")
    x = t * 1e9
    if x.size and (x >= _NS_LIMIT).any():
        raise ValueError("times beyond lbcore's int64 nanosecond clock")
    return np.rint(x).astype(np.int64)


cdef class TokenBuckets:
    """``n`` independent token buckets, refilled at ``rate`` tokens/s up to ``burst``.

    ``rate`` and ``burst`` are non-negative scalars or length-``n`` arrays (ints and
    ``Fraction`` exact; floats read as the nearest rational with denominator <= 1000).
    Every bucket starts full. ``now`` is seconds (float, finite, >= 0), converted to
    integer nanoseconds by :func:`seconds_to_ns`; per bucket, time must not go back.
    """
    cdef object _state          # int64 (n, LB_BUCKET_STRIDE), owned
    cdef int64_t* _s
    cdef int64_t _n
    cdef object _rate0, _burst0  # construction scalars (None if per-bucket arrays)

    def __init__(self, n, *, rate, burst):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 1 or n > 2**31 - 1:
            raise ValueError(f"n must be in [1, 2**31 - 1], got {n}")
        self._rate0 = rate if np.ndim(rate) == 0 else None
        self._burst0 = burst if np.ndim(burst) == 0 else None
        self._set_state(self._rows(int(n), rate, burst))

    cdef _rows(self, Py_ssize_t n, rate, burst):
        ru, ri = _per_bucket(rate, n, "rate")
        bu, bi = _per_bucket(burst, n, "burst")
        rows = np.zeros((n, LB_BUCKET_STRIDE), dtype=np.int64)
        # every distinct (rate, burst) pair is encoded once
        pair = ri.astype(np.int64) * len(bu) + bi
        pu, pinv = np.unique(pair, return_inverse=True)
        enc = np.array([_encode(ru[p // len(bu)], bu[p % len(bu)]) for p in pu.tolist()],
                       dtype=np.int64).reshape(-1, 4)
        e = enc[pinv.reshape(-1)]
        rows[:, LB_RATE] = e[:, 0]
        rows[:, LB_SCALE] = e[:, 1]
        rows[:, LB_CAP] = e[:, 2]
        rows[:, LB_MAXC] = e[:, 3]
        rows[:, LB_TOK] = e[:, 2]       # full
        rows[:, LB_LAST] = 0
        return rows

    cdef _set_state(self, rows):
        a = np.ascontiguousarray(rows, dtype=np.int64)
        cdef int64_t[:, ::1] mv = a
        self._state = a
        self._s = &mv[0, 0]
        self._n = a.shape[0]

    def __len__(self):
        return self._n

    @property
    def n(self):
        return self._n

    @property
    def state(self):
        """The int64 state table (read-only view; pass ``state.ctypes`` to lbcore.numba)."""
        v = self._state.view()
        v.flags.writeable = False
        return v

    def _writable_state(self):
        """The state array itself, for lbcore.numba kernels that mutate it."""
        return self._state

    cdef inline int64_t _check_bucket(self, Py_ssize_t bucket) except -1:
        if bucket < 0 or bucket >= self._n:
            raise IndexError(f"bucket {bucket} out of range [0, {self._n})")
        return bucket

    def try_acquire(self, Py_ssize_t bucket, double now, long long cost=1):
        """Refill ``bucket`` to ``now`` (seconds) and take ``cost`` tokens if it holds
        them: True if admitted. A ``now`` before the bucket's last time is a ValueError
        (and changes nothing)."""
        cdef int64_t t = _to_ns(now)
        cdef int r
        self._check_bucket(bucket)
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost}")
        r = lb_bucket_acquire1(self._s + bucket * LB_BUCKET_STRIDE, t, cost)
        if r < 0:
            self._time_back(bucket, t, "now")
        return r == 1

    def try_acquire_ns(self, Py_ssize_t bucket, int64_t now_ns, long long cost=1):
        """:meth:`try_acquire` with ``now`` already in integer nanoseconds."""
        cdef int r
        self._check_bucket(bucket)
        if now_ns < 0:
            raise ValueError(f"now_ns must be >= 0, got {now_ns}")
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost}")
        r = lb_bucket_acquire1(self._s + bucket * LB_BUCKET_STRIDE, now_ns, cost)
        if r < 0:
            self._time_back(bucket, now_ns, "now_ns")
        return r == 1

    def _time_back(self, Py_ssize_t bucket, int64_t t, str name):
        raise ValueError(f"{name}: time went back for bucket {bucket}: {t} ns is before its "
                         f"last time {self._s[bucket * LB_BUCKET_STRIDE + LB_LAST]} ns")

    def tokens(self, Py_ssize_t bucket, double now, *, exact=False):
        """Tokens ``bucket`` would hold at ``now`` (no state change): float, or the exact
        ``Fraction`` with ``exact=True``."""
        cdef int64_t t = _to_ns(now)
        cdef int64_t row[LB_BUCKET_STRIDE]
        cdef int k
        self._check_bucket(bucket)
        for k in range(LB_BUCKET_STRIDE):
            row[k] = self._s[bucket * LB_BUCKET_STRIDE + k]
        if lb_bucket_acquire1(row, t, 0) < 0:
            self._time_back(bucket, t, "now")
        if exact:
            return Fraction(row[LB_TOK], row[LB_SCALE])
        return row[LB_TOK] / <double>row[LB_SCALE]

    def limits(self, Py_ssize_t bucket):
        """(rate tokens/s, burst tokens) of ``bucket`` as exact Fractions, as stored."""
        self._check_bucket(bucket)
        cdef int64_t* s = self._s + bucket * LB_BUCKET_STRIDE
        return (Fraction(s[LB_RATE] * 10**9, s[LB_SCALE]), Fraction(s[LB_CAP], s[LB_SCALE]))

    def reset(self, Py_ssize_t bucket):
        """Make ``bucket`` new again: full, and its clock back to 0."""
        self._check_bucket(bucket)
        cdef int64_t* s = self._s + bucket * LB_BUCKET_STRIDE
        s[LB_TOK] = s[LB_CAP]
        s[LB_LAST] = 0

    def resize(self, n, *, rate=None, burst=None):
        """Grow to ``n`` buckets; existing buckets keep their state, new ones start full
        with ``rate``/``burst`` (scalars or length ``n - len(self)`` arrays; default the
        constructor's scalars). Swaps in a new state array (``state`` views go stale)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < self._n:
            raise ValueError(f"n must be >= the current {self._n} (buckets only grow)")
        if n > 2**31 - 1:
            raise ValueError(f"n must be <= 2**31 - 1, got {n}")
        if n == self._n:
            return
        if rate is None:
            rate = self._rate0
        if burst is None:
            burst = self._burst0
        if rate is None or burst is None:
            raise ValueError("rate and burst are required to resize buckets built from "
                             "per-bucket arrays")
        new = self._rows(int(n) - self._n, rate, burst)
        self._set_state(np.concatenate([self._state, new]))

    def acquire_many(self, buckets, times, costs=None, *, unit="s"):
        """Decide requests ``(buckets[i], times[i], costs[i])`` in order, exactly as
        ``try_acquire`` called one by one would; returns a bool array. ``times`` are
        seconds (``unit="s"``, float) or integer nanoseconds (``unit="ns"``). A time going
        back for a bucket is a ValueError naming the index and bucket; then no bucket
        changes (the kernel journals and rolls back)."""
        b = np.asarray(buckets)
        if b.ndim != 1:
            raise ValueError(f"buckets must be 1-D, got shape {b.shape}")
        if b.size and b.dtype.kind not in "iu":
            raise TypeError(f"buckets must be integers, got dtype {b.dtype}")
        n = b.shape[0]
        if unit == "s":
            t = seconds_to_ns(times)
        elif unit == "ns":
            t = np.asarray(times)
            if t.size and t.dtype.kind not in "iu":
                raise TypeError(f"times must be integer ns with unit='ns', got {t.dtype}")
            if t.size and (t < 0).any():
                raise ValueError("times must be >= 0 ns")
            t = np.ascontiguousarray(t, dtype=np.int64)
        else:
            raise ValueError(f"unit must be 's' or 'ns', got {unit!r}")
        if t.ndim != 1 or t.shape[0] != n:
            raise ValueError(f"times must have shape ({n},) like buckets, got {t.shape}")
        if n and (b.min() < 0 or b.max() >= self._n):
            raise IndexError(f"buckets must be in [0, {self._n})")
        b32 = np.ascontiguousarray(b, dtype=np.int32)
        cdef const int32_t[::1] bv = b32
        cdef const int64_t[::1] tv = t
        cdef const int64_t[::1] cv
        cdef const int64_t* cp = NULL
        if costs is not None:
            c = np.asarray(costs)
            if c.shape != (n,):
                raise ValueError(f"costs must have shape ({n},) like buckets, got {c.shape}")
            if c.size and c.dtype.kind not in "iu":
                raise TypeError(f"costs must be integers, got dtype {c.dtype}")
            if c.size and (c < 0).any():
                raise ValueError("costs must be >= 0")
            cv = np.ascontiguousarray(c, dtype=np.int64)
            if n:
                cp = &cv[0]
        out = np.zeros(n, dtype=np.uint8)
        if n == 0:
            return out.view(np.bool_)
        journal = np.empty(2 * n, dtype=np.int64)
        cdef uint8_t[::1] ov = out
        cdef int64_t[::1] jv = journal
        keep = self._state      # keep the buffer alive across nogil
        cdef int64_t* sp = self._s
        cdef int64_t nb = self._n
        cdef int64_t nn = n
        cdef int reason = 0
        cdef int64_t bad
        with nogil:
            bad = lb_bucket_acquire_many(sp, nb, nn, &bv[0], &tv[0], cp, &jv[0], &ov[0],
                                         &reason)
        if bad >= 0:
            bk = int(b32[bad])
            if reason == LB_BUCKET_ERR_TIME:
                earlier = np.flatnonzero(b32[:bad] == bk)
                last = (int(t[earlier[-1]]) if earlier.size
                        else int(self._s[bk * LB_BUCKET_STRIDE + LB_LAST]))
                raise ValueError(
                    f"times[{bad}]: time went back for bucket {bk} ({int(t[bad])} ns is "
                    f"before its last time {last} ns); no bucket was changed")
            raise ValueError(f"request {bad} (bucket {bk}) rejected by the kernel "
                             f"(reason {reason}); no bucket was changed")
        return out.view(np.bool_)
