"""lbcore.dask.route_flows on 10**7 flows: 2 workers vs 1 worker, and vs a local route_many.

    python -m pytest benchmarks/bench_dask.py --benchmark-enable -p no:cacheprovider

Goal (issue 17): 2 workers >= 1.6x one worker on this 2-core machine; per-flow cost within
2x of a local route_many. The input is persisted on the workers before timing.
"""
import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import lbcore  # noqa: E402
from lbcore.dask import route_flows  # noqa: E402
from lbcore.elb import NetworkLoadBalancer, Target, TargetGroup  # noqa: E402

N = 10_000_000
ZONES = ("a", "b")


def make_nlb():
    tg = TargetGroup([Target(f"i-{k}", ZONES[k % 2]) for k in range(16)], healthy=True,
                     now=0.0, protocol="TCP_UDP")
    lb = NetworkLoadBalancer(ZONES, seed=1, flow_capacity=1 << 22)
    lb.add_listener("TCP_UDP", 80, tg)
    return lb


def _flows():
    f = lbcore.Flows.random(N, seed=3)
    cols = list(f.columns())
    cols[7] = np.full(N, 80, np.uint16)
    return lbcore.Flows.from_columns(*cols), np.linspace(0.0, 300.0, N)


@pytest.fixture(scope="module")
def data():
    return _flows()


def test_local_route_many(benchmark, data):
    flows, times = data
    benchmark.pedantic(lambda: make_nlb().route_many(flows, times), rounds=3, iterations=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_route_flows(benchmark, data, workers):
    flows, times = data
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster):
        arr = da.from_array(np.stack([c.astype(np.uint64) for c in flows.columns()], axis=1),
                            chunks=(N // 8, 9)).persist()
        t = da.from_array(times, chunks=N // 8).persist()
        benchmark.pedantic(lambda: route_flows(arr, make_nlb, t, partitions=2 * workers),
                           rounds=3, iterations=1)
