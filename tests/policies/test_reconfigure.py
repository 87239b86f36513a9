"""Changing a running balancer (issue 15 item 4, docs/elb.md "Changing a running
balancer"): targets registered and deregistered, rules added, removed, modified and
re-prioritised, target-group attributes and the algorithm changed at run time, with
the state that must survive checked: outstanding requests (every lease comes back on
its target, counts never negative), stickiness to targets still registered, NLB/GWLB
connection-table entries, API Gateway token buckets."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from lbcore import Flow
from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, GatewayLoadBalancer,
                        NetworkLoadBalancer, Request, Target, TargetGroup)

AZ = "az-a"
ALGOS = ("round_robin", "least_outstanding_requests", "weighted_random")


def web(n=4, name="web", **attrs):
    return TargetGroup([Target(f"t{k}", AZ) for k in range(n)], protocol="HTTP", name=name,
                       healthy=True, now=0.0, **attrs)


def alb_of(*tgs, rules=(), default=None):
    alb = ApplicationLoadBalancer(list(tgs), seed=3)
    alb.add_listener(80, default_actions=default or [
        {"Type": "forward", "TargetGroupArn": tgs[0].name}], rules=list(rules))
    return alb


def path_rule(priority, path, tg="web"):
    return {"Priority": str(priority), "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": [path]}}],
        "Actions": [{"Type": "forward", "TargetGroupArn": tg}]}


def fixed(status):
    return [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": str(status)}}]


# ------------------------------------------------------------ targets at run time

def test_deregistered_target_drains_then_is_unused_and_in_flight_requests_complete():
    # ALB guide, "Deregistration delay": no new requests to a deregistering target;
    # draining for deregistration_delay.timeout_seconds, then unused
    tg = web(2, load_balancing_algorithm_type="least_outstanding_requests",
             deregistration_delay_timeout_seconds=30)
    alb = alb_of(tg)
    held = [alb.route(Request(), 1.0) for _ in range(4)]
    on_t0 = [d for d in held if d.target.id == "t0"]
    assert on_t0 and alb.outstanding("web", "t0") == len(on_t0)
    tg.deregister("t0", now=2.0)
    assert tg.state("t0") == "draining"
    assert {alb.route(Request(), 3.0).target.id for _ in range(10)} == {"t1"}
    for d in on_t0:                     # in flight: completes and is released on t0
        alb.complete(d)
    assert alb.outstanding("web", "t0") == 0
    assert tg.state("t0", 31.9) == "draining" and tg.state("t0", 32.0) == "unused"


def test_registered_target_takes_requests_and_counts_survive():
    tg = web(2, load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_of(tg)
    held = [alb.route(Request(), 1.0) for _ in range(6)]
    tg.register(Target("t9", AZ), now=2.0, healthy=True)
    new = [alb.route(Request(), 3.0) for _ in range(6)]
    # least outstanding (3 each on t0, t1): the new, empty target takes the next three,
    # then the three are even and share the rest
    assert [d.target.id for d in new[:3]] == ["t9"] * 3
    assert Counter(d.target.id for d in new) == {"t9": 4, "t0": 1, "t1": 1}
    for d in held + new:
        alb.complete(d)
    assert all(alb.outstanding("web", t) == 0 for t in ("t0", "t1", "t9"))


# ------------------------------------------------------------ algorithm at run time

@pytest.mark.parametrize("a,b", [(a, b) for a in ALGOS for b in ALGOS if a != b])
def test_algorithm_change_keeps_outstanding_counts(a, b):
    tg = web(3, load_balancing_algorithm_type=a)
    alb = alb_of(tg)
    held = [alb.route(Request(), 1.0) for _ in range(7)]
    before = {t: alb.outstanding("web", t) for t in ("t0", "t1", "t2")}
    tg.set_attributes(load_balancing_algorithm_type=b)
    assert tg.attribute_values["load_balancing.algorithm.type"] == b
    d = alb.route(Request(), 3.0)
    after = {t: alb.outstanding("web", t) for t in ("t0", "t1", "t2")}
    before[d.target.id] += 1
    assert after == before
    for x in held + [d]:
        alb.complete(x)
    assert all(alb.outstanding("web", t) == 0 for t in ("t0", "t1", "t2"))


def test_switch_to_lor_steers_by_requests_from_before_the_switch():
    tg = web(2)                                   # round robin
    alb = alb_of(tg)
    held = [alb.route(Request(), 1.0) for _ in range(2)]     # one each
    alb.complete(next(d for d in held if d.target.id == "t1"))
    tg.set_attributes({"load_balancing.algorithm.type": "least_outstanding_requests"})
    # t0 still has its request from before the switch: LOR sends the next two to t1
    # t0 still has its request from before the switch: LOR sends the next one to t1
    assert alb.route(Request(), 3.0).target.id == "t1"
    alb.complete(held[0] if held[0].target.id == "t0" else held[1])
    assert alb.outstanding("web", "t0") == 0 and alb.outstanding("web", "t1") == 1


def test_lor_with_slow_start_is_rejected_and_nothing_changes():
    tg = web(2, load_balancing_algorithm_type="least_outstanding_requests")
    before = tg.attribute_list()
    with pytest.raises(ValueError, match="slow_start.duration_seconds can't be used"):
        tg.set_attributes(slow_start_duration_seconds=30)
    assert tg.attribute_list() == before


def test_set_attributes_rejects_unknown_and_bad_values():
    tg = web(1)
    with pytest.raises(ValueError, match="unknown key"):
        tg.set_attributes({"no.such.key": "1"})
    with pytest.raises(ValueError):
        tg.set_attributes(deregistration_delay_timeout_seconds=3601)
    with pytest.raises(TypeError):
        tg.set_attributes(no_such_key=1)


def test_new_deregistration_delay_applies_to_later_deregistrations():
    tg = web(3, deregistration_delay_timeout_seconds=100)
    tg.deregister("t0", now=1.0)
    tg.set_attributes(deregistration_delay_timeout_seconds=10)
    tg.deregister("t1", now=3.0)
    assert tg.state("t1", 13.0) == "unused"
    assert tg.state("t0") == "draining" and tg.state("t0", 101.0) == "unused"


# ------------------------------------------------------------ stickiness at run time

def cookie_of(d, name="AWSALB"):
    return next(c.value for c in d.set_cookies if c.name == name)


def test_lb_cookie_survives_registrations_deregistrations_and_algorithm_change():
    tg = web(4, stickiness_enabled=True)
    alb = alb_of(tg)
    first = alb.route(Request(), 1.0)
    cookie = cookie_of(first)
    t = first.target.id
    others = [x for x in ("t0", "t1", "t2", "t3") if x != t]
    tg.deregister(others[0], now=2.0)
    tg.register(Target("t7", AZ), now=3.0, healthy=True)
    tg.set_attributes(load_balancing_algorithm_type="least_outstanding_requests")
    for k in range(5):
        d = alb.route(Request(cookies={"AWSALB": cookie}), 5.0 + k)
        assert d.target.id == t
        alb.complete(d)
    # its target deregistered: a new target, a new cookie
    tg.deregister(t, now=20.0)
    d = alb.route(Request(cookies={"AWSALB": cookie}), 21.0)
    assert d.target.id != t and cookie_of(d) != cookie


def test_stickiness_turned_on_and_off_at_run_time():
    tg = web(4)
    alb = alb_of(tg)
    d = alb.route(Request(), 1.0)
    assert d.set_cookies == ()
    tg.set_attributes(stickiness_enabled=True)
    d = alb.route(Request(), 3.0)
    cookie = cookie_of(d)
    assert all(alb.route(Request(cookies={"AWSALB": cookie}), 4.0).target == d.target
               for _ in range(6))
    tg.set_attributes(stickiness_enabled=False)
    got = [alb.route(Request(cookies={"AWSALB": cookie}), 6.0) for _ in range(8)]
    assert all(x.set_cookies == () for x in got)
    assert len({x.target.id for x in got}) > 1       # round robin again


def test_app_cookie_stickiness_set_at_run_time():
    tg = web(3)
    alb = alb_of(tg)
    with pytest.raises(ValueError, match="cookie_name is required"):
        tg.set_attributes(stickiness_enabled=True, stickiness_type="app_cookie")
    tg.set_attributes(stickiness_enabled=True, stickiness_type="app_cookie",
                      stickiness_app_cookie_cookie_name="SESSION")
    d = alb.route(Request(cookies={"SESSION": "s1"}), 2.0)
    c = cookie_of(d, "AWSALBAPP-0")
    for _ in range(4):
        assert alb.route(Request(cookies={"SESSION": "s1", "AWSALBAPP-0": c}),
                         3.0).target == d.target


# ------------------------------------------------------------ rules at run time

def test_add_modify_delete_rules():
    api, static = web(2, "api"), web(2, "static")
    alb = alb_of(api, static, default=fixed(404))
    assert alb.route(Request("GET", "/api/x"), 1.0).status_code == 404
    r = alb.add_rule(80, path_rule(10, "/api/*", "api"))
    assert r.priority == 10
    assert alb.route(Request("GET", "/api/x"), 1.0).target_group is api
    with pytest.raises(ValueError, match="priority 10 is in use"):
        alb.add_rule(80, path_rule(10, "/s/*", "static"))
    alb.modify_rule(80, 10, conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/*"]}}])
    assert alb.route(Request("GET", "/api/x"), 2.0).status_code == 404
    assert alb.route(Request("GET", "/v2/x"), 2.0).target_group is api
    alb.modify_rule(80, 10, actions=[{"Type": "forward", "TargetGroupArn": "static"}])
    assert alb.route(Request("GET", "/v2/x"), 2.0).target_group is static
    alb.delete_rule(80, 10)
    assert alb.route(Request("GET", "/v2/x"), 3.0).status_code == 404
    with pytest.raises(KeyError):
        alb.delete_rule(80, 10)
    with pytest.raises(ValueError, match="default rule"):
        alb.delete_rule(80, "default")
    alb.modify_listener(80, default_actions=fixed(503))
    assert alb.route(Request("GET", "/"), 4.0).status_code == 503


def test_set_rule_priorities_reorders_and_rejects_conflicts():
    a, b = web(1, "a"), web(1, "b")
    alb = alb_of(a, b, rules=[path_rule(1, "/x*", "a"), path_rule(2, "/x/y*", "b")])
    assert alb.route(Request("GET", "/x/y"), 1.0).target_group is a
    with pytest.raises(ValueError, match="priority 2 is in use"):
        alb.set_rule_priorities(80, {1: 2})
    assert alb.route(Request("GET", "/x/y"), 1.0).target_group is a   # unchanged
    alb.set_rule_priorities(80, {1: 3})          # b now comes first
    assert [r.priority for r in alb.listeners[80].rules] == [2, 3, None]
    assert alb.route(Request("GET", "/x/y"), 2.0).target_group is b
    alb.set_rule_priorities(80, {2: 3, 3: 2})    # a swap: no conflict in the new order
    assert alb.route(Request("GET", "/x/y"), 3.0).target_group is a
    with pytest.raises(ValueError, match="default rule"):
        alb.set_rule_priorities(80, {"default": 9})
    with pytest.raises(ValueError):
        alb.set_rule_priorities(80, {2: 0})
    with pytest.raises(KeyError):
        alb.set_rule_priorities(80, {77: 5})


def test_rules_by_arn_and_group_cookie_survives_reprioritising():
    a, b = web(2, "a"), web(2, "b")
    act = [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "a", "Weight": 1},
                         {"TargetGroupArn": "b", "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 600}}}]
    rule = {"RuleArn": "arn:rule/1", "Priority": "5", "Actions": act, "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/w*"]}}]}
    alb = alb_of(a, b, rules=[rule])
    d = alb.route(Request("GET", "/w"), 1.0)
    tgc = cookie_of(d, "AWSALBTG")
    alb.set_rule_priorities(80, {"arn:rule/1": 7})
    assert alb.listeners[80].rules[0].priority == 7
    for _ in range(6):
        assert alb.route(Request("GET", "/w", cookies={"AWSALBTG": tgc}),
                         2.0).target_group is d.target_group
    alb.modify_rule(80, "arn:rule/1", conditions=rule["Conditions"])   # actions kept
    assert alb.route(Request("GET", "/w", cookies={"AWSALBTG": tgc}),
                     3.0).target_group is d.target_group


def test_add_target_group_then_rule_forwarding_to_it():
    alb = alb_of(web(1))
    new = web(2, "canary")
    alb.add_target_group("canary", new)
    with pytest.raises(ValueError, match="exists"):
        alb.add_target_group("canary", new)
    alb.add_rule(80, path_rule(1, "/c*", "canary"))
    assert alb.route(Request("GET", "/c"), 1.0).target_group is new


def test_delete_listener():
    alb = alb_of(web(1))
    d = alb.route(Request(), 1.0)
    alb.delete_listener(80)
    with pytest.raises(ValueError, match="no listener"):
        alb.route(Request(), 2.0)
    alb.complete(d)


# ------------------------------------------------------------ interleavings

OPS = st.lists(st.one_of(
    st.tuples(st.just("route"), st.integers(0, 3)),
    st.tuples(st.just("complete"), st.integers(0, 50)),
    st.tuples(st.just("algo"), st.sampled_from(ALGOS)),
    st.tuples(st.just("dereg"), st.integers(0, 5)),
    st.tuples(st.just("reg"), st.integers(0, 5)),
    st.tuples(st.just("sticky"), st.booleans()),
    st.tuples(st.just("rule"), st.integers(1, 3)),
), max_size=60)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_interleavings_keep_every_lease_and_sticky_target(ops):
    """route / complete / reconfigure in any order: the counts the ALB reports are
    exactly the open leases per target (never negative), every lease comes back, a
    cookie keeps its target while that target is registered and healthy."""
    tg = web(3, load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_of(tg, rules=[path_rule(1, "/a*")])
    open_, cookies = [], {}
    now = 1.0
    for op, arg in ops:
        now += 0.5
        if op == "route":
            cookie = cookies.get(arg)
            req = Request("GET", "/a" if arg % 2 else "/", cookies={"AWSALB": cookie[0]}
                          if cookie else {})
            d = alb.route(req, now)
            if not hasattr(d, "target"):
                continue
            open_.append(d)
            if cookie and tg.state(cookie[1]) in ("healthy",) and \
                    tg.attribute_values["stickiness.enabled"]:
                assert d.target.id == cookie[1]
            for c in d.set_cookies:
                cookies[arg] = (c.value, d.target.id)
        elif op == "complete" and open_:
            alb.complete(open_.pop(arg % len(open_)))
        elif op == "algo":
            slow = {"slow_start_duration_seconds": 0}
            tg.set_attributes(load_balancing_algorithm_type=arg, **slow)
        elif op == "dereg":
            tid = f"t{arg}"
            if tid in tg.states() and tg.state(tid) in ("healthy", "initial"):
                if sum(s == "healthy" for s in tg.states().values()) > 1:
                    tg.deregister(tid, now=now)
        elif op == "reg":
            tid = f"t{arg}"
            if tid not in tg.states() or tg.state(tid) in ("draining", "unused"):
                tg.register(Target(tid, AZ), now=now, healthy=True)
        elif op == "sticky":
            tg.set_attributes(stickiness_enabled=arg)
        elif op == "rule":
            alb.set_rule_priorities(80, {alb.listeners[80].rules[0].priority: arg + 1})
        held = Counter(d.target.id for d in open_)
        for t in tg.states():
            n = alb.outstanding("web", t)
            assert n >= 0 and n == held.get(t, 0), (t, n, held)
    for d in open_:
        alb.complete(d)
    assert all(alb.outstanding("web", t) == 0 for t in tg.states())


# ------------------------------------------------------------ Classic LB

def test_clb_instances_and_connection_draining_at_run_time():
    clb = ClassicLoadBalancer([Target(f"i-{k}", AZ) for k in range(2)],
                              [{"Protocol": "HTTP", "LoadBalancerPort": 80,
                                "InstanceProtocol": "HTTP", "InstancePort": 80}],
                              healthy=True, now=0.0, connection_draining_timeout=60)
    held = [clb.route(Request(), 1.0) for _ in range(4)]
    clb.register_instances([Target("i-9", AZ)], now=2.0, healthy=True)
    clb.deregister_instances(["i-0"], now=3.0)
    assert clb.instances.state("i-0") == "draining"
    got = {clb.route(Request(), 4.0).target.id for _ in range(8)}
    assert "i-0" not in got and "i-9" in got
    for d in held:
        clb.complete(d)
    assert clb.outstanding("i-0") == 0
    clb.set_connection_draining(0)
    clb.deregister_instances("i-1", now=6.0)
    assert clb.instances.state("i-1") == "unused"
    with pytest.raises(ValueError):
        clb.set_connection_draining(3601)


# ------------------------------------------------------------ NLB / GWLB

def flows(n):
    return [Flow("tcp", f"10.0.{k // 200}.{k % 200 + 1}", "10.1.0.1", 1000 + k, 80)
            for k in range(n)]


def test_nlb_flows_to_registered_targets_survive_changes():
    tg = TargetGroup([Target(f"n{k}", AZ) for k in range(4)], protocol="TCP", name="tcp",
                     healthy=True, now=0.0, deregistration_delay_timeout_seconds=30)
    nlb = NetworkLoadBalancer([AZ], seed=2, table_size=1009)
    nlb.add_listener("TCP", 80, tg)
    fs = flows(200)
    first = {f: nlb.route(f, 1.0).target.id for f in fs}
    tg.register([Target("n8", AZ), Target("n9", AZ)], now=2.0, healthy=True)
    tg.deregister("n0", now=3.0)
    tg.set_attributes(stickiness_enabled=True)
    tg.set_attributes(deregistration_delay_timeout_seconds=10)
    again = {f: nlb.route(f, 6.0).target.id for f in fs}
    assert again == first           # existing flows: n0 is draining, the rest registered
    new = flows(600)[200:]
    assert "n0" not in {nlb.route(f, 7.0).target.id for f in new}


def test_gwlb_flows_survive_registration_and_attribute_changes():
    tg = TargetGroup([Target(f"g{k}", AZ) for k in range(3)], protocol="GENEVE",
                     name="gw", port=6081, healthy=True, now=0.0)
    gw = GatewayLoadBalancer([AZ], tg, seed=4, table_size=1009)
    fs = flows(150)
    first = {f: gw.route(f, 1.0).target.id for f in fs}
    tg.register(Target("g5", AZ), now=2.0, healthy=True)
    tg.set_attributes(deregistration_delay_timeout_seconds=5)
    tg.deregister("g1", now=4.0)       # no_rebalance: its flows stay too
    assert {f: gw.route(f, 5.0).target.id for f in fs} == first
    assert "g1" not in {gw.route(f, 6.0).target.id for f in flows(400)[150:]}


# ------------------------------------------------------------ API Gateway

from lbcore.apigateway import ApiGateway  # noqa: E402


def gateway():
    g = ApiGateway()
    g.add_stage("api", "prod", throttle={"rateLimit": 1, "burstLimit": 10},
                method_settings={"/pets/GET": {"rateLimit": 2, "burstLimit": 4}})
    g.add_usage_plan("gold", api_stages=[("api", "prod")],
                     throttle={"rateLimit": 1, "burstLimit": 6})
    g.add_api_key("k1", "gold", created=0.0)
    return g


def drain(g, key, resource, method, now, n):
    return [g.check(key, resource, method, now).allowed for _ in range(n)]


def test_unchanged_buckets_keep_their_tokens_exactly():
    g = gateway()
    drain(g, None, "/pets", "GET", 100.0, 3)         # method bucket: 4 -> 1
    drain(g, None, "/owners", "GET", 100.0, 7)       # stage default: 10 -> 3
    # the stage's /pets/GET setting changes; the stage default does not
    g.update_stage("api", "prod", throttle={"rateLimit": 1, "burstLimit": 10},
                   method_settings={"/pets/GET": {"rateLimit": 2, "burstLimit": 8}},
                   now=100.0)
    assert drain(g, None, "/owners", "GET", 100.0, 4) == [True] * 3 + [False]
    # changed bucket: min(1 token, new burst 8) = 1 kept, then the new rate
    assert drain(g, None, "/pets", "GET", 100.0, 2) == [True, False]
    assert drain(g, None, "/pets", "GET", 101.0, 3) == [True, True, False]   # 2/s


def test_changed_bucket_is_clamped_to_the_new_burst():
    g = gateway()
    drain(g, None, "/pets", "GET", 100.0, 1)         # 4 -> 3 tokens
    g.update_stage("api", "prod", throttle={"rateLimit": 1, "burstLimit": 10},
                   method_settings={"/pets/GET": {"rateLimit": 100, "burstLimit": 2}},
                   now=100.0)
    assert drain(g, None, "/pets", "GET", 100.0, 3) == [True, True, False]


def test_fractional_tokens_round_down_when_moved():
    g = gateway()
    drain(g, None, "/pets", "GET", 100.0, 4)         # empty, refills 2/s
    g.update_stage("api", "prod", throttle={"rateLimit": 1, "burstLimit": 10},
                   method_settings={"/pets/GET": {"rateLimit": 1, "burstLimit": 4}},
                   now=100.75)                       # held 1.5 tokens -> 1 kept
    assert drain(g, None, "/pets", "GET", 100.75, 2) == [True, False]


def test_usage_plan_update_and_key_removal():
    g = gateway()
    drain(g, "k1", "/owners", "GET", 100.0, 5)       # plan bucket 6 -> 1
    g.update_usage_plan("gold", throttle={"rateLimit": 1, "burstLimit": 6}, now=100.0)
    assert drain(g, "k1", "/owners", "GET", 100.0, 2) == [True, False]   # unchanged: kept
    g.update_usage_plan("gold", throttle={"rateLimit": 1, "burstLimit": 20}, now=100.0)
    assert drain(g, "k1", "/owners", "GET", 100.0, 1) == [False]        # 0 kept, not refilled
    g.update_usage_plan("gold", api_stages=[{"apiId": "api", "stage": "prod", "throttle": {
        "/owners/GET": {"rateLimit": 5, "burstLimit": 3}}}], now=101.0)
    # a per-method plan limit newly applies: it starts full
    assert drain(g, "k1", "/owners", "GET", 101.0, 3) == [True] * 3
    g.remove_api_key("k1")
    d = g.check("k1", "/owners", "GET", 102.0)     # a removed key: API Gateway's 403
    assert (d.allowed, d.status) == (False, 403)
    g.add_api_key("k1", "gold")
    assert g.check("k1", "/owners", "GET", 102.0).allowed


def test_gateway_updates_reject_bad_input_and_time_going_back():
    g = gateway()
    drain(g, None, "/pets", "GET", 100.0, 1)
    with pytest.raises(KeyError):
        g.update_stage("api", "nope")
    with pytest.raises(KeyError):
        g.update_usage_plan("silver")
    with pytest.raises(KeyError):
        g.update_usage_plan("gold", api_stages=[("api", "other")])
    with pytest.raises(ValueError, match="time must not go back"):
        g.update_stage("api", "prod", method_settings={
            "/pets/GET": {"rateLimit": 2, "burstLimit": 9}}, now=50.0)
    # nothing changed: the old limits still apply
    assert drain(g, None, "/pets", "GET", 100.0, 4) == [True] * 3 + [False]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6), st.integers(1, 6)),
                max_size=12))
def test_token_rule_against_a_reference(changes):
    """Each step: some requests, then maybe new /pets/GET limits; tokens follow the
    documented rule (floor(min(tokens, new burst)), new rate from the change; a bucket
    no request has used yet is created full at its first request)."""
    from fractions import Fraction
    g = ApiGateway()
    rate, burst = 1, 4
    g.add_stage("api", "prod", method_settings={"/pets/GET": {"rateLimit": rate,
                                                              "burstLimit": burst}})
    tokens, t = Fraction(burst), 0.0
    used = False            # a bucket exists from its first request, full then
    for n, new_rate, new_burst in changes:
        for _ in range(n):
            if not used:
                tokens, used = Fraction(burst), True
            ok = g.check(None, "/pets", "GET", t).allowed
            assert ok == (tokens >= 1)
            if ok:
                tokens -= 1
        g.update_stage("api", "prod", method_settings={
            "/pets/GET": {"rateLimit": new_rate, "burstLimit": new_burst}}, now=t)
        if used and (new_rate, new_burst) != (rate, burst):
            tokens = Fraction(int(min(tokens, new_burst)))
        rate, burst = new_rate, new_burst
        t += 0.5
        tokens = min(Fraction(burst), tokens + Fraction(rate) / 2)


# ------------------------------------------------------------ threads

def test_reconfiguring_while_four_threads_route_and_complete():
    """The thread rule across reconfiguration: 4 threads route and complete through one
    ALB (its clock read under its lock) while the main thread registers, deregisters,
    changes the algorithm and stickiness and re-prioritises rules; every lease comes
    back and the counts end at zero."""
    import sys
    import threading
    tg = web(4, load_balancing_algorithm_type="least_outstanding_requests")
    tg2 = web(2, "other")
    alb = ApplicationLoadBalancer([tg, tg2], seed=5)
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}],
                     rules=[path_rule(1, "/o*", "other"), path_rule(2, "/w*", "web")])
    errors, stop = [], threading.Event()

    def worker(k):
        try:
            while not stop.is_set():
                held = [alb.route(Request("GET", "/o" if (k + j) % 3 == 0 else "/w"))
                        for j in range(5)]
                for d in held:
                    if hasattr(d, "target"):
                        alb.complete(d)
        except Exception as e:      # noqa: BLE001 - reported below
            errors.append(e)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        for i in range(40):
            tg.set_attributes(load_balancing_algorithm_type=ALGOS[i % 3])
            tg.set_attributes(stickiness_enabled=bool(i % 2))
            alb.set_rule_priorities(80, {1: 3} if i % 2 == 0 else {3: 1})
            alb.register_targets("web", Target(f"n{i}", AZ), healthy=True)
            alb.deregister_targets("web", f"n{i}")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        sys.setswitchinterval(old)
    assert errors == []
    assert all(alb.outstanding("web", t) == 0 for t in tg.states())
    assert all(alb.outstanding("other", t) == 0 for t in tg2.states())


def test_gwlb_stickiness_type_change_rekeys_the_connection_table():
    # documented in docs/elb.md: the table key follows stickiness.type, so flows
    # pinned under the 5-tuple are placed again under the 2-tuple
    from lbcore import Flows
    tg = TargetGroup([Target(f"g{k}", AZ) for k in range(3)], protocol="GENEVE",
                     name="gw", port=6081, healthy=True, now=0.0)
    gw = GatewayLoadBalancer([AZ], tg, seed=4, table_size=1009)
    fs = Flows.random(64, seed=3, protocols=(6,))
    assert gw.route_many(fs, 1.0).new.all()
    assert not gw.route_many(fs, 2.0).new.any()          # pinned
    tg.set_attributes(stickiness_enabled=True, stickiness_type="source_ip_dest_ip")
    assert gw.route_many(fs, 3.0).new.any()              # re-keyed: placed again
    assert not gw.route_many(fs, 4.0).new.any()


def test_pickled_balancer_keeps_counts_carried_over_an_algorithm_change():
    import pickle
    tg = web(3, load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_of(tg)
    held = [alb.route(Request(), 1.0) for _ in range(5)]
    tg.set_attributes(load_balancing_algorithm_type="round_robin")
    alb.complete(alb.route(Request(), 2.0))
    copy = pickle.loads(pickle.dumps(alb))
    counts = {t: alb.outstanding("web", t) for t in ("t0", "t1", "t2")}
    assert {t: copy.outstanding("web", t) for t in counts} == counts
    for d in held:
        alb.complete(d)
    assert all(alb.outstanding("web", t) == 0 for t in counts)
