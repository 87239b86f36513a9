"""Requests from real HTTP servers, and one routed request as a context manager.

:func:`request_from_asgi` (an ASGI ``http`` scope; no dependency) and
:func:`request_from_aiohttp` (an ``aiohttp.web.BaseRequest``) build a
:class:`lbcore.elb.Request` on the trusted fast path (:meth:`Request.trusted`): the
server has parsed and checked the request line and headers, so nothing is checked
again. The listener port and the client address come from the connection (ASGI
``server`` and ``client``; aiohttp's transport), or from ``port=`` when the socket's
port is not the listener's (``lbcore proxy --port-offset``).

:class:`routing` routes one request and completes it when the block ends, whether it
ends normally, with an exception or by cancellation (``async with`` or ``with``).
"""
from __future__ import annotations

from typing import Any, Mapping, Union

from lbcore.elb import FixedResponse, Forward, Redirect, Request

__all__ = ["request_from_asgi", "request_from_aiohttp", "routing"]

HTTPDecision = Union[Forward, Redirect, FixedResponse]
_trusted = Request.trusted
_PROTOCOL = {"http": "HTTP", "https": "HTTPS", "ws": "HTTP", "wss": "HTTPS"}


def request_from_asgi(scope: Mapping[str, Any], *, port: int | None = None,
                      protocol: str | None = None) -> Request:
    """The :class:`~lbcore.elb.Request` of an ASGI ``http`` scope: method,
    ``raw_path`` (the path as sent; ``path`` when the server gives none),
    ``query_string``, ``headers``, the Host header, ``client`` (None: ``0.0.0.0``),
    ``scheme`` (http → HTTP, https → HTTPS) and the port of ``server`` (or ``port``;
    a scope without a server port is a ValueError)."""
    try:
        raw = scope["raw_path"]
        headers = scope["headers"]
    except (KeyError, TypeError):
        if not isinstance(scope, Mapping):
            raise TypeError(f"scope must be an ASGI scope (a mapping), got "
                            f"{type(scope).__name__}") from None
        headers = scope.get("headers", ())
        raw = None
    if raw:
        path = raw.decode("latin-1")
    else:
        path = scope.get("path") or "/"
    host = None
    for name, value in headers:
        if name == b"host":
            host = value.decode("latin-1")
            break
    if port is None:
        server = scope.get("server")
        if not server or server[1] is None:
            raise ValueError("scope has no server port (a Unix socket?): give port=")
        port = server[1]
    client = scope.get("client")
    if protocol is None:
        protocol = _PROTOCOL.get(scope.get("scheme", "http"), "HTTP")
    return _trusted(scope["method"], path, scope.get("query_string", b"").decode("latin-1"),
                    headers, host=host, source_ip=client[0] if client else None,
                    protocol=protocol, port=port)


def request_from_aiohttp(request: Any, *, port: int | None = None,
                         protocol: str | None = None) -> Request:
    """The :class:`~lbcore.elb.Request` of an ``aiohttp.web.BaseRequest``: method,
    ``raw_path`` (path and query as sent), ``raw_headers``, the Host header,
    ``remote`` (the peer), ``secure`` (HTTPS) and the local port of the connection
    (or ``port``)."""
    try:
        target = request.raw_path
        raw_headers = request.raw_headers
    except AttributeError:
        raise TypeError(f"request must be an aiohttp.web.BaseRequest, got "
                        f"{type(request).__name__}") from None
    path, _, qs = target.partition("?")
    if port is None:
        transport = request.transport
        sock = transport.get_extra_info("sockname") if transport is not None else None
        if not sock or not isinstance(sock, tuple):
            raise ValueError("request: the connection has no local port: give port=")
        port = sock[1]
    if protocol is None:
        protocol = "HTTPS" if request.secure else "HTTP"
    return _trusted(request.method, path, qs, raw_headers, host=request.headers.get("Host"),
                    source_ip=request.remote, protocol=protocol, port=port)


class routing:
    """``async with routing(alb, request, now) as decision:`` (or ``with``): the
    load balancer's decision for ``request`` at ``now`` (omitted: its clock), and
    ``alb.complete(decision)`` when the block ends, normally, by an exception or by
    cancellation (unless the block completed it already). ``zone``: the
    Availability Zone of the node that received the request."""

    __slots__ = ("_route", "_complete", "_request", "_now", "_zone", "decision")
    decision: HTTPDecision

    def __init__(self, alb: Any, request: Request, now: float | None = None, *,
                 zone: str | None = None) -> None:
        self._route = alb.route
        self._complete = alb.complete
        self._request, self._now, self._zone = request, now, zone

    def __enter__(self) -> HTTPDecision:
        d = self.decision = self._route(self._request, self._now, zone=self._zone)
        return d

    def __exit__(self, *exc: object) -> None:
        d = self.decision
        if not getattr(d, "completed", False):
            self._complete(d)

    async def __aenter__(self) -> HTTPDecision:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()
