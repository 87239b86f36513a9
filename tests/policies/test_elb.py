"""lbcore.elb: attributes, health, AZs/DNS, NLB and GWLB behaviour against what
the ELB guides and the botocore elbv2 model document."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore.elb import (GatewayLoadBalancer, HealthCheckSettings, L4Decision,
                        NetworkLoadBalancer, Target, TargetGroup)
from reference.elb_health_ref import state_at
from _strategies import FakeFlows


def tcp_flows(n, seed, port=80, protocols=(6,)):
    f = lbcore.Flows.random(n, seed=seed, protocols=protocols)
    seq = np.where(f.flags & 2, f.seq.astype(np.int64), -1)
    return lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, port, seq)


def zone_targets(spec, port=None):
    return [Target(f"{az}{i}", az, port=port) for az, k in spec for i in range(k)]


# ----------------------------------------------------------------- attributes
def test_attributes_api_list_and_kwargs_agree():
    api = [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
           {"Key": "stickiness.enabled", "Value": "true"},
           {"Key": "stickiness.type", "Value": "source_ip"},
           {"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
           {"Key": "target_health_state.unhealthy.connection_termination.enabled",
            "Value": "false"}]
    a = TargetGroup(protocol="TCP", attributes=api)
    b = TargetGroup(protocol="TCP", deregistration_delay_timeout_seconds=30,
                    stickiness_enabled=True, stickiness_type="source_ip",
                    load_balancing_cross_zone_enabled="true",
                    target_health_state_unhealthy_connection_termination_enabled=False)
    assert a.attributes == b.attributes
    assert a.deregistration_delay == 30.0 and a.stickiness_enabled and a.cross_zone is True
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in a.attribute_list()


def test_attribute_defaults_from_botocore():
    tcp = TargetGroup(protocol="TCP")
    assert tcp.attributes["deregistration_delay.timeout_seconds"] == "300"
    assert tcp.attributes["stickiness.enabled"] == "false"
    assert tcp.attributes["load_balancing.cross_zone.enabled"] == "use_load_balancer_configuration"
    assert tcp.attributes["target_health_state.unhealthy.connection_termination.enabled"] == "true"
    assert tcp.attributes["deregistration_delay.connection_termination.enabled"] == "false"
    udp = TargetGroup(protocol="UDP")
    assert udp.attributes["target_health_state.unhealthy.connection_termination.enabled"] == "false"
    assert udp.attributes["deregistration_delay.connection_termination.enabled"] == "true"
    gw = TargetGroup(protocol="GENEVE")
    assert gw.attributes["target_failover.on_unhealthy"] == "no_rebalance"
    assert gw.attributes["target_failover.on_deregistration"] == "no_rebalance"
    assert "load_balancing.cross_zone.enabled" not in gw.attributes
    hc = HealthCheckSettings("GENEVE")
    assert (hc.interval_seconds, hc.timeout_seconds) == (10, 5)
    hc = HealthCheckSettings("TCP")
    assert (hc.interval_seconds, hc.healthy_threshold_count, hc.unhealthy_threshold_count) == (30, 5, 2)


@pytest.mark.parametrize("protocol, kwargs, match", [
    ("TCP", {"attributes": [{"Key": "no.such.key", "Value": "1"}]}, "no.such.key"),
    ("TCP", {"deregistration_delay_timeout_seconds": 3601}, "deregistration_delay.timeout_seconds"),
    ("TCP", {"deregistration_delay_timeout_seconds": -1}, "deregistration_delay.timeout_seconds"),
    ("TCP", {"attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "1.5"}]},
     "deregistration_delay.timeout_seconds"),
    ("TCP", {"stickiness_enabled": "yes"}, "stickiness.enabled"),
    ("TCP", {"stickiness_type": "lb_cookie"}, "stickiness.type"),
    ("GENEVE", {"stickiness_type": "source_ip"}, "stickiness.type"),
    ("HTTP", {"stickiness_type": "source_ip"}, "stickiness.type"),
    ("TCP", {"load_balancing_cross_zone_enabled": "maybe"}, "load_balancing.cross_zone.enabled"),
    ("GENEVE", {"target_failover_on_unhealthy": "rebalance"}, "target_failover"),
    ("GENEVE", {"target_failover_on_unhealthy": "sometimes",
                "target_failover_on_deregistration": "sometimes"}, "target_failover.on_"),
    ("TCP", {"target_failover_on_unhealthy": "rebalance"}, "target_failover.on_unhealthy"),
    ("GENEVE", {"load_balancing_cross_zone_enabled": "true"}, "load_balancing.cross_zone.enabled"),
    ("UDP", {"target_health_state_unhealthy_connection_termination_enabled": "true"},
     "connection_termination"),
    ("HTTP", {"slow_start_duration_seconds": 10}, "slow_start.duration_seconds"),
    ("TCP", {"target_group_health_dns_failover_minimum_healthy_targets_percentage": "101"},
     "percentage"),
    ("TCP", {"attributes": [{"Key": "stickiness.enabled", "Value": True}]}, "stickiness.enabled"),
])
def test_attribute_rejections_name_the_key(protocol, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match.replace(".", r"\.")):
        TargetGroup(protocol=protocol, **kwargs)


def test_other_validation():
    with pytest.raises(TypeError, match="bogus_kw"):
        TargetGroup(protocol="TCP", bogus_kw=1)
    with pytest.raises(ValueError, match="protocol"):
        TargetGroup(protocol="SCTP")
    with pytest.raises(ValueError, match="interval_seconds"):
        HealthCheckSettings("TCP", interval_seconds=4)
    with pytest.raises(ValueError, match="healthy_threshold_count"):
        HealthCheckSettings("TCP", healthy_threshold_count=11)
    with pytest.raises(ValueError, match="timeout_seconds"):
        HealthCheckSettings("TCP", interval_seconds=10, timeout_seconds=10)
    with pytest.raises(ValueError, match="availability_zone"):
        Target("i-1", "")
    with pytest.raises(ValueError, match="weight"):
        Target("i-1", "a", weight=float("nan"))
    with pytest.raises(ValueError, match="port"):
        Target("i-1", "a", port=0)
    with pytest.raises(ValueError, match="tcp.idle_timeout.seconds"):
        NetworkLoadBalancer(["a"]).add_listener("TCP", 80, TargetGroup(protocol="TCP"),
                                                tcp_idle_timeout_seconds=59)
    with pytest.raises(ValueError, match="availability_zones"):
        NetworkLoadBalancer([])
    with pytest.raises(ValueError, match="dns_record.client_routing_policy"):
        NetworkLoadBalancer(["a"], dns_record_client_routing_policy="nearest")
    nlb = NetworkLoadBalancer(["a"])
    with pytest.raises(ValueError, match="target_group"):
        nlb.add_listener("TCP", 80, TargetGroup(protocol="GENEVE"))
    with pytest.raises(ValueError, match="protocol"):
        nlb.add_listener("HTTP", 80, TargetGroup(protocol="TCP"))
    nlb.add_listener("TCP_UDP", 53, TargetGroup(protocol="TCP_UDP"))
    with pytest.raises(ValueError, match="port"):
        nlb.add_listener("UDP", 53, TargetGroup(protocol="UDP"))
    with pytest.raises(ValueError, match="node"):
        nlb.route(lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1, 53), 0.0, node="zz")
    with pytest.raises(TypeError, match="flow"):
        nlb.route(("tcp",), 0.0)
    with pytest.raises(ValueError, match="times"):
        nlb.route_many(tcp_flows(3, 0, port=53), [0.0, 1.0])
    with pytest.raises(ValueError, match="table_size"):
        NetworkLoadBalancer(["a"], table_size=1000)
    tg = TargetGroup(zone_targets([("a", 1)]), protocol="TCP", now=0.0)
    tg.observe("a0", True, now=-1.0)    # a check that started earlier: recorded
    assert tg.now == 0.0
    with pytest.raises(ValueError, match="now"):
        tg.advance(-5.0)
    with pytest.raises(ValueError, match="already registered"):
        tg.register([Target("a0", "a")], now=0.0)
    with pytest.raises(KeyError, match="nope"):
        tg.deregister("nope", now=0.0)


# ----------------------------------------------------------------- health
events_st = st.lists(st.one_of(
    st.tuples(st.just("check"), st.floats(0, 5), st.booleans()),
    st.tuples(st.just("register"), st.floats(0, 5), st.booleans()),
    st.tuples(st.just("deregister"), st.floats(0, 5))), max_size=40)


@settings(max_examples=200, deadline=None)
@given(events=events_st, healthy=st.integers(2, 10), unhealthy=st.integers(2, 10),
       delay=st.integers(0, 10), protocol=st.sampled_from(["TCP", "HTTP"]))
def test_health_state_machine_matches_reference(events, healthy, unhealthy, delay, protocol):
    # one target "t": replay the events in time order through TargetGroup and compare
    # the state after every event with the reference replay (an HTTP target group's
    # initial target is healthy after one passed check, a TCP one's after the threshold)
    events = [("register", 0.0, False)] + sorted(events, key=lambda e: e[1])
    hc = HealthCheckSettings(protocol, healthy_threshold_count=healthy,
                             unhealthy_threshold_count=unhealthy)
    tg = TargetGroup(protocol=protocol, health_check=hc,
                     deregistration_delay_timeout_seconds=delay)
    first = 1 if protocol == "HTTP" else healthy
    for i, ev in enumerate(events):
        kind, t = ev[0], ev[1]
        try:
            if kind == "register":
                tg.register([Target("t", "az")], now=t, healthy=ev[2])
            elif kind == "deregister":
                tg.deregister("t", now=t)
            else:
                tg.observe("t", ev[2], now=t)
        except ValueError:
            pass   # rejected as the API would (already registered / not registered)
        want = state_at(events[:i + 1], t, healthy, unhealthy, delay, first)
        assert tg.state("t", t) == want
    later = events[-1][1] + 11
    assert tg.state("t", later) == state_at(events, later, healthy, unhealthy, delay, first)


def test_health_thresholds_and_timeout_and_due():
    tg = TargetGroup([Target("x", "a")], protocol="TCP")     # healthy 5, unhealthy 2
    assert tg.state("x") == "initial"
    for k in range(4):
        assert tg.observe("x", True, now=30.0 * k) == "initial"
    assert tg.observe("x", True, now=120.0) == "healthy"
    assert tg.observe("x", True, now=150.0, latency=11.0) == "healthy"   # 1 failure (timeout 10)
    assert tg.observe("x", False, now=180.0) == "unhealthy"
    assert tg.due(195.0) == [] and tg.due(210.0) == ["x"]
    v = tg.version
    tg.deregister("x", now=211.0)
    assert tg.version > v and tg.state("x", 300.0) == "draining"
    assert tg.state("x", 511.0) == "unused"
    assert tg.observe("x", True, now=512.0) == "unused"


# ----------------------------------------------------------------- AZs, DNS, NLB
def test_cross_zone_worked_example():
    """ELB user guide, "How Elastic Load Balancing works" (cross-zone load balancing):
    two enabled AZs, 2 targets in A and 8 in B, clients spread evenly over the two
    nodes. Cross-zone on: every target gets 10%. Off: A's targets 25% each, B's
    6.25% each. Tolerance: 0.006 absolute per target share with 200,000 flows
    (the binomial sd of a 25% share is ~0.001; Maglev's table imbalance ~1e-5)."""
    flows = tcp_flows(200_000, seed=11)
    for cross, expect in ((True, [0.10] * 10), (False, [0.25] * 2 + [0.0625] * 8)):
        tg = TargetGroup(zone_targets([("A", 2), ("B", 8)]), protocol="TCP", healthy=True)
        nlb = NetworkLoadBalancer(["A", "B"], seed=3, load_balancing_cross_zone_enabled=cross)
        nlb.add_listener("TCP", 80, tg)
        r = nlb.route_many(flows, 0.0)
        share = r.counts() / len(flows)
        assert np.abs(share - np.array(expect)).max() < 0.006, share
        assert abs(np.mean(r.node == 0) - 0.5) < 0.006
        if not cross:
            # without cross-zone a node only uses its own AZ's targets
            assert np.all((r.target < 2) == (r.node == 0))
    # target-group level cross-zone overrides the load balancer's (default off)
    tg = TargetGroup(zone_targets([("A", 2), ("B", 8)]), protocol="TCP", healthy=True,
                     load_balancing_cross_zone_enabled="true")
    nlb = NetworkLoadBalancer(["A", "B"], seed=3)
    assert nlb.cross_zone is False
    nlb.add_listener("TCP", 80, tg)
    assert np.abs(nlb.route_many(flows, 0.0).counts() / len(flows) - 0.1).max() < 0.006


def test_zone_without_healthy_targets_leaves_dns_and_fail_open():
    tg = TargetGroup(zone_targets([("A", 2), ("B", 3)]), protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A", "B"], seed=1)
    nlb.add_listener("TCP", 80, tg)
    assert nlb.nodes_in_dns(0.0) == ["A", "B"] and nlb.is_healthy(0.0)
    tg.set_health(["B0", "B1", "B2"], False, now=1.0)
    assert nlb.nodes_in_dns(1.0) == ["A"]
    assert nlb.is_healthy(1.0)           # the target group still has healthy targets (in A)
    flows = tcp_flows(5000, seed=2)
    r = nlb.route_many(flows, 2.0)
    assert np.all(r.node == 0) and set(r.target.tolist()) == {0, 1}
    # a client that still reaches node B (explicit node) fails open inside B
    r = nlb.route_many(tcp_flows(5000, seed=21), 2.0, node="B")
    assert set(r.target.tolist()) == {2, 3, 4}
    # everything unhealthy: all nodes back in DNS, fail open to all targets
    tg.set_health(["A0", "A1"], False, now=3.0)
    assert nlb.nodes_in_dns(3.0) == ["A", "B"]
    r = nlb.route_many(tcp_flows(5000, seed=3), 3.0)
    assert set(r.target.tolist()) == {0, 1, 2, 3, 4}


def test_is_healthy_every_target_group_needs_a_healthy_target():
    # Route 53 guide, "Evaluate target health" (ELB load balancers): every target
    # group must contain a healthy target; "a target group that has no registered
    # targets is considered unhealthy"
    tg1 = TargetGroup(zone_targets([("A", 2)]), protocol="TCP", healthy=True)
    tg2 = TargetGroup(protocol="UDP", name="empty")
    nlb = NetworkLoadBalancer(["A"])
    assert not nlb.is_healthy(0.0)                 # no listener: nothing to route to
    nlb.add_listener("TCP", 80, tg1)
    assert nlb.is_healthy(0.0)                     # nearby case: one healthy group
    nlb.add_listener("UDP", 53, tg2)
    assert not nlb.is_healthy(0.0)                 # the empty group is unhealthy
    tg2.register([Target("u", "A")], now=1.0)      # initial: not healthy yet
    assert not nlb.is_healthy(1.0)
    tg2.set_health("u", True, now=2.0)
    tg1.set_health("A0", False, now=2.0)
    assert nlb.is_healthy(2.0)                     # A1 still healthy
    tg1.set_health("A1", False, now=3.0)
    assert not nlb.is_healthy(3.0)


def test_nlb_scalar_equals_batch_and_seed_determinism():
    def make(seed):
        tg = TargetGroup(zone_targets([("A", 3), ("B", 4)]), protocol="TCP_UDP", healthy=True)
        nlb = NetworkLoadBalancer(["A", "B"], seed=seed)
        nlb.add_listener("TCP_UDP", 80, tg)
        return nlb, tg
    flows = tcp_flows(400, seed=5, protocols=(6, 17))
    a, tga = make(7)
    b, tgb = make(7)
    batch = a.route_many(flows, 0.0)
    ids = batch.target_ids()
    for i, f in enumerate(flows):
        d = b.route(f, 0.0)
        assert d.target.id == ids[i] and d.node == a.availability_zones[batch.node[i]]
        assert d.dropped is False
    c, _ = make(8)
    assert c.route_many(flows, 0.0).target_ids() != ids
    # no listener for the port: nothing
    assert a.route(lbcore.Flow("tcp", "1.1.1.1", "2.2.2.2", 1, 81), 0.0) == \
        L4Decision(None, None, False)
    r = a.route_many(tcp_flows(10, 1, port=81), 0.0)
    assert np.all(r.target == -1) and np.all(r.listener == -1)


@pytest.mark.parametrize("terminate", [False, True])
def test_nlb_flows_pinned_across_target_set_changes(terminate):
    """New targets and deregistrations never move existing flows; a draining
    target gets no new flows; at the end of the deregistration delay its
    connections are closed only with deregistration_delay.connection_termination
    .enabled (NLB guide, "Deregistration delay"; default false for TCP)."""
    tg = TargetGroup(zone_targets([("A", 4)]), protocol="TCP", healthy=True,
                     deregistration_delay_timeout_seconds=100,
                     deregistration_delay_connection_termination_enabled=terminate)
    nlb = NetworkLoadBalancer(["A"], seed=2)
    nlb.add_listener("TCP", 80, tg)
    flows = tcp_flows(20_000, seed=9)
    first = nlb.route_many(flows, 0.0).target
    # new targets: existing flows stay where they are; new flows use the new targets
    tg.register([Target("A4", "A"), Target("A5", "A")], now=10.0, healthy=True)
    assert np.array_equal(nlb.route_many(flows, 10.0).target, first)
    fresh = nlb.route_many(tcp_flows(20_000, seed=10), 10.0).target
    assert set(fresh.tolist()) == set(range(6))
    # deregistration: draining target keeps its flows, gets no new ones
    tg.deregister("A0", now=20.0)
    again = nlb.route_many(flows, 20.0)
    assert np.array_equal(again.target, first) and not np.any(again.new)
    assert 0 not in set(nlb.route_many(tcp_flows(5000, seed=11), 20.0).target.tolist())
    # after the delay the target is unused
    later = nlb.route_many(flows, 121.0)
    assert tg.state("A0") == "unused"
    moved = first == 0
    if terminate:
        assert np.all(later.target[moved] != 0) and np.all(later.new[moved])
    else:
        assert np.array_equal(later.target[moved], first[moved])
    assert np.array_equal(later.target[~moved], first[~moved])


def test_nlb_unhealthy_target_existing_flows():
    """target_health_state.unhealthy.connection_termination.enabled (default true
    for TCP; can't be enabled for UDP): true → connections to an unhealthy
    target end and the flow is placed again; false → they stay."""
    flows = tcp_flows(10_000, seed=4)
    for terminate in (True, False):
        tg = TargetGroup(zone_targets([("A", 5)]), protocol="TCP", healthy=True,
                         target_health_state_unhealthy_connection_termination_enabled=terminate)
        nlb = NetworkLoadBalancer(["A"], seed=4)
        nlb.add_listener("TCP", 80, tg)
        first = nlb.route_many(flows, 0.0).target
        tg.set_health("A2", False, now=1.0)
        after = nlb.route_many(flows, 1.0).target
        on2 = first == 2
        assert np.array_equal(after[~on2], first[~on2])
        if terminate:
            assert not np.any(after == 2)
        else:
            assert np.array_equal(after, first)
        assert 2 not in set(nlb.route_many(tcp_flows(5000, seed=5), 1.0).target.tolist())


def test_nlb_idle_timeouts():
    tcp = lbcore.Flow("tcp", "10.0.0.1", "10.0.0.9", 1234, 80, seq=77)
    udp = lbcore.Flow("udp", "10.0.0.1", "10.0.0.9", 1234, 80)
    for f, idle_kw, ok, gone in ((tcp, {"tcp_idle_timeout_seconds": 60}, 59.0, 60.5),
                                 (tcp, {}, 349.0, 350.5), (udp, {}, 119.0, 120.5)):
        tg = TargetGroup(zone_targets([("A", 50)]), protocol="TCP_UDP", healthy=True)
        nlb = NetworkLoadBalancer(["A"])
        nlb.add_listener("TCP_UDP", 80, tg, **idle_kw)
        one = lbcore.Flows.from_flows([f])
        assert nlb.route_many(one, 0.0).new[0]
        assert not nlb.route_many(one, ok).new[0]           # within the idle timeout
        assert nlb.route_many(one, ok + gone).new[0]        # idle longer than the timeout


def test_nlb_source_ip_stickiness():
    tg = TargetGroup(zone_targets([("A", 8)]), protocol="TCP", healthy=True,
                     stickiness_enabled=True)
    nlb = NetworkLoadBalancer(["A"], seed=6)
    nlb.add_listener("TCP", 80, tg)
    # one client address, many connections (ports, ISNs, destination addresses)
    n = 500
    rng = np.random.default_rng(0)
    flows = lbcore.Flows(6, np.full(n, 0x0A000001), rng.integers(0, 2**32, n),
                         rng.integers(1024, 65536, n), 80, rng.integers(0, 2**32, n))
    assert len(set(nlb.route_many(flows, 0.0).target.tolist())) == 1
    plain = TargetGroup(zone_targets([("A", 8)]), protocol="TCP", healthy=True)
    nlb2 = NetworkLoadBalancer(["A"], seed=6)
    nlb2.add_listener("TCP", 80, plain)
    assert len(set(nlb2.route_many(flows, 0.0).target.tolist())) == 8


# ----------------------------------------------------------------- GWLB
@pytest.mark.parametrize("stickiness", [None, "source_ip_dest_ip_proto", "source_ip_dest_ip"])
def test_gwlb_symmetric_every_stickiness_mode(stickiness):
    kw = {} if stickiness is None else {"stickiness_enabled": True, "stickiness_type": stickiness}
    tg = TargetGroup(zone_targets([("A", 3), ("B", 3)]), protocol="GENEVE", healthy=True, **kw)
    gw = GatewayLoadBalancer(["A", "B"], tg, seed=9)
    flows = lbcore.Flows.random(20_000, seed=12, protocols=(6, 17, 1, 47), ipv6_fraction=0.3)
    fwd = gw.route_many(flows, 0.0)
    gw2 = GatewayLoadBalancer(["A", "B"], TargetGroup(zone_targets([("A", 3), ("B", 3)]),
                                                      protocol="GENEVE", healthy=True, **kw), seed=9)
    rev = gw2.route_many(flows.reversed(), 0.0)
    assert np.array_equal(fwd.target, rev.target) and np.array_equal(fwd.node, rev.node)
    # and on the same load balancer the reverse direction finds the pinned entry
    back = gw.route_many(flows.reversed(), 1.0)
    assert np.array_equal(back.target, fwd.target) and not np.any(back.new)
    f0 = flows[3]
    t, node, dropped = gw.route(f0, 2.0)
    assert t.id == fwd.target_ids()[3] and not dropped


def test_gwlb_tuple_fields():
    tg = TargetGroup(zone_targets([("A", 16)]), protocol="GENEVE", healthy=True)
    gw = GatewayLoadBalancer(["A"], tg, seed=1)
    n = 400
    rng = np.random.default_rng(1)
    src, dst = np.full(n, 0x0A000001), np.full(n, 0x0A000002)
    ports = rng.integers(0, 65536, (2, n))
    # TCP 5-tuple: different ports spread; non-TCP/UDP (GRE) uses the 3-tuple: one target
    assert len(set(gw.route_many(lbcore.Flows(6, src, dst, ports[0], ports[1]), 0.0)
                   .target.tolist())) > 8
    assert len(set(gw.route_many(lbcore.Flows(47, src, dst, ports[0], ports[1]), 0.0)
                   .target.tolist())) == 1
    tg3 = TargetGroup(zone_targets([("A", 16)]), protocol="GENEVE", healthy=True,
                      stickiness_enabled=True, stickiness_type="source_ip_dest_ip")
    gw3 = GatewayLoadBalancer(["A"], tg3, seed=1)
    mixed = lbcore.Flows(rng.choice([6, 17], n), src, dst, ports[0], ports[1])
    assert len(set(gw3.route_many(mixed, 0.0).target.tolist())) == 1


def test_gwlb_two_tuple_one_entry_per_pair_timeout_of_the_packet():
    """2-tuple stickiness keys a pair of addresses (no protocol, no ports): TCP and
    UDP flows of the pair share one FlowTable entry, and each packet's protocol sets
    the timeout it is kept for (TCP 350 s, other 120 s)."""
    tg = TargetGroup(zone_targets([("A", 16)]), protocol="GENEVE", healthy=True,
                     stickiness_enabled=True, stickiness_type="source_ip_dest_ip")
    gw = GatewayLoadBalancer(["A"], tg, seed=2)
    tcp = lbcore.Flows.from_flows([lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 5, 6)])
    udp = lbcore.Flows.from_flows([lbcore.Flow("udp", "10.0.0.2", "10.0.0.1", 9, 7)])
    first = gw.route_many(tcp, 0.0)
    again = gw.route_many(udp, 10.0)            # reverse direction, other protocol
    assert not again.new[0] and again.target[0] == first.target[0]
    path = gw._listeners[0].path
    assert len(path) == 1
    assert gw.route_many(tcp, 200.0).new[0]      # last packet UDP at 10 s: 190 s > 120 s
    assert not gw.route_many(udp, 500.0).new[0]  # last packet TCP at 200 s: 300 s <= 350 s
    assert len(path) == 1


@pytest.mark.parametrize("mode", ["no_rebalance", "rebalance"])
def test_gwlb_failover_modes(mode):
    tg = TargetGroup(zone_targets([("A", 5)]), protocol="GENEVE", healthy=True,
                     target_failover_on_unhealthy=mode, target_failover_on_deregistration=mode,
                     deregistration_delay_timeout_seconds=50)
    gw = GatewayLoadBalancer(["A"], tg, seed=2)
    flows = lbcore.Flows.random(10_000, seed=3)
    first = gw.route_many(flows, 0.0).target
    tg.set_health("A1", False, now=1.0)
    after = gw.route_many(flows, 1.0).target
    on1 = first == 1
    assert np.array_equal(after[~on1], first[~on1])
    if mode == "no_rebalance":
        assert np.array_equal(after, first)
    else:
        assert not np.any(after == 1)
    assert 1 not in set(gw.route_many(lbcore.Flows.random(5000, seed=4), 1.0).target.tolist())
    # deregistration (GWLB guide, target failover): during the delay flows stay;
    # after it, no_rebalance still sends them to the drained target, rebalance
    # rehashes them to healthy targets.
    tg.deregister("A3", now=2.0)
    dereg = gw.route_many(flows, 2.0).target
    on3 = first == 3
    assert np.array_equal(dereg[on3], first[on3])
    after_delay = gw.route_many(flows, 53.0).target
    assert tg.state("A3") == "unused"
    if mode == "no_rebalance":
        assert np.array_equal(after_delay[on3], first[on3])
    else:
        assert not np.any(after_delay == 3)
    assert 3 not in set(gw.route_many(lbcore.Flows.random(5000, seed=7), 53.0).target.tolist())


def test_gwlb_all_unhealthy_random_appliance_marked_dropped():
    tg = TargetGroup(zone_targets([("A", 4)]), protocol="GENEVE", healthy=True)
    gw = GatewayLoadBalancer(["A"], tg, seed=3)
    tg.set_health(["A0", "A1", "A2", "A3"], False, now=0.0)
    flows = lbcore.Flows.random(20_000, seed=5)
    r = gw.route_many(flows, 0.0)
    assert np.all(r.dropped) and np.all(r.target >= 0)
    share = r.counts() / len(flows)
    assert np.abs(share - 0.25).max() < 0.015          # uniform at random (~5 sd)
    # for its life: the same appliance, still dropped, also after one recovers
    tg.set_health("A0", True, now=1.0)
    again = gw.route_many(flows, 1.0)
    assert np.array_equal(again.target, r.target) and np.all(again.dropped)
    new = gw.route_many(lbcore.Flows.random(2000, seed=6), 1.0)
    assert np.all(new.target == 0) and not np.any(new.dropped)
    # the NLB fails open instead: never marks anything dropped
    assert not hasattr(NetworkLoadBalancer, "_dropped")


def test_gwlb_idle_and_validation():
    tg = TargetGroup(zone_targets([("A", 4)]), protocol="GENEVE", healthy=True)
    gw = GatewayLoadBalancer(["A"], tg)
    icmp = lbcore.Flows.from_flows([lbcore.Flow("icmp", "10.0.0.1", "10.0.0.2")])
    tcp = lbcore.Flows.from_flows([lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 5, 6)])
    gw.route_many(icmp, 0.0)
    gw.route_many(tcp, 0.0)
    assert not gw.route_many(icmp, 119.0).new[0] and gw.route_many(icmp, 240.0).new[0]
    assert not gw.route_many(tcp, 349.0).new[0] and gw.route_many(tcp, 700.0).new[0]
    with pytest.raises(ValueError, match="target_group"):
        gw.set_target_group(tg)
    with pytest.raises(ValueError, match="target_group"):
        GatewayLoadBalancer(["A"]).route(lbcore.Flow("icmp", "10.0.0.1", "10.0.0.2"), 0.0)
    with pytest.raises(ValueError, match="target_group"):
        GatewayLoadBalancer(["A"], TargetGroup(protocol="TCP"))


def test_set_attributes_cross_zone_and_gwlb_scalar_equals_batch():
    flows = tcp_flows(50_000, seed=30)
    tg = TargetGroup(zone_targets([("A", 2), ("B", 8)]), protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A", "B"], seed=3,
                              attributes=[{"Key": "deletion_protection.enabled", "Value": "true"}])
    nlb.add_listener("TCP", 80, tg)
    assert abs(nlb.route_many(flows, 0.0).counts()[0] / len(flows) - 0.25) < 0.01
    nlb.set_attributes([{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])
    assert nlb.cross_zone is True and nlb.attributes["deletion_protection.enabled"] == "true"
    fresh = tcp_flows(50_000, seed=31)
    assert abs(nlb.route_many(fresh, 1.0).counts()[0] / len(fresh) - 0.10) < 0.01
    with pytest.raises(ValueError, match="load_balancing.cross_zone.enabled"):
        nlb.set_attributes(load_balancing_cross_zone_enabled="sometimes")

    def make():
        tg = TargetGroup(zone_targets([("A", 3), ("B", 3)]), protocol="GENEVE", healthy=True,
                         stickiness_enabled=True, stickiness_type="source_ip_dest_ip_proto")
        return GatewayLoadBalancer(["A", "B"], tg, seed=4)
    batch_lb, scalar_lb = make(), make()
    some = lbcore.Flows.random(300, seed=8, protocols=(6, 17, 1), ipv6_fraction=0.5)
    r = batch_lb.route_many(some, 0.0)
    ids = r.target_ids()
    for i, f in enumerate(some):
        t, node, dropped = scalar_lb.route(f, 0.0)
        assert (t.id, node, dropped) == (ids[i], batch_lb.availability_zones[r.node[i]], False)


def test_threads_share_one_load_balancer():
    # Batches release the GIL; they are serialised per flow table, scalar calls
    # wait for a running batch and rebuilds never swap buffers under one. Every
    # thread also routes new flows, so the table grows while the others run.
    import threading
    from lbcore._flowtable import _check_invariants
    tg = TargetGroup(zone_targets([("A", 4), ("B", 4)]), protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A", "B"], seed=5, flow_capacity=64)
    nlb.add_listener("TCP", 80, tg)
    flows = tcp_flows(50_000, seed=40)
    first = nlb.route_many(flows, 0.0).target
    path = nlb._listeners[0].path
    grown = path.capacity
    errors, results = [], []

    def batch(j):
        try:
            for k in range(5):
                results.append(nlb.route_many(flows, 1.0).target)
                nlb.route_many(tcp_flows(20_000, seed=1000 * j + k), 1.0)      # new flows
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def scalar():
        try:
            for i in range(300):
                t = nlb.route(flows[i], 1.0).target
                results.append(np.array([tg.index_of(t.id)]) if i else first[:0])
                assert tg.index_of(t.id) == first[i]
                nlb.route(lbcore.Flow("tcp", 0x0B000000 + i, "10.9.9.9", 1000, 80), 1.0)
        except Exception as e:  # pragma: no cover
            errors.append(e)
    threads = [threading.Thread(target=batch, args=(j,)) for j in range(3)]
    threads.append(threading.Thread(target=scalar))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert all(np.array_equal(r, first) for r in results if r.shape == first.shape)
    assert sum(r.shape == first.shape for r in results) == 15
    assert path.capacity > grown and len(path) > 50_000 + 300
    _check_invariants(path.flow_table)


def _nlb_and_gwlb():
    nlb = NetworkLoadBalancer(["A"], seed=1)
    nlb.add_listener("TCP", 80, TargetGroup(zone_targets([("A", 3)], port=80),
                                            protocol="TCP", healthy=True))
    gw = GatewayLoadBalancer(["A"], TargetGroup(zone_targets([("A", 3)]), protocol="GENEVE",
                                                healthy=True), seed=1)
    return nlb, gw


def test_route_many_rejects_objects_that_are_not_flows():
    real = tcp_flows(4, seed=1)
    for lb in _nlb_and_gwlb():
        with pytest.raises(TypeError, match="flows"):
            lb.route_many(FakeFlows(real, 1_000_000), 1.0)
        odd = lbcore.Flows._from_columns(*[np.zeros(9, np.uint8) if i == 0 else c
                                           for i, c in enumerate(real.columns())])
        with pytest.raises(ValueError, match="flows"):
            lb.route_many(odd, 1.0)


def test_empty_batch_after_time_has_passed():
    for lb in _nlb_and_gwlb():
        lb.route_many(tcp_flows(10, seed=2), 5.0)
        r = lb.route_many(tcp_flows(0, seed=2), 7.0)
        assert len(r.target) == 0
        r = lb.route_many(tcp_flows(0, seed=2), [])
        assert len(r.target) == 0


def test_times_never_go_backwards():
    """Within a batch and across calls; after a batch the target group's clock is at
    the batch's last time, so a scalar call cannot go back before flows already seen."""
    for lb in _nlb_and_gwlb():
        flows = tcp_flows(4, seed=3)
        with pytest.raises(ValueError, match="times"):
            lb.route_many(flows, [1.0, 3.0, 2.0, 4.0])
        lb.route_many(flows, [1.0, 2.0, 2.0, 10.0])
        assert lb._listeners[0].target_group._now == 10.0
        with pytest.raises(ValueError, match="now"):
            lb.route(flows[0], 5.0)
        with pytest.raises(ValueError, match="now"):
            lb.route_many(flows, 9.0)
        assert lb.route(flows[0], 10.0)[0] is not None
        _check = lb._listeners[0].path.flow_table
        from lbcore._flowtable import _check_invariants
        _check_invariants(_check)


def test_flow_capacity_limit():
    with pytest.raises(ValueError, match=r"flow_capacity.*GiB"):
        NetworkLoadBalancer(["A"], flow_capacity=2**30)
    with pytest.raises(ValueError, match=r"flow_capacity.*GiB"):
        GatewayLoadBalancer(["A"], flow_capacity=2**26 + 1)


def test_node_pools_shared_helper():
    from lbcore.elb import node_pools
    tg = TargetGroup(zone_targets([("A", 2), ("B", 3), ("C", 1)]), protocol="TCP", healthy=True,
                     target_group_health_dns_failover_minimum_healthy_targets_count="2")
    # C is not enabled on this load balancer: its target is never used
    p = node_pools(tg, ["A", "B"], cross_zone=False)
    assert [x.tolist() for x in p.pools] == [[0, 1], [2, 3, 4]] and p.dns.tolist() == [0, 1]
    tg.set_health("A1", False, now=1.0)          # A has 1 healthy < dns minimum 2
    p = node_pools(tg, ["A", "B"], cross_zone=False)
    assert p.dns.tolist() == [1] and p.pools[0].tolist() == [0] and p.healthy == [True, True]
    p = node_pools(tg, ["A", "B"], cross_zone=True)
    assert p.pools[0].tolist() == [0, 2, 3, 4] and p.dns.tolist() == [0, 1]
    tg2 = TargetGroup(zone_targets([("A", 4)]), protocol="TCP", healthy=True,
                      target_group_health_unhealthy_state_routing_minimum_healthy_targets_percentage="50")
    tg2.set_health(["A0", "A1", "A2"], False, now=0.0)   # 1 of 4 healthy < 50%: fail open
    p = node_pools(tg2, ["A"], cross_zone=False)
    assert p.pools[0].tolist() == [0, 1, 2, 3] and p.healthy == [False]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["nlb", "gwlb"]),
       cross=st.booleans(), steps=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(
           ["healthy", "unhealthy", "deregister", "register"])), max_size=6))
def test_batch_equals_scalar_through_target_changes(seed, kind, cross, steps):
    """Two identical load balancers, one driven by route_many and one by route,
    stay identical through health changes, deregistrations and registrations."""
    def make():
        proto = "GENEVE" if kind == "gwlb" else "TCP_UDP"
        tg = TargetGroup(zone_targets([("A", 3), ("B", 3)]), protocol=proto, healthy=True,
                         deregistration_delay_timeout_seconds=5)
        if kind == "gwlb":
            lb = GatewayLoadBalancer(["A", "B"], tg, seed=seed, load_balancing_cross_zone_enabled=cross)
        else:
            lb = NetworkLoadBalancer(["A", "B"], seed=seed, load_balancing_cross_zone_enabled=cross)
            lb.add_listener("TCP_UDP", 80, tg)
        return lb, tg
    (a, tga), (b, tgb) = make(), make()
    rng = np.random.default_rng(seed)
    pool = tcp_flows(120, seed=seed % 1000, protocols=(6, 17))
    now = 0.0
    for target, action in [(0, "healthy")] + steps:
        tid = f"{'AB'[target // 3]}{target % 3}"
        for tg in (tga, tgb):
            try:
                if action == "deregister":
                    tg.deregister(tid, now=now)
                elif action == "register":
                    tg.register([Target(tid, tid[0])], now=now, healthy=True)
                else:
                    tg.set_health(tid, action == "healthy", now=now)
            except ValueError:
                pass
        pick = pool[np.sort(rng.choice(len(pool), 60, replace=False))]
        r = a.route_many(pick, now)
        ids = r.target_ids()
        for i, f in enumerate(pick):
            got = b.route(f, now)
            t = got[0]
            assert (None if t is None else t.id) == ids[i]
            assert got[1] == a.availability_zones[r.node[i]]
            if kind == "gwlb":
                assert got[2] == bool(r.dropped[i])
        now += float(rng.uniform(0, 4))


def test_new_flows_follow_lbcore_maglev_over_the_node_pool():
    # The NLB composes lbcore.Maglev: a new flow lands where lbcore.Maglev over
    # the node's healthy targets sends the flow's key hash.
    tg = TargetGroup(zone_targets([("A", 6)]), protocol="TCP", healthy=True)
    nlb = NetworkLoadBalancer(["A"], seed=12)
    nlb.add_listener("TCP", 80, tg)
    tg.set_health("A4", False, now=0.0)
    flows = tcp_flows(3000, seed=50)
    got = nlb.route_many(flows, 0.0).target_ids()
    pool = ["A0", "A1", "A2", "A3", "A5"]
    mg = lbcore.Maglev(pool, table_size=65537, seed=nlb._target_seed)
    want = [pool[i] for i in mg.select_many(lbcore.flow_hash(flows, seed=nlb._key_seed))]
    assert got == want


@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_flow_table_growth_mid_batch_changes_nothing(kind):
    def make(cap):
        proto = "GENEVE" if kind == "gwlb" else "TCP"
        tg = TargetGroup(zone_targets([("A", 3), ("B", 3)]), protocol=proto, healthy=True)
        if kind == "gwlb":
            return GatewayLoadBalancer(["A", "B"], tg, seed=2, flow_capacity=cap), tg
        lb = NetworkLoadBalancer(["A", "B"], seed=2, flow_capacity=cap)
        lb.add_listener("TCP", 80, tg)
        return lb, tg
    (small, tgs), (big, tgb) = make(16), make(1 << 16)
    flows = tcp_flows(20_000, seed=60)
    times = np.sort(np.random.default_rng(0).uniform(0, 500, len(flows)))
    for tg in (tgs, tgb):
        tg.set_health(["A0", "A1", "A2"], False, now=0.0)   # some random placements (GWLB)
    a, b = small.route_many(flows, times), big.route_many(flows, times)
    assert np.array_equal(a.target, b.target) and np.array_equal(a.new, b.new)
    assert small._listeners[0].path.capacity > 16
    a, b = small.route_many(flows, 600.0), big.route_many(flows, 600.0)
    assert np.array_equal(a.target, b.target) and np.array_equal(a.new, b.new)


def test_close_forgets_a_finished_connection():
    """L4LoadBalancer.close: the FIN/RST of a connection removes its entry, so the next
    flow with the same 5-tuple is placed afresh (new), and a closed flow is not found
    again; an entry keyed by fewer fields (GWLB 2-/3-tuple stickiness) stands for every
    connection of the pair and stays."""
    tg = TargetGroup(zone_targets([("A", 3), ("B", 3)]), protocol="TCP_UDP", healthy=True)
    nlb = NetworkLoadBalancer(["A", "B"], seed=4)
    nlb.add_listener("TCP_UDP", 80, tg)
    f = lbcore.Flow("tcp", "10.0.0.7", "198.18.0.1", 40000, 80)
    path = nlb.flow_path(0.0)[0]
    nlb.route(f, 1.0)
    assert len(path) == 1 and path.last_flags & 2          # placed: new
    nlb.route(f, 2.0)
    assert not path.last_flags & 2                         # pinned
    assert nlb.close(f, 3.0) is True and len(path) == 0
    assert nlb.close(f, 3.0) is False                      # nothing left to close
    nlb.route(f, 4.0)
    assert path.last_flags & 2                             # afresh
    assert nlb.close(lbcore.Flow("tcp", "10.0.0.7", "198.18.0.1", 40000, 81), 4.0) is False
    with pytest.raises(ValueError, match="now"):
        nlb.close(f, 1.0)                                  # time never goes back
    with pytest.raises(TypeError, match="flow"):
        nlb.close(("tcp",), 5.0)
    for kw, kept in (({}, False), ({"stickiness_enabled": True,
                                    "stickiness_type": "source_ip_dest_ip"}, True)):
        gtg = TargetGroup(zone_targets([("A", 3)]), protocol="GENEVE", healthy=True, **kw)
        gw = GatewayLoadBalancer(["A"], gtg, seed=2)
        gw.route(f, 1.0)
        # either direction closes a symmetric entry (the reply's FIN as well)
        assert gw.close(f.reversed(), 2.0) is (not kept)
        assert len(gw.flow_path(2.0)[0]) == (1 if kept else 0)
