"""TokenBuckets kernel == exact reference; invariant; batch == sequential; numba == Cython;
validation."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import TokenBuckets, seconds_to_ns
from reference.bucket_ref import BucketRef, GcraRef, NS

RATES = [0, 1, 2, 7, 1000, Fraction(1, 3), Fraction(5, 2), 0.1, 0.25, 12.5, 10000]
BURSTS = [0, 1, 2, 3, 5, 20, 5000, Fraction(3, 2)]

limits = st.tuples(st.sampled_from(RATES), st.sampled_from(BURSTS))
# (bucket, time step in ns, cost): steps mostly small so buckets are exercised near empty
steps = st.lists(st.tuples(st.integers(0, 3),
                           st.one_of(st.integers(0, 2 * NS), st.integers(0, 10**6),
                                     st.just(0), st.integers(0, 86400 * NS)),
                           st.integers(0, 4)), max_size=80)


def _as_exact(x):
    return Fraction(x).limit_denominator(1000) if isinstance(x, float) else Fraction(x)


def _timeline(seq):
    """Per-bucket non-decreasing ns times from (bucket, step, cost) triples."""
    now = [0, 0, 0, 0]
    out = []
    for b, dt, c in seq:
        now[b] += dt
        out.append((b, now[b], c))
    return out


@settings(max_examples=150, deadline=None)
@given(limits, steps)
def test_kernel_equals_reference(lim, seq):
    rate, burst = lim
    tb = TokenBuckets(4, rate=rate, burst=burst)
    refs = [BucketRef(_as_exact(rate), burst) for _ in range(4)]
    for b, t, c in _timeline(seq):
        assert tb.check_ns(b, t, c) == refs[b].try_acquire(t, c)
        row = tb.state[b]
        assert Fraction(int(row[0]), int(row[3])) == refs[b].tok and row[1] == refs[b].last


@settings(max_examples=100, deadline=None)
@given(limits, st.lists(st.tuples(st.floats(0, 5, allow_nan=False), st.integers(0, 3)),
                        max_size=60))
def test_seconds_path_equals_reference(lim, seq):
    rate, burst = lim
    tb = TokenBuckets(1, rate=rate, burst=burst)
    ref = BucketRef(_as_exact(rate), burst)
    now = 0.0
    for dt, c in seq:
        now += dt
        ns = round(now * 1e9)          # Python round: ties to even, as llrint / numpy.rint
        assert int(seconds_to_ns([now])[0]) == ns
        assert tb.check(0, now, c) == ref.try_acquire(ns, c)
        assert tb.tokens(0, now, exact=True) == ref.tokens(ns)


@settings(max_examples=100, deadline=None)
@given(limits, steps)
def test_invariant_and_no_lost_tokens(lim, seq):
    rate, burst = lim
    rate_x, burst_x = _as_exact(rate), Fraction(burst)
    tb = TokenBuckets(1, rate=rate, burst=burst)
    events = []
    t = 0
    for _, dt, c in seq:
        t += dt
        before = _tokens_ns(tb, t)
        ok = tb.check_ns(0, t, c)
        # a request that fits is never refused; a refused one did not fit
        assert ok == (before >= c)
        events.append((t, c if ok else 0))
    for i in range(len(events)):
        admitted = 0
        for j in range(i, len(events)):
            admitted += events[j][1]
            assert admitted <= burst_x + rate_x * Fraction(events[j][0] - events[i][0], NS)


def _tokens_ns(tb, t):
    """Exact tokens at integer ns t without touching state (copy of the row)."""
    row = tb.ctypes.state[0].copy()
    rate, scale, cap, tok, last = int(row[2]), int(row[3]), int(row[4]), int(row[0]), int(row[1])
    return Fraction(min(cap, tok + rate * (t - last)), scale)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([r for r in RATES if r != 0]), st.sampled_from(BURSTS), steps)
def test_gcra_agrees_with_token_bucket_in_exact_arithmetic(rate, burst, seq):
    tb, g = BucketRef(_as_exact(rate), burst), GcraRef(_as_exact(rate), burst)
    t = 0
    for _, dt, c in seq:
        t += dt
        assert tb.try_acquire(t, c) == g.try_acquire(t, c)


@settings(max_examples=60, deadline=None)
@given(limits, steps, st.booleans())
def test_batch_equals_sequential(lim, seq, with_costs):
    rate, burst = lim
    tl = _timeline(seq)
    b = np.array([x[0] for x in tl], dtype=np.int64)
    t = np.array([x[1] for x in tl], dtype=np.int64)
    c = np.array([x[2] for x in tl], dtype=np.int64)
    one, many = (TokenBuckets(4, rate=rate, burst=burst) for _ in range(2))
    seq_out = [one.check_ns(int(bi), int(ti), int(ci) if with_costs else 1)
               for bi, ti, ci in zip(b, t, c)]
    got = many.check_many(b, t, c if with_costs else None, unit="ns")
    assert got.dtype == np.bool_ and got.tolist() == seq_out
    assert np.array_equal(one.state, many.state)
    # seconds path: the same conversion as the scalar path
    ts = t / 1e9
    a, s = (TokenBuckets(4, rate=rate, burst=burst) for _ in range(2))
    assert a.check_many(b, ts).tolist() == [s.check(int(bi), float(ti))
                                               for bi, ti in zip(b, ts)]


def test_batch_time_back_rolls_back_everything():
    tb = TokenBuckets(3, rate=1, burst=2)
    tb.check_many([0, 1], [1.0, 1.0])
    before = tb.state.copy()
    with pytest.raises(ValueError, match=r"times\[3\].*bucket 2"):
        tb.check_many([0, 0, 2, 2, 1], [2.0, 2.0, 5.0, 4.0, 9.0])
    assert np.array_equal(tb.state, before)
    with pytest.raises(ValueError, match=r"times\[0\].*bucket 0"):
        tb.check_many([0], [0.5])
    assert np.array_equal(tb.state, before)


def test_no_drift_over_days_golden():
    # rate 1/3 token/s, burst 1, one request per second for 30 days: exactly every third
    # second is admitted (t = 0, 3, 6, ...); float refill would drift off the multiples.
    n = 30 * 86400
    tb = TokenBuckets(1, rate=Fraction(1, 3), burst=1)
    got = tb.check_many(np.zeros(n, np.int32), np.arange(n, dtype=np.int64) * NS,
                          unit="ns")
    assert got.sum() == (n + 2) // 3
    assert np.array_equal(np.flatnonzero(got), np.arange(0, n, 3))
    # 0.1 r/s read as exactly 1/10: admitted every 10 s over days, epoch-sized clock
    tb = TokenBuckets(1, rate=0.1, burst=1)
    t0 = 1_700_000_000 * NS
    got = tb.check_many(np.zeros(n, np.int32), t0 + np.arange(n, dtype=np.int64) * NS,
                          unit="ns")
    assert np.array_equal(np.flatnonzero(got), np.arange(0, n, 10))


def test_numba_equals_cython():
    from lbcore import numba as lbn
    import numba

    @numba.njit
    def seq(state, b, t, c):
        out = np.empty(b.shape[0], np.intc)
        for i in range(b.shape[0]):
            out[i] = lbn.bucket_try_acquire(state.ctypes, state.shape[0], b[i], t[i], c[i])
        return out

    rng = np.random.default_rng(5)
    n = 5000
    b = rng.integers(0, 50, n).astype(np.int32)
    t = np.cumsum(rng.integers(0, NS // 20, n)).astype(np.int64)
    c = rng.integers(0, 3, n).astype(np.int64)
    ref = TokenBuckets(50, rate=Fraction(7, 3), burst=4)
    want = ref.check_many(b, t, c, unit="ns")
    nb1 = TokenBuckets(50, rate=Fraction(7, 3), burst=4)
    assert np.array_equal(seq(nb1.ctypes.state, b, t, c), want.astype(np.intc))
    nb2 = TokenBuckets(50, rate=Fraction(7, 3), burst=4)
    out, bad, reason = lbn.bucket_acquire_many_ns(nb2.ctypes.state, b, t, c)
    assert bad == -1 and reason == 0 and np.array_equal(out.view(bool), want)
    assert np.array_equal(nb1.state, ref.state) and np.array_equal(nb2.state, ref.state)
    # error codes and rollback through numba
    st_ = nb2.ctypes.state
    before = st_.copy()
    out, bad, reason = lbn.bucket_acquire_many_ns(st_, np.array([0, 0], np.int32),
                                           np.array([t[-1] + NS, 0], np.int64),
                                           np.ones(2, np.int64))
    assert (bad, reason) == (1, 2) and np.array_equal(st_, before)
    assert seq(st_, np.array([99], np.int32), t[:1], c[:1])[0] == -2


def test_tokens_reset_resize_limits():
    tb = TokenBuckets(2, rate=2, burst=4)
    for _ in range(4):
        assert tb.check(0, 1.0)
    assert not tb.check(0, 1.0)
    assert tb.tokens(0, 1.25, exact=True) == Fraction(1, 2)
    assert tb.tokens(0, 1.25) == 0.5          # tokens() does not change state
    assert tb.tokens(0, 10.0) == 4.0
    tb.reset(0)
    assert tb.tokens(0, 0.0) == 4.0
    tb.resize(5, rate=[1, 2, 3], burst=1)
    assert len(tb) == 5 and tb.limits(4) == (3, 1) and tb.tokens(4, 0.0) == 1.0
    assert tb.limits(0) == (2, 4)
    tb.resize(6)                               # constructor scalars
    assert tb.limits(5) == (2, 4)
    per = TokenBuckets(3, rate=[1, 0.5, Fraction(1, 3)], burst=np.array([1, 2, 3]))
    assert [per.limits(i) for i in range(3)] == [(1, 1), (Fraction(1, 2), 2),
                                                 (Fraction(1, 3), 3)]
    with pytest.raises(ValueError, match="rate and burst"):
        per.resize(4)
    assert lbcore.TokenBuckets is TokenBuckets


def test_cost_above_burst_never_admitted_and_zero_cost_always():
    tb = TokenBuckets(1, rate=1000, burst=3)
    assert not tb.check(0, 100.0, 4)
    assert tb.check(0, 100.0, 3)
    assert tb.check(0, 100.0, 0)


@pytest.mark.parametrize("kw,exc,match", [
    (dict(rate=-1, burst=1), ValueError, "rate"),
    (dict(rate=1, burst=-1), ValueError, "burst"),
    (dict(rate=float("nan"), burst=1), ValueError, "rate"),
    (dict(rate=1, burst=float("inf")), ValueError, "burst"),
    (dict(rate="1", burst=1), TypeError, "rate"),
    (dict(rate=[1, 2], burst=1), ValueError, "rate"),
    (dict(rate=1, burst=10**12), ValueError, "burst"),
])
def test_bad_construction(kw, exc, match):
    with pytest.raises(exc, match=match):
        TokenBuckets(3, **kw)


def test_bad_calls():
    with pytest.raises(TypeError, match="n"):
        TokenBuckets(True, rate=1, burst=1)
    with pytest.raises(ValueError, match="n"):
        TokenBuckets(0, rate=1, burst=1)
    tb = TokenBuckets(2, rate=1, burst=1)
    for bad in (float("nan"), -1.0, float("inf"), 1e12):
        with pytest.raises(ValueError, match="now"):
            tb.check(0, bad)
    with pytest.raises(IndexError, match="bucket"):
        tb.check(2, 0.0)
    with pytest.raises(ValueError, match="cost"):
        tb.check(0, 0.0, -1)
    tb.check(1, 5.0)
    with pytest.raises(ValueError, match="bucket 1"):
        tb.check(1, 4.0)
    with pytest.raises(ValueError, match="bucket 1"):
        tb.tokens(1, 4.0)
    with pytest.raises(ValueError, match="times"):
        tb.check_many([0], [float("nan")])
    with pytest.raises(ValueError, match="times"):
        tb.check_many([0, 1], [1.0])
    with pytest.raises(IndexError, match="buckets"):
        tb.check_many([0, 2], [1.0, 1.0])
    with pytest.raises(TypeError, match="buckets"):
        tb.check_many([0.5], [1.0])
    with pytest.raises(ValueError, match="costs"):
        tb.check_many([0], [6.0], [-1])
    with pytest.raises(ValueError, match="unit"):
        tb.check_many([0], [6.0], unit="ms")
    with pytest.raises(ValueError, match="n must be >="):
        tb.resize(1)
    assert tb.check_many([], []).shape == (0,)


def test_incremental_resize_keeps_state_and_equals_fresh():
    grown = TokenBuckets(1, rate=3, burst=2)
    grown.check(0, 1.0)
    for n in range(2, 40):                 # crosses several buffer doublings
        grown.resize(n, rate=Fraction(n, 7), burst=n % 5)
        grown.check(n - 1, 1.0)
    fresh = TokenBuckets(39, rate=[3] + [Fraction(n, 7) for n in range(2, 40)],
                         burst=[2] + [n % 5 for n in range(2, 40)])
    fresh.check_many(np.arange(39), np.ones(39))
    assert grown.state.shape == (39, 8) and np.array_equal(grown.state, fresh.state)


def test_every_bucket_kernel_is_bound_for_numba():
    import lbcore._bucket
    from lbcore.numba import _bucket as nb_bucket
    symbols = {getattr(nb_bucket, k).symbol for k in nb_bucket.__all__
               if hasattr(getattr(nb_bucket, k), "symbol")}
    exported = set(lbcore._bucket.__pyx_capi__)
    assert exported == {"lb_bucket_try_acquire", "lb_bucket_acquire_many",
                        "lb_bucket_period_id", "lb_bucket_check_chain",
                        "lb_bucket_check_chains"}
    for name in exported:
        assert f"lbcore_bucket_{name}" in symbols, name


def test_huge_rate_limits_roundtrip():
    tb = TokenBuckets(1, rate=10**12, burst=10**6)
    assert tb.limits(0) == (10**12, 10**6)
    assert sum(tb.check(0, 0.0, 10**5) for _ in range(11)) == 10
    assert tb.check_ns(0, 100, 10**5)       # 100 ns * 1e12/s = 1e5 tokens


def test_old_acquire_names_warn_and_agree():
    """try_acquire / try_acquire_ns / acquire_many are the check names' old spellings
    (kept for one release): same decisions, with a DeprecationWarning naming the new one."""
    new, old = TokenBuckets(2, rate=1, burst=2), TokenBuckets(2, rate=1, burst=2)
    with pytest.warns(DeprecationWarning, match="check"):
        assert old.try_acquire(0, 1.0, 2) == new.check(0, 1.0, 2)
    with pytest.warns(DeprecationWarning, match="check_ns"):
        assert old.try_acquire_ns(0, 2 * 10**9) == new.check_ns(0, 2 * 10**9)
    with pytest.warns(DeprecationWarning, match="check_many"):
        got = old.acquire_many([0, 1, 1, 1], [3.0, 3.0, 3.0, 3.0])
    assert got.tolist() == new.check_many([0, 1, 1, 1], [3.0, 3.0, 3.0, 3.0]).tolist()
    assert np.array_equal(old.state, new.state)
