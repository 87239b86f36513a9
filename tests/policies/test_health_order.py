"""Health observations carry the time their check started and may arrive out of order:
TargetGroup.observe orders each target's results by that time, never rejects one (no
"now must not go backwards"), and keeps bounded memory; Route 53's HealthCheck too."""
import math
import random

import pytest
from hypothesis import given, settings, strategies as st

from lbcore.elb import HealthCheckSettings, Target, TargetGroup
from lbcore.elb._targets import REORDER_CAP
from lbcore.route53 import HealthCheck

INTERVAL = 10


def group(kind):
    if kind == "alb":
        return TargetGroup([Target("a", "az"), Target("b", "az")], protocol="HTTP",
                           health_check=HealthCheckSettings(
                               "HTTP", interval_seconds=INTERVAL, timeout_seconds=5,
                               healthy_threshold_count=3, unhealthy_threshold_count=2))
    # NLB with unhealthy.draining: failures start a timed state inside the replay
    return TargetGroup([Target("a", "az"), Target("b", "az")], protocol="TCP",
                       health_check=HealthCheckSettings(
                           "TCP", interval_seconds=INTERVAL, healthy_threshold_count=2,
                           unhealthy_threshold_count=2),
                       target_health_state_unhealthy_draining_interval_seconds="3")


def snapshot(tg, end):
    # the states, which checks are due, and the consecutive counts that decide the
    # next transitions
    tg.advance(end)
    return tg.states(), tg.due(end), list(tg._ok), list(tg._fail)


# observations: (target, start offset within one block, ok); blocks of observations
# that all started within the reordering window, fed block after block, each block in
# any order
obs = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 4 * INTERVAL - 1).map(lambda q: q / 4),
                st.booleans())
# start times distinct per target (equal ones keep the order of the calls)
blocks = st.lists(st.lists(obs, min_size=1, max_size=12, unique_by=lambda o: (o[0], o[1])),
                  min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["alb", "nlb"]), blocks=blocks, seed=st.integers(0, 2**32 - 1),
       routed=st.booleans())
def test_any_order_within_the_window_gives_the_in_order_state(kind, blocks, seed, routed):
    rnd = random.Random(seed)
    # block k starts at 100 + 2.5 * INTERVAL * k: a later block's results are all
    # more than one window newer than the earlier block's
    timed = [[(tid, 100 + 2.5 * INTERVAL * k + dt, ok) for tid, dt, ok in b]
             for k, b in enumerate(blocks)]
    end = 100 + 2.5 * INTERVAL * len(blocks) + 50
    ordered, shuffled = group(kind), group(kind)
    for b in timed:
        for tid, t, ok in sorted(b, key=lambda x: x[1]):
            ordered.observe(tid, ok, now=t)
        mixed = list(b)
        rnd.shuffle(mixed)
        if routed:
            # routing moved the group's time past every start of the block
            shuffled.advance(max(t for _, t, _ in b) + 1)
        before = shuffled.now
        for tid, t, ok in mixed:
            shuffled.observe(tid, ok, now=t)          # never raises
        if routed:
            assert shuffled.now == before             # and never moves time back
    assert snapshot(shuffled, end) == snapshot(ordered, end)


def test_an_observation_older_than_the_group_time_is_recorded_not_rejected():
    tg = group("alb")
    tg.advance(50.0)
    assert tg.observe("a", True, now=40.0) == "healthy"     # ALB: one pass
    assert tg.now == 50.0                                  # time did not go back
    # two failures that started before a pass that was reported first: in start
    # order the pass comes last, and the pass alone does not cure (3 needed)
    tg.observe("b", True, now=48.0)
    tg.observe("b", False, now=45.0)
    assert tg.state("b") == "healthy"                      # fail, pass: counts reset
    tg.observe("b", False, now=44.0)
    # in start order: fail 44, fail 45 -> unhealthy, pass 48 (1 of 3)
    assert tg.state("b") == "unhealthy"


def test_the_reorder_buffer_is_bounded():
    tg = group("alb")
    for i in range(10 * REORDER_CAP):
        tg.observe("a", i % 3 != 0, now=100.0 + i * 0.001)     # all within one window
    assert max(len(p) for p in tg._pending) <= REORDER_CAP
    # results that have left the window are folded: one pending after a long gap
    tg.observe("a", True, now=1000.0)
    assert len(tg._pending[tg.index_of("a")]) == 1
    # a result older than everything kept is applied, not rejected
    assert tg.observe("a", False, now=1.0) in ("healthy", "unhealthy")


@settings(max_examples=100, deadline=None)
@given(oks=st.lists(st.booleans(), min_size=1, max_size=40), seed=st.integers(0, 2**32 - 1),
       threshold=st.integers(1, 5))
def test_route53_any_order_gives_the_in_order_status(oks, seed, threshold):
    times = [10.0 * i for i in range(len(oks))]
    a, b = HealthCheck(failure_threshold=threshold), HealthCheck(failure_threshold=threshold)
    for t, ok in zip(times, oks):
        a.observe(ok, now=t)
    order = list(range(len(oks)))
    random.Random(seed).shuffle(order)
    for i in order:
        b.observe(oks[i], now=times[i])
    for t in times + [times[-1] + 5]:
        assert a.is_healthy(t) == b.is_healthy(t)


def test_route53_an_observation_older_than_the_history_is_not_rejected():
    hc = HealthCheck(failure_threshold=1, history=10)
    for i in range(20):
        hc.observe(True, now=100.0 + i)
    hc.observe(False, now=1.0)                     # older than every kept one: folded
    assert hc.is_healthy(200.0)                    # the newer passes decide
    assert math.isfinite(hc.next_check_time(200.0))
