"""Consistent selection benchmarks: Maglev / jump / rendezvous / FlowTable. The timed
comparisons with the peers uhashring (ketama ring) and clandestined (rendezvous) live in
lbcore.bench (benchmarks/bench_peers.py runs them); ``quality()`` below compares spread
and churn with the same peers.

    python -m pytest benchmarks/bench_consistent.py --benchmark-enable -q
    python benchmarks/bench_consistent.py          # quality table (no timing)

Set-up (tables, rings, flow batches) happens outside the timed region.
"""
import warnings

import numpy as np
import pytest

import lbcore
from lbcore import Flows, FlowTable, JumpHash, Maglev, Rendezvous

NODES = [f"10.0.{i // 250}.{i % 250}:80" for i in range(100)]
KEYS = [f"client-{i}" for i in range(1000)]
BATCH = 1_000_000


# ------------------------------------------------------------------ Maglev build

@pytest.mark.parametrize("m", [65537, 655373])
@pytest.mark.parametrize("n", [10, 100, 1000])
def test_maglev_build(benchmark, n, m):
    targets = [f"backend-{i}" for i in range(n)]
    benchmark.group = f"maglev-build M={m}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lbcore.MaglevTableSizeWarning)
        benchmark(Maglev, targets, table_size=m)


@pytest.mark.parametrize("n", [10, 1000])
def test_maglev_populate_kernel(benchmark, n):
    """The population kernel alone (explicit offsets/skips, no identity hashing)."""
    m = 65537
    rng = np.random.default_rng(0)
    off = rng.integers(0, m, n).astype(np.uint64)
    sk = rng.integers(1, m, n).astype(np.uint64)
    benchmark.group = "maglev-build M=65537"
    benchmark(lbcore.maglev_populate, off, sk, m)


# ------------------------------------------------------------------ per call from Python

def _cycle(fn, keys):
    def run():
        for k in keys:
            fn(k)
    return run


@pytest.fixture(scope="module")
def hashes_1k():
    return [int(h) for h in np.random.default_rng(1).integers(0, 2**64, 1000, dtype=np.uint64)]


@pytest.fixture(scope="module")
def flows_1k():
    return list(Flows.random(1000, seed=2))


@pytest.mark.parametrize("algo", ["maglev", "jump", "rendezvous"])
def test_select_per_call_hash(benchmark, algo, hashes_1k):
    sel = {"maglev": Maglev(NODES), "jump": JumpHash(NODES),
           "rendezvous": Rendezvous(NODES)}[algo]
    benchmark.group = "select per call x1000 (100 nodes)"
    benchmark(_cycle(sel.select, hashes_1k))


@pytest.mark.parametrize("algo", ["maglev", "jump", "rendezvous"])
def test_select_per_call_flow(benchmark, algo, flows_1k):
    sel = {"maglev": Maglev(NODES), "jump": JumpHash(NODES),
           "rendezvous": Rendezvous(NODES)}[algo]
    benchmark.group = "select per call x1000 (100 nodes)"
    benchmark(_cycle(sel.select, flows_1k))


def test_select_per_call_maglev_hash_key_str(benchmark):
    """Like-for-like with the peers: hash a str key, then select."""
    mg = Maglev(NODES)
    benchmark.group = "select per call x1000 (100 nodes)"
    hk = lbcore.hash_key
    benchmark(_cycle(lambda k: mg.select(hk(k)), KEYS))


# ------------------------------------------------------------------ batch

@pytest.fixture(scope="module")
def ipv4_flows():
    return Flows.random(BATCH, seed=3, protocols=(6, 17))


@pytest.mark.parametrize("algo", ["maglev", "jump"])
def test_batch_hash_select(benchmark, algo, ipv4_flows):
    """TCP (with ISN, hashed as AWS's TCP 5-tuple + sequence number) and UDP, 50/50."""
    sel = {"maglev": Maglev(NODES), "jump": JumpHash(NODES)}[algo]
    benchmark.group = f"batch hash+select {BATCH} IPv4 flows"
    benchmark(sel.select_many, ipv4_flows)


def test_batch_hash_select_maglev_udp(benchmark):
    """Plain IPv4 5-tuples (UDP: no sequence number to hash)."""
    flows = Flows.random(BATCH, seed=4, protocols=(17,))
    mg = Maglev(NODES)
    benchmark.group = f"batch hash+select {BATCH} IPv4 flows"
    benchmark(mg.select_many, flows)


def test_batch_rendezvous(benchmark, ipv4_flows):
    r = Rendezvous(NODES)
    small = ipv4_flows[:100_000]
    benchmark.group = "batch hash+select 100k IPv4 flows (rendezvous, 100 nodes)"
    benchmark(r.select_many, small)


@pytest.mark.parametrize("n", [16_384, 65_536])
def test_rendezvous_top_all(benchmark, n):
    # top_index(k=N): the full ranking (quickselect + heapsort, no GIL) beyond k = 16
    r = Rendezvous(list(range(n)))
    benchmark.group = f"Rendezvous.top_index(k=N), N={n}"
    benchmark(r.top_index, 12345, n)


def test_batch_flow_hash_only(benchmark, ipv4_flows):
    benchmark.group = f"batch hash+select {BATCH} IPv4 flows"
    benchmark(lbcore.flow_hash, ipv4_flows)


@pytest.mark.parametrize("algo", ["maglev", "jump"])
def test_batch_select_from_hashes(benchmark, algo, ipv4_flows):
    sel = {"maglev": Maglev(NODES), "jump": JumpHash(NODES)}[algo]
    h = lbcore.flow_hash(ipv4_flows)
    benchmark.group = f"select {BATCH} precomputed hashes"
    benchmark(sel.select_many, h)


@pytest.mark.parametrize("algo", ["maglev", "jump"])
def test_numba_loop(benchmark, algo, ipv4_flows):
    from lbcore import numba as lbn
    mg = Maglev(NODES)
    h = lbcore.flow_hash(ipv4_flows)
    if algo == "maglev":
        fn, args = lbn.maglev_lookup_array, (mg.table, h)
    else:
        fn, args = lbn.jump_hash_array, (h, np.int32(100))
    fn(*args)   # compile outside the timed region
    benchmark.group = f"select {BATCH} precomputed hashes"
    benchmark(fn, *args)


def test_flowtable_route_many(benchmark, ipv4_flows):
    """Steady state: 100k live flows routed again (all hits)."""
    flows = ipv4_flows[:100_000]
    mg = Maglev(NODES)
    ft = FlowTable(200_000)
    ft.route_many(flows, 0.0, mg)
    clock = iter(np.arange(1.0, 1e6))
    benchmark.group = "FlowTable 100k flows"
    benchmark(lambda: ft.route_many(flows, float(next(clock)), mg))


def test_flowtable_route_many_new(benchmark, ipv4_flows):
    """All misses: 100k new flows into an empty table (selector + inserts)."""
    flows = ipv4_flows[:100_000]
    mg = Maglev(NODES)
    benchmark.group = "FlowTable 100k flows"
    benchmark.pedantic(lambda ft: ft.route_many(flows, 0.0, mg),
                       setup=lambda: ((FlowTable(200_000),), {}), rounds=10)


# ------------------------------------------------------------------ quality (no timing)

def quality(n=100, keys=200_000):
    """Spread (max/mean keys or slots per node) and churn on removing one of n nodes
    (moved keys / the 1/n optimum), for each algorithm and the peers."""
    import uhashring as uh
    from clandestined import RendezvousHash
    rng = np.random.default_rng(7)
    h = rng.integers(0, 2**64, keys, dtype=np.uint64)
    str_keys = [f"k{i}" for i in range(keys // 10)]
    nodes = NODES[:n]
    victim = nodes[n // 2]
    rows = []

    def row(name, before, after, sample):
        before, after = np.asarray(before), np.asarray(after)
        counts = np.unique(before, return_counts=True)[1]
        moved = np.count_nonzero(before != after) / sample
        rows.append((name, counts.max() / counts.mean(), moved * n))

    mg = Maglev(nodes)
    tb = np.array(mg.targets, dtype=object)
    mg2 = mg.without(victim)
    t2 = np.array(mg2.targets, dtype=object)
    row("Maglev M=65537 (keys)", tb[mg.select_many(h)], t2[mg2.select_many(h)], keys)
    slots = np.bincount(mg.table)
    rows.append(("Maglev M=65537 (slots)", slots.max() / slots.mean(),
                 len(mg.diff(mg2)) / (65537 / n)))
    jh = JumpHash(nodes)
    jt = np.array(jh.targets, dtype=object)
    last = nodes[-1]
    j2 = jh.without(last)
    row("jump (remove last)", jt[jh.select_many(h)],
        np.array(j2.targets, dtype=object)[j2.select_many(h)], keys)
    rz = Rendezvous(nodes)
    r2 = rz.without(victim)
    row("rendezvous", np.array(rz.targets, dtype=object)[rz.select_many(h)],
        np.array(r2.targets, dtype=object)[r2.select_many(h)], keys)
    ring = uh.HashRing(nodes=nodes, hash_fn="ketama")
    before = [ring.get_node(k) for k in str_keys]
    ring.remove_node(victim)
    row("uhashring ketama", before, [ring.get_node(k) for k in str_keys], len(str_keys))
    c = RendezvousHash(list(nodes))
    few = str_keys
    before = [c.find_node(k) for k in few]
    c.remove_node(victim)
    row("clandestined", before, [c.find_node(k) for k in few], len(few))
    return rows


if __name__ == "__main__":
    print("| algorithm (100 nodes) | spread max/mean | churn on removing 1 (x 1/N optimum) |")
    print("|---|---|---|")
    for name, spread, churn in quality():
        print(f"| {name} | {spread:.3f} | {churn:.2f} |")
