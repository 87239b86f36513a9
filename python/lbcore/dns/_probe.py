"""Health checks that probe: HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH and TCP endpoints
checked for real, their results fed to a :class:`lbcore.route53.HealthCheck` with ``observe(ok, now=...)``.

What a result means (Route 53 Developer Guide, "How Amazon Route 53 determines whether a
health check is healthy"):

* TCP: a TCP connection within 10 seconds;
* HTTP: a connection within 4 seconds, then an HTTP status 2xx or 3xx within 2 seconds;
* HTTP_STR_MATCH: as HTTP, and the search string appears in the first 5,120 bytes of the
  response body;
* HTTPS, HTTPS_STR_MATCH: as HTTP and HTTP_STR_MATCH over TLS (the connection, TLS
  handshake included, within 4 seconds). The endpoint's certificate is not validated
  (Route 53 does not validate it: an expired or self-signed certificate passes); the
  Host name is sent as SNI only with ``enable_sni`` (HealthCheckConfig.EnableSNI).

Every checker of a ``HealthCheck(checkers=N)`` probes from this host, the N checkers
spread evenly over the request interval.
"""
from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from typing import Any, Callable, Iterable, Mapping

from lbcore.route53 import HealthCheck
from lbcore.dns._aio import cancel_and_wait

__all__ = ["Probe", "HealthProber", "BODY_LIMIT"]

BODY_LIMIT = 5120                  # bytes of the body searched by HTTP_STR_MATCH
_TCP_CONNECT = 10.0                # seconds
_HTTP_CONNECT = 4.0
_HTTP_RESPONSE = 2.0
_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
_STR_MATCH = ("HTTP_STR_MATCH", "HTTPS_STR_MATCH")
_TLS = ("HTTPS", "HTTPS_STR_MATCH")
_USER_AGENT = "lbcore-health-check"


class Probe:
    """How to check one endpoint for ``check`` (a :class:`lbcore.route53.HealthCheck`).

    ``type``: 'HTTP' | 'HTTPS' | 'HTTP_STR_MATCH' | 'HTTPS_STR_MATCH' | 'TCP';
    ``address`` (IP) and ``port`` (default 80, 443 for HTTPS types); ``path``
    (ResourcePath, default '/'), ``host`` (the Host header; default the address),
    ``search_string`` (the *_STR_MATCH types, 1..255 characters), ``enable_sni``
    (HTTPS types: send ``host`` in the TLS client hello; default False, as in the API).
    """

    def __init__(self, check: HealthCheck, type: str, address: str, port: int | None = None,
                 *, path: str = "/", host: str | None = None,
                 search_string: str | None = None, enable_sni: bool = False) -> None:
        if not isinstance(check, HealthCheck):
            raise TypeError(f"check must be a lbcore.route53.HealthCheck, got "
                            f"{check.__class__.__name__}")
        if type not in _TYPES:
            raise ValueError(f"type must be one of {list(_TYPES)}, got {type!r}")
        try:
            ipaddress.ip_address(address)
        except (TypeError, ValueError):
            raise ValueError(f"address must be an IP address, got {address!r}") from None
        if port is None:
            port = 443 if type in _TLS else 80
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 255:
            raise ValueError(f"path must start with '/' and be at most 255 characters, got "
                             f"{path!r}")
        if type in _STR_MATCH:
            if not isinstance(search_string, str) or not 1 <= len(search_string) <= 255:
                raise ValueError(f"search_string must be 1..255 characters for {type}")
        elif search_string is not None:
            raise ValueError("search_string is only used by HTTP_STR_MATCH and "
                             "HTTPS_STR_MATCH")
        if enable_sni is not True and enable_sni is not False:
            raise TypeError(f"enable_sni must be a bool, got {enable_sni.__class__.__name__}")
        if enable_sni and type not in _TLS:
            raise ValueError("enable_sni is only used by HTTPS and HTTPS_STR_MATCH")
        self.check, self.type, self.address, self.port = check, type, address, port
        self.path, self.search_string = path, search_string
        self.host = address if host is None else host
        self.enable_sni = enable_sni
        self._tls = _tls_context() if type in _TLS else None

    @classmethod
    def from_aws(cls, check: HealthCheck, config: Mapping[str, Any]) -> Probe:
        """From a ``HealthCheckConfig`` (``get_health_check()['HealthCheck']
        ['HealthCheckConfig']``): Type, IPAddress, Port, ResourcePath,
        FullyQualifiedDomainName (the Host header), SearchString, EnableSNI."""
        if "IPAddress" not in config:
            raise ValueError("HealthCheckConfig.IPAddress: lbcore probes IP addresses only")
        return cls(check, config.get("Type", ""), config["IPAddress"], config.get("Port"),
                   path=config.get("ResourcePath", "/") or "/",
                   host=config.get("FullyQualifiedDomainName"),
                   search_string=config.get("SearchString"),
                   enable_sni=bool(config.get("EnableSNI", False))
                   if config.get("Type") in _TLS else False)

    async def run(self) -> bool:
        """Probe once; True when the endpoint passes."""
        connect = _TCP_CONNECT if self.type == "TCP" else _HTTP_CONNECT
        tls: dict[str, Any] = {}
        if self._tls is not None:              # no SNI unless EnableSNI ('' = none)
            tls = {"ssl": self._tls,
                   "server_hostname": self.host if self.enable_sni else "",
                   "ssl_handshake_timeout": connect}
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.address, self.port, **tls), connect)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            return False
        try:
            if self.type == "TCP":
                return True
            return await asyncio.wait_for(self._http(reader, writer), _HTTP_RESPONSE)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                ssl.SSLError):
            return False
        finally:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), _HTTP_RESPONSE)
            except (OSError, asyncio.TimeoutError, ssl.SSLError):
                pass

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                     f"User-Agent: {_USER_AGENT}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        await writer.drain()
        status = (await reader.readline()).split()
        if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
            return False
        if not 200 <= int(status[1]) <= 399:
            return False
        if self.search_string is None:
            return True
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass                                        # headers
        body = b""
        while len(body) < BODY_LIMIT:
            chunk = await reader.read(BODY_LIMIT - len(body))
            if not chunk:
                break
            body += chunk
        return self.search_string.encode("utf-8") in body[:BODY_LIMIT]

    async def observe(self, now: float, checker: int = 0) -> bool:
        """Probe once and record the result in the health check at ``now``."""
        ok = await self.run()
        self.check.observe(ok, now=now, checker=checker)
        return ok


def _tls_context() -> ssl.SSLContext:
    """A client context that accepts any certificate (Route 53 does not validate the
    endpoint's certificate) and TLS 1.0 or later where the local OpenSSL allows it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class HealthProber:
    """Runs ``probes`` on their health checks' request intervals in the running event
    loop (``await start()`` ... ``await stop()``, or ``async with``); results are recorded
    at ``clock()`` (default :func:`time.monotonic`; give the server and the zone the same
    clock). ``interval``: seconds between rounds instead of each check's RequestInterval
    (for tests and demos). A check with ``disabled`` set is not probed while it is set
    (Route 53 stops submitting requests; its status is healthy, see HealthCheck)."""

    def __init__(self, probes: Iterable[Probe], *, clock: Callable[[], float] | None = None,
                 interval: float | None = None) -> None:
        self.probes = list(probes)
        for p in self.probes:
            if not isinstance(p, Probe):
                raise TypeError(f"probes must be Probe objects, got {type(p).__name__}")
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        if interval is not None and (isinstance(interval, bool) or
                                     not isinstance(interval, (int, float)) or
                                     not interval > 0):
            raise ValueError(f"interval must be a positive number of seconds, got "
                             f"{interval!r}")
        self.clock = time.monotonic if clock is None else clock
        self.interval = interval
        self._tasks: list[asyncio.Task[None]] = []

    async def _loop(self, probe: Probe, checker: int) -> None:
        every = probe.check.request_interval if self.interval is None else self.interval
        await asyncio.sleep(every * checker / probe.check.checkers)   # stagger checkers
        while True:
            if not probe.check.disabled:        # Disabled: Route 53 sends no requests
                await probe.observe(self.clock(), checker)
            await asyncio.sleep(every)

    async def start(self) -> None:
        if self._tasks:
            raise RuntimeError("the prober is already running")
        self._tasks = [asyncio.create_task(self._loop(p, c)) for p in self.probes
                       for c in range(p.check.checkers)]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def __aenter__(self) -> HealthProber:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
