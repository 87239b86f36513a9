"""Per-request cost of ApiGateway.check on a plan + method limit, and of
lbcore.http.ApiGatewayMiddleware in front of an ASGI app (docs/performance.md,
"API Gateway middleware").

Run with the build to measure: ``python benchmarks/apigateway_middleware.py [--against
OTHER/python/lbcore/apigateway/_throttling.py]`` (``--against``: also time the
``ApiGateway`` of another checkout's module, loaded over this build's kernels). Every row
makes the same admitting decision (buckets of rate 1e9/s never empty), interleaved: each
of 9 rounds times every row once, and the row's figure is the median (and min) over the
rounds, so all rows see the same machine load.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time

from lbcore import TokenBuckets
from lbcore.apigateway import ApiGateway, ThrottleSettings
from lbcore.http import ApiGatewayMiddleware

BIG = ThrottleSettings(1e9, 10**9)
T = 1.7e9


def gateway(with_resources: bool, cls: type = ApiGateway) -> ApiGateway:
    g = cls(BIG)
    g.add_stage("api", "prod", throttle=BIG, method_settings={"/pets/{id}/GET": BIG})
    if with_resources:
        g.add_api("api", {"/pets": ["GET", "POST"], "/pets/{id}": {"GET": True},
                          "/pets/{id}/toys": "ANY", "/{proxy+}": "ANY"})
    g.add_usage_plan("p", api_stages=[("api", "prod")], throttle=BIG)
    g.add_api_key("k", "p")
    return g


async def _app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _scope(path: str) -> dict:
    return {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": [(b"host", b"x"), (b"x-api-key", b"k")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}


def _other(path: str) -> type:
    spec = importlib.util.spec_from_file_location("other_throttling", path)
    mod = importlib.util.module_from_spec(spec)          # type: ignore[arg-type]
    sys.modules["other_throttling"] = mod
    spec.loader.exec_module(mod)                         # type: ignore[union-attr]
    return mod.ApiGateway


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", help="another checkout's apigateway/_throttling.py")
    ap.add_argument("--cpu", action="store_true",
                    help="time with time.process_time (this process's CPU time: excludes "
                         "the time a loaded machine runs other jobs) instead of perf_counter")
    args = ap.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    tb = TokenBuckets(1, rate=1e9, burst=10**9)
    legacy, real = gateway(False), gateway(True)
    fresh = gateway(True)
    paths = [f"/pets/{i}" for i in range(100)]
    distinct = iter(f"/pets/u{i}" for i in range(10**7))
    n = 20_000

    def loop(fn):
        def run():
            for _ in range(n):
                fn()
        return run

    rows = {
        "TokenBuckets.check (one bucket)": loop(lambda: tb.check(0, T)),
        "ApiGateway.check, template given (plan + method + account)":
            loop(lambda: legacy.check("k", "/pets/{id}", "GET", T)),
        "ApiGateway.check, template given, --against module":
            None,
        "ApiGateway.check, add_api, one real path":
            loop(lambda: real.check("k", "/pets/7", "GET", T)),
    }

    if args.against:
        other = gateway(False, _other(args.against))
        rows["ApiGateway.check, template given, --against module"] = \
            loop(lambda: other.check("k", "/pets/{id}", "GET", T))
    else:
        del rows["ApiGateway.check, template given, --against module"]

    def cycle():
        c = real.check
        for i in range(n):
            c("k", paths[i % 100], "GET", T)
    rows["ApiGateway.check, add_api, 100 real paths in turn"] = cycle

    def unseen():
        c = fresh.check
        for _ in range(n):
            c("k", next(distinct), "GET", T)
    rows["ApiGateway.check, add_api, every path new (matching)"] = unseen

    mw = ApiGatewayMiddleware(_app, real, utc_clock=lambda: T)
    scopes = [_scope(p) for p in paths]

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(msg):
        pass

    async def bare():
        for i in range(n):
            await _app(scopes[i % 100], receive, send)

    async def wrapped():
        for i in range(n):
            await mw(scopes[i % 100], receive, send)

    loop_ = asyncio.new_event_loop()
    rows["ASGI app alone (await app(scope, receive, send))"] = \
        lambda: loop_.run_until_complete(bare())
    rows["ApiGatewayMiddleware(app), 100 real paths"] = \
        lambda: loop_.run_until_complete(wrapped())

    times: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(9):
        for name, fn in rows.items():
            t0 = clock()
            fn()
            times[name].append((clock() - t0) / n * 1e9)
    for name, ts in times.items():
        print(f"{name:62s} median {statistics.median(ts):7.0f} ns  min {min(ts):7.0f} ns")
    app_ns = statistics.median(times["ASGI app alone (await app(scope, receive, send))"])
    mw_ns = statistics.median(times["ApiGatewayMiddleware(app), 100 real paths"])
    print(f"middleware overhead per request (median difference): {mw_ns - app_ns:.0f} ns")
    print(f"buckets: legacy {legacy.bucket_count}, add_api {real.bucket_count}, "
          f"after {9 * n} new paths {fresh.bucket_count}")


if __name__ == "__main__":
    main()
