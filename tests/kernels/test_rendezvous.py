"""Weighted rendezvous: reference equality, weighted shares, churn, top(k), order
independence, entry points, numba parity, validation."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import Rendezvous
from reference.rendezvous_ref import ranking

TARGETS = st.lists(st.one_of(st.integers(0, 2**64 - 1), st.text(max_size=5)), min_size=1,
                   max_size=9, unique_by=lambda t: (type(t), t))


@settings(max_examples=80, deadline=None)
@given(TARGETS, st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.data())
def test_matches_reference(targets, key, seed, data):
    weights = None
    if data.draw(st.booleans()):
        weights = data.draw(st.lists(st.sampled_from([0, 0.25, 1, 2, 5]),
                                     min_size=len(targets), max_size=len(targets)))
        if not any(weights):
            weights[-1] = 3
    r = Rendezvous(targets, weights=weights, seed=seed)
    rank = ranking(targets, key, weights, seed)
    assert r.select_index(key) == rank[0]
    k = data.draw(st.integers(1, len(targets) + 2))
    assert r.top_index(key, k) == rank[:k]
    assert r.top(key, k) == [targets[i] for i in rank[:k]]


@settings(max_examples=40, deadline=None)
@given(st.integers(17, 120), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
       st.booleans(), st.data())
def test_top_beyond_16_matches_reference(n, key, seed, weighted, data):
    # k > 16 takes the O(n + k log k) selection path (quickselect + heapsort); it
    # must give the reference ranking, ties included (equal weights compare u)
    targets = list(range(n))
    weights = None
    if weighted:
        weights = data.draw(st.lists(st.sampled_from([0, 1, 2, 5]), min_size=n, max_size=n))
        weights[0] = 1
    r = Rendezvous(targets, weights=weights, seed=seed)
    rank = ranking(targets, key, weights, seed)
    k = data.draw(st.integers(17, n + 3))
    assert r.top_index(key, k) == rank[:k]


def test_weighted_shares():
    # 200k keys; each share within 0.006 of w/sum(w) (binomial sd <= 0.0011).
    w = np.array([1, 2, 3, 4, 0, 10], dtype=float)
    r = Rendezvous(list("abcdef"), weights=w, seed=3)
    keys = np.random.default_rng(1).integers(0, 2**64, size=200_000, dtype=np.uint64)
    share = np.bincount(r.select_many(keys), minlength=6) / keys.size
    assert share[4] == 0
    assert np.all(np.abs(share - w / w.sum()) < 0.006)


def test_equal_weights_same_as_unweighted():
    keys = np.random.default_rng(2).integers(0, 2**64, size=5000, dtype=np.uint64)
    a = Rendezvous(range(10)).select_many(keys)
    b = Rendezvous(range(10), weights=[2.5] * 10).select_many(keys)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("weights", [None, [1, 2, 3, 4, 5, 6, 7, 8]])
def test_removal_moves_exactly_the_removed_targets_keys(weights):
    r = Rendezvous([f"t{i}" for i in range(8)], weights=weights)
    keys = np.random.default_rng(4).integers(0, 2**64, size=50_000, dtype=np.uint64)
    a = r.select_many(keys)
    smaller = r.without("t3")
    b = np.array([smaller.targets[i] for i in smaller.select_many(keys)])
    names = np.array(r.targets)[a]
    moved = names != b
    assert np.array_equal(moved, names == "t3")
    # and they go to their second choice
    second = [r.top(int(k), 2)[1] for k in keys[moved][:200]]
    assert second == b[moved][:200].tolist()


def test_order_independent():
    t = [f"10.0.{i}.1" for i in range(20)]
    w = list(range(1, 21))
    keys = np.random.default_rng(5).integers(0, 2**64, size=3000, dtype=np.uint64)
    a = Rendezvous(t, weights=w)
    b = Rendezvous(t[::-1], weights=w[::-1])
    assert [a.targets[i] for i in a.select_many(keys)] == \
        [b.targets[i] for i in b.select_many(keys)]


def test_entry_points_and_numba():
    from lbcore import numba as lbn
    import numba
    for weights in (None, np.arange(1, 16, dtype=float)):
        r = Rendezvous(range(15), weights=weights, fields="3-tuple", flow_seed=2)
        flows = lbcore.Flows.random(300, seed=6, ipv6_fraction=0.5)
        batch = r.select_many(flows)
        h = lbcore.flow_hash(flows, fields="3-tuple", seed=2)
        assert batch.tolist() == r.select_many(h).tolist()
        assert batch.tolist() == [r.select_index(f) for f in flows]
        assert [r.select(f) for f in flows[:20]] == [r.targets[i] for i in batch[:20]]
        ta, tb, w = lbn.rendezvous_arrays(r)
        assert lbn.rendezvous_select_array(h, ta, tb, w).tolist() == batch.tolist()

        @numba.njit
        def many_top(h, ta, tb, w, k):
            out = np.empty(h.shape[0], dtype=np.int32)
            waddr = w.ctypes.data if w.shape[0] else 0
            lbn.rendezvous_select_many(h.shape[0], h.ctypes, np.int32(ta.shape[0]),
                                       ta.ctypes, tb.ctypes, waddr, out.ctypes)
            top = np.empty(k, dtype=np.int32)
            scratch = np.empty(k)
            got = lbn.rendezvous_top(h[0], np.int32(ta.shape[0]), ta.ctypes, tb.ctypes,
                                     waddr, np.int32(k), top.ctypes, scratch.ctypes)
            first = lbn.rendezvous_select(h[0], np.int32(ta.shape[0]), ta.ctypes, tb.ctypes,
                                          waddr)
            return out, top[:got], first

        out, top, first = many_top(h, ta, tb, w, 4)
        assert first == batch[0]
        assert out.tolist() == batch.tolist()
        assert top.tolist() == r.top_index(int(h[0]), 4)


def test_top_limits():
    r = Rendezvous(["a", "b", "c"], weights=[1, 0, 1])
    assert len(r.top(7, 5)) == 2
    assert "b" not in r.top(7, 5)
    with pytest.raises(ValueError, match="k"):
        r.top(7, 0)
    with pytest.raises(TypeError, match="k"):
        r.top(7, 1.0)


def test_validation():
    with pytest.raises(ValueError, match="targets"):
        Rendezvous([])
    with pytest.raises(ValueError, match="weights"):
        Rendezvous(["a"], weights=[0])
    with pytest.raises(ValueError, match="weights"):
        Rendezvous(["a"], weights=[float("inf")])
    with pytest.raises(ValueError, match="unique"):
        Rendezvous([1, 1])
    with pytest.raises(TypeError, match="flow_or_hash"):
        Rendezvous(["a"]).select(None)
    with pytest.raises(ValueError, match="not in"):
        Rendezvous(["a"]).without("b")


def test_pinned_choices_stay_stable():
    # Regression pins, also re-derived by the pure-Python reference.
    r = Rendezvous(["a", "b", "c", "d"], weights=[1, 2, 3, 4])
    got = [r.select_index(k) for k in range(12)]
    assert got == [3, 2, 3, 0, 0, 2, 0, 3, 1, 1, 3, 3]
    assert got == [ranking(["a", "b", "c", "d"], k, [1, 2, 3, 4])[0] for k in range(12)]
    assert r.top_index(12345, 4) == [2, 3, 1, 0] == ranking(list("abcd"), 12345, [1, 2, 3, 4])
