"""WeightedRandom / alias method + slow start (lbcore._alias) vs tests/reference/alias_ref.py."""
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
import lbcore.numba as lbn
from reference.alias_ref import (WeightedRandomRef, alias_build, implied_probabilities)

weights_st = st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3), st.integers(0, 255)),
                      min_size=1, max_size=40).filter(lambda w: sum(w) > 0)


@given(weights_st)
@settings(max_examples=150, deadline=None)
def test_alias_table_is_exact(weights):
    prob, alias = lbcore.alias_table(weights)
    w = np.asarray(weights, dtype=float)
    # the table's implied probabilities equal w / sum(w) (to rounding)
    assert np.allclose(implied_probabilities(prob, alias), w / w.sum(), rtol=0, atol=1e-12)
    assert np.all(prob[w == 0] == 0)                    # zero weight never kept ...
    assert not np.any(np.isin(np.flatnonzero(w == 0), alias[prob < 1]))  # ... nor aliased to
    rp, ra = alias_build([float(x) for x in weights])   # same table as the model
    assert prob.tolist() == rp and alias.tolist() == ra


def test_frequencies_match_weights():
    # 200k picks; every frequency within 4.5 binomial standard deviations of w/sum(w)
    w = np.array([1, 2, 3, 4, 0, 10, 0.5])
    wr = lbcore.WeightedRandom(list("abcdefg"), w, seed=12)
    n = 200_000
    freq = np.bincount(wr.pick_many(n), minlength=len(w)) / n
    p = w / w.sum()
    assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n)), freq
    assert freq[4] == 0


def test_pick_many_equals_picks_and_seeded():
    a = lbcore.WeightedRandom(list(range(9)), np.arange(1, 10), seed=77)
    b = lbcore.WeightedRandom(list(range(9)), np.arange(1, 10), seed=77)
    c = lbcore.WeightedRandom(list(range(9)), np.arange(1, 10), seed=78)
    x = a.pick_many(1000)
    assert x.tolist() == [b.pick() for _ in range(1000)]
    assert x.tolist() != c.pick_many(1000).tolist()


ops = st.lists(st.one_of(
    st.tuples(st.just("pick"), st.integers(1, 6)),
    st.tuples(st.just("avail"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("add"), st.floats(0, 9)),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(st.just("tick"), st.floats(0, 100)),
), max_size=30)


@given(st.lists(st.floats(0.1, 9), min_size=1, max_size=6), st.sampled_from([0, 30, 300]),
       st.integers(0, 2**64 - 1), ops)
@settings(max_examples=80, deadline=None)
def test_matches_reference(weights, slow_start, seed, ops):
    names = [f"t{i}" for i in range(len(weights))]
    wr = lbcore.WeightedRandom(names, weights, seed=seed, slow_start_seconds=slow_start)
    ref = WeightedRandomRef(names, weights, seed=seed, slow_start=slow_start)
    now, nxt, live = 0.0, len(names), list(names)
    for op in ops:
        if op[0] == "pick":
            exp = [ref.pick_index(now) for _ in range(op[1])]
            got = (wr.pick_many(op[1], now=now).tolist() if op[1] % 2 else
                   [wr.pick_index(now=now) for _ in range(op[1])])
            assert got == exp
        elif op[0] == "avail" and live:
            t = live[op[1] % len(live)]
            wr.set_available(t, op[2], now=now)
            ref.set_available(t, op[2], now)
        elif op[0] == "add":
            t = f"t{nxt}"
            nxt += 1
            wr.add(t, op[1], now=now)
            ref.add(t, op[1], now)
            live.append(t)
        elif op[0] == "remove" and live:
            t = live.pop(op[1] % len(live))
            wr.remove(t)
            ref.remove(t)
        elif op[0] == "tick":
            now += op[1]


def test_slow_start_rejection_is_exact():
    # b joins at t=0 with weight 3 and a 300 s ramp. At t=75 its effective weight
    # is 0.75 against a's 1 (p_b = 0.75/1.75); 200k picks, 4.5 sd tolerance.
    wr = lbcore.WeightedRandom(["a"], [1.0], seed=3, slow_start_seconds=300)
    wr.add("b", 3.0, now=0.0)
    p = wr.probabilities(now=75.0)
    assert np.allclose(p, [1 / 1.75, 0.75 / 1.75])
    n = 200_000
    f = np.mean(wr.pick_many(n, now=75.0) == 1)
    assert abs(f - p[1]) <= 4.5 * math.sqrt(p[1] * (1 - p[1]) / n)
    assert np.all(wr.pick_many(1000, now=0.0) == 0)           # ramp 0: no picks
    assert np.allclose(wr.probabilities(now=400.0), [0.25, 0.75])


def test_slow_start_fallback_is_exact():
    # Almost all mass sits in ramping targets at ramp 0.001: most alias draws are
    # rejected and the exact O(n) fallback decides. Distribution must still be
    # w * ramp / sum: a (not ramping, w=1e-3) vs 5 ramping targets of w=1 each at
    # ramp 1e-3 -> each of the six has probability 1/6.
    wr = lbcore.WeightedRandom(["a"], [1e-3], seed=8, slow_start_seconds=900)
    for k in range(5):
        wr.add(k, 1.0, now=0.0)
    p = wr.probabilities(now=0.9)
    assert np.allclose(p, 1 / 6)
    n = 60_000
    freq = np.bincount(wr.pick_many(n, now=0.9), minlength=6) / n
    assert np.all(np.abs(freq - 1 / 6) <= 4.5 * math.sqrt((1 / 6) * (5 / 6) / n)), freq


def test_slow_start_health_rules():
    wr = lbcore.WeightedRandom(["a", "b"], [1, 1], seed=1, slow_start_seconds=30)
    assert np.allclose(wr.probabilities(now=0.0), [0.5, 0.5])   # initial targets: no slow start
    wr.add("c", 2, now=100.0)
    assert np.allclose(wr.probabilities(now=115.0), [1 / 3, 1 / 3, 1 / 3])
    wr.set_available("c", False, now=120.0)                    # leaves slow start
    assert np.allclose(wr.probabilities(now=120.0), [0.5, 0.5, 0])
    wr.set_available("c", True, now=200.0)                     # re-enters
    assert np.allclose(wr.probabilities(now=200.0), [0.5, 0.5, 0])
    assert np.allclose(wr.probabilities(now=230.0), [0.25, 0.25, 0.5])


def test_unavailable_and_empty():
    wr = lbcore.WeightedRandom(["a", "b"], [1, 1], seed=1)
    wr.set_available("a", False, now=0.0)
    assert set(wr.pick_many(100).tolist()) == {1}
    wr.set_available("b", False, now=0.0)
    with pytest.raises(LookupError):
        wr.pick()
    assert wr.pick_many(2).tolist() == [-1, -1]
    wr.set_available("a", True, now=0.0)
    assert wr.pick() == "a"


@pytest.mark.parametrize("weights", [[1, -1], [1, float("nan")], [0, 0], [1, float("inf")], [1],
                                     []])
def test_bad_weights(weights):
    with pytest.raises(ValueError, match="weights"):
        lbcore.WeightedRandom(["a", "b"], weights)


def test_bad_input():
    with pytest.raises(ValueError, match="targets"):
        lbcore.WeightedRandom([], [])
    with pytest.raises(ValueError, match="targets"):
        lbcore.WeightedRandom(["a", "a"], [1, 1])
    with pytest.raises(TypeError, match="weights"):
        lbcore.WeightedRandom(["a"], ["x"])
    with pytest.raises(ValueError, match="slow_start"):
        lbcore.WeightedRandom(["a"], [1], slow_start_seconds=1000)
    with pytest.raises(ValueError, match="weights"):
        lbcore.alias_table([0, 0])
    wr = lbcore.WeightedRandom(["a"], [1])
    with pytest.raises(ValueError, match="unknown target"):
        wr.remove("zz")
    with pytest.raises(ValueError, match="index"):
        wr.target_at(3)


# ------------------------------------------------------------ numba

@numba.njit(cache=True)
def _numba_table_and_samples(w, rng, n):
    prob = np.empty(w.shape[0], dtype=np.float64)
    alias = np.empty(w.shape[0], dtype=np.int32)
    ok = lbn.alias_build(w.shape[0], w.ctypes, prob.ctypes, alias.ctypes)
    out = np.empty(n, dtype=np.int32)
    for k in range(n):
        out[k] = lbn.alias_sample(w.shape[0], prob.ctypes, alias.ctypes, rng.ctypes)
    return ok, prob, alias, out


@numba.njit(cache=True)
def _numba_picks(state, n, now):
    out = np.empty(2 * n, dtype=np.int32)
    for k in range(n):
        out[k] = lbn.alias_pick(state.ctypes, now)
    lbn.alias_pick_many(state.ctypes, n, now, out[n:].ctypes)
    return out


def test_numba_index_level_matches_python():
    w = np.array([3.0, 0.0, 1.0, 2.5, 7.0])
    rng = np.array(lbcore.Random(42).state, dtype=np.uint64)
    ok, prob, alias, out = _numba_table_and_samples(w, rng, 2000)
    assert ok == 0
    p, a = lbcore.alias_table(w)
    assert prob.tolist() == p.tolist() and alias.tolist() == a.tolist()
    # the same stream, drawn in Python from the same seed
    r = lbcore.Random(42)
    exp = []
    for _ in range(2000):
        j = r.bounded(5)
        exp.append(j if r.uniform() < p[j] else int(a[j]))
    assert out.tolist() == exp
    # and the object with the same seed gives the same picks
    wr = lbcore.WeightedRandom(list(range(5)), w, seed=42)
    assert wr.pick_many(2000).tolist() == exp


def test_numba_object_level_matches_python():
    def make():
        wr = lbcore.WeightedRandom(list("abc"), [1, 2, 3], seed=5, slow_start_seconds=60)
        wr.add("d", 4, now=0.0)
        return wr
    a, b = make(), make()
    got = _numba_picks(a._state(), 1000, 15.0)
    exp = [b.pick_index(now=15.0) for _ in range(1000)] + b.pick_many(1000, now=15.0).tolist()
    assert got.tolist() == exp


def test_pick_many_survives_concurrent_rebuilds():
    # pick_many releases the GIL; add() meanwhile swaps in new arrays. The batch
    # runs on a snapshot, so every pick is a valid index of the snapshot.
    import threading
    wr = lbcore.WeightedRandom(list(range(4)), [1, 2, 3, 4], seed=2)
    rr = lbcore.RoundRobin(list(range(4)), weights=[1, 2, 3, 4])
    results, stop = [], threading.Event()

    def picker():
        while not stop.is_set():
            results.append(wr.pick_many(20_000))
            results.append(rr.pick_many(20_000))

    th = threading.Thread(target=picker)
    th.start()
    try:
        for k in range(200):
            wr.add(100 + k, 1.0, now=0.0)
            rr.add(100 + k, 1.0, now=0.0)
    finally:
        stop.set()
        th.join()
    assert results
    for r in results:
        assert r.min() >= 0 and r.max() < 204


def test_extreme_weights():
    # tiny (subnormal) and huge weights: the table stays exact, sums stay finite
    w = np.array([5e-324, 0.0, 1e-320])           # 1e-320 is ~2024 times 5e-324
    prob, alias = lbcore.alias_table(w)
    assert np.all(np.isfinite(prob)) and prob[1] == 0
    assert np.allclose(implied_probabilities(prob, alias), w / w.sum(), atol=1e-6)
    with pytest.raises(ValueError, match="weights"):
        lbcore.WeightedRandom(["a", "b"], [1e308, 1e308])
    wr = lbcore.WeightedRandom(["a"], [1e308])
    with pytest.raises(ValueError, match="weight"):
        wr.add("b", 1e308, now=0.0)
    assert wr.targets == ["a"]
    rr = lbcore.RoundRobin(["a"], weights=[1e308])
    with pytest.raises(ValueError, match="weight"):
        rr.add("b", 1e308, now=0.0)
