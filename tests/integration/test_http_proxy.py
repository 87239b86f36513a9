"""`lbcore proxy CONFIG.json` as a subprocess in front of example backends (each its own
subprocess, `python -m lbcore.http.backend`), driven by an aiohttp client; everything
on 127.0.0.1, bounded in requests and time, stopped by pid."""
from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

aiohttp = pytest.importorskip("aiohttp")

pytestmark = pytest.mark.timeout(120)

ENV = dict(os.environ, SKBUILD_EDITABLE_VERBOSE="0")
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/0123456789abcdef"
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/test/1234567890abcdef"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/test/1/2"


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def target_group(name, sticky=False):
    item = {"TargetGroupArn": TG.format(name), "TargetGroupName": name, "Protocol": "HTTP",
            "Port": 80, "TargetType": "ip", "HealthCheckProtocol": "HTTP",
            "HealthCheckPort": "traffic-port", "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
            "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2,
            "Matcher": {"HttpCode": "200"}}
    if sticky:
        item["Attributes"] = [{"Key": "stickiness.enabled", "Value": "true"},
                              {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "60"}]
    return item


def health(ports):
    return [{"Target": {"Id": "127.0.0.1", "Port": p}, "TargetHealth": {"State": "healthy"}}
            for p in ports]


def config(listener_port, web, blue, green):
    fwd = lambda name: [{"Type": "forward", "TargetGroupArn": TG.format(name)}]  # noqa: E731
    return {
        "LoadBalancers": [{"LoadBalancerArn": LB, "LoadBalancerName": "test",
                           "Type": "application"}],
        "Listeners": [{"ListenerArn": LISTENER, "LoadBalancerArn": LB,
                       "Port": listener_port, "Protocol": "HTTP",
                       "DefaultActions": fwd("web")}],
        "Rules": {LISTENER: [
            {"Priority": "1", "Conditions": [{"Field": "path-pattern", "Values": ["/api/*"]}],
             "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                 {"TargetGroupArn": TG.format("blue"), "Weight": 80},
                 {"TargetGroupArn": TG.format("green"), "Weight": 20}]}}]},
            {"Priority": "2", "Conditions": [{"Field": "path-pattern", "Values": ["/sticky*"]}],
             "Actions": fwd("sticky")},
            {"Priority": "3", "Conditions": [{"Field": "path-pattern", "Values": ["/old/*"]}],
             "Actions": [{"Type": "redirect", "RedirectConfig": {
                 "Host": "new.example.com", "Port": "443", "Protocol": "HTTPS",
                 "StatusCode": "HTTP_301"}}]},
            {"Priority": "4", "Conditions": [{"Field": "path-pattern", "Values": ["/teapot"]}],
             "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {
                 "StatusCode": "418", "ContentType": "text/plain", "MessageBody": "short"}}]},
            {"Priority": "5", "Conditions": [{"Field": "path-pattern", "Values": ["/empty"]}],
             "Actions": fwd("empty")},
            {"Priority": "default", "IsDefault": True, "Conditions": [],
             "Actions": fwd("web")},
        ]},
        "TargetGroups": [target_group("web"), target_group("blue"), target_group("green"),
                         target_group("sticky", sticky=True), target_group("empty")],
        "TargetHealthDescriptions": {TG.format("web"): health(web),
                                     TG.format("blue"): health(blue),
                                     TG.format("green"): health(green),
                                     TG.format("sticky"): health(web)},
    }


def spawn(args, stdout=subprocess.PIPE):
    return subprocess.Popen([sys.executable, *args], stdout=stdout,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def wait_line(stream, needle, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = stream.readline()
        if not line:
            raise AssertionError(f"stream ended before {needle!r}")
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {timeout} s")


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        raise


@pytest.fixture
def setup(tmp_path):
    """Four backends (web 2, blue 1, green 1) and the proxy, listener port = a free port
    - 1000 served with --port-offset 1000; health checks every 0.3 s."""
    b = free_ports(5)
    web, blue, green, listen = b[:2], [b[2]], [b[3]], b[4]
    backends = {p: spawn(["-m", "lbcore.http.backend", "--port", str(p)])
                for p in (*web, *blue, *green)}
    procs = list(backends.values())
    try:
        for p in procs:
            wait_line(p.stdout, "backends on")
        cfg = tmp_path / "alb.json"
        cfg.write_text(json.dumps(config(listen - 1000, web, blue, green)))
        log = open(tmp_path / "access.log", "w+")     # a file: a full pipe would block it
        proxy = spawn(["-m", "lbcore", "proxy", str(cfg), "--port-offset", "1000",
                       "--health-interval", "0.3"], stdout=log)
        proxy.stdout = log
        procs.append(proxy)
        wait_line(proxy.stderr, f"on http://127.0.0.1:{listen}")
        yield {"url": f"http://127.0.0.1:{listen}", "proxy": proxy, "backends": backends,
               "web": web, "blue": blue, "green": green}
    finally:
        for p in procs:
            if p.poll() is None:
                stop(p)
            p.stdout.close()
            p.stderr.close()


async def get(session, url, **kw):
    async with session.get(url, allow_redirects=False, **kw) as r:
        return r.status, r.headers, await r.read()


def test_rules_weights_cookies_redirect_fixed_and_access_log(setup):
    url = setup["url"]

    async def run():
        sent = 0
        async with aiohttp.ClientSession() as s:          # no cookies kept
            # weighted split 80/20 over 400 requests: binomial sd = 8, allow 4.5 sd
            counts = {}
            for _ in range(400):
                status, h, body = await get(s, f"{url}/api/x")
                assert status == 200
                counts[h["X-Backend"]] = counts.get(h["X-Backend"], 0) + 1
            sent += 400
            blue = counts.get(f"127.0.0.1:{setup['blue'][0]}", 0)
            assert abs(blue - 320) <= 36, counts
            # round robin over web's two targets without stickiness
            seen = [(await get(s, f"{url}/x"))[1]["X-Backend"] for _ in range(6)]
            sent += 6
            assert len(set(seen)) == 2 and seen[0::2] == [seen[0]] * 3, seen
            # what the ALB adds to the forwarded request
            status, h, body = await get(s, f"{url}/x?q=1", headers={
                "X-Forwarded-For": "203.0.113.5"})
            sent += 1
            doc = json.loads(body)
            assert doc["path"] == "/x?q=1"
            assert doc["headers"]["X-Forwarded-For"] == "203.0.113.5, 127.0.0.1"
            assert doc["headers"]["X-Forwarded-Proto"] == "http"
            assert doc["headers"]["X-Forwarded-Port"] == str(int(url.rsplit(":", 1)[1]) - 1000)
            assert doc["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")
            # redirect and fixed response
            status, h, body = await get(s, f"{url}/old/page?a=b")
            sent += 1
            assert status == 301 and h["Location"] == "https://new.example.com:443/old/page?a=b"
            status, h, body = await get(s, f"{url}/teapot")
            sent += 1
            assert (status, h["Content-Type"], body) == (418, "text/plain", b"short")
            # a target group with no registered target: the ALB's 503 page
            status, h, body = await get(s, f"{url}/empty")
            sent += 1
            assert status == 503 and b"503 Service Temporarily Unavailable" in body
        # stickiness with a client that keeps cookies (IP host: unsafe jar)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            first = await get(s, f"{url}/sticky")
            assert first[1].getall("Set-Cookie")[0].startswith("AWSALB=")
            assert "Expires=" in first[1].getall("Set-Cookie")[0]
            backends = {(await get(s, f"{url}/sticky"))[1]["X-Backend"] for _ in range(10)}
            sent += 11
            assert backends == {first[1]["X-Backend"]}
        return sent

    sent = asyncio.run(run())
    proxy = setup["proxy"]
    assert stop(proxy, signal.SIGINT) == 0
    proxy.stdout.seek(0)
    lines = proxy.stdout.read().splitlines()
    assert len(lines) == sent
    # the 30 fields of an ALB access-log entry (quoted ones as one)
    f = shlex.split(lines[-1])
    assert len(f) == 30
    assert f[0] == "http" and f[2] == "app/test/1234567890abcdef" and f[8] == "200"
    assert f[12] == f"GET {setup['url']}/sticky HTTP/1.1"
    assert f[16] == TG.format("sticky") and f[20] == "2" and f[22] == "forward"
    assert f[4] == f[25] and f[9] == f[26] == "200"
    redirect = next(x for x in lines if '"redirect"' in x)
    assert '"https://new.example.com:443/old/page?a=b"' in redirect
    assert "lbcore proxy: stopped" in proxy.stderr.read()


def test_backend_killed_mid_run_is_taken_out_by_the_health_checks(setup):
    """A web backend is killed (SIGKILL) mid-run: requests that reach it get the ALB's
    502 until two failed checks (0.3 s apart) mark it unhealthy; after that every
    request goes to the other backend."""
    url, victim, other = setup["url"], setup["web"][0], setup["web"][1]

    async def run():
        async with aiohttp.ClientSession() as s:
            for _ in range(10):
                assert (await get(s, f"{url}/x"))[0] == 200
            os.kill(setup["backends"][victim].pid, signal.SIGKILL)
            setup["backends"][victim].wait(timeout=10)
            statuses = []
            end = time.monotonic() + 10
            tail = []
            while time.monotonic() < end and len(statuses) < 2000:
                status, h, body = await get(s, f"{url}/x")
                statuses.append(status)
                if status == 502:
                    assert b"502 Bad Gateway" in body
                    tail = []
                else:
                    assert h["X-Backend"] == f"127.0.0.1:{other}"
                    tail.append(status)
                    if len(tail) >= 40:
                        break
                await asyncio.sleep(0.01)
            return statuses, tail

    statuses, tail = asyncio.run(run())
    assert len(tail) >= 40, statuses[-50:]          # 40 in a row from the survivor
    assert set(statuses) <= {200, 502}
    assert stop(setup["proxy"]) == 0


def test_cli_errors_and_example(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = subprocess.run([sys.executable, "-m", "lbcore", "proxy", str(bad)],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "TargetGroups" in r.stderr
    r = subprocess.run([sys.executable, "-m", "lbcore", "proxy"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and "--example-backends" in r.stderr
