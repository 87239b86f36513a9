"""check_kinds (chains read through a per-request kind) == check_chains with the rows
expanded == check_chain one by one, rollback of touched rows only; factorize_columns ==
a dict in first-seen order."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import Quotas, TokenBuckets, check_chain, check_chains, check_kinds, factorize_columns


def fresh():
    tb = TokenBuckets(5, rate=[1, 2, 3, 50, 0.5], burst=[2, 3, 1, 5, 4])
    qs = Quotas()
    qs.add(5, "DAY", 1)
    qs.add(3, "MONTH")
    return tb, qs


row = st.lists(st.integers(-1, 4), min_size=3, max_size=3).map(
    lambda r: [b if b < 0 or b not in r[:i] else -1 for i, b in enumerate(r)])
tables = st.lists(st.tuples(row, st.integers(-1, 1)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(tables, st.data())
def test_check_kinds_equals_expanded_and_scalar(table, data):
    m = len(table)
    n = data.draw(st.integers(0, 40))
    kinds = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n)),
                     dtype=np.int32)
    steps = data.draw(st.lists(st.one_of(st.floats(0, 3), st.just(0.0),
                                         st.floats(-2, 0), st.floats(0, 90000)),
                               min_size=n, max_size=n))
    times = 1e6 + np.cumsum(steps) if n else np.zeros(0)
    chains = np.array([r for r, _ in table], dtype=np.int32)
    quota = np.array([q for _, q in table], dtype=np.int32)
    tb1, qs1 = fresh()
    tb2, qs2 = fresh()
    tb3, qs3 = fresh()
    before = (tb1.state.copy(), qs1.state.copy())
    try:
        want = check_chains(tb1, qs1, chains[kinds].reshape(n, 3), quota[kinds], times)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc).split(":")[0].replace("[", r"\[")
                           .replace("]", r"\]")):
            check_kinds(tb2, qs2, chains, quota, kinds, times)
        # nothing changed in either path (only touched rows were journaled)
        for tb, qs in ((tb1, qs1), (tb2, qs2)):
            assert np.array_equal(tb.state, before[0]) and np.array_equal(qs.state, before[1])
        return
    got = check_kinds(tb2, qs2, chains, quota, kinds, times)
    one = [check_chain(tb3, qs3, *chains[k].tolist(), int(quota[k]), float(t))
           for k, t in zip(kinds.tolist(), times.tolist())]
    assert got.tolist() == want.tolist() == one
    assert np.array_equal(tb1.state, tb2.state) and np.array_equal(qs1.state, qs2.state)
    assert np.array_equal(tb2.state, tb3.state) and np.array_equal(qs2.state, qs3.state)


def test_check_kinds_validation_changes_nothing():
    tb, qs = fresh()
    before = tb.state.copy()
    ch = np.array([[0, 1, -1]], np.int32)
    with pytest.raises(IndexError, match=r"kinds\[2\]"):
        check_kinds(tb, qs, ch, [0], [0, 0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="request 0"):
        check_kinds(tb, qs, [[0, 9, -1]], [0], [0], [1.0])
    with pytest.raises(IndexError, match="request 0"):
        check_kinds(tb, qs, [[0, 0, -1]], [0], [0], [1.0])        # a bucket twice
    with pytest.raises(ValueError, match="finite"):
        check_kinds(tb, qs, ch, [0], [0, 0], [1.0, float("nan")])
    with pytest.raises(ValueError, match="beyond"):
        check_kinds(tb, qs, ch, [0], [0], [1e10])
    with pytest.raises(ValueError, match="shape"):
        check_kinds(tb, qs, ch, [0], [0, 0], [1.0])
    with pytest.raises(TypeError, match="kinds"):
        check_kinds(tb, qs, ch, [0], [0.5], [1.0])
    assert np.array_equal(tb.state, before)
    assert check_kinds(tb, qs, np.zeros((0, 3), np.int32), [], [], []).shape == (0,)


def test_check_chains_journal_is_not_per_request():
    """10^5 requests over 5 buckets: the batch allocates ~1 byte per request (the codes),
    not the 72-byte-per-request undo journal it used to."""
    tb, qs = fresh()
    n = 100_000
    rng = np.random.default_rng(1)
    chains = np.stack([rng.integers(0, 2, n), np.full(n, 2), np.full(n, -1)], 1).astype(np.int32)
    quota = np.full(n, -1, np.int32)
    times = np.sort(rng.uniform(0, 100, n))
    tracemalloc.start()
    check_chains(tb, qs, chains, quota, times)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * n + 65536


values = st.one_of(st.none(), st.sampled_from(["a", "b", "a\x00", "é", ""]), st.integers(0, 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, values, values), max_size=40), st.data())
def test_factorize_columns_is_a_first_seen_dict(rows, data):
    n = len(rows)
    cols = []
    for c in range(3):
        col = [r[c] for r in rows]
        shape = data.draw(st.sampled_from(["list", "tuple", "array", "scalar"]))
        if shape == "scalar":
            v = data.draw(st.sampled_from([None, "k"]))
            col = v
            rows = [r[:c] + (v,) + r[c + 1:] for r in rows]
        elif shape == "tuple":
            col = tuple(col)
        elif shape == "array":
            a = np.empty(n, dtype=object)
            a[:] = col
            col = a
        cols.append(col)
    kinds, table, vals = factorize_columns(cols, n, ("x", "y", "z"))
    seen, want = {}, []
    for r in rows:
        want.append(seen.setdefault(r, len(seen)))
    assert kinds.dtype == np.int32 and kinds.tolist() == want
    assert [tuple(vals[c][k] for c, k in enumerate(t)) for t in table.tolist()] == list(seen)
    for c in range(3):
        per = {}
        for r in rows:
            per.setdefault(r[c], len(per))
        assert vals[c] == (list(per) if n or not isinstance(cols[c], (str, type(None)))
                           else [cols[c]]) or (n == 0)


def test_factorize_columns_many_kinds_and_errors():
    n = 50_000
    a = [f"k{i % 7919}" for i in range(n)]            # distinct objects, equal values
    b = np.array([f"r{i % 13}" for i in range(n)], dtype=object)
    kinds, table, vals = factorize_columns((a, b, "GET"), n, ("a", "b", "c"))
    assert len(vals[0]) == 7919 and len(vals[1]) == 13 and vals[2] == ["GET"]
    assert table.shape == (7919 * 13, 3) or table.shape[0] == len(set(zip(a, b.tolist())))
    assert [vals[0][table[k, 0]] for k in kinds[:100].tolist()] == a[:100]
    with pytest.raises(ValueError, match="y must have length 3"):
        factorize_columns((["a"] * 3, ["b"] * 2), 3, ("x", "y"))
    with pytest.raises(TypeError, match="unhashable"):
        factorize_columns(([["a"]],), 1, ("x",))

    class Shrinks:
        def __init__(self, lst):
            self.lst = lst

        def __hash__(self):
            return 1

        def __eq__(self, other):
            self.lst.clear()
            return False
    lst = []
    lst.extend([Shrinks(lst), Shrinks(lst), "x"])
    with pytest.raises(ValueError, match="changed size"):
        factorize_columns((lst,), 3, ("x",))


def test_chain_functions_refuse_none_for_their_tables():
    # None for the bucket or quota table was read as an object (a segfault): TypeError
    import lbcore
    b, q = lbcore.TokenBuckets(2, rate=[1.0, 2.0], burst=[1.0, 1.0]), lbcore.Quotas()
    one = (np.array([[0, 1]]), np.array([-1]), np.array([0.5]))
    calls = [lambda: lbcore.check_chains(b, None, *one),
             lambda: lbcore.check_chains(None, q, *one),
             lambda: lbcore.check_chain(b, None, 0, -1, -1, -1, 0.5),
             lambda: lbcore.check_chain(None, q, 0, -1, -1, -1, 0.5),
             lambda: lbcore.check_kinds(b, None, np.array([[0]]), np.array([-1]),
                                        np.array([0]), np.array([0.5]))]
    for call in calls:
        with pytest.raises(TypeError, match="buckets|quotas"):
            call()
    assert lbcore.check_chains(b, q, *one).tolist() == [0]
