"""What an Application Load Balancer adds around its decision, rendered for a proxy.

Sources (docs/http.md, "What the ALB adds"):

* X-Forwarded-For / -Proto / -Port: Elastic Load Balancing User Guide, "HTTP headers
  and Application Load Balancers": the client address is appended to an
  X-Forwarded-For the request carries (``routing.http.xff_header_processing.mode``
  ``append``, the default); X-Forwarded-Proto is the listener protocol (``http`` or
  ``https``), X-Forwarded-Port the listener port.
* X-Amzn-Trace-Id: "Request tracing for your Application Load Balancer": a request
  without one gets ``Root=1-{8 hex digits: epoch seconds}-{24 hex digits}``; one it
  carries is passed on.
* Set-Cookie: "Sticky sessions for your Application Load Balancer": the ALB sets
  ``AWSALB`` (lb_cookie), ``AWSALBAPP-0`` (app_cookie) or ``AWSALBTG`` (target-group
  stickiness) with an ``Expires`` date and ``Path=/``; with AWSALB it also sets
  ``AWSALBCORS``, the same value with ``SameSite=None; Secure`` for cross-origin
  requests.
* Redirects: ``Location``; fixed responses: the status, ``Content-Type`` and body.
"""
from __future__ import annotations

import os
import time
from email.utils import formatdate
from typing import Any

from lbcore.elb import FixedResponse, Forward, Redirect, Request, SetCookie

__all__ = ["upstream_url", "forwarded_headers", "set_cookie_headers", "trace_id",
           "Response", "render"]

_dates: dict[int, str] = {}


def _http_date(t: float) -> str:
    s = int(t)
    d = _dates.get(s)
    if d is None:
        if len(_dates) > 64:
            _dates.clear()
        d = _dates[s] = formatdate(s, usegmt=True)
    return d


def upstream_url(decision: Forward, request: Request) -> str:
    """The URL the proxy sends a forwarded request to: the target group's protocol
    (http/https), the target's Id (an IP address for ``ip`` targets) and port (the
    target's, else the target group's), and the request's path and query as sent."""
    t = decision.target
    tg = decision.target_group
    port = t.port if t.port is not None else tg.port
    host = t.id if ":" not in str(t.id) else f"[{t.id}]"
    scheme = "https" if tg.protocol == "HTTPS" else "http"
    qs = request.query_string
    return (f"{scheme}://{host}:{port}{request.path}?{qs}" if qs
            else f"{scheme}://{host}:{port}{request.path}")


def trace_id(now: float | None = None) -> str:
    """A new X-Amzn-Trace-Id value: ``Root=1-<epoch seconds, 8 hex>-<96 random bits>``
    (``now``: calendar seconds, default :func:`time.time`)."""
    t = int(time.time() if now is None else now)
    return f"Root=1-{t:08x}-{os.urandom(12).hex()}"


def forwarded_headers(request: Request, *, trace: bool = True) -> list[tuple[str, str]]:
    """The headers the ALB sets on a request it forwards: X-Forwarded-For (the
    request's value with the client address appended), X-Forwarded-Proto,
    X-Forwarded-Port, and X-Amzn-Trace-Id when the request has none (``trace``).
    The proxy replaces the request's own X-Forwarded-* headers with these."""
    prior = request.headers.getall("x-forwarded-for")
    xff = ", ".join([*prior, request.source_ip]) if prior else request.source_ip
    out = [("X-Forwarded-For", xff), ("X-Forwarded-Proto", request.protocol.lower()),
           ("X-Forwarded-Port", str(request.port))]
    if trace and "x-amzn-trace-id" not in request.headers:
        out.append(("X-Amzn-Trace-Id", trace_id()))
    return out


def set_cookie_headers(cookies: tuple[SetCookie, ...], *, wall: float | None = None,
                       cors: bool = True) -> list[tuple[str, str]]:
    """``("Set-Cookie", value)`` pairs for a decision's cookies as the ALB writes
    them: ``NAME=value; Expires=<HTTP date>; Path=/`` (no Expires for a
    browser-session cookie), and for AWSALB also ``AWSALBCORS=value; Expires=...;
    Path=/; SameSite=None; Secure`` (``cors``). ``wall``: calendar seconds the
    expiry counts from (default :func:`time.time`)."""
    if not cookies:
        return []
    if wall is None:
        wall = time.time()
    out = []
    for c in cookies:
        tail = "; Path=/" if c.max_age is None else \
            f"; Expires={_http_date(wall + c.max_age)}; Path=/"
        out.append(("Set-Cookie", f"{c.name}={c.value}{tail}"))
        if cors and c.name == "AWSALB":
            out.append(("Set-Cookie", f"AWSALBCORS={c.value}{tail}; SameSite=None; Secure"))
    return out


class Response:
    """A response the load balancer sends itself (a redirect or a fixed
    response): ``status``, ``headers`` (list of pairs) and ``body`` (bytes)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.headers!r}, {self.body[:40]!r})"


def render(decision: Any) -> Response | None:
    """The response the ALB sends itself for ``decision``: a :class:`Redirect`
    (its status and ``Location``, empty body) or a :class:`FixedResponse` (its
    status, ``Content-Type`` when set, the body as UTF-8). None for a
    :class:`Forward` (the proxy sends it to :func:`upstream_url`)."""
    if type(decision) is Forward or isinstance(decision, Forward):
        return None
    if isinstance(decision, Redirect):
        return Response(decision.status_code, [("Location", decision.location)], b"")
    if isinstance(decision, FixedResponse):
        headers = [] if decision.content_type is None else \
            [("Content-Type", decision.content_type)]
        return Response(decision.status_code, headers, decision.body.encode("utf-8"))
    raise TypeError(f"decision must be a Forward, Redirect or FixedResponse, got "
                    f"{type(decision).__name__}")
