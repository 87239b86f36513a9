# cython: language_level=3
"""Token buckets: the compiled kernels and the ``TokenBuckets`` Python entry point.

Exact arithmetic (docs/throttling.md): time is integer nanoseconds, a bucket whose rate
is p/q tokens/s counts tokens in units of 1/(10**9 * q) token, so one nanosecond adds
exactly p units. Refill never rounds, so nothing drifts or is lost over any horizon.
"""
cimport cython
from lbcore._handle import make_handle
from fractions import Fraction
import math
import warnings

from libc.math cimport isfinite, llrint, NAN
from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.ref cimport PyObject
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_Size
from cpython.long cimport PyLong_AsLong
from libc.stdint cimport uint64_t, uintptr_t
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, INT64_MAX
from lbcore._lock cimport lb_lock, lb_lock_init, lb_lock_free, lb_lock_acquire, lb_lock_release

import numpy as np


cdef inline int _request_error(int64_t n_buckets, int32_t bucket, int64_t cost) noexcept nogil:
    # The input check of one single-bucket request (scalar and batch paths alike):
    # LB_BUCKET_OK, or LB_BUCKET_ERR_INDEX / LB_BUCKET_ERR_COST.
    if bucket < 0 or bucket >= n_buckets:
        return LB_BUCKET_ERR_INDEX
    if cost < 0:
        return LB_BUCKET_ERR_COST
    return LB_BUCKET_OK


cdef int lb_bucket_try_acquire(int64_t* state, int64_t n_buckets, int32_t bucket,
                               int64_t now, int64_t cost) noexcept nogil:
    # 1 admit, 0 refuse, -1 time went back, -2 bucket out of range, -3 negative cost
    cdef int err = _request_error(n_buckets, bucket, cost)
    if err != LB_BUCKET_OK:
        return -2 if err == LB_BUCKET_ERR_INDEX else -3
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
        if costs != NULL:
            cost = costs[i]
        reason[0] = _request_error(n_buckets, b, cost)
        if reason[0] != LB_BUCKET_OK:
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


# ------------------------------------------------------------- quotas and chains

cdef int64_t lb_bucket_period_id(int64_t now_ns, int kind) noexcept nogil:
    # now_ns >= 0 (all lbcore times are), so // and % are floor operations here.
    cdef int64_t days = now_ns // 86400000000000LL
    cdef int64_t z, era, doe, yoe, y, doy, mp, m
    if kind == LB_PERIOD_DAY:
        return days
    if kind == LB_PERIOD_WEEK:
        return (days + 3) // 7          # 1970-01-01 was a Thursday
    # civil-from-days (proleptic Gregorian, H. Hinnant's algorithm), days >= 0
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y * 12 + (m - 1)


cdef inline int _quota_fits(int64_t* q, int64_t now, int64_t cost, int64_t* pid) noexcept nogil:
    cdef int64_t p = lb_bucket_period_id(now, <int>q[LB_Q_KIND])
    cdef int64_t used = q[LB_Q_USED] if p == q[LB_Q_PERIOD] else 0
    cdef int64_t initial = q[LB_Q_INITIAL] if q[LB_Q_INITIAL] >= 0 else p
    cdef int64_t limit = q[LB_Q_LIMIT] - (q[LB_Q_OFFSET] if p == initial else 0)
    pid[0] = p
    return cost <= limit - used          # both <= 2**62: no overflow


cdef inline int _check1(int64_t* state, int64_t* quotas, const int32_t* chain,
                        int64_t width, int32_t quota, int64_t now, int64_t cost) noexcept nogil:
    # All-or-nothing over the chain: admitted only if the quota and every level admit,
    # and then every level pays; a refusal takes nothing (refill is state-neutral).
    cdef int64_t k, pid = 0
    cdef int64_t* s
    cdef int64_t* q = NULL
    cdef int fits
    for k in range(width):
        if chain[k] >= 0 and now < state[<int64_t>chain[k] * LB_BUCKET_STRIDE + LB_LAST]:
            return LB_CHECK_ERR_TIME
    for k in range(width):
        if chain[k] >= 0:
            lb_bucket_acquire1(state + <int64_t>chain[k] * LB_BUCKET_STRIDE, now, 0)
    if quota >= 0:
        q = quotas + <int64_t>quota * LB_QUOTA_STRIDE
        fits = _quota_fits(q, now, cost, &pid)
        if q[LB_Q_INITIAL] < 0:         # the first period the counter is used in
            q[LB_Q_INITIAL] = pid
        if not fits:
            return LB_CHECK_QUOTA
    for k in range(width):
        if chain[k] >= 0:
            s = state + <int64_t>chain[k] * LB_BUCKET_STRIDE
            if cost > s[LB_MAXC] or s[LB_TOK] < cost * s[LB_SCALE]:
                return LB_CHECK_LEVEL0 + <int>k
    for k in range(width):
        if chain[k] >= 0:
            s = state + <int64_t>chain[k] * LB_BUCKET_STRIDE
            s[LB_TOK] -= cost * s[LB_SCALE]
    if quota >= 0:
        if q[LB_Q_PERIOD] != pid:
            q[LB_Q_PERIOD] = pid
            q[LB_Q_USED] = 0
        q[LB_Q_USED] += cost
    return LB_CHECK_ALLOWED


cdef inline int _chain_ok(int64_t n_buckets, int64_t n_quotas, const int32_t* chain,
                          int64_t width, int32_t quota, int64_t cost) noexcept nogil:
    # The input check of one chained request (lb_bucket_check_chain and each request of
    # lb_bucket_check_chains): every index in range (or -1), no bucket twice (it would
    # be charged twice), cost >= 0.
    cdef int64_t k, j
    if cost < 0:
        return 0
    for k in range(width):
        if chain[k] >= n_buckets or chain[k] < -1:
            return 0
        for j in range(k):
            if chain[k] >= 0 and chain[j] == chain[k]:
                return 0
    return quota < n_quotas and quota >= -1


cdef int lb_bucket_check_chain(int64_t* state, int64_t n_buckets, int64_t* quotas,
                               int64_t n_quotas, const int32_t* chain, int64_t width,
                               int32_t quota, int64_t now, int64_t cost) noexcept nogil:
    # chain: `width` bucket indices in precedence order (-1 = level absent); quota: a
    # quota row or -1. Returns an LB_CHECK_* code.
    if not _chain_ok(n_buckets, n_quotas, chain, width, quota, cost):
        return LB_CHECK_ERR_INDEX
    return _check1(state, quotas, chain, width, quota, now, cost)


cdef int64_t lb_bucket_check_chains(int64_t* state, int64_t n_buckets, int64_t* quotas,
                                    int64_t n_quotas, int64_t n, const int32_t* chains,
                                    int64_t width, const int32_t* quota,
                                    const int64_t* times, const int64_t* costs,
                                    int64_t* journal, int8_t* out, int* reason) noexcept nogil:
    # n sequential lb_bucket_check_chain calls (chains is n x width, row-major; costs may
    # be NULL = 1). Returns -1, or the index of the first bad request with *reason set
    # (LB_BUCKET_ERR_*), after restoring every bucket and quota it changed when `journal`
    # (n * (2 * width + 3) int64) is given.
    cdef int64_t i, j, k, cost = 1, jw = 2 * width + 3
    cdef const int32_t* ch
    cdef int64_t* s
    cdef int64_t* q
    cdef int r
    reason[0] = LB_BUCKET_OK
    for i in range(n):
        ch = chains + i * width
        if costs != NULL:
            cost = costs[i]
        if not _chain_ok(n_buckets, n_quotas, ch, width, quota[i], cost):
            reason[0] = LB_BUCKET_ERR_INDEX
            break
        if journal != NULL:
            for k in range(width):
                if ch[k] >= 0:
                    s = state + <int64_t>ch[k] * LB_BUCKET_STRIDE
                    journal[i * jw + 2 * k] = s[LB_TOK]
                    journal[i * jw + 2 * k + 1] = s[LB_LAST]
            if quota[i] >= 0:
                q = quotas + <int64_t>quota[i] * LB_QUOTA_STRIDE
                journal[i * jw + 2 * width] = q[LB_Q_PERIOD]
                journal[i * jw + 2 * width + 1] = q[LB_Q_USED]
                journal[i * jw + 2 * width + 2] = q[LB_Q_INITIAL]
        r = _check1(state, quotas, ch, width, quota[i], times[i], cost)
        if r < 0:
            reason[0] = LB_BUCKET_ERR_TIME
            break
        out[i] = <int8_t>r
    if reason[0] == LB_BUCKET_OK:
        return -1
    if journal != NULL:
        j = i - 1
        while j >= 0:
            ch = chains + j * width
            for k in range(width):
                if ch[k] >= 0:
                    s = state + <int64_t>ch[k] * LB_BUCKET_STRIDE
                    s[LB_TOK] = journal[j * jw + 2 * k]
                    s[LB_LAST] = journal[j * jw + 2 * k + 1]
            if quota[j] >= 0:
                q = quotas + <int64_t>quota[j] * LB_QUOTA_STRIDE
                q[LB_Q_PERIOD] = journal[j * jw + 2 * width]
                q[LB_Q_USED] = journal[j * jw + 2 * width + 1]
                q[LB_Q_INITIAL] = journal[j * jw + 2 * width + 2]
            j -= 1
    return i


cdef int64_t _period_end(int64_t pid, int kind) noexcept nogil:
    # the UTC second at which period ``pid`` of ``kind`` ends (the inverse of
    # lb_bucket_period_id at the next boundary; pid >= 0)
    cdef int64_t y, m, era, yoe, doy, doe
    if kind == LB_PERIOD_DAY:
        return (pid + 1) * 86400
    if kind == LB_PERIOD_WEEK:
        return (4 + 7 * pid) * 86400    # week 1 starts Monday 1970-01-05 (day 4)
    # days-from-civil of the 1st of the next month (H. Hinnant's algorithm), y >= 1970
    y = (pid + 1) // 12
    m = (pid + 1) % 12 + 1
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468) * 86400


cdef inline double _retry_wait(const int64_t* state, const int64_t* quotas,
                               const int32_t* ch, int64_t width, int32_t qr, int64_t t,
                               double now, int code) noexcept nogil:
    # ApiGateway.check's Retry-After of a request refused with ``code`` at ``t`` ns (=
    # ``now`` s), from the state the refusal left (every bucket of the chain refilled to
    # t): the seconds until each bucket without a whole token has one again and, after a
    # quota refusal, until the quota's period ends; NaN when a bucket never refills
    # (check: None). A bucket's wait (scale - tok) / (rate * 1e9) s is one correctly
    # rounded division, so equal to check's exact Fraction rounded, while
    # rate * 1e9 < 2**53 (rates below ~9e6 tokens/s); above, within an ulp.
    cdef double w = 0.0, b
    cdef const int64_t* s
    cdef const int64_t* q
    cdef int64_t k
    if code == LB_CHECK_QUOTA:
        q = quotas + <int64_t>qr * LB_QUOTA_STRIDE
        w = <double>_period_end(lb_bucket_period_id(t, <int>q[LB_Q_KIND]),
                                <int>q[LB_Q_KIND]) - now
    for k in range(width):
        if ch[k] < 0:
            continue
        s = state + <int64_t>ch[k] * LB_BUCKET_STRIDE
        if s[LB_TOK] >= s[LB_SCALE]:
            continue
        if s[LB_RATE] == 0 or s[LB_CAP] < s[LB_SCALE]:
            return NAN
        b = <double>(s[LB_SCALE] - s[LB_TOK]) / (<double>s[LB_RATE] * 1e9)
        if b > w:
            w = b
    return w


cdef inline void _journal_row(int64_t* entry, int64_t tag, const int64_t* row,
                              int64_t a, int64_t b, int64_t c) noexcept nogil:
    entry[0] = tag
    entry[1] = row[a]
    entry[2] = row[b]
    entry[3] = row[c]


cdef int64_t _check_rows(int64_t* state, int64_t n_buckets, int64_t* quotas,
                        int64_t n_quotas, int64_t n, const int32_t* rows,
                        int64_t n_rows, const int32_t* table, int64_t width,
                        const int32_t* quota,
                        const double* seconds, const int64_t* costs,
                        uint8_t* touched, int64_t* journal, int8_t* out,
                        double* wait, int* reason) noexcept nogil:
    # n sequential chained decisions where request i uses chain row r = rows[i] (rows NULL:
    # r = i) of `table` (n_rows x width bucket indices, -1 absent) and quota row quota[r].
    # Times are float seconds (checked finite, >= 0 and < 9.2e18 ns by the caller),
    # converted as seconds_to_ns does (llrint(t * 1e9), ties to even), no ns copy.
    # Returns -1, or the index of the first bad request with *reason set, after
    # restoring every bucket and quota it changed.
    # Undo journal of touched rows only: `touched` (n_buckets + n_quotas bytes, zero)
    # marks a row the first time it is touched, and `journal` gets 4 int64 for it (the
    # row tag, then the three fields the decision writes), so its size is bounded by the
    # rows touched (<= n_buckets + n_quotas), not by n.
    # ``wait`` (NULL: not asked) gets each request's _retry_wait (NaN when admitted).
    cdef int64_t i, k, r, t, cost = 1, nj = 0
    cdef const int32_t* ch
    cdef int64_t* s
    cdef int64_t* q
    cdef int32_t qr
    cdef int res
    reason[0] = LB_BUCKET_OK
    for i in range(n):
        r = i if rows == NULL else rows[i]
        if r < 0 or r >= n_rows:
            reason[0] = LB_BUCKET_ERR_INDEX
            break
        ch = table + r * width
        qr = quota[r]
        if costs != NULL:
            cost = costs[i]
        if not _chain_ok(n_buckets, n_quotas, ch, width, qr, cost):
            reason[0] = LB_BUCKET_ERR_INDEX
            break
        for k in range(width):
            if ch[k] >= 0 and not touched[ch[k]]:
                touched[ch[k]] = 1
                _journal_row(journal + 4 * nj, ch[k],
                             state + <int64_t>ch[k] * LB_BUCKET_STRIDE, LB_TOK, LB_LAST,
                             LB_TOK)
                nj += 1
        if qr >= 0 and not touched[n_buckets + qr]:
            touched[n_buckets + qr] = 1
            _journal_row(journal + 4 * nj, n_buckets + qr,
                         quotas + <int64_t>qr * LB_QUOTA_STRIDE, LB_Q_PERIOD, LB_Q_USED,
                         LB_Q_INITIAL)
            nj += 1
        t = llrint(seconds[i] * 1e9)
        res = _check1(state, quotas, ch, width, qr, t, cost)
        if res < 0:
            reason[0] = LB_BUCKET_ERR_TIME
            break
        out[i] = <int8_t>res
        if wait != NULL:
            wait[i] = NAN if res == LB_CHECK_ALLOWED else \
                _retry_wait(state, quotas, ch, width, qr, t, seconds[i], res)
    if reason[0] == LB_BUCKET_OK:
        return -1
    for k in range(nj):
        t = journal[4 * k]
        if t < n_buckets:
            s = state + t * LB_BUCKET_STRIDE
            s[LB_TOK] = journal[4 * k + 1]
            s[LB_LAST] = journal[4 * k + 2]
        else:
            q = quotas + (t - n_buckets) * LB_QUOTA_STRIDE
            q[LB_Q_PERIOD] = journal[4 * k + 1]
            q[LB_Q_USED] = journal[4 * k + 2]
            q[LB_Q_INITIAL] = journal[4 * k + 3]
    return i


# ---------------------------------------------------------------- Python API

# Floats are read as the nearest rational with a denominator up to this (0.1 -> 1/10,
# 1/3 -> 1/3, 2.5 -> 5/2); ints and Fractions are taken exactly.
MAX_FLOAT_DENOMINATOR = 1000
_NS_LIMIT = 9.2e18          # < 2**63: largest representable time in ns
cdef double _NS_LIMIT_C = 9.2e18


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


_ENCODED = {}


def _encode_cached(rate, burst):
    """_encode, memoised on the exact (type, value) pair (settings repeat a lot)."""
    key = (type(rate), rate, type(burst), burst)
    try:
        return _ENCODED[key]
    except (KeyError, TypeError):
        pass
    e = _encode(rate, burst)
    if len(_ENCODED) < 4096:
        try:
            _ENCODED[key] = e
        except TypeError:
            pass
    return e


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
    if x >= _NS_LIMIT_C:
        raise ValueError(f"now={now!r} s is beyond lbcore's int64 nanosecond clock")
    return llrint(x)


cdef inline int64_t _now_ns(object now) except -1:
    """``now`` (seconds: a real number, not a bool) as integer nanoseconds."""
    if PyFloat_CheckExact(now):
        return _to_ns(PyFloat_AS_DOUBLE(now))
    if isinstance(now, (bool, np.bool_)) or not isinstance(now, (int, float, np.integer,
                                                                 np.floating)):
        raise TypeError(f"now must be a number of seconds, got {type(now).__name__}")
    return _to_ns(float(now))


def _deprecated(old, new):
    warnings.warn(f"TokenBuckets.{old} is deprecated; use TokenBuckets.{new}",
                  DeprecationWarning, stacklevel=3)


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


@cython.embedsignature(False)
cdef class TokenBuckets:
    """TokenBuckets(n, *, rate, burst)
--

``n`` independent token buckets, refilled at ``rate`` tokens/s up to ``burst``.

    ``rate`` and ``burst`` are non-negative scalars or length-``n`` arrays (ints and
    ``Fraction`` exact; floats read as the nearest rational with denominator <= 1000).
    Every bucket starts full. ``now`` is seconds (float, finite, >= 0), converted to
    integer nanoseconds by :func:`seconds_to_ns`; per bucket, time must not go back.
    """
    cdef object _state          # int64 (n, LB_BUCKET_STRIDE), owned
    cdef int64_t* _s
    cdef int64_t _n
    cdef object _rate0, _burst0  # construction scalars (None if per-bucket arrays)
    cdef object _handle         # KernelHandle, built by ctypes
    # Serialises every read-modify-write of the table (scalar and batch calls, resize):
    # batches release the GIL, so without it two threads' check_many over-admit.
    # Uncontended it is one atomic operation; a waiter releases the GIL while it waits.
    cdef lb_lock _lock

    def __cinit__(self, *args, **kwargs):
        lb_lock_init(&self._lock)

    def __dealloc__(self):
        lb_lock_free(&self._lock)

    def __init__(self, n, *, rate, burst):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n < 1 or n > 2**31 - 1:
            raise ValueError(f"n must be in [1, 2**31 - 1], got {n}")
        rows = self._rows(int(n), rate, burst)
        lb_lock_acquire(&self._lock)
        try:
            self._rate0 = rate if np.ndim(rate) == 0 else None
            self._burst0 = burst if np.ndim(burst) == 0 else None
            self._set_state(rows)
        finally:
            lb_lock_release(&self._lock)

    cdef _rows(self, Py_ssize_t n, rate, burst):
        if np.ndim(rate) == 0 and np.ndim(burst) == 0:     # one encoding, broadcast
            e = _encode_cached(rate, burst)
            rows = np.zeros((n, LB_BUCKET_STRIDE), dtype=np.int64)
            rows[:, LB_RATE] = e[0]
            rows[:, LB_SCALE] = e[1]
            rows[:, LB_CAP] = e[2]
            rows[:, LB_MAXC] = e[3]
            rows[:, LB_TOK] = e[2]
            return rows
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
        # self._state may hold spare rows beyond self._n (capacity for cheap growth)
        a = np.ascontiguousarray(rows, dtype=np.int64)
        cdef int64_t[:, ::1] mv = a
        self._state = a
        self._s = &mv[0, 0]
        self._n = a.shape[0]

    cdef _append(self, new):
        """Append rows, doubling the buffer when full (amortised O(1) per bucket)."""
        cdef int64_t old = self._n, n = self._n + new.shape[0]
        cdef int64_t[:, ::1] mv
        if n > self._state.shape[0]:
            buf = np.zeros((max(n, 2 * self._state.shape[0]), LB_BUCKET_STRIDE),
                           dtype=np.int64)
            buf[:old] = self._state[:old]
            mv = buf
            self._state = buf
            self._s = &mv[0, 0]
        self._state[old:n] = new
        self._n = n

    def __len__(self):
        return self._n

    def __reduce__(self):
        # every bucket's row (tokens, last refill, rate, scale, capacity) exactly;
        # never a lock: the restored object gets its own
        return (_restore_buckets, (type(self), np.array(self._state[:self._n], copy=True),
                                   self._rate0, self._burst0))

    @property
    def n(self):
        return self._n

    @property
    def state(self):
        """The int64 state table (read-only view; pass ``state.ctypes`` to lbcore.numba)."""
        v = self._state[:self._n]
        v.flags.writeable = False
        return v

    @property
    def ctypes(self):
        """The buckets' C interface (a ``KernelHandle``): ``state`` is the live, writable
        int64 ``(n, 8)`` table (pass ``state.ctypes`` and ``len(state)`` to the
        ``lbcore.numba.bucket_*`` kernels), ``address`` its first element, ``kernels`` the
        ``lb_bucket_*`` functions over it. ``resize`` swaps in a new table: fetch
        ``ctypes`` again afterwards."""
        if self._handle is None or self._handle.state.shape[0] != self._n \
                or self._handle.address != <size_t>self._s:
            self._handle = make_handle(<size_t>self._s, self._state[:self._n], "int64_t", {
                "lb_bucket_try_acquire": <size_t>&lb_bucket_try_acquire,
                "lb_bucket_acquire_many": <size_t>&lb_bucket_acquire_many,
                "lb_bucket_check_chain": <size_t>&lb_bucket_check_chain,
                "lb_bucket_check_chains": <size_t>&lb_bucket_check_chains})
        return self._handle

    cdef inline int64_t _check_bucket(self, Py_ssize_t bucket) except -1:
        if bucket < 0 or bucket >= self._n:
            raise IndexError(f"bucket {bucket} out of range [0, {self._n})")
        return bucket

    cdef inline int _take(self, Py_ssize_t bucket, int64_t t, long long cost,
                          str name) except -1:
        # try_acquire and try_acquire_ns: check the request, take, report time going back
        self._check_bucket(bucket)
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost}")
        cdef int r
        lb_lock_acquire(&self._lock)        # (buckets only grow: the check above still holds)
        try:
            r = lb_bucket_acquire1(self._s + bucket * LB_BUCKET_STRIDE, t, cost)
            if r < 0:
                self._time_back(bucket, t, name)
        finally:
            lb_lock_release(&self._lock)
        return r

    def check(self, Py_ssize_t bucket, now, long long cost=1):
        """Refill ``bucket`` to ``now`` (seconds) and take ``cost`` tokens if it holds
        them: True if admitted. A ``now`` before the bucket's last time is a ValueError
        (and changes nothing)."""
        return self._take(bucket, _now_ns(now), cost, "now") == 1

    def check_ns(self, Py_ssize_t bucket, int64_t now_ns, long long cost=1):
        """:meth:`check` with ``now`` already in integer nanoseconds."""
        if now_ns < 0:
            raise ValueError(f"now_ns must be >= 0, got {now_ns}")
        return self._take(bucket, now_ns, cost, "now_ns") == 1

    def try_acquire(self, Py_ssize_t bucket, now, long long cost=1):
        """Deprecated: :meth:`check`."""
        _deprecated("try_acquire", "check")
        return self._take(bucket, _now_ns(now), cost, "now") == 1

    def try_acquire_ns(self, Py_ssize_t bucket, int64_t now_ns, long long cost=1):
        """Deprecated: :meth:`check_ns`."""
        _deprecated("try_acquire_ns", "check_ns")
        return self.check_ns(bucket, now_ns, cost)

    def _time_back(self, Py_ssize_t bucket, int64_t t, str name):
        raise ValueError(f"{name}: time went back for bucket {bucket}: {t} ns is before its "
                         f"last time {self._s[bucket * LB_BUCKET_STRIDE + LB_LAST]} ns")

    def tokens(self, Py_ssize_t bucket, now, *, exact=False):
        """Tokens ``bucket`` would hold at ``now`` (no state change): float, or the exact
        ``Fraction`` with ``exact=True``."""
        cdef int64_t t = _now_ns(now)
        cdef int64_t row[LB_BUCKET_STRIDE]
        cdef int k
        lb_lock_acquire(&self._lock)
        try:
            self._check_bucket(bucket)
            for k in range(LB_BUCKET_STRIDE):
                row[k] = self._s[bucket * LB_BUCKET_STRIDE + k]
            if lb_bucket_acquire1(row, t, 0) < 0:
                self._time_back(bucket, t, "now")
        finally:
            lb_lock_release(&self._lock)
        if exact:
            return Fraction(row[LB_TOK], row[LB_SCALE])
        return row[LB_TOK] / <double>row[LB_SCALE]

    def limits(self, Py_ssize_t bucket):
        """(rate tokens/s, burst tokens) of ``bucket`` as exact Fractions, as stored."""
        self._check_bucket(bucket)
        cdef int64_t rate, scale, cap
        lb_lock_acquire(&self._lock)        # copied first: Fraction runs Python code (a resize may)
        try:
            rate = self._s[bucket * LB_BUCKET_STRIDE + LB_RATE]
            scale = self._s[bucket * LB_BUCKET_STRIDE + LB_SCALE]
            cap = self._s[bucket * LB_BUCKET_STRIDE + LB_CAP]
        finally:
            lb_lock_release(&self._lock)
        return (Fraction(int(rate) * 10**9, int(scale)), Fraction(int(cap), int(scale)))

    def reset(self, Py_ssize_t bucket):
        """Make ``bucket`` new again: full, and its clock back to 0."""
        cdef int64_t* s
        lb_lock_acquire(&self._lock)
        try:
            self._check_bucket(bucket)
            s = self._s + bucket * LB_BUCKET_STRIDE
            s[LB_TOK] = s[LB_CAP]
            s[LB_LAST] = 0
        finally:
            lb_lock_release(&self._lock)

    def resize(self, n, *, rate=None, burst=None):
        """Grow to ``n`` buckets; existing buckets keep their state, new ones start full
        with ``rate``/``burst`` (scalars or length ``n - len(self)`` arrays; default the
        constructor's scalars). May swap in a new state buffer (``state`` views go stale)."""
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
        lb_lock_acquire(&self._lock)
        try:
            if self._n + new.shape[0] != n:     # another thread resized meanwhile
                raise ValueError(f"n: the buckets changed size during resize (now "
                                 f"{self._n}); retry")
            self._append(new)
        finally:
            lb_lock_release(&self._lock)

    def acquire_many(self, buckets, times, costs=None, *, unit="s"):
        """Deprecated: :meth:`check_many`."""
        _deprecated("acquire_many", "check_many")
        return self.check_many(buckets, times, costs, unit=unit)

    def check_many(self, buckets, times, costs=None, *, unit="s"):
        """Decide requests ``(buckets[i], times[i], costs[i])`` in order, exactly as
        ``check`` called one by one would; returns a bool array. ``times`` are
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
        if n and (b.min() < 0 or b.max() >= self._n):      # buckets only grow
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
        cdef int64_t* sp
        cdef int64_t nb
        cdef int64_t nn = n
        cdef int reason = 0
        cdef int64_t bad
        cdef int64_t last_s = 0
        lb_lock_acquire(&self._lock)        # the whole batch is one step for other threads
        try:
            keep = self._state      # keep the buffer alive across nogil
            sp = self._s
            nb = self._n
            with nogil:
                bad = lb_bucket_acquire_many(sp, nb, nn, &bv[0], &tv[0], cp, &jv[0], &ov[0],
                                             &reason)
            if bad >= 0:
                last_s = self._s[<int64_t>bv[bad] * LB_BUCKET_STRIDE + LB_LAST]
            del keep
        finally:
            lb_lock_release(&self._lock)
        if bad >= 0:
            bk = int(b32[bad])
            if reason == LB_BUCKET_ERR_TIME:
                earlier = np.flatnonzero(b32[:bad] == bk)
                last = (int(t[earlier[earlier.size - 1]]) if earlier.size
                        else int(last_s))
                raise ValueError(
                    f"times[{bad}]: time went back for bucket {bk} ({int(t[bad])} ns is "
                    f"before its last time {last} ns); no bucket was changed")
            raise ValueError(f"request {bad} (bucket {bk}) rejected by the kernel "
                             f"(reason {reason}); no bucket was changed")
        return out.view(np.bool_)



_PERIODS = {"DAY": LB_PERIOD_DAY, "WEEK": LB_PERIOD_WEEK, "MONTH": LB_PERIOD_MONTH}


def period_id(now, period):
    """The UTC period index of ``now`` (seconds): DAY = days since 1970-01-01, WEEK =
    Monday-start weeks (1970-01-05 starts week 1), MONTH = year * 12 + month - 1."""
    if period not in _PERIODS:
        raise ValueError(f"period must be one of DAY, WEEK, MONTH, got {period!r}")
    return lb_bucket_period_id(_to_ns(now), _PERIODS[period])


def _restore_buckets(cls, rows, rate0, burst0):
    """Unpickle TokenBuckets (see TokenBuckets.__reduce__): the rows are checked
    against the kernel's invariants before they are used."""
    if not (isinstance(cls, type) and issubclass(cls, TokenBuckets)):
        raise TypeError("_restore_buckets: not a TokenBuckets class")
    r = np.array(rows, copy=True)
    if r.dtype != np.int64 or r.ndim != 2 or r.shape[1] != LB_BUCKET_STRIDE \
            or not 1 <= r.shape[0] <= 2**31 - 1:
        raise ValueError("TokenBuckets state: rows must be int64 of shape (n, 8)")
    tok, last, rate, scale, cap, maxc = (r[:, k] for k in
                                         (LB_TOK, LB_LAST, LB_RATE, LB_SCALE, LB_CAP, LB_MAXC))
    if ((scale < 1).any() or (rate < 0).any() or (cap < 0).any() or (last < 0).any()
            or (tok < 0).any() or (tok > cap).any() or (maxc != cap // scale).any()):
        raise ValueError("TokenBuckets state: a row breaks the bucket invariants")
    cdef TokenBuckets obj = cls.__new__(cls)
    obj._rate0 = rate0
    obj._burst0 = burst0
    obj._set_state(r)
    return obj


def _restore_quotas(cls, rows):
    """Unpickle Quotas (see Quotas.__reduce__); the rows are checked first."""
    if not (isinstance(cls, type) and issubclass(cls, Quotas)):
        raise TypeError("_restore_quotas: not a Quotas class")
    r = np.array(rows, copy=True)
    if r.dtype != np.int64 or r.ndim != 2 or r.shape[1] != LB_QUOTA_STRIDE:
        raise ValueError("Quotas state: rows must be int64 of shape (n, 8)")
    kind = r[:, LB_Q_KIND]
    if ((kind < LB_PERIOD_DAY).any() or (kind > LB_PERIOD_MONTH).any()
            or (r[:, LB_Q_LIMIT] < 0).any() or (r[:, LB_Q_USED] < 0).any()
            or (r[:, LB_Q_OFFSET] < 0).any()):
        raise ValueError("Quotas state: a row breaks the counter invariants")
    cdef Quotas obj = cls.__new__(cls)
    obj._set(r)
    return obj


@cython.embedsignature(False)
cdef class Quotas:
    """Quotas()
--

Request counters that reset at UTC DAY / WEEK / MONTH boundaries (one row each)."""
    cdef object _state
    cdef int64_t* _q
    cdef int64_t _n
    cdef lb_lock _lock          # as TokenBuckets._lock: add / reads / chained decisions

    def __cinit__(self, *args, **kwargs):
        lb_lock_init(&self._lock)

    def __dealloc__(self):
        lb_lock_free(&self._lock)

    def __init__(self):
        rows = np.zeros((0, LB_QUOTA_STRIDE), dtype=np.int64)
        lb_lock_acquire(&self._lock)
        try:
            self._set(rows)
        finally:
            lb_lock_release(&self._lock)

    cdef _set(self, rows):
        a = np.ascontiguousarray(rows, dtype=np.int64)
        cdef int64_t[:, ::1] mv = a
        self._state = a
        self._n = a.shape[0]
        self._q = &mv[0, 0] if self._n else NULL

    def __reduce__(self):
        # every counter's row (period, count, limit, offset, initial period, kind)
        return (_restore_quotas, (type(self), np.array(self._state[:self._n], copy=True)))

    cdef _append(self, row):
        cdef int64_t[:, ::1] mv
        if self._n == self._state.shape[0]:       # full: double (amortised O(1))
            buf = np.zeros((max(8, 2 * self._n), LB_QUOTA_STRIDE), dtype=np.int64)
            buf[:self._n] = self._state[:self._n]
            mv = buf
            self._state = buf
            self._q = &mv[0, 0]
        self._state[self._n] = row
        self._n += 1

    def add(self, limit, period, offset=0, initial=None):
        """Add a counter of ``limit`` requests per ``period``; ``offset`` is subtracted in
        the initial period (the one containing ``initial`` seconds, default: the first
        period the counter is used in). Returns its index."""
        for name, v in (("limit", limit), ("offset", offset)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
            if v < 0 or v > 2**62:
                raise ValueError(f"{name} must be in [0, 2**62], got {v}")
        if period not in _PERIODS:
            raise ValueError(f"period must be one of DAY, WEEK, MONTH, got {period!r}")
        row = np.zeros((1, LB_QUOTA_STRIDE), dtype=np.int64)
        row[0, LB_Q_PERIOD] = -1
        row[0, LB_Q_LIMIT] = limit
        row[0, LB_Q_OFFSET] = offset
        row[0, LB_Q_KIND] = _PERIODS[period]
        row[0, LB_Q_INITIAL] = (-1 if initial is None else
                                lb_bucket_period_id(_to_ns(initial), _PERIODS[period]))
        lb_lock_acquire(&self._lock)
        try:
            self._append(row[0])
            return self._n - 1
        finally:
            lb_lock_release(&self._lock)

    def __len__(self):
        return self._n

    @property
    def state(self):
        v = self._state[:self._n]
        v.flags.writeable = False
        return v

    @property
    def ctypes(self):
        """The quota table's C interface (a ``KernelHandle``): ``state`` is the live,
        writable int64 ``(nq, 8)`` table the ``lbcore.numba.bucket_check_chain(s)``
        kernels take as ``quotas``. ``add`` may swap in a new table: fetch it again."""
        return make_handle(<size_t>self._q, self._state[:self._n], "int64_t", {
            "lb_bucket_check_chain": <size_t>&lb_bucket_check_chain,
            "lb_bucket_check_chains": <size_t>&lb_bucket_check_chains,
            "lb_bucket_period_id": <size_t>&lb_bucket_period_id})

    cdef int64_t _counts(self, Py_ssize_t q, object now, int64_t* left) except? -1:
        """Counter ``q``'s requests used in the period containing ``now`` (returned) and
        those it still admits (``left``), read under the lock."""
        cdef int64_t t = _to_ns(now)
        cdef int64_t* r
        cdef int64_t p, used, initial
        lb_lock_acquire(&self._lock)
        try:
            if q < 0 or q >= self._n:
                raise IndexError(f"quota {q} out of range [0, {self._n})")
            r = self._q + q * LB_QUOTA_STRIDE
            p = lb_bucket_period_id(t, <int>r[LB_Q_KIND])
            used = r[LB_Q_USED] if p == r[LB_Q_PERIOD] else 0
            initial = r[LB_Q_INITIAL] if r[LB_Q_INITIAL] >= 0 else p
            left[0] = r[LB_Q_LIMIT] - (r[LB_Q_OFFSET] if p == initial else 0) - used
        finally:
            lb_lock_release(&self._lock)
        return used

    def used(self, Py_ssize_t q, now):
        """Requests counted against counter ``q`` in the period containing ``now``."""
        cdef int64_t left
        return int(self._counts(q, now, &left))

    def remaining(self, Py_ssize_t q, now):
        """Requests counter ``q`` still admits in the period containing ``now``."""
        cdef int64_t left
        self._counts(q, now, &left)
        return int(left)


def check_chain(TokenBuckets buckets not None, Quotas quotas not None, int b0, int b1, int b2, int quota,
                double now, long long cost=1):
    """One all-or-nothing decision over up to three buckets (precedence order, -1 =
    absent) and a quota row (-1 = none). Returns an outcome code: 0 allowed, 1 quota,
    2 + k refused by level k. Raises ValueError if time went back (nothing changed)."""
    cdef int32_t chain[3]
    cdef int64_t t = _to_ns(now)
    chain[0] = b0
    chain[1] = b1
    chain[2] = b2
    cdef int r
    lb_lock_acquire(&buckets._lock)         # always buckets, then quotas: one lock order
    try:
        lb_lock_acquire(&quotas._lock)
        try:
            r = lb_bucket_check_chain(buckets._s, buckets._n, quotas._q, quotas._n,
                                      chain, 3, quota, t, cost)
        finally:
            lb_lock_release(&quotas._lock)
    finally:
        lb_lock_release(&buckets._lock)
    if r == LB_CHECK_ERR_INDEX:
        raise IndexError(f"bucket/quota index out of range, repeated bucket or negative cost: "
                         f"{(b0, b1, b2)}, quota {quota}, cost {cost}")
    if r == LB_CHECK_ERR_TIME:
        raise ValueError(f"now: time went back ({t} ns) for one of buckets {(b0, b1, b2)}")
    return r


cdef void _check_seconds(const double* t, int64_t n) except *:
    # the checks seconds_to_ns makes, without its temporaries
    cdef int64_t i
    cdef bint bad = False, beyond = False
    with nogil:
        for i in range(n):
            if not (isfinite(t[i]) and t[i] >= 0.0):
                bad = True
                break
            if t[i] * 1e9 >= _NS_LIMIT_C:
                beyond = True
    if bad:
        raise ValueError("times must be finite and >= 0 seconds")
    if beyond:
        raise ValueError("times beyond lbcore's int64 nanosecond clock")


cdef object _decide_rows(TokenBuckets buckets, Quotas quotas, object rows, object table,
                         object quota, object seconds, object costs, bint waits=False):
    # _check_rows over validated contiguous inputs: returns (codes, bad index or
    # -1, reason, retry-after seconds or None). rows int32 (n,) or None (row i =
    # request i); table int32 (m, width); quota int32 (m,); seconds float64 (n,) already
    # checked; costs int64 (n,) or None; waits: also each request's _retry_wait.
    cdef int64_t n = seconds.shape[0]
    out = np.zeros(n, dtype=np.int8)
    wait = np.empty(n, dtype=np.float64) if waits else None
    if n == 0:
        return out, -1, 0, wait
    cdef double[::1] wv
    cdef double* wp = NULL
    if waits:
        wv = wait
        wp = &wv[0]
    cdef const int32_t[:, ::1] tv = table
    cdef const int32_t[::1] qv = quota
    cdef const double[::1] sv = seconds
    cdef const int32_t[::1] rv
    cdef const int32_t* rp = NULL
    cdef const int64_t[::1] cv
    cdef const int64_t* cp = NULL
    if rows is not None:
        rv = rows
        rp = &rv[0]
    if costs is not None:
        cv = costs
        cp = &cv[0]
    cdef int8_t[::1] ov = out
    cdef int64_t* sp
    cdef int64_t* qp
    cdef int64_t nb, nq, w = table.shape[1], m = table.shape[0]
    cdef int reason = 0
    cdef int64_t bad
    cdef uint8_t[::1] touched
    cdef int64_t[::1] jv
    lb_lock_acquire(&buckets._lock)         # always buckets, then quotas: one lock order
    try:
        lb_lock_acquire(&quotas._lock)
        try:
            keep = (buckets._state, quotas._state)
            sp = buckets._s
            qp = quotas._q
            nb = buckets._n
            nq = quotas._n
            # the journal holds each touched row once: at most the rows the chains name
            touched_a = np.zeros(nb + nq, dtype=np.uint8)
            journal = np.empty(4 * (min(nb, (n if rp == NULL else m) * w)
                                    + min(nq, n if rp == NULL else m)) + 4, dtype=np.int64)
            touched = touched_a
            jv = journal
            with nogil:
                bad = _check_rows(sp, nb, qp, nq, n, rp, m, &tv[0, 0], w, &qv[0], &sv[0], cp,
                                   &touched[0], &jv[0], &ov[0], wp, &reason)
            del keep
        finally:
            lb_lock_release(&quotas._lock)
    finally:
        lb_lock_release(&buckets._lock)
    return out, bad, reason, wait


def check_kinds(TokenBuckets buckets not None, Quotas quotas not None, table, kind_quota, kinds, times,
                *, retry_after=False):
    """Batch of :func:`check_chain` decisions where request ``i`` is of kind
    ``kinds[i]``: its chain is row ``kinds[i]`` of ``table`` (int (m, width) bucket
    indices, -1 absent) and its quota ``kind_quota[kinds[i]]`` (-1 none); ``times``
    seconds. Decides exactly as :func:`check_chains` with the rows expanded, without
    expanding them; the undo journal holds only the rows touched. Returns int8 codes;
    with ``retry_after=True`` ``(codes, waits)``, ``waits`` float64 seconds as
    ``ApiGateway.check``'s ``Decision.retry_after`` (NaN where that is None: admitted,
    or a bucket that never refills)."""
    if not isinstance(retry_after, bool):
        raise TypeError(f"retry_after must be a bool, got {type(retry_after).__name__}")
    tb = np.ascontiguousarray(table, dtype=np.int32)
    if tb.ndim != 2:
        raise ValueError(f"table must be 2-D (kinds, width), got shape {tb.shape}")
    m = tb.shape[0]
    kq = np.ascontiguousarray(kind_quota, dtype=np.int32)
    if kq.shape != (m,):
        raise ValueError(f"kind_quota must have shape ({m},) like table's rows")
    kd = np.asarray(kinds)
    if kd.ndim != 1 or (kd.size and kd.dtype.kind not in "iu"):
        raise TypeError("kinds must be a 1-D integer array")
    kd = np.ascontiguousarray(kd, dtype=np.int32)
    t = np.ascontiguousarray(times, dtype=np.float64)
    n = kd.shape[0]
    if t.shape != (n,):
        raise ValueError(f"times must have shape ({n},) like kinds")
    cdef const double[::1] tv = t
    if n:
        _check_seconds(&tv[0], n)
    if tb.shape[1] == 0:
        tb = np.full((max(m, 1), 1), -1, dtype=np.int32)
    out, bad, reason, wait = _decide_rows(buckets, quotas, kd, tb, kq, t, None, retry_after)
    if bad >= 0:
        k = int(kd[bad])
        if not 0 <= k < m:
            raise IndexError(f"kinds[{bad}] = {k} is not in [0, {m}); nothing was changed")
        if reason == LB_BUCKET_ERR_TIME:
            raise ValueError(f"times[{bad}]: time went back for a bucket of request {bad} "
                             f"(chain {tb[k].tolist()}); nothing was changed")
        raise IndexError(f"request {bad}: bucket/quota index out of range "
                         f"(chain {tb[k].tolist()}, quota {int(kq[k])}); "
                         "nothing was changed")
    return (out, wait) if retry_after else out


def check_chains(TokenBuckets buckets not None, Quotas quotas not None, chains, quota, times, costs=None):
    """Batch of :func:`check_chain` decisions in order: ``chains`` int (n, width) bucket
    indices (-1 absent), ``quota`` int (n,) rows (-1 none), ``times`` seconds. Returns
    int8 outcome codes. A time going back raises ValueError naming the index; then no
    bucket or quota changed."""
    ch = np.ascontiguousarray(chains, dtype=np.int32)
    if ch.ndim != 2:
        raise ValueError(f"chains must be 2-D (n, width), got shape {ch.shape}")
    n, width = ch.shape[0], ch.shape[1]
    qa = np.ascontiguousarray(quota, dtype=np.int32)
    t = np.ascontiguousarray(times, dtype=np.float64)
    if qa.shape != (n,) or t.shape != (n,):
        raise ValueError(f"quota and times must have shape ({n},)")
    cdef const double[::1] tv = t
    if n:
        _check_seconds(&tv[0], n)
    c = None
    if costs is not None:
        c = np.ascontiguousarray(costs, dtype=np.int64)
        if c.shape != (n,) or (c.size and (c < 0).any()):
            raise ValueError(f"costs must be >= 0 with shape ({n},)")
    if n and width == 0:
        ch = np.full((n, 1), -1, dtype=np.int32)
    out, bad, reason, _ = _decide_rows(buckets, quotas, None, ch, qa, t, c)
    if bad >= 0:
        if reason == LB_BUCKET_ERR_TIME:
            raise ValueError(f"times[{bad}]: time went back for a bucket of request {bad} "
                             f"(chain {ch[bad].tolist()}); nothing was changed")
        raise IndexError(f"request {bad}: bucket/quota index out of range "
                         f"(chain {ch[bad].tolist()}, quota {int(qa[bad])}); "
                         "nothing was changed")
    return out


# ------------------------------------------------------- request kinds (factorisation)
cdef enum:
    _CACHE_BITS = 12        # per-column direct-mapped cache of object addresses


cdef void _rehash(int32_t[:, ::1] rows, Py_ssize_t nk, int32_t[:, ::1] keys,
                  Py_ssize_t cap) noexcept:
    cdef Py_ssize_t j, h
    for j in range(nk):
        h = _row_slot(rows[j, 0], rows[j, 1], rows[j, 2], cap)
        while keys[h, 3] >= 0:
            h = (h + 1) & (cap - 1)
        keys[h, 0] = rows[j, 0]
        keys[h, 1] = rows[j, 1]
        keys[h, 2] = rows[j, 2]
        keys[h, 3] = <int32_t>j


cdef inline Py_ssize_t _row_slot(int32_t a, int32_t b, int32_t c, Py_ssize_t cap) noexcept nogil:
    # home slot of a row of codes in a table of cap (a power of two) slots
    cdef uint64_t h = ((<uint64_t>a * 0x9E3779B97F4A7C15ULL) ^ (<uint64_t>b * 0xC2B2AE3D27D4EB4FULL)
                       ^ (<uint64_t>c * 0x165667B19E3779F9ULL))
    return <Py_ssize_t>((h ^ (h >> 29)) & <uint64_t>(cap - 1))


cdef inline Py_ssize_t _slot(uintptr_t p, int bits) noexcept nogil:
    return <Py_ssize_t>((<uint64_t>p * 0x9E3779B97F4A7C15ULL) >> (64 - bits))


cdef int32_t _code_of(dict d, object v) except -1:
    # v's code in d (first-seen order), added when new
    cdef PyObject* hit = PyDict_GetItem(d, v)
    cdef int32_t code
    if hit == NULL:
        code = <int32_t>PyDict_Size(d)
        PyDict_SetItem(d, v, code)
        return code
    return <int32_t>PyLong_AsLong(<object>hit)


def factorize_columns(columns, Py_ssize_t n, names):
    """Hash factorisation of ``len(columns)`` (at most 3) parallel columns of n hashable
    values: returns ``(kinds, rows, values)`` where ``kinds`` is int32 (n,) — request i's
    distinct row (tuple of values) in first-seen order — ``rows`` int32 (kinds, ncol)
    the per-column value codes of each distinct row, and ``values`` per column the
    distinct values in first-seen order. Values are compared as dict keys (exactly, no
    sorting, no numpy string dtype). A column is a sequence of length n, or a str or None
    standing for n copies; ``names`` name the columns in errors. Memory beyond the
    inputs: the 4-byte kind per request and tables of the distinct values and rows."""
    cdef Py_ssize_t ncol = len(columns)
    if ncol < 1 or ncol > 3 or len(names) != ncol:
        raise ValueError("factorize_columns takes 1 to 3 columns and one name each")
    cdef int c
    cdef list seqs = [], dicts = [], values = []
    cdef int kinds_of[3]        # 0 constant, 1 list, 2 tuple, 3 object array
    cdef PyObject** data[3]
    for c in range(ncol):
        col = columns[c]
        d = {}
        dicts.append(d)
        data[c] = NULL
        if isinstance(col, str) or col is None:
            kinds_of[c] = 0
            d[col] = 0
            seqs.append(col)
            continue
        if type(col) is list:
            kinds_of[c] = 1
            ln = (PyList_GET_SIZE(col),)
        elif type(col) is tuple:
            kinds_of[c] = 2
            ln = (len(col),)
        else:
            col = np.asarray(col, dtype=object)
            if col.ndim != 1:
                raise ValueError(f"{names[c]} must have length {n} like times, got "
                                 f"{col.shape}")
            col = np.ascontiguousarray(col)
            kinds_of[c] = 3
            ln = col.shape
            if col.shape[0]:
                data[c] = <PyObject**><uintptr_t>col.ctypes.data
        if ln != (n,):
            raise ValueError(f"{names[c]} must have length {n} like times, got {ln}")
        seqs.append(col)
    kinds = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] kv = kinds
    cdef Py_ssize_t csize = 1 << _CACHE_BITS
    # slot = (address, code): one cache line per probe
    cache = np.zeros((3, csize, 2), dtype=np.uintp)
    cdef uintptr_t[:, :, ::1] cp = cache
    # open-addressing table of distinct rows: slot = ncol codes, then the kind (-1 empty)
    cdef Py_ssize_t cap = 64, nk = 0, h, j
    keys = np.full((cap, 4), -1, dtype=np.int32)
    rows = np.empty((cap // 2, 3), dtype=np.int32)
    cdef int32_t[:, ::1] kk = keys
    cdef int32_t[:, ::1] rr = rows
    cdef int32_t code[3]
    cdef Py_ssize_t i
    cdef PyObject* p
    cdef object v
    cdef bint plain
    code[0] = code[1] = code[2] = 0
    cdef PyObject* seqp[3]
    for c in range(ncol):
        seqp[c] = <PyObject*>seqs[c]
    for i in range(n):
        for c in range(ncol):
            if kinds_of[c] == 0:
                continue
            if kinds_of[c] == 1:
                if i >= PyList_GET_SIZE(<object>seqp[c]):
                    raise ValueError(f"{names[c]} changed size during the call")
                p = PyList_GET_ITEM(<object>seqp[c], i)
            elif kinds_of[c] == 2:
                p = PyTuple_GET_ITEM(<object>seqp[c], i)
            else:
                p = data[c][i]
            h = _slot(<uintptr_t>p, _CACHE_BITS)
            if cp[c, h, 0] == <uintptr_t>p:
                code[c] = <int32_t>cp[c, h, 1]
                continue
            # exact str / None: hashing and comparing run no Python code, so the cached
            # addresses stay valid (the input holds every object); anything else may run
            # code that changes the input: drop the cache and do not cache it (such a
            # value is refused by the caller's type check anyway)
            v = <object>p           # a strong reference while Python code may run
            plain = v is None or type(v) is str
            code[c] = _code_of(dicts[c], v)
            v = None
            if plain:
                cp[c, h, 0] = <uintptr_t>p
                cp[c, h, 1] = <uintptr_t>code[c]
            else:
                cp[c, :, :] = 0
        h = _row_slot(code[0], code[1], code[2], cap)
        while True:
            j = kk[h, 3]
            if j < 0:
                if 2 * (nk + 1) > cap:          # grow: rehash the distinct rows
                    cap *= 2
                    keys = np.full((cap, 4), -1, dtype=np.int32)
                    rows = np.concatenate([rows, np.empty((cap // 2 - rows.shape[0], 3),
                                                          dtype=np.int32)])
                    kk = keys
                    rr = rows
                    _rehash(rr, nk, kk, cap)
                    h = _row_slot(code[0], code[1], code[2], cap)
                    continue
                kk[h, 0] = code[0]
                kk[h, 1] = code[1]
                kk[h, 2] = code[2]
                kk[h, 3] = <int32_t>nk
                rr[nk, 0] = code[0]
                rr[nk, 1] = code[1]
                rr[nk, 2] = code[2]
                kv[i] = <int32_t>nk
                nk += 1
                break
            if kk[h, 0] == code[0] and kk[h, 1] == code[1] and kk[h, 2] == code[2]:
                kv[i] = <int32_t>j
                break
            h = (h + 1) & (cap - 1)
    return kinds, np.ascontiguousarray(rows[:nk, :ncol]), [list(d) for d in dicts]


