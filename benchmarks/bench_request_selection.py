"""Request-level selection: per-call latency and pick throughput, peers side by side.

Run: python -m pytest benchmarks/bench_request_selection.py --benchmark-enable -q

Per-call benchmarks time a loop of LOOP calls (set-up outside the timed
region), so divide the median by LOOP for ns/call; the no-op extension call
and a bare Python loop are measured in the same run as the floor.
pick_many benchmarks time one call producing PICKS picks. Distribution quality
is attached as ``extra_info`` (see docs/performance.md).
"""
import sys

import numpy as np
import pytest

import lbcore
from lbcore._lor import _noop

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0] + "/tests")
from reference.lor_ref import HeapqLeastOutstanding  # noqa: E402

LOOP = 1000
PICKS = 1_000_000
SIZES = [10, 100, 10_000]


def _floor_loop():
    for _ in range(LOOP):
        pass


def _noop_loop():
    f = _noop
    for _ in range(LOOP):
        f()


def test_python_loop_floor(benchmark):
    benchmark.group = "per-call floor"
    benchmark(_floor_loop)


def test_noop_extension_call(benchmark):
    benchmark.group = "per-call floor"
    benchmark(_noop_loop)


def _warm(obj, n):
    # put some load on: n//2 requests in flight, so the heap is not all ties
    if isinstance(obj, lbcore.RequestSelector):
        for _ in range(n // 2):
            obj.pick(0.0)
    else:
        for _ in range(n // 2):
            obj.acquire()


@pytest.mark.parametrize("n", SIZES)
def test_lor_acquire_release(benchmark, n):
    benchmark.group = f"acquire+release N={n}"
    lo = lbcore.LeastOutstanding([f"10.0.{i >> 8}.{i & 255}:80" for i in range(n)], seed=1)
    _warm(lo, n)
    acq, rel = lo.pick, lo.release

    def run():
        for _ in range(LOOP):
            rel(acq(5.0))
    benchmark(run)
    lo._check()


@pytest.mark.parametrize("n", SIZES)
def test_lor_acquire_release_index(benchmark, n):
    benchmark.group = f"acquire+release N={n}"
    lo = lbcore.LeastOutstanding(list(range(n)), seed=1)
    _warm(lo, n)
    acq, rel = lo.pick_index, lo.release_index

    def run():
        for _ in range(LOOP):
            rel(acq(5.0))
    benchmark(run)


@pytest.mark.parametrize("n", SIZES)
def test_p2c_acquire_release(benchmark, n):
    benchmark.group = f"acquire+release N={n}"
    p = lbcore.PowerOfTwoChoices([f"10.0.{i >> 8}.{i & 255}:80" for i in range(n)], seed=1)
    _warm(p, n)
    acq, rel = p.pick, p.release

    def run():
        for _ in range(LOOP):
            rel(acq(5.0))
    benchmark(run)


@pytest.mark.parametrize("n", SIZES)
def test_heapq_acquire_release(benchmark, n):
    benchmark.group = f"acquire+release N={n}"
    h = HeapqLeastOutstanding([f"10.0.{i >> 8}.{i & 255}:80" for i in range(n)])
    _warm(h, n)
    acq, rel = h.acquire, h.release

    def run():
        for _ in range(LOOP):
            rel(acq())
    benchmark(run)


# ---------------------------------------------------------------- pick_many throughput

def _quality(picks, p):
    """chi-square / degrees of freedom of the pick counts against probabilities
    ``p`` (about 1 for an exact sampler, growing with n for a biased one) and
    the largest |z| of any single target's frequency."""
    n = len(picks)
    counts = np.bincount(picks, minlength=len(p))
    m = p > 0
    chi2 = float(np.sum((counts[m] - n * p[m]) ** 2 / (n * p[m])))
    z = np.abs(counts[m] / n - p[m]) / np.sqrt(p[m] * (1 - p[m]) / n)
    return {"chi2_per_df": chi2 / max(1, int(m.sum()) - 1), "max_abs_z": float(z.max()),
            "zero_weight_picks": int(counts[~m].sum())}


def _wr_quality(picks, w):
    return _quality(picks, w / w.sum())


@pytest.mark.parametrize("n", SIZES)
def test_weighted_random_pick_many(benchmark, n):
    benchmark.group = f"weighted pick_many N={n}"
    w = np.random.default_rng(0).integers(1, 256, n).astype(float)
    wr = lbcore.WeightedRandom(list(range(n)), w, seed=3)
    out = benchmark(wr.pick_many, PICKS)
    benchmark.extra_info.update(_wr_quality(out, w))


@pytest.mark.parametrize("n", SIZES)
def test_weighted_random_pick_many_slow_start(benchmark, n):
    benchmark.group = f"weighted pick_many N={n}"
    w = np.random.default_rng(0).integers(1, 256, n).astype(float)
    wr = lbcore.WeightedRandom(list(range(n)), w, seed=3, slow_start_seconds=300)
    for k in range(max(1, n // 10)):               # 10% of targets ramping, at 50%
        wr.add(("new", k), float(w[k]), now=0.0)
    out = benchmark(wr.pick_many, PICKS, 150.0)
    benchmark.extra_info.update(_quality(out, wr.probabilities(now=150.0)))


@pytest.mark.parametrize("n", SIZES)
def test_numpy_choice_peer(benchmark, n):
    benchmark.group = f"weighted pick_many N={n}"
    w = np.random.default_rng(0).integers(1, 256, n).astype(float)
    g = np.random.default_rng(3)
    p = w / w.sum()
    out = benchmark(g.choice, n, PICKS, True, p)
    benchmark.extra_info.update(_wr_quality(out, w))


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_round_robin_pick_many(benchmark, n):
    benchmark.group = f"round robin pick_many N={n}"
    w = np.random.default_rng(0).integers(1, 10, n).astype(float)
    rr = lbcore.RoundRobin(list(range(n)), weights=w)
    k = PICKS // 10 if n >= 1000 else PICKS
    out = benchmark(rr.pick_many, k)
    # smoothness: worst |picks_i(prefix) - prefix * w_i / W| over all prefixes
    # (smooth WRR keeps it below 1 per target ... within the period bound)
    sample = out[:20_000]
    counts = np.zeros(n)
    worst = 0.0
    share = w / w.sum()
    for j, i in enumerate(sample, 1):
        counts[i] += 1
        if j % 97 == 0 or j == len(sample):
            worst = max(worst, float(np.max(np.abs(counts - j * share))))
    benchmark.extra_info["max_prefix_dev"] = worst
    benchmark.extra_info["picks_per_call"] = k


# ---------------------------------------------------------------- one pick, the protocol

def _ramping(cls, slow_start, n=10):
    """n targets; with slow start one more target joins at 0 and ramps (at now=5 it is
    at 5/30 of its weight), so every pick takes the slow start branch of the kernel."""
    ts = list(range(n))
    if cls is lbcore.WeightedRandom:
        sel = cls(ts, [1.0] * n, seed=1, slow_start_seconds=slow_start)
    else:
        sel = cls(ts, slow_start_seconds=slow_start)
    if slow_start:
        sel.add(n, now=0.0)
    return sel


@pytest.mark.parametrize("slow_start", [0, 30], ids=["plain", "slow_start"])
@pytest.mark.parametrize("cls", [lbcore.RoundRobin, lbcore.WeightedRandom],
                         ids=["round_robin", "weighted_random"])
def test_pick_index_now(benchmark, cls, slow_start):
    """pick_index(now) from Python, N=10: the per-request call a proxy makes (the
    median / LOOP is ns per pick). Slow start must cost at most 1.5x plain."""
    benchmark.group = f"{cls.__name__} pick_index(now) N=10"
    sel = _ramping(cls, slow_start)
    pick = sel.pick_index

    def run():
        for _ in range(LOOP):
            pick(5.0)
    benchmark(run)


@pytest.mark.parametrize("n", [10, 1000])
def test_lor_pick_release_protocol(benchmark, n):
    """LeastOutstanding pick_index(now) + release_index(i): the protocol pair (before
    the RequestSelector base this benchmark timed acquire_index() + release_index(i))."""
    benchmark.group = f"acquire+release N={n}"
    lo = lbcore.LeastOutstanding(list(range(n)), seed=1)
    pick, rel = lo.pick_index, lo.release_index
    _warm(lo, n)

    def run():
        for _ in range(LOOP):
            rel(pick(5.0))
    benchmark(run)
