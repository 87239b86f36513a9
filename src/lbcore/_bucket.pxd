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
from libc.stdint cimport int32_t, int64_t, uint8_t

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
