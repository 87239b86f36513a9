"""lbcore.http adapters, rendering, routing() and the health-check runner. ASGI scopes
are the plain dicts the ASGI spec defines; the aiohttp adapter and the health checks run
against real aiohttp servers on 127.0.0.1 (port 0), bounded in time."""
from __future__ import annotations

import asyncio
import socket

import pytest

from lbcore.elb import (ApplicationLoadBalancer, FixedResponse, Forward, Redirect, Request,
                        SetCookie, Target, TargetGroup)
from lbcore.http import (USER_AGENT, HealthCheckConfig, HealthChecker, forwarded_headers,
                         render, request_from_aiohttp, request_from_asgi, routing,
                         set_cookie_headers, upstream_url)

web = pytest.importorskip("aiohttp.web")
aiohttp = pytest.importorskip("aiohttp")

pytestmark = pytest.mark.timeout(60)

SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
    "scheme": "http", "path": "/a b/c", "raw_path": b"/a%20b/c", "root_path": "",
    "query_string": b"x=1&y=%41",
    "headers": [(b"host", b"Shop.Example.com:8080"), (b"cookie", b"a=1; AWSALB=zz"),
                (b"x-forwarded-for", b"203.0.113.9"), (b"user-agent", b"t\xe9st")],
    "client": ("198.51.100.7", 50123), "server": ("127.0.0.1", 8080),
}


def test_asgi_scope_to_request():
    r = request_from_asgi(SCOPE)
    assert (r.method, r.path, r.query_string) == ("POST", "/a%20b/c", "x=1&y=%41")
    assert r.query == (("x", "1"), ("y", "A"))
    assert (r.host, r.host_name) == ("Shop.Example.com:8080", "shop.example.com")
    assert (r.source_ip, r.protocol, r.port) == ("198.51.100.7", "HTTP", 8080)
    assert r.cookies == {"a": "1", "AWSALB": "zz"}
    assert r.headers.get("User-Agent") == "t\xe9st"            # latin-1, as HTTP/1.1 sends
    assert r.headers.getall("x-forwarded-for") == ["203.0.113.9"]
    assert len(r.headers) == 4


def test_asgi_scope_port_protocol_and_client_from_the_connection():
    s = dict(SCOPE, scheme="https", client=None, server=("127.0.0.1", 9443))
    r = request_from_asgi(s)
    assert (r.protocol, r.port, r.source_ip) == ("HTTPS", 9443, "0.0.0.0")
    assert request_from_asgi(s, port=443).port == 443          # --port-offset
    with pytest.raises(ValueError, match="port="):
        request_from_asgi(dict(SCOPE, server=None))
    with pytest.raises(TypeError, match="scope"):
        request_from_asgi(["not", "a", "scope"])               # type: ignore[arg-type]
    no_raw = {k: v for k, v in SCOPE.items() if k != "raw_path"}
    assert request_from_asgi(no_raw).path == "/a b/c"          # the server gave no raw_path


def _alb(**attrs):
    tgs = {name: TargetGroup([Target("127.0.0.1", "all", port)], protocol="HTTP",
                             port=80, name=name, healthy=True, now=0.0, **attrs)
           for name, port in (("a", 8001), ("b", 8002))}
    alb = ApplicationLoadBalancer(tgs, seed=1)
    rules = [{"Priority": str(10 + i), "Conditions": [
        {"Field": "path-pattern", "Values": [f"/r{i}/*"]}],
        "Actions": [{"Type": "forward", "TargetGroupArn": "a"}]} for i in range(8)]
    rules += [
        {"Priority": "90", "Conditions": [{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "User-Agent", "Values": ["t?st"]}}],
         "Actions": [{"Type": "forward", "TargetGroupArn": "b"}]},
        {"Priority": "91", "Conditions": [{"Field": "host-header", "Values": ["old.*"]}],
         "Actions": [{"Type": "redirect", "RedirectConfig": {
             "Host": "new.example.com", "StatusCode": "HTTP_302"}}]},
    ]
    alb.add_listener(8080, default_actions=[{"Type": "forward", "TargetGroupArn": "a"}],
                     rules=rules)
    return alb


def test_trusted_request_routes_like_a_checked_one():
    alb = _alb()
    fast = request_from_asgi(SCOPE)
    slow = Request("POST", "/a%20b/c?x=1&y=%41", source_ip="198.51.100.7", port=8080,
                   headers=[(k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in SCOPE["headers"]])
    d1, d2 = alb.route(fast, now=1.0), alb.route(slow, now=1.0)
    assert d1.rule_priority == d2.rule_priority == 90          # header rule, lazily decoded
    assert d1.target == d2.target
    r = request_from_asgi(dict(SCOPE, headers=[(b"host", b"old.example.com")]))
    d = alb.route(r, now=2.0)
    assert isinstance(d, Redirect) and d.location == "http://new.example.com:8080/a%20b/c?x=1&y=%41"


def _lor_alb():
    tg = TargetGroup([Target("127.0.0.1", "all", 8001)], protocol="HTTP", port=80,
                     healthy=True, now=0.0,
                     load_balancing_algorithm_type="least_outstanding_requests")
    alb = ApplicationLoadBalancer({"t": tg})
    alb.add_listener(8080, default_actions=[{"Type": "forward", "TargetGroupArn": "t"}])
    return alb


def test_routing_completes_on_success_error_and_cancellation():
    alb = _lor_alb()
    req = request_from_asgi(SCOPE)
    out = lambda: alb.outstanding("t", ("127.0.0.1", 8001))     # noqa: E731

    async def body(fail: str | None) -> None:
        async with routing(alb, req, 1.0) as d:
            assert isinstance(d, Forward) and out() == 1
            if fail == "error":
                raise RuntimeError("target failed")
            if fail == "cancel":
                await asyncio.sleep(10)

    async def run() -> None:
        await body(None)
        assert out() == 0
        with pytest.raises(RuntimeError):
            await body("error")
        assert out() == 0
        task = asyncio.create_task(body("cancel"))
        await asyncio.sleep(0.05)
        assert out() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert out() == 0

    asyncio.run(run())
    with routing(alb, req, 2.0) as d:                # the sync form, completed inside
        alb.complete(d)
    assert out() == 0 and d.completed


def test_set_cookie_headers_as_the_alb_writes_them():
    wall = 1_764_756_000.0                       # Wed, 03 Dec 2025 10:00:00 GMT
    got = set_cookie_headers((SetCookie("AWSALB", "v1", 3600),
                              SetCookie("AWSALBTG", "v2", None)), wall=wall)
    assert got == [
        ("Set-Cookie", "AWSALB=v1; Expires=Wed, 03 Dec 2025 11:00:00 GMT; Path=/"),
        ("Set-Cookie", "AWSALBCORS=v1; Expires=Wed, 03 Dec 2025 11:00:00 GMT; Path=/; "
                       "SameSite=None; Secure"),
        ("Set-Cookie", "AWSALBTG=v2; Path=/"),
    ]
    assert set_cookie_headers((SetCookie("AWSALBAPP-0", "v", 60),), wall=wall) == [
        ("Set-Cookie", "AWSALBAPP-0=v; Expires=Wed, 03 Dec 2025 10:01:00 GMT; Path=/")]
    assert set_cookie_headers(()) == []


def test_forwarded_headers_and_upstream_url():
    r = request_from_asgi(SCOPE)
    h = dict(forwarded_headers(r))
    assert h["X-Forwarded-For"] == "203.0.113.9, 198.51.100.7"      # appended
    assert (h["X-Forwarded-Proto"], h["X-Forwarded-Port"]) == ("http", "8080")
    assert h["X-Amzn-Trace-Id"].startswith("Root=1-") and len(h["X-Amzn-Trace-Id"]) == 40
    traced = request_from_asgi(dict(SCOPE, headers=[(b"x-amzn-trace-id", b"Root=1-a-b")]))
    assert "X-Amzn-Trace-Id" not in dict(forwarded_headers(traced))  # passed on as sent
    alb = _alb()
    d = alb.route(request_from_asgi(dict(SCOPE, headers=[])), now=1.0)
    assert upstream_url(d, r) == "http://127.0.0.1:8001/a%20b/c?x=1&y=%41"
    tg6 = TargetGroup([Target("::1", "all")], protocol="HTTPS", port=8443, healthy=True)
    assert upstream_url(Forward(tg6, tg6.target(0)), Request(target="/p")) == \
        "https://[::1]:8443/p"


def test_render_redirect_and_fixed_response():
    assert render(Forward(None, None)) is None                 # type: ignore[arg-type]
    r = render(Redirect(301, "https://example.com/x"))
    assert (r.status, r.headers, r.body) == (301, [("Location", "https://example.com/x")], b"")
    r = render(FixedResponse(418, "text/plain", "teapot \u2615"))
    assert (r.status, r.headers, r.body) == (418, [("Content-Type", "text/plain")],
                                             "teapot \u2615".encode())
    with pytest.raises(TypeError, match="decision"):
        render("nope")


def test_aiohttp_request_to_request_on_a_real_server():
    seen: list[Request] = []

    async def handle(request):
        seen.append(request_from_aiohttp(request))
        return web.Response(text="ok")

    async def run() -> None:
        runner = web.ServerRunner(web.Server(handle), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/p%2Fq/r?k=v&k=w",
                                 headers={"Host": "API.example.com", "Cookie": "c=1",
                                          "X-Custom": "Yes"}) as resp:
                    assert resp.status == 200
        finally:
            await runner.cleanup()
        r = seen[0]
        assert (r.method, r.path, r.query_string) == ("GET", "/p%2Fq/r", "k=v&k=w")
        assert (r.host_name, r.source_ip, r.port, r.protocol) == \
            ("api.example.com", "127.0.0.1", port, "HTTP")
        assert r.cookies == {"c": "1"} and r.headers.get("x-custom") == "Yes"

    asyncio.run(run())
    with pytest.raises(TypeError, match="aiohttp"):
        request_from_aiohttp(object())


def test_health_check_config_from_aws():
    c = HealthCheckConfig.from_aws({"Protocol": "HTTP", "HealthCheckPort": "9000",
                                    "HealthCheckPath": "/hc", "Matcher": {"HttpCode": "200-299"}})
    assert (c.protocol, c.port, c.path) == ("HTTP", 9000, "/hc")
    assert c.passes(204) and not c.passes(301)
    d = HealthCheckConfig.from_aws({"Protocol": "HTTPS"})
    assert (d.protocol, d.port, d.path, d.matcher) == ("HTTPS", "traffic-port", "/", "200")
    assert HealthCheckConfig(matcher="200,302").passes(302)
    assert HealthCheckConfig.from_aws({"Protocol": "TLS"}).protocol == "TCP"
    for kwargs, msg in (({"matcher": "600"}, "HttpCode"), ({"matcher": "abc"}, "HttpCode"),
                        ({"port": 0}, "port"), ({"path": "hc"}, "path"),
                        ({"protocol": "UDP"}, "protocol")):
        with pytest.raises(ValueError, match=msg):
            HealthCheckConfig(**kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_checker_against_real_targets():
    """Two targets on 127.0.0.1 on different ports: one answers /hc 200, one 500; a
    third port has nothing listening. With thresholds 2 the first becomes healthy, the
    others unhealthy; the checks carry ELB-HealthChecker/2.0 and the matcher decides."""
    agents: list[str] = []

    async def handle(request):
        agents.append(request.headers.get("User-Agent", ""))
        port = request.transport.get_extra_info("sockname")[1]
        return web.Response(status=200 if port == good else 500)

    async def run() -> None:
        nonlocal good
        runners = []
        ports = []
        for _ in range(2):
            r = web.ServerRunner(web.Server(handle), access_log=None)
            await r.setup()
            await web.TCPSite(r, "127.0.0.1", 0).start()
            runners.append(r)
            ports.append(r.addresses[0][1])
        good = ports[0]
        dead = _free_port()
        tg = TargetGroup([Target("127.0.0.1", "all", p) for p in (*ports, dead)],
                         protocol="HTTP", port=80)
        results: list[tuple[object, bool]] = []
        checker = HealthChecker([(tg, HealthCheckConfig(path="/hc"))], interval=0.1,
                                on_result=lambda g, key, ok, state: results.append((key, ok)))
        try:
            async with checker:
                for _ in range(100):
                    await asyncio.sleep(0.05)
                    if len(set(tg.states().values())) == 2 and \
                            "initial" not in tg.states().values():
                        break
        finally:
            for r in runners:
                await r.cleanup()
        assert tg.states() == {("127.0.0.1", ports[0]): "healthy",
                               ("127.0.0.1", ports[1]): "unhealthy",
                               ("127.0.0.1", dead): "unhealthy"}
        assert set(agents) == {USER_AGENT}
        assert (("127.0.0.1", dead), False) in results

    good = 0
    asyncio.run(run())


def test_health_checker_rejects_bad_arguments():
    tg = TargetGroup(protocol="HTTP")
    with pytest.raises(TypeError, match=r"groups\[0\]"):
        HealthChecker([tg])                                   # type: ignore[list-item]
    with pytest.raises(ValueError, match="interval"):
        HealthChecker([(tg, HealthCheckConfig())], interval=0)
