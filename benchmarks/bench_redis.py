"""RedisApiGateway against a real redis-server on loopback, the in-process ApiGateway
alongside for the ratio (docs/performance.md, docs/redis.md).

    python -m pytest benchmarks/bench_redis.py --benchmark-enable -q

Every case decides requests of one API key on one method with a usage plan, a stage
throttle and the account limit (three buckets) and a quota — the whole chain — at
limits high enough that every request goes the full path (admitted). ``check`` is one
round trip per request; ``check_many`` sends 10,000 requests as script calls of
``batch`` requests each in one pipeline. The server is started (``--save ""
--appendonly no``) by the benchmark and stopped by pid.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

redis = pytest.importorskip("redis")
from lbcore.apigateway import ApiGateway, RedisApiGateway  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server not installed")
N = 10_000
BIG = {"rateLimit": 9_000, "burstLimit": 10**9}
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=port)
    for _ in range(200):
        try:
            c.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.02)
    yield port
    os.kill(p.pid, signal.SIGTERM)
    p.wait(10)


def _gw(cls, *a, **kw):
    g = cls(*a, BIG, **kw)
    g.add_stage("api", "prod", throttle=BIG)
    g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=BIG,
                     quota={"limit": 10**12, "period": "MONTH"})
    g.add_api_key("k", "p")
    return g


@pytest.mark.benchmark(group="API Gateway check per request (x1000)")
def test_redis_check(benchmark, port):
    g = _gw(RedisApiGateway, redis.Redis(port=port))
    t = [T0]

    def run():
        for _ in range(1000):
            t[0] += 1e-6
            g.check("k", "/pets", "GET", t[0])
    benchmark(run)
    assert g.check("k", "/pets", "GET", t[0] + 1).allowed


@pytest.mark.benchmark(group="API Gateway check per request (x1000)")
def test_in_process_check(benchmark):
    g = _gw(ApiGateway)
    t = [T0]

    def run():
        for _ in range(1000):
            t[0] += 1e-6
            g.check("k", "/pets", "GET", t[0])
    benchmark(run)


@pytest.mark.parametrize("batch", [512, 4096])
@pytest.mark.benchmark(group="API Gateway check_many (10,000 requests)")
def test_redis_check_many(benchmark, port, batch):
    g = _gw(RedisApiGateway, redis.Redis(port=port), batch=batch)
    t = [T0]

    def run():
        times = t[0] + np.arange(N) * 1e-6
        t[0] = float(times[-1]) + 1e-6
        return g.check_many("k", "/pets", "GET", times)
    res = benchmark(run)
    assert res.allowed.all()


@pytest.mark.benchmark(group="API Gateway check_many (10,000 requests)")
def test_in_process_check_many(benchmark):
    g = _gw(ApiGateway)
    t = [T0]

    def run():
        times = t[0] + np.arange(N) * 1e-6
        t[0] = float(times[-1]) + 1e-6
        return g.check_many("k", "/pets", "GET", times)
    assert benchmark(run).allowed.all()
