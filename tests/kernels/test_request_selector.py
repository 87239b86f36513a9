"""The one request-selector protocol (lbcore.RequestSelector): the four selectors
driven through the same method set, against the pure-Python models in
tests/reference/, and the rules every one of them follows (now, counting,
deprecated names)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from reference.alias_ref import WeightedRandomRef
from reference.lor_ref import LeastOutstandingRef, PowerOfTwoChoicesRef
from reference.roundrobin_ref import RoundRobinRef

KINDS = ["least_outstanding", "power_of_two", "round_robin", "weighted_random"]
CLASSES = [lbcore.LeastOutstanding, lbcore.PowerOfTwoChoices, lbcore.RoundRobin,
           lbcore.WeightedRandom]


def make(kind, targets, weights, seed, slow_start):
    """(selector, reference model) of one kind; the reference answers targets."""
    if kind == "least_outstanding":
        return (lbcore.LeastOutstanding(targets, weights=weights, seed=seed),
                LeastOutstandingRef(targets, weights, seed=seed))
    if kind == "power_of_two":
        return (lbcore.PowerOfTwoChoices(targets, seed=seed),
                PowerOfTwoChoicesRef(targets, seed=seed))
    if kind == "round_robin":
        return (lbcore.RoundRobin(targets, weights=weights, slow_start_seconds=slow_start),
                RoundRobinRef(targets, weights=weights, slow_start=slow_start))
    return (lbcore.WeightedRandom(targets, weights, seed=seed, slow_start_seconds=slow_start),
            WeightedRandomRef(targets, weights, seed=seed, slow_start=slow_start))


class Model:
    """One interface over the four reference models, with the outstanding counts
    the protocol keeps for every selector (the LOR models keep their own)."""

    def __init__(self, kind, ref):
        self.kind, self.ref, self.out = kind, ref, {}

    def pick(self, now):
        k, r = self.kind, self.ref
        if k in ("least_outstanding", "power_of_two"):
            t = r.acquire()
        elif k == "round_robin":
            t = r.pick(now)
        else:
            i = r.pick_index(now)
            t = None if i < 0 else r.t[i]
        if t is not None:
            self.out[t] = self.out.get(t, 0) + 1
        return t

    def acquire_at(self, t):
        if self.kind in ("least_outstanding", "power_of_two"):
            self.ref.acquire_at(t)
        self.out[t] = self.out.get(t, 0) + 1

    def release(self, t):
        if self.kind in ("least_outstanding", "power_of_two"):
            self.ref.release(t)
        self.out[t] -= 1

    def set_available(self, t, flag, now):
        if self.kind in ("least_outstanding", "power_of_two"):
            self.ref.set_available(t, flag)
        else:
            self.ref.set_available(t, flag, now)

    def add(self, t, w, now):
        k, r = self.kind, self.ref
        if k == "least_outstanding":
            r.add(t, w)
        elif k == "power_of_two":
            r.add(t)
        else:
            r.add(t, w, now)
        self.out[t] = 0

    def remove(self, t):
        self.ref.remove(t)
        self.out.pop(t, None)

    def set_weight(self, t, w):
        k, r = self.kind, self.ref
        if k == "least_outstanding":
            r.w[t] = int(w)
        elif k == "round_robin":
            r._row(t)[1] = float(w)
        else:
            r.w[r.t.index(t)] = float(w)
            r._rebuild()


ops = st.lists(st.one_of(
    st.tuples(st.just("pick"), st.integers(1, 4)),
    st.tuples(st.just("sticky"), st.integers(0, 30)),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("avail"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("sync"), st.lists(st.booleans(), min_size=1, max_size=10)),
    st.tuples(st.just("add"), st.integers(1, 5)),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(st.just("weight"), st.integers(0, 30), st.integers(1, 5)),
    st.tuples(st.just("tick"), st.floats(0, 100)),
), max_size=40)


@pytest.mark.parametrize("kind", KINDS)
@given(weights=st.lists(st.integers(1, 5), min_size=1, max_size=6),
       slow_start=st.sampled_from([0, 30]), seed=st.integers(0, 2**64 - 1), ops=ops)
@settings(max_examples=50, deadline=None)
def test_protocol_matches_reference(kind, weights, slow_start, seed, ops):
    if kind == "power_of_two":
        weights = [1] * len(weights)
    if kind in ("least_outstanding", "power_of_two"):
        slow_start = 0
    names = [f"t{i}" for i in range(len(weights))]
    sel, ref = make(kind, names, weights, seed, slow_start)
    assert isinstance(sel, lbcore.RequestSelector)
    model = Model(kind, ref)
    model.out = {t: 0 for t in names}
    now, nxt = 0.0, len(names)
    live = list(names)
    for op in ops:
        if op[0] == "pick":
            for j in range(op[1]):
                exp = model.pick(now)
                if j % 2:
                    i = sel.pick_index(now)
                    got = None if i < 0 else sel.target_at(i)
                else:
                    try:
                        got = sel.pick(now)
                    except LookupError:
                        got = None
                assert got == exp
        elif op[0] == "sticky" and live:
            t = live[op[1] % len(live)]
            if op[1] % 2:
                sel.acquire_at(t, now)
            else:
                sel.acquire_at_index(sel.index(t), now)
            model.acquire_at(t)
        elif op[0] == "release" and live:
            t = live[op[1] % len(live)]
            if model.out[t] == 0:
                with pytest.raises(ValueError, match="no outstanding"):
                    sel.release(t)
                continue
            if op[1] % 2:
                sel.release(t)
            else:
                sel.release_index(sel.index(t))
            model.release(t)
        elif op[0] == "avail" and live:
            t = live[op[1] % len(live)]
            sel.set_available(t, op[2], now=now)
            model.set_available(t, op[2], now)
        elif op[0] == "sync":
            n = len(sel.targets_array())
            mask = np.zeros(n, dtype=bool)
            arr = sel.targets_array()
            flags = (op[1] * n)[:n]
            for i in range(n):
                mask[i] = arr[i] is not None and flags[i]
            before = [sel.is_available(t) for t in live]
            changed = sel.sync_available(mask, now=now)
            for i in range(n):                       # the model: one by one, index order
                if arr[i] is not None:
                    model.set_available(arr[i], bool(mask[i]), now)
            after = [sel.is_available(t) for t in live]
            assert changed == sum(a != b for a, b in zip(before, after))
        elif op[0] == "add":
            t = f"t{nxt}"
            nxt += 1
            w = 1 if kind == "power_of_two" else op[1]
            sel.add(t, w, now=now)
            model.add(t, w, now)
            live.append(t)
        elif op[0] == "remove" and len(live) > 1:
            t = live.pop(op[1] % len(live))
            sel.remove(t)
            model.remove(t)
        elif op[0] == "weight" and live and kind != "power_of_two":
            t = live[op[1] % len(live)]
            sel.set_weight(t, op[2], now=now)
            model.set_weight(t, op[2])
            assert sel.weight(t) == op[2]
        elif op[0] == "tick":
            now += op[1]
        for t in live:
            assert sel.outstanding(t) == model.out[t]
        if kind in ("least_outstanding", "power_of_two"):
            sel._check()


@pytest.mark.parametrize("cls", CLASSES)
def test_one_method_set(cls):
    for name in ("pick", "pick_index", "acquire_at", "acquire_at_index", "release",
                 "release_index", "add", "remove", "set_available", "set_weight",
                 "sync_available", "outstanding", "is_available", "weight", "index",
                 "target_at", "targets", "targets_array"):
        assert getattr(cls, name) is getattr(lbcore.RequestSelector, name), name
    assert issubclass(cls, lbcore.RequestSelector)


def test_base_is_not_instantiable():
    with pytest.raises(TypeError, match="base class"):
        lbcore.RequestSelector()


def _one(cls, **kw):
    if cls is lbcore.WeightedRandom:
        return cls(["a", "b"], [1.0, 1.0], **kw)
    return cls(["a", "b"], **kw)


@pytest.mark.parametrize("cls", CLASSES)
def test_every_pick_is_counted_until_released(cls):
    sel = _one(cls)
    i = sel.pick_index(0.0)
    t = sel.pick(0.0)
    sel.acquire_at("a", 0.0)
    total = sum(sel.outstanding(x) for x in ("a", "b"))
    assert total == 3
    sel.release_index(i)
    sel.release(t)
    sel.release("a")
    assert [sel.outstanding(x) for x in ("a", "b")] == [0, 0]
    with pytest.raises(ValueError, match="no outstanding"):
        sel.release("a")
    with pytest.raises(ValueError, match="not a registered target"):
        sel.release_index(7)
    with pytest.raises(TypeError, match="index must be an int"):
        sel.release_index(1.0)
    with pytest.raises(TypeError, match="index must be an int"):
        sel.acquire_at_index(True, 0.0)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("bad, exc", [(float("nan"), ValueError), (float("inf"), ValueError),
                                      (-float("inf"), ValueError), (True, TypeError),
                                      ("1.0", TypeError), (b"1", TypeError), ([1.0], TypeError),
                                      (10**400, ValueError)])
def test_now_is_one_rule_everywhere(cls, bad, exc):
    sel = _one(cls)
    calls = [lambda: sel.pick(bad), lambda: sel.pick_index(bad),
             lambda: sel.acquire_at("a", bad), lambda: sel.acquire_at_index(0, bad),
             lambda: sel.set_available("a", False, now=bad),
             lambda: sel.sync_available([True, True], now=bad),
             lambda: sel.add("c", now=bad), lambda: sel.set_weight("a", 2, now=bad)]
    for call in calls:
        with pytest.raises(exc, match="now must be a finite number of seconds"):
            call()
    assert sel.outstanding("a") == 0 and "c" not in sel


@pytest.mark.parametrize("cls", CLASSES)
def test_now_kinds_accepted(cls):
    sel = _one(cls)
    for now in (0, 1.5, np.float64(2.0), np.float32(3.0), np.int64(4), 2**70):
        assert sel.pick_index(now) >= 0


@pytest.mark.parametrize("cls", CLASSES)
def test_missing_now_is_deprecated_without_slow_start(cls):
    sel = _one(cls)
    with pytest.warns(DeprecationWarning, match="without now"):
        assert sel.pick_index() >= 0
    with pytest.warns(DeprecationWarning, match="without now"):
        sel.set_available("a", False)


def test_deprecation_warnings_point_at_the_caller():
    lo = lbcore.LeastOutstanding(["a"])
    for call in (lo.acquire, lo.acquire_index, lo.pick):
        with pytest.warns(DeprecationWarning) as rec:
            call()
        assert rec[0].filename == __file__, (call, rec[0].filename)


@pytest.mark.parametrize("cls", [lbcore.RoundRobin, lbcore.WeightedRandom])
def test_missing_now_is_an_error_with_slow_start(cls):
    sel = _one(cls, slow_start_seconds=30)
    sel.set_available("a", False, now=0.0)
    for call in (sel.pick, sel.pick_index, lambda: sel.add("c"),
                 lambda: sel.set_available("a", True), lambda: sel.acquire_at("b"),
                 lambda: sel.sync_available([True, True])):
        with pytest.raises(ValueError, match="now is required"):
            call()
    assert not sel.is_available("a") and sel.outstanding("b") == 0
    # leaving service needs no time: kept working for one release, with the warning
    with pytest.warns(DeprecationWarning, match="without now"):
        sel.set_available("b", False)
    assert not sel.is_available("b")


@pytest.mark.parametrize("cls", [lbcore.LeastOutstanding, lbcore.PowerOfTwoChoices])
def test_old_names_warn_and_still_work(cls):
    sel = cls(["a", "b"], seed=1)
    ref = cls(["a", "b"], seed=1)
    with pytest.warns(DeprecationWarning, match="use pick\\(now\\)"):
        assert sel.acquire() == ref.pick(0.0)
    with pytest.warns(DeprecationWarning, match="use pick_index\\(now\\)"):
        assert sel.acquire_index() == ref.pick_index(0.0)
    assert sel.outstanding("a") + sel.outstanding("b") == 2


@pytest.mark.parametrize("cls", CLASSES)
def test_sync_available_is_one_call_for_a_mask(cls):
    sel = _one(cls)
    assert sel.sync_available(np.array([False, True]), now=1.0) == 1
    assert not sel.is_available("a") and sel.is_available("b")
    assert sel.sync_available([False, True], now=1.0) == 0
    assert sel.sync_available([True], now=2.0) == 1            # a prefix of the indices
    assert sel.is_available("a")
    with pytest.raises(TypeError, match="available"):
        sel.sync_available([1, 0], now=1.0)
    with pytest.raises(ValueError, match="available"):
        sel.sync_available([True, True, True], now=1.0)
    sel.remove("a")
    with pytest.raises(ValueError, match="not a registered target"):
        sel.sync_available([True, True], now=1.0)
    assert sel.sync_available([False, True], now=1.0) == 0


def test_sync_available_follows_the_slow_start_rule_in_index_order():
    # the same changes one by one and in one call give the same slow start state
    a = lbcore.RoundRobin(list(range(4)), slow_start_seconds=60)
    b = lbcore.RoundRobin(list(range(4)), slow_start_seconds=60)
    for sel in (a, b):
        sel.sync_available([False, False, False, False], now=0.0)
    mask = [True, False, True, True]
    a.sync_available(mask, now=10.0)
    for i, flag in enumerate(mask):
        b.set_available(i, flag, now=10.0)
    assert a._state_arrays()["ss_start"].tolist() == b._state_arrays()["ss_start"].tolist()
    # index 0 came back first into an empty group: no slow start; 2 and 3 ramp
    assert [a.in_slow_start(i, 20.0) for i in range(4)] == [False, False, True, True]


@pytest.mark.parametrize("cls", CLASSES)
def test_set_weight_checks_the_weight(cls):
    sel = _one(cls)
    for bad, exc in ((float("nan"), ValueError), (-1, ValueError), (True, TypeError),
                     ("2", TypeError)):
        with pytest.raises(exc, match="weight"):
            sel.set_weight("a", bad, now=0.0)
    with pytest.raises(ValueError, match="unknown target"):
        sel.set_weight("zz", 1, now=0.0)


def test_least_outstanding_set_weight_keeps_the_heap():
    lo = lbcore.LeastOutstanding(list(range(8)), seed=3)
    for _ in range(20):
        lo.pick(0.0)
    for t, w in ((0, 5), (3, 2), (7, 9), (0, 1)):
        lo.set_weight(t, w, now=0.0)
        lo._check()
    lo.set_available(2, False, now=0.0)
    lo.set_weight(2, 4, now=0.0)
    lo.set_available(2, True, now=0.0)
    lo._check()
    assert lo.weight(2) == 4
