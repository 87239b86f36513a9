"""Target group health checks performed for real, fed to the target group's state
machine (:meth:`lbcore.elb.TargetGroup.observe`).

What a check is (Elastic Load Balancing User Guide, "Health checks for Application
Load Balancer target groups"; the CreateTargetGroup API reference):

* ``HealthCheckProtocol`` HTTP or HTTPS: ``GET HealthCheckPath`` (default ``/``) with
  ``User-Agent: ELB-HealthChecker/2.0``; healthy when the status code is one of
  ``Matcher.HttpCode`` (``"200"``, ``"200,202"``, ``"200-299"``; default 200) within
  ``HealthCheckTimeoutSeconds``. HTTPS does not validate the target's certificate.
  TCP (NLB): a connection within the timeout.
* ``HealthCheckPort``: ``traffic-port`` (default: the port each target receives
  traffic on) or a port number.
* every ``HealthCheckIntervalSeconds`` per target; ``HealthyThresholdCount`` /
  ``UnhealthyThresholdCount`` consecutive results change the state (the target
  group's state machine counts them).

Time: a result is recorded at the time its check started (``clock()`` before the
connection), even when routing has moved the target group's time past it since: the
target group orders each target's results by their start times and never rejects one
(:meth:`lbcore.elb.TargetGroup.observe`).
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Any, Callable, Iterable, Mapping

from lbcore.elb import TargetGroup

__all__ = ["HealthCheckConfig", "HealthChecker", "USER_AGENT"]

USER_AGENT = "ELB-HealthChecker/2.0"
_PROTOCOLS = ("HTTP", "HTTPS", "TCP")


def _parse_codes(text: str) -> frozenset[int] | tuple[int, int]:
    # "200", "200,202", "200-299" (Matcher.HttpCode for HTTP/HTTPS target groups)
    if not isinstance(text, str) or not text:
        raise ValueError(f"Matcher.HttpCode must be a non-empty str, got {text!r}")
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            if not 200 <= lo <= hi <= 499:
                raise ValueError
            return (lo, hi)
        codes = frozenset(int(x) for x in text.split(","))
        if not all(200 <= c <= 499 for c in codes):
            raise ValueError
        return codes
    except ValueError:
        raise ValueError(f"Matcher.HttpCode must be codes 200-499 as '200', '200,202' or "
                         f"'200-299', got {text!r}") from None


class HealthCheckConfig:
    """How a target group's targets are checked: ``protocol`` HTTP | HTTPS | TCP,
    ``port`` (``"traffic-port"`` or an int), ``path``, ``matcher`` (HttpCode text),
    ``enabled``. :meth:`from_aws` reads a ``describe_target_groups`` item."""

    __slots__ = ("protocol", "port", "path", "matcher", "enabled", "_codes")

    def __init__(self, protocol: str = "HTTP", port: str | int = "traffic-port",
                 path: str = "/", matcher: str = "200", enabled: bool = True) -> None:
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(_PROTOCOLS)}, got "
                             f"{protocol!r}")
        if port != "traffic-port":
            if isinstance(port, str) and port.isdigit():
                port = int(port)
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ValueError(f"port must be 'traffic-port' or 1..65535, got {port!r}")
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 1024:
            raise ValueError(f"path must start with '/' (at most 1024 characters), got "
                             f"{path!r}")
        self.protocol, self.port, self.path, self.enabled = protocol, port, path, bool(enabled)
        self.matcher = matcher
        self._codes = _parse_codes(matcher) if protocol != "TCP" else frozenset()

    @classmethod
    def from_aws(cls, target_group: Mapping[str, Any]) -> HealthCheckConfig:
        """From a ``describe_target_groups`` item: HealthCheckProtocol (default the
        target group's Protocol), HealthCheckPort, HealthCheckPath, Matcher.HttpCode,
        HealthCheckEnabled."""
        protocol = target_group.get("HealthCheckProtocol") or target_group.get("Protocol",
                                                                               "HTTP")
        if protocol in ("TLS", "UDP", "TCP_UDP"):
            protocol = "TCP"
        matcher = (target_group.get("Matcher") or {}).get("HttpCode", "200")
        return cls(protocol, target_group.get("HealthCheckPort", "traffic-port"),
                   target_group.get("HealthCheckPath") or "/", matcher,
                   target_group.get("HealthCheckEnabled", True))

    def passes(self, status: int) -> bool:
        """Whether an HTTP status code is a success for the matcher."""
        c = self._codes
        if type(c) is tuple:
            return c[0] <= status <= c[1]
        return status in c

    def __repr__(self) -> str:
        return (f"HealthCheckConfig({self.protocol!r}, {self.port!r}, {self.path!r}, "
                f"{self.matcher!r})")


def _tls() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE       # the ALB does not validate target certificates
    return ctx


async def check_once(config: HealthCheckConfig, host: str, port: int,
                     timeout: float) -> bool:
    """One check of ``host:port``: True when it passes within ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(_check(config, host, port), timeout)
    except (OSError, asyncio.TimeoutError, ssl.SSLError, ValueError,
            asyncio.IncompleteReadError):
        return False


async def _check(config: HealthCheckConfig, host: str, port: int) -> bool:
    tls: dict[str, Any] = {}
    if config.protocol == "HTTPS":
        tls = {"ssl": _tls(), "server_hostname": ""}
    reader, writer = await asyncio.open_connection(host, port, **tls)
    try:
        if config.protocol == "TCP":
            return True
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        writer.write(f"GET {config.path} HTTP/1.1\r\nHost: {authority}\r\n"
                     f"User-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        await writer.drain()
        status = (await reader.readline()).split()
        if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
            return False
        return config.passes(int(status[1]))
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


class HealthChecker:
    """Runs the health checks of ``groups`` (pairs of a
    :class:`~lbcore.elb.TargetGroup` and its :class:`HealthCheckConfig`) in the
    running event loop: one task per registered target, checking every
    ``interval_seconds`` of the group's settings (``interval``: override in seconds,
    for tests and demos), each check bounded by ``timeout_seconds``; results go to
    ``TargetGroup.observe`` at the check's start time (see the module docstring).
    ``clock``: seconds (default the group's clock). ``on_result(tg, key, ok,
    state)``: called after each recorded result. ``await start()`` / ``await
    stop()``, or ``async with``."""

    def __init__(self, groups: Iterable[tuple[TargetGroup, HealthCheckConfig]], *,
                 interval: float | None = None, timeout: float | None = None,
                 clock: Callable[[], float] | None = None,
                 on_result: Callable[[TargetGroup, Any, bool, str], None] | None = None,
                 ) -> None:
        self.groups = []
        for i, pair in enumerate(groups):
            try:
                tg, cfg = pair
            except (TypeError, ValueError):
                raise TypeError(f"groups[{i}] must be a (TargetGroup, HealthCheckConfig) "
                                f"pair") from None
            if not isinstance(tg, TargetGroup) or not isinstance(cfg, HealthCheckConfig):
                raise TypeError(f"groups[{i}] must be a (TargetGroup, HealthCheckConfig) "
                                f"pair")
            self.groups.append((tg, cfg))
        for name, v in (("interval", interval), ("timeout", timeout)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not v > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {v!r}")
        if clock is not None and not callable(clock):
            raise TypeError("clock must be a callable returning seconds")
        self.interval, self.timeout, self.clock, self.on_result = (interval, timeout, clock,
                                                                  on_result)
        self._tasks: dict[tuple[int, Any], asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None

    def _every(self, tg: TargetGroup) -> float:
        return self.interval if self.interval is not None else \
            float(tg.health_check.interval_seconds)

    async def _target(self, tg: TargetGroup, cfg: HealthCheckConfig, key: Any) -> None:
        clock = self.clock or tg.clock
        host = str(key[0])
        port = key[1] if cfg.port == "traffic-port" else cfg.port
        timeout = self.timeout if self.timeout is not None else \
            float(tg.health_check.timeout_seconds)
        if self.interval is not None:
            timeout = min(timeout, self.interval)
        every = self._every(tg)
        while True:
            started = clock()
            ok = await check_once(cfg, host, port, timeout)
            if tg.state(key) in ("draining", "unused"):
                return                              # no longer checked
            state = tg.observe(key, ok, now=started)
            if self.on_result is not None:
                self.on_result(tg, key, ok, state)
            await asyncio.sleep(max(0.0, every - (clock() - started)))

    def _spawn(self) -> None:
        for gi, (tg, cfg) in enumerate(self.groups):
            if not cfg.enabled:
                continue
            for j, target in enumerate(tg.targets):
                key = tg.key_of(target)
                task = self._tasks.get((gi, key))
                if (task is None or task.done()) and \
                        tg.state(key) in ("initial", "healthy", "unhealthy"):
                    self._tasks[(gi, key)] = asyncio.create_task(self._target(tg, cfg, key))

    async def _supervise(self) -> None:
        # picks up targets registered after start (and re-registered ones)
        every = min([self._every(tg) for tg, _ in self.groups] or [1.0])
        while True:
            await asyncio.sleep(every)
            self._spawn()

    async def start(self) -> None:
        if self._supervisor is not None:
            raise RuntimeError("the health checker is already running")
        self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = {}
        self._supervisor = None

    async def __aenter__(self) -> HealthChecker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
