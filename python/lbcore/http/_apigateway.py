"""API Gateway throttling in front of an ASGI app (no dependency).

:class:`ApiGatewayMiddleware` decides every HTTP request with
:meth:`lbcore.apigateway.ApiGateway.check` — the request path (as sent), the method and
the ``x-api-key`` header — and answers refusals itself, with API Gateway's bodies:
403 ``{"message":"Forbidden"}`` (missing or invalid key where the method requires one),
403 ``{"message":"Missing Authentication Token"}`` (no resource or method), 429
``{"message":"Too Many Requests"}`` (throttled) or ``{"message":"Limit Exceeded"}``
(quota), each 429 with ``Retry-After``. Admitted requests go to the app unchanged.
"""
from __future__ import annotations

import json
import math
import threading
from typing import Any, Awaitable, Callable

from lbcore.apigateway import (INVALID_API_KEY, MISSING_AUTHENTICATION_TOKEN, ApiGateway,
                               Decision)

__all__ = ["ApiGatewayMiddleware", "gateway_response"]

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
# x-amzn-ErrorType of the 403s (AWS knowledge center, "troubleshoot HTTP 403 errors")
_ERROR_TYPE = {INVALID_API_KEY: b"ForbiddenException",
               MISSING_AUTHENTICATION_TOKEN: b"MissingAuthenticationTokenException"}


def gateway_response(decision: Decision) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of a refused request as API Gateway sends it: the JSON
    body ``{"message": ...}``, ``Content-Type: application/json``, ``x-amzn-ErrorType``
    for the 403s, and for a 429 ``Retry-After``: ``decision.retry_after`` rounded up to
    whole seconds (absent when the request could never be admitted)."""
    if decision.allowed:
        raise ValueError("decision: an admitted request has no gateway response")
    body = json.dumps({"message": decision.message}, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    et = _ERROR_TYPE.get(decision.reason or "")
    if et is not None:
        headers.append((b"x-amzn-errortype", et))
    if decision.status == 429 and decision.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(decision.retry_after))).encode()))
    return decision.status, headers, body


class ApiGatewayMiddleware:
    """``ApiGatewayMiddleware(app, gateway, stage=None)``: an ASGI app that decides each
    ``http`` request with ``gateway.check(x-api-key, raw path, method, stage=stage)``
    and passes admitted requests to ``app``; other scope types (``lifespan``,
    ``websocket``) pass through undecided.

    Give the API's resources to the gateway first (``gateway.add_api``), so that real
    paths match templates and the bucket count stays bounded by the configured resources
    and keys. Time: calendar UTC seconds from ``utc_clock`` (default the gateway's),
    as the gateway needs for quotas; a reading earlier than the last one (a wall-clock
    step back) is taken as the last one, so a clock step never fails a request.
    ``decisions`` counts the outcomes by status."""

    def __init__(self, app: ASGIApp, gateway: ApiGateway, *,
                 stage: tuple[str, str] | None = None,
                 utc_clock: Callable[[], float] | None = None) -> None:
        if not callable(app):
            raise TypeError(f"app must be an ASGI callable, got {type(app).__name__}")
        if not isinstance(gateway, ApiGateway):
            raise TypeError(f"gateway must be an ApiGateway, got {type(gateway).__name__}")
        if utc_clock is not None and not callable(utc_clock):
            raise TypeError(f"utc_clock must be a callable returning UTC seconds, got "
                            f"{type(utc_clock).__name__}")
        if stage is not None and not (isinstance(stage, tuple) and len(stage) == 2):
            raise TypeError(f"stage must be None or (api_id, stage_name), got {stage!r}")
        self.app = app
        self.gateway = gateway
        self.stage = stage
        self._clock = gateway.utc_clock if utc_clock is None else utc_clock
        self._last = 0.0
        self._time_lock = threading.Lock()
        self.decisions: dict[int, int] = {}

    def _now(self) -> float:
        t = float(self._clock())
        with self._time_lock:
            if t < self._last:
                t = self._last
            else:
                self._last = t
        return t

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path")
        path = raw.decode("latin-1").partition("?")[0] if raw else scope.get("path") or "/"
        key = None
        for name, value in scope.get("headers", ()):
            if name == b"x-api-key":
                key = value.decode("latin-1")
                break
        d = self.gateway.check(key, path, scope["method"], self._now(), stage=self.stage)
        counts = self.decisions
        counts[d.status] = counts.get(d.status, 0) + 1
        if d.allowed:
            await self.app(scope, receive, send)
            return
        status, headers, body = gateway_response(d)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
