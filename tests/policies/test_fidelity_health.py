"""Issue 18, "Behaviours to reproduce": health, slow start, cookies, TLS listeners,
Route 53 alias evaluation and NLB zonal DNS affinity. Each golden case comes from the
guide cited next to it (docs/elb.md, docs/alb.md, docs/route53.md), with a nearby
configuration that must keep working, so a fix can't pass by refusing everything."""
from collections import Counter

import numpy as np
import pytest

import lbcore
from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, HealthCheckSettings,
                        NetworkLoadBalancer, Request, Target, TargetGroup)
from lbcore.route53 import CalculatedHealthCheck, Client, HealthCheck, HostedZone

WEEK = 7 * 24 * 3600


def http_tg(n=2, healthy=True, name="web", **attrs):
    return TargetGroup([Target(f"t{i}", "az-a") for i in range(n)], protocol="HTTP",
                       name=name, healthy=healthy, **attrs)


def alb_for(*groups):
    alb = ApplicationLoadBalancer(list(groups), seed=3)
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward",
                                                   "TargetGroupArn": groups[0].name}])
    return alb


def shares(alb, n, now):
    got = Counter()
    for _ in range(n):
        d = alb.route(Request(), now)
        got[d.target.id if d.target is not None else None] += 1
        alb.complete(d)
    return {k: v / n for k, v in got.items()}


def tcp_flows(n, seed, port=80):
    f = lbcore.Flows.random(n, seed=seed, protocols=(6,))
    return lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, port, np.full(n, -1, np.int64))


# ------------------------------------------------------------------ slow start entry
def test_slow_start_targets_registered_together_into_an_empty_group_get_full_share():
    # ALB guide, "Slow start mode": targets registered in one operation into an
    # empty group do not enter slow start
    g = TargetGroup(protocol="HTTP", name="web", slow_start_duration_seconds=60)
    alb = alb_for(g)
    g.register([Target("a", "az-a"), Target("b", "az-a")], now=0.0, healthy=True)
    got = shares(alb, 2000, 1.0)
    assert abs(got["a"] - 0.5) < 0.01 and abs(got["b"] - 0.5) < 0.01
    # nearby: a target registered while settled targets serve does ramp
    g.register([Target("c", "az-a")], now=2.0, healthy=True)
    alb.route(Request(), 2.0)              # the ALB sees c healthy: its ramp starts
    got = shares(alb, 3000, 17.0)          # ramp 15/60 = 0.25 -> share 0.25/2.25
    assert abs(got["c"] - 0.25 / 2.25) < 0.01


def test_slow_start_needs_a_healthy_target_not_itself_in_slow_start():
    # "Newly registered targets enter slow start mode only when there is at least one
    # healthy target that is not in slow start mode" (ALB guide)
    for settled_stays, want_c in ((False, 1.0), (True, None)):
        g = TargetGroup([Target("a", "az-a")], protocol="HTTP", name="web", healthy=True,
                        slow_start_duration_seconds=60)
        alb = alb_for(g)
        alb.route(Request(), 0.0)
        g.register([Target("b", "az-a")], now=0.0, healthy=True)
        alb.route(Request(), 0.0)                      # b starts its ramp at 0
        if not settled_stays:
            g.set_health("a", False, now=1.0)          # only b (ramping) is healthy
        alb.route(Request(), 1.0)
        g.register([Target("c", "az-a")], now=2.0, healthy=True)
        alb.route(Request(), 2.0)
        got = shares(alb, 3000, 3.0)
        if want_c is not None:
            # c is not in slow start: weight 1 against b's 3/60
            assert abs(got["c"] - 1 / (1 + 3 / 60)) < 0.01
        else:
            # nearby: a is settled, so c ramps (weight 1/60 against a's 1 and b's 3/60)
            assert got["c"] < 0.03 and got["a"] > 0.9


# ------------------------------------------------------------------ first health check
def test_alb_target_healthy_after_one_passed_check_unhealthy_needs_threshold():
    # ALB guide, health checks: "After your target is registered, it must pass one
    # health check to be considered healthy"; unhealthy -> healthy takes
    # HealthyThresholdCount (default 5) consecutive successes
    g = http_tg(1, healthy=False)
    assert g.initial_healthy_threshold == 1
    assert g.observe("t0", True, now=0.0) == "healthy"
    assert g.observe("t0", False, now=30.0) == "healthy"
    assert g.observe("t0", False, now=60.0) == "unhealthy"
    for k in range(4):
        assert g.observe("t0", True, now=90.0 + 30 * k) == "unhealthy"
    assert g.observe("t0", True, now=300.0) == "healthy"
    # nearby: an NLB target group keeps the healthy threshold for its initial checks
    n = TargetGroup([Target("x", "a")], protocol="TCP")
    assert [n.observe("x", True, now=30.0 * k) for k in range(5)][-2:] == ["initial", "healthy"]


def test_clb_instance_healthy_after_first_passed_check():
    # CLB guide, HealthyHostCount: "A newly registered instance is considered healthy
    # after it passes the first health check"; an unhealthy one after the healthy
    # threshold (CLB default 10)
    lb = ClassicLoadBalancer([Target("i-1", "az-a")], {"Protocol": "HTTP",
                                                       "LoadBalancerPort": 80}, now=0.0)
    assert lb.route(Request(), 0.0).status_code == 503                # initial: no requests
    assert lb.instances.observe("i-1", True, now=1.0) == "healthy"
    assert lb.route(Request(), 1.0).target.id == "i-1"
    lb.instances.observe("i-1", False, now=31.0)
    assert lb.instances.observe("i-1", False, now=61.0) == "unhealthy"
    states = [lb.instances.observe("i-1", True, now=91.0 + 30 * k) for k in range(10)]
    assert states[-2:] == ["unhealthy", "healthy"]


# ------------------------------------------------------------------ initial targets
def test_alb_initial_targets_get_no_requests_and_fail_open_skips_them():
    # ALB guide: "Before a target can receive requests from the load balancer, it must
    # pass the initial health checks"; fail open routes to the unhealthy targets
    g = TargetGroup([Target("ok", "az-a"), Target("new", "az-a")], protocol="HTTP",
                    name="web", now=0.0)
    g.set_health("ok", True, now=0.0)
    alb = alb_for(g)
    assert shares(alb, 200, 1.0) == {"ok": 1.0}
    g.set_health("ok", False, now=2.0)                 # no healthy target: fail open
    d = alb.route(Request(), 2.0)
    assert d.target.id == "ok" and d.fail_open
    assert shares(alb, 200, 2.0) == {"ok": 1.0}        # never the initial target
    g.deregister("ok", now=3.0)                        # only an initial target left
    assert alb.route(Request(), 3.0).status_code == 503
    # nearby: once it passes its check it serves
    g.observe("new", True, now=4.0)
    assert shares(alb, 50, 4.0) == {"new": 1.0}


def test_nlb_initial_targets_get_no_new_flows_and_fail_open_skips_them():
    tg = TargetGroup([Target("h", "A"), Target("i", "A"), Target("u", "A")], protocol="TCP",
                     now=0.0)
    tg.set_health("h", True, now=0.0)
    tg.set_health("u", False, now=0.0)
    nlb = NetworkLoadBalancer(["A"], seed=1)
    nlb.add_listener("TCP", 80, tg)
    flows = tcp_flows(2000, seed=5)
    got = nlb.route_many(flows, 1.0).target
    assert set(got.tolist()) == {tg.index_of("h")}
    tg.set_health("h", False, now=2.0)                 # fail open: unhealthy ones only
    got = nlb.route_many(tcp_flows(2000, seed=6), 3.0).target
    assert set(got.tolist()) == {tg.index_of("h"), tg.index_of("u")}


# ------------------------------------------------------------------ cookies
def test_alb_app_cookie_has_fixed_seven_day_expiry():
    # ALB guide, sticky sessions: the generated application cookie "has its own
    # expiry of 7 days which is non-configurable"
    g = http_tg(2, stickiness_enabled=True, stickiness_type="app_cookie",
                stickiness_app_cookie_cookie_name="SESSION",
                stickiness_app_cookie_duration_seconds=30)
    alb = alb_for(g)
    d = alb.route(Request(cookies={"SESSION": "x"}), 5.0)
    (c,) = d.set_cookies
    assert c.name == "AWSALBAPP-0" and c.max_age == WEEK
    assert alb.decode_cookie(c.value)[2] == 35.0      # the stickiness duration, in the value
    # nearby: within the duration the cookie sticks, after it the algorithm picks again
    req = Request(cookies={"SESSION": "x", "AWSALBAPP-0": c.value})
    assert {alb.route(req, 20.0).target for _ in range(10)} == {d.target}


def test_clb_awselb_is_not_refreshed_and_its_expiry_not_checked():
    # CLB guide, duration-based stickiness: "The load balancer does not refresh the
    # expiry time of the cookie and does not check whether the cookie is expired
    # before using it"
    inst = [Target(f"i-{k}", "az-a") for k in range(3)]
    lb = ClassicLoadBalancer(inst, {"Protocol": "HTTP", "LoadBalancerPort": 80},
                             healthy=True, stickiness={80: {"type": "lb_cookie",
                                                            "expiration": 60}})
    d = lb.route(Request(), 0.0)
    (c,) = d.set_cookies
    assert c.name == "AWSELB" and c.max_age == 60
    lb.complete(d)
    req = Request(cookies={"AWSELB": c.value})
    for now in (10.0, 1000.0):                         # 1000 s: past the expiration
        d2 = lb.route(req, now)
        assert d2.target == d.target and d2.set_cookies == ()
        lb.complete(d2)
    # nearby: a cookie naming an unhealthy instance gets a new instance and cookie
    lb.instances.set_health(d.target.id, False, now=1001.0)
    d3 = lb.route(req, 1001.0)
    assert d3.target != d.target and [x.name for x in d3.set_cookies] == ["AWSELB"]


# ------------------------------------------------------------------ NLB TLS listeners
def test_nlb_tls_listener_idle_timeout_fixed_and_no_tls_stickiness():
    # NLB guide: "The connection idle timeout for TLS listeners is 350 seconds and
    # can't be modified"; "Sticky sessions are not supported for TLS listeners that
    # use TLS target groups"
    nlb = NetworkLoadBalancer(["A"])
    tls = TargetGroup([Target("t", "A")], protocol="TLS", healthy=True)
    with pytest.raises(ValueError, match="tcp.idle_timeout.seconds"):
        nlb.add_listener("TLS", 443, tls, tcp_idle_timeout_seconds=600)
    sticky = TargetGroup([Target("s", "A")], protocol="TLS", stickiness_enabled=True)
    with pytest.raises(ValueError, match="stickiness"):
        nlb.add_listener("TLS", 8443, sticky)
    # nearby: 350 on TLS, other timeouts and stickiness on TCP listeners are accepted
    assert nlb.add_listener("TLS", 443, tls, tcp_idle_timeout_seconds=350) == 0
    tcp = TargetGroup([Target("c", "A")], protocol="TCP", stickiness_enabled=True)
    assert nlb.add_listener("TCP", 80, tcp, tcp_idle_timeout_seconds=600) == 1


# ------------------------------------------------------------------ Route 53
def test_disabled_inverted_child_counts_unhealthy_in_a_calculated_check():
    # API reference, HealthCheckConfig.Disabled: a disabled check is healthy, then
    # Inverted applies -- so Disabled + Inverted is unhealthy, also as a child
    up = HealthCheck("up")
    off_inv = HealthCheck("off-inv", disabled=True, inverted=True)
    off = HealthCheck("off", disabled=True)
    assert not off_inv.is_healthy(0.0) and off.is_healthy(0.0)
    assert not CalculatedHealthCheck([up, off_inv], 2).is_healthy(0.0)
    assert CalculatedHealthCheck([up, off], 2).is_healthy(0.0)      # nearby: disabled alone
    # the same through the get_health_check shapes HostedZone.from_aws reads
    zone = HostedZone.from_aws(
        [{"Name": "a.example.com", "Type": "A", "TTL": 60, "HealthCheckId": "calc",
          "ResourceRecords": [{"Value": "192.0.2.1"}], "SetIdentifier": "a",
          "Failover": "PRIMARY"},
         {"Name": "a.example.com", "Type": "A", "TTL": 60, "SetIdentifier": "b",
          "Failover": "SECONDARY", "ResourceRecords": [{"Value": "192.0.2.2"}]}],
        name="example.com", health_checks=[
            {"Id": "child", "HealthCheckConfig": {"Type": "HTTP", "Disabled": True,
                                                  "Inverted": True}},
            {"Id": "calc", "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": 1,
                                                 "ChildHealthChecks": ["child"]}}])
    assert zone.resolve("a.example.com", "A", now=0.0).values == ("192.0.2.2",)


def _failover_zone(target):
    return HostedZone.from_aws([
        {"Name": "www.example.com", "Type": "A", "SetIdentifier": "p", "Failover": "PRIMARY",
         "AliasTarget": {"DNSName": "lb.example.net", "EvaluateTargetHealth": True}},
        {"Name": "www.example.com", "Type": "A", "SetIdentifier": "s",
         "Failover": "SECONDARY", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.9"}]}],
        name="example.com", alias_targets={"lb.example.net": target})


def test_alb_and_clb_are_alias_targets_with_evaluate_target_health():
    # Route 53 guide, "Evaluate target health": ALB/NLB healthy when every target
    # group has a healthy target, a group without registered targets is unhealthy;
    # a CLB is unhealthy when no instance is healthy
    web, empty = http_tg(1), TargetGroup(protocol="HTTP", name="empty")
    alb = ApplicationLoadBalancer([web], seed=1)
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    assert _failover_zone(alb).resolve("www.example.com", "A", now=1.0).values == \
        ("lb.example.net",)
    alb2 = ApplicationLoadBalancer([web, empty], seed=1)
    assert not alb2.is_healthy(1.0)                    # no listener
    alb2.add_listener(80, "HTTP", default_actions=[{"Type": "forward",
                                                    "TargetGroupArn": "web"}])
    assert alb2.is_healthy(1.0)            # nearby: "empty" is not in any rule
    alb2.add_listener(81, "HTTP", default_actions=[{"Type": "forward",
                                                    "TargetGroupArn": "empty"}])
    assert not alb2.is_healthy(1.0)        # a group in use without registered targets
    assert _failover_zone(alb2).resolve("www.example.com", "A", now=1.0).values == \
        ("192.0.2.9",)
    clb = ClassicLoadBalancer([Target("i-1", "az-a")], {"Protocol": "TCP",
                                                        "LoadBalancerPort": 22}, healthy=True)
    assert _failover_zone(clb).resolve("www.example.com", "A", now=1.0).values == \
        ("lb.example.net",)
    clb.instances.set_health("i-1", False, now=2.0)
    assert _failover_zone(clb).resolve("www.example.com", "A", now=2.0).values == \
        ("192.0.2.9",)


# ------------------------------------------------------------------ target states
def test_unhealthy_draining_keeps_flows_for_the_interval_then_terminates():
    # NLB: target_health_state.unhealthy.draining_interval_seconds > 0 -> the failed
    # target is unhealthy.draining: no new connections, established ones kept for the
    # interval, then unhealthy and its connections terminated; recovered -> healthy
    tg = TargetGroup([Target("a", "A"), Target("b", "A")], protocol="TCP", healthy=True,
                     now=0.0,
                     target_health_state_unhealthy_connection_termination_enabled=False,
                     target_health_state_unhealthy_draining_interval_seconds=30)
    nlb = NetworkLoadBalancer(["A"], seed=2)
    nlb.add_listener("TCP", 80, tg)
    flows = tcp_flows(400, seed=8)
    first = nlb.route_many(flows, 1.0).target.copy()
    on_a = first == tg.index_of("a")
    assert on_a.any()
    tg.observe("a", False, now=2.0)
    assert tg.observe("a", False, now=3.0) == "unhealthy.draining"
    again = nlb.route_many(flows, 4.0).target
    assert (again[on_a] == tg.index_of("a")).all()              # kept
    fresh = nlb.route_many(tcp_flows(400, seed=9), 5.0).target
    assert tg.index_of("a") not in set(fresh.tolist())          # no new flows
    assert tg.state("a", 33.0) == "unhealthy"
    later = nlb.route_many(flows, 34.0).target
    assert (later[on_a] == tg.index_of("b")).all()              # terminated, placed again
    # nearby: interval 0 goes straight to unhealthy; a recovery clears draining
    plain = TargetGroup([Target("x", "A")], protocol="TCP", healthy=True, now=0.0)
    plain.observe("x", False, now=1.0)
    assert plain.observe("x", False, now=2.0) == "unhealthy"
    tg.register([Target("c", "A")], now=40.0, healthy=True)
    tg.set_health("c", False, now=41.0)
    assert tg.state("c") == "unhealthy.draining"
    tg.set_health("c", True, now=42.0)
    assert tg.state("c", 100.0) == "healthy"


def test_unavailable_when_health_checks_are_disabled():
    # TargetHealthStateEnum "unavailable": health checks disabled (ALB Lambda targets)
    g = TargetGroup([Target("fn", "az-a")], protocol="HTTP", name="web",
                    health_check=HealthCheckSettings("HTTP", enabled=False))
    assert g.state("fn") == "unavailable"
    assert g.observe("fn", False, now=1.0) == "unavailable"
    assert shares(alb_for(g), 10, 2.0) == {"fn": 1.0}
    assert g.due(100.0) == []
    with pytest.raises(ValueError, match="health checks can be disabled only"):
        TargetGroup(protocol="TCP", health_check=HealthCheckSettings("TCP", enabled=False))
    assert HealthCheckSettings("HTTP").enabled                   # nearby: the default


def test_target_in_an_az_that_is_not_enabled_is_unused():
    tg = TargetGroup([Target("a", "A"), Target("z", "Z")], protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A"])
    nlb.add_listener("TCP", 80, tg)
    assert nlb.target_health(1.0) == {"a": "healthy", "z": "unused"}
    assert tg.state("z") == "healthy"                # the group itself does not know
    assert set(nlb.route_many(tcp_flows(500, seed=1), 1.0).target.tolist()) == {0}


# ------------------------------------------------------------------ zonal DNS affinity
def _affinity_nlb(policy):
    tg = TargetGroup([Target("a", "A"), Target("b", "B")], protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A", "B"], seed=4, dns_record_client_routing_policy=policy)
    nlb.add_listener("TCP", 80, tg)
    return nlb, tg


def test_zonal_dns_affinity_in_answers_and_routing():
    # NLB guide, "Availability Zone DNS affinity": 100 % / 85 % / no zonal affinity
    flows = tcp_flows(4000, seed=3)
    for policy, own in (("availability_zone_affinity", 1.0),
                        ("partial_availability_zone_affinity", 0.85 + 0.15 / 2),
                        ("any_availability_zone", 0.5)):
        nlb, _ = _affinity_nlb(policy)
        nodes = Counter(nlb.route(flows[i], 1.0, client_zone="B").node
                        for i in range(len(flows)))
        assert abs(nodes["B"] / len(flows) - own) < 0.025, policy
    nlb, _ = _affinity_nlb("partial_availability_zone_affinity")
    single = sum(nlb.dns_answer("A", 1.0, client=f"10.0.{i // 256}.{i % 256}") == ["A"]
                 for i in range(5000)) / 5000
    assert abs(single - 0.85) < 0.015
    nlb, tg = _affinity_nlb("availability_zone_affinity")
    assert nlb.dns_answer("A", 1.0) == ["A"] and nlb.dns_answer(None, 1.0) == ["A", "B"]
    # the client's zone has no healthy target: its node leaves DNS, any zone answers
    tg.set_health("a", False, now=2.0)
    assert nlb.dns_answer("A", 2.0) == ["B"]
    assert nlb.route(flows[0], 2.0, client_zone="A").node == "B"


def test_route53_alias_to_an_nlb_answers_by_client_zone():
    nlb, _ = _affinity_nlb("availability_zone_affinity")
    zone = HostedZone.from_aws([
        {"Name": "api.example.com", "Type": "A",
         "AliasTarget": {"DNSName": "nlb.example.net", "EvaluateTargetHealth": True}}],
        name="example.com", alias_targets={"nlb.example.net": nlb})
    assert zone.resolve("api.example.com", "A", Client(availability_zone="B"),
                        now=1.0).values == ("B",)
    # nearby: a client outside AWS gets every node in DNS
    assert zone.resolve("api.example.com", "A", Client(ip="198.51.100.7"),
                        now=1.0).values == ("A", "B")


# ------------------------------------------------------------------ defaults
def test_health_check_defaults_follow_the_api():
    # lbcore follows botocore's CreateTargetGroup defaults (HTTP 6 s, HTTPS 10 s);
    # the ALB guide's table says 5 s (docs/elb.md, "Health", says why)
    assert HealthCheckSettings("HTTP").timeout_seconds == 6
    assert HealthCheckSettings("HTTPS").timeout_seconds == 10
    assert HealthCheckSettings("HTTP", timeout_seconds=5).timeout_seconds == 5
    assert np.isfinite(HealthCheckSettings("GENEVE").interval_seconds)
