"""Issue 19's hashing rows, interleaved in one process, min of many short runs (each fits
in a time slice of a busy shared machine; lbcore bench's medians of longer runs do not).

    python benchmarks/hash_issue19.py [ROUNDS]

It loads this checkout's python/lbcore/bench.py (its cases) against whichever lbcore the
interpreter imports, so the same file times an older install too ("before": that
install has no per-instruction-set paths and no flow_hash_seeded; shims below stand in).
"""
import importlib.util
import pathlib
import sys
import time

import numpy as np

import lbcore
import lbcore._hash as h

BENCH = pathlib.Path(__file__).resolve().parents[1] / "python" / "lbcore" / "bench.py"
spec = importlib.util.spec_from_file_location("lbcore_bench_checkout", BENCH)
b = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = b
if not hasattr(h, "simd_path"):                 # an install before the dispatch
    h.simd_path = lambda: "baseline"
    h.simd_paths = lambda: ("baseline",)
    import lbcore.numba as lbn
    lbn.flow_hash_seeded = lbn.flow_hash
spec.loader.exec_module(b)
n = 100_000
flows = b._v4_flows(n)
cols = flows.columns()
mg = lbcore.Maglev(b._NODES)
cases = {}
cases["flow_hash(Flows) v4"] = (lambda: lbcore.flow_hash(flows), n)
cases["numba hand-written v4"] = (b._numba_v4_case(flows), n)
c7 = [flows.protocol, flows.flags, flows.src_lo, flows.dst_lo, flows.src_port, flows.dst_port, flows.seq]
outs = [np.empty_like(c) for c in c7]
def copy():
    for c, o in zip(c7, outs): np.copyto(o, c)
cases["copy floor"] = (copy, n)
if h.simd_path() != "baseline":
    for p in h.simd_paths():
        cases[f"flow_hash(Flows) [{p}]"] = (b._on_path(p, lambda: lbcore.flow_hash(flows)), n)
for label, kw in [("50:50", dict(protocols=(6, 17))), ("UDP", dict(protocols=(17,))), ("TCP+ISN", dict(protocols=(6,))), ("TCPnoISN/UDP", dict(tcp_seq=False))]:
    f = b._v4_flows(n, **kw)
    cases[f"maglev fused {label}"] = (lambda f=f: mg.select_many(f), n)
    cases[f"maglev two-call {label}"] = (lambda f=f: mg.select_many(lbcore.flow_hash(f)), n)
m = 20_000
keys = [int(k) for k in b._hashes(m, 5)]
bkeys = [k.to_bytes(8, "little") for k in keys]
jh = lbcore.JumpHash(b._NODES)
import jump  # noqa: E402  (jump-consistent-hash)
import xxhash  # noqa: E402
cases["JumpHash.select(int)"] = (b._loop(jh.select, keys), m)
cases["jump.hash(int,100)"] = (b._loop2(jump.hash, keys, 100), m)
cases["hash_key(int)"] = (b._loop(lbcore.hash_key, keys), m)
cases["xxh3_64_intdigest(8B)"] = (b._loop(xxhash.xxh3_64_intdigest, bkeys), m)
seed = np.uint64(12345)
pe, pes = b._numba_flow_loops()
pe(*cols, seed); pes(*cols, seed)
cases["numba per-element flow_hash"] = (lambda: pe(*cols, seed), n)
cases["numba per-element flow_hash_seeded"] = (lambda: pes(*cols, seed), n)
cases["batch flow_hash(seed=12345)"] = (lambda: lbcore.flow_hash(flows, seed=12345), n)
best = {k: 1e9 for k in cases}
for fn, _ in cases.values(): fn()
for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 40):
    for k, (fn, items) in cases.items():
        t0 = time.perf_counter(); fn(); t = time.perf_counter() - t0
        best[k] = min(best[k], t / items * 1e9)
print("lbcore", lbcore.__file__, "path", h.simd_path())
for k, v in best.items(): print(f"  {k:40s} {v:8.2f} ns")
