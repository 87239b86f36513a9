"""Health-check limits AWS documents (issue 18): a golden reject and a nearby accept."""
import pytest

from lbcore.elb import ClassicLoadBalancer, HealthCheckSettings, Target


def test_gwlb_timeout_may_equal_interval():
    # GWLB guide, health checks: the interval must be >= the timeout
    assert HealthCheckSettings("GENEVE", interval_seconds=10, timeout_seconds=10).timeout_seconds == 10
    with pytest.raises(ValueError, match="timeout_seconds"):
        HealthCheckSettings("TCP", interval_seconds=10, timeout_seconds=10)


def test_clb_timeout_at_most_60():
    # botocore elb HealthCheckTimeout: 2..60
    lst = {"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP",
           "InstancePort": 80}
    ok = HealthCheckSettings("TCP", interval_seconds=120, timeout_seconds=60)
    ClassicLoadBalancer([Target("i-1", "a")], lst, health_check=ok)
    bad = HealthCheckSettings("TCP", interval_seconds=120, timeout_seconds=61)
    with pytest.raises(ValueError, match="health_check.timeout_seconds"):
        ClassicLoadBalancer([Target("i-1", "a")], lst, health_check=bad)
