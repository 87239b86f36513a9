"""lbcore.http per-request cost and proxy throughput. Run:

    python -m pytest benchmarks/bench_http.py --benchmark-enable -q     # per request
    python benchmarks/bench_http.py --throughput                        # the proxy

Per request: ASGI scope -> Request (trusted fast path) + ALB route + complete on a
10-rule listener (the request matches the default rule, so all 10 rules are tried),
round robin, with and without lb_cookie stickiness (the request carries a valid AWSALB
cookie), and the old path (the checked Request constructor) for comparison.

Throughput: one `lbcore proxy` (--router alb) and one with --router cycle (the same
proxy, next target by itertools.cycle, no rules) in front of the same two example
backends, driven by one aiohttp client with 32 concurrent requests, in interleaved
rounds (alb, cycle, alb, cycle, ...); prints requests/s of each and the ratio.
"""
from __future__ import annotations

import sys

import pytest

from lbcore.elb import ApplicationLoadBalancer, Request, Target, TargetGroup
from lbcore.http import request_from_asgi

HEADERS = [(b"host", b"shop.example.com"), (b"user-agent", b"Mozilla/5.0 (X11; Linux)"),
           (b"accept", b"*/*"), (b"accept-encoding", b"gzip, br"),
           (b"accept-language", b"en-GB,en;q=0.9")]


def make_alb(sticky: bool) -> ApplicationLoadBalancer:
    attrs = {"stickiness_enabled": "true"} if sticky else {}
    tg = TargetGroup([Target("127.0.0.1", "all", 8001 + i) for i in range(4)],
                     protocol="HTTP", port=80, healthy=True, now=0.0, **attrs)
    alb = ApplicationLoadBalancer({"web": tg, "api": TargetGroup(
        [Target("127.0.0.1", "all", 9001)], protocol="HTTP", port=80, healthy=True, now=0.0)})
    rules = [{"Priority": str(i + 1), "Conditions": [
        {"Field": "host-header", "Values": [f"svc{i}.example.com"]},
        {"Field": "path-pattern", "Values": [f"/api/v{i}/*"]}],
        "Actions": [{"Type": "forward", "TargetGroupArn": "api"}]} for i in range(10)]
    alb.add_listener(8080, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}],
                     rules=rules)
    return alb


def scope(headers):
    return {"type": "http", "method": "GET", "scheme": "http", "path": "/cart/items",
            "raw_path": b"/cart/items", "query_string": b"page=2", "headers": headers,
            "client": ("198.51.100.7", 50123), "server": ("127.0.0.1", 8080)}


def one_request(alb, s):
    d = alb.route(request_from_asgi(s), 1.0)
    alb.complete(d)
    return d


@pytest.mark.benchmark(group="http-request")
def test_asgi_route_complete_round_robin(benchmark):
    alb = make_alb(False)
    s = scope(HEADERS)
    assert one_request(alb, s).rule_priority is None
    benchmark(one_request, alb, s)


@pytest.mark.benchmark(group="http-request")
def test_asgi_route_complete_lb_cookie(benchmark):
    alb = make_alb(True)
    d = alb.route(request_from_asgi(scope(HEADERS)), 1.0)
    alb.complete(d)
    cookie = f"session=abc; AWSALB={d.set_cookies[0].value}".encode()
    s = scope([*HEADERS, (b"cookie", cookie)])
    assert one_request(alb, s).target == d.target            # the cookie is honoured
    benchmark(one_request, alb, s)


@pytest.mark.benchmark(group="http-request")
def test_checked_request_route_complete_round_robin(benchmark):
    alb = make_alb(False)
    hdrs = [(k.decode(), v.decode()) for k, v in HEADERS]

    def old():
        d = alb.route(Request("GET", "/cart/items?page=2", headers=hdrs,
                              source_ip="198.51.100.7", port=8080), 1.0)
        alb.complete(d)
    benchmark(old)


# ---------------------------------------------------------------- proxy throughput

def throughput(rounds: int = 20, per_round: int = 1000, concurrency: int = 32) -> None:
    import asyncio
    import json
    import os
    import signal
    import socket
    import subprocess
    import tempfile
    import time

    import aiohttp

    from lbcore.http import EXAMPLE_CONFIG

    def free_ports(n):
        socks = [socket.socket() for _ in range(n)]
        for s_ in socks:
            s_.bind(("127.0.0.1", 0))
        ports = [s_.getsockname()[1] for s_ in socks]
        for s_ in socks:
            s_.close()
        return ports

    b1, b2, p_alb, p_cycle = free_ports(4)
    doc = json.load(open(EXAMPLE_CONFIG))
    web_arn = doc["TargetGroups"][0]["TargetGroupArn"]
    doc["TargetGroups"][0]["Attributes"] = []                # round robin, no stickiness
    doc["TargetHealthDescriptions"] = {web_arn: [
        {"Target": {"Id": "127.0.0.1", "Port": p}, "TargetHealth": {"State": "healthy"}}
        for p in (b1, b2)]}
    doc["TargetGroups"] = doc["TargetGroups"][:1]
    rules = next(iter(doc["Rules"].values()))
    for r in rules:                   # keep the rules, point every forward at web
        for a in r["Actions"]:
            if a["Type"] == "forward":
                a.clear()
                a.update({"Type": "forward", "TargetGroupArn": web_arn})
    env = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
    procs = [subprocess.Popen([sys.executable, "-m", "lbcore.http.backend", "--port", str(b1),
                               "--port", str(b2)], stdout=subprocess.PIPE, env=env, text=True)]
    procs[0].stdout.readline()
    urls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for router, port in (("alb", p_alb), ("cycle", p_cycle)):
            lst = doc["Listeners"][0]
            cfg = dict(doc, Listeners=[dict(lst, Port=port)],
                       Rules={lst["ListenerArn"]: rules})
            path = os.path.join(tmp, f"{router}.json")
            json.dump(cfg, open(path, "w"))
            p = subprocess.Popen([sys.executable, "-m", "lbcore", "proxy", path, "--router",
                                  router, "--no-access-log"], stderr=subprocess.PIPE,
                                 env=env, text=True)
            procs.append(p)
            while "listener" not in p.stderr.readline():
                pass
            urls[router] = f"http://127.0.0.1:{port}/cart/items?page=2"

        async def burst(session, url, n):
            left = n

            async def worker():
                nonlocal left
                while left > 0:
                    left -= 1
                    async with session.get(url) as r:
                        await r.read()
            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return n / (time.perf_counter() - t)

        async def run():
            rates = {"alb": [], "cycle": []}
            conn = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(connector=conn) as s:
                for u in urls.values():
                    await burst(s, u, 500)                   # warm up
                for i in range(rounds):
                    order = ("alb", "cycle") if i % 2 == 0 else ("cycle", "alb")
                    for router in order:
                        rates[router].append(await burst(s, urls[router], per_round))
            return rates

        try:
            rates = asyncio.run(run())
        finally:
            for p in procs:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=15)
    import statistics
    a, c = statistics.median(rates["alb"]), statistics.median(rates["cycle"])
    print(f"lbcore routing (ALB, 4 rules): {a:.0f} req/s (rounds: "
          f"{', '.join(f'{x:.0f}' for x in rates['alb'])})")
    print(f"itertools.cycle baseline:     {c:.0f} req/s (rounds: "
          f"{', '.join(f'{x:.0f}' for x in rates['cycle'])})")
    print(f"ratio lbcore / cycle: {a / c:.3f}")


if __name__ == "__main__":
    if "--throughput" in sys.argv:
        throughput()
    else:
        print(__doc__)
