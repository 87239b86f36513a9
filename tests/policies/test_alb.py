"""ApplicationLoadBalancer: actions, weighted target groups, algorithms, slow
start, stickiness across health changes, cross-zone, fail open; and the
Classic Load Balancer."""
from collections import Counter

import pytest

from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, FixedResponse, Forward,
                        Redirect, Request, Target, TargetGroup)


def tg(name, n=3, zones=("az-a", "az-b"), **attrs):
    return TargetGroup([Target(f"{name}-{i}", zones[i % len(zones)]) for i in range(n)],
                       protocol="HTTP", name=name, healthy=True, **attrs)


def fwd(name, **kw):
    return [{"Type": "forward", "TargetGroupArn": name, **kw}]


def alb_with(*groups, rules=(), default=None, seed=7, protocol="HTTP", port=80):
    alb = ApplicationLoadBalancer(list(groups), seed=seed)
    alb.add_listener(port, protocol, default_actions=default or fwd(groups[0].name),
                     rules=list(rules))
    return alb


def ids(alb, req, n, now=0.0, complete=True):
    out = []
    for _ in range(n):
        d = alb.route(req, now)
        out.append(d.target.id)
        if complete:
            alb.complete(d)
    return out


# ------------------------------------------------------------------ describe_rules shape
DESCRIBE_RULES = {"Rules": [
    {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123:listener-rule/app/lb/1/2/3",
     "Priority": "10",
     "Conditions": [{"Field": "path-pattern", "Values": ["/img/*"],
                     "PathPatternConfig": {"Values": ["/img/*"]}}],
     "Actions": [{"Type": "forward", "Order": 1,
                  "TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123:targetgroup/img/1",
                  "ForwardConfig": {"TargetGroups": [
                      {"TargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123:targetgroup/img/1",
                       "Weight": 1}],
                      "TargetGroupStickinessConfig": {"Enabled": False}}}],
     "IsDefault": False},
    {"RuleArn": "arn:aws:elasticloadbalancing:us-west-2:123:listener-rule/app/lb/1/2/4",
     "Priority": "default", "Conditions": [],
     "Actions": [{"Type": "fixed-response", "Order": 1,
                  "FixedResponseConfig": {"MessageBody": "not here", "StatusCode": "404",
                                          "ContentType": "text/plain"}}],
     "IsDefault": True}]}


def test_loads_describe_rules_output():
    arn = "arn:aws:elasticloadbalancing:us-west-2:123:targetgroup/img/1"
    alb = ApplicationLoadBalancer({arn: tg("img")})
    lst = alb.add_listener(80, default_actions=None, rules=DESCRIBE_RULES["Rules"])
    assert [r.priority for r in lst.rules] == [10, None]
    d = alb.route(Request(target="/img/x.png", host="a"), 0.0)
    assert isinstance(d, Forward) and d.target_group.name == "img" and d.rule_priority == 10
    d = alb.route(Request(target="/other", host="a"), 0.0)
    assert isinstance(d, FixedResponse)
    assert (d.status_code, d.content_type, d.body) == (404, "text/plain", "not here")


@pytest.mark.parametrize("actions, match", [
    ([], "Actions"),
    ([{"Type": "forward", "TargetGroupArn": "nope"}], "TargetGroupArn"),
    ([{"Type": "authenticate-oidc"}], r"Actions\[0\].Type"),
    ([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "web", "Weight": 1000}]}}], "Weight"),
    ([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "web", "Weight": 0}]}}], "Weight"),
    ([{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "web"}] * 2}}],
     "twice"),
    ([{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "web"}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 604801}}}],
     "DurationSeconds"),
    ([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}], "StatusCode"),
    ([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200",
                                                         "MessageBody": "x" * 1025}}],
     "MessageBody"),
    ([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200",
                                                         "ContentType": "image/png"}}],
     "ContentType"),
    ([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_307", "Host": "x"}}],
     "StatusCode"),
    ([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301"}}], "at least one"),
    ([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", "Host": "#{path}"}}],
     r"Host: #\{path\}"),
    ([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", "Path": "x"}}],
     "Path"),
    ([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", "Port": "70000"}}],
     "Port"),
    ([{"Type": "forward", "TargetGroupArn": "web"},
      {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}], "exactly one"),
])
def test_invalid_actions_name_the_field(actions, match):
    alb = ApplicationLoadBalancer([tg("web")])
    with pytest.raises(ValueError, match=match):
        alb.add_listener(80, default_actions=actions)


def test_https_to_http_redirect_rejected():
    alb = ApplicationLoadBalancer([tg("web")])
    act = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTP", "StatusCode": "HTTP_301"}}]
    with pytest.raises(ValueError, match="HTTPS to HTTP"):
        alb.add_listener(443, "HTTPS", default_actions=act)
    alb.add_listener(80, "HTTP", default_actions=act[:0] or [
        {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "StatusCode": "HTTP_301"}}])


# ------------------------------------------------------------------ redirect
def test_redirect_location_placeholders():
    # AWS: #{path} is the path without its leading "/"; unmodified components keep
    # their values; the guide's HTTP -> HTTPS example.
    alb = ApplicationLoadBalancer([tg("web")])
    alb.add_listener(80, default_actions=[{"Type": "redirect", "RedirectConfig": {
        "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}], rules=[
        {"Priority": "1", "Conditions": [{"Field": "path-pattern", "Values": ["/old/*"]}],
         "Actions": [{"Type": "redirect", "RedirectConfig": {
             "Host": "example.#{host}", "Path": "/new/#{path}", "Query": "#{query}&value=xyz",
             "StatusCode": "HTTP_302"}}]}])
    d = alb.route(Request(target="/a/b?x=1", host="www.example.com"), 0.0)
    assert isinstance(d, Redirect) and d.status_code == 301
    assert d.location == "https://www.example.com:443/a/b?x=1"
    d = alb.route(Request(target="/old/p", host="Site.com:80"), 0.0)
    assert d.status_code == 302
    assert d.location == "http://example.site.com:80/new/old/p?&value=xyz"
    d = alb.route(Request(target="/", host="h"), 0.0)
    assert d.location == "https://h:443/"                 # empty query: no '?'


# ------------------------------------------------------------------ weighted target groups
def test_weighted_forward_shares():
    a, b, c = tg("a"), tg("b"), tg("c")
    act = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "a", "Weight": 80}, {"TargetGroupArn": "b", "Weight": 20},
        {"TargetGroupArn": "c", "Weight": 0}]}}]
    alb = alb_with(a, b, c, default=act)
    n = 20000
    cnt = Counter(alb.route(Request(), 0.0).target_group.name for _ in range(n))
    # binomial sd = sqrt(.8*.2/n) = 0.0028; 5 sd
    assert abs(cnt["a"] / n - 0.8) < 0.014
    assert abs(cnt["b"] / n - 0.2) < 0.014
    assert cnt["c"] == 0                                   # weight 0 gets nothing


def test_same_seed_same_decisions():
    def run(seed):
        a, b = tg("a"), tg("b", load_balancing_algorithm_type="weighted_random")
        act = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": "a", "Weight": 1}, {"TargetGroupArn": "b", "Weight": 1}]}}]
        alb = alb_with(a, b, default=act, seed=seed)
        return [alb.route(Request(), 0.0).target.id for _ in range(200)]
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_target_group_stickiness_cookie():
    a, b = tg("a"), tg("b")
    act = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": "a", "Weight": 1}, {"TargetGroupArn": "b", "Weight": 1}],
        "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60}}}]
    alb = alb_with(a, b, default=act)
    first = alb.route(Request(), 0.0)
    ck = {c.name: c for c in first.set_cookies}
    assert ck["AWSALBTG"].max_age == 60
    req = Request(cookies={"AWSALBTG": ck["AWSALBTG"].value})
    assert {alb.route(req, 30.0).target_group.name for _ in range(50)} == \
        {first.target_group.name}
    # expired: chosen by weight again, both groups appear
    assert {alb.route(req, 61.0).target_group.name for _ in range(50)} == {"a", "b"}
    # a forged / foreign cookie is ignored
    bad = Request(cookies={"AWSALBTG": ck["AWSALBTG"].value[:-2] + "AA"})
    assert {alb.route(bad, 62.0).target_group.name for _ in range(50)} == {"a", "b"}


# ------------------------------------------------------------------ algorithms
def test_round_robin_cycles():
    alb = alb_with(tg("web", 3))
    assert ids(alb, Request(), 6) == ["web-0", "web-1", "web-2"] * 2


def test_least_outstanding_counts_until_complete():
    g = tg("web", 3, load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_with(g)
    held = [alb.route(Request(), 0.0) for _ in range(3)]
    assert sorted(d.target.id for d in held) == ["web-0", "web-1", "web-2"]
    alb.complete(held[1])
    nxt = alb.route(Request(), 0.0)
    assert nxt.target.id == held[1].target.id             # the only one with 0 outstanding
    assert alb.outstanding("web", nxt.target.id) == 1
    with pytest.raises(ValueError, match="already completed"):
        alb.complete(held[1])


def test_lor_release_while_unhealthy_then_back():
    g = tg("web", 3, load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_with(g)
    held = {d.target.id: d for d in (alb.route(Request(), 0.0) for _ in range(3))}
    g.set_health(["web-0"], False, now=1.0)
    assert alb.route(Request(), 1.0).target.id != "web-0"
    alb.complete(held["web-0"])                  # ends while the target is unhealthy
    assert alb.outstanding("web", "web-0") == 0
    g.set_health(["web-0"], True, now=2.0)
    assert alb.route(Request(), 2.0).target.id == "web-0"     # least loaded again


def test_weighted_random_algorithm_spreads():
    alb = alb_with(tg("web", 4, load_balancing_algorithm_type="weighted_random"))
    cnt = Counter(ids(alb, Request(), 8000))
    assert all(abs(v / 8000 - 0.25) < 0.025 for v in cnt.values()) and len(cnt) == 4


def test_lor_with_slow_start_rejected():
    g = tg("web", load_balancing_algorithm_type="least_outstanding_requests",
           slow_start_duration_seconds=30)
    with pytest.raises(ValueError, match="slow_start"):
        ApplicationLoadBalancer([g])


def test_slow_start_ramp():
    g = tg("web", 2, slow_start_duration_seconds=60)
    alb = alb_with(g)
    alb.route(Request(), 0.0)
    g.register([Target("new", "az-a")], now=0.0, healthy=True)
    # the ramp starts when the ALB first sees the target healthy (its next route)
    assert alb.route(Request(), 0.0).target.id != "new"
    # linear ramp: weight of "new" = t/60, others 1; smooth RR share = w / (2 + w)
    for t, w in ((15.0, 0.25), (30.0, 0.5), (45.0, 0.75), (60.0, 1.0), (90.0, 1.0)):
        got = Counter(ids(alb, Request(), 3000, now=t))["new"] / 3000
        assert abs(got - w / (2 + w)) < 0.01, (t, got)


# ------------------------------------------------------------------ stickiness & health
def sticky_tg(**kw):
    return tg("web", 4, stickiness_enabled=True, stickiness_lb_cookie_duration_seconds=100, **kw)


def test_lb_cookie_stickiness_and_health_changes():
    g = sticky_tg()
    alb = alb_with(g)
    d = alb.route(Request(), 0.0)
    c = {x.name: x for x in d.set_cookies}["AWSALB"]
    # ALB guide, sticky sessions: the cookie's own expiry is a fixed 7 days; the
    # stickiness duration (100 s) is in the value
    assert c.max_age == 7 * 24 * 3600
    serial, index, expiry = alb.decode_cookie(c.value)
    assert g.targets[index] == d.target and expiry == 100.0
    req = Request(cookies={"AWSALB": c.value})
    assert set(ids(alb, req, 20, now=10.0)) == {d.target.id}
    # the sticky target turns unhealthy: a new target, and a new cookie naming it
    g.set_health([d.target.id], False, now=20.0)
    d2 = alb.route(req, 20.0)
    assert d2.target != d.target
    c2 = {x.name: x for x in d2.set_cookies}["AWSALB"]
    assert g.targets[alb.decode_cookie(c2.value)[1]] == d2.target
    # back to healthy: the old cookie sticks again
    g.set_health([d.target.id], True, now=30.0)
    assert alb.route(req, 30.0).target == d.target
    # deregistered (draining): new target
    g.deregister([d.target.id], now=40.0)
    assert {alb.route(req, 41.0).target.id for _ in range(10)}.isdisjoint({d.target.id})
    # expired cookie: ignored (the algorithm picks; fresh expiry in the new cookie)
    req2 = Request(cookies={"AWSALB": c2.value})
    d3 = alb.route(req2, 121.0)
    assert alb.decode_cookie({x.name: x for x in d3.set_cookies}["AWSALB"].value)[2] == 221.0


def test_sticky_requests_count_for_least_outstanding():
    # Sticky requests load their target like any other: least outstanding
    # requests steers new (cookie-less) requests away from it.
    g = sticky_tg(load_balancing_algorithm_type="least_outstanding_requests")
    alb = alb_with(g)
    first = alb.route(Request(), 0.0)
    cookie = {x.name: x for x in first.set_cookies}["AWSALB"].value
    held = [alb.route(Request(cookies={"AWSALB": cookie}), 1.0) for _ in range(5)]
    assert {d.target for d in held} == {first.target}
    assert alb.outstanding("web", first.target.id) == 6
    fresh = [alb.route(Request(), 2.0) for _ in range(9)]
    # 3 other targets, 9 requests: 3 each before the sticky target (6) is least loaded
    assert first.target not in {d.target for d in fresh}
    for d in held + [first] + fresh:
        alb.complete(d)
    assert all(alb.outstanding("web", t.id) == 0 for t in g.targets)


def test_app_cookie_stickiness():
    g = tg("web", 4, stickiness_enabled=True, stickiness_type="app_cookie",
           stickiness_app_cookie_cookie_name="SESSION")
    alb = alb_with(g)
    d = alb.route(Request(), 0.0)
    c = {x.name: x for x in d.set_cookies}["AWSALBAPP-0"]
    with_app = Request(cookies={"AWSALBAPP-0": c.value, "SESSION": "s1"})
    assert set(ids(alb, with_app, 10)) == {d.target.id}
    # without the application cookie the load balancer cookie alone does not stick
    without = Request(cookies={"AWSALBAPP-0": c.value})
    assert len(set(ids(alb, without, 8))) > 1


def test_fail_open_when_all_unhealthy():
    g = tg("web", 4)
    alb = alb_with(g)
    g.set_health([t.id for t in g.targets], False, now=1.0)
    ds = [alb.route(Request(), 1.0) for _ in range(8)]
    assert all(isinstance(d, Forward) and d.fail_open for d in ds)
    assert {d.target.id for d in ds} == {t.id for t in g.targets}
    # draining targets are not part of fail open
    g.deregister(["web-0"], now=2.0)
    assert "web-0" not in {alb.route(Request(), 2.0).target.id for _ in range(8)}
    # one healthy target again: only it gets traffic, fail open ends
    g.set_health(["web-2"], True, now=3.0)
    ds = [alb.route(Request(), 3.0) for _ in range(5)]
    assert {d.target.id for d in ds} == {"web-2"} and not any(d.fail_open for d in ds)


def test_minimum_healthy_targets_fail_open():
    # target_group_health.unhealthy_state_routing.minimum_healthy_targets.count = 2:
    # with one healthy target the ALB routes to every registered target
    g = tg("web", 4, target_group_health_unhealthy_state_routing_minimum_healthy_targets_count=2)
    alb = alb_with(g)
    g.set_health(["web-0", "web-1", "web-2"], False, now=1.0)
    ds = [alb.route(Request(), 1.0) for _ in range(8)]
    assert {d.target.id for d in ds} == {"web-0", "web-1", "web-2", "web-3"}
    assert all(d.fail_open for d in ds)
    g.set_health(["web-0"], True, now=2.0)
    ds = [alb.route(Request(), 2.0) for _ in range(8)]
    assert {d.target.id for d in ds} == {"web-0", "web-3"} and not ds[0].fail_open


def test_no_registered_target_is_503():
    g = tg("web", 1)
    alb = alb_with(g)
    g.deregister(["web-0"], now=0.0)
    g.advance(400.0)
    d = alb.route(Request(), 400.0)
    assert isinstance(d, FixedResponse) and d.status_code == 503


def test_cross_zone_target_group_override():
    on = tg("on", 4)                                           # uses the ALB setting: on
    off = tg("off", 4, load_balancing_cross_zone_enabled="false")
    alb = ApplicationLoadBalancer([on, off])
    alb.add_listener(80, default_actions=fwd("on"), rules=[
        {"Priority": "1", "Conditions": [{"Field": "path-pattern", "Values": ["/off"]}],
         "Actions": fwd("off")}])
    zones_on = {alb.route(Request(), 0.0, zone="az-a").target.availability_zone
                for _ in range(8)}
    assert zones_on == {"az-a", "az-b"}
    zones_off = {alb.route(Request(target="/off"), 0.0, zone="az-a").target.availability_zone
                 for _ in range(8)}
    assert zones_off == {"az-a"}


def test_route_validation():
    alb = alb_with(tg("web"))
    with pytest.raises(TypeError, match="request"):
        alb.route("GET /", 0.0)
    with pytest.raises(ValueError, match="request.port"):
        alb.route(Request(port=8080), 0.0)
    with pytest.raises(ValueError, match="now"):
        alb.route(Request(), float("nan"))
    with pytest.raises(ValueError, match="port"):
        alb.add_listener(80, default_actions=fwd("web"))
    with pytest.raises(ValueError, match="protocol"):
        ApplicationLoadBalancer([TargetGroup([], protocol="TCP", name="t")])


# ------------------------------------------------------------------ Classic LB
def clb(**kw):
    inst = [Target(f"i-{k}", "az-a" if k < 2 else "az-b") for k in range(4)]
    return ClassicLoadBalancer(inst, [
        {"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP", "InstancePort": 22},
        {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
         "InstancePort": 8080}], healthy=True, **kw)


def test_clb_tcp_round_robin_and_cross_zone_off_by_default():
    lb = clb()
    got = [lb.route(None, 0.0, port=22, zone="az-a").target.id for _ in range(4)]
    assert got == ["i-0", "i-1", "i-0", "i-1"]                # only the node's zone
    lb = clb(cross_zone=True)
    got = [lb.route(None, 0.0, port=22, zone="az-a").target.id for _ in range(4)]
    assert got == ["i-0", "i-1", "i-2", "i-3"]


def test_clb_http_least_outstanding():
    lb = clb(cross_zone=True)
    held = [lb.route(Request(), 0.0) for _ in range(4)]
    assert sorted(d.target.id for d in held) == ["i-0", "i-1", "i-2", "i-3"]
    lb.complete(held[2])
    assert lb.route(Request(), 0.0).target == held[2].target


def test_clb_stickiness_http_only():
    with pytest.raises(ValueError, match="HTTP/HTTPS listener"):
        clb(stickiness={22: {"type": "lb_cookie", "expiration": 60}})
    lb = clb(cross_zone=True, stickiness={80: {"type": "lb_cookie", "expiration": None}})
    d = lb.route(Request(), 0.0)
    c = d.set_cookies[0]
    assert c.name == "AWSELB" and c.max_age is None            # browser-session cookie
    req = Request(cookies={"AWSELB": c.value})
    assert {lb.route(req, 1e6).target for _ in range(5)} == {d.target}
    lb.instances.set_health([d.target.id], False, now=2e6)
    assert lb.route(req, 2e6).target != d.target


def test_clb_app_cookie_and_no_fail_open():
    lb = clb(cross_zone=True, stickiness={80: {"type": "app_cookie", "cookie_name": "JSESSIONID"}})
    d = lb.route(Request(), 0.0)
    req = Request(cookies={"AWSELB": d.set_cookies[0].value, "JSESSIONID": "x"})
    assert {lb.route(req, 1.0).target for _ in range(5)} == {d.target}
    lb.instances.set_health([t.id for t in lb.instances.targets], False, now=2.0)
    r = lb.route(Request(), 2.0)
    assert isinstance(r, FixedResponse) and r.status_code == 503


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["up", "down", "dereg", "reg"])),
                max_size=12),
       st.sampled_from(["round_robin", "weighted_random", "least_outstanding_requests"]))
def test_stickiness_follows_health(changes, algorithm):
    """A valid AWSALB cookie keeps its target exactly while that target is eligible
    (healthy, or registered during fail open); otherwise a new target and a cookie
    naming it."""
    g = tg("web", 4, stickiness_enabled=True, load_balancing_algorithm_type=algorithm,
           deregistration_delay_timeout_seconds=0)
    alb = alb_with(g)
    d = alb.route(Request(), 0.0)
    cookie = d.set_cookies[0].value
    now = 1.0
    for i, op in changes:
        tid = f"web-{i}"
        state = g.state(tid)
        if op == "up" and state in ("healthy", "unhealthy", "initial"):
            g.set_health([tid], True, now=now)
        elif op == "down" and state in ("healthy", "unhealthy", "initial"):
            g.set_health([tid], False, now=now)
        elif op == "dereg" and state in ("healthy", "unhealthy", "initial"):
            g.deregister([tid], now=now)
        elif op == "reg" and state in ("unused", "draining"):
            g.register([Target(tid, "az-a")], now=now, healthy=True)
        states = g.states()
        sticky_id = g.targets[alb.decode_cookie(cookie)[1]].id
        healthy = {t for t, s in states.items() if s == "healthy"}
        registered = {t for t, s in states.items() if s in ("healthy", "unhealthy", "initial")}
        eligible = healthy or registered
        r = alb.route(Request(cookies={"AWSALB": cookie}), now)
        if not eligible:
            assert isinstance(r, FixedResponse) and r.status_code == 503
        else:
            assert r.target.id in eligible
            assert (r.target.id == sticky_id) is (sticky_id in eligible)
            assert g.targets[alb.decode_cookie(r.set_cookies[0].value)[1]] == r.target
            cookie = r.set_cookies[0].value
            alb.complete(r)
        now += 1.0


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 999), min_size=2, max_size=5).filter(any))
def test_weighted_forward_shares_any_weights(weights):
    groups = [tg(f"g{i}", 1) for i in range(len(weights))]
    act = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": f"g{i}", "Weight": w} for i, w in enumerate(weights)]}}]
    alb = alb_with(*groups, default=act, seed=11)
    n = 6000
    cnt = Counter(alb.route(Request(), 0.0).target_group.name for _ in range(n))
    total = sum(weights)
    for i, w in enumerate(weights):
        p = w / total
        sd = (p * (1 - p) / n) ** 0.5
        assert abs(cnt[f"g{i}"] / n - p) <= 5 * sd + 1e-12     # weight 0: never


@pytest.mark.parametrize("slow_start", [0, 30])
def test_plain_forward_makes_few_python_calls(slow_start):
    """The per-request path a proxy pays for most (one target group, no stickiness):
    route is route -> TargetGroupPools.forward -> TargetGroup.advance -> the Forward,
    complete is two calls (the ALB's, which takes an outcome, and the release); the
    selector calls are C. Counted, not timed."""
    import sys
    tg = TargetGroup([Target(f"i-{k}", "az-a") for k in range(4)], protocol="HTTP",
                     name="web", healthy=True, now=0.0,
                     slow_start_duration_seconds=slow_start)
    alb = ApplicationLoadBalancer([tg], seed=1)
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    req = Request("GET", "/", host="a.example")
    alb.complete(alb.route(req, 0.5))           # builds the pool
    calls = []

    def hook(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)
    out = {}
    import gc
    gc.disable()          # a collection would show the gc callbacks a library registered
    sys.setprofile(hook)
    try:
        out["d"] = alb.route(req, 1.0)
        alb.complete(out["d"])
    finally:
        sys.setprofile(None)
        gc.enable()
    # complete: the ALB's (which takes the outcome) and the one in _decisions
    assert calls == ["route", "forward", "advance", "forward", "complete", "complete"], calls
    assert out["d"].completed and out["d"].set_cookies == ()
    assert alb.outstanding("web", out["d"].target.id) == 0
