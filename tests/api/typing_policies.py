"""A user script over lbcore's policy objects, checked with ``mypy --strict`` by
test_typing_policies.py (never run): mypy must see real types, not Any."""
from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from typing_extensions import assert_type

import lbcore
from lbcore.apigateway import ApiGateway, CheckResults, Decision, QuotaSettings
from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, FixedResponse, Forward,
                        GatewayLoadBalancer, HealthCheckSettings, L4Decision, L4Result,
                        NetworkLoadBalancer, Redirect, Request, SetCookie, Target, TargetGroup)
from lbcore.route53 import Answer, BatchAnswer, Client, HealthCheck, HostedZone, RecordSet


def proxy_step(alb: ApplicationLoadBalancer, raw: bytes) -> list[tuple[str, str]]:
    req = Request.from_bytes(raw, source_ip="192.0.2.1")
    assert_type(req, Request)
    d = alb.route(req)
    assert_type(d, Forward | Redirect | FixedResponse)
    headers: list[tuple[str, str]] = []
    if isinstance(d, Forward):
        assert_type(d.target, Target)
        assert_type(d.target_group, TargetGroup)
        for c in d.set_cookies:
            assert_type(c, SetCookie)
            headers.append(("Set-Cookie", c.header_value()))
        alb.complete(d)
    elif isinstance(d, Redirect):
        headers.append(("Location", d.location))
    else:
        assert_type(d.status_code, int)
    return headers


def l4(nlb: NetworkLoadBalancer, gwlb: GatewayLoadBalancer, flow: lbcore.Flow,
       flows: lbcore.Flows) -> str | None:
    a = nlb.route(flow, 1.0)
    b = gwlb.route(flow)
    assert_type(a, L4Decision)
    assert_type(b, L4Decision)
    assert_type(b.dropped, bool)
    t = a.target
    assert_type(t, Target | None)
    assert_type(nlb.route_many(flows, 0.0), L4Result)
    assert_type(nlb.is_healthy(), bool)
    return None if t is None else str(t.id)


def target_group() -> TargetGroup:
    tg = TargetGroup([Target("i-1", "us-east-1a")], protocol="HTTP", name="web",
                     health_check=HealthCheckSettings("HTTP"), clock=lambda: 0.0)
    state = tg.observe("i-1", True, now=1.0)
    assert_type(state, str)
    assert_type(tg.register([Target("i-2", "us-east-1b")]), TargetGroup)
    # keys: the id, or (id, port) for an id registered on several ports
    assert_type(tg.states(), dict[str | int | tuple[str | int, int | None], str])
    return tg


def dns(zone: HostedZone, hc: HealthCheck) -> tuple[str, ...]:
    hc.observe(False, now=5.0)
    assert_type(hc.is_healthy(), bool)
    ans = zone.resolve("www.example.com", "A", Client(ip="192.0.2.1"))
    assert_type(ans, Answer)
    many = zone.resolve_many("www.example.com", "A", [Client()], 1.0)
    assert_type(many, BatchAnswer)
    zone.add(RecordSet("x.example.com", "A", ["192.0.2.7"], ttl=60))
    return ans.values


def throttle(g: ApiGateway) -> bool:
    g.add_usage_plan("p", api_stages=[("api", "prod")], quota=QuotaSettings(10, "DAY"))
    d = g.check(None, "/pets", "GET")
    assert_type(d, Decision)
    r = g.check_many(["k"], ["/pets"], ["GET"], [0.0])
    assert_type(r, CheckResults)
    assert_type(g.check_many("k", "/pets", "GET", [0.0], retry_after=True).retry_after,
                NDArray[np.float64] | None)
    assert_type(g.quota_remaining("k"), int | None)
    return d.allowed


def classic(clb: ClassicLoadBalancer) -> None:
    d = clb.route(now=2.0, port=80)
    assert_type(d, Forward | Redirect | FixedResponse)
    clb.complete(d)
