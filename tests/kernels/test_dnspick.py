"""lbcore._dnspick: the seeded weighted pick and partial shuffle, against a pure-Python
model of lbcore's generator; frequencies; batch == scalar; numba == Cython."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import RecordPicker
from reference import dnspick_ref


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**64 - 1), st.lists(st.integers(0, 255), min_size=1, max_size=80))
def test_weighted_matches_reference(seed, weights):
    p, r = RecordPicker(seed), dnspick_ref.Rng(seed)
    assert p.state == tuple(r.s)
    for _ in range(5):
        assert p.weighted(weights) == dnspick_ref.weighted(r, weights)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 90), st.integers(0, 100))
def test_sample_matches_reference(seed, n, k):
    p, r = RecordPicker(seed), dnspick_ref.Rng(seed)
    got = p.sample(n, k)
    assert got == dnspick_ref.sample(r, n, k)
    assert len(got) == min(n, k) and len(set(got)) == len(got)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**64 - 1), st.lists(st.integers(0, 255), min_size=1, max_size=20),
       st.integers(0, 50))
def test_weighted_many_is_the_scalar_stream(seed, weights, m):
    a, b = RecordPicker(seed), RecordPicker(seed)
    assert a.weighted_many(weights, m).tolist() == [b.weighted(weights) for _ in range(m)]
    assert a.state == b.state


def test_frequencies_within_tolerance():
    # 200k draws; each frequency within 5 standard deviations of w / sum(w)
    w = [1, 2, 3, 0, 10, 255]
    n = 200_000
    counts = np.bincount(RecordPicker(11).weighted_many(w, n), minlength=len(w))
    p = np.array(w) / sum(w)
    sd = np.sqrt(n * p * (1 - p))
    assert counts[3] == 0
    assert np.all(np.abs(counts - n * p) <= 5 * sd + 1)


def test_zero_total_and_validation():
    assert RecordPicker(1).weighted([0, 0]) == -1
    with pytest.raises(ValueError, match="weights"):
        RecordPicker(1).weighted([])
    with pytest.raises(ValueError, match="weights"):
        RecordPicker(1).weighted([1, -1])
    with pytest.raises(ValueError, match="weights"):
        RecordPicker(1).weighted([1.5])
    with pytest.raises(ValueError, match="weights"):
        RecordPicker(1).weighted_many([], 3)
    with pytest.raises(ValueError, match="m must"):
        RecordPicker(1).weighted_many([1], -1)
    with pytest.raises(ValueError, match="n and k"):
        RecordPicker(1).sample(-1, 2)
    with pytest.raises(TypeError, match="seed"):
        RecordPicker("x")


def test_numba_matches_cython():
    numba = pytest.importorskip("numba")
    import lbcore.numba as lbn

    @numba.njit(cache=True)
    def run(seed, cum, m, n, k):
        state = np.empty(4, dtype=np.uint64)
        lbn.dnspick_seed(state.ctypes, seed)
        one = np.empty(m, dtype=np.int32)
        for i in range(m):
            one[i] = lbn.dnspick_weighted(state.ctypes, cum.shape[0], cum.ctypes)
        many = np.empty(m, dtype=np.int32)
        lbn.dnspick_weighted_many(state.ctypes, m, cum.shape[0], cum.ctypes, many.ctypes)
        items = np.arange(n).astype(np.int32)
        lbn.dnspick_shuffle(state.ctypes, n, k, items.ctypes)
        return one, many, items[:k], state

    w = [3, 0, 5, 1]
    cum = np.cumsum(np.array(w, dtype=np.uint64))
    one, many, sample, state = run(np.uint64(42), cum, 100, 20, 8)
    p = RecordPicker(42)
    assert one.tolist() == [p.weighted(w) for _ in range(100)]
    assert many.tolist() == p.weighted_many(w, 100).tolist()
    assert sample.tolist() == p.sample(20, 8)
    assert tuple(int(x) for x in state) == p.state


def _reference_sample(seed, n, k):
    """Partial Fisher-Yates over list(range(n)) with the same generator."""
    rng = lbcore.Random(seed)
    items = list(range(n))
    for i in range(min(k, n - 1) if k >= n else k):
        j = i + rng.bounded(n - i)
        items[i], items[j] = items[j], items[i]
    return items[:min(k, n)]


@pytest.mark.parametrize("n,k", [(10, 3), (64, 64), (100, 99), (1000, 10), (1000, 124),
                                 (1000, 126), (5000, 1)])
def test_sample_dense_and_sparse_paths_draw_alike(n, k):
    # k < n/8 (n > 64) keeps only the moved positions; the draws are the dense ones
    assert RecordPicker(7).sample(n, k) == _reference_sample(7, n, k)


def test_sample_of_a_huge_range_is_small_and_bounded():
    got = RecordPicker(3).sample(2**31 - 1, 4)      # no 8 GiB buffer
    assert len(set(got)) == 4 and all(0 <= x < 2**31 - 1 for x in got)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        RecordPicker(3).sample(2**31, 1)             # was OverflowError
    with pytest.raises(TypeError, match="n must be an int"):
        RecordPicker(3).sample(True, 1)
    with pytest.raises(TypeError, match="k must be an int"):
        RecordPicker(3).sample(4, 1.0)
