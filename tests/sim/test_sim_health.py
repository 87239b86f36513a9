"""Health from checks (lbcore.sim.health), exact throttling and the shared stickiness rule.

The simulator's target health is a real lbcore.elb.TargetGroup fed the results of the
configured periodic checks; these tests check the transition times against a
from-scratch replay (tests/reference/elb_health_ref.py, every check, no skipping), fail
open with minimum_healthy_targets, the throttle decisions against ApiGateway.check, and
the stickiness-cookie rule against its reference."""
import math

import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore.sim import simulate
from lbcore.sim.health import group_health
from lbcore.sim.model import compile_scenario
from lbcore.sim.scenario import ScenarioError, parse_scenario
from reference.elb_health_ref import state_at
from reference.sticky_ref import cookie_expiry, cookie_target

from sim.test_sim import small_scenario


def _scenario(targets, events, protocol="HTTP", interval=10, timeout=None, healthy=3,
              unhealthy=2, attributes=None):
    return {
        "target_groups": [{
            "name": "web", "protocol": protocol, "attributes": attributes or {},
            "health_check": {"interval": interval, "timeout": timeout,
                             "healthy_threshold": healthy, "unhealthy_threshold": unhealthy},
            "targets": [{"id": tid, "az": az, "weight": 1.0, "registered": reg}
                        for tid, az, reg in targets]}],
        "events": [dict(ev, target_group="web") if "region" not in ev else ev
                   for ev in events],
    }


def _transitions(h, k):
    """(time, state) of target k at each change point where its state changes."""
    out, prev = [], None
    for t, names in zip(h.times, h.state):
        if names[k] != prev:
            out.append((t, names[k]))
            prev = names[k]
    return out


def test_default_timing_interval_timeout_thresholds_and_first_check():
    # interval 10, unhealthy 2, healthy 3, HTTP default timeout 6 s
    s = _scenario([("a", "us-east-1a", True), ("b", "us-east-1a", True),
                   ("n", "us-east-1a", False)],
                  [{"at": 40.0, "action": "fail", "target": "a"},
                   {"at": 100.0, "action": "recover", "target": "a"},
                   {"at": 90.0, "action": "register", "target": "n"}])
    h = group_health(s, 0)
    # fails its checks at 40 and 50; the second failure times out at 56
    # passes at 100, 110, 120: healthy at 120
    assert _transitions(h, 0) == [(0.0, "healthy"), (56.0, "unhealthy"), (120.0, "healthy")]
    # ALB: initial after registration at 90, healthy after ONE passed check (at 100)
    assert _transitions(h, 2) == [(0.0, "unused"), (90.0, "initial"), (100.0, "healthy")]
    assert [(t, "abn"[k], st_) for t, k, st_ in h.changes] == [
        (56.0, "a", "unhealthy"), (100.0, "n", "healthy"), (120.0, "a", "healthy")]
    # a takes no requests while unhealthy (b is healthy: no fail open), n none while initial
    for t, want in ((55.9, [1, 1, 0]), (56.0, [0, 1, 0]), (95.0, [0, 1, 0]),
                    (100.0, [0, 1, 1]), (120.0, [1, 1, 1])):
        assert h.takes[h.at(t)].astype(int).tolist() == want, t
    # but a failed target is down (answers nothing) from the event on
    assert h.up[h.at(40.0)].tolist() == [False, True, True]


def test_nlb_first_check_needs_the_healthy_threshold_and_timeout_is_honoured():
    s = _scenario([("a", "us-east-1a", True), ("n", "us-east-1a", False)],
                  [{"at": 12.0, "action": "fail", "target": "a"},
                   {"at": 3.0, "action": "register", "target": "n"}],
                  protocol="TCP", interval=10, timeout=4, healthy=3, unhealthy=2)
    h = group_health(s, 0)
    assert _transitions(h, 1) == [(0.0, "unused"), (3.0, "initial"), (33.0, "healthy")]
    # checks at 20 and 30 fail; the result of the one at 30 arrives at 34
    assert _transitions(h, 0) == [(0.0, "healthy"), (34.0, "unhealthy")]


def test_outage_shorter_than_the_checks_is_never_seen():
    s = _scenario([("a", "us-east-1a", True)],
                  [{"at": 41.0, "action": "fail", "target": "a"},
                   {"at": 55.0, "action": "recover", "target": "a"}])
    h = group_health(s, 0)        # one failed check (at 50) of the two needed
    assert _transitions(h, 0) == [(0.0, "healthy")] and h.changes == []
    assert h.up[h.at(45.0)].tolist() == [False]


def _reference_states(spec, events, query):
    """Per target, its state at each ``query`` time from elb_health_ref.state_at over
    every periodic check (no skipping): checks every interval from one interval after
    each registration, a result at the check (pass) or check + timeout (fail); a result
    of a registration that has ended is dropped."""
    from lbcore.elb import HealthCheckSettings
    hc = HealthCheckSettings(spec["protocol"], interval_seconds=spec["interval"],
                             timeout_seconds=spec["timeout"])
    iv, to = spec["interval"], float(hc.timeout_seconds)
    init = 1 if spec["protocol"] == "HTTP" else spec["healthy"]
    end = max([e["at"] for e in events] + [0.0]) + (spec["healthy"] + spec["unhealthy"] + 3) * iv + to
    out = []
    for k, (tid, _, reg0) in enumerate(spec["targets"]):
        evs = sorted((e["at"], i, e["action"]) for i, e in enumerate(events)
                     if e["target"] == tid)
        ups, regs = [(0.0, True)], [(0.0, reg0)]
        for at, _, a in evs:
            if a in ("fail", "recover"):
                ups.append((at, a == "recover"))
            else:
                regs.append((at, a == "register"))

        def last(tl, t):
            return [v for at, v in tl if at <= t][-1]

        # registration periods [start, end) as the API accepts them
        periods, registered, start = [], False, None
        for at, want in regs:
            if want and not registered:
                registered, start = True, at
            elif not want and registered:
                periods.append((start, at))
                registered = False
        if registered:
            periods.append((start, math.inf))
        ref = []
        for at, want in regs[1:]:
            ref.append((at, 0, ("register", at, False) if want else ("deregister", at)))
        if reg0:            # the scenario's own registration comes before any event
            ref.append((0.0, -1, ("register", 0.0, True)))
        for p0, p1 in periods:
            t = p0 + iv
            while t < min(p1, end):
                ok = last(ups, t)
                rt = t if ok else t + to
                if rt < p1:
                    ref.append((rt, 1, ("check", rt, ok)))
                t += iv
        ref.sort(key=lambda x: (x[0], x[1]))
        evlist = [e for _, _, e in ref]
        out.append([state_at(evlist, q, spec["healthy"], spec["unhealthy"], 300.0,
                             initial_threshold=init) for q in query])
    return out


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_health_equals_every_check_replayed_from_scratch(data):
    protocol = data.draw(st.sampled_from(["HTTP", "TCP"]))
    interval = data.draw(st.sampled_from([5, 10, 30]))
    timeout = data.draw(st.one_of(st.none(), st.integers(2, interval - 1)))
    healthy = data.draw(st.integers(2, 4))
    unhealthy = data.draw(st.integers(2, 4))
    n = data.draw(st.integers(1, 3))
    targets = [(f"t{k}", "us-east-1a", data.draw(st.booleans())) for k in range(n)]
    events = data.draw(st.lists(st.fixed_dictionaries({
        "at": st.integers(0, 400).map(lambda x: x / 2),
        "action": st.sampled_from(["fail", "recover", "register", "deregister"]),
        "target": st.sampled_from([t[0] for t in targets])}), max_size=8))
    s = _scenario(targets, events, protocol=protocol, interval=interval, timeout=timeout,
                  healthy=healthy, unhealthy=unhealthy)
    h = group_health(s, 0)
    query = sorted({0.0} | {float(x) for x in h.times}
                   | {e["at"] + d for e in events for d in (0.0, 0.25, interval + 0.5)}
                   | {q + 0.1 for q in h.times})
    spec = {"protocol": protocol, "interval": interval, "timeout": timeout,
            "healthy": healthy, "unhealthy": unhealthy, "targets": targets}
    ref = _reference_states(spec, events, query)
    for qi, q in enumerate(query):
        names = h.state[h.at(q)]
        assert [r[qi] for r in ref] == list(names), (q, events)


def test_minimum_healthy_targets_fail_open_from_lbcore_elb():
    # 3 targets, minimum 2 healthy: one down -> 2 healthy, no fail open; two down -> 1
    # healthy < 2: fail open to the healthy and unhealthy targets
    attrs = {"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "2"}
    s = _scenario([(f"t{k}", "us-east-1a", True) for k in range(3)],
                  [{"at": 10.0, "action": "fail", "target": "t0"},
                   {"at": 100.0, "action": "fail", "target": "t1"}], attributes=attrs)
    h = group_health(s, 0)
    assert h.takes[h.at(50.0)].tolist() == [False, True, True]
    assert h.takes[h.at(200.0)].tolist() == [True, True, True]      # fail open
    s_default = _scenario([(f"t{k}", "us-east-1a", True) for k in range(3)],
                          s["events"])
    h = group_health(s_default, 0)
    assert h.takes[h.at(200.0)].tolist() == [False, False, True]


def test_scenarios_accept_minimum_healthy_targets_and_check_the_timeout():
    toml = small_scenario(algo="round_robin")
    ok = toml.replace('attributes = { "load_balancing.algorithm.type" = "round_robin" }',
                      'attributes = { "load_balancing.algorithm.type" = "round_robin", '
                      '"target_group_health.unhealthy_state_routing.minimum_healthy_targets'
                      '.count" = "2" }', 1)
    assert ok != toml
    s = parse_scenario(ok)
    assert simulate(s, requests=2000)["requests"] == 2000
    bad = toml.replace("health_check = { interval = 5,", "health_check = { interval = 5, timeout = 5,", 1)
    assert bad != toml
    with pytest.raises(ScenarioError) as ei:
        parse_scenario(bad)
    assert any("health_check" in p and "timeout_seconds" in m for p, m in ei.value.problems)


# ---------------------------------------------------------------- throttling

THROTTLED_TOML = '''
[simulation]
requests = 100
[traffic]
rate = [{ at = 0, rps = 100 }]
clients = [{ name = "c", rtt = { us-east-1 = 0.01 } }]
requests = [{ name = "get", host = "www.example.com" }]
[[route53.records]]
name = "www.example.com"
set_identifier = "a"
alias_target = "alb"
[[load_balancers]]
name = "alb"
region = "us-east-1"
default_forward = [{ target_group = "web" }]
[[target_groups]]
name = "web"
targets = [{ id = "w1", az = "us-east-1a", service = { mean = 0.01 } }]
%s
'''


_MODELS = {}


def _engine(limits):
    """A fresh engine whose throttling is ``limits`` [(name, rate, burst)], applying to
    every request (the model is compiled once per number of limits)."""
    from lbcore._sim import Engine
    import numpy as np
    n = len(limits)
    if n not in _MODELS:
        body = "".join(f'[[throttling]]\nname = "l{k}"\nrate = 1.0\nburst = 1\n'
                       for k in range(n))
        _MODELS[n] = compile_scenario(parse_scenario(THROTTLED_TOML % body))[0]
    model = dict(_MODELS[n], b_rate=np.array([r for _, r, _ in limits], float),
                 b_burst=np.array([float(b) for _, _, b in limits]))
    return Engine(model, 0)


@settings(max_examples=25, deadline=None)
@given(rate=st.sampled_from([0.1, 0.3, 1.0, 2.5, 3.0, 7.0, 1 / 3, 0.7]),
       burst=st.integers(1, 5),
       gaps=st.lists(st.one_of(st.integers(0, 4000).map(lambda x: x / 1000),
                               st.sampled_from([0.1, 1 / 3, 0.4, 1.0 / 7])),
                     min_size=1, max_size=60))
def test_throttle_decisions_equal_apigateway_check(rate, burst, gaps):
    # the same arrival times through the simulator's step 5 and ApiGateway.check
    from lbcore.apigateway import ApiGateway, ThrottleSettings
    eng = _engine([("acct", rate, burst)])
    gw = ApiGateway(ThrottleSettings(rate_limit=rate, burst_limit=burst))
    gw.add_stage("api", "prod")          # no stage limit: the account bucket alone
    t = 0.0
    sim, api = [], []
    for g in gaps:
        t += g
        sim.append(eng.check_throttle(0, 0, t) < 0)
        api.append(gw.check(None, "/", "GET", t).allowed)
    assert sim == api


def test_throttle_at_the_exact_refill_edge():
    # rate 1/3 token/s, burst 1: admitted at 0; the next token is there at exactly 3 s
    # (1e9 * 3 ns), which float seconds (0 + 3 * (1/3) = 0.999...) would miss
    eng = _engine([("l", 1 / 3, 1)])
    assert eng.check_throttle(0, 0, 0.0) == -1
    assert eng.check_throttle(0, 0, 2.999999999) == 0
    assert eng.check_throttle(0, 0, 3.0) == -1


def test_throttle_chain_is_all_or_nothing_and_names_the_first_refusal():
    from lbcore.apigateway import ApiGateway, ThrottleSettings
    eng = _engine([("method", 2.0, 2), ("acct", 1.0, 3)])
    gw = ApiGateway(ThrottleSettings(rate_limit=1.0, burst_limit=3))
    gw.add_stage("api", "prod", throttle=ThrottleSettings(rate_limit=2.0, burst_limit=2))
    times = [0.0, 0.0, 0.0, 0.2, 0.5, 0.5, 1.0, 1.0, 1.6, 2.0, 2.0, 2.0, 4.0]
    for t in times:
        code = eng.check_throttle(0, 0, t)
        d = gw.check(None, "/", "GET", t, stage=("api", "prod"))
        assert (code < 0) == d.allowed, t
        if code >= 0:
            assert {0: "STAGE", 1: "ACCOUNT"}[code] == d.level, t


def test_check_throttle_rejects_bad_input():
    eng = _engine([("l", 1.0, 1)])
    with pytest.raises(ValueError, match="client"):
        eng.check_throttle(5, 0, 0.0)
    eng.check_throttle(0, 0, 1.0)
    with pytest.raises(ValueError, match="now"):
        eng.check_throttle(0, 0, 0.5)


# ---------------------------------------------------------------- stickiness rule

@given(target=st.one_of(st.none(), st.integers(-1, 2**31 - 1)),
       expiry=st.floats(allow_nan=False), now=st.floats(allow_nan=False),
       duration=st.floats(0, 1e9))
def test_sticky_cookie_rule_equals_its_reference(target, expiry, now, duration):
    assert lbcore.sticky_cookie_target(target, expiry, now) == cookie_target(target, expiry, now)
    assert lbcore.sticky_cookie_expiry(now, duration) == cookie_expiry(now, duration)


def test_sticky_cookie_rule_rejects_bad_input():
    with pytest.raises(TypeError, match="target"):
        lbcore.sticky_cookie_target("a", 1.0, 0.0)
    with pytest.raises(ValueError, match="target"):
        lbcore.sticky_cookie_target(-2, 1.0, 0.0)
    with pytest.raises(TypeError, match="expiry"):
        lbcore.sticky_cookie_target(1, "x", 0.0)
    with pytest.raises(ValueError, match="now"):
        lbcore.sticky_cookie_target(1, 1.0, math.nan)
    with pytest.raises(ValueError, match="duration"):
        lbcore.sticky_cookie_expiry(0.0, -1.0)
    assert lbcore.sticky_cookie_target(3, 5.0, 5.0) == -1          # expired at its expiry


def test_one_copy_of_the_cookie_rule():
    # the simulator and the ALB both decide through _sticky.pxd
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]      # the checkout, not the install
    sim = (root / "src/lbcore/_sim.pyx").read_text()
    cookies = (root / "python/lbcore/elb/_cookies.py").read_text()
    assert "lb_sticky_cookie_target(" in sim and "ck_expiry[idx] > self.now" not in sim
    assert "sticky_cookie_target(" in cookies and "got[2] > now" not in cookies
