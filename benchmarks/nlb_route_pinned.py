"""One pinned flow per NetworkLoadBalancer/GatewayLoadBalancer.route call, against a
plain-Python dict flow table and FlowTable.route (the cases of
lbcore.bench._nlb_route_pinned, quick sizes), 15 rounds interleaved, min ns per call.
For a before/after, run it under each build's interpreter, alternately:

    python benchmarks/nlb_route_pinned.py
"""
import time

import lbcore
import lbcore.bench as bench

title, cases = bench._nlb_route_pinned(True)
runs = [(c.name, c.make(), c.items) for c in cases]
best = {name: float("inf") for name, _, _ in runs}
for _ in range(15):
    for name, fn, items in runs:
        t = time.perf_counter()
        fn()
        best[name] = min(best[name], (time.perf_counter() - t) / items * 1e9)
print(f"{title} -- lbcore from {lbcore.__file__}")
for name, ns in best.items():
    print(f"{name:45s} min {ns:7.1f} ns")
