"""FlowTable: sequences of operations against the dict model (expiry, eviction,
forgetting), pinned flows across target-set changes, AWS default idle timeouts,
precomputed hashes, numba parity, validation."""
import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import Flow, Flows, FlowTable, Maglev
from lbcore._flowtable import _check_invariants, _entry_fields, _set_mark
from reference.flowtable_ref import CLASSES, FlowTableRef, key_of
from _strategies import FakeFlows, uneven_flows

# A pool of distinct flows: TCP with/without ISN (same 5-tuple, different ISN = distinct
# connections), UDP, ICMP, IPv6, and reverse pairs.
POOL = [
    Flow("tcp", "10.0.0.1", "10.0.0.2", 1000, 80),
    Flow("tcp", "10.0.0.1", "10.0.0.2", 1000, 80, seq=7),
    Flow("tcp", "10.0.0.1", "10.0.0.2", 1000, 80, seq=8),
    Flow("tcp", "10.0.0.2", "10.0.0.1", 80, 1000),
    Flow("udp", "10.0.0.1", "10.0.0.2", 53, 53),
    Flow("udp", "10.0.0.2", "10.0.0.1", 53, 53),
    Flow("udp", "192.168.1.1", "8.8.8.8", 5000, 53),
    Flow("icmp", "10.0.0.1", "10.0.0.9"),
    Flow("tcp", "2001:db8::1", "2001:db8::2", 443, 5555),
    Flow("tcp", "2001:db8::2", "2001:db8::1", 5555, 443),
    Flow("gre", "172.16.0.1", "172.16.0.2"),
    Flow("udp", "2001:db8::5", "2001:db8::6", 1, 2),
]
TIMEOUTS = {"tcp": 30.0, "udp": 10.0, "other": 5.0}


class ModSelector:
    """Deterministic selector over k targets (hash-based), with a call log."""

    def __init__(self, k):
        self.k = k
        self.calls = []

    def select_many(self, x):
        h = lbcore.flow_hash(x) if isinstance(x, Flows) else np.asarray(x, dtype=np.uint64)
        self.calls.append(len(h))
        return (h % np.uint64(self.k)).astype(np.int32)


op = st.one_of(
    st.tuples(st.just("batch"), st.lists(st.integers(0, len(POOL) - 1), max_size=8),
              st.floats(0, 12), st.integers(1, 5)),
    st.tuples(st.just("one"), st.integers(0, len(POOL) - 1), st.floats(0, 12),
              st.integers(1, 5)),
    st.tuples(st.just("forget"), st.integers(0, 5)),
    st.tuples(st.just("expire"), st.floats(0, 12)),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6), st.booleans(), st.lists(op, max_size=25))
def test_sequences_match_reference(capacity, symmetric, ops):
    ft = FlowTable(capacity, idle_timeout=TIMEOUTS, symmetric=symmetric)
    ref = FlowTableRef(capacity, TIMEOUTS, symmetric)
    now = 0.0
    for o in ops:
        if o[0] == "batch":
            _, idx, dt, k = o
            now += dt
            flows = Flows.from_flows([POOL[i] for i in idx])
            sel = ModSelector(k)
            got = ft.route_many(flows, now, sel)
            want = ref.route_many([POOL[i] for i in idx], now,
                                  lambda miss: ModSelector(k).select_many(flows[np.array(miss)]))
            assert got.tolist() == want
        elif o[0] == "one":
            _, i, dt, k = o
            now += dt
            got = ft.route(POOL[i], now, ModSelector(k))
            want = ref.route_many([POOL[i]], now,
                                  lambda miss: ModSelector(k).select_many(
                                      Flows.from_flows([POOL[i]])))
            assert got == want[0]
        elif o[0] == "forget":
            assert ft.forget_target(o[1]) == ref.forget_target(o[1])
        else:
            now += o[1]
            assert ft.expire(now) == ref.expire(now)
        assert len(ft) == len(ref.entries) <= capacity
        _check_invariants(ft)
        stored = {key_of(f): tuple(v) for f, v in ft.entries().items()}
        assert stored == {k: (e[0], e[1]) for k, e in ref.entries.items()}


def test_large_random_sequence_matches_reference():
    rng = np.random.default_rng(0)
    pool = Flows.random(300, seed=1, ipv6_fraction=0.2, protocols=(6, 17, 1))
    ft = FlowTable(64, idle_timeout={"tcp": 40, "udp": 15, "other": 7})
    ref = FlowTableRef(64, {"tcp": 40.0, "udp": 15.0, "other": 7.0})
    flows_list = list(pool)
    now = 0.0
    for step in range(150):
        now += float(rng.exponential(1.0))
        idx = rng.integers(0, 300, size=int(rng.integers(1, 40)))
        sel = ModSelector(9)
        got = ft.route_many(pool[idx], now, sel)
        want = ref.route_many([flows_list[i] for i in idx], now,
                              lambda miss: ModSelector(9).select_many(pool[idx][np.array(miss)]))
        assert got.tolist() == want
        if step % 37 == 0:
            assert ft.forget_target(step % 9) == ref.forget_target(step % 9)
        if step % 23 == 0:
            assert ft.expire(now) == ref.expire(now)
        _check_invariants(ft)
    assert {key_of(f): tuple(v) for f, v in ft.entries().items()} == \
        {k: (e[0], e[1]) for k, e in ref.entries.items()}


def test_aws_default_idle_timeouts():
    # NLB: TCP idle timeout 350 s, UDP 120 s (AWS ELB guide, "Network Load Balancers",
    # connection idle timeout).
    ft = FlowTable(10)
    assert ft.idle_timeout == {"tcp": 350.0, "udp": 120.0, "other": 120.0}
    tcp = Flow("tcp", "10.0.0.1", "10.0.0.2", 1, 2)
    udp = Flow("udp", "10.0.0.1", "10.0.0.2", 1, 2)
    first = ModSelector(1000)
    t_tcp = ft.route(tcp, 0.0, first)
    t_udp = ft.route(udp, 0.0, first)
    other = ModSelector(7)      # would pick differently for a new flow
    assert ft.route(udp, 119.9, other) == t_udp          # refreshed at 119.9
    assert ft.route(tcp, 349.9, other) == t_tcp          # 349.9 s idle: still live
    # UDP idle since 119.9: at 349.9 it is 230 s idle → expired, re-selected
    assert ft.route(udp, 349.9, other) == lbcore.flow_hash(udp) % 7
    assert t_udp == lbcore.flow_hash(udp) % 1000
    # "If no data is sent ... for longer than the idle timeout, the connection is
    # closed": idle exactly 120 s / 350 s is still live, a moment longer is not.
    ft2 = FlowTable(10)
    ft2.route(udp, 0.0, first)
    ft2.route(tcp, 0.0, first)
    assert ft2.expire(120.0) == 0
    assert ft2.expire(120.001) == 1
    assert ft2.expire(350.0) == 0
    assert ft2.expire(350.001) == 1 and len(ft2) == 0


def test_expired_flow_is_reselected():
    ft = FlowTable(4, idle_timeout=100)
    f = Flow("udp", "1.1.1.1", "2.2.2.2", 10, 20)
    h = lbcore.flow_hash(f)
    a = ft.route(f, 0.0, ModSelector(1000))
    assert a == h % 1000
    assert ft.route(f, 99.0, ModSelector(999)) == a
    assert ft.route(f, 199.0, ModSelector(999)) == a     # idle exactly 100 s: live
    assert ft.route(f, 299.5, ModSelector(999)) == h % 999


def test_eviction_oldest_idle_first_prefers_expired():
    ft = FlowTable(3, idle_timeout={"tcp": 100, "udp": 10})
    sel = ModSelector(50)
    a = Flow("tcp", "1.0.0.1", "2.0.0.1", 1, 1)
    b = Flow("udp", "1.0.0.2", "2.0.0.1", 1, 1)
    c = Flow("tcp", "1.0.0.3", "2.0.0.1", 1, 1)
    d = Flow("tcp", "1.0.0.4", "2.0.0.1", 1, 1)
    e = Flow("tcp", "1.0.0.5", "2.0.0.1", 1, 1)
    ft.route(a, 0, sel)
    ft.route(b, 1, sel)
    ft.route(c, 2, sel)
    ft.route(d, 20, sel)       # full: b (UDP) is expired → evicted, not the older a
    assert set(ft.entries()) == {a, c, d}
    ft.route(a, 21, sel)       # a refreshed: c is now idle longest
    ft.route(e, 22, sel)
    assert set(ft.entries()) == {a, d, e}
    assert len(ft) == 3


def test_pinned_flows_across_target_changes():
    targets = [f"t{i}" for i in range(8)]
    mg = Maglev(targets, table_size=4099)
    flows = Flows.random(2000, seed=3)
    ft = FlowTable(5000)
    first = ft.route_many(flows, 0.0, mg)
    assert np.array_equal(first, mg.select_many(flows))
    # deregister t2 by weight 0 (indices stay stable): existing flows stay put
    drained = mg.with_targets(targets, weights=[1, 1, 0, 1, 1, 1, 1, 1])
    again = ft.route_many(flows, 10.0, drained)
    assert np.array_equal(again, first)
    new = Flows.random(2000, seed=4)
    assert not np.any(ft.route_many(new, 11.0, drained) == 2)
    # a target added: live flows still keep theirs
    grown = Maglev(targets + ["t8"], table_size=4099)
    assert np.array_equal(ft.route_many(flows, 12.0, grown), first)
    # rebalance: forget t2's flows; they move, nothing else does
    n2 = int(np.count_nonzero(first == 2))
    assert ft.forget_target(2) == n2 > 0
    after = ft.route_many(flows, 13.0, drained)
    assert np.all(after[first == 2] != 2)
    assert np.array_equal(after[first != 2], first[first != 2])


def test_hashes_parameter_and_symmetric():
    flows = Flows.random(500, seed=9)
    sym = lbcore.flow_hash(flows, fields="3-tuple", symmetric=True)
    mg = Maglev(range(10), table_size=1009)
    ft = FlowTable(2000, symmetric=True)
    out = ft.route_many(flows, 0.0, mg, hashes=sym)
    assert np.array_equal(out, mg.select_many(sym))
    # the reverse direction finds the same entries (one per connection)
    rev = ft.route_many(flows.reversed(), 1.0, ModSelector(3))
    assert np.array_equal(rev, out)
    assert len(ft) == 500
    f = flows[0]
    assert ft.route(f, 2.0, ModSelector(3), hash=int(sym[0])) == out[0]


def test_selector_called_only_for_misses():
    flows = Flows.random(100, seed=2)
    ft = FlowTable(1000)
    sel = ModSelector(5)
    ft.route_many(flows[:60], 0.0, sel)
    ft.route_many(flows, 1.0, sel)
    ft.route_many(flows, 2.0, sel)
    assert sel.calls == [60, 40]


def test_numba_parity():
    import numba
    from lbcore import numba as lbn

    @numba.njit
    def route(addr, c0, c1, c2, c3, c4, c5, c6, c7, c8, now, table):
        out = np.empty(c0.shape[0], dtype=np.int32)
        misses = lbn.flowtable_lookup_many(addr, c0.shape[0], c0.ctypes, c1.ctypes,
                                           c2.ctypes, c3.ctypes, c4.ctypes, c5.ctypes,
                                           c6.ctypes, c7.ctypes, c8.ctypes, now, out.ctypes)
        tg = np.full(c0.shape[0], -1, dtype=np.int32)
        if misses:
            h = np.empty(c0.shape[0], dtype=np.uint64)
            lbn.flow_hash_many(c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes, c3.ctypes,
                               c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes, c8.ctypes, 0, 0,
                               0, h.ctypes)
            for i in range(c0.shape[0]):
                if out[i] < 0:
                    tg[i] = lbn.maglev_lookup(table.ctypes, np.uint64(table.shape[0]), h[i])
            lbn.flowtable_insert_many(addr, c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes,
                                      c3.ctypes, c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes,
                                      c8.ctypes, tg.ctypes, now, out.ctypes)
        return out

    @numba.njit
    def scalar(addr, f0, f1, f2, f3, f4, f5, f6, f7, f8, now):
        r = lbn.flowtable_lookup(addr, f0, f1, f2, f3, f4, f5, f6, f7, f8, now)
        if r < 0:
            r = lbn.flowtable_insert(addr, f0, f1, f2, f3, f4, f5, f6, f7, f8, 3, now)
        return r

    @numba.njit
    def scalar_insert(addr, f0, f1, f2, f3, f4, f5, f6, f7, f8, target, now):
        return lbn.flowtable_insert(addr, f0, f1, f2, f3, f4, f5, f6, f7, f8, target, now)

    mg = Maglev(range(6), table_size=1009)
    flows = Flows.random(400, seed=11)
    a, b = FlowTable(300), FlowTable(300)  # full by the end: eviction exercised
    for step, now in enumerate([0.0, 5.0, 200.0, 500.0]):
        batch = flows[step * 50: step * 50 + 250]
        want = a.route_many(batch, now, mg)
        b._check_now_for_numba(now)
        got = route(b.address, *batch.columns(), now, mg.table)
        assert got.tolist() == want.tolist()
    assert a.entries() == b.entries()
    f = Flow("udp", "9.9.9.9", "8.8.8.8", 1, 2)
    fields = (f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi, f.dst_lo, f.src_port, f.dst_port, f.seq)
    assert len(b) == 300
    assert scalar(b.address, *fields, 600.0) == 3      # evicts one entry (full table)
    assert a.route(f, 600.0, ModSelector(1000), hash=3) == 3  # same step in Python
    assert a.entries() == b.entries()
    on3 = sum(1 for t, _ in b.entries().values() if t == 3)
    forget = numba.njit(lambda addr, t: lbn.flowtable_forget_target(addr, t))
    expire = numba.njit(lambda addr, now: lbn.flowtable_expire(addr, now))
    assert forget(b.address, 3) == on3 >= 1
    assert a.forget_target(3) == on3
    assert expire(b.address, 1e6) == a.expire(1e6) > 0
    assert a.entries() == b.entries() == {}
    assert scalar_insert(b.address, *fields, -1, 1e6 + 1) == -1 and len(b) == 0


def test_validation():
    with pytest.raises(ValueError, match="capacity"):
        FlowTable(0)
    with pytest.raises(TypeError, match="capacity"):
        FlowTable(2.5)
    with pytest.raises(ValueError, match="idle_timeout"):
        FlowTable(4, idle_timeout=0)
    with pytest.raises(ValueError, match="idle_timeout"):
        FlowTable(4, idle_timeout=math.inf)
    with pytest.raises(ValueError, match="idle_timeout"):
        FlowTable(4, idle_timeout={"sctp": 5})
    with pytest.raises(TypeError, match="idle_timeout"):
        FlowTable(4, idle_timeout="350")
    ft = FlowTable(4)
    f = Flow("tcp", "1.1.1.1", "2.2.2.2", 1, 2)
    sel = ModSelector(3)
    with pytest.raises(ValueError, match="now"):
        ft.route(f, math.nan, sel)
    ft.route(f, 10.0, sel)
    with pytest.raises(ValueError, match="now"):
        ft.route(f, 9.0, sel)
    with pytest.raises(ValueError, match="now"):
        ft.expire(1.0)
    with pytest.raises(TypeError, match="now"):
        ft.expire("11")
    with pytest.raises(TypeError, match="flows"):
        ft.route_many([f], 11.0, sel)
    with pytest.raises(TypeError, match="flow"):
        ft.route(Flows.from_flows([f]), 11.0, sel)
    fl = Flows.random(3, seed=1)
    with pytest.raises(ValueError, match="hashes"):
        ft.route_many(fl, 11.0, sel, hashes=np.zeros(2, dtype=np.uint64))

    class Bad:
        def __init__(self, out):
            self.out = out

        def select_many(self, x):
            return self.out

    with pytest.raises(ValueError, match="selector"):
        ft.route_many(fl, 11.0, Bad(np.array([-1, 0, 0])))
    with pytest.raises(ValueError, match="selector"):
        ft.route_many(fl, 11.0, Bad(np.array([0, 0])))
    with pytest.raises(TypeError, match="selector"):
        ft.route_many(fl, 11.0, Bad(np.array([0.5, 0, 0])))
    with pytest.raises(ValueError, match="index"):
        ft.forget_target(-1)


def test_capacity_limit_is_checked_before_allocating():
    # 2**30 entries would be 96 GiB up front: refused with a ValueError naming the
    # memory, not a MemoryError from numpy
    for cap in (2**30, 2**26 + 1):
        with pytest.raises(ValueError, match=r"capacity.*GiB"):
            FlowTable(cap)
    ft = FlowTable(4)
    with pytest.raises(ValueError, match=r"capacity.*GiB"):
        ft.resize(2**30)
    assert ft.capacity == 4
    _check_invariants(ft)


def test_route_many_checks_the_flows_columns():
    ft = FlowTable(8)
    real = Flows.random(4, seed=1)
    # a batch by the __lbcore_columns__ protocol whose columns disagree in length
    with pytest.raises(ValueError, match="flows"):
        ft.route_many(FakeFlows(real, 100_000), 1.0, ModSelector(3))
    with pytest.raises(ValueError, match="flows"):
        ft.route_many(uneven_flows(real), 1.0, ModSelector(3))
    assert len(ft) == 0
    strided = Flows.random(20, seed=2)[::2]         # non-contiguous columns are fine
    assert ft.route_many(strided, 1.0, ModSelector(3)).shape == (10,)


def test_threads_resize_while_routing():
    """Growing allocates (Python code, other threads may run) before it takes the old
    state, so concurrent batches and resizes never lose an entry or break the table."""
    import sys
    import threading
    ft = FlowTable(64)
    mg = Maglev(range(10), table_size=1009)
    errors = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def route(seed):
        try:
            for step in range(30):
                b = Flows.random(200, seed=seed * 100 + step)
                assert np.array_equal(ft.route_many(b, 1.0, mg), mg.select_many(b))
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    def resize():
        try:
            for step in range(300):
                try:
                    ft.resize(max(len(ft), 64) * 2 if step % 2 else max(len(ft), 64))
                except ValueError as e:     # shrinking raced with inserts: refused
                    assert "capacity" in str(e)
        except Exception as e:       # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=route, args=(s,)) for s in range(2)]
    threads.append(threading.Thread(target=resize))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    _check_invariants(ft)


def test_threads_share_one_table_safely():
    import threading
    ft = FlowTable(5000)
    mg = Maglev(range(10), table_size=1009)
    batches = [Flows.random(2000, seed=s) for s in range(4)]
    errors = []

    def work(b):
        try:
            for step in range(20):
                out = ft.route_many(b, 1.0, mg)
                assert np.array_equal(out, mg.select_many(b))
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ft) == 5000     # 8000 distinct flows into 5000 slots: evictions, no growth


# ------------------------------------------- find/add: a caller's key scheme and hash
KEY_DTYPE = np.dtype({"names": ["src_hi", "src_lo", "dst_hi", "dst_lo", "seq", "sport",
                                "dport", "proto", "flags"],
                      "formats": ["<u8", "<u8", "<u8", "<u8", "<u4", "<u2", "<u2", "u1", "u1"],
                      "offsets": [0, 8, 16, 24, 32, 36, 38, 40, 41], "itemsize": 48})


def _numba_primitives():
    import numba
    from lbcore import numba as lbn

    @numba.njit
    def make_key(buf, f0, f1, f2, f3, f4, f5, f6, f7, f8, fields, symmetric):
        lbn.flowtable_make_key(buf.ctypes, f0, f1, f2, f3, f4, f5, f6, f7, f8, fields,
                               symmetric)

    @numba.njit
    def find(addr, buf, h, cls, now):
        return lbn.flowtable_find(addr, buf.ctypes, h, cls, now)

    @numba.njit
    def add(addr, buf, h, cls, target, now):
        return lbn.flowtable_add(addr, buf.ctypes, h, cls, target, now)

    @numba.njit
    def remove(addr, buf, h, cls, now):
        e = lbn.flowtable_find(addr, buf.ctypes, h, cls, now)
        if e >= 0:
            lbn.flowtable_remove(addr, e)
        return e

    return make_key, find, add, remove


def _decoded(buf):
    r = buf.view(KEY_DTYPE)[0]
    return (int(r["proto"]), int(r["flags"]), (int(r["src_hi"]), int(r["src_lo"]),
            int(r["sport"])), (int(r["dst_hi"]), int(r["dst_lo"]), int(r["dport"])),
            int(r["seq"]))


prim_op = st.tuples(st.sampled_from(["find", "add", "add", "remove", "resize", "mark"]),
                    st.integers(0, len(POOL) - 1), st.integers(0, 2), st.floats(0, 12),
                    st.integers(0, 8))
RESIZES = (1, 2, 3, 4, 6, 13, 64, 300, 1000)     # resize op: to RESIZES[target] (or len)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.booleans(), st.integers(0, 2), st.lists(prim_op, max_size=30))
def test_find_add_remove_resize_match_reference(capacity, symmetric, fields, ops):
    """The primitives lbcore._l4 drives (numba calls the kernels directly): canonical
    keys with the unused fields zeroed, the caller's hash (any function of the key),
    an explicit timeout class per call, resize keeping every entry."""
    make_key, find, add, remove = _numba_primitives()
    ft = FlowTable(capacity, idle_timeout=TIMEOUTS)
    ref = FlowTableRef(capacity, TIMEOUTS)
    keys = []
    for f in POOL:
        buf = np.zeros(48, np.uint8)
        make_key(buf, f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi, f.dst_lo, f.src_port,
                 f.dst_port, f.seq, fields, symmetric)
        k = key_of(f, symmetric, fields)
        assert _decoded(buf) == (k[0], k[1], k[2], k[3], k[4])
        keys.append((buf, k, np.uint64(hash(k) & ((1 << 64) - 1))))
    now = 0.0
    for name, i, cls, dt, target in ops:
        buf, k, h = keys[i]
        now += dt
        if name == "find":
            e = find(ft.address, buf, h, cls, now)
            assert (e >= 0) == (ref.find(k, cls, now) is not None)
        elif name == "add":
            assert add(ft.address, buf, h, cls, target, now) >= 0
            ref.add(k, cls, target, now)
        elif name == "remove":
            e = remove(ft.address, buf, h, cls, now)
            assert (e >= 0) == (ref.find(k, cls, now) is not None)
            ref.remove(k)
        elif name == "mark":        # the caller's byte (GWLB: dropped), kept by resize
            e = find(ft.address, buf, h, cls, now)
            r = ref.find(k, cls, now)
            assert (e >= 0) == (r is not None)
            if e >= 0:
                _set_mark(ft, e, 1 + target)
                r[4] = 1 + target
        else:
            cap = max(len(ft), RESIZES[target])
            ft.resize(cap)
            ref.resize(cap)
            assert ft.capacity == cap
        _check_invariants(ft)
        assert {key_of(f): tuple(v) for f, v in ft.entries().items()} == \
            {kk: (e[0], e[1]) for kk, e in ref.entries.items()}
        assert {key_of(f): v for f, v in _entry_fields(ft).items()} == \
            {kk: (e[0], e[1], CLASSES.index(e[3]), e[4]) for kk, e in ref.entries.items()}
    before, clock = _entry_fields(ft), ft.now
    for bad in (3, 200, -1):
        assert add(ft.address, keys[0][0], keys[0][2], bad, 1, now) == -1   # bad class
        assert find(ft.address, keys[0][0], keys[0][2], bad, now) == -1    # bad class
    assert add(ft.address, keys[0][0], keys[0][2], 0, -1, now) == -1    # negative target
    assert _entry_fields(ft) == before and ft.now == clock
    _check_invariants(ft)


def test_find_rejects_a_class_outside_0_to_2():
    """lb_flowtable_find with cls 3 or 200 used to write head[cls] past the struct."""
    make_key, find, add, _ = _numba_primitives()
    ft = FlowTable(8)
    bufs = []
    for i in range(3):
        b = np.zeros(48, np.uint8)
        make_key(b, 6, 0, 0, i + 1, 0, 9, 1, 2, 0, 0, 0)
        bufs.append(b)
        assert add(ft.address, b, np.uint64(i * 977 + 5), 0, 1, 0.0) >= 0
    before = _entry_fields(ft)
    assert find(ft.address, bufs[0], np.uint64(5), 3, 1.0) == -1
    assert find(ft.address, bufs[1], np.uint64(982), 200, 1.0) == -1
    _check_invariants(ft)
    assert _entry_fields(ft) == before and ft.idle_timeout["tcp"] == 350.0
    assert find(ft.address, bufs[0], np.uint64(5), 1, 1.0) >= 0      # a valid class still works


def test_resize_keeps_entries_and_order():
    ft = FlowTable(8, idle_timeout=TIMEOUTS)
    ref = FlowTableRef(8, TIMEOUTS)
    flows = Flows.random(8, seed=3)
    for j, f in enumerate(flows):
        assert ft.route(f, float(j), ModSelector(5)) == ref.route_many(
            [f], float(j), lambda m: ModSelector(5).select_many(Flows.from_flows([f])))[0]
    ft.resize(100)
    ref.resize(100)
    _check_invariants(ft)
    assert ft.capacity == 100 and len(ft) == 8
    ft.resize(8)            # back down to exactly the stored entries
    ref.resize(8)
    more = Flows.random(3, seed=4)      # full: evicts the least recently used, as before
    assert ft.route_many(more, 20.0, ModSelector(5)).tolist() == ref.route_many(
        list(more), 20.0, lambda m: ModSelector(5).select_many(more[np.array(m)]))
    assert {key_of(f): tuple(v) for f, v in ft.entries().items()} == \
        {k: (e[0], e[1]) for k, e in ref.entries.items()}
    with pytest.raises(ValueError, match="capacity"):
        ft.resize(2)
    with pytest.raises(TypeError, match="capacity"):
        ft.resize(2.5)


_TWO_KERNELS = []


def _two_kernels():
    """The exported lookup_many + insert_many kernels from numba (compiled once)."""
    if not _TWO_KERNELS:
        import numba
        from lbcore import numba as lbn

        @numba.njit
        def two_kernels(addr, c0, c1, c2, c3, c4, c5, c6, c7, c8, now, targets):
            out = np.empty(c0.shape[0], dtype=np.int32)
            lbn.flowtable_lookup_many(addr, c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes,
                                      c3.ctypes, c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes,
                                      c8.ctypes, now, out.ctypes)
            tg = np.where(out < 0, targets, -1).astype(np.int32)
            lbn.flowtable_insert_many(addr, c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes,
                                      c3.ctypes, c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes,
                                      c8.ctypes, tg.ctypes, now, out.ctypes)
            return out
        _TWO_KERNELS.append(two_kernels)
    return _TWO_KERNELS[0]


# route_many's one-probe insert (the lookup records each miss's probe hash and end
# slot) must leave the table exactly as the exported two-kernel path does: same index
# slots, entry bytes, LRU links, clock and counters, through expiry (deletions in the
# lookup pass), evictions (a full table) and flows repeated within a batch.
@settings(max_examples=120, deadline=None)
@given(st.integers(1, 8), st.booleans(),
       st.lists(st.tuples(st.lists(st.integers(0, len(POOL) - 1), max_size=10),
                          st.floats(0, 12), st.integers(1, 5)), min_size=1, max_size=12))
def test_route_many_one_probe_same_table_as_the_kernels(capacity, symmetric, batches):
    two_kernels = _two_kernels()
    a = FlowTable(capacity, idle_timeout=TIMEOUTS, symmetric=symmetric)
    b = FlowTable(capacity, idle_timeout=TIMEOUTS, symmetric=symmetric)
    sel = ModSelector(7)
    now = 0.0
    for idx, dt, _ in batches:
        now += dt
        if not idx:
            continue
        batch = Flows.from_flows([POOL[i] for i in idx])
        got = a.route_many(batch, now, sel)
        b._check_now_for_numba(now)
        every = sel.select_many(batch)        # what the selector gives each flow
        want = two_kernels(b.address, *batch.columns(), now, every)
        assert got.tolist() == want.tolist()
        sa, sb = a.__reduce__()[1], b.__reduce__()[1]
        assert sa[4].tolist() == sb[4].tolist()       # index slots
        assert _entry_bytes(sa) == _entry_bytes(sb) and sa[6] == sb[6]   # entries, counters
        assert _entry_fields(a) == _entry_fields(b)
    _check_invariants(a)


def _entry_bytes(state):
    """The entry pool of a FlowTable.__reduce__ state without its padding bytes (copied
    from stack keys, so indeterminate): lb_ft_entry is 96 bytes, padding at 22-23,
    66-71 (inside the key) and 84-87."""
    assert state[7][0] == 96
    ents = np.frombuffer(state[5], dtype=np.uint8).reshape(-1, 96).copy()
    ents[:, [22, 23, 66, 67, 68, 69, 70, 71, 84, 85, 86, 87]] = 0
    return ents.tobytes()


class _Fixed:
    def __init__(self, target):
        self.target = target

    def select_index(self, flow):
        return self.target


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_a_large_table_costs_only_the_pages_its_flows_touch():
    # the entry pool is taken from the top of a never-used range rather than from a
    # free list written at creation: FlowTable(2e6) must not touch its 2e6 x 64 B pool
    # (a Dask worker or an NLB node builds big tables it fills gradually)
    cap = 2_000_000
    pool_bytes = cap * 48          # an entry is at least a key, hash and links
    before = _resident_bytes()
    ft = FlowTable(cap)
    grown = _resident_bytes() - before
    assert grown < pool_bytes / 4, (grown, pool_bytes)
    flows = [Flow("udp", "10.0.0.1", "10.0.0.2", 1000 + i, 53) for i in range(100)]
    assert [ft.route(f, 1.0, _Fixed(3)) for f in flows] == [3] * 100
    assert len(ft) == 100
    _check_invariants(ft)
    # a snapshot holds every entry, and the restored table routes the same flows
    back = pickle.loads(pickle.dumps(ft))
    _check_invariants(back)
    assert [back.route(f, 2.0, _Fixed(0)) for f in flows] == [3] * 100
    assert ft.forget_target(3) == 100 and len(ft) == 0
    _check_invariants(ft)
