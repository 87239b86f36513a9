"""Maglev: paper example, reference equality, balance, weights, order independence,
churn, select entry points, numba parity, validation."""
import random
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import Maglev, MaglevTableSizeWarning, maglev_populate
from reference import maglev_ref

SMALL_PRIMES = [7, 11, 13, 31, 101, 251, 509, 1009]


def test_paper_table_3_example():
    # Maglev paper (NSDI 2016) section 3.4, Tables 2-3: M = 7, offsets (3, 0, 3),
    # skips (4, 2, 1) give permutations B0: 3 0 4 1 5 2 6, B1: 0 2 4 6 1 3 5,
    # B2: 3 4 5 6 0 1 2 and the lookup table B1 B0 B1 B0 B2 B2 B0; with B1 removed
    # the remaining two backends fill B0 B0 B0 B0 B2 B2 B2: B1's slots 0 and 2 go to
    # B0, and slot 6 moves from B0 to B2 (the one "extra" disruption the paper notes).
    before = maglev_populate(np.array([3, 0, 3]), np.array([4, 2, 1]), 7)
    assert before.tolist() == [1, 0, 1, 0, 2, 2, 0]
    after = maglev_populate([3, 3], [4, 1], 7)
    assert after.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert maglev_ref.populate([3, 0, 3], [4, 2, 1], 7) == [1, 0, 1, 0, 2, 2, 0]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_populate_matches_reference(data):
    m = data.draw(st.sampled_from(SMALL_PRIMES))
    n = data.draw(st.integers(1, 12))
    offsets = data.draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))
    skips = data.draw(st.lists(st.integers(1, m - 1), min_size=n, max_size=n))
    weighted = data.draw(st.booleans())
    weights = None
    if weighted:
        weights = data.draw(st.lists(st.sampled_from([0, 0.5, 1, 2, 3, 7.5, 10]),
                                     min_size=n, max_size=n))
        if not any(weights):
            weights[0] = 1
    got = maglev_populate(offsets, skips, m, weights)
    assert got.dtype == np.int32
    assert got.tolist() == maglev_ref.populate(offsets, skips, m, weights)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2**64 - 1), st.text(max_size=6)), min_size=1,
                max_size=8, unique_by=lambda t: (type(t), t)),
       st.sampled_from([101, 251, 1009]), st.integers(0, 2**64 - 1))
def test_maglev_matches_reference(targets, m, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaglevTableSizeWarning)
        mg = Maglev(targets, table_size=m, seed=seed)
    assert mg.table.tolist() == maglev_ref.build(targets, m, seed=seed)


def test_weighted_matches_reference():
    targets = [f"t{i}" for i in range(6)]
    weights = [1, 2, 3, 0, 5, 0.5]
    mg = Maglev(targets, weights=weights, table_size=1009)
    assert mg.table.tolist() == maglev_ref.build(targets, 1009, weights=weights)
    assert 3 not in mg.table and 5 in mg.table


@pytest.mark.parametrize("n", [1, 2, 3, 10, 57, 100, 650])
def test_equal_weights_floor_ceil(n):
    m = 65537
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaglevTableSizeWarning)
        counts = np.bincount(Maglev(range(n), table_size=m).table, minlength=n)
    assert counts.sum() == m
    assert counts.min() >= m // n and counts.max() <= -(-m // n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_shares_within_bound(seed):
    # Bound (docs/consistent.md): |slots_i - M w_i / W| < max(2, 2 N w_i / W).
    rng = np.random.default_rng(seed)
    n, m = 40, 65537
    w = rng.uniform(0.1, 10, n)
    w[3] = 0.0
    counts = np.bincount(Maglev(range(n), weights=w, table_size=m).table, minlength=n)
    expect = m * w / w.sum()
    bound = np.maximum(2.0, 2 * n * w / w.sum())
    assert counts[3] == 0
    assert np.all(np.abs(counts - expect) < bound)


def test_shuffled_input_same_table():
    targets = [f"10.0.0.{i}:80" for i in range(50)] + list(range(1000, 1020))
    weights = list(range(1, 71))
    base = Maglev(targets, weights=weights, table_size=10007)
    ref_names = np.array([str(t) for t in base.targets], dtype=object)[base.table]
    rnd = random.Random(4)
    for _ in range(3):
        idx = list(range(len(targets)))
        rnd.shuffle(idx)
        other = Maglev([targets[i] for i in idx], weights=[weights[i] for i in idx],
                       table_size=10007)
        names = np.array([str(t) for t in other.targets], dtype=object)[other.table]
        assert (names == ref_names).all()
        assert len(base.diff(other)) == 0


def test_churn_small_multiple_of_optimum():
    n, m = 100, 65537
    mg = Maglev(range(n), table_size=m)
    for victim in (0, 37, 99):
        moved = len(mg.diff(mg.without(victim)))
        own = int(np.count_nonzero(mg.table == mg.index_of(victim)))
        assert moved >= own
        # the victim's slots must move; others' should mostly stay: within 3x of 1/N.
        assert moved <= 3 * m / n


def test_diff_and_with_targets():
    mg = Maglev(["a", "b", "c"], table_size=1009)
    grown = mg.with_targets(["a", "b", "c", "d"])
    d = mg.diff(grown)
    assert set(np.flatnonzero(grown.table == 3).tolist()) <= set(d.tolist())
    assert np.all(mg.table[np.setdiff1d(np.arange(1009), d)]
                  == grown.table[np.setdiff1d(np.arange(1009), d)])
    assert len(d) <= 3 * 1009 / 4
    with pytest.raises(ValueError, match="table_size"):
        mg.diff(Maglev(["a"], table_size=1013))
    with pytest.raises(ValueError, match="not in"):
        mg.without("zzz")
    with pytest.raises(ValueError, match="target"):
        Maglev(["a"], table_size=1009).without("a")


def test_select_entry_points_agree():
    mg = Maglev([f"t{i}" for i in range(30)], table_size=4099, fields="3-tuple", flow_seed=9)
    flows = lbcore.Flows.random(500, seed=1, ipv6_fraction=0.3)
    batch = mg.select_many(flows)
    hashes = lbcore.flow_hash(flows, fields="3-tuple", seed=9)
    assert batch.tolist() == mg.select_many(hashes).tolist()
    assert batch.tolist() == [mg.select_index(f) for f in flows]
    assert [mg.targets[i] for i in batch] == [mg.select(f) for f in flows]
    assert batch.tolist() == [mg.table[maglev_ref.slot(int(h), 4099)] for h in hashes]
    assert mg.select_index(int(hashes[0])) == batch[0]
    assert mg.select_index(np.uint64(hashes[0])) == batch[0]


def test_table_read_only():
    mg = Maglev(["a", "b"], table_size=1009)
    with pytest.raises(ValueError):
        mg.table[0] = 1


def test_numba_parity():
    from lbcore import numba as lbn
    mg = Maglev(range(20), table_size=2003)
    flows = lbcore.Flows.random(300, seed=5)
    h = lbcore.flow_hash(flows)
    assert lbn.maglev_lookup_array(mg.table, h).tolist() == mg.select_many(h).tolist()
    import numba

    @numba.njit
    def many(table, h):
        out = np.empty(h.shape[0], dtype=np.int32)
        lbn.maglev_lookup_many(table.ctypes, np.uint64(table.shape[0]), h.shape[0],
                               h.ctypes, out.ctypes)
        return out

    @numba.njit
    def fused(table, c0, c1, c2, c3, c4, c5, c6, c7, c8):
        out = np.empty(c0.shape[0], dtype=np.int32)
        lbn.maglev_select_flows(table.ctypes, np.uint64(table.shape[0]), c0.shape[0],
                                c0.ctypes, c1.ctypes, c2.ctypes, c3.ctypes, c4.ctypes,
                                c5.ctypes, c6.ctypes, c7.ctypes, c8.ctypes, 0, 0, 0,
                                out.ctypes)
        return out

    @numba.njit
    def populate(off, sk, w, m):
        n = off.shape[0]
        table = np.empty(m, dtype=np.int32)
        scratch = np.empty(2 * n, dtype=np.uint64)
        rc = lbn.maglev_populate(n, off.ctypes, sk.ctypes, w.ctypes.data, np.uint64(m),
                                 scratch[:n].ctypes, scratch[n:].ctypes, table.ctypes)
        return rc, table

    assert many(mg.table, h).tolist() == mg.select_many(h).tolist()
    assert fused(mg.table, *flows.columns()).tolist() == mg.select_many(flows).tolist()
    off = np.array([3, 0, 3], dtype=np.uint64)
    sk = np.array([4, 2, 1], dtype=np.uint64)
    w = np.array([1.0, 2.0, 1.0])
    rc, table = populate(off, sk, w, 7)
    assert rc == 0 and table.tolist() == maglev_populate(off, sk, 7, w).tolist()


def test_determinism_across_instances_and_seeds():
    a = Maglev(["x", "y", "z"], table_size=1009, seed=5)
    b = Maglev(["x", "y", "z"], table_size=1009, seed=5)
    c = Maglev(["x", "y", "z"], table_size=1009, seed=6)
    assert np.array_equal(a.table, b.table)
    assert not np.array_equal(a.table, c.table)


def test_other_objects_use_str_identity():
    class T:
        def __init__(self, name):
            self.name = name

        def __str__(self):
            return self.name

    objs = [T("a"), T("b")]
    mg = Maglev(objs, table_size=1009)
    assert np.array_equal(mg.table, Maglev(["a", "b"], table_size=1009).table)
    with pytest.raises(ValueError, match="unique"):
        Maglev([T("a"), "a"], table_size=1009)


def test_validation():
    with pytest.raises(ValueError, match="table_size"):
        Maglev(["a"], table_size=1000)
    with pytest.raises(ValueError, match="table_size"):
        Maglev(["a"], table_size=1)
    with pytest.raises(TypeError, match="table_size"):
        Maglev(["a"], table_size=7.0)
    with pytest.raises(ValueError, match="targets"):
        Maglev([], table_size=7)
    with pytest.raises(ValueError, match="weights"):
        Maglev(["a", "b"], weights=[0, 0], table_size=1009)
    with pytest.raises(ValueError, match="weights"):
        Maglev(["a", "b"], weights=[1, -1], table_size=1009)
    with pytest.raises(ValueError, match="weights"):
        Maglev(["a", "b"], weights=[1, float("nan")], table_size=1009)
    with pytest.raises(ValueError, match="weights"):
        Maglev(["a", "b"], weights=[1], table_size=1009)
    with pytest.raises(TypeError, match="weights"):
        Maglev(["a", "b"], weights=["x", "y"], table_size=1009)
    with pytest.raises(ValueError, match="unique"):
        Maglev(["a", "a"], table_size=1009)
    with pytest.raises(ValueError, match="fields"):
        Maglev(["a"], table_size=1009, fields="4-tuple")
    with pytest.raises(TypeError, match="seed"):
        Maglev(["a"], table_size=1009, seed="x")
    with pytest.warns(MaglevTableSizeWarning):
        Maglev(range(10), table_size=997)
    mg = Maglev(["a", "b"], table_size=1009)
    with pytest.raises(ValueError, match="flow_or_hash"):
        mg.select(-1)
    with pytest.raises(ValueError, match="flow_or_hash"):
        mg.select(2**64)
    with pytest.raises(TypeError, match="flow_or_hash"):
        mg.select("abc")
    with pytest.raises(TypeError, match="flows_or_hashes"):
        mg.select_many(np.array([1.5]))
    with pytest.raises(ValueError, match="flows_or_hashes"):
        mg.select_many(np.array([-1]))
    with pytest.raises(ValueError, match="offsets"):
        maglev_populate([7], [1], 7)
    with pytest.raises(ValueError, match="skips"):
        maglev_populate([0], [0], 7)
    with pytest.raises(ValueError, match="skips"):
        maglev_populate([0, 1], [1], 7)
    with pytest.raises(ValueError, match="table_size"):
        maglev_populate([0], [1], 8)
    with pytest.raises(ValueError, match="offsets"):
        maglev_populate([], [], 7)


def test_pinned_tables_stay_stable():
    # Regression pins (tables users may persist or compare across versions); each is
    # also re-derived by the pure-Python reference here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaglevTableSizeWarning)
        a = Maglev(["a", "b", "c"], table_size=13).table.tolist()
        b = Maglev([1, 2, 3, 4], weights=[1, 2, 3, 4], table_size=17, seed=9).table.tolist()
    assert a == [1, 2, 2, 1, 0, 2, 1, 1, 0, 0, 0, 1, 2] == maglev_ref.build(["a", "b", "c"], 13)
    assert b == [3, 3, 3, 1, 0, 2, 1, 3, 3, 1, 2, 2, 0, 3, 2, 2, 3] == \
        maglev_ref.build([1, 2, 3, 4], 17, weights=[1, 2, 3, 4], seed=9)


# ---------------------------------------------------------------- table sizing rule

def test_maglev_table_size_keeps_a_table_of_100_slots_per_target():
    # Maglev paper, section 3.4: M > 100 N keeps slot shares within about 1% of even
    from lbcore import maglev_table_size
    assert maglev_table_size(3) == 65537
    assert maglev_table_size(655) == 65537           # 65,500 <= 65,537
    assert maglev_table_size(656) == 65609           # first prime >= 65,600
    assert maglev_table_size(1000) == 100003         # first prime >= 100,000
    assert maglev_table_size(3, 307) == 307
    assert maglev_table_size(4, 307) == 401           # first prime >= 400
    assert maglev_table_size(0, 7) == 7


def test_maglev_table_size_result_builds_a_table_without_warning():
    import warnings
    from lbcore import Maglev, MaglevTableSizeWarning, is_prime, maglev_table_size
    for n in (1, 7, 40, 701):
        m = maglev_table_size(n, 307)
        assert is_prime(m) and m >= 100 * n
        with warnings.catch_warnings():
            warnings.simplefilter("error", MaglevTableSizeWarning)
            Maglev(range(n), table_size=m)


def test_maglev_table_size_bad_input_names_the_parameter():
    from lbcore import maglev_table_size
    with pytest.raises(TypeError, match="n_targets"):
        maglev_table_size(2.0)
    with pytest.raises(TypeError, match="n_targets"):
        maglev_table_size(True)
    with pytest.raises(ValueError, match="n_targets"):
        maglev_table_size(-1)
    with pytest.raises(ValueError, match="table_size"):
        maglev_table_size(3, 308)
    with pytest.raises(TypeError, match="table_size"):
        maglev_table_size(3, "65537")


class _Str(str):
    pass


class _Int(int):
    pass


_identities = st.one_of(
    st.integers(-5, 2**64 + 5), st.text(max_size=6), st.binary(max_size=9),
    st.floats(allow_nan=False, width=32), st.text(max_size=4).map(_Str),
    st.integers(0, 2**64 - 1).map(_Int), st.tuples(st.integers(0, 3)))


@settings(max_examples=60, deadline=None)
@given(st.lists(_identities, min_size=1, max_size=12,
                unique_by=lambda t: (maglev_ref.tag(maglev_ref.identity(t)),
                                     maglev_ref.identity(t))),
       st.integers(0, 2**64 - 1))
def test_parse_targets_matches_reference(targets, seed):
    # the one C pass over the targets gives hash_key's hashes and the reference order
    from lbcore._targetset import canonical_order, parse_targets
    ts, keys, h1, h2 = parse_targets(targets, seed)
    assert ts == tuple(targets)
    exp = [maglev_ref.identity(t) for t in targets]
    assert [(type(k), k) for k in keys] == [(type(k), k) for k in exp]
    assert h1.tolist() == [lbcore.hash_key(k, seed=seed) for k in exp]
    assert h2.tolist() == [lbcore.hash_key(k, seed=(seed + maglev_ref.GOLDEN) % 2**64)
                           for k in exp]
    order = canonical_order(keys, h1, h2)
    assert order.dtype == np.int64
    assert order.tolist() == sorted(range(len(targets)), key=lambda i: (
        h1[i], h2[i], maglev_ref.tag(exp[i]), exp[i]))


def test_parse_targets_errors():
    from lbcore._targetset import parse_targets
    with pytest.raises(ValueError, match="appears twice"):
        parse_targets(["a", b"a", "a"], 0)
    with pytest.raises(ValueError, match="appears twice"):
        parse_targets([1, True, "True"], 0)
    with pytest.raises(UnicodeEncodeError):
        parse_targets(["\ud800"], 0)
    assert parse_targets(["a", b"a", 97], 0)[1] == ["a", b"a", 97]
