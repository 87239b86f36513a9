"""The policy layer's shared rules: ``now`` comes from the caller or the object's
injected clock (never a silent default); one decision type for NLB and GWLB; the
health-check names and the order of ``observe``; the names kept for one release."""
import importlib
import sys
import warnings

import pytest

import lbcore
from lbcore.apigateway import ApiGateway, QuotaSettings
from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, FixedResponse, Forward,
                        GatewayLoadBalancer, HealthCheckSettings, L4Decision,
                        NetworkLoadBalancer, Request, SetCookie, Target, TargetGroup)
from lbcore.route53 import (AliasTarget, CalculatedHealthCheck, Client, HealthCheck,
                            HostedZone, RecordSet)


class Clock:
    """A clock that counts its reads."""

    def __init__(self, t=100.0):
        self.t, self.reads = t, 0

    def __call__(self):
        self.reads += 1
        return self.t


def flow(port=80):
    return lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1234, port)


def http_tg(clock=None, **kw):
    return TargetGroup([Target("a", "az-a"), Target("b", "az-b")], protocol="HTTP", name="web",
                       healthy=True, clock=clock, **kw)


def alb(clock=None, **kw):
    lb = ApplicationLoadBalancer([http_tg(**kw)], clock=clock)
    lb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    return lb


# ------------------------------------------------------------------ the clock rule

def test_alb_reads_its_clock_only_when_now_is_omitted():
    c = Clock(5.0)
    lb = alb(c)
    lb.complete(lb.route(Request()))
    assert c.reads == 1
    lb.complete(lb.route(Request(), 6.0))         # given: the clock is not read
    assert c.reads == 1
    c.t = 5.5                                     # the clock must not go back either
    with pytest.raises(ValueError, match="now"):
        lb.route(Request())


def test_default_clock_is_monotonic():
    import time
    for obj in (ApplicationLoadBalancer([http_tg()]), TargetGroup(), NetworkLoadBalancer(["a"]),
                GatewayLoadBalancer(["a"]), HostedZone("example.com"), HealthCheck(),
                ClassicLoadBalancer([Target("i", "a")], {"Protocol": "TCP",
                                                         "LoadBalancerPort": 80})):
        assert obj.clock is time.monotonic
    assert ApiGateway().utc_clock is time.time     # calendar time: quotas are UTC periods


def test_clock_must_be_callable():
    for make in (lambda c: TargetGroup(clock=c), lambda c: ApplicationLoadBalancer(
            [http_tg()], clock=c), lambda c: HostedZone("example.com", clock=c),
            lambda c: HealthCheck(clock=c), lambda c: NetworkLoadBalancer(["a"], clock=c)):
        with pytest.raises(TypeError, match="clock"):
            make(1.0)
    with pytest.raises(TypeError, match="utc_clock"):
        ApiGateway(utc_clock=1.0)


def test_clb_route_has_no_silent_default_time():
    c = Clock(50.0)
    clb = ClassicLoadBalancer([Target("i-1", "a")], {"Protocol": "TCP", "LoadBalancerPort": 80},
                              healthy=True, clock=c)
    d = clb.route()                               # was now=0.0; now the clock
    assert isinstance(d, Forward) and c.reads >= 1
    clb.complete(d)
    with pytest.raises(ValueError, match="now"):
        clb.route(now=0.0)                        # 0.0 is before the clock's 50.0
    clb.route(now=60.0)


def test_target_group_methods_read_the_clock():
    c = Clock(10.0)
    tg = TargetGroup([Target("a", "z")], protocol="TCP", clock=c,
                     deregistration_delay_timeout_seconds=5)
    assert c.reads == 0                            # constructor targets: before any time
    assert tg.now == float("-inf")
    tg.observe("a", True)
    assert tg.now == 10.0 and c.reads == 1
    tg.deregister("a")
    assert tg.state("a") == "draining"
    c.t = 16.0
    tg.advance()
    assert tg.state("a") == "unused"
    reads = c.reads
    tg.states(), tg.has_healthy(), tg.is_empty()   # queries do not read the clock
    assert c.reads == reads


def test_l4_load_balancers_read_their_clock():
    for make in (lambda c: _nlb(c), lambda c: GatewayLoadBalancer(
            ["A"], TargetGroup([Target("g", "A")], protocol="GENEVE", healthy=True), clock=c)):
        c = Clock(3.0)
        lb = make(c)
        d = lb.route(flow())
        assert d.target is not None and c.reads == 1
        assert lb.is_healthy() and c.reads == 2
        assert lb.nodes_in_dns() == ["A"] and c.reads == 3
        lb.route(flow(), 4.0)
        assert c.reads == 3


def _nlb(clock):
    lb = NetworkLoadBalancer(["A"], clock=clock)
    lb.add_listener("TCP", 80, TargetGroup([Target("t", "A")], protocol="TCP", healthy=True))
    return lb


def test_hosted_zone_resolve_has_no_silent_default_time():
    c = Clock(100.0)
    hc = HealthCheck("h", failure_threshold=1)
    zone = HostedZone("example.com", [
        RecordSet("www.example.com", "A", ["192.0.2.1"], ttl=60, failover="PRIMARY",
                  set_identifier="p", health_check=hc),
        RecordSet("www.example.com", "A", ["192.0.2.2"], ttl=60, failover="SECONDARY",
                  set_identifier="s")], clock=c)
    hc.observe(False, now=50.0)                   # unhealthy from t = 50
    assert zone.resolve("www.example.com", "A").values == ("192.0.2.2",)   # at the clock's 100
    assert c.reads == 1
    assert zone.resolve("www.example.com", "A", now=10.0).values == ("192.0.2.1",)
    assert zone.resolve_many("www.example.com", "A", [Client()]).choice.tolist() == [1]
    assert c.reads == 2


def test_health_checks_read_their_clock():
    c = Clock(20.0)
    hc = HealthCheck(failure_threshold=1, clock=c)
    hc.observe(False)                             # at 20
    assert not hc.is_healthy() and hc.is_healthy(19.0)
    assert hc.next_check_time() == 50.0
    calc = CalculatedHealthCheck([hc], 1, clock=c)
    assert not calc.is_healthy() and calc.is_healthy(10.0)


def test_api_gateway_time_is_utc_from_its_clock():
    day = 86400.0
    c = Clock(10 * day + 5)
    g = ApiGateway(utc_clock=c)
    g.add_stage("api", "prod")
    g.add_usage_plan("p", api_stages=[("api", "prod")], quota=QuotaSettings(2, "DAY"))
    g.add_api_key("k", "p")
    assert g.check("k", "/x", "GET").allowed and g.check("k", "/x", "GET").allowed
    assert g.check("k", "/x", "GET").reason == "QUOTA_EXCEEDED"
    assert g.quota_remaining("k") == 0 and c.reads == 4
    c.t = 11 * day                                 # the next UTC day: a new quota period
    assert g.check("k", "/x", "GET").allowed and g.quota_remaining("k") == 1
    with pytest.raises(TypeError, match="now"):
        g.check("k", "/x", "GET", "soon")


# ------------------------------------------------------------------ decisions

def test_nlb_and_gwlb_return_one_decision_type():
    nlb = _nlb(None)
    gw = GatewayLoadBalancer(["A"], TargetGroup([Target("g", "A")], protocol="GENEVE",
                                                healthy=True))
    a, b = nlb.route(flow(), 1.0), gw.route(flow(), 1.0)
    assert isinstance(a, L4Decision) and isinstance(b, L4Decision)
    assert (a.target.id, a.node, a.dropped) == ("t", "A", False)
    assert (b.target.id, b.node, b.dropped) == ("g", "A", False)
    target, node, dropped = b                     # the GWLB's 3-tuple shape is the decision's
    assert target is b.target
    with pytest.raises(AttributeError):
        a.target = None                           # immutable
    miss = nlb.route(flow(port=81), 1.0)
    assert miss == L4Decision(None, None, False) and miss.target is None


def test_nlb_decision_unpacks_as_the_old_pair_with_a_warning():
    d = _nlb(None).route(flow(), 1.0)
    with pytest.warns(DeprecationWarning, match="L4Decision"):
        target, node = d
    assert (target.id, node) == ("t", "A")
    with pytest.warns(DeprecationWarning):
        assert len(d) == 2
    with pytest.warns(DeprecationWarning):
        assert _nlb(None).route(flow(port=81), 1.0) == (None, None)
    assert d[0] is d.target and d[1] == "A"        # indexing works without a warning


def test_set_cookie_header_value():
    assert SetCookie("AWSALB", "abc", 60).header_value() == "AWSALB=abc; Path=/; Max-Age=60"
    assert SetCookie("AWSELB", "x", None).header_value() == "AWSELB=x; Path=/"
    lb = ApplicationLoadBalancer([http_tg(stickiness_enabled=True)])
    lb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    d = lb.route(Request(), 1.0)
    (c,) = d.set_cookies
    # the AWSALB cookie expires after a fixed 7 days (ALB guide, sticky sessions)
    assert c.header_value() == f"AWSALB={c.value}; Path=/; Max-Age=604800"


def test_forward_completes_once():
    lb = alb()
    d = lb.route(Request(), 1.0)
    assert d.leased and not d.completed
    lb.complete(d)
    assert d.completed and not d.leased
    with pytest.raises(ValueError, match="already completed"):
        lb.complete(d)
    with pytest.raises(ValueError, match="not made by a load balancer"):
        lb.complete(Forward(d.target_group, d.target))
    lb.complete(FixedResponse(404))               # nothing to end


# ------------------------------------------------------------------ health check names

def test_health_check_names_are_distinct_and_observe_orders_agree():
    assert HealthCheckSettings is not HealthCheck
    tg = TargetGroup([Target("t", "z")], protocol="TCP",
                     health_check=HealthCheckSettings("TCP", healthy_threshold_count=2))
    hc = HealthCheck(failure_threshold=1)
    # subject (a target of the group / the check itself), then ok, then now
    assert tg.observe("t", True, now=1.0) == "initial"
    assert tg.observe("t", True, now=2.0) == "healthy"
    hc.observe(False, now=1.0)
    assert not hc.is_healthy(1.0)


def test_route53_observe_old_order_warns():
    hc = HealthCheck(failure_threshold=1)
    with pytest.warns(DeprecationWarning, match="observe"):
        hc.observe(5.0, False)                    # (now, ok): the order before
    assert not hc.is_healthy(5.0) and hc.is_healthy(4.0)
    with pytest.raises(TypeError):
        hc.observe(True, False, now=1.0)


def test_elb_health_check_old_name_warns():
    import lbcore.elb
    with pytest.warns(DeprecationWarning, match="HealthCheckSettings"):
        old = lbcore.elb.HealthCheck
    assert old is HealthCheckSettings
    with pytest.warns(DeprecationWarning):
        from lbcore.elb import HealthCheck as old2       # noqa: F401
    with pytest.raises(AttributeError):
        lbcore.elb.NoSuchThing


@pytest.mark.parametrize("old, name", [
    ("alb", "ApplicationLoadBalancer"), ("clb", "ClassicLoadBalancer"),
    ("request", "Forward"), ("rules", "RuleSet"), ("targets", "HealthCheck"),
    ("zones", "node_pools")])
def test_old_elb_module_paths_warn(old, name):
    mod = f"lbcore.elb.{old}"
    sys.modules.pop(mod, None)
    with pytest.warns(DeprecationWarning, match=mod):
        m = importlib.import_module(mod)
    assert hasattr(m, name)


def test_package_namespaces_hold_every_public_name():
    import lbcore.apigateway
    import lbcore.elb
    import lbcore.route53
    for pkg in (lbcore.elb, lbcore.route53, lbcore.apigateway):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for name in pkg.__all__:
                assert getattr(pkg, name) is not None, (pkg.__name__, name)
        assert len(set(pkg.__all__)) == len(pkg.__all__)


def test_latency_record_without_client_answers_first_record():
    zone = HostedZone("example.com", [
        RecordSet("l.example.com", "A", ["192.0.2.1"], ttl=60, region="us-east-1",
                  set_identifier="e"),
        RecordSet("l.example.com", "A", ["192.0.2.2"], ttl=60, region="eu-west-1",
                  set_identifier="w")])
    assert zone.resolve("l.example.com", "A", None, 0.0).values == ("192.0.2.1",)


def test_alias_target_protocol_gets_the_zone_time():
    seen = []

    class Target_:
        def is_healthy(self, now):
            seen.append(now)
            return True
    zone = HostedZone("example.com", [
        RecordSet("a.example.com", "A", alias=AliasTarget("lb.example.net", True,
                                                          target=Target_()),
                  failover="PRIMARY", set_identifier="p"),
        RecordSet("a.example.com", "A", ["192.0.2.9"], ttl=60, failover="SECONDARY",
                  set_identifier="s")], clock=Clock(7.0))
    zone.resolve("a.example.com", "A")
    assert seen == [7.0]


def test_l4_decisions_are_shared_and_follow_rebuilds():
    tg = TargetGroup([Target("t", "A", port=1)], protocol="TCP", healthy=True)
    lb = NetworkLoadBalancer(["A"])
    lb.add_listener("TCP", 80, tg)
    a, b = lb.route(flow(), 1.0), lb.route(flow(), 2.0)
    assert a is b                                  # immutable: one object per outcome
    tg.deregister("t", now=3.0)
    tg.register(Target("t", "A", port=2), now=4.0, healthy=True)
    c = lb.route(lbcore.Flow("tcp", "10.0.0.9", "10.0.0.2", 99, 80), 5.0)
    assert c.target.port == 2 and a.target.port == 1
