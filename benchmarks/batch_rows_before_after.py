"""Before/after rows of the perf-batch work: run with a "before" venv and this tree's,
alternately (min per row over the runs), printing JSON of ns per item:

    /path/to/before/.venv/bin/python benchmarks/batch_rows_before_after.py /path/to/before
    .venv/bin/python benchmarks/batch_rows_before_after.py .

The argument is the tree whose benchmarks/bench_alb.py gives the ALB shapes."""
import json, os, sys, time, ipaddress
import numpy as np
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import lbcore
from lbcore import bench

def best(fn, items, reps=7):
    fn(); ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return min(ts) / items * 1e9

out = {}
# check_many + chain kernel (fresh gateway per call is in setup: use shifted times)
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_many_vs_kernel.py")).read().split("A, K = [], []")[0].replace("n = 10**6", "n = 200_000"))
g = setup(); k = iter(range(1, 100))
out["ApiGateway.check_many 2e5 (fresh kinds each call)"] = best(lambda: setup().check_many(keys, res, meth, times), n, 5)
g = setup()
out["ApiGateway.check_many 2e5 (kinds resolved)"] = best(lambda: g.check_many(keys, res, meth, times + 600 * next(k)), n, 5)
a = ksetup()
out["check_chains kernel 2e5"] = best(lambda: check_chains(*a, chains, quota, times + 600 * next(k)), n, 5)
g = setup(); ks = keys[:20000].tolist(); rs = res[:20000].tolist(); ms = meth[:20000].tolist(); tt = [float(x) for x in times[:20000]]
def percall():
    c = g.check; base = 600.0 * next(k)
    for i in range(20000): c(ks[i], rs[i], ms[i], tt[i] + base)
out["ApiGateway.check per call"] = best(percall, 20000, 5)
# LPM
rng = np.random.default_rng(2)
nets = sorted({(int(x) >> (32 - int(ln)) << (32 - int(ln)), int(ln)) for x, ln in zip(rng.integers(0, 2**32, 10_000), rng.integers(8, 25, 10_000))})
table = lbcore.PrefixTable([ipaddress.IPv4Network(x) for x in nets])
ints = rng.integers(0, 2**32, 200_000).astype(np.uint32)
strs = [str(ipaddress.IPv4Address(int(x))) for x in ints[:50_000]]
v6 = [str(ipaddress.IPv6Address(int(x) << 96 | 12345)) for x in ints[:50_000]]
il = [int(x) for x in ints[:50_000]]
out["PrefixTable.lookup(str v4)"] = best(bench._loop(table.lookup, strs), len(strs))
out["PrefixTable.lookup(str v6)"] = best(bench._loop(table.lookup, v6), len(v6))
look = table.lookup
def intloop():
    for x in il: look(x, version=4)
out["PrefixTable.lookup(int, version=4)"] = best(intloop, len(il))
out["PrefixTable.lookup_many(version=4) 2e5"] = best(lambda: table.lookup_many(ints, version=4), len(ints))
out["PrefixTable.lookup_many(list of str) 5e4"] = best(lambda: table.lookup_many(strs), len(strs))
# token buckets batch
tb = lbcore.TokenBuckets(10_000, rate=0.5, burst=5)
b = rng.integers(0, 10_000, 200_000).astype(np.int32); t = np.sort(rng.integers(0, 60 * 10**9, 200_000)).astype(np.int64)
out["TokenBuckets.check_many 2e5 ns"] = best(lambda: tb.check_many(b, t + 60 * 10**9 * next(k), unit="ns"), len(b))
# ALB (benchmarks/bench_alb.py shapes)
import bench_alb
for nr in (1, 10, 100):
    rs_, req = bench_alb.make_ruleset(nr), bench_alb.last_request(nr)
    out[f"ALB RuleSet.match warm, {nr} rules"] = best(bench._loop(lambda _: rs_.match(req), range(5000)), 5000)
    reqs = [bench_alb.last_request(nr, f"p{j}") for j in range(20000)]
    it = iter(reqs * 10)
    out[f"ALB RuleSet.match cold, {nr} rules"] = best(bench._loop(lambda _: rs_.match(next(it)), range(2000)), 2000)
json.dump(out, sys.stdout)
