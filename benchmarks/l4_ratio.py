"""NLB/GWLB route_many vs raw Maglev select_many, per live-flow count, in one process.

Run: python benchmarks/l4_ratio.py (medians of 15 calls; the machine is shared, so
read the ratios, not the absolute times)."""
import time

import numpy as np

import lbcore
from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup


def tg():
    return [Target(f"A{i}", "A") for i in range(5)] + [Target(f"B{i}", "B") for i in range(5)]


def best(f, k=15):
    """Median wall time of k calls."""
    ts=[]
    for _ in range(k):
        t=time.perf_counter(); f(); ts.append(time.perf_counter()-t)
    return float(np.median(ts))

for N in (2_000, 20_000, 200_000, 1_000_000):
    f = lbcore.Flows.random(N, seed=1, protocols=(6, 17))
    seq = np.where(f.flags & 2, f.seq.astype(np.int64), -1)
    flows = lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, 80, seq)
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    nlb = NetworkLoadBalancer(["A","B"], seed=1, flow_capacity=N)
    nlb.add_listener("TCP_UDP", 80, TargetGroup(tg(), protocol="TCP_UDP", healthy=True))
    gw = GatewayLoadBalancer(["A","B"], TargetGroup(tg(), protocol="GENEVE", healthy=True), seed=1, flow_capacity=N)
    nlb.route_many(flows, 0.0); gw.route_many(flows, 0.0)
    t = iter(np.arange(1.0, 1e6))
    m = best(lambda: mg.select_many(flows))
    a = best(lambda: nlb.route_many(flows, next(t)))
    g = best(lambda: gw.route_many(flows, next(t)))
    print(f"N={N:>9,}  maglev {m/N*1e9:6.1f} ns/flow  nlb pinned {a/N*1e9:6.1f} ({a/m:4.1f}x)  gwlb pinned {g/N*1e9:6.1f} ({g/m:4.1f}x)")
