"""Throttling benchmarks: per-call admission decisions from Python and batch decisions
over many keys. The side-by-side timings with token-bucket, limits and pyrate-limiter
live in lbcore.bench (benchmarks/bench_peers.py runs them).

    python -m pytest benchmarks/bench_throttling.py --benchmark-enable -q

Every per-call case makes the same decision: one token from one key's bucket of rate
1e9/s and burst 1e9 (so the bucket never empties and every call does the full path).
Peers read their own clocks; lbcore takes ``now`` explicitly (a float passed in).
"""
import numpy as np
import pytest

from lbcore import TokenBuckets
from lbcore.apigateway import ApiGateway, ThrottleSettings

RATE, BURST = 10**9, 10**9
CALLS = 1000


def _loop(fn):
    def run():
        for _ in range(CALLS):
            fn()
    return run


@pytest.mark.benchmark(group="try_acquire per call (x1000)")
def test_lbcore_try_acquire(benchmark):
    tb = TokenBuckets(1024, rate=RATE, burst=BURST)
    f = tb.check
    now = [1.0]

    def run():
        t = now[0]
        for _ in range(CALLS):
            f(7, t)
        now[0] = t + 1e-3
    benchmark(run)
    assert tb.tokens(7, now[0]) > 0


@pytest.mark.benchmark(group="try_acquire per call (x1000)")
def test_token_bucket_consume(benchmark):
    import token_bucket
    lim = token_bucket.Limiter(RATE, BURST, token_bucket.MemoryStorage())
    benchmark(_loop(lambda: lim.consume("k7")))


@pytest.mark.benchmark(group="apigateway check per call (x1000)")
def test_apigateway_check(benchmark):
    g = ApiGateway(ThrottleSettings(1e9, 10**9))
    g.add_stage("api", "prod", throttle=ThrottleSettings(1e9, 10**9))
    g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=ThrottleSettings(1e9, 10**9),
                     quota={"limit": 2**40, "period": "DAY"})
    g.add_api_key("k", "p")
    chk = g.check
    benchmark(_loop(lambda: chk("k", "/pets", "GET", 5.0)))


def _batch(n, keys, seed=1):
    rng = np.random.default_rng(seed)
    b = rng.integers(0, keys, n).astype(np.int32)
    t = np.sort(rng.integers(0, 60 * 10**9, n)).astype(np.int64)   # one minute
    return b, t


@pytest.mark.parametrize("n", [10**6, 10**7])
@pytest.mark.benchmark(group="acquire_many over 10^6 keys")
def test_acquire_many(benchmark, n):
    b, t = _batch(n, 10**6)
    state = {}

    def setup():
        state["tb"] = TokenBuckets(10**6, rate=0.01, burst=1)
        return (), {}

    def run():
        return state["tb"].check_many(b, t, unit="ns")
    out = benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info["decisions_per_s"] = n / benchmark.stats.stats.median
    assert 0 < out.sum() < n


@pytest.mark.benchmark(group="acquire_many over 10^6 keys")
def test_acquire_many_seconds_input(benchmark):
    n = 10**6
    b, t = _batch(n, 10**6)
    ts = t / 1e9
    state = {}

    def setup():
        state["tb"] = TokenBuckets(10**6, rate=0.01, burst=1)
        return (), {}
    benchmark.pedantic(lambda: state["tb"].check_many(b, ts), setup=setup, rounds=3,
                       iterations=1)


@pytest.mark.benchmark(group="apigateway check_many")
def test_apigateway_check_many(benchmark):
    n = 10**6
    rng = np.random.default_rng(3)
    keys = np.array([f"key{i}" for i in range(1000)], dtype=object)[rng.integers(0, 1000, n)]
    res = np.array(["/pets", "/cats", "/dogs"], dtype=object)[rng.integers(0, 3, n)]
    meth = np.array(["GET", "POST"], dtype=object)[rng.integers(0, 2, n)]
    times = np.sort(rng.uniform(0, 600, n))
    state = {}

    def setup():
        g = ApiGateway()
        g.add_stage("api", "prod", throttle=ThrottleSettings(2000, 1000))
        g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=ThrottleSettings(2, 5),
                         quota={"limit": 500, "period": "DAY"})
        for i in range(1000):
            g.add_api_key(f"key{i}", "p")
        state["g"] = g
        return (), {}
    out = benchmark.pedantic(lambda: state["g"].check_many(keys, res, meth, times),
                             setup=setup, rounds=3, iterations=1)
    assert 0 < out.allowed.sum() < n


@pytest.mark.benchmark(group="numba acquire_many over 10^6 keys")
def test_numba_acquire_many(benchmark):
    from lbcore import numba as lbn
    n = 10**6
    b, t = _batch(n, 10**6)
    c = np.ones(n, np.int64)
    lbn.bucket_acquire_many_ns(TokenBuckets(8, rate=1, burst=1).ctypes.state,
                               b[:1] * 0, t[:1], c[:1])                 # compile
    state = {}

    def setup():
        state["tb"] = TokenBuckets(10**6, rate=0.01, burst=1)
        return (), {}
    benchmark.pedantic(
        lambda: lbn.bucket_acquire_many_ns(state["tb"].ctypes.state, b, t, c),
        setup=setup, rounds=3, iterations=1)


@pytest.mark.benchmark(group="apigateway check_many")
def test_check_chains_kernel_only(benchmark):
    """The kernel part of check_many: 10^6 prepared 3-level chains + quota rows."""
    from lbcore._bucket import Quotas, check_chains
    n = 10**6
    rng = np.random.default_rng(3)
    key = rng.integers(0, 1000, n)
    chains = np.stack([1 + key, 1001 + rng.integers(0, 6, n), np.zeros(n, np.int64)],
                      axis=1).astype(np.int32)
    quota = key.astype(np.int32)
    times = np.sort(rng.uniform(0, 600, n))
    state = {}

    def setup():
        tb = TokenBuckets(1007, rate=[10000] + [2] * 1000 + [2000] * 6,
                          burst=[5000] + [5] * 1000 + [1000] * 6)
        qs = Quotas()
        for _ in range(1000):
            qs.add(500, "DAY")
        state["a"] = (tb, qs)
        return (), {}
    benchmark.pedantic(lambda: check_chains(*state["a"], chains, quota, times), setup=setup,
                       rounds=3, iterations=1)
