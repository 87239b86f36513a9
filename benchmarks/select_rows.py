"""Issue 19's per-call selection rows, for before/after runs (docs/performance.md,
"Per-call selection rows"). Run it with each build's interpreter, alternately:

    python benchmarks/select_rows.py NAME [bench]

prints, labelled NAME: Maglev(10,000 targets, table_size=65537) against
maglev_populate on the same offsets and skips (min of 40), FlowTable.route_many over
200,000 flows all hits and all new (min of 9) and the simulator's engine rate (best of
3 runs of 200,000 requests). With ``bench``, also this branch's new ``lbcore bench``
tables, loaded from this checkout's python/lbcore/bench.py so an older build runs the
same rows.
"""
from __future__ import annotations

import importlib.util
import pathlib
import sys
import time
import warnings

import numpy as np

import lbcore
from lbcore._targetset import canonical_order, parse_targets

ROWS = ["_round_robin_per_call", "_maglev_build", "_flowtable_new_flows", "_lor_p2c_by_target",
        "_nlb_route_pinned"]


def maglev(label: str) -> None:
    k, m = 10_000, 65537
    names = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:80" for i in range(k)]
    _, keys, h1, h2 = parse_targets(names, 0)
    order = canonical_order(keys, h1, h2)
    off = h1[order] % np.uint64(m)
    skip = h2[order] % np.uint64(m - 1) + np.uint64(1)
    a, b = [], []
    for _ in range(40):
        t = time.perf_counter()
        lbcore.Maglev(names, table_size=m)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        lbcore.maglev_populate(off, skip, m)
        b.append(time.perf_counter() - t)
    print(f"{label}: Maglev(10k targets, M=65537) min {min(a) * 1e3:.2f} ms, populate min "
          f"{min(b) * 1e3:.2f} ms, ratio {min(a) / min(b):.2f}")


def flowtable(label: str) -> None:
    n = 200_000
    flows = lbcore.Flows.random(n, seed=5, protocols=(6, 17))
    mg = lbcore.Maglev([f"10.0.0.{i}:80" for i in range(100)])
    ft = lbcore.FlowTable(2 * n)
    ft.route_many(flows, 0.0, mg)
    hits, new = [], []
    for r in range(9):
        t = time.perf_counter()
        ft.route_many(flows, float(r + 1), mg)
        hits.append(time.perf_counter() - t)
        fresh = lbcore.FlowTable(n)
        t = time.perf_counter()
        fresh.route_many(flows, 1.0, mg)
        new.append(time.perf_counter() - t)
    print(f"{label}: FlowTable.route_many {n:,} flows: all hits min {min(hits) / n * 1e9:.1f} "
          f"ns/flow, all new min {min(new) / n * 1e9:.1f} ns/flow")


def sim(label: str) -> None:
    from lbcore.sim import load_scenario, simulate
    sc = load_scenario()
    best = max(simulate(sc, requests=200_000)["engine"]["requests_per_second"]
               for _ in range(3))
    print(f"{label}: sim engine best of 3: {best / 1e6:.3f} M requests/s")


def bench_rows() -> None:
    path = pathlib.Path(__file__).resolve().parents[1] / "python" / "lbcore" / "bench.py"
    spec = importlib.util.spec_from_file_location("select_rows_bench", path)
    mod = importlib.util.module_from_spec(spec)      # type: ignore[arg-type]
    sys.modules[spec.name] = mod                     # type: ignore[union-attr]
    spec.loader.exec_module(mod)                     # type: ignore[union-attr]
    mod.run_bench(True, [getattr(mod, r) for r in ROWS])


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    name = sys.argv[1] if len(sys.argv) > 1 else "this build"
    maglev(name)
    flowtable(name)
    sim(name)
    if "bench" in sys.argv[2:]:
        bench_rows()
