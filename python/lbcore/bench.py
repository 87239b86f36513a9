"""``lbcore bench``: lbcore's kernels timed side by side with the installed peer libraries.

Each comparison times lbcore and every importable peer in the same process, one after
the other, and reports the median of several repeats (ns per item) and the ratio
peer / lbcore (> 1 means lbcore is faster). Peers that are not installed are skipped.
The machine may be shared: look at the ratios, not the absolute times.

A kernel family adds its comparison by appending a function to ``COMPARISONS``: it takes
``quick`` and returns ``(title, [(name, ns_per_item, note), ...])`` with lbcore first.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["run_bench", "COMPARISONS"]


def _median_ns(fn, items: int, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / items * 1e9


def _hash_per_call(quick):
    import lbcore
    n = 20_000 if quick else 200_000
    keys = list(range(n))
    bkeys = [k.to_bytes(8, "little") for k in keys]
    rows = [("lbcore.hash_key(int)", _median_ns(lambda: [lbcore.hash_key(k) for k in keys], n,
                                                 3 if quick else 7), "per call from Python")]
    try:
        import mmh3
        rows.append(("mmh3.hash64(bytes)", _median_ns(lambda: [mmh3.hash64(b) for b in bkeys],
                                                      n, 3 if quick else 7), ""))
    except ImportError:
        pass
    try:
        import xxhash
        rows.append(("xxhash.xxh64_intdigest(bytes)",
                     _median_ns(lambda: [xxhash.xxh64_intdigest(b) for b in bkeys], n,
                                3 if quick else 7), ""))
    except ImportError:
        pass
    return "64-bit key hash, one call per key (ns/call)", rows


def _flow_hash_batch(quick):
    import lbcore
    n = 100_000 if quick else 1_000_000
    flows = lbcore.Flows.random(n, seed=1, ipv6_fraction=0.25)
    rows = [("lbcore.flow_hash(Flows)", _median_ns(lambda: lbcore.flow_hash(flows), n,
                                                    3 if quick else 7),
             "one batch call, 5-tuple + TCP ISN, 25% IPv6")]
    # A peer user hashes a packed 5-tuple per flow from Python.
    m = 10_000 if quick else 100_000
    packed = [b"".join(int(c[i]).to_bytes(w, "little") for c, w in
                       ((flows.protocol, 1), (flows.src_hi, 8), (flows.src_lo, 8),
                        (flows.dst_hi, 8), (flows.dst_lo, 8), (flows.src_port, 2),
                        (flows.dst_port, 2), (flows.seq, 4))) for i in range(m)]
    try:
        import xxhash
        rows.append(("xxhash.xxh64_intdigest(packed 5-tuple)",
                     _median_ns(lambda: [xxhash.xxh64_intdigest(p) for p in packed], m,
                                3 if quick else 7), "per flow from Python, bytes pre-packed"))
    except ImportError:
        pass
    try:
        import mmh3
        rows.append(("mmh3.hash64(packed 5-tuple)",
                     _median_ns(lambda: [mmh3.hash64(p) for p in packed], m, 3 if quick else 7),
                     "per flow from Python, bytes pre-packed"))
    except ImportError:
        pass
    return "flow hash over a batch of flows (ns/flow)", rows


def _weighted_random(quick):
    import random

    import lbcore
    n = 100_000 if quick else 1_000_000
    k = 100
    w = np.arange(1, k + 1, dtype=np.float64)
    wr = lbcore.WeightedRandom(list(range(k)), w, seed=1)
    rows = [("lbcore.WeightedRandom.pick_many", _median_ns(lambda: wr.pick_many(n), n,
                                                           3 if quick else 7),
             "Vose alias table, 100 weighted targets")]
    gen = np.random.default_rng(1)
    p = w / w.sum()
    rows.append(("numpy Generator.choice(p=)", _median_ns(lambda: gen.choice(k, size=n, p=p),
                                                          n, 3 if quick else 7), ""))
    rnd = random.Random(1)
    m = n // 10
    rows.append(("random.choices(weights=)", _median_ns(
        lambda: rnd.choices(range(k), weights=w.tolist(), k=m), m, 3 if quick else 7),
        "stdlib"))
    return "weighted random choice, batch (ns/pick)", rows


def _simulator(quick):
    from lbcore.sim import load_scenario, simulate
    n = 200_000 if quick else 1_000_000
    s = load_scenario()
    r = simulate(s, requests=n)
    ns = 1e9 / r["engine"]["requests_per_second"]
    return (f"lbcore simulate, default scenario, {n:,} requests (ns/request)",
            [("lbcore._sim engine", ns, f"{r['engine']['requests_per_second'] / 1e6:.2f} M "
              "requests/s; no peer to compare")])


COMPARISONS = [_hash_per_call, _flow_hash_batch, _weighted_random, _simulator]


def run_bench(quick: bool = False) -> int:
    print("lbcore bench" + (" --quick" if quick else "") +
          ": medians per item; ratio = peer / lbcore (> 1: lbcore faster). Shared machines "
          "are noisy; compare ratios.")
    for comparison in COMPARISONS:
        title, rows = comparison(quick)
        print(f"\n{title}")
        base = rows[0][1]
        for name, ns, note in rows:
            ratio = "" if name == rows[0][0] else f"x{ns / base:8.1f}"
            print(f"  {name:<42} {ns:10.1f} ns  {ratio:>9}  {note}")
    return 0
