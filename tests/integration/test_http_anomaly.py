"""Real servers on 127.0.0.1 (port 0), bounded in requests and time, stopped at the end:
the proxy reports each request's outcome into automatic target weights and moves traffic
away from a backend that answers 500 while its health check passes (a gray failure); the
health-check runner records a result at the check's start time even when routing moved
the target group's time past it during the check."""
from __future__ import annotations

import asyncio
import math
import time

import pytest

from lbcore.elb import AnomalySettings, HealthCheckSettings, Target, TargetGroup
from lbcore.http import HealthCheckConfig, HealthChecker, Proxy, load_config

web = pytest.importorskip("aiohttp.web")
aiohttp = pytest.importorskip("aiohttp")

pytestmark = pytest.mark.timeout(90)

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/demo/1"


async def backends(n, bad):
    """``n`` backends; the one at position ``bad`` answers 500 except on /health."""
    runners, ports = [], []
    for i in range(n):
        async def handle(request, i=i):
            if request.path == "/health" or i != bad:
                return web.Response(text="ok", headers={"X-Backend": str(i)})
            return web.Response(status=500, text="boom", headers={"X-Backend": str(i)})
        r = web.ServerRunner(web.Server(handle), access_log=None)
        await r.setup()
        await web.TCPSite(r, "127.0.0.1", 0).start()
        runners.append(r)
        ports.append(r.addresses[0][1])
    return runners, ports


def config(ports, mitigation):
    return {
        "LoadBalancers": [{"LoadBalancerArn": LB, "Type": "application"}],
        "Listeners": [{"LoadBalancerArn": LB, "Port": 8080, "Protocol": "HTTP",
                       "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}],
        "TargetGroups": [{
            "TargetGroupArn": TG, "TargetGroupName": "web", "Protocol": "HTTP", "Port": 80,
            "TargetType": "ip", "HealthCheckPath": "/health",
            "Attributes": [
                {"Key": "load_balancing.algorithm.type", "Value": "weighted_random"},
                {"Key": "load_balancing.algorithm.anomaly_mitigation", "Value": mitigation}]}],
        "TargetHealthDescriptions": {TG: [
            {"Target": {"Id": "127.0.0.1", "Port": p}, "TargetHealth": {"State": "healthy"}}
            for p in ports]},
    }


@pytest.mark.parametrize("mitigation", ["on", "off"])
def test_proxy_moves_traffic_away_from_a_backend_that_returns_500(mitigation):
    settings = AnomalySettings(window_seconds=0.2, min_requests=8)
    n, bad = 4, 0

    async def run():
        runners, ports = await backends(n, bad)
        cfg = load_config(config(ports, mitigation), anomaly=settings)
        # listener port 8080 + offset -8080: a free port
        proxy = Proxy(cfg, port_offset=-8080, log=None, health_interval=0.5)
        alb = cfg.listeners[0].alb
        try:
            await proxy.start()
            url = f"http://127.0.0.1:{proxy.addresses[0][1]}/x"
            async with aiohttp.ClientSession() as s:
                async def one():
                    async with s.get(url) as r:
                        await r.read()
                        return int(r.headers["X-Backend"]), r.status
                # drive until the bad backend's weight has had time to reach the floor
                # (at most 3000 requests or 30 s)
                t0 = time.monotonic()
                for i in range(3000):
                    await one()
                    if time.monotonic() - t0 > 30:
                        break
                    desc = alb.describe_target_health(TG)[bad]["AnomalyDetection"]
                    if i >= 400 and (desc["Result"] == "anomalous" or mitigation == "off") \
                            and time.monotonic() - t0 > 12 * settings.window_seconds:
                        break
                # measure: 300 requests, counting the 500s the client receives
                got = [await one() for _ in range(300)]
            health = alb.describe_target_health(TG)
        finally:
            await proxy.stop()
            for r in runners:
                await r.cleanup()
        return got, health

    got, health = asyncio.run(run())
    errors = sum(1 for _, status in got if status == 500)
    assert errors == sum(1 for b, _ in got if b == bad)        # only the bad one fails
    m, fair = len(got), 1 / n
    bound = m * fair - 5 * math.sqrt(m * fair * (1 - fair))    # 75 - 37.5
    assert health[bad]["AnomalyDetection"]["Result"] == "anomalous"
    others = [h["AnomalyDetection"] for i, h in enumerate(health) if i != bad]
    assert all(a["Result"] == "normal" for a in others)
    if mitigation == "on":
        assert health[bad]["AnomalyDetection"]["MitigationInEffect"] == "yes"
        assert errors < bound, (errors, bound)                  # traffic moved away
    else:
        assert health[bad]["AnomalyDetection"]["MitigationInEffect"] == "no"
        assert errors > bound, (errors, bound)                  # detection only


def test_runner_records_results_at_the_check_start_time():
    """While a check is in flight, the backend's handler moves the target group's time
    100 s ahead (as routing would): the result is recorded at the start time, not
    refused and not moved to the group's time (so the next check is due at once)."""
    tg = TargetGroup([], protocol="HTTP", port=80,
                     health_check=HealthCheckSettings("HTTP", interval_seconds=5,
                                                      timeout_seconds=2))
    results = []

    async def handle(request):
        tg.advance(time.monotonic() + 100.0)
        return web.Response(text="ok")

    async def run():
        r = web.ServerRunner(web.Server(handle), access_log=None)
        await r.setup()
        await web.TCPSite(r, "127.0.0.1", 0).start()
        port = r.addresses[0][1]
        tg.register(Target("127.0.0.1", "all", port), now=time.monotonic())
        checker = HealthChecker([(tg, HealthCheckConfig(path="/hc"))], interval=5,
                                on_result=lambda g, k, ok, st: results.append((ok, st)))
        try:
            async with checker:
                for _ in range(100):
                    await asyncio.sleep(0.02)
                    if results:
                        break
        finally:
            await r.cleanup()
        return port

    port = asyncio.run(run())
    assert results[0] == (True, "healthy")
    assert tg.due(tg.now) == ["127.0.0.1"]            # recorded ~100 s before tg.now
