"""``lbcore bench``: lbcore's kernels timed side by side with the installed peer libraries.

Each comparison times lbcore and every peer in the same process, one after the other,
and reports the median of several repeats (ns per item) and the ratio peer / lbcore
(> 1 means lbcore is faster). A peer that is not installed gets a row saying so instead
of a time. The machine may be shared: look at the ratios, not the absolute times.

Where no peer package implements the same algorithm (Maglev, batch rendezvous, the LPM
table, geoproximity, GENEVE), the peer row is the strongest baseline that exists: the
same computation written with numpy (vectorised over the batch) or the standard library,
and its note says so. Jump is also compared with ``jump-consistent-hash`` (import name
``jump``) when it is installed; it is not in lbcore's extras.

The peer comparisons are defined here once, as data, and timed by two drivers: this
command and the pytest-benchmark suite (``benchmarks/bench_peers.py``, which wraps every
:class:`Case` of :func:`cases`). A comparison is a function in ``COMPARISONS``: it takes
``quick``, builds the shared inputs, and returns ``(title, [Case, ...])`` (or a list of
them) with lbcore's case first. A :class:`Case` is a name, a ``make`` that does the
case's own set-up and returns the zero-argument callable to time (both outside the timed
region; an ImportError in ``make`` means the peer is not installed), the items one call
handles, and a note.
"""
from __future__ import annotations

import functools
import importlib
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Case", "cases", "time_case", "run_bench", "format_table", "COMPARISONS",
           "NOT_INSTALLED"]

NOT_INSTALLED = "not installed"
_NODES = [f"10.0.{i // 250}.{i % 250}:80" for i in range(100)]


def _median_ns(fn, items: int, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / items * 1e9


@dataclass(frozen=True)
class Case:
    """One implementation in a comparison. ``make()`` does the set-up and returns the
    zero-argument callable to time (one call handles ``items`` items); ``repeats``: how
    many timed calls the median is taken over. ``measure``: for a case that times
    itself (the simulator reports its own engine rate), returns ``(ns per item, note)``.
    """

    name: str
    make: Callable[[], Callable[[], object]]
    items: int
    note: str = ""
    repeats: int = 7
    measure: Callable[[], tuple[float, str]] | None = None


def _case(name, make, items, quick, note=""):
    return Case(name, make, items, note, 3 if quick else 7)


def time_case(case: Case) -> tuple[str, float | None, str]:
    """``(name, median ns per item, note)``; a peer whose import fails gives ``None``
    and a ``not installed`` note instead of a time."""
    try:
        if case.measure is not None:
            ns, note = case.measure()
            return (case.name, ns, note)
        fn = case.make()
    except ImportError as exc:
        return (case.name, None, f"{NOT_INSTALLED} ({exc.name or exc})")
    return (case.name, _median_ns(fn, case.items, case.repeats), case.note)


def _row(name, make, items, quick, note=""):
    """Time one case now: ``(name, ns per item or None, note)``."""
    return time_case(_case(name, make, items, quick, note))


def _peer(module):
    """Import a peer module by name (an ImportError makes its row ``not installed``)."""
    return importlib.import_module(module)


def _jump_peer():
    """``jump.hash`` of jump-consistent-hash (another package named ``jump`` is no peer)."""
    f = getattr(_peer("jump"), "hash", None)
    if not callable(f):
        raise ImportError("jump-consistent-hash", name="jump")
    return f


def _loop(fn, keys):
    def run():
        for k in keys:
            fn(k)
    return run


def _hashes(n, seed=1):
    return np.random.default_rng(seed).integers(0, 2**64, n, dtype=np.uint64)


# ------------------------------------------------------------------ hash
def _hash_per_call(quick):
    import lbcore
    n = 20_000 if quick else 200_000
    keys = list(range(n))
    bkeys = [k.to_bytes(8, "little") for k in keys]
    return "hash: 64-bit key hash, one call per key (ns/call)", [
        _case("lbcore.hash_key(int)", lambda: _loop(lbcore.hash_key, keys), n, quick,
             "per call from Python"),
        _case("mmh3.hash64(bytes)", lambda: _loop(_peer("mmh3").hash64, bkeys), n, quick),
        _case("xxhash.xxh64_intdigest(bytes)",
             lambda: _loop(_peer("xxhash").xxh64_intdigest, bkeys), n, quick),
    ]


def _hash_37_bytes(quick):
    """The 37 bytes of one flow key (protocol, two v4-mapped 16-byte addresses, two
    ports) hashed per call: the bytes a peer user would hash for a flow."""
    import struct

    import lbcore
    n = 20_000 if quick else 200_000
    key = (bytes([6]) + bytes(10) + b"\xff\xff" + bytes([10, 1, 2, 3]) + bytes(10)
           + b"\xff\xff" + bytes([10, 9, 8, 7]) + struct.pack("!HH", 40000, 443))
    keys = [key] * n
    return "hash: 64-bit hash of a 37-byte flow key, one call per key (ns/call)", [
        _case("lbcore.hash_key(37 bytes)", lambda: _loop(lbcore.hash_key, keys), n, quick),
        _case("mmh3.hash64(37 bytes)", lambda: _loop(_peer("mmh3").hash64, keys), n, quick),
        _case("xxhash.xxh3_64_intdigest(37 bytes)",
              lambda: _loop(_peer("xxhash").xxh3_64_intdigest, keys), n, quick),
    ]


def _flow_hash_batch(quick):
    import lbcore
    n = 100_000 if quick else 1_000_000
    flows = lbcore.Flows.random(n, seed=1, ipv6_fraction=0.25)
    # A peer user hashes a packed 5-tuple per flow from Python.
    m = 10_000 if quick else 100_000
    packed = [b"".join(int(c[i]).to_bytes(w, "little") for c, w in
                       ((flows.protocol, 1), (flows.src_hi, 8), (flows.src_lo, 8),
                        (flows.dst_hi, 8), (flows.dst_lo, 8), (flows.src_port, 2),
                        (flows.dst_port, 2), (flows.seq, 4))) for i in range(m)]
    note = "per flow from Python, bytes pre-packed"
    return "flow: flow hash over a batch of flows (ns/flow)", [
        _case("lbcore.flow_hash(Flows)", lambda: lambda: lbcore.flow_hash(flows), n, quick,
             "one batch call, 5-tuple + TCP ISN, 25% IPv6"),
        _case("xxhash.xxh64_intdigest(packed 5-tuple)",
             lambda: _loop(_peer("xxhash").xxh64_intdigest, packed), m, quick, note),
        _case("mmh3.hash64(packed 5-tuple)", lambda: _loop(_peer("mmh3").hash64, packed), m,
             quick, note),
    ]


# ------------------------------------------------------------------ consistent selection
def _consistent_per_call(quick):
    """Maglev, jump and rendezvous per call from Python, against the consistent-hashing
    peers (ketama ring, rendezvous): each hashes a str key and picks one of 100 nodes."""
    import lbcore
    n = 5_000 if quick else 50_000
    keys = [f"client-{i}" for i in range(n)]
    hk = lbcore.hash_key
    mg, jh, rv = lbcore.Maglev(_NODES), lbcore.JumpHash(_NODES), lbcore.Rendezvous(_NODES)

    def ring():
        return _loop(_peer("uhashring").HashRing(nodes=_NODES, hash_fn="ketama").get_node,
                     keys)

    m = max(200, n // 50)        # clandestined is pure Python, O(nodes) per key: a slice

    def clandestined():
        return _loop(_peer("clandestined").RendezvousHash(_NODES).find_node, keys[:m])
    return "maglev/jump/rendezvous: select per call, str key, 100 nodes (ns/call)", [
        _case("lbcore.Maglev.select(hash_key(k))", lambda: _loop(lambda k: mg.select(hk(k)),
                                                               keys), n, quick,
             "no installed package implements Maglev"),
        _case("lbcore.JumpHash.select(hash_key(k))", lambda: _loop(lambda k: jh.select(hk(k)),
                                                                 keys), n, quick),
        _case("lbcore.Rendezvous.select(hash_key(k))",
             lambda: _loop(lambda k: rv.select(hk(k)), keys), n, quick),
        _case("jump.hash(hash_key(k)) (jump-consistent-hash)",
             lambda: _loop(lambda k, f=_jump_peer(): f(hk(k), 100), keys), n, quick,
             "C jump hash peer, vs JumpHash"),
        _case("uhashring.HashRing.get_node (ketama)", ring, n, quick, "consistent-hash ring"),
        _case("clandestined.RendezvousHash.find_node", clandestined, m, quick,
             "pure-Python rendezvous peer"),
    ]


def _maglev_batch(quick):
    import lbcore
    n = 200_000 if quick else 2_000_000
    h = _hashes(n)
    mg = lbcore.Maglev(_NODES)
    table, m = np.asarray(mg.table), np.uint64(mg.table_size)
    return f"maglev: select_many over {n:,} precomputed hashes, 100 nodes (ns/flow)", [
        _case("lbcore.Maglev.select_many(hashes)", lambda: lambda: mg.select_many(h), n, quick,
             "no installed package implements Maglev; baseline below"),
        _case("numpy table[h % M] (same table)", lambda: lambda: table[h % m], n, quick,
             "vectorised lookup of lbcore's own table"),
    ]


def _jump_numpy(h, buckets):
    """Jump consistent hash (Lamping & Veach, Figure 1), vectorised over the keys."""
    key = h.copy()
    b = np.full(h.shape[0], -1, dtype=np.int64)
    j = np.zeros(h.shape[0], dtype=np.int64)
    live = np.arange(h.shape[0])
    while live.size:
        b[live] = j[live]
        key[live] = key[live] * np.uint64(2862933555777941757) + np.uint64(1)
        j[live] = ((b[live] + 1) * (float(1 << 31) /
                                    ((key[live] >> np.uint64(33)) + np.uint64(1))
                                    .astype(np.float64))).astype(np.int64)
        live = live[j[live] < buckets]
    return b


def _jump_batch(quick):
    import lbcore
    n = 100_000 if quick else 1_000_000
    h = _hashes(n, 2)
    jh = lbcore.JumpHash(_NODES)
    keys = h.tolist()
    return f"jump: select_many over {n:,} precomputed hashes, 100 buckets (ns/flow)", [
        _case("lbcore.JumpHash.select_many(hashes)", lambda: lambda: jh.select_many(h), n,
             quick),
        _case("jump.hash per key (jump-consistent-hash)",
             lambda: _loop(lambda k, f=_jump_peer(): f(k, 100), keys), n, quick,
             "C peer, one call per key from Python"),
        _case("numpy jump hash (same algorithm)", lambda: lambda: _jump_numpy(h, 100), n, quick,
             "vectorised over the batch, one pass per jump"),
    ]


def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _rendezvous_batch(quick):
    import lbcore
    n = 20_000 if quick else 200_000
    h = _hashes(n, 3)
    rv = lbcore.Rendezvous(_NODES)
    ids = _hashes(len(_NODES), 4)

    def numpy_hrw():
        return np.argmax(_mix64(h[:, None] ^ ids[None, :]), axis=1)
    return f"rendezvous: select_many over {n:,} hashes, 100 nodes (ns/flow)", [
        _case("lbcore.Rendezvous.select_many(hashes)", lambda: lambda: rv.select_many(h), n,
             quick, "highest random weight, O(nodes) per flow"),
        _case("numpy HRW (argmax of mixed scores)", lambda: numpy_hrw, n, quick,
             "vectorised N x nodes matrix"),
    ]


def _flowtable(quick):
    import lbcore
    n = 50_000 if quick else 200_000
    flows = lbcore.Flows.random(n, seed=5, protocols=(6, 17))
    mg = lbcore.Maglev(_NODES)
    ft = lbcore.FlowTable(2 * n)
    ft.route_many(flows, 0.0, mg)
    clock = iter(range(1, 10**9))
    keys = list(zip(flows.src_lo.tolist(), flows.dst_lo.tolist(), flows.src_port.tolist(),
                    flows.dst_port.tolist(), flows.protocol.tolist()))
    pinned = dict(zip(keys, mg.select_many(flows).tolist()))
    get = pinned.get
    return f"flowtable: route {n:,} live flows again (all hits) (ns/flow)", [
        _case("lbcore.FlowTable.route_many", lambda: lambda: ft.route_many(
            flows, float(next(clock)), mg), n, quick, "hash + lookup + idle-time refresh"),
        _case("Python dict[5-tuple] lookup", lambda: _loop(get, keys), n, quick,
             "dict of pre-built key tuples, no hashing of the flow, no timers"),
    ]


# ------------------------------------------------------------------ request selection
def _lor_p2c(quick):
    import heapq

    import lbcore
    n = 20_000 if quick else 200_000
    k = 100
    lo = lbcore.LeastOutstanding(_NODES[:k], seed=1)
    p2 = lbcore.PowerOfTwoChoices(_NODES[:k], seed=1)
    for s in (lo, p2):
        for _ in range(k // 2):
            s.pick(0.0)

    def pair(sel):
        acq, rel = sel.pick, sel.release

        def run():
            for _ in range(n):
                rel(acq(0.0))
        return run

    def heap_lor():
        heap = [(0, i) for i in range(k)]
        load = [0] * k

        def run():    # acquire: pop the least loaded live entry; release: push the new count
            for _ in range(n):
                while True:
                    c, i = heapq.heappop(heap)
                    if c == load[i]:
                        break
                load[i] = c + 1
                heapq.heappush(heap, (c + 1, i))
                load[i] -= 1
                heapq.heappush(heap, (load[i], i))
        return run
    return "lor/p2c: acquire + release per call, 100 targets (ns/pair)", [
        _case("lbcore.LeastOutstanding acquire+release", lambda: pair(lo), n, quick,
             "exact LOR, turn-based ties"),
        _case("lbcore.PowerOfTwoChoices acquire+release", lambda: pair(p2), n, quick),
        _case("heapq least-outstanding (stdlib)", heap_lor, n, quick,
             "lazy-deletion heap, lowest-index ties"),
    ]


def _round_robin(quick):
    import lbcore
    n = 200_000 if quick else 2_000_000
    k = 100
    w = np.arange(1, k + 1, dtype=np.float64)
    rr = lbcore.RoundRobin(list(range(k)), weights=w)
    m = n // 100
    weights = w.tolist()

    def smooth_wrr():                # nginx's smooth weighted round robin, per pick
        cur = [0.0] * k
        total = sum(weights)

        def run():
            for _ in range(m):
                best = 0
                for i in range(k):
                    cur[i] += weights[i]
                    if cur[i] > cur[best]:
                        best = i
                cur[best] -= total
        return run
    return "roundrobin: smooth weighted round robin, 100 targets, batch (ns/pick)", [
        _case("lbcore.RoundRobin.pick_many", lambda: lambda: rr.pick_many(n), n, quick),
        _case("Python smooth WRR loop (nginx)", smooth_wrr, m, quick, "stdlib, per pick"),
    ]


def _weighted_random(quick):
    import random

    import lbcore
    n = 100_000 if quick else 1_000_000
    k = 100
    w = np.arange(1, k + 1, dtype=np.float64)
    wr = lbcore.WeightedRandom(list(range(k)), w, seed=1)
    gen = np.random.default_rng(1)
    p = w / w.sum()
    rnd = random.Random(1)
    m = n // 10
    return "alias: weighted random choice, batch (ns/pick)", [
        _case("lbcore.WeightedRandom.pick_many", lambda: lambda: wr.pick_many(n), n, quick,
             "Vose alias table, 100 weighted targets"),
        _case("numpy Generator.choice(p=)", lambda: lambda: gen.choice(k, size=n, p=p), n,
             quick),
        _case("random.choices(weights=)",
             lambda: lambda: rnd.choices(range(k), weights=w.tolist(), k=m), m, quick,
             "stdlib"),
    ]


# ------------------------------------------------------------------ per-call selection (issue 19)
def _round_robin_per_call(quick):
    """Unweighted round robin, one pick per call from Python, against the stdlib's
    rotation: ``next`` on an ``itertools.cycle`` (no counting, no lock, no ``now``)."""
    import itertools

    import lbcore
    n = 20_000 if quick else 200_000
    k = 100
    rr = lbcore.RoundRobin(_NODES[:k])

    def picks(f):
        def run():
            for _ in range(n):
                f(5.0)
        return run

    def cycle():
        nxt, it = next, itertools.cycle(_NODES[:k])

        def run():
            for _ in range(n):
                nxt(it)
        return run
    return "roundrobin: unweighted pick per call, 100 targets (ns/pick)", [
        _case("lbcore.RoundRobin.pick(now)", lambda: picks(rr.pick), n, quick,
              "O(1) cycle form; counted, under the selector's lock"),
        _case("lbcore.RoundRobin.pick_index(now)", lambda: picks(rr.pick_index), n, quick),
        _case("next(itertools.cycle(targets))", cycle, n, quick, "stdlib rotation"),
    ]


def _plain_p2c(targets, seed):
    """Power of two choices in plain Python: two distinct random targets, the less
    loaded wins; release by target through a dict (the peer of PowerOfTwoChoices)."""
    import random
    rnd = random.Random(seed)
    load = [0] * len(targets)
    index = {t: i for i, t in enumerate(targets)}
    m = len(targets)
    below = rnd.randrange

    def acquire():
        x = below(m)
        y = below(m - 1)
        if y >= x:
            y += 1
        if load[y] < load[x]:
            x = y
        load[x] += 1
        return targets[x]

    def release(t):
        load[index[t]] -= 1
    return acquire, release


def _heapq_lor(targets):
    """Least outstanding with ``heapq`` and lazy deletion (stale entries skipped):
    acquire pops the least loaded live entry, release pushes the new count."""
    import heapq
    load = {t: 0 for t in targets}
    heap = [(0, i, t) for i, t in enumerate(targets)]
    stamp = [len(targets)]

    def acquire():
        while True:
            c, _, t = heap[0]
            if load[t] == c:
                break
            heapq.heappop(heap)
        load[t] = c + 1
        stamp[0] += 1
        heapq.heapreplace(heap, (c + 1, stamp[0], t))
        return t

    def release(t):
        c = load[t] - 1
        load[t] = c
        stamp[0] += 1
        heapq.heappush(heap, (c, stamp[0], t))
        if len(heap) > 4 * len(load) + 64:        # drop stale entries now and then
            heap[:] = [e for e in heap if load[e[2]] == e[0]]
            heapq.heapify(heap)
    return acquire, release


def _lor_p2c_by_target(quick):
    """LeastOutstanding and PowerOfTwoChoices acquire + release by target identity
    (str targets, half of them with one request in flight) against heapq least
    outstanding and plain-Python power of two choices, at several target counts."""
    import lbcore
    n = 5_000 if quick else 50_000
    out = []
    for k in ((100, 10_000) if quick else (100, 10_000, 100_000, 1_000_000)):
        names = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:80" for i in range(k)]

        def warmed(acquire, release, k=k):
            for _ in range(k // 2):
                acquire()

            def run():
                for _ in range(n):
                    release(acquire())
            return run

        def ours(cls, names=names):
            sel = cls(names, seed=1)
            acq = sel.pick
            return warmed(lambda: acq(5.0), sel.release)
        out.append((f"lor/p2c: acquire + release by target, {k:,} targets (ns/pair)", [
            _case("lbcore.LeastOutstanding pick+release", lambda c=lbcore.LeastOutstanding:
                  ours(c), n, quick, "exact LOR, turn-based ties"),
            _case("lbcore.PowerOfTwoChoices pick+release", lambda c=lbcore.PowerOfTwoChoices:
                  ours(c), n, quick),
            _case("heapq least-outstanding (lazy deletion)",
                  lambda names=names: warmed(*_heapq_lor(names)), n, quick, "stdlib"),
            _case("plain-Python power of two choices",
                  lambda names=names: warmed(*_plain_p2c(names, 1)), n, quick, "stdlib"),
        ]))
    return out


def _maglev_build(quick):
    """``Maglev(targets)`` for 10,000 str targets against its own populate kernel on
    the same offsets and skips (the floor: everything else is validation and order)."""
    import lbcore
    from lbcore._targetset import canonical_order, parse_targets
    k = 10_000
    names = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:80" for i in range(k)]
    m = lbcore.maglev_table_size(k)
    _, keys, h1, h2 = parse_targets(names, 0)
    order = canonical_order(keys, h1, h2)
    off = h1[order] % np.uint64(m)
    skip = h2[order] % np.uint64(m - 1) + np.uint64(1)
    return f"maglev: build over {k:,} targets, table {m:,} (ns/target)", [
        _case("lbcore.Maglev(targets)", lambda: lambda: lbcore.Maglev(names, table_size=m), k,
              quick, "no installed package implements Maglev; its own kernel below"),
        _case("lbcore.maglev_populate (kernel alone)",
              lambda: lambda: lbcore.maglev_populate(off, skip, m), k, quick,
              "same offsets and skips"),
    ]


def _flowtable_new_flows(quick):
    """``FlowTable.route_many`` over a batch of flows the table has not seen (presized,
    empty table) against the exported lookup-then-insert kernels from numba (each miss
    hashed and probed twice: what route_many did before) and a Python dict."""
    import lbcore
    n = 100_000 if quick else 1_000_000
    flows = lbcore.Flows.random(n, seed=8, protocols=(6, 17))
    mg = lbcore.Maglev(_NODES)
    cols = flows.columns()

    def ours():
        return lambda: lbcore.FlowTable(n).route_many(flows, 1.0, mg)

    def two_kernels():
        import numba

        from lbcore import numba as lbn

        @numba.njit
        def route(addr, c0, c1, c2, c3, c4, c5, c6, c7, c8, now, targets):
            out = np.empty(c0.shape[0], dtype=np.int32)
            lbn.flowtable_lookup_many(addr, c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes,
                                      c3.ctypes, c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes,
                                      c8.ctypes, now, out.ctypes)
            lbn.flowtable_insert_many(addr, c0.shape[0], c0.ctypes, c1.ctypes, c2.ctypes,
                                      c3.ctypes, c4.ctypes, c5.ctypes, c6.ctypes, c7.ctypes,
                                      c8.ctypes, targets.ctypes, now, out.ctypes)
            return out
        keep = []

        def run():
            ft = lbcore.FlowTable(n)     # fresh: its clock is before 1.0
            keep[:] = [ft]
            return route(ft.address, *cols, 1.0, mg.select_many(flows))
        run()                        # compile outside the timed region
        return run

    def python_dict():
        m = n // 10
        keys = list(zip(flows.protocol[:m].tolist(), flows.src_lo[:m].tolist(),
                        flows.dst_lo[:m].tolist(), flows.src_port[:m].tolist(),
                        flows.dst_port[:m].tolist()))

        def run():
            table = {}
            chosen = mg.select_many(flows[:m]).tolist()
            for k, t in zip(keys, chosen):
                if k not in table:
                    table[k] = (t, 1.0)
        return run, m
    return f"flowtable: route_many over {n:,} new flows, presized table (ns/flow)", [
        _case("lbcore.FlowTable.route_many", ours, n, quick,
              "table key + Maglev hash, one probe per new flow, LRU link"),
        _case("numba lookup_many + select_many + insert_many", two_kernels, n, quick,
              "the exported kernels: every miss hashed and probed twice"),
        _case("Python dict[5-tuple] insert", lambda: python_dict()[0], n // 10, quick,
              "pre-built key tuples, Maglev batch select"),
    ]


def _nlb_route_pinned(quick):
    """``NetworkLoadBalancer.route`` / ``GatewayLoadBalancer.route`` for a pinned flow,
    one call per flow, against a plain-Python dict flow table and FlowTable.route."""
    import lbcore
    from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup
    n = 20_000 if quick else 200_000
    k = 1_000
    f = lbcore.Flows.random(k, seed=3, protocols=(6, 17))
    seq = np.where(f.flags & 2, f.seq.astype(np.int64), -1)
    flows = lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, 80, seq)
    items = [flows[i] for i in range(k)] * (n // k)

    def targets():
        return [Target(f"{z}{i}", z) for z in "AB" for i in range(5)]

    def lb(kind):
        if kind == "nlb":
            b = NetworkLoadBalancer(["A", "B"], seed=1, table_size=1009)
            b.add_listener("TCP_UDP", 80, TargetGroup(targets(), protocol="TCP_UDP",
                                                      healthy=True))
        else:
            b = GatewayLoadBalancer(["A", "B"], TargetGroup(
                targets(), protocol="GENEVE", healthy=True), seed=1, table_size=1009)
        for x in items[:k]:
            b.route(x, 1.0)
        route = b.route

        def run():
            for x in items:
                route(x, 2.0)
        return run

    def dict_table():
        mg = lbcore.Maglev([f"T{i}" for i in range(10)], table_size=1009)
        table = {}
        for x in items[:k]:
            table[(x.protocol, x.src_lo, x.dst_lo, x.src_port, x.dst_port)] = \
                (mg.select(x), 1.0)

        def run():                   # key tuple, lookup, refresh of the idle time
            get = table.get
            for x in items:
                key = (x.protocol, x.src_lo, x.dst_lo, x.src_port, x.dst_port)
                hit = get(key)
                if hit is not None:
                    table[key] = (hit[0], 2.0)
        return run

    def flowtable():
        mg = lbcore.Maglev([f"T{i}" for i in range(10)], table_size=1009)
        ft = lbcore.FlowTable(4 * k)
        for x in items[:k]:
            ft.route(x, 1.0, mg)
        route = ft.route

        def run():
            for x in items:
                route(x, 2.0, mg)
        return run
    return f"nlb/gwlb: route one pinned flow per call, {k:,} live flows (ns/call)", [
        _case("lbcore.elb.NetworkLoadBalancer.route", lambda: lb("nlb"), n, quick,
              "listener, target state, connection table, decision"),
        _case("lbcore.elb.GatewayLoadBalancer.route", lambda: lb("gwlb"), n, quick),
        _case("Python dict flow table", dict_table, n, quick,
              "5-tuple key, lookup, idle-time refresh; no listener or target state"),
        _case("lbcore.FlowTable.route", flowtable, n, quick, "the table alone"),
    ]


# ------------------------------------------------------------------ token buckets
def _bucket_per_call(quick):
    import lbcore
    n = 5_000 if quick else 50_000
    m = n // 5                       # the pure-Python peers take microseconds per call
    big = 10**9
    tb = lbcore.TokenBuckets(1024, rate=big, burst=big)
    clock = [1.0]

    def ours():
        f = tb.check

        def run():
            t = clock[0]
            for _ in range(n):
                f(7, t)
            clock[0] = t + 1e-3
        return run

    def token_bucket():
        tbm = _peer("token_bucket")
        lim = tbm.Limiter(big, big, tbm.MemoryStorage())
        return lambda: [lim.consume("k7") for _ in range(n)]

    def limits(kind):
        def make():
            lm = _peer("limits")
            lim = getattr(lm.strategies, kind)(lm.storage.MemoryStorage())
            item = lm.RateLimitItemPerSecond(big)
            return lambda: [lim.hit(item, "k7") for _ in range(m)]
        return make

    def pyrate():
        pl = _peer("pyrate_limiter")
        bucket = pl.StateBucket([pl.Rate(big, 1000, burst=big)], algorithm=pl.TokenBucket())
        lim = pl.Limiter(bucket)
        return lambda: [lim.try_acquire("k7", blocking=False) for _ in range(m)]
    return "bucket: token bucket try-acquire, one call per request (ns/call)", [
        _case("lbcore.TokenBuckets.check", ours, n, quick, "exact integer refill"),
        _case("token_bucket.Limiter.consume", token_bucket, n, quick),
        _case("limits MovingWindowRateLimiter.hit", limits("MovingWindowRateLimiter"), m,
             quick),
        _case("limits FixedWindowRateLimiter.hit", limits("FixedWindowRateLimiter"), m, quick),
        _case("pyrate_limiter TokenBucket try_acquire", pyrate, m, quick),
    ]


def _bucket_batch(quick):
    import lbcore
    n = 200_000 if quick else 2_000_000
    keys = 10_000
    rng = np.random.default_rng(6)
    b = rng.integers(0, keys, n).astype(np.int32)
    t = np.sort(rng.integers(0, 60 * 10**9, n)).astype(np.int64)
    state = {}

    def ours():
        def run():
            state["tb"] = lbcore.TokenBuckets(keys, rate=0.5, burst=5)
            return state["tb"].check_many(b, t, unit="ns")
        return run

    def python_dict():               # the same decisions, one dict update per request
        ts, bs = (t / 1e9).tolist(), b.tolist()
        m = n // 20

        def run():
            tokens, last = {}, {}
            for i in range(m):
                k, now = bs[i], ts[i]
                tok = min(5.0, tokens.get(k, 5.0) + (now - last.get(k, now)) * 0.5)
                last[k] = now
                tokens[k] = tok - 1 if tok >= 1 else tok
        return run, m
    return f"bucket: acquire_many, {n:,} requests over {keys:,} keys (ns/decision)", [
        _case("lbcore.TokenBuckets.check_many", ours, n, quick, "includes building buckets"),
        _case("Python dict token buckets", lambda: python_dict()[0], n // 20, quick,
             "float refill per request, stdlib"),
    ]


# ------------------------------------------------------------------ Route 53 kernels
def _geo(quick):
    import lbcore
    n = 100_000 if quick else 1_000_000
    e = 20
    rng = np.random.default_rng(1)
    geo = lbcore.Geoproximity(rng.uniform(-90, 90, e), rng.uniform(-180, 180, e),
                              rng.integers(-99, 100, e))
    lats, lons = rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)
    elat, elon, bias = np.radians(geo.latitudes), np.radians(geo.longitudes), geo.biases
    f = np.where(bias > 0, 1 - bias / 100, 1 / (1 + bias / 100))

    def numpy_nearest():
        out = np.empty(n, dtype=np.int64)
        for s in range(0, n, 50_000):
            a = np.radians(lats[s:s + 50_000])[:, None]
            b = np.radians(lons[s:s + 50_000])[:, None]
            h = (np.sin((elat[None, :] - a) / 2) ** 2 +
                 np.cos(a) * np.cos(elat[None, :]) * np.sin((elon[None, :] - b) / 2) ** 2)
            out[s:s + 50_000] = np.argmin(np.arcsin(np.sqrt(np.minimum(h, 1.0))) * f, axis=1)
        return out
    return f"geo: geoproximity nearest of {n:,} clients x {e} endpoints (ns/client)", [
        _case("lbcore.Geoproximity.nearest_many", lambda: lambda: geo.nearest_many(lats, lons),
             n, quick, "biased great-circle distance"),
        _case("numpy haversine + argmin", lambda: numpy_nearest, n, quick,
             "vectorised, chunks of 50k clients"),
    ]


def _lpm(quick):
    import ipaddress

    import lbcore
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(2)
    nets = {(int(a) >> (32 - int(ln)) << (32 - int(ln)), int(ln))
            for a, ln in zip(rng.integers(0, 2**32, 10_000), rng.integers(8, 25, 10_000))}
    nets = sorted(nets)
    table = lbcore.PrefixTable([ipaddress.IPv4Network(x) for x in nets])
    addrs = rng.integers(0, 2**32, n).astype(np.uint32)
    by_len = {}
    for i, (a, ln) in enumerate(nets):
        by_len.setdefault(ln, {})[a >> (32 - ln)] = i
    lens = sorted(by_len, reverse=True)
    m = n // 20
    sample = addrs[:m].tolist()

    def dict_lpm():                  # longest first: one dict probe per prefix length
        def run():
            for a in sample:
                for ln in lens:
                    v = by_len[ln].get(a >> (32 - ln))
                    if v is not None:
                        break
        return run
    return f"lpm: longest-prefix match, {len(nets):,} IPv4 prefixes (ns/lookup)", [
        _case("lbcore.PrefixTable.lookup_many(version=4)", lambda: lambda: table.lookup_many(addrs, version=4),
             n, quick, "batch of uint32 addresses"),
        _case("Python dict per prefix length", dict_lpm, m, quick, "stdlib, per address"),
    ]


# ------------------------------------------------------------------ ELB L4 + GENEVE
def _l4_route_many(quick):
    import lbcore
    from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup
    n = 50_000 if quick else 500_000
    f = lbcore.Flows.random(n, seed=1, protocols=(6, 17))
    seq = np.where(f.flags & 2, f.seq.astype(np.int64), -1)
    flows = lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, 80, seq)

    def targets():
        return [Target(f"{z}{i}", z) for z in "AB" for i in range(5)]

    def pinned(kind):
        def make():
            if kind == "nlb":
                lb = NetworkLoadBalancer(["A", "B"], seed=1, flow_capacity=2 * n)
                lb.add_listener("TCP_UDP", 80, TargetGroup(targets(), protocol="TCP_UDP",
                                                           healthy=True))
            else:
                lb = GatewayLoadBalancer(["A", "B"], TargetGroup(
                    targets(), protocol="GENEVE", healthy=True), seed=1, flow_capacity=2 * n)
            lb.route_many(flows, 0.0)
            clock = iter(range(1, 10**9))
            return lambda: lb.route_many(flows, float(next(clock)))
        return make
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    return f"nlb/gwlb: route_many, {n:,} pinned flows, 2 AZs x 5 targets (ns/flow)", [
        _case("lbcore.elb.NetworkLoadBalancer.route_many", pinned("nlb"), n, quick,
             "flow table hit + target state; no peer"),
        _case("lbcore.elb.GatewayLoadBalancer.route_many", pinned("gwlb"), n, quick),
        _case("lbcore.Maglev.select_many (kernel alone)", lambda: lambda: mg.select_many(flows),
             n, quick, "the floor: hash + lookup, no tracking"),
    ]


def _geneve(quick):
    import struct

    from lbcore import geneve
    n = 20_000 if quick else 200_000
    payload = bytes(range(64))
    opts = geneve.gwlb_options(0x1122334455667788, 0x99AABBCCDDEEFF00, 0xCAFEF00D)
    raw = [(o.option_class, o.type, bytes(o.data)) for o in opts]
    packet = geneve.encode(payload, vni=0, protocol=0x0800, options=opts)
    hdr, opt_hdr = struct.Struct("!BBHI"), struct.Struct("!HBB")

    def struct_encode(_):
        body = b"".join(opt_hdr.pack(c, t, len(d) // 4) + d for c, t, d in raw)
        return hdr.pack(len(body) // 4, 0, 0x0800, 0) + body + payload

    def struct_decode(data):
        b0, _, proto, vni = hdr.unpack_from(data)
        end, i, out = 8 + (b0 & 0x3F) * 4, 8, []
        while i < end:
            c, t, ln = opt_hdr.unpack_from(data, i)
            out.append((c, t, data[i + 4:i + 4 + (ln & 0x1F) * 4]))
            i += 4 + (ln & 0x1F) * 4
        return proto, vni >> 8, out, data[end:]
    enc = _loop(lambda _: geneve.encode(payload, vni=0, protocol=0x0800, options=opts),
                range(n))
    return [
        ("geneve: encode one GWLB packet (3 options, 64-byte payload) per call (ns/packet)", [
            _case("lbcore.geneve.encode", lambda: enc, n, quick),
            _case("struct encode (stdlib)", lambda: _loop(struct_encode, range(n)), n, quick,
                 "no GENEVE package installed; struct.pack baseline"),
        ]),
        ("geneve: decode one GWLB packet (3 options) per call (ns/packet)", [
            _case("lbcore.geneve.decode", lambda: _loop(geneve.decode, [packet] * n), n, quick),
            _case("struct decode (stdlib)", lambda: _loop(struct_decode, [packet] * n), n,
                 quick, "struct.unpack_from baseline"),
        ]),
    ]


def _simulator(quick):
    from lbcore.sim import load_scenario, simulate
    n = 200_000 if quick else 1_000_000
    scenario = load_scenario()

    def measure():
        rps = simulate(scenario, requests=n)["engine"]["requests_per_second"]
        return 1e9 / rps, f"{rps / 1e6:.2f} M requests/s; no peer"
    return (f"sim: lbcore simulate, default scenario, {n:,} requests (ns/request)",
            [Case("lbcore._sim engine", lambda: lambda: simulate(scenario, requests=n), n,
                  "no peer", measure=measure)])


# ------------------------------------------------------------------ hash: issue 19 rows
def _v4_flows(n, seed=1, protocols=(6, 17), tcp_seq=True):
    import lbcore
    return lbcore.Flows.random(n, seed=seed, protocols=protocols, tcp_seq=tcp_seq)


@functools.lru_cache(maxsize=None)
def _numba_v4_hasher():
    """lbcore's IPv4 5-tuple flow hash (docs/hashing.md) written directly in numba, free of
    branches: the peer the batch kernel is measured against (numba compiles for the host
    CPU, e.g. AVX-512). It is checked against lbcore before it is timed."""
    numba = _peer("numba")
    u = np.uint64

    @numba.njit(inline="always")
    def mum(a, b):
        al, ah, bl, bh = a & u(0xFFFFFFFF), a >> u(32), b & u(0xFFFFFFFF), b >> u(32)
        ll, lh, hl, hh = al * bl, al * bh, ah * bl, ah * bh
        mid = (ll >> u(32)) + (lh & u(0xFFFFFFFF)) + (hl & u(0xFFFFFFFF))
        lo = (mid << u(32)) | (ll & u(0xFFFFFFFF))
        return lo ^ (hh + (lh >> u(32)) + (hl >> u(32)) + (mid >> u(32)))

    @numba.njit(inline="always")
    def mix(z):
        z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
        return z ^ (z >> u(31))

    @numba.njit
    def hash_v4(proto, flags, src, dst, sport, dport, seq, k0, k1, k6, k7):
        n = proto.shape[0]
        out = np.empty(n, dtype=np.uint64)
        for i in range(n):
            a = ((src[i] & u(0xFFFFFFFF)) << u(32)) | (dst[i] & u(0xFFFFFFFF))
            b = (((u(sport[i]) << u(16)) | u(dport[i])) << u(32)) | u(proto[i])
            h = mum(a ^ k0, b ^ k1) ^ a ^ b
            sq = u(seq[i])
            h2 = mum(h ^ k6, sq ^ k7) ^ h ^ sq
            m = u(0) - ((u(flags[i]) >> u(1)) & u(1))
            out[i] = mix((h2 & m) | (h & ~m))
        return out
    return hash_v4


def _numba_v4_case(flows):
    """make() of the hand-written numba row: compiled and checked outside the timing."""
    import lbcore
    hash_v4 = _numba_v4_hasher()
    state, keys = 0, []
    for _ in range(8):                      # the seed-0 key words (SplitMix64 outputs)
        state = (state + 0x9E3779B97F4A7C15) % 2**64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        keys.append(np.uint64(z ^ (z >> 31)))
    args = (flows.protocol, flows.flags, flows.src_lo, flows.dst_lo, flows.src_port,
            flows.dst_port, flows.seq, keys[0], keys[1], keys[6], keys[7])
    if not np.array_equal(hash_v4(*args), lbcore.flow_hash(flows)):
        raise AssertionError("the hand-written numba flow hash disagrees with lbcore")
    return lambda: hash_v4(*args)


def _on_path(path, fn):
    """``fn`` run on one instruction-set path of the IPv4 batch hash (then restored)."""
    from lbcore._hash import use_simd_path

    def run():
        previous = use_simd_path(path)
        try:
            return fn()
        finally:
            use_simd_path(previous)
    return run


def _flow_hash_v4(quick):
    import lbcore
    from lbcore._hash import simd_path, simd_paths
    n = 100_000 if quick else 1_000_000
    flows = _v4_flows(n)
    cols = [flows.protocol, flows.flags, flows.src_lo, flows.dst_lo, flows.src_port,
            flows.dst_port, flows.seq]
    outs = [np.empty_like(c) for c in cols]

    def copy():
        for c, o in zip(cols, outs):
            np.copyto(o, c)
    rows = [
        _case(f"lbcore.flow_hash(Flows) [{simd_path()}]", lambda: lambda: lbcore.flow_hash(flows),
              n, quick, "IPv4, TCP with ISN / UDP 50:50, 5-tuple; best path of this CPU"),
        _case("numba branch-free IPv4 hash (hand-written)", lambda: _numba_v4_case(flows), n,
              quick, "same arithmetic, host-CPU code; checked equal to lbcore"),
        _case("floor: np.copyto of the 34 input bytes/flow", lambda: copy, n, quick,
              "copying the columns the hash reads"),
    ]
    rows += [_case(f"lbcore.flow_hash(Flows) [{p}]",
                   lambda p=p: _on_path(p, lambda: lbcore.flow_hash(flows)), n, quick,
                   "forced path (lbcore._hash.use_simd_path)")
             for p in simd_paths() if p != simd_path()]
    return "flow: flow_hash over an IPv4 batch, per instruction-set path (ns/flow)", rows


def _maglev_flows(quick):
    import lbcore
    n = 200_000 if quick else 1_000_000
    mg = lbcore.Maglev(_NODES)
    mixes = [("TCP with ISN / UDP 50:50", dict(protocols=(6, 17))),
             ("all UDP", dict(protocols=(17,))),
             ("all TCP with ISN", dict(protocols=(6,))),
             ("TCP without ISN / UDP", dict(protocols=(6, 17), tcp_seq=False))]
    tables = []
    for label, kw in mixes:
        flows = _v4_flows(n, **kw)
        tables.append((f"maglev: select_many(Flows), IPv4 {label}, 100 nodes (ns/flow)", [
            _case("lbcore.Maglev.select_many(Flows) (fused)",
                  lambda flows=flows: lambda: mg.select_many(flows), n, quick,
                  "no installed package implements Maglev; vs lbcore's two calls"),
            _case("lbcore two calls: select_many(flow_hash(f))",
                  lambda flows=flows: lambda: mg.select_many(lbcore.flow_hash(flows)), n, quick,
                  "hash array, then lookup"),
        ]))
    return tables


def _loop2(fn, keys, arg):
    def run():
        for k in keys:
            fn(k, arg)
    return run


def _jump_key_per_call(quick):
    """Per call from Python with an int key: JumpHash.select against jump.hash, hash_key
    against xxh3 of the int's 8 bytes."""
    import lbcore
    n = 20_000 if quick else 200_000
    keys = [int(k) for k in _hashes(n, 5)]
    bkeys = [k.to_bytes(8, "little") for k in keys]
    jh = lbcore.JumpHash(_NODES)
    return [
        ("jump: select per call, int hash, 100 buckets (ns/call)", [
            _case("lbcore.JumpHash.select(int)", lambda: _loop(jh.select, keys), n, quick),
            _case("jump.hash(int, 100) (jump-consistent-hash)",
                  lambda: _loop2(_jump_peer(), keys, 100), n, quick, "C peer, called directly"),
            _case("lbcore.jump_hash(int, 100)", lambda: _loop2(lbcore.jump_hash, keys, 100), n,
                  quick, "lbcore's function, the same loop"),
        ]),
        ("hash: int key hash per call (ns/call)", [
            _case("lbcore.hash_key(int)", lambda: _loop(lbcore.hash_key, keys), n, quick),
            _case("xxhash.xxh3_64_intdigest(8 bytes)",
                  lambda: _loop(_peer("xxhash").xxh3_64_intdigest, bkeys), n, quick,
                  "the int's bytes packed in advance"),
        ]),
    ]


@functools.lru_cache(maxsize=None)
def _numba_flow_loops():
    numba = _peer("numba")
    lbn = importlib.import_module("lbcore.numba")

    @numba.njit
    def per_element(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, seed):
        out = np.empty(proto.shape[0], dtype=np.uint64)
        for i in range(proto.shape[0]):
            out[i] = lbn.flow_hash(proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                                   dst_lo[i], sport[i], dport[i], seq[i], 0, 0, seed)
        return out

    @numba.njit
    def per_element_seeded(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                           seed):
        out = np.empty(proto.shape[0], dtype=np.uint64)
        for i in range(proto.shape[0]):
            out[i] = lbn.flow_hash_seeded(proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                                          dst_lo[i], sport[i], dport[i], seq[i], 0, 0, seed)
        return out
    return per_element, per_element_seeded


def _numba_per_element(quick):
    import lbcore
    n = 100_000 if quick else 1_000_000
    flows = _v4_flows(n)
    cols = flows.columns()
    seed = np.uint64(12345)

    def make(which):
        fn = _numba_flow_loops()[which]
        if not np.array_equal(fn(*cols, seed), lbcore.flow_hash(flows, seed=12345)):
            raise AssertionError("lbcore.numba per-element flow hash disagrees")
        return lambda: fn(*cols, seed)
    return "numba: per-element flow hash in an @njit loop, IPv4 (ns/flow)", [
        _case("lbcore.numba.flow_hash per element", lambda: make(0), n, quick,
              "key words inline, hoisted out of the loop"),
        _case("lbcore.flow_hash(Flows) (batch kernel)",
              lambda: lambda: lbcore.flow_hash(flows, seed=12345), n, quick),
        _case("lbcore.numba.flow_hash_seeded per element", lambda: make(1), n, quick,
              "lb_flow_hash: expands the seed on every call"),
    ]


# the SimPy comparison's workload (issue 14): Poisson arrivals into least outstanding
# requests over 5 targets (8 workers each), exponential service; offered load 0.5
SIMPY_RATE, SIMPY_MEAN, SIMPY_TARGETS, SIMPY_WORKERS = 2000.0, 0.01, 5, 8

_SIMPY_TARGET = ('  {{ id = "t{k}", az = "us-east-1a", workers = %d, '
                 'service = {{ distribution = "exponential", mean = %r }} }},\n'
                 % (SIMPY_WORKERS, SIMPY_MEAN))
SIMPY_SCENARIO = """
[simulation]
name = "lor-5"
[traffic]
rate = [{ at = 0, rps = %r }]
clients = [{ name = "c", rtt = { us-east-1 = 0.0 } }]
requests = [{ name = "get", host = "www.example.com" }]
[[route53.records]]
name = "www.example.com"
set_identifier = "a"
alias_target = "alb"
evaluate_target_health = false
[[load_balancers]]
name = "alb"
region = "us-east-1"
default_forward = [{ target_group = "web" }]
[[target_groups]]
name = "web"
attributes = { "load_balancing.algorithm.type" = "least_outstanding_requests" }
targets = [
""" % SIMPY_RATE + "".join(_SIMPY_TARGET.format(k=k) for k in range(SIMPY_TARGETS)) + "]\n"


def simpy_least_outstanding(n: int, seed: int = 1) -> float:
    """The SimPy model of :data:`SIMPY_SCENARIO`: ``n`` Poisson arrivals, each sent to the
    target with the fewest outstanding requests (lowest index on ties), served FIFO by its
    workers for an exponential time. Returns the simulated end time (seconds)."""
    simpy = _peer("simpy")
    import random
    env = simpy.Environment()
    rng = random.Random(seed)
    servers = [simpy.Resource(env, capacity=SIMPY_WORKERS) for _ in range(SIMPY_TARGETS)]
    outstanding = [0] * SIMPY_TARGETS

    def request(k):
        with servers[k].request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / SIMPY_MEAN))
        outstanding[k] -= 1

    def arrivals():
        for _ in range(n):
            yield env.timeout(rng.expovariate(SIMPY_RATE))
            k = min(range(SIMPY_TARGETS), key=outstanding.__getitem__)
            outstanding[k] += 1
            env.process(request(k))

    env.process(arrivals())
    env.run()
    return env.now


def _simpy(quick):
    from lbcore.sim import parse_scenario, simulate
    n = 50_000 if quick else 1_000_000
    scenario = parse_scenario(SIMPY_SCENARIO, "lor-5")
    return (f"sim: Poisson arrivals, least outstanding over {SIMPY_TARGETS} targets, "
            f"exponential service, {n:,} requests (ns/request, whole run)",
            [Case("lbcore simulate (compile + engine)",
                  lambda: lambda: simulate(scenario, requests=n), n, "", 1 if quick else 3),
             Case("SimPy", lambda: _simpy_run(n), n, "", 1)])


def _simpy_run(n):
    _peer("simpy")            # ImportError here: the row reads "not installed"
    return lambda: simpy_least_outstanding(n)


# ------------------------------------------------------------------ batch/API rows (perf-batch)
def _shifted(times, span, k):
    """k copies of ``times``, each ``span`` seconds after the previous (a stateful batch
    API timed repeatedly needs times that never go back)."""
    it = iter([times + span * (j + 1) for j in range(k)])
    return lambda: next(it)


def _apigateway_check_many(quick):
    from lbcore import Quotas, TokenBuckets, check_chains
    from lbcore.apigateway import ApiGateway, ThrottleSettings
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(3)
    ki = rng.integers(0, 1000, n)
    ri = rng.integers(0, 3, n)
    mi = rng.integers(0, 2, n)
    keys = np.array([f"key{i}" for i in range(1000)], dtype=object)[ki]
    res = np.array(["/pets", "/cats", "/dogs"], dtype=object)[ri]
    meth = np.array(["GET", "POST"], dtype=object)[mi]
    times = np.sort(rng.uniform(0, 600, n))
    k = 12 if quick else 9

    def gateway():
        g = ApiGateway()
        g.add_stage("api", "prod", throttle=ThrottleSettings(2000, 1000))
        g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=ThrottleSettings(2, 5),
                         quota={"limit": 500, "period": "DAY"})
        for i in range(1000):
            g.add_api_key(f"key{i}", "p")
        nxt = _shifted(times, 600.0, k)
        return lambda: g.check_many(keys, res, meth, nxt())

    def chain_kernel():              # the same decisions with the chains already built
        tb = TokenBuckets(1007, rate=[10000] + [2] * 1000 + [2000] * 6,
                          burst=[5000] + [5] * 1000 + [1000] * 6)
        qs = Quotas()
        for _ in range(1000):
            qs.add(500, "DAY")
        chains = np.stack([1 + ki, 1001 + ri * 2 + mi, np.zeros(n, np.int64)],
                          axis=1).astype(np.int32)
        quota = ki.astype(np.int32)
        nxt = _shifted(times, 600.0, k)
        return lambda: check_chains(tb, qs, chains, quota, nxt())
    return (f"apigateway: check_many, {n:,} requests, string keys/resources/methods "
            "(ns/request)", [
                _case("lbcore.apigateway.ApiGateway.check_many", gateway, n, quick,
                      "factorise strings + resolve kinds + one kernel call"),
                _case("lbcore.check_chains (chain kernel alone)", chain_kernel, n, quick,
                      "the floor: chains pre-expanded per request"),
            ])


def _lpm_per_call(quick):
    import ipaddress

    import lbcore
    n = 20_000 if quick else 200_000
    rng = np.random.default_rng(2)
    nets = sorted({(int(a) >> (32 - int(ln)) << (32 - int(ln)), int(ln))
                   for a, ln in zip(rng.integers(0, 2**32, 10_000),
                                    rng.integers(8, 25, 10_000))})
    cidrs = [f"{ipaddress.IPv4Address(a)}/{ln}" for a, ln in nets]
    table = lbcore.PrefixTable(cidrs)
    addrs = [str(ipaddress.IPv4Address(int(a))) for a in rng.integers(0, 2**32, n)]

    def pytricia():
        pt = _peer("pytricia").PyTricia(32)
        for i, c in enumerate(cidrs):
            pt[c] = i
        return _loop(pt.get, addrs)

    def stdlib():                    # parse with socket, then one dict probe per length
        import socket
        by_len = {}
        for i, (a, ln) in enumerate(nets):
            by_len.setdefault(ln, {})[a >> (32 - ln)] = i
        lens = sorted(by_len, reverse=True)
        pton, frm = socket.inet_pton, int.from_bytes

        def one(s):
            a = frm(pton(socket.AF_INET, s), "big")
            for ln in lens:
                v = by_len[ln].get(a >> (32 - ln))
                if v is not None:
                    return v
            return -1
        return _loop(one, addrs)
    return f"lpm: lookup(str), one IPv4 address text per call, {len(nets):,} prefixes (ns/call)", [
        _case("lbcore.PrefixTable.lookup(str)", lambda: _loop(table.lookup, addrs), n, quick,
              "parsed in C (inet_pton)"),
        _case("pytricia PyTricia.get(str)", pytricia, n, quick, "C patricia trie"),
        _case("socket.inet_pton + dict per prefix length", stdlib, n, quick, "stdlib"),
    ]


def _alb_wildcards(quick):
    from lbcore.elb import Request, RuleSet, parse_rule
    n = 1000
    m = 2_000 if quick else 10_000
    shapes = [("prefix /api/v{i}/*", lambda i: f"/api/v{i}/*", lambda i, k: f"/api/v{i}/p{k}"),
              ("infix */v{i}/*", lambda i: f"*/v{i}/*", lambda i, k: f"/x{k}/v{i}/y"),
              ("two stars *a{i}*b*", lambda i: f"*a{i}*b*", lambda i, k: f"/q{k}a{i}/zb")]
    cases = []
    for name, pat, path in shapes:
        def make(pat=pat, path=path):
            rules = [parse_rule({"Priority": str(i + 1), "Conditions": [
                {"Field": "path-pattern", "PathPatternConfig": {"Values": [pat(i)]}}]})
                for i in range(n)]
            rs = RuleSet(rules, parse_rule({"Priority": "default", "IsDefault": True}))
            # every request a new path: the per-slot value caches always miss
            reqs = iter([Request("GET", path(n - 1 - k % 7, k)) for k in range(m * 10)])
            match = rs.match

            def run():
                for _ in range(m):
                    match(next(reqs))
            return run
        cases.append(_case(f"lbcore.elb.RuleSet.match, path {name}", make, m, quick,
                           "cold cache" if not cases else ""))
    return f"alb: rule match, {n:,} path-pattern rules, cold per-slot cache (ns/request)", cases


COMPARISONS = [_hash_per_call, _hash_37_bytes, _flow_hash_batch, _consistent_per_call,
               _maglev_batch, _jump_batch, _rendezvous_batch, _flowtable, _lor_p2c, _round_robin,
               _weighted_random, _bucket_per_call, _bucket_batch, _geo, _lpm,
               _l4_route_many, _geneve, _simulator,
               _flow_hash_v4, _maglev_flows, _jump_key_per_call, _numba_per_element,
               _round_robin_per_call, _lor_p2c_by_target,
               _maglev_build, _flowtable_new_flows, _nlb_route_pinned, _simpy,
               _apigateway_check_many, _lpm_per_call, _alb_wildcards]


def format_table(title, rows) -> str:
    """One comparison as text: a row per implementation with ns/item and the ratio to the
    first (lbcore) row; rows without a time say why (e.g. ``not installed``)."""
    lines = [title]
    base = rows[0][1]
    for i, (name, ns, note) in enumerate(rows):
        if ns is None:
            lines.append(f"  {name:<44} {'-':>10}     {'':>9}  {note}")
            continue
        ratio = "" if i == 0 or not base else f"x{ns / base:8.1f}"
        lines.append(f"  {name:<44} {ns:10.1f} ns  {ratio:>9}  {note}".rstrip())
    return "\n".join(lines)


def cases(quick: bool = False, comparisons=None) -> list[tuple[str, list[Case]]]:
    """Every comparison's ``(title, cases)``, lbcore's case first (shared inputs built,
    nothing timed)."""
    out = []
    for comparison in (COMPARISONS if comparisons is None else comparisons):
        tables = comparison(quick)
        out.extend(tables if isinstance(tables, list) else [tables])
    return out


def run_bench(quick: bool = False, comparisons=None) -> int:
    """Run ``comparisons`` (default: all of :data:`COMPARISONS`) and print their tables."""
    print("lbcore bench" + (" --quick" if quick else "") +
          ": medians per item; ratio = peer / lbcore, each row against its table's first "
          "row (> 1: lbcore faster). Shared machines are noisy; compare ratios.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for comparison in (COMPARISONS if comparisons is None else comparisons):
            for title, table in cases(quick, [comparison]):
                print()
                print(format_table(title, [time_case(c) for c in table]), flush=True)
    return 0
