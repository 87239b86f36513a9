"""The simulator's speed as `lbcore simulate` runs it: the best of three runs of N
requests of the default scenario (engine loop, set-up, peak RSS).
    python benchmarks/sim_speed.py N LABEL
Run it alternately in two venvs to compare builds (docs/performance.md)."""
import resource
import sys

from lbcore.sim import load_scenario, simulate
n = int(sys.argv[1])
best = None
for _ in range(3):
    r = simulate(load_scenario(), requests=n)
    e = r["engine"]
    if best is None or e["loop_seconds"] < best["loop_seconds"]:
        best = e
print(f"{sys.argv[2] if len(sys.argv) > 2 else 'run'} n={n} setup={best['setup_seconds']} loop={best['loop_seconds']} rps={best['requests_per_second']/1e6:.2f}M rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}MB")
