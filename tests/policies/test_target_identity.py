"""Target identity is (Id, Port) as in elbv2 RegisterTargets ("Port: the port on which
the target is listening"; the same instance or IP can be registered on several ports),
and the loaders from describe_target_groups / describe_target_health outputs."""
from __future__ import annotations

import pytest

from lbcore.elb import ApplicationLoadBalancer, Request, Target, TargetGroup

A, B = Target("127.0.0.1", "all", 8001), Target("127.0.0.1", "all", 8002)


def test_same_ip_two_ports_are_two_targets():
    tg = TargetGroup([A, B], protocol="HTTP", port=80, healthy=True)
    assert len(tg) == 2
    assert tg.index_of(("127.0.0.1", 8001)) == 0 and tg.index_of(B) == 1
    assert tg.states() == {("127.0.0.1", 8001): "healthy", ("127.0.0.1", 8002): "healthy"}
    with pytest.raises(KeyError, match="several ports"):
        tg.index_of("127.0.0.1")
    tg.observe(("127.0.0.1", 8002), False, now=1.0)
    tg.observe(("127.0.0.1", 8002), False, now=2.0)
    assert tg.state(("127.0.0.1", 8002)) == "unhealthy"
    assert tg.state(("127.0.0.1", 8001)) == "healthy"
    alb = ApplicationLoadBalancer({"tg": tg})
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "tg"}])
    assert {alb.route(Request(), now=3.0).target.port for _ in range(4)} == {8001}


def test_same_key_twice_is_still_rejected():
    with pytest.raises(ValueError, match="port 8001 given twice"):
        TargetGroup([A, Target("127.0.0.1", "all", 8001)], protocol="HTTP")
    # a port of None is the group's port: the same key as an explicit port 80
    with pytest.raises(ValueError, match="given twice"):
        TargetGroup([Target("i-1", "a"), Target("i-1", "a", 80)], protocol="HTTP", port=80)


def test_single_id_construction_unchanged():
    tg = TargetGroup([Target("i-1", "a"), Target("i-2", "b")], protocol="HTTP")
    assert tg.index_of("i-2") == 1
    assert tg.states() == {"i-1": "initial", "i-2": "initial"}
    tg.deregister("i-1", now=0.0)
    assert tg.state("i-1") == "draining"
    tg.register(Target("i-1", "a"), now=1.0)          # registered again on the same key
    assert len(tg) == 2 and tg.state("i-1") == "initial"


def test_old_target_on_another_port_does_not_make_the_id_ambiguous():
    tg = TargetGroup([A], protocol="HTTP", deregistration_delay_timeout_seconds=0, now=0.0)
    tg.deregister("127.0.0.1", now=1.0)
    tg.register(B, now=2.0)
    assert tg.index_of("127.0.0.1") == 1               # the one registered target


DESCRIBED = {
    "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1",
    "TargetGroupName": "web", "Protocol": "HTTP", "Port": 80, "TargetType": "ip",
    "HealthCheckProtocol": "HTTP", "HealthCheckPort": "traffic-port",
    "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2,
    "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 4, "HealthCheckPath": "/health",
    "Matcher": {"HttpCode": "200"},
}
HEALTH = {"TargetHealthDescriptions": [
    {"Target": {"Id": "127.0.0.1", "Port": 8001}, "TargetHealth": {"State": "healthy"}},
    {"Target": {"Id": "127.0.0.1", "Port": 8002, "AvailabilityZone": "us-east-1a"},
     "TargetHealth": {"State": "unhealthy", "Reason": "Target.FailedHealthChecks"}},
    {"Target": {"Id": "127.0.0.1", "Port": 8003}, "TargetHealth": {"State": "initial"}},
    {"Target": {"Id": "127.0.0.1", "Port": 8004}, "TargetHealth": {"State": "draining"}},
    {"Target": {"Id": "127.0.0.1", "Port": 8005}, "TargetHealth": {"State": "unused"}},
]}


def test_from_aws_loads_settings_targets_and_states():
    tg = TargetGroup.from_aws(DESCRIBED, HEALTH, now=10.0,
                              attributes=[{"Key": "stickiness.enabled", "Value": "true"}])
    assert (tg.name, tg.protocol, tg.port) == ("web", "HTTP", 80)
    hc = tg.health_check
    assert (hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold_count,
            hc.unhealthy_threshold_count) == (5, 2, 3, 4)
    assert tg.stickiness_enabled
    assert tg.states() == {("127.0.0.1", 8001): "healthy", ("127.0.0.1", 8002): "unhealthy",
                           ("127.0.0.1", 8003): "initial", ("127.0.0.1", 8004): "draining"}
    assert tg.target(0).availability_zone == "all"
    assert tg.target(1).availability_zone == "us-east-1a"
    # the list form (TargetHealthDescriptions alone) loads the same
    same = TargetGroup.from_aws(DESCRIBED, HEALTH["TargetHealthDescriptions"], now=10.0)
    assert same.states() == tg.states()


def test_from_aws_bad_input_names_the_field():
    with pytest.raises(TypeError, match="target_group"):
        TargetGroup.from_aws([])                                  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target_group.Protocol"):
        TargetGroup.from_aws({"TargetGroupName": "x"})
    with pytest.raises(ValueError, match="interval_seconds"):
        TargetGroup.from_aws({"Protocol": "HTTP", "HealthCheckIntervalSeconds": 1})
    with pytest.raises(ValueError, match=r"target_health\[0\].TargetHealth.State"):
        TargetGroup.from_aws(DESCRIBED, [{"Target": {"Id": "x"},
                                          "TargetHealth": {"State": "sleepy"}}])
    with pytest.raises(ValueError, match=r"target_health\[0\].Target: port"):
        TargetGroup.from_aws(DESCRIBED, [{"Target": {"Id": "x", "Port": 0}}])
