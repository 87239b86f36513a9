# cython: language_level=3
"""The token-bucket kernel family: many token buckets in one int64 state table.

State: a C-contiguous int64 array of shape (n, LB_BUCKET_STRIDE); row b is bucket b:

    [LB_TOK]   tokens, in units (1 token = scale units)
    [LB_LAST]  time of the last refill, integer nanoseconds
    [LB_RATE]  refill rate in units per nanosecond (exact integer)
    [LB_SCALE] units per token = 10**9 * q, where rate = p/q tokens/s
    [LB_CAP]   capacity (burst) in units
    [LB_MAXC]  the largest whole cost that can ever be admitted = cap // scale

A rate of p/q tokens/s is p/q/1e9 tokens/ns = p units/ns exactly, so a refill over
dt ns adds rate*dt units with no rounding: the integer state equals the real-valued
token bucket multiplied by scale (docs/throttling.md proves the invariant).
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t

cdef enum:
    LB_TOK = 0
    LB_LAST = 1
    LB_RATE = 2
    LB_SCALE = 3
    LB_CAP = 4
    LB_MAXC = 5
    LB_BUCKET_STRIDE = 8    # 64 bytes per bucket: one cache line per random access

# Error reasons of lb_bucket_acquire_many.
cdef enum:
    LB_BUCKET_OK = 0
    LB_BUCKET_ERR_INDEX = 1   # bucket index out of range
    LB_BUCKET_ERR_TIME = 2    # time earlier than the bucket's last refill
    LB_BUCKET_ERR_COST = 3    # negative cost


cdef inline int lb_bucket_acquire1(int64_t* s, int64_t now, int64_t cost) noexcept nogil:
    """One admission decision on bucket row ``s``: 1 admit, 0 refuse, -1 time went back.

    On -1 nothing is changed. Otherwise the bucket is refilled to ``now`` (exact) and,
    when admitted, ``cost`` whole tokens are removed.
    """
    cdef int64_t dt = now - s[LB_LAST]
    cdef int64_t tok, room, need
    if dt < 0:
        return -1
    tok = s[LB_TOK]
    if dt > 0:
        room = s[LB_CAP] - tok
        if room > 0 and s[LB_RATE] > 0:
            # rate*dt <= room  <=>  dt <= room // rate (positive integers): no overflow
            if dt > room // s[LB_RATE]:
                tok = s[LB_CAP]
            else:
                tok += s[LB_RATE] * dt
        s[LB_LAST] = now
    if cost > s[LB_MAXC]:
        s[LB_TOK] = tok
        return 0
    need = cost * s[LB_SCALE]
    if tok >= need:
        s[LB_TOK] = tok - need
        return 1
    s[LB_TOK] = tok
    return 0


cdef int lb_bucket_try_acquire(int64_t* state, int64_t n_buckets, int32_t bucket,
                               int64_t now, int64_t cost) noexcept nogil
cdef int64_t lb_bucket_acquire_many(int64_t* state, int64_t n_buckets, int64_t n,
                                    const int32_t* buckets, const int64_t* times,
                                    const int64_t* costs, int64_t* journal,
                                    uint8_t* out, int* reason) noexcept nogil

# ------------------------------------------------------------------ quota counters
# Quota table: C-contiguous int64 (nq, LB_QUOTA_STRIDE); row q is one counter that resets
# at UTC calendar boundaries (used by lbcore.apigateway usage-plan quotas).
cdef enum:
    LB_Q_PERIOD = 0    # period id of the current count (-1: never used)
    LB_Q_USED = 1      # requests counted in that period
    LB_Q_LIMIT = 2     # limit per period
    LB_Q_OFFSET = 3    # subtracted from the limit in the initial period
    LB_Q_INITIAL = 4   # period id of the initial period (-1: the first period used)
    LB_Q_KIND = 5      # LB_PERIOD_DAY / WEEK / MONTH
    LB_QUOTA_STRIDE = 8

cdef enum:
    LB_PERIOD_DAY = 0     # UTC days since 1970-01-01
    LB_PERIOD_WEEK = 1    # UTC weeks starting Monday 00:00 (1970-01-05 is week 1)
    LB_PERIOD_MONTH = 2   # UTC calendar months: year * 12 + (month - 1)

# Outcome codes of a chained check (lb_bucket_check_chain / _chains).
cdef enum:
    LB_CHECK_ALLOWED = 0
    LB_CHECK_QUOTA = 1          # the quota counter refused
    LB_CHECK_LEVEL0 = 2         # chain level k refused -> LB_CHECK_LEVEL0 + k
    LB_CHECK_ERR_TIME = -1
    LB_CHECK_ERR_INDEX = -2

cdef int64_t lb_bucket_period_id(int64_t now_ns, int kind) noexcept nogil
cdef int lb_bucket_check_chain(int64_t* state, int64_t n_buckets, int64_t* quotas,
                               int64_t n_quotas, const int32_t* chain, int64_t width,
                               int32_t quota, int64_t now, int64_t cost) noexcept nogil
cdef int64_t lb_bucket_check_chains(int64_t* state, int64_t n_buckets, int64_t* quotas,
                                    int64_t n_quotas, int64_t n, const int32_t* chains,
                                    int64_t width, const int32_t* quota,
                                    const int64_t* times, const int64_t* costs,
                                    int64_t* journal, int8_t* out, int* reason) noexcept nogil
