"""pickle and copy.deepcopy round-trip the main objects with their state: the copy
makes the same next decisions as the original (tokens, flow-table entries, LOR counts,
generator positions, load balancers' connection tables and pools). An object that
can't be pickled says so with a TypeError. No lock is part of any pickled state
(the convention shared with the thread-safety work: a Python-level lock is named
``_lock``; a restored object gets a fresh one)."""
from __future__ import annotations

import copy
import pickle
import threading
import warnings

import numpy as np
import pytest

import lbcore
from lbcore.elb import (ApplicationLoadBalancer, ClassicLoadBalancer, GatewayLoadBalancer,
                        HealthCheckSettings, NetworkLoadBalancer, Request, Target,
                        TargetGroup)

T = ["a", "b", "c", "d"]
FLOWS = lbcore.Flows.random(300, seed=7)


def _copies(obj):
    """The object through pickle (every protocol from 2) and through deepcopy."""
    out = [pickle.loads(pickle.dumps(obj, protocol=p))
           for p in range(2, pickle.HIGHEST_PROTOCOL + 1)]
    out.append(copy.deepcopy(obj))
    return out


def _same_next(make, use, steps=3):
    """``use(obj, k)`` on the original and on each copy gives the same answers."""
    obj = make()
    use(obj, 0)                                   # state the copy must carry
    clones = _copies(obj)
    for k in range(1, steps + 1):
        want = use(obj, k)
        for c in clones:
            got = use(c, k)
            assert _eq(got, want), (type(obj).__name__, k, got, want)


def _eq(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return a == b


# ----------------------------------------------------------------- kernels
def test_flows_and_flow():
    for f in _copies(FLOWS):
        assert all(np.array_equal(x, y) for x, y in zip(f.columns(), FLOWS.columns()))
        assert not f.protocol.flags.writeable
    one = FLOWS[3]
    assert all(c == one for c in _copies(one))


def test_flows_state_checked():
    make, cols = FLOWS.__reduce__()
    with pytest.raises(ValueError, match="Flows state"):
        make(*cols[:8])
    with pytest.raises(ValueError, match="Flows state"):
        make(*cols[:8], cols[8][:3])


@pytest.mark.parametrize("make", [
    lambda: lbcore.Maglev(T, weights=[1, 2, 3, 4], table_size=1009, seed=5, flow_seed=3),
    lambda: lbcore.JumpHash(T, fields="3-tuple", flow_seed=9),
    lambda: lbcore.Rendezvous(T, weights=[1, 2, 0, 4], seed=2, symmetric=True),
], ids=["Maglev", "JumpHash", "Rendezvous"])
def test_consistent_selectors(make):
    _same_next(make, lambda o, k: o.select_many(FLOWS[k * 50:(k + 1) * 50]))
    _same_next(make, lambda o, k: [o.select(f) for f in FLOWS[k * 10:(k + 1) * 10]])


def test_maglev_small_table_unpickles_without_a_second_warning():
    with pytest.warns(lbcore.MaglevTableSizeWarning):
        m = lbcore.Maglev(T, table_size=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = pickle.loads(pickle.dumps(m))
    assert np.array_equal(c.table, m.table)


def test_token_buckets_keep_tokens_and_clock():
    def use(b, k):
        return b.check_many(np.arange(20) % 3, np.full(20, 1.0 + k), unit="s")
    _same_next(lambda: lbcore.TokenBuckets(3, rate=[1, 2, 3], burst=4), use)
    b = lbcore.TokenBuckets(2, rate=1, burst=5)
    b.check(0, 10.0, 5)
    c = pickle.loads(pickle.dumps(b))
    assert c.tokens(0, 10.0) == 0.0 and c.tokens(1, 10.0) == 5.0
    with pytest.raises(ValueError, match="back"):            # the clock came along
        c.check(0, 9.0)


def test_token_buckets_state_is_checked():
    b = lbcore.TokenBuckets(2, rate=1, burst=5)
    make, args = b.__reduce__()
    rows = args[1].copy()
    rows[0, 0] = rows[0, 4] + 1                     # more tokens than the burst
    with pytest.raises(ValueError, match="invariants"):
        make(args[0], rows, *args[2:])
    with pytest.raises(ValueError, match="shape"):
        make(args[0], rows[:, :4], *args[2:])


def test_flow_table_keeps_entries_lru_and_clock():
    sel = lbcore.Maglev(T, table_size=1009)

    def use(ft, k):
        return ft.route_many(FLOWS[k * 60:(k + 1) * 60 + 40], 1.0 + k, sel)
    _same_next(lambda: lbcore.FlowTable(64, idle_timeout=2.5), use)
    ft = lbcore.FlowTable(64, idle_timeout={"tcp": 3.0})
    ft.route_many(FLOWS[:50], 4.0, sel)
    for c in _copies(ft):
        assert c.entries() == ft.entries() and c.now == 4.0
        assert c.idle_timeout == ft.idle_timeout
        assert c.expire(7.5) == ft.__class__.__reduce__(ft)[0](*ft.__reduce__()[1]).expire(7.5)


def test_flow_table_state_is_checked():
    ft = lbcore.FlowTable(8)
    ft.route_many(FLOWS[:5], 1.0, lbcore.JumpHash(T))
    make, args = ft.__reduce__()
    bad = list(args)
    bad[7] = (1, "middle")
    with pytest.raises(ValueError, match="layout"):
        make(*bad)
    bad = list(args)
    scal = list(args[6])
    scal[0] = 9                                   # size > capacity
    bad[6] = tuple(scal)
    with pytest.raises(ValueError, match="header"):
        make(*bad)
    bad = list(args)
    bad[5] = b"\xff" * len(args[5])               # garbage entries
    with pytest.raises(ValueError, match="FlowTable state"):
        make(*bad)


def test_prefix_table_and_geoproximity():
    pt = lbcore.PrefixTable(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"], [7, 3, 9],
                            default=1)
    for c in _copies(pt):
        assert [c.lookup(a) for a in ("10.1.2.3", "10.9.9.9", "2001:db8::1", "1.1.1.1")] \
            == [3, 7, 9, 1]
    g = lbcore.Geoproximity([0.0, 50.0], [0.0, 10.0], [5, -5])
    for c in _copies(g):
        assert c.nearest(45.0, 8.0) == g.nearest(45.0, 8.0)


def _lor_use(o, k):
    picks = [o.pick(float(k)) for _ in range(7)]
    o.release(picks[0])
    return picks


@pytest.mark.parametrize("make", [
    lambda: lbcore.LeastOutstanding(T, weights=[1, 2, 3, 1], seed=4),
    lambda: lbcore.PowerOfTwoChoices(T, seed=4),
    lambda: lbcore.RoundRobin(T, weights=[5, 1, 1, 2], slow_start_seconds=30),
    lambda: lbcore.WeightedRandom(T, [1, 2, 3, 4], seed=4, slow_start_seconds=30),
], ids=["LeastOutstanding", "PowerOfTwoChoices", "RoundRobin", "WeightedRandom"])
def test_request_selectors_keep_counts_and_generator(make):
    def use(o, k):
        if k == 0:
            o.remove("b")                      # a free slot, reused by the next add
            o.add("e", now=0.0)
            o.set_available("c", False, now=0.0)
        return _lor_use(o, k) + [o.outstanding(t) for t in o.targets]
    _same_next(make, use)


def test_selector_state_is_checked():
    lor = lbcore.LeastOutstanding(T)
    make, args = lor.__reduce__()
    bad = list(args)
    bad[-1] = dict(args[-1], pos=np.full_like(args[-1]["pos"], 3))   # heap/pos disagree
    with pytest.raises(ValueError, match="state"):
        make(*bad)
    bad = list(args)
    bad[2] = [0, 0]                                 # a free slot that holds a target
    with pytest.raises(ValueError, match="target map"):
        make(*bad)


@pytest.mark.parametrize("make", [lambda: lbcore.Random(3), lambda: lbcore.RecordPicker(3)],
                         ids=["Random", "RecordPicker"])
def test_generators(make):
    g = make()
    draw = (lambda o: [o.next_u64() for _ in range(5)]) if isinstance(g, lbcore.Random) \
        else (lambda o: [o.weighted([1, 2, 3]) for _ in range(5)])
    draw(g)
    clones = _copies(g)
    want = draw(g)
    assert all(draw(c) == want for c in clones)
    with pytest.raises(ValueError, match="zero"):
        make().__setstate__((0, 0, 0, 0))
    with pytest.raises(TypeError, match="four"):
        make().__setstate__((1, 2))


def test_uninitialised_objects_refuse_with_type_error():
    for cls in (lbcore.Maglev, lbcore.JumpHash, lbcore.Rendezvous, lbcore.Geoproximity):
        with pytest.raises(TypeError, match="never initialised"):
            pickle.dumps(cls.__new__(cls))


# ----------------------------------------------------------- ELB objects
def _zone_targets(spec):
    return [Target(f"{az}{i}", az) for az, k in spec for i in range(k)]


def test_target_and_settings():
    t = Target("i-1", "us-east-1a", port=8080, weight=2.5)
    h = HealthCheckSettings("HTTP", interval_seconds=10, timeout_seconds=3)
    assert all(c == t for c in _copies(t))
    for c in _copies(h):
        assert repr(c) == repr(h)


def test_target_group_keeps_health_state():
    tg = TargetGroup(_zone_targets([("A", 3)]), protocol="TCP", now=0.0)
    for k in range(6):
        tg.observe("A0", True, now=10.0 * k)
        tg.observe("A1", False, now=10.0 * k)
    for c in _copies(tg):
        assert np.array_equal(c.state_codes, tg.state_codes) and c.version == tg.version
        c.observe("A2", True, now=100.0)
        tg2 = copy.deepcopy(tg)
        tg2.observe("A2", True, now=100.0)
        assert np.array_equal(c.state_codes, tg2.state_codes)


def _nlb():
    tg = TargetGroup(_zone_targets([("A", 3), ("B", 3)]), protocol="TCP", healthy=True)
    n = NetworkLoadBalancer(["A", "B"], seed=3, table_size=1009)
    n.add_listener("TCP", 80, tg)
    return n


def _gwlb():
    tg = TargetGroup(_zone_targets([("A", 3), ("B", 3)]), protocol="GENEVE", healthy=True)
    return GatewayLoadBalancer(["A", "B"], tg, seed=9, table_size=1009)


TCP80 = lbcore.Flows(FLOWS.protocol * 0 + 6, FLOWS.src_lo, FLOWS.dst_lo, FLOWS.src_port, 80)


@pytest.mark.parametrize("make", [_nlb, _gwlb], ids=["NLB", "GWLB"])
def test_l4_load_balancers_keep_their_connection_table(make):
    def use(lb, k):
        r = lb.route_many(TCP80[:(k + 1) * 70], float(k))
        return r.target, r.node, r.new
    _same_next(make, use)


def _alb():
    tg = TargetGroup(_zone_targets([("A", 3)]), protocol="HTTP", name="web", healthy=True,
                     stickiness_enabled=True, stickiness_type="lb_cookie")
    alb = ApplicationLoadBalancer([tg], seed=1)
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    return alb


def test_alb_keeps_pools():
    reqs = [Request("GET", f"/p{i}", host="www.example") for i in range(12)]

    def use(alb, k):
        return [(d.target.id if d.target is not None else None)
                for d in (alb.route(r, float(k)) for r in reqs)]
    _same_next(_alb, use)


def _clb():
    inst = [Target(f"i-{k}", "az-a" if k < 2 else "az-b") for k in range(4)]
    return ClassicLoadBalancer(inst, [
        {"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP",
         "InstancePort": 22},
        {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
         "InstancePort": 8080}], healthy=True, cross_zone=True)


def test_clb_keeps_round_robin_and_outstanding_counts():
    def use(lb, k):
        tcp = [lb.route(None, float(k), port=22, zone="az-a").target.id for _ in range(3)]
        http = [lb.route(Request(), float(k)).target.id for _ in range(3)]
        return tcp + http
    _same_next(_clb, use)


def test_lock_is_never_pickled_and_is_fresh():
    lb = _nlb()
    lb._lock = threading.Lock()          # what the thread-safety work adds
    lb._lock.acquire()
    state = lb.__getstate__()
    assert state["_lock"] is None
    for c in _copies(lb):
        assert c._lock is not lb._lock and c._lock.acquire(blocking=False)
    lb._lock.release()


# ------------------------------------------------- API Gateway and Route 53
def test_api_gateway_keeps_buckets_and_quotas():
    from lbcore.apigateway import ApiGateway

    def make():
        g = ApiGateway()
        g.add_stage("api", "prod")
        g.add_usage_plan("gold", api_stages=[("api", "prod")],
                         throttle={"rateLimit": 2, "burstLimit": 3},
                         quota={"limit": 5, "period": "DAY"})
        g.add_api_key("k", "gold", created=0.0)
        return g

    def use(g, k):
        return [g.check("k", "/r", "GET", 10.0 + k + i / 10).allowed for i in range(4)] \
            + [g.quota_remaining("k", 10.0 + k)]
    _same_next(make, use)


def test_quotas_state_is_checked():
    q = lbcore.Quotas()
    q.add(10, "DAY")
    make, args = q.__reduce__()
    rows = args[1].copy()
    rows[0, 5] = 9                                   # no such period kind
    with pytest.raises(ValueError, match="invariants"):
        make(args[0], rows)


def test_hosted_zone_and_health_checks():
    from lbcore.route53 import HealthCheck, HostedZone, RecordSet
    hc = HealthCheck("h", failure_threshold=1)

    def make():
        return HostedZone("example.com", [
            RecordSet("w.example.com", "A", ["192.0.2.1"], ttl=60, set_identifier="a",
                      weight=1, health_check="h"),
            RecordSet("w.example.com", "A", ["192.0.2.2"], ttl=60, set_identifier="b",
                      weight=3)], health_checks={"h": HealthCheck("h", failure_threshold=1)},
            seed=5)

    def use(z, k):
        if k == 2:
            z.health_checks["h"].observe(False, now=5.0)
        return [z.resolve("w.example.com", "A", now=10.0 + k).values for _ in range(6)]
    _same_next(make, use)
    hc.observe(False, now=1.0)
    assert all(not c.is_healthy(now=2.0) for c in _copies(hc))
