"""The L4 kernel family (lbcore._l4): flow table + selection tables vs a
pure-Python model, Maglev table properties, numba parity."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore._flowtable import _check_invariants
from lbcore._l4 import L4Path
from _strategies import FakeFlows, uneven_flows


def slot(h, m):
    return (h * m) >> 64          # lbcore.Maglev's slot rule


def maglev_table(keys, m):
    return lbcore.Maglev([int(k) for k in keys], table_size=m).table


TIMEOUTS = (2.0, 10.0, 5.0)      # per class: TCP, UDP, other


class RefPath:
    """Dictionary model of L4Path for deterministic (non-random) tables: FlowTable's
    expiry rule (idle longer than the timeout of the class the flow was last seen
    with), re-placement when the pinned target is no longer valid."""

    def __init__(self, tables, offsets, lengths, valid):
        self.sel = (tables, offsets, lengths)
        self.valid = valid
        self.entries = {}

    def route(self, key, h, now, cls, node):
        e = self.entries.get(key)
        if e is not None:
            tgt, last, old_cls = e
            if now - last <= TIMEOUTS[old_cls] and self.valid[tgt]:
                self.entries[key] = (tgt, now, cls)
                return tgt, False
        tables, offsets, lengths = self.sel
        if lengths[node] <= 0:
            self.entries.pop(key, None)
            return -1, True
        tgt = int(tables[int(offsets[node]) + slot(h, int(lengths[node]))])
        self.entries[key] = (tgt, now, cls)
        return tgt, True


def _setup(n_targets, nodes, rng):
    tables, offsets, lengths = [], [], []
    pos = 0
    for _ in range(nodes):
        k = int(rng.integers(0, n_targets + 1))
        t = rng.integers(0, n_targets, size=k).astype(np.int32)
        tables.append(t)
        offsets.append(pos)
        lengths.append(k)
        pos += k
    return (np.concatenate(tables) if tables else np.zeros(0, np.int32),
            np.array(offsets, np.int64), np.array(lengths, np.int32))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n_targets=st.integers(1, 6), nodes=st.integers(1, 3),
       capacity=st.sampled_from([16, 64, 1024]), batched=st.booleans())
def test_kernel_matches_reference(seed, n_targets, nodes, capacity, batched):
    rng = np.random.default_rng(seed)
    tables, offsets, lengths = _setup(n_targets, nodes, rng)
    valid = np.ones(n_targets, np.uint8)
    path = L4Path(capacity, seed=1)
    path.set_timeouts(*TIMEOUTS)
    path.set_selection(tables, offsets, lengths, np.zeros(nodes, np.uint8), valid)
    ref = RefPath(tables, offsets, lengths, valid)
    now = 0.0
    for _round in range(4):
        n = int(rng.integers(1, 60))
        keys = rng.integers(0, 40, size=n).astype(np.uint64)      # many repeats
        hashes = rng.integers(0, 2**63, size=n, dtype=np.uint64)
        times = now + np.sort(rng.uniform(0, 5, size=n))
        idle = rng.integers(0, 3, size=n).astype(np.uint8)       # timeout classes
        node = rng.integers(0, nodes, size=n).astype(np.int32)
        want = [ref.route(int(k), int(h), float(t), int(i), int(d))
                for k, h, t, i, d in zip(keys, hashes, times, idle, node)]
        if batched:
            got_t, got_f = path.route_many(keys, hashes, times, idle, node)
        else:
            got = [(path.route(int(k), int(h), float(t), int(i), int(d)), path.last_flags)
                   for k, h, t, i, d in zip(keys, hashes, times, idle, node)]
            got_t = np.array([g[0] for g in got])
            got_f = np.array([g[1] for g in got])
        assert got_t.tolist() == [w[0] for w in want]
        assert (((got_f & 2) != 0).tolist()) == [w[1] for w in want]
        now = float(times[-1])
        # live entries agree (the table drops expired ones when it needs room)
        live = {k: (e[0], e[1]) for k, e in ref.entries.items() if now - e[1] <= TIMEOUTS[e[2]]}
        stored = {int(f.src_lo): v for f, v in path.flow_table.entries().items()
                  if int(f.src_lo) in live}
        assert stored == live and path.live(now) == len(live)
        _check_invariants(path.flow_table)
        # change validity between rounds
        valid = (rng.random(n_targets) < 0.7).astype(np.uint8)
        path.set_selection(tables, offsets, lengths, np.zeros(nodes, np.uint8), valid)
        ref.valid = valid


def test_table_grows_and_keeps_live_entries():
    path = L4Path(16, seed=0)
    path.set_timeouts(100.0, 100.0, 100.0)
    t = np.ascontiguousarray(maglev_table(np.arange(4, dtype=np.uint64), 401))
    path.set_selection(t, np.array([0]), np.array([401]), np.zeros(1, np.uint8), np.ones(4, np.uint8))
    keys = np.arange(5000, dtype=np.uint64)
    first, _ = path.route_many(keys, keys * 7, np.zeros(5000), np.zeros(5000, np.uint8),
                               np.zeros(5000, np.int32))
    assert path.capacity >= 5000 and len(path) == 5000
    again, flags = path.route_many(keys, keys * 11, np.ones(5000), np.zeros(5000, np.uint8),
                                   np.zeros(5000, np.int32))
    assert np.array_equal(first, again) and not np.any(flags & 2)
    # after expiry everything is new again and compaction reclaims the space
    _, flags = path.route_many(keys[:10], keys[:10], np.full(10, 500.0), np.zeros(10, np.uint8),
                               np.zeros(10, np.int32))
    assert np.all(flags & 2)
    assert len(path) == 5000 and path.live(500.0) == 10    # expired ones are removed lazily
    assert path.forget_target(int(again[0])) > 0
    _check_invariants(path.flow_table)


def test_random_tables_mark_dropped_and_are_uniform():
    path = L4Path(1024, seed=5)
    pool = np.array([3, 1, 2], np.int32)
    path.set_selection(pool, np.array([0]), np.array([3]), np.ones(1, np.uint8), np.ones(4, np.uint8))
    keys = np.arange(30000, dtype=np.uint64)
    t, f = path.route_many(keys, np.zeros(30000, np.uint64), np.zeros(30000), np.zeros(30000, np.uint8),
                           np.zeros(30000, np.int32))
    assert np.all(f & 1)
    share = np.bincount(t, minlength=4)[1:] / 30000
    assert np.all(np.abs(share - 1 / 3) < 0.02)    # ~7 sd of a binomial share
    t2, f2 = path.route_many(keys, np.zeros(30000, np.uint64), np.ones(30000), np.zeros(30000, np.uint8),
                             np.zeros(30000, np.int32))
    assert np.array_equal(t, t2) and np.all(f2 & 1) and not np.any(f2 & 2)


def test_dropped_marks_survive_growth():
    """GWLB's dropped flag lives in the FlowTable entry's mark byte; growing the table
    (FlowTable.resize) keeps it, and re-placing a flow on a Maglev table clears it."""
    path = L4Path(32, seed=3)
    pool = np.array([0, 1, 2], np.int32)
    path.set_selection(pool, np.array([0]), np.array([3]), np.ones(1, np.uint8), np.ones(3, np.uint8))
    keys = np.arange(2000, dtype=np.uint64)
    z = np.zeros(2000)
    t, f = path.route_many(keys, keys, z, np.zeros(2000, np.uint8), np.zeros(2000, np.int32))
    assert np.all(f & 1) and path.capacity >= 2000
    t2, f2 = path.route_many(keys, keys, z + 1, np.zeros(2000, np.uint8), np.zeros(2000, np.int32))
    assert np.array_equal(t, t2) and np.all(f2 & 1) and not np.any(f2 & 2)
    mg = np.array([1, 2], np.int32)[maglev_table(np.arange(2, dtype=np.uint64), 307)]  # over 1, 2
    path.set_selection(mg, np.array([0]), np.array([307]), np.zeros(1, np.uint8),
                       np.array([0, 1, 1], np.uint8))          # target 0 no longer valid
    t3, f3 = path.route_many(keys, keys, z + 2, np.zeros(2000, np.uint8), np.zeros(2000, np.int32))
    moved = t == 0
    assert np.all(f3[moved] == 2) and np.all(t3[moved] != 0)     # re-placed, not dropped
    assert np.array_equal(t3[~moved], t[~moved]) and np.all(f3[~moved] == 1)
    _check_invariants(path.flow_table)


def test_no_target_node():
    path = L4Path(seed=0)
    path.set_selection(np.zeros(0, np.int32), np.zeros(2, np.int64), np.zeros(2, np.int32),
                       np.zeros(2, np.uint8), np.ones(1, np.uint8))
    assert path.route(1, 1, 0.0, 0, 1) == -1 and path.last_flags & 4
    assert len(path) == 0


def test_validation():
    path = L4Path(seed=0)
    with pytest.raises(ValueError, match="tables"):
        path.set_selection(np.array([5], np.int32), np.zeros(1), np.ones(1), np.zeros(1), np.ones(2))
    with pytest.raises(ValueError, match="offsets"):
        path.set_selection(np.array([0], np.int32), np.zeros(2), np.ones(1), np.zeros(1), np.ones(2))
    with pytest.raises(ValueError, match="same length"):
        path.route_many(np.zeros(2, np.uint64), np.zeros(1, np.uint64), np.zeros(2), np.zeros(2),
                        np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="node"):
        path.route(1, 1, 0.0, 0, 3)
    with pytest.raises(ValueError, match="cls"):
        path.route(1, 1, 0.0, 3, 0)
    with pytest.raises(ValueError, match="seed"):
        L4Path(seed=-1)
    with pytest.raises(ValueError, match=r"capacity.*GiB"):
        L4Path(2**30)


def _one_node(path, n_targets=4):
    t = np.ascontiguousarray(maglev_table(np.arange(n_targets, dtype=np.uint64), 401))
    path.set_selection(t, np.array([0]), np.array([401]), np.zeros(1, np.uint8),
                       np.ones(n_targets, np.uint8))
    return path


def test_time_never_goes_backwards():
    """FlowTable's LRU lists are ordered by last use only while ``now`` never
    decreases: within a batch and across calls (batch or scalar)."""
    path = _one_node(L4Path(64, seed=0))
    z8, z32 = np.zeros(3, np.uint8), np.zeros(3, np.int32)
    keys = np.arange(3, dtype=np.uint64)
    with pytest.raises(ValueError, match="times"):
        path.route_many(keys, keys, np.array([5.0, 4.0, 6.0]), z8, z32)
    with pytest.raises(ValueError, match="times"):
        path.route_many(keys, keys, np.array([5.0, math.nan, 6.0]), z8, z32)
    path.route_many(keys, keys, np.array([5.0, 5.0, 9.0]), z8, z32)
    with pytest.raises(ValueError, match="now"):
        path.route(7, 7, 8.0, 0, 0)           # before the batch's last time
    with pytest.raises(ValueError, match="times"):
        path.route_many(keys, keys, np.array([8.0, 9.0, 9.0]), z8, z32)
    assert path.route(7, 7, 9.0, 0, 0) >= 0
    path.set_dns([0])
    path.configure(1, 2, 0, False, False, False, 0, 350.0, 120.0)
    flows = lbcore.Flows.random(4, seed=1)
    with pytest.raises(ValueError, match="times"):
        path.route_flows(flows, np.array([10.0, 11.0, 10.5, 12.0]))
    with pytest.raises(ValueError, match="times"):
        path.route_flows(flows, np.full(4, 8.0))
    path.route_flows(flows, np.array([10.0, 11.0, 11.0, 12.0]), index=[0, 1, 3])
    with pytest.raises(ValueError, match="now"):
        path.route_flow(flows[2], 11.5)
    assert path.route_flow(flows[2], 12.0) >= 0
    _check_invariants(path.flow_table)


def test_route_flows_checks_the_flows_columns():
    path = _one_node(L4Path(64, seed=0))
    path.set_dns([0])
    path.configure(1, 2, 0, False, False, False, 0, 350.0, 120.0)
    real = lbcore.Flows.random(4, seed=1)
    # a batch by the __lbcore_columns__ protocol whose columns disagree in length
    with pytest.raises(ValueError, match="flows"):
        path.route_flows(FakeFlows(real, 1_000_000), np.zeros(1_000_000))
    with pytest.raises(ValueError, match="flows"):
        path.route_flows(uneven_flows(real), np.zeros(9))
    assert len(path) == 0


def test_owned_flow_table_shares_the_lock_and_refuses_routing():
    path = _one_node(L4Path(32, seed=0))
    keys = np.arange(100, dtype=np.uint64)
    path.route_many(keys, keys, np.zeros(100), np.zeros(100, np.uint8), np.zeros(100, np.int32))
    ft = path.flow_table
    with pytest.raises(ValueError, match="NLB/GWLB"):     # keyed by find/add: not lookup
        ft.route(lbcore.Flow("tcp", "1.1.1.1", "2.2.2.2", 1, 2), 1.0, lbcore.Maglev([1, 2]))
    with pytest.raises(ValueError, match="NLB/GWLB"):
        ft.route_many(lbcore.Flows.random(3, seed=1), 1.0, lbcore.Maglev([1, 2]))
    ft.resize(1000)                       # the mutators take the path's lock
    assert ft.expire(0.0) == 0 and len(ft.entries()) == 100 and ft.forget_target(99) == 0
    assert path.capacity == 1000 and len(path) == 100
    _check_invariants(ft)


def test_growth_limit_is_a_value_error(monkeypatch):
    import lbcore._l4
    monkeypatch.setattr(lbcore._l4, "MAX_CAPACITY", 64)
    path = _one_node(L4Path(32, seed=0))
    path.set_timeouts(100.0, 100.0, 100.0)
    keys = np.arange(200, dtype=np.uint64)
    with pytest.raises(ValueError, match="flow_capacity.*limit"):
        path.route_many(keys, keys, np.zeros(200), np.zeros(200, np.uint8),
                        np.zeros(200, np.int32))
    assert path.capacity <= 64
    _check_invariants(path.flow_table)


_THREADS_SCRIPT = """
import sys, threading
import numpy as np, lbcore
from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup
from lbcore._flowtable import _check_invariants
sys.setswitchinterval(1e-6)
for seed in range(3):
    tg = TargetGroup([Target(f"A{i}", "A", port=80) for i in range(8)], protocol="TCP",
                     healthy=True)
    nlb = NetworkLoadBalancer(["A"], flow_capacity=32)
    nlb.add_listener("TCP", 80, tg)
    nlb.route(lbcore.Flow("tcp", "1.1.1.1", "2.2.2.2", 1, 80), 0.0)
    path = nlb._listeners[0].path
    errs = []
    def batch():
        try:
            for k in range(40):
                f = lbcore.Flows.from_flows([lbcore.Flow("tcp", 100000000 + k * 2000 + x, 7,
                                                         1000, 80) for x in range(2000)])
                nlb.route_many(f, 0.0)
        except Exception as e:
            errs.append(repr(e))
    def single():
        try:
            for k in range(20000):
                nlb.route(lbcore.Flow("tcp", 200000000 + k, 5, 1000, 80), 0.0)
        except Exception as e:
            errs.append(repr(e))
    def resize():
        try:
            for k in range(200):
                try:
                    path.flow_table.resize(2 * max(len(path), 32))
                except ValueError:
                    pass
        except Exception as e:
            errs.append(repr(e))
    ts = [threading.Thread(target=f) for f in (batch, single, resize)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errs, errs
    _check_invariants(path.flow_table)
    assert len(path) == 1 + 40 * 2000 + 20000, len(path)     # every flow kept
print("ok")
"""


def test_threads_batches_scalar_calls_and_resize_share_one_path():
    """route_many (growing the table) + route on new flows + flow_table.resize from
    three threads: scalar calls used to skip the lock while a batch grew the table
    (lost flows, segfaults). Run in a subprocess so a crash fails the test."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])


def test_numba_bindings_match():
    import numba
    from lbcore import numba as lbn
    from lbcore._l4 import KEY_SIZE

    @numba.njit
    def route(addr, keys, hashes, times, cls, node, tables, off, ln, rnd, valid, rng):
        n = keys.shape[0]
        fk = np.zeros(n * KEY_SIZE, np.uint8)
        kh = np.empty(n, np.uint64)
        for i in range(n):       # the synthetic keys of L4Path.route_many: src_lo = key
            lbn.flowtable_make_key(fk[i * KEY_SIZE:].ctypes, 0, 0, 0, keys[i], 0, 0, 0, 0,
                                   0, 0, 0)
            kh[i] = keys[i] * np.uint64(0x9E3779B97F4A7C15)   # any function of the key
        ot = np.empty(n, np.int32)
        of = np.empty(n, np.uint8)
        done = lbn.l4_route_many(n, fk.ctypes, kh.ctypes, hashes.ctypes, times.ctypes,
                                 cls.ctypes, node.ctypes, tables.ctypes, off.ctypes, ln.ctypes,
                                 rnd.ctypes, valid.ctypes, valid.shape[0], addr, rng.ctypes,
                                 ot.ctypes, of.ctypes)
        return done, ot, of

    keys = np.arange(1, 8, dtype=np.uint64) * np.uint64(12345)
    table = np.ascontiguousarray(maglev_table(keys, 701), dtype=np.int32)
    rng = np.random.default_rng(0)
    k = rng.integers(0, 50, size=300).astype(np.uint64)
    h = rng.integers(0, 2**63, size=300, dtype=np.uint64)
    tm = np.sort(rng.uniform(0, 10, 300))
    cls = rng.integers(0, 3, size=300).astype(np.uint8)
    nd = np.zeros(300, np.int32)
    off, ln, rnd, valid = (np.zeros(1, np.int64), np.array([701], np.int32), np.zeros(1, np.uint8),
                           np.ones(7, np.uint8))
    ft = lbcore.FlowTable(1024, idle_timeout=dict(zip(("tcp", "udp", "other"), TIMEOUTS)))
    done, ot, of = route(ft.address, k, h, tm, cls, nd, table, off, ln, rnd, valid,
                         np.zeros(4, np.uint64))
    assert done == 300
    _check_invariants(ft)
    # the numba path against the pure-Python model (not against the same kernel)
    ref = RefPath(table, off, ln, valid)
    want = [ref.route(int(a), int(b), float(c), int(d), int(e))
            for a, b, c, d, e in zip(k, h, tm, cls, nd)]
    assert ot.tolist() == [w[0] for w in want]
    assert ((of & 2) != 0).tolist() == [w[1] for w in want] and not np.any(of & 5)
    now = float(tm[-1])
    live = {kk: (e[0], e[1]) for kk, e in ref.entries.items() if now - e[1] <= TIMEOUTS[e[2]]}
    assert {int(f.src_lo): v for f, v in ft.entries().items() if int(f.src_lo) in live} == live
    small = lbcore.FlowTable(40)      # stops before a block that could fill the table
    done, _, _ = route(small.address, k, h, tm, cls, nd, table, off, ln, rnd, valid,
                       np.zeros(4, np.uint64))
    assert done == 32 and len(small) <= 32


def _c_route(handle):
    """lb_l4_route_fields through ctypes, as C code outside lbcore calls it."""
    import ctypes as c
    fn = c.CFUNCTYPE(c.c_int32, c.c_void_p, c.c_uint8, c.c_uint8, c.c_uint64, c.c_uint64,
                     c.c_uint64, c.c_uint64, c.c_uint16, c.c_uint16, c.c_uint32,
                     c.c_double, c.c_int32, c.POINTER(c.c_uint8))(
        handle.kernels["lb_l4_route_fields"])
    flags = c.c_uint8(0)

    def route(f, now, node=-1):
        k = fn(handle.address, f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi, f.dst_lo,
               f.src_port, f.dst_port, f.seq, now, node, c.byref(flags))
        return k, flags.value
    return route


def _c_close(handle):
    import ctypes as c
    fn = c.CFUNCTYPE(c.c_int32, c.c_void_p, c.c_uint8, c.c_uint8, c.c_uint64, c.c_uint64,
                     c.c_uint64, c.c_uint64, c.c_uint16, c.c_uint16, c.c_uint32, c.c_double)(
        handle.kernels["lb_l4_close_fields"])
    return lambda f, now: fn(handle.address, f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi,
                             f.dst_lo, f.src_port, f.dst_port, f.seq, now)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.integers(1, 6), min_size=1, max_size=3),
       st.booleans())
def test_c_route_of_one_flow_is_route_flow(seed, per_zone, sticky):
    """lb_l4_route_fields (the simulator's call, no GIL) routes a flow exactly as
    NetworkLoadBalancer.route does on a twin load balancer: same target, node and
    flags, same connection table (pinned flows stay, a full table answers LB_L4_FULL
    until ``reserve`` grows it), and times that go back are refused."""
    from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup
    zones = [f"z{k}" for k in range(len(per_zone))]
    rng = np.random.default_rng(seed)

    def build():
        tg = TargetGroup([Target(f"t{z}{i}", z) for z in zones for i in range(per_zone[int(z[1:])])],
                         protocol="TCP_UDP", healthy=True, stickiness_enabled=sticky)
        nlb = NetworkLoadBalancer(zones, seed=seed, flow_capacity=32)
        nlb.add_listener("TCP_UDP", 443, tg)
        return nlb
    a, b = build(), build()
    path, targets = b.flow_path(0.0)
    assert [t.id for t in targets] == [t.id for t in a.target_groups[0].targets]
    route = _c_route(path.ctypes)
    now, full = 0.0, 0
    srcs = [f"10.{i}.0.{j}" for i in range(3) for j in range(1, 30)]
    for i in range(300):
        now += float(rng.exponential(0.5))
        f = lbcore.Flow("udp" if rng.random() < 0.3 else "tcp", srcs[rng.integers(len(srcs))],
                        "198.18.0.1", int(rng.integers(1024, 1100)), 443)
        d = a.route(f, now)
        k, fl = route(f, now)
        while k == -2:                  # LB_L4_FULL: grow, then the same call again
            full += 1
            path.reserve(now, 32)
            k, fl = route(f, now)
        assert (k, fl & 1) == (targets.index(d.target) if d.target else -1, int(d.dropped))
    assert full >= 1                    # the table did fill (capacity 32, 300 flows)
    assert len(path) == len(a.flow_path(now)[0])
    # lb_l4_close_fields is NetworkLoadBalancer.close on the twin
    close = _c_close(path.ctypes)
    for f in {lbcore.Flow("tcp", s, "198.18.0.1", p, 443) for s in srcs[:6] for p in (1024, 1025)}:
        assert close(f, now) == int(a.close(f, now))
    assert len(path) == len(a.flow_path(now)[0])
    assert close(f, now - 1.0) == -3
    assert route(f, now - 1.0)[0] == -3           # LB_L4_REFUSED: time went back
    assert route(f, now, node=len(zones))[0] == -3
    with pytest.raises(ValueError, match="now"):
        path.reserve(now - 1.0, 1)


def test_numba_route_fields_is_the_load_balancers_route():
    """lbcore.numba.l4_route_fields from @njit code on a NetworkLoadBalancer's own path
    places flows where NetworkLoadBalancer.route places them on a twin."""
    import numba
    from lbcore import numba as lbn
    from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup

    @numba.njit
    def route(addr, proto, hi, lo, dhi, dlo, sport, dport, times):
        out = np.empty(proto.shape[0], np.int32)
        fl = np.zeros(1, np.uint8)
        for i in range(proto.shape[0]):
            out[i] = lbn.l4_route_fields(addr, proto[i], 0, hi[i], lo[i], dhi, dlo, sport[i],
                                         dport, 0, times[i], -1, fl.ctypes)
        return out

    def build():
        tg = TargetGroup([Target(f"t{i}", "ab"[i % 2]) for i in range(7)], protocol="TCP_UDP",
                         healthy=True)
        nlb = NetworkLoadBalancer(["a", "b"], seed=5, flow_capacity=4096)
        nlb.add_listener("TCP_UDP", 53, tg)
        return nlb
    a, b = build(), build()
    path, targets = b.flow_path(0.0)
    rng = np.random.default_rng(3)
    n = 500
    proto = rng.choice(np.array([6, 17], np.uint8), n)
    lo = (0x0A000000 + rng.integers(0, 40, n)).astype(np.uint64)   # 10.0.0.0/26: repeats
    sport = rng.integers(1024, 1034, n).astype(np.uint16)
    times = np.sort(rng.uniform(0, 600, n))
    dst = lbcore.Flow("tcp", "10.0.0.1", "198.18.0.9", 1, 53)
    got = route(path.ctypes.address, proto, np.zeros(n, np.uint64), lo, dst.dst_hi, dst.dst_lo,
                sport, 53, times)
    want = []
    for i in range(n):
        f = lbcore.Flow.from_fields(int(proto[i]), 0, 0, int(lo[i]), dst.dst_hi, dst.dst_lo,
                                    int(sport[i]), 53, 0)
        d = a.route(f, float(times[i]))
        want.append(targets.index(d.target))
    assert got.tolist() == want

    @numba.njit
    def close(addr, proto, hi, lo, dhi, dlo, sport, dport, now):
        out = np.empty(proto.shape[0], np.int32)
        for i in range(proto.shape[0]):
            out[i] = lbn.l4_close_fields(addr, proto[i], 0, hi[i], lo[i], dhi, dlo, sport[i],
                                         dport, 0, now)
        return out
    end = float(times[-1])
    shut = close(path.ctypes.address, proto[:50], np.zeros(50, np.uint64), lo[:50], dst.dst_hi,
                 dst.dst_lo, sport[:50], 53, end)
    twin = [int(a.close(lbcore.Flow.from_fields(int(proto[i]), 0, 0, int(lo[i]), dst.dst_hi,
                                                dst.dst_lo, int(sport[i]), 53, 0), end))
            for i in range(50)]
    assert shut.tolist() == twin and 0 < sum(twin) < 50
    assert len(path) == len(a.flow_path(end)[0])
