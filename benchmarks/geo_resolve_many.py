"""Route 53 geoproximity and latency answers for a batch, per query (issue 19's rows):
``HostedZone.resolve_many`` of 100,000 located clients, CPU time, min of 5.
    python benchmarks/geo_resolve_many.py LABEL
Run it alternately in two venvs to compare builds (docs/performance.md)."""
import sys
import time

import numpy as np

from lbcore.route53 import Clients, GeoproximityLocation, HostedZone, RecordSet

Z = "example.com"
N = 100_000
rng = np.random.default_rng(1)
clients = Clients(latitudes=rng.uniform(-60, 70, N), longitudes=rng.uniform(-180, 180, N))


def per_query(zone: HostedZone) -> float:
    zone.resolve_many(Z, "A", clients)
    best = []
    for _ in range(5):
        t = time.process_time()
        zone.resolve_many(Z, "A", clients)
        best.append(time.process_time() - t)
    return min(best) / N * 1e9


def geoproximity(n: int, bias: bool) -> HostedZone:
    lat, lon = np.round(rng.uniform(-60, 70, n), 2), np.round(rng.uniform(-180, 180, n), 2)
    b = rng.integers(-50, 51, n) if bias else np.zeros(n, dtype=int)
    return HostedZone(Z, [RecordSet(Z, "A", [f"10.{i >> 8 & 255}.{i & 255}.1"],
                                    set_identifier=str(i), geoproximity=GeoproximityLocation(
                                        coordinates=(float(lat[i]), float(lon[i])),
                                        bias=int(b[i])))
                          for i in range(n)])


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1",
           "ap-southeast-2", "sa-east-1"]
latency = HostedZone(Z, [RecordSet(Z, "A", [f"10.0.0.{i}"], set_identifier=r, region=r)
                         for i, r in enumerate(REGIONS)])
label = sys.argv[1] if len(sys.argv) > 1 else "run"
for n in (20, 200, 2000):
    for bias in (False, True):
        print(f"{label} geoproximity {n:5d} records{' bias +-50' if bias else ''}: "
              f"{per_query(geoproximity(n, bias)):8.0f} ns/query")
print(f"{label} latency {len(REGIONS)} Regions (distance model): "
      f"{per_query(latency):8.0f} ns/query")
