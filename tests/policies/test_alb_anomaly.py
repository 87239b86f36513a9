"""Automatic target weights (weighted_random anomaly detection and mitigation) fed by
request outcomes through ``ApplicationLoadBalancer.complete(decision, outcome)``.

Shares are checked against binomial bounds: with ``m`` picks at probability ``p`` the
count is within ``m p +- 5 sqrt(m p (1 - p))`` except with probability < 1e-6 (and the
seeds are fixed, so each run is the same run)."""
import math

import pytest

from lbcore.elb import (AnomalySettings, ApplicationLoadBalancer, FixedResponse, Request,
                        Target, TargetGroup)

REQ = Request("GET", "/", host="www.example")
WINDOW = 10.0


def make(n=4, mitigation="on", algorithm="weighted_random", seed=3, settings=None, **attrs):
    tg = TargetGroup([Target(f"t{i}", "az-a") for i in range(n)], protocol="HTTP",
                     name="web", healthy=True, now=0.0,
                     load_balancing_algorithm_type=algorithm,
                     load_balancing_algorithm_anomaly_mitigation=mitigation, **attrs)
    alb = ApplicationLoadBalancer([tg], seed=seed, anomaly=settings)
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    return alb, tg


def run(alb, t0, seconds, rps, error_rate):
    """Route ``rps`` requests per second for ``seconds``; target id -> the probability
    that its request fails (5xx). Errors are deterministic per request index so the
    runs repeat exactly. Returns (counts by target id, end time)."""
    counts = {}
    m = int(seconds * rps)
    acc = {}
    for i in range(m):
        t = t0 + (i + 1) / rps
        d = alb.route(REQ, t)
        tid = d.target.id
        counts[tid] = counts.get(tid, 0) + 1
        rate = error_rate.get(tid, 0.0)
        # a fraction `rate` of this target's requests fail, spread evenly
        acc[tid] = acc.get(tid, 0.0) + rate
        fail = acc[tid] >= 1.0
        if fail:
            acc[tid] -= 1.0
        alb.complete(d, 503 if fail else 200, now=t)
    return counts, t0 + m / rps


def within(count, m, p, k=5.0):
    sd = math.sqrt(m * p * (1 - p))
    return m * p - k * sd <= count <= m * p + k * sd


def detection(alb):
    return {d["Target"]["Id"]: d["AnomalyDetection"] for d in alb.describe_target_health("web")}


def test_anomalous_target_share_drops_to_the_floor_then_recovers():
    alb, tg = make()
    floor = alb.anomaly_settings.floor
    # target t0 fails 60% of its requests for 80 s, the others 1%
    bad = {"t0": 0.6, "t1": 0.01, "t2": 0.01, "t3": 0.01}
    _, t = run(alb, 0.0, 80, 200, bad)
    assert detection(alb)["t0"] == {"Result": "anomalous", "MitigationInEffect": "yes"}
    for tid in ("t1", "t2", "t3"):
        assert detection(alb)[tid] == {"Result": "normal", "MitigationInEffect": "no"}
    # now at the floor: t0's share is floor / (floor + 3), far below the fair 1/4
    counts, t = run(alb, t, 9, 1000, bad)
    m = sum(counts.values())
    p = floor / (floor + 3)
    assert within(counts.get("t0", 0), m, p)
    assert not within(counts.get("t0", 0), m, 0.25)
    assert counts.get("t0", 0) > 0                  # reduced, never cut off
    # t0 recovers: its weight doubles per window back to 1 (MitigationInEffect stays
    # yes while it ramps), then its share is the fair 1/4 again
    good = {"t0": 0.0, "t1": 0.0, "t2": 0.0, "t3": 0.0}
    _, t = run(alb, t, 150, 200, good)
    assert detection(alb)["t0"] == {"Result": "normal", "MitigationInEffect": "no"}
    counts, t = run(alb, t, 9, 1000, good)
    m = sum(counts.values())
    assert within(counts["t0"], m, 0.25)


def test_mitigation_reduces_share_step_by_step():
    # each anomalous evaluation halves the weight: after the first window t0 is at 1/2
    alb, tg = make()
    bad = {"t0": 1.0}
    _, t = run(alb, 0.0, WINDOW, 200, bad)     # window 1 counted, evaluated next record
    counts, t = run(alb, t, 5, 1000, bad)
    m = sum(counts.values())
    p = 0.5 / (0.5 + 3)
    assert within(counts["t0"], m, p)
    assert not within(counts["t0"], m, 0.25)


def test_healthy_fleet_is_untouched():
    # every target fails 5% of its requests: nobody deviates from the others
    alb, tg = make(n=5)
    rates = {f"t{i}": 0.05 for i in range(5)}
    for _ in range(6):
        counts, t = run(alb, 0.0 if _ == 0 else t, 20, 300, rates)
        assert all(v == {"Result": "normal", "MitigationInEffect": "no"}
                   for v in detection(alb).values())
    counts, t = run(alb, t, 5, 1000, rates)
    m = sum(counts.values())
    assert all(within(counts[f"t{i}"], m, 0.2) for i in range(5))


def test_mitigation_off_detects_but_keeps_the_share():
    alb, tg = make(mitigation="off")
    bad = {"t0": 0.6}
    _, t = run(alb, 0.0, 60, 200, bad)
    assert detection(alb)["t0"] == {"Result": "anomalous", "MitigationInEffect": "no"}
    counts, t = run(alb, t, 5, 1000, bad)
    m = sum(counts.values())
    assert within(counts["t0"], m, 0.25)


def test_no_detection_with_fewer_than_three_healthy_targets():
    alb, tg = make(n=2)
    _, t = run(alb, 0.0, 60, 200, {"t0": 1.0})
    assert detection(alb)["t0"]["Result"] == "normal"
    counts, t = run(alb, t, 5, 1000, {"t0": 1.0})
    assert within(counts["t0"], sum(counts.values()), 0.5)


def test_connection_errors_and_timeouts_are_errors():
    alb, tg = make()
    t = 0.0
    for i in range(8000):
        t += 0.01
        d = alb.route(REQ, t)
        if d.target.id == "t0":
            outcome = "connection_error" if i % 2 else "timeout"
        else:
            outcome = 404 if i % 7 == 0 else 200          # 4xx is not an error
        alb.complete(d, outcome, now=t)
    assert detection(alb)["t0"]["Result"] == "anomalous"
    assert all(detection(alb)[f"t{i}"]["Result"] == "normal" for i in (1, 2, 3))


def test_a_target_that_leaves_healthy_restarts_normal():
    alb, tg = make()
    _, t = run(alb, 0.0, 40, 200, {"t0": 1.0})
    assert detection(alb)["t0"]["MitigationInEffect"] == "yes"
    tg.set_health("t0", False, now=t)
    _, t = run(alb, t, 25, 200, {})
    assert detection(alb)["t0"] == {"Result": "normal", "MitigationInEffect": "no"}
    assert alb.describe_target_health("web")[0]["TargetHealth"] == {"State": "unhealthy"}


def test_other_algorithms_have_no_anomaly_detection():
    alb, tg = make(algorithm="round_robin", mitigation="off")
    d = alb.route(REQ, 1.0)
    alb.complete(d, 500, now=1.0)                    # accepted, nothing to feed
    assert all("AnomalyDetection" not in x for x in alb.describe_target_health("web"))


def test_outcome_validation_and_non_forward_decisions():
    alb, tg = make()
    d = alb.route(REQ, 1.0)
    for bad, exc in ((True, TypeError), (1.5, TypeError), (99, ValueError), (600, ValueError),
                     ("error", ValueError), (b"500", TypeError)):
        with pytest.raises(exc, match="outcome"):
            alb.complete(d, bad, now=1.0)
    assert d.leased                                  # a rejected outcome releases nothing
    alb.complete(d, 200, now=1.0)
    assert d.completed
    with pytest.raises(ValueError, match="already completed"):
        alb.complete(d, 200, now=1.0)
    alb.complete(FixedResponse(503), 503, now=1.0)   # nothing forwarded: nothing to report
    with pytest.raises(KeyError, match="target_group_key"):
        alb.describe_target_health("nope")


def test_settings_validation_and_slow_start_rejected():
    with pytest.raises(TypeError, match="anomaly"):
        ApplicationLoadBalancer([make()[1]], anomaly={"window_seconds": 1})
    for kw, exc in (({"window_seconds": 0}, ValueError), ({"floor": 0.0}, ValueError),
                    ({"floor": 1.5}, ValueError), ({"min_requests": 0}, ValueError),
                    ({"min_targets": 1}, ValueError), ({"z_threshold": "3"}, TypeError),
                    ({"min_requests": 2.0}, TypeError),
                    ({"window_seconds": math.nan}, ValueError)):
        with pytest.raises(exc, match=next(iter(kw))):
            AnomalySettings(**kw)
    with pytest.raises(ValueError, match="slow_start.*anomaly_mitigation"):
        make(slow_start_duration_seconds="30")
    make(mitigation="off", slow_start_duration_seconds="30")      # detection only: fine


def test_custom_settings_window():
    # a short window and a small sample: mitigation starts within a second
    alb, tg = make(settings=AnomalySettings(window_seconds=0.5, min_requests=5))
    _, t = run(alb, 0.0, 1.2, 200, {"t0": 1.0})
    assert detection(alb)["t0"] == {"Result": "anomalous", "MitigationInEffect": "yes"}


def test_a_pool_made_after_mitigation_starts_with_the_weights():
    # cross-zone off: the zone's pool is made only when a request arrives in that zone,
    # after t0 was mitigated through requests that came with no zone
    alb, tg = make(load_balancing_cross_zone_enabled="false")
    _, t = run(alb, 0.0, 40, 200, {"t0": 1.0})
    assert detection(alb)["t0"]["MitigationInEffect"] == "yes"
    counts = {}
    for i in range(4000):
        d = alb.route(REQ, t, zone="az-a")
        counts[d.target.id] = counts.get(d.target.id, 0) + 1
        alb.complete(d)
    assert not within(counts.get("t0", 0), 4000, 0.25)
    assert counts.get("t0", 0) < 4000 * 0.25 / 4


def test_outcomes_from_threads():
    """4 threads route and complete with outcomes through one ALB whose clock the ALB
    reads (the thread rule): no exception, and the failing target is found and
    mitigated as in a serial run."""
    import threading

    class Tick:
        def __init__(self):
            self.t = 0.0

        def __call__(self):
            self.t += 0.0005
            return self.t

    tg = TargetGroup([Target(f"t{i}", "az-a") for i in range(4)], protocol="HTTP",
                     name="web", healthy=True, now=0.0,
                     load_balancing_algorithm_type="weighted_random",
                     load_balancing_algorithm_anomaly_mitigation="on")
    alb = ApplicationLoadBalancer([tg], seed=5, clock=Tick())
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    errors = []

    def work():
        try:
            for _ in range(10000):
                d = alb.route(REQ)
                alb.complete(d, 500 if d.target.id == "t0" else 200)
        except Exception as exc:            # pragma: no cover - the failure being tested
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert detection(alb)["t0"] == {"Result": "anomalous", "MitigationInEffect": "yes"}
    assert all(detection(alb)[f"t{i}"]["Result"] == "normal" for i in (1, 2, 3))
