"""Example backends for ``lbcore proxy``: small aiohttp servers on 127.0.0.1 that
answer every path with a JSON document naming themselves.

``python -m lbcore.http.backend --port 8001 [--port 8002 ...]`` serves until
SIGINT/SIGTERM (``lbcore proxy --example-backends`` starts the ones its config names
in-process). ``GET /health`` answers 200 ``ok``; any other path answers 200 with
``{"backend": "127.0.0.1:8001", "method", "path", "query", "headers": {...}}`` (the
request headers as received, so the X-Forwarded-* the proxy adds are visible) and the
header ``X-Backend``. ``/status/NNN`` answers with status NNN.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any, Iterable

__all__ = ["start_backends", "main"]


async def start_backends(ports: Iterable[int], host: str = "127.0.0.1") -> list[Any]:
    """Start one backend per port on ``host``; returns the aiohttp runners (call
    ``await runner.cleanup()`` on each to stop them)."""
    from aiohttp import web

    runners = []
    for port in ports:
        name = f"{host}:{port}"

        async def handle(request: web.BaseRequest, name: str = name) -> web.StreamResponse:
            if request.path == "/health":
                return web.Response(text="ok\n")
            status = 200
            if request.path.startswith("/status/") and request.path[8:].isdigit():
                status = int(request.path[8:])
            body = await request.read()
            doc = {"backend": name, "method": request.method, "path": request.raw_path,
                   "query": request.query_string, "headers": dict(request.headers),
                   "body_bytes": len(body)}
            return web.Response(status=status, text=json.dumps(doc) + "\n",
                                content_type="application/json",
                                headers={"X-Backend": name})

        server = web.Server(handle)
        runner = web.ServerRunner(server, handle_signals=False, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
    return runners


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbcore.http.backend",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, action="append", required=True,
                        help="port to serve on (repeat for several)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    async def run() -> None:
        runners = await start_backends(args.port, args.host)
        print(f"backends on {', '.join(f'{args.host}:{p}' for p in args.port)}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for r in runners:
            await r.cleanup()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
