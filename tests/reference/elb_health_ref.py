"""Reference model of the elbv2 target health state machine.

Replays a target's whole event history from the start (no incremental state):
the state after a list of events is found by scanning them in order and
counting the trailing run of identical health-check results since the last
state change.

Events: ("register", t, healthy0) | ("deregister", t) | ("check", t, ok).
``initial_threshold``: passed checks that make an ``initial`` target healthy (ALB and
CLB: 1, "must pass one health check"; default: the healthy threshold).
"""


def state_at(events, now, healthy_threshold, unhealthy_threshold, delay,
             initial_threshold=None):
    if initial_threshold is None:
        initial_threshold = healthy_threshold
    state = "unused"
    run_kind, run_len = None, 0
    drain_until = None
    for ev in events:
        kind, t = ev[0], ev[1]
        if t > now:
            break
        if state == "draining" and t >= drain_until:
            state = "unused"
        if kind == "register":
            if state in ("initial", "healthy", "unhealthy"):
                continue           # rejected by the API: already registered
            state = "healthy" if ev[2] else "initial"
            run_kind, run_len = None, 0
        elif kind == "deregister":
            if state not in ("initial", "healthy", "unhealthy"):
                continue           # rejected: not registered
            drain_until = t + delay
            state = "draining" if delay > 0 else "unused"
        elif kind == "check":
            if state not in ("initial", "healthy", "unhealthy"):
                continue
            ok = ev[2]
            if run_kind == ok:
                run_len += 1
            else:
                run_kind, run_len = ok, 1
            need = initial_threshold if state == "initial" else healthy_threshold
            if ok and state != "healthy" and run_len >= need:
                state = "healthy"
            elif not ok and state != "unhealthy" and run_len >= unhealthy_threshold:
                state = "unhealthy"
    if state == "draining" and now >= drain_until:
        state = "unused"
    return state
