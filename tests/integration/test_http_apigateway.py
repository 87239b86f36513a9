"""lbcore.http.ApiGatewayMiddleware: API Gateway throttling in front of an ASGI app.

No ASGI server is a dependency (uvicorn and friends are not installed), so the
middleware is driven two ways: called directly with the plain scope / receive / send
the ASGI spec defines, and behind a real HTTP server — aiohttp's low-level server on
127.0.0.1 (port 0) whose handler turns each request into an ASGI scope and calls the
middleware — with aiohttp's client. Every test is bounded in requests and time."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import math

import pytest

from lbcore.apigateway import ApiGateway, Decision, ThrottleSettings
from lbcore.http import ApiGatewayMiddleware, gateway_response

pytestmark = pytest.mark.timeout(120)

T0 = dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.timezone.utc).timestamp()
MIDNIGHT = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc).timestamp()
S = ("petstore", "prod")


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def gateway(clock: Clock) -> ApiGateway:
    g = ApiGateway(ThrottleSettings(10_000, 5_000), utc_clock=clock)
    g.add_stage(*S, throttle={"rateLimit": 1000, "burstLimit": 1000}, method_settings={
        "/pets/dog/GET": {"rateLimit": 1, "burstLimit": 1},
        "/api/{proxy+}/ANY": {"rateLimit": 1, "burstLimit": 2}})
    g.add_api("petstore", {
        "/pets": "GET", "/pets/{id}": "GET", "/pets/dog": "GET",
        "/orders/{id}": {"GET": {"apiKeyRequired": True}},
        "/api/{proxy+}": "ANY"})
    g.add_usage_plan("basic", throttle={"rateLimit": 0.1, "burstLimit": 1},
                     quota={"limit": 3, "period": "DAY"}, api_stages=[{"apiId": S[0],
                                                                       "stage": S[1]}])
    for k in ("k1", "k2", "k3"):
        g.add_api_key(k, "basic")
    return g


async def echo(scope, receive, send):
    msg = await receive()
    body = json.dumps({"path": scope["path"], "method": scope["method"],
                       "body": msg.get("body", b"").decode()}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def scope(method: str, raw_path: str, key: str | None = None) -> dict:
    headers = [(b"host", b"api.example.com")]
    if key is not None:
        headers.append((b"x-api-key", key.encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": raw_path, "raw_path":
            raw_path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}


async def call(app, sc, body: bytes = b"") -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(msg):
        sent.append(msg)

    await app(sc, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def test_asgi_callable_403_429_and_pass_through():
    clock = Clock()
    g = gateway(clock)
    mw = ApiGatewayMiddleware(echo, g, stage=S)

    async def run():
        st, h, body = await call(mw, scope("GET", "/orders/1"))            # no key
        assert (st, body) == (403, b'{"message":"Forbidden"}')
        assert h["x-amzn-errortype"] == "ForbiddenException"
        assert h["content-type"] == "application/json"
        st, h, body = await call(mw, scope("GET", "/orders/1", "wrong"))   # bad key
        assert (st, body) == (403, b'{"message":"Forbidden"}')
        st, h, body = await call(mw, scope("GET", "/nothing"))             # no resource
        assert (st, body) == (403, b'{"message":"Missing Authentication Token"}')
        assert h["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        st, h, body = await call(mw, scope("POST", "/pets"))               # no method
        assert st == 403
        st, h, body = await call(mw, scope("GET", "/orders/1", "k1"), b"hi")
        assert st == 200 and json.loads(body) == {"path": "/orders/1", "method": "GET",
                                                  "body": "hi"}
        clock.t += 0.25                                  # plan: 0.1/s, burst 1
        st, h, body = await call(mw, scope("GET", "/orders/2", "k1"))
        assert (st, body) == (429, b'{"message":"Too Many Requests"}')
        assert h["retry-after"] == "10"                  # 9.75 s, rounded up
        clock.t += 9.7
        st, h, _ = await call(mw, scope("GET", "/orders/2", "k1"))
        assert (st, h["retry-after"]) == (429, "1")      # 0.05 s -> 1
        clock.t += 0.05
        assert (await call(mw, scope("GET", "/orders/2", "k1")))[0] == 200
        # lifespan passes through untouched
        seen = []

        async def app(sc, receive, send):
            seen.append(sc["type"])
        await ApiGatewayMiddleware(app, g, stage=S)({"type": "lifespan"}, None, None)
        assert seen == ["lifespan"]

    asyncio.run(run())
    assert mw.decisions == {403: 4, 200: 2, 429: 2}


def test_quota_exhaustion_retry_after_is_the_utc_reset():
    clock = Clock()
    mw = ApiGatewayMiddleware(echo, gateway(clock), stage=S)

    async def run():
        for _ in range(3):
            assert (await call(mw, scope("GET", "/orders/9", "k2")))[0] == 200
            clock.t += 10
        st, h, body = await call(mw, scope("GET", "/orders/9", "k2"))
        assert (st, body) == (429, b'{"message":"Limit Exceeded"}')
        assert h["retry-after"] == str(int(MIDNIGHT - (T0 + 30)))      # 39570 s
        clock.t = MIDNIGHT                                  # the next UTC day
        assert (await call(mw, scope("GET", "/orders/9", "k2")))[0] == 200

    asyncio.run(run())


def test_templates_most_specific_wins_and_proxy_greedy():
    clock = Clock()
    mw = ApiGatewayMiddleware(echo, gateway(clock), stage=S)

    async def run():
        # /pets/dog has its own method throttle (burst 1); /pets/{id} the stage's
        assert (await call(mw, scope("GET", "/pets/dog")))[0] == 200
        st, h, _ = await call(mw, scope("GET", "/pets/dog"))
        assert (st, h["retry-after"]) == (429, "1")
        for i in range(5):
            assert (await call(mw, scope("GET", f"/pets/cat{i}")))[0] == 200
        # /api/{proxy+} ANY: one bucket (burst 2) for every path and method under /api
        assert (await call(mw, scope("PUT", "/api/a")))[0] == 200
        assert (await call(mw, scope("DELETE", "/api/b/c/d")))[0] == 200
        st, h, _ = await call(mw, scope("GET", "/api/zz"))
        assert (st, h["retry-after"]) == (429, "1")
        assert (await call(mw, scope("GET", "/api")))[0] == 403       # needs a segment

    asyncio.run(run())


def test_bucket_count_bounded_by_configuration_not_paths():
    clock = Clock()
    g = gateway(clock)
    mw = ApiGatewayMiddleware(echo, g, stage=S)

    async def run():
        for p in ("/pets/x", "/orders/x", "/api/x"):
            await call(mw, scope("GET", p, "k3"))
        n = g.bucket_count
        for i in range(20_000):                              # 20k distinct real paths
            clock.t += 0.001
            await call(mw, scope("GET", f"/pets/{i}"))
            await call(mw, scope("GET", f"/orders/{i}", "k3"))
            await call(mw, scope("POST", f"/api/{i}/{i}"))
            await call(mw, scope("GET", f"/unknown/{i}", f"key{i}"))
        assert g.bucket_count == n

    asyncio.run(run())
    assert sum(mw.decisions.values()) == 80_003


def test_wall_clock_step_back_never_fails_a_request():
    clock = Clock()
    mw = ApiGatewayMiddleware(echo, gateway(clock), stage=S)

    async def run():
        assert (await call(mw, scope("GET", "/pets/1")))[0] == 200
        clock.t -= 3600                                       # NTP steps the clock back
        assert (await call(mw, scope("GET", "/pets/2")))[0] == 200

    asyncio.run(run())


def test_bad_arguments():
    g = gateway(Clock())
    with pytest.raises(TypeError, match="app"):
        ApiGatewayMiddleware(None, g)                         # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gateway"):
        ApiGatewayMiddleware(echo, object())                  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="stage"):
        ApiGatewayMiddleware(echo, g, stage="petstore/prod")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="utc_clock"):
        ApiGatewayMiddleware(echo, g, utc_clock=3)            # type: ignore[arg-type]
    with pytest.raises(ValueError, match="admitted"):
        gateway_response(Decision(True))


# ------------------------------------------------------------------ real HTTP
web = pytest.importorskip("aiohttp.web")
aiohttp = pytest.importorskip("aiohttp")


def asgi_handler(app):
    """An aiohttp low-level handler that serves ``app`` (ASGI 3): the request as an
    ASGI http scope (raw path as sent, header names lower-cased), its body in one
    receive, the sent messages as the response."""
    async def handle(request):
        target = request.raw_path
        path, _, qs = target.partition("?")
        body = await request.read()
        tr = request.transport
        sc = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
              "method": request.method, "scheme": "http", "path": request.path,
              "raw_path": path.encode("latin-1"), "query_string": qs.encode("latin-1"),
              "root_path": "", "headers": [(k.lower(), v) for k, v in request.raw_headers],
              "client": tr.get_extra_info("peername")[:2],
              "server": tr.get_extra_info("sockname")[:2]}
        status, headers, out = await call(app, sc, body)
        resp = web.Response(status=status, body=out)
        for k, v in headers.items():
            if k == "content-type":
                resp.content_type = v
            elif k != "content-length":
                resp.headers[k] = v
        return resp
    return handle


def test_real_http_server_and_client():
    clock = Clock()
    g = gateway(clock)
    mw = ApiGatewayMiddleware(echo, g, stage=S)

    async def run():
        runner = web.ServerRunner(web.Server(asgi_handler(mw)), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as s:
                async def get(path, key=None, method="GET"):
                    hdr = {} if key is None else {"x-api-key": key}
                    async with s.request(method, base + path, headers=hdr) as r:
                        return r.status, r.headers, await r.read()

                st, h, body = await get("/orders/1")
                assert (st, body) == (403, b'{"message":"Forbidden"}')
                assert h["Content-Type"].startswith("application/json")
                assert (await get("/orders/1", "nope"))[0] == 403
                st, _, body = await get("/elsewhere")
                assert (st, body) == (403, b'{"message":"Missing Authentication Token"}')
                st, _, body = await get("/orders/1?x=1", "k1")
                assert st == 200 and json.loads(body)["path"] == "/orders/1"
                clock.t += 0.25
                st, h, body = await get("/orders/2", "k1")
                assert (st, body, h["Retry-After"]) == \
                    (429, b'{"message":"Too Many Requests"}', "10")
                # quota: k2 has 3 a day
                for _ in range(3):
                    clock.t += 10
                    assert (await get("/orders/3", "k2"))[0] == 200
                st, h, body = await get("/orders/3", "k2")
                assert (st, body) == (429, b'{"message":"Limit Exceeded"}')
                assert h["Retry-After"] == str(math.ceil(MIDNIGHT - clock.t))  # 39569.75
                # most specific wins; {proxy+} is one bucket for ANY method and path
                assert (await get("/pets/dog"))[0] == 200
                assert (await get("/pets/dog"))[0] == 429
                assert (await get("/pets/cat"))[0] == 200
                assert (await get("/api/a/b", method="POST"))[0] == 200
                assert (await get("/api/c", method="PATCH"))[0] == 200
                st, h, _ = await get("/api/d")
                assert (st, h["Retry-After"]) == (429, "1")
                # distinct real paths add no bucket
                n = g.bucket_count
                for i in range(300):
                    clock.t += 0.01
                    assert (await get(f"/pets/p{i}"))[0] == 200
                assert g.bucket_count == n
        finally:
            await runner.cleanup()

    asyncio.run(run())
