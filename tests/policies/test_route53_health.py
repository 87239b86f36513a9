"""Route 53 HealthCheck: bounded memory, out-of-order observations, several checkers and
the 18% rule (Route 53 Developer Guide, "How Amazon Route 53 determines whether a health
check is healthy"; docs/route53.md, "Health checks")."""
import random
import tracemalloc

import pytest

from lbcore.route53 import HealthCheck


def replay(obs, k, now):
    """The documented rule, from scratch: healthy at first; k consecutive failures make
    it unhealthy, k consecutive passes healthy again; observations in time order."""
    state, run_ok, run = True, None, 0
    for t, ok in sorted(obs, key=lambda x: x[0]):
        if t > now:
            break
        run = run + 1 if ok == run_ok else 1
        run_ok = ok
        if run >= k:
            state = ok
    return state


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_status_matches_the_rule_in_any_call_order(k):
    rng = random.Random(k)
    obs = [(float(10 * i), rng.random() < 0.6) for i in range(120)]
    in_order, shuffled = HealthCheck(failure_threshold=k), HealthCheck(failure_threshold=k)
    for t, ok in obs:
        in_order.observe(ok, now=t)
    for t, ok in rng.sample(obs, len(obs)):
        shuffled.observe(ok, now=t)
    for now in range(-5, 1200, 5):
        want = replay(obs, k, now)
        assert in_order.is_healthy(now) == want == shuffled.is_healthy(now), now


def test_memory_is_bounded_by_history():
    hc = HealthCheck(failure_threshold=3, request_interval=10, history=64)
    rng = random.Random(0)
    obs = []
    tracemalloc.start()
    try:
        for i in range(2_000):                         # warm up past the cap
            ok = rng.random() < 0.7
            obs.append((10.0 * i, ok))
            hc.observe(ok, now=10.0 * i)
        before = tracemalloc.take_snapshot()
        for i in range(2_000, 100_000):
            ok = rng.random() < 0.7
            obs.append((10.0 * i, ok))
            hc.observe(ok, now=10.0 * i)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename")
                if "route53/_health.py" in str(s.traceback))
    assert grown < 16_000            # 98,000 more observations, no more memory kept
    # the newest statuses are still exact
    for now in (999_950.0, 999_970.0, 999_990.0):
        assert hc.is_healthy(now) == replay(obs, 3, now)
    assert hc.next_check_time(999_990.0) == 1_000_000.0


def test_observations_older_than_the_history_are_folded_and_late_ones_fit():
    hc = HealthCheck(failure_threshold=2, history=10)
    for i in range(30):
        hc.observe(True, now=float(i))
    hc.observe(False, now=25.5)                       # late, inside the kept history
    hc.observe(False, now=25.7)
    assert not hc.is_healthy(25.8) and hc.is_healthy(25.4)
    assert hc.is_healthy(27.0)                        # 26 and 27 passed: healthy again
    hc.observe(False, now=5.0)    # dropped long ago: folded into the base, not refused
    assert hc.is_healthy(27.0) and not hc.is_healthy(25.8)


def test_checkers_healthy_when_more_than_18_percent_report_healthy():
    # 10 checkers, threshold 1: each checker's status is its own latest result
    for healthy, want in [(0, False), (1, False), (2, True), (10, True)]:
        hc = HealthCheck(failure_threshold=1, checkers=10)
        for c in range(10):
            hc.observe(c < healthy, now=1.0, checker=c)
        assert hc.is_healthy(1.0) is want, healthy      # 1/10 = 10%, 2/10 = 20% > 18%
    # 5 checkers: one healthy is 20% > 18%
    hc = HealthCheck(failure_threshold=1, checkers=5)
    for c in range(5):
        hc.observe(c == 0, now=1.0, checker=c)
    assert hc.is_healthy(1.0)
    hc.observe(False, now=2.0, checker=0)
    assert not hc.is_healthy(2.0) and hc.is_healthy(1.5)
    # each checker applies the failure threshold to its own results
    hc = HealthCheck(failure_threshold=3, checkers=2)
    for t in (1.0, 2.0, 3.0):
        hc.observe(False, now=t, checker=0)
    for t in (1.0, 2.0):
        hc.observe(False, now=t, checker=1)
    hc.observe(True, now=3.0, checker=1)
    assert hc.is_healthy(3.0)                          # checker 1: 2 failures, still healthy
    hc.observe(False, now=4.0, checker=1)
    assert hc.is_healthy(4.0)                          # a pass broke the run: 1 failure
    # inverted / disabled apply to the aggregate
    inv = HealthCheck(failure_threshold=1, checkers=5, inverted=True)
    assert not inv.is_healthy(0.0)


def test_disabled_is_healthy_before_inverted():
    """HealthCheckConfig.Disabled (API reference): a disabled check's status is always
    healthy, and Inverted is how to stop routing to its resource: Disabled + Inverted is
    unhealthy, for endpoint and calculated checks alike."""
    from lbcore.route53 import CalculatedHealthCheck
    for checkers in (1, 5):
        hc = HealthCheck(failure_threshold=1, checkers=checkers, disabled=True)
        for i in range(checkers):
            hc.observe(False, now=1.0, checker=i)
        assert hc.is_healthy(2.0)
        hc.inverted = True
        assert not hc.is_healthy(2.0)
        hc.disabled = False
        assert hc.is_healthy(2.0)                      # inverted unhealthy = healthy
    down = HealthCheck(failure_threshold=1)
    down.observe(False, now=1.0)
    assert not CalculatedHealthCheck([down], 1).is_healthy(2.0)
    assert CalculatedHealthCheck([down], 1, disabled=True).is_healthy(2.0)
    assert not CalculatedHealthCheck([down], 1, disabled=True, inverted=True).is_healthy(2.0)
    assert CalculatedHealthCheck([down], 1, inverted=True).is_healthy(2.0)


def test_checker_and_history_arguments_are_checked():
    with pytest.raises(ValueError, match="checkers"):
        HealthCheck(checkers=0)
    with pytest.raises(TypeError, match="history"):
        HealthCheck(history=2.5)
    with pytest.raises(ValueError, match="history"):
        HealthCheck(history=3)
    hc = HealthCheck(checkers=3)
    with pytest.raises(ValueError, match="checker"):
        hc.observe(True, now=1.0, checker=3)
    with pytest.raises(ValueError, match="checker"):
        hc.observe(True, now=1.0, checker=True)
