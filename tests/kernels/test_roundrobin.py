"""Smooth weighted round robin + slow start (lbcore._roundrobin) vs tests/reference."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
import lbcore.numba as lbn
from reference.roundrobin_ref import RoundRobinRef


def test_nginx_golden_sequence():
    # nginx commit "Upstream: smooth weighted round-robin balancing": weights
    # {5, 1, 1} give a a b a c a a, with current weights returning to 0 0 0.
    rr = lbcore.RoundRobin(["a", "b", "c"], weights=[5, 1, 1])
    assert "".join(rr.pick() for _ in range(14)) == "aabacaa" * 2
    assert rr._state_arrays()["current"].tolist() == [0, 0, 0]
    # the documented intermediate current_weight rows (after each selection)
    rr = lbcore.RoundRobin(["a", "b", "c"], weights=[5, 1, 1])
    rows = []
    for _ in range(7):
        rr.pick()
        rows.append(rr._state_arrays()["current"].tolist())
    assert rows == [[-2, 1, 1], [-4, 2, 2], [1, -4, 3], [-1, -3, 4], [4, -2, -2],
                    [2, -1, -1], [0, 0, 0]]


def test_unweighted_is_plain_rotation_and_tie_rule():
    rr = lbcore.RoundRobin(["x", "y", "z"])
    assert [rr.pick() for _ in range(7)] == list("xyzxyzx")
    # ties go to the lowest index (nginx's first-greater scan)
    rr = lbcore.RoundRobin(["p", "q"], weights=[2, 2])
    assert [rr.pick() for _ in range(4)] == list("pqpq")


@given(st.lists(st.integers(0, 9), min_size=1, max_size=8).filter(any))
@settings(max_examples=60, deadline=None)
def test_every_period_has_exact_counts(weights):
    # With integer weights each window of sum(w) consecutive picks contains
    # every target exactly w times (the smooth WRR period).
    rr = lbcore.RoundRobin(list(range(len(weights))), weights=weights)
    total = sum(weights)
    picks = rr.pick_many(3 * total)
    for k in range(3):
        counts = np.bincount(picks[k * total:(k + 1) * total], minlength=len(weights))
        assert counts.tolist() == weights


ops = st.lists(st.one_of(
    st.tuples(st.just("pick"), st.integers(1, 5)),
    st.tuples(st.just("avail"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("add"), st.integers(0, 6)),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(st.just("tick"), st.floats(0, 200)),
), max_size=40)


def _run_ops(rr, ref, names, ops):
    """Apply ``ops`` to a RoundRobin and its reference side by side, checking every
    pick (odd counts through pick_many, even ones through pick_index); returns the
    (possibly unpickled) RoundRobin and the final ``now``."""
    import pickle
    now, nxt = 0.0, len(names)
    live = list(names)
    for op in ops:
        if op[0] == "pick":
            exp = [ref.pick(now) for _ in range(op[1])]
            if op[1] % 2:
                got = [rr.target_at(i) if i >= 0 else None
                       for i in rr.pick_many(op[1], now=now)]
            else:
                got = []
                for _ in range(op[1]):
                    i = rr.pick_index(now=now)
                    got.append(rr.target_at(i) if i >= 0 else None)
            assert got == exp
        elif op[0] == "avail" and live:
            t = live[op[1] % len(live)]
            rr.set_available(t, op[2], now=now)
            ref.set_available(t, op[2], now)
        elif op[0] == "add":
            if op[1] == 0 and sum(rr.weight(x) for x in live) == 0:
                continue                    # all-zero weights are refused
            t = f"t{nxt}"
            nxt += 1
            rr.add(t, op[1], now=now)
            ref.add(t, op[1], now)
            live.append(t)
        elif op[0] == "remove" and live:
            t = live.pop(op[1] % len(live))
            rr.remove(t)
            ref.remove(t)
        elif op[0] == "weight" and live:
            t = live[op[1] % len(live)]
            if op[2] == 0 and sum(rr.weight(x) for x in live if x != t) == 0:
                continue                    # all-zero weights are refused
            rr.set_weight(t, op[2], now=now)
            ref.set_weight(t, op[2])
        elif op[0] == "tick":
            now += op[1]
        elif op[0] == "pickle":
            rr = pickle.loads(pickle.dumps(rr))
        elif op[0] == "state":
            assert rr._state_arrays()["current"].tolist() == [r[2] for r in ref.rows]
    return rr, now


@given(st.lists(st.integers(0, 6), min_size=1, max_size=6).filter(any),
       st.sampled_from([0, 30, 120]), ops)
@settings(max_examples=80, deadline=None)
def test_matches_reference(weights, slow_start, ops):
    names = [f"t{i}" for i in range(len(weights))]
    rr = lbcore.RoundRobin(names, weights=weights, slow_start_seconds=slow_start)
    ref = RoundRobinRef(names, weights=weights, slow_start=slow_start)
    rr, _ = _run_ops(rr, ref, names, ops)
    st_ = rr._state_arrays()
    assert st_["current"].tolist() == [r[2] for r in ref.rows]


# ------------------------------------------------------------ slow start (AWS facts)

def test_slow_start_linear_ramp_of_a_new_target():
    # ALB: a target added to a group with healthy targets ramps linearly from 0
    # to its full share over slow_start.duration_seconds.
    rr = lbcore.RoundRobin(["a", "b"], slow_start_seconds=100)
    assert not rr.in_slow_start("a", 0.0)          # registered into an empty group
    rr.add("c", now=1000.0)
    assert rr.in_slow_start("c", 1000.0)
    assert rr.effective_weight("c", 1000.0) == 0.0
    assert rr.effective_weight("c", 1025.0) == 0.25
    assert rr.effective_weight("c", 1100.0) == 1.0
    assert not rr.in_slow_start("c", 1100.0)
    # at t = 1050 c has weight 0.5 of 2.5: share 1/5 of picks over a long run
    picks = rr.pick_many(10_000, now=1050.0)
    share = np.mean(picks == rr.index("c"))
    assert abs(share - 0.2) < 1e-3
    assert np.all(rr.pick_many(10, now=1000.0) != rr.index("c"))   # nothing at ramp 0
    picks = rr.pick_many(9_000, now=2000.0)
    assert abs(np.mean(picks == rr.index("c")) - 1 / 3) < 1e-3


def test_slow_start_unhealthy_leaves_and_reenters():
    rr = lbcore.RoundRobin(["a", "b"], slow_start_seconds=60)
    rr.add("c", now=0.0)
    assert rr.effective_weight("c", 30.0) == 0.5
    rr.set_available("c", False, now=30.0)        # leaves slow start
    assert not rr.in_slow_start("c", 30.0)
    rr.set_available("c", True, now=500.0)        # healthy again: re-enters it
    assert rr.in_slow_start("c", 500.0)
    assert rr.effective_weight("c", 515.0) == 0.25
    # with no other available target, a target turning healthy does not enter it
    solo = lbcore.RoundRobin(["a"], slow_start_seconds=60)
    solo.set_available("a", False, now=0.0)
    solo.set_available("a", True, now=10.0)
    assert not solo.in_slow_start("a", 10.0)
    assert solo.pick(now=10.0) == "a"


def test_slow_start_all_ramping_still_serves():
    rr = lbcore.RoundRobin(["a", "b"], slow_start_seconds=30)
    rr.add("c", now=0.0)
    rr.set_available("a", False, now=0.0)
    rr.set_available("b", False, now=0.0)
    assert rr.pick(now=0.0) == "c"                # ramp 0 everywhere: ignore slow start


def test_slow_start_needs_now():
    rr = lbcore.RoundRobin(["a"], slow_start_seconds=30)
    with pytest.raises(ValueError, match="now"):
        rr.pick()
    with pytest.raises(ValueError, match="now"):
        rr.add("b")
    with pytest.raises(TypeError, match="now"):
        rr.pick(now="soon")


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("weights", [[1, -1], [1, float("nan")], [0, 0], [1, float("inf")], [1]])
def test_bad_weights(weights):
    with pytest.raises(ValueError, match="weights"):
        lbcore.RoundRobin(["a", "b"], weights=weights)


def test_bad_input():
    with pytest.raises(ValueError, match="targets"):
        lbcore.RoundRobin([])
    with pytest.raises(ValueError, match="targets"):
        lbcore.RoundRobin(["a", "a"])
    for bad in (10, 901, -1):
        with pytest.raises(ValueError, match="slow_start"):
            lbcore.RoundRobin(["a"], slow_start_seconds=bad)
    with pytest.raises(TypeError, match="slow_start"):
        lbcore.RoundRobin(["a"], slow_start_seconds=30.5)
    rr = lbcore.RoundRobin(["a"])
    with pytest.raises(ValueError, match="unknown target"):
        rr.set_available("b", False, now=0.0)
    with pytest.raises(ValueError, match="unknown target"):
        rr.remove("b")
    with pytest.raises(ValueError, match="n"):
        rr.pick_many(-1)
    with pytest.raises(TypeError, match="n"):
        rr.pick_many(1.5)
    with pytest.raises(ValueError, match="weight"):
        rr.add("b", -2, now=0.0)
    with pytest.raises(ValueError, match="already registered"):
        rr.add("a", now=0.0)
    rr.set_available("a", False, now=0.0)
    with pytest.raises(LookupError):
        rr.pick()
    assert rr.pick_many(3).tolist() == [-1, -1, -1]


# ------------------------------------------------------------ numba

@numba.njit(cache=True)
def _numba_rr(state, n, now):
    out = np.empty(2 * n, dtype=np.int32)
    for k in range(n):
        out[k] = lbn.roundrobin_pick(state.ctypes, now)
    lbn.roundrobin_pick_many(state.ctypes, n, now, out[n:].ctypes)
    return out


def test_numba_matches_python():
    def make():
        rr = lbcore.RoundRobin(list("abcd"), weights=[3, 1, 2, 5], slow_start_seconds=60)
        rr.add("e", 4, now=0.0)
        return rr
    a, b = make(), make()
    got = _numba_rr(a.ctypes.state, 500, 20.0)
    exp = [b.pick_index(now=20.0) for _ in range(500)] + b.pick_many(500, now=20.0).tolist()
    assert got.tolist() == exp


# ------------------------------------------------------------ the O(1) cycle form
# Equal integral weights keep smooth round robin in a cycle (lb_roundrobin_try_cycle):
# picks are O(1) and ``current`` is written back only when read or changed. Every
# step below must still agree exactly with the O(N) reference, in picks and values.

cycle_ops = st.lists(st.one_of(
    st.tuples(st.just("pick"), st.integers(1, 9)),
    st.tuples(st.just("avail"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("add"), st.sampled_from([0, 1, 2, 3])),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(st.just("weight"), st.integers(0, 30), st.sampled_from([0, 1, 2, 3, 0.5])),
    st.tuples(st.just("tick"), st.floats(0, 200)),
    st.tuples(st.just("pickle"),),
    st.tuples(st.just("state"),),
), max_size=50)


@given(st.integers(1, 7), st.sampled_from([1, 2, 3]), st.sampled_from([0, 30]), cycle_ops)
@settings(max_examples=150, deadline=None)
def test_cycle_form_matches_reference(n, w, slow_start, ops):
    names = [f"t{i}" for i in range(n)]
    rr = lbcore.RoundRobin(names, weights=[w] * n, slow_start_seconds=slow_start)
    ref = RoundRobinRef(names, weights=[w] * n, slow_start=slow_start)
    assert rr._state_arrays()["cycle"]
    rr, now = _run_ops(rr, ref, names, ops)
    assert rr._state_arrays()["current"].tolist() == [r[2] for r in ref.rows]
    got = [rr.target_at(i) if i >= 0 else None for i in rr.pick_many(20, now=now)]
    assert got == [ref.pick(now) for _ in range(20)]


def test_cycle_form_when_it_applies():
    rr = lbcore.RoundRobin(list("abcd"))
    assert rr._state_arrays()["cycle"]
    assert [rr.pick(0.0) for _ in range(6)] == list("abcdab")
    assert rr._state_arrays()["current"].tolist() == [-2.0, -2.0, 2.0, 2.0]
    rr.set_weight("c", 2, now=0.0)              # unequal weights: the O(N) loop
    assert not rr._state_arrays()["cycle"]
    rr.set_weight("c", 1, now=0.0)              # equal again and still cycle-shaped
    assert rr._state_arrays()["cycle"]
    assert not lbcore.RoundRobin(list("ab"), weights=[0.5, 0.5])._state_arrays()["cycle"]
    assert not lbcore.RoundRobin(list("ab"), weights=[1, 2])._state_arrays()["cycle"]
    # a zero-weight or unavailable target is outside the cycle
    rr = lbcore.RoundRobin(list("abc"), weights=[1, 0, 1])
    assert rr._state_arrays()["cycle"]
    assert [rr.pick(0.0) for _ in range(4)] == list("acac")
    # a target ramping in slow start leaves it (its effective weight is below w)
    rr = lbcore.RoundRobin(list("ab"), slow_start_seconds=30)
    assert rr._state_arrays()["cycle"]
    rr.add("c", now=5.0)
    assert not rr._state_arrays()["cycle"]


def test_cycle_form_through_numba():
    a, b = lbcore.RoundRobin(list("abcde")), lbcore.RoundRobin(list("abcde"))
    a.pick(0.0)
    b.pick(0.0)
    got = _numba_rr(a.ctypes.state, 50, 0.0)
    exp = [b.pick_index(now=0.0) for _ in range(50)] + b.pick_many(50, now=0.0).tolist()
    assert got.tolist() == exp
    assert a._state_arrays()["current"].tolist() == b._state_arrays()["current"].tolist()
