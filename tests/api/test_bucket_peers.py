"""Where a peer implements the same token-bucket semantics, its decisions equal lbcore's on
the same arrival timeline: token-bucket (float refill; exact here because times are
dyadic and the rate an integer) and pyrate-limiter's TokenBucket (GCRA in integer
microseconds; exact here because the emission interval is a whole number of us).
``limits`` implements fixed/moving/sliding windows, not a token bucket: no agreement
is claimed (see docs/throttling.md)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import TokenBuckets

arrivals = st.lists(st.tuples(st.integers(0, 600), st.integers(1, 3)), max_size=120)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1, 4, 10, 50]), st.sampled_from([1, 3, 8]), arrivals)
def test_token_bucket_package_agrees(rate, burst, seq):
    token_bucket = pytest.importorskip("token_bucket")
    import token_bucket.storage as tbs
    clock = [0.0]

    class FakeTime:
        @staticmethod
        def monotonic():
            return clock[0]

    real = tbs.time
    tbs.time = FakeTime
    try:
        lim = token_bucket.Limiter(rate, burst, token_bucket.MemoryStorage())
        ours = TokenBuckets(1, rate=rate, burst=burst)
        t = 0
        got, want = [], []
        for dt_1024, cost in seq:          # times in 1/1024 s: exact in binary floats
            t += dt_1024
            clock[0] = t / 1024
            want.append(lim.consume("k", cost))
            got.append(ours.check(0, t / 1024, cost))
        assert got == want
    finally:
        tbs.time = real


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([(1, 1000), (10, 1000), (5, 100), (100, 1000)]),
       st.sampled_from([1, 2, 5]), arrivals)
def test_pyrate_limiter_token_bucket_agrees(limit_interval, burst, seq):
    pl = pytest.importorskip("pyrate_limiter")
    limit, interval_ms = limit_interval
    bucket = pl.StateBucket([pl.Rate(limit, interval_ms, burst=burst)],
                            algorithm=pl.TokenBucket())
    ours = TokenBuckets(1, rate=limit * 1000 // interval_ms, burst=burst)
    t = 0
    got, want = [], []
    for dt_ms, cost in seq:
        t += dt_ms
        want.append(bool(bucket.put(pl.RateItem("k", t, cost))))
        got.append(ours.check_ns(0, t * 10**6, cost))
    assert got == want
    # and the batch path on the same timeline
    times = np.cumsum([d for d, _ in seq]).astype(np.int64) * 10**6 if seq else np.zeros(0)
    batch = TokenBuckets(1, rate=limit * 1000 // interval_ms, burst=burst).check_many(
        np.zeros(len(seq), np.int32), times, [c for _, c in seq] if seq else None, unit="ns")
    assert batch.tolist() == want
