"""NetworkLoadBalancer.route of a pinned flow, per call: the min of 15 timeit repeats of
200,000 calls (the connection-table hit, its lock and the decision object).
    python benchmarks/nlb_pinned.py LABEL
Run it alternately in two venvs to compare builds (docs/performance.md)."""
import sys
import timeit

import lbcore
from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup

tg = TargetGroup([Target(f"t{i}", "ab"[i % 2]) for i in range(8)], protocol="TCP", healthy=True)
nlb = NetworkLoadBalancer(["a", "b"], seed=1)
nlb.add_listener("TCP", 80, tg)
flow = lbcore.Flow("tcp", "10.0.0.1", "198.18.0.1", 4000, 80)
nlb.route(flow, 1.0)
best = min(timeit.repeat(lambda: nlb.route(flow, 2.0), number=200_000, repeat=15)) / 200_000
print(f"{sys.argv[1] if len(sys.argv) > 1 else 'run'} NetworkLoadBalancer.route pinned "
      f"{best * 1e9:.0f} ns")
