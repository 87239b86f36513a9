"""check_many vs its chain kernel (check_chains on pre-expanded rows), interleaved, min of
N rounds, and tracemalloc peaks per request. Run: python benchmarks/check_many_vs_kernel.py 7"""
import time, numpy as np, tracemalloc, sys, gc
from lbcore import TokenBuckets
from lbcore.apigateway import ApiGateway, ThrottleSettings
from lbcore._bucket import Quotas, check_chains
n = 10**6
rng = np.random.default_rng(3)
keys = np.array([f"key{i}" for i in range(1000)], dtype=object)[rng.integers(0, 1000, n)]
res = np.array(["/pets", "/cats", "/dogs"], dtype=object)[rng.integers(0, 3, n)]
meth = np.array(["GET", "POST"], dtype=object)[rng.integers(0, 2, n)]
times = np.sort(rng.uniform(0, 600, n))
def setup():
    g = ApiGateway()
    g.add_stage("api", "prod", throttle=ThrottleSettings(2000, 1000))
    g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=ThrottleSettings(2, 5),
                     quota={"limit": 500, "period": "DAY"})
    for i in range(1000):
        g.add_api_key(f"key{i}", "p")
    return g
key = rng.integers(0, 1000, n)
chains = np.stack([1 + key, 1001 + rng.integers(0, 6, n), np.zeros(n, np.int64)], axis=1).astype(np.int32)
quota = key.astype(np.int32)
def ksetup():
    tb = TokenBuckets(1007, rate=[10000] + [2] * 1000 + [2000] * 6, burst=[5000] + [5] * 1000 + [1000] * 6)
    qs = Quotas()
    for _ in range(1000): qs.add(500, "DAY")
    return tb, qs
A, K = [], []
for rep in range(int(sys.argv[1]) if len(sys.argv)>1 else 5):
    g = setup(); t0 = time.perf_counter(); g.check_many(keys, res, meth, times); A.append(time.perf_counter()-t0)
    a = ksetup(); t0 = time.perf_counter(); check_chains(*a, chains, quota, times); K.append(time.perf_counter()-t0)
print(f"check_many min {min(A)*1e3:.1f} ms  kernel min {min(K)*1e3:.1f} ms  ratio {min(A)/min(K):.2f}")
g = setup()
gc.collect()
tracemalloc.start()
g.check_many(keys, res, meth, times)
cur, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(f"check_many peak traced {peak/n:.1f} B/request")
a = ksetup(); tracemalloc.start(); check_chains(*a, chains, quota, times); cur, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
print(f"kernel peak traced {peak/n:.1f} B/request")
