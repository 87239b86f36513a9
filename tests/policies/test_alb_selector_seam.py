"""ApplicationLoadBalancer.selector and target_group_picker: the selector and picker a
request's route uses, so a simulator that picks with them picks what route picks."""
import pytest
from hypothesis import given, settings, strategies as st

from lbcore.elb import ApplicationLoadBalancer, Request, Target, TargetGroup


def _alb(algo, n, seed, slow=0):
    tgs = [TargetGroup([Target(f"i-{k}", "az-a") for k in range(n)], protocol="HTTP",
                       name=name, healthy=True, now=0.0,
                       load_balancing_algorithm_type=algo, slow_start_duration_seconds=slow)
           for name in ("web", "api")]
    alb = ApplicationLoadBalancer(tgs, seed=seed)
    alb.add_listener(80, default_actions=[{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": "web", "Weight": 3},
                         {"TargetGroupArn": "api", "Weight": 1}]}}])
    return alb, tgs


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["round_robin", "least_outstanding_requests", "weighted_random"]),
       st.integers(1, 6), st.integers(0, 2**32), st.sampled_from([0, 30]),
       st.lists(st.booleans(), min_size=1, max_size=60))
def test_picking_with_the_seam_equals_route(algo, n, seed, slow, ends):
    if algo == "least_outstanding_requests":
        slow = 0                    # (slow start is for round robin and weighted random)
    a, _ = _alb(algo, n, seed, slow)
    b, tgs = _alb(algo, n, seed, slow)
    picker, keys = b.target_group_picker(80)
    assert keys == ["web", "api"]
    req = Request("GET", "/", host="x.example")
    open_a, open_b = [], []
    for step, end in enumerate(ends):
        now = 0.5 + step * 0.7
        if end and open_a:          # complete the oldest request on both sides
            a.complete(open_a.pop(0))
            sel, i = open_b.pop(0)
            sel.release_index(i)
        d = a.route(req, now)
        gi = picker.pick_index(now)
        key = keys[gi]
        sel = b.selector(key, None, now)
        i = sel.pick_index(now)
        assert (d.target_group.name, d.target.id) == (key, tgs[gi].target(i).id), step
        open_a.append(d)
        open_b.append((sel, i))


def test_seam_answers_none_and_refuses_what_it_lacks():
    tg = TargetGroup([], protocol="HTTP", name="empty")
    alb = ApplicationLoadBalancer([tg])
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "empty"}])
    assert alb.selector("empty", None, 1.0) is None           # nothing registered
    assert alb.target_group_picker(80) is None                # one target group
    with pytest.raises(KeyError, match="no target group"):
        alb.selector("other", None, 1.0)
    with pytest.raises(KeyError, match="port"):
        alb.target_group_picker(81)
    with pytest.raises(ValueError, match="now"):
        alb.selector("empty", None, float("nan"))
