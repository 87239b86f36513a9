"""``lbcore proxy``: a local Application Load Balancer built from AWS describe outputs.

CONFIG (JSON) holds the outputs under their response keys: ``LoadBalancers``
(describe_load_balancers), ``Listeners`` (describe_listeners), ``Rules`` (a map
listener ARN → the describe_rules ``Rules`` list), ``TargetGroups``
(describe_target_groups items, each optionally with ``Attributes``: the
describe_target_group_attributes list) and ``TargetHealthDescriptions`` (a map target
group ARN → the describe_target_health list). Targets are ``ip`` targets whose Id and
Port are local addresses.

Every request is routed by :class:`lbcore.elb.ApplicationLoadBalancer` and proxied with
aiohttp; health checks run for real (:class:`lbcore.http.HealthChecker`); one line per
request is written in the ALB access-log format (:func:`access_log_line`).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, TextIO

from lbcore.elb import (AnomalySettings, ApplicationLoadBalancer, FixedResponse, Forward,
                        Redirect, TargetGroup)
from lbcore.http._adapters import request_from_aiohttp, routing
from lbcore.http._health import HealthCheckConfig, HealthChecker
from lbcore.http._render import (forwarded_headers, render, set_cookie_headers,
                                 upstream_url)

__all__ = ["ProxyConfig", "Proxy", "load_config", "load_config_file", "access_log_line", "error_page"]

# hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy sets itself
_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "te", "trailer",
                  "transfer-encoding", "upgrade", "content-length"))
_OWN = frozenset(("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port"))
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable",
            504: "Gateway Time-out"}
TARGET_TIMEOUT = 60.0           # idle_timeout.timeout_seconds default (load balancer attribute)


def error_page(status: int) -> bytes:
    """The HTML body the ALB sends with a 502, 503 or 504 it generates itself."""
    title = f"{status} {_REASONS[status]}"
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n").encode("ascii")


class ProxyListener:
    """One listener the proxy serves: its load balancer, port and protocol."""

    __slots__ = ("alb", "elb", "port", "protocol", "arn")

    def __init__(self, alb: ApplicationLoadBalancer, elb: str, port: int, protocol: str,
                 arn: str) -> None:
        self.alb, self.elb, self.port, self.protocol, self.arn = alb, elb, port, protocol, arn


class ProxyConfig:
    """A loaded CONFIG: ``listeners`` (list of :class:`ProxyListener`),
    ``target_groups`` ({ARN: TargetGroup}), ``health`` ([(TargetGroup,
    HealthCheckConfig)]) and ``warnings`` (what was skipped, one line each)."""

    def __init__(self, listeners: list[ProxyListener], target_groups: dict[str, TargetGroup],
                 health: list[tuple[TargetGroup, HealthCheckConfig]],
                 warnings: list[str]) -> None:
        self.listeners, self.target_groups, self.health = listeners, target_groups, health
        self.warnings = warnings

    def target_addresses(self) -> list[tuple[str, int]]:
        """Every (Id, Port) registered in a target group (for example backends)."""
        out: list[tuple[str, int]] = []
        for tg in self.target_groups.values():
            for t in tg.targets:
                key = tg.key_of(t)
                if key not in out and key[1] is not None:
                    out.append((str(key[0]), key[1]))
        return out


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    v = doc.get(key, [])
    if not isinstance(v, list):
        raise ValueError(f"{key} must be a list (the describe output's {key})")
    return v


def load_config(doc: Mapping[str, Any], *, seed: int = 0,
                clock: Callable[[], float] | None = None,
                anomaly: AnomalySettings | None = None) -> ProxyConfig:
    """Build the load balancers, listeners and target groups of a CONFIG document
    (see the module docstring). ``anomaly``: the automatic target weights
    parameters of the load balancers (default :class:`~lbcore.elb.AnomalySettings`).
    Errors are ValueError naming the key."""
    if not isinstance(doc, Mapping):
        raise ValueError("CONFIG must be a JSON object")
    warnings: list[str] = []
    rules = doc.get("Rules", {})
    health = doc.get("TargetHealthDescriptions", {})
    if not isinstance(rules, Mapping) or not isinstance(health, Mapping):
        raise ValueError("Rules and TargetHealthDescriptions must be maps keyed by ARN")
    now = (clock or time.monotonic)()
    tgs: dict[str, TargetGroup] = {}
    checks: list[tuple[TargetGroup, HealthCheckConfig]] = []
    for i, item in enumerate(_list(doc, "TargetGroups")):
        where = f"TargetGroups[{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("TargetGroupArn"), str):
            raise ValueError(f"{where}: a describe_target_groups item with a TargetGroupArn")
        arn = item["TargetGroupArn"]
        if item.get("TargetType", "ip") != "ip":
            warnings.append(f"{where}: TargetType {item['TargetType']!r}: its targets' Id "
                            f"and Port are used as local addresses")
        try:
            tg = TargetGroup.from_aws(item, health.get(arn, ()), now=now, clock=clock)
            cfg = HealthCheckConfig.from_aws(item)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        tgs[arn] = tg
        checks.append((tg, cfg))
    if not tgs:
        raise ValueError("TargetGroups: at least one target group is needed")
    listeners: list[ProxyListener] = []
    by_lb: dict[str, ApplicationLoadBalancer] = {}
    names: dict[str, str] = {}
    for i, lb in enumerate(_list(doc, "LoadBalancers")):
        if not isinstance(lb, Mapping) or not isinstance(lb.get("LoadBalancerArn"), str):
            raise ValueError(f"LoadBalancers[{i}]: a describe_load_balancers item with a "
                             f"LoadBalancerArn")
        if lb.get("Type", "application") != "application":
            warnings.append(f"LoadBalancers[{i}]: Type {lb['Type']!r} skipped (lbcore proxy "
                            f"serves application load balancers)")
            continue
        arn = lb["LoadBalancerArn"]
        by_lb[arn] = ApplicationLoadBalancer(tgs, seed=seed, clock=clock, anomaly=anomaly)
        names[arn] = arn.split(":loadbalancer/", 1)[-1]
    if not by_lb:
        raise ValueError("LoadBalancers: at least one application load balancer is needed")
    for i, lst in enumerate(_list(doc, "Listeners")):
        where = f"Listeners[{i}]"
        if not isinstance(lst, Mapping):
            raise ValueError(f"{where}: a describe_listeners item")
        alb = by_lb.get(lst.get("LoadBalancerArn", ""))
        if alb is None:
            if len(by_lb) == 1 and "LoadBalancerArn" not in lst:
                alb = next(iter(by_lb.values()))
            else:
                warnings.append(f"{where}: LoadBalancerArn is not an application load "
                                f"balancer of LoadBalancers: skipped")
                continue
        lb_arn = lst.get("LoadBalancerArn") or next(iter(by_lb))
        protocol = lst.get("Protocol", "HTTP")
        if protocol == "HTTPS":
            warnings.append(f"{where}: HTTPS listener on port {lst.get('Port')} is served "
                            f"over plain HTTP (no certificate); rules see protocol HTTPS")
        arn = lst.get("ListenerArn", f"listener-{i}")
        listener_rules = rules.get(arn, [])
        has_default = any(isinstance(r, Mapping) and r.get("IsDefault")
                          for r in listener_rules)
        try:
            alb.add_listener(lst.get("Port"), protocol,
                             default_actions=None if has_default else lst.get("DefaultActions"),
                             rules=listener_rules)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{where} (ListenerArn {arn}): {exc}") from None
        listeners.append(ProxyListener(alb, names[lb_arn], int(lst["Port"]), protocol, arn))
    if not listeners:
        raise ValueError("Listeners: at least one listener is needed")
    return ProxyConfig(listeners, tgs, checks, warnings)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def access_log_line(*, type: str, time: float, elb: str, client: str,
                    target: str, request_processing_time: float,
                    target_processing_time: float, response_processing_time: float,
                    elb_status_code: int, target_status_code: int | None,
                    received_bytes: int, sent_bytes: int, request: str, user_agent: str,
                    target_group_arn: str, trace_id: str, domain_name: str,
                    matched_rule_priority: int | None, request_creation_time: float,
                    actions_executed: str, redirect_url: str, error_reason: str) -> str:
    """One access-log entry with the fields in the order of the Elastic Load Balancing
    User Guide ("Access log entries" of an Application Load Balancer); times are
    calendar seconds, the processing times seconds (-1 when the request never reached a
    target, as the ALB writes it); fields lbcore does not have are ``-``."""
    def q(s: str) -> str:
        return '"' + (s or "-").replace('"', '\\"') + '"'
    tsc = "-" if target_status_code is None else str(target_status_code)
    prio = "-" if matched_rule_priority is None else str(matched_rule_priority)
    if matched_rule_priority is None and actions_executed != "-":
        prio = "0"                                   # the default rule
    return " ".join((
        type, _iso(time), elb, client, target or "-",
        f"{request_processing_time:.3f}", f"{target_processing_time:.3f}",
        f"{response_processing_time:.3f}", str(elb_status_code), tsc,
        str(received_bytes), str(sent_bytes), q(request), q(user_agent), "-", "-",
        target_group_arn or "-", q(trace_id), q(domain_name), q("-"), prio,
        _iso(request_creation_time), q(actions_executed), q(redirect_url),
        q(error_reason), q(target), q(tsc), q("-"), q("-"), "-"))


class Proxy:
    """Serves ``config``'s listeners on ``host`` (port = listener port +
    ``port_offset``), proxies forwarded requests with an aiohttp client, runs the
    health checks (``health_interval``: seconds between checks instead of each target
    group's interval; ``health=False``: none), and writes the access log to ``log``
    (None: none). ``router="cycle"``: a benchmark baseline that sends every request
    to the next target of the first target group (``itertools.cycle``) with no
    rules, stickiness or health. ``await start()`` / ``await stop()``."""

    def __init__(self, config: ProxyConfig, *, host: str = "127.0.0.1", port_offset: int = 0,
                 health: bool = True, health_interval: float | None = None,
                 log: TextIO | None = sys.stdout, router: str = "alb",
                 target_timeout: float = TARGET_TIMEOUT) -> None:
        if router not in ("alb", "cycle"):
            raise ValueError(f"router must be 'alb' or 'cycle', got {router!r}")
        self.config, self.host, self.port_offset = config, host, port_offset
        self.log, self.router, self.target_timeout = log, router, target_timeout
        self.checker = HealthChecker(config.health, interval=health_interval) \
            if health else None
        self._runners: list[Any] = []
        self._session: Any = None
        tg = next(iter(config.target_groups.values()))
        self._cycle = itertools.cycle([(tg, t) for t in tg.targets])
        self.addresses: list[tuple[str, int]] = []

    async def start(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

        self._session = ClientSession(
            connector=TCPConnector(limit=0, ttl_dns_cache=None), auto_decompress=False,
            timeout=ClientTimeout(total=None, sock_read=self.target_timeout,
                                  sock_connect=10.0), cookie_jar=_NoCookies())
        try:
            for lst in self.config.listeners:
                server = web.Server(self._handler(lst))
                runner = web.ServerRunner(server, handle_signals=False, access_log=None)
                await runner.setup()
                site = web.TCPSite(runner, self.host, lst.port + self.port_offset)
                await site.start()
                self._runners.append(runner)
                sock = runner.addresses[-1]
                self.addresses.append((sock[0], sock[1]))
        except BaseException:
            await self.stop()
            raise
        if self.checker is not None:
            await self.checker.start()

    async def stop(self) -> None:
        if self.checker is not None:
            await self.checker.stop()
        for r in self._runners:
            await r.cleanup()
        self._runners = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _handler(self, lst: ProxyListener) -> Callable[[Any], Any]:
        from aiohttp import ClientError, web

        alb, port, elb = lst.alb, lst.port, lst.elb
        scheme = "https" if lst.protocol == "HTTPS" else "http"
        log = self.log
        session_of = self._get_session
        cycle = self._cycle if self.router == "cycle" else None

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            wall0 = time.time()
            t0 = time.perf_counter()
            req = request_from_aiohttp(request, port=port, protocol=lst.protocol)
            body = await request.read()
            target = ""
            tg_arn = ""
            t_status: int | None = None
            t_time = -1.0
            redirect = ""
            error = ""
            trace = request.headers.get("X-Amzn-Trace-Id", "")
            async with routing(alb, req) if cycle is None else _Cycle(cycle) as d:
                t1 = time.perf_counter()
                resp: web.StreamResponse
                if type(d) is Forward:
                    url = upstream_url(d, req)
                    tkey = d.target_group.key_of(d.target)
                    target = f"{tkey[0]}:{tkey[1]}"
                    tg_arn = _arn_of(self.config, d.target_group)
                    headers = [(k, v) for k, v in request.headers.items()
                               if k.lower() not in _HOP and k.lower() not in _OWN]
                    extra = forwarded_headers(req)
                    headers += extra
                    if not trace:
                        trace = extra[-1][1] if extra[-1][0] == "X-Amzn-Trace-Id" else ""
                    outcome: int | str
                    try:
                        async with session_of().request(
                                request.method, url, headers=headers, data=body or None,
                                allow_redirects=False,
                                skip_auto_headers=("User-Agent", "Accept-Encoding",
                                                   "Accept", "Content-Type")) as up:
                            outcome = up.status
                            payload = await up.read()
                            t_status = up.status
                            t_time = time.perf_counter() - t1
                            out = [(k, v) for k, v in up.headers.items()
                                   if k.lower() not in _HOP]
                            out += set_cookie_headers(d.set_cookies, wall=wall0)
                            resp = web.Response(status=up.status, body=payload)
                            for k, v in out:
                                resp.headers.add(k, v)
                    except asyncio.TimeoutError:
                        resp = _error(504)
                        error = "TargetTimeout"
                        outcome = "timeout"
                    except (ClientError, OSError):
                        resp = _error(502)
                        error = "TargetConnectionError"
                        outcome = "connection_error"
                    if cycle is None:
                        # the outcome feeds automatic target weights (weighted_random)
                        alb.complete(d, outcome)
                    action = "forward"
                else:
                    r = render(d)
                    assert r is not None
                    if type(d) is FixedResponse and d.status_code == 503 and not d.body \
                            and d.content_type == "text/plain":
                        resp = _error(503)                    # no target could take it
                        action = "-"
                    else:
                        resp = web.Response(status=r.status, body=r.body)
                        for k, v in r.headers:
                            resp.headers[k] = v
                        if type(d) is Redirect:
                            action, redirect = "redirect", d.location
                        else:
                            action = "fixed-response"
            t2 = time.perf_counter()
            if log is not None:
                peer = request.transport.get_extra_info("peername") if request.transport \
                    else None
                client = f"{peer[0]}:{peer[1]}" if peer else "-"
                line = access_log_line(
                    type=scheme, time=time.time(), elb=elb, client=client, target=target,
                    request_processing_time=t1 - t0, target_processing_time=t_time,
                    response_processing_time=(t2 - t1 - t_time) if t_time >= 0 else -1.0,
                    elb_status_code=resp.status, target_status_code=t_status,
                    received_bytes=len(body), sent_bytes=len(resp.body or b"") if
                    isinstance(resp, web.Response) else 0,
                    request=f"{request.method} {scheme}://{req.host or '-'}"
                            f"{'' if req.host and ':' in req.host else f':{port}'}"
                            f"{request.raw_path} HTTP/{request.version.major}."
                            f"{request.version.minor}",
                    user_agent=request.headers.get("User-Agent", "-"),
                    target_group_arn=tg_arn, trace_id=trace, domain_name="-",
                    matched_rule_priority=getattr(d, "rule_priority", None),
                    request_creation_time=wall0, actions_executed=action,
                    redirect_url=redirect, error_reason=error)
                log.write(line + "\n")
                log.flush()
            return resp

        return handle

    def _get_session(self) -> Any:
        return self._session

    async def __aenter__(self) -> Proxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _arn_of(config: ProxyConfig, tg: TargetGroup) -> str:
    for arn, t in config.target_groups.items():
        if t is tg:
            return arn
    return "-"


def _error(status: int) -> Any:
    from aiohttp import web
    return web.Response(status=status, body=error_page(status), content_type="text/html")


class _Cycle:
    # the benchmark baseline: a Forward-like decision from itertools.cycle
    __slots__ = ("_it",)

    def __init__(self, it: Iterable[Any]) -> None:
        self._it = it

    async def __aenter__(self) -> Forward:
        tg, t = next(self._it)                    # type: ignore[call-overload]
        return Forward(tg, t)

    async def __aexit__(self, *exc: object) -> None:
        pass


class _NoCookies:
    # the proxy keeps no cookies between requests (aiohttp's DummyCookieJar, without
    # importing aiohttp at module import)
    def __new__(cls) -> Any:
        from aiohttp import DummyCookieJar
        return DummyCookieJar()


def load_config_file(path: str) -> dict[str, Any]:
    """CONFIG.json as a dict (ValueError saying why it can't be read)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return doc
