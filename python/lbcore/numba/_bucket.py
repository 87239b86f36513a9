"""numba bindings of the token-bucket kernel family (lbcore._bucket).

Pass ``buckets.ctypes.state.ctypes`` of a ``lbcore.TokenBuckets`` (int64, shape
(n, 8)) as ``state``; times are integer nanoseconds (``lbcore.seconds_to_ns``).
``bucket_try_acquire`` returns 1 admit, 0 refuse, -1 time went back, -2 bucket out of
range, -3 negative cost. A resize swaps the state array: fetch it again afterwards.
"""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, i32p, i64p, u8p

__all__ = ["bucket_try_acquire", "bucket_acquire_many", "bucket_acquire_many_ns",
           "bucket_period_id", "bucket_check_chain", "bucket_check_chains",
           "BUCKET_PERIOD_DAY", "BUCKET_PERIOD_WEEK", "BUCKET_PERIOD_MONTH"]

BUCKET_PERIOD_DAY, BUCKET_PERIOD_WEEK, BUCKET_PERIOD_MONTH = 0, 1, 2

bucket_try_acquire = bind("_bucket", "lb_bucket_try_acquire", _t.intc(
    i64p, _t.int64, _t.int32, _t.int64, _t.int64))
bucket_acquire_many = bind("_bucket", "lb_bucket_acquire_many", _t.int64(
    i64p, _t.int64, _t.int64, i32p, i64p, i64p, i64p, u8p, _t.CPointer(_t.intc)))
# UTC period index of integer ns; kind: BUCKET_PERIOD_DAY / _WEEK (Monday) / _MONTH
bucket_period_id = bind("_bucket", "lb_bucket_period_id", _t.int64(_t.int64, _t.intc))
# (state, n_buckets, quotas, n_quotas, chain, width, quota, now_ns, cost) -> outcome code
# (0 allowed, 1 quota, 2 + k level k, -1 time back, -2 bad index); see lbcore._bucket
bucket_check_chain = bind("_bucket", "lb_bucket_check_chain", _t.intc(
    i64p, _t.int64, i64p, _t.int64, i32p, _t.int64, _t.int32, _t.int64, _t.int64))
bucket_check_chains = bind("_bucket", "lb_bucket_check_chains", _t.int64(
    i64p, _t.int64, i64p, _t.int64, _t.int64, i32p, _t.int64, i32p, i64p, i64p, i64p,
    _t.CPointer(_t.int8), _t.CPointer(_t.intc)))


@_numba.njit(cache=True)
def bucket_acquire_many_ns(state, buckets, times_ns, costs):
    """Sequential decisions over int32 ``buckets``, int64 ``times_ns`` and int64 ``costs``
    (C-contiguous). Returns (uint8 decisions, index of the first bad request or -1,
    reason); on a bad request every bucket is rolled back."""
    n = buckets.shape[0]
    out = _np.zeros(n, dtype=_np.uint8)
    journal = _np.empty(2 * n + 1, dtype=_np.int64)
    reason = _np.zeros(1, dtype=_np.intc)
    bad = bucket_acquire_many(state.ctypes, state.shape[0], n, buckets.ctypes,
                              times_ns.ctypes, costs.ctypes, journal.ctypes, out.ctypes,
                              reason.ctypes)
    return out, bad, reason[0]
