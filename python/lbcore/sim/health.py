"""Target health from health checks: each target group's configured check run against
the scenario's failure events, through :class:`lbcore.elb.TargetGroup`'s state machine.

The simulator decides no health rule here. It only *drives* a real ``TargetGroup`` per
scenario target group (built with the group's protocol, attributes and
:class:`lbcore.elb.HealthCheckSettings`), in time order:

* the scenario's ``register`` / ``deregister`` events call ``TargetGroup.register`` /
  ``deregister`` at their time (targets with ``registered = true`` are registered
  healthy at 0: the run starts in steady state);
* every registered target is checked every ``interval`` seconds, the first check one
  interval after its registration; a check at time *t* passes when the target is up at
  *t* (not failed, its Region not failed, by the scenario's events at or before *t*);
  its result reaches the group at *t* when it passes and at *t* + ``timeout`` when it
  fails (a failed target does not answer: the check times out) and is fed to
  ``TargetGroup.observe``, which applies the thresholds and the first-check rule (an ALB
  target in ``initial`` is healthy after one passed check, an NLB/GWLB one after
  ``healthy_threshold``);
* which targets take new requests or flows at each moment is
  :func:`lbcore.elb.node_pools` on that group (fail open and
  ``target_group_health.unhealthy_state_routing.minimum_healthy_targets`` included).

A check whose result cannot change anything (a healthy target passing again after a
pass, an unhealthy one failing again after a failure, no result of the other outcome in
flight) is skipped up
to the target's next change of state, so the work is bounded by the number of events,
not by the run's length.
"""
from __future__ import annotations

import bisect
import heapq
import math

import numpy as np


__all__ = ["GroupHealth", "group_health", "health_settings", "scenario_target_group",
           "replay_health"]

REGISTERED_STATES = ("initial", "healthy", "unhealthy", "unhealthy.draining", "unavailable")

# event kinds, in the order they apply at one instant
_EVENT, _RESULT, _CHECK = 0, 1, 2


def health_settings(tg: dict):
    """The scenario target group's ``health_check`` as ``lbcore.elb.HealthCheckSettings``
    (``timeout`` omitted: the protocol's default)."""
    from lbcore.elb import HealthCheckSettings
    hc = tg["health_check"]
    return HealthCheckSettings(tg["protocol"], interval_seconds=hc["interval"],
                               timeout_seconds=hc.get("timeout"),
                               healthy_threshold_count=hc["healthy_threshold"],
                               unhealthy_threshold_count=hc["unhealthy_threshold"])


def scenario_target_group(tg: dict):
    """A ``lbcore.elb.TargetGroup`` with the scenario group's protocol, attributes and
    health check (``power_of_two_choices``, lbcore's extension, is the simulator's own
    algorithm code and not an elbv2 value: left out)."""
    from lbcore.elb import TargetGroup
    attrs = dict(tg["attributes"] or {})
    if attrs.get("load_balancing.algorithm.type") == "power_of_two_choices":
        del attrs["load_balancing.algorithm.type"]
    return TargetGroup(protocol=tg["protocol"], name=tg["name"], attributes=attrs,
                       health_check=health_settings(tg))


class GroupHealth:
    """One target group's state over time, as its ``TargetGroup`` went through it.

    ``times``: sorted change times (the first is 0.0); for change point *k* (the state
    from ``times[k]`` until the next) and target *j* in the scenario's order:
    ``state[k][j]`` its elbv2 state name (``"unused"`` when never registered),
    ``takes[k, j]`` whether it takes new requests or flows, ``up[k, j]`` whether it
    answers (not failed, Region up), ``weight[k, j]`` its weight. ``changes``: the
    transitions the checks made, ``(time, target index, state name)``. ``calls``: every
    call made on the ``TargetGroup``, in order, as ``(time, method name, args, kwargs)``:
    :func:`replay_health` makes them again on another target group (the replay's)."""

    __slots__ = ("times", "state", "takes", "up", "weight", "changes", "calls")

    def __init__(self, times, state, takes, up, weight, changes, calls=()):
        self.times, self.state, self.takes = times, state, takes
        self.up, self.weight, self.changes = up, weight, changes
        self.calls = list(calls)

    def at(self, t: float) -> int:
        """The change point in force at time ``t``."""
        return bisect.bisect_right(self.times, t) - 1


def _raw_events(s: dict, gi: int):
    """Per target of group ``gi`` (scenario order): sorted ``(time, seq, key, value)``
    of the scenario's events that touch it (key ``ok``, ``region_ok``, ``registered``,
    ``weight``)."""
    tg = s["target_groups"][gi]
    index = {t["id"]: k for k, t in enumerate(tg["targets"])}
    raw = [[] for _ in tg["targets"]]
    for seq, ev in sorted(enumerate(s["events"]), key=lambda x: (x[1]["at"], x[0])):
        a = ev["action"]
        if a in ("region_fail", "region_recover"):
            for k, t in enumerate(tg["targets"]):
                if t["az"][:-1] == ev["region"]:
                    raw[k].append((ev["at"], seq, "region_ok", a == "region_recover"))
        elif ev.get("target_group") == tg["name"]:
            ids = ([ev["target"]] if ev.get("target") else []) + (ev.get("targets") or [])
            for tid in ids:
                key, val = {"set_weight": ("weight", ev.get("weight")),
                            "fail": ("ok", False), "recover": ("ok", True),
                            "register": ("registered", True),
                            "deregister": ("registered", False)}[a]
                raw[index[tid]].append((ev["at"], seq, key, val))
    return raw


def _up_timeline(raw_k):
    """(times, ups): when target k's up state (not failed, Region up) changes."""
    ok = region_ok = True
    times, ups = [0.0], [True]
    for at, _, key, val in raw_k:
        if key == "ok":
            ok = val
        elif key == "region_ok":
            region_ok = val
        else:
            continue
        up = ok and region_ok
        if up != ups[-1]:
            if times[-1] == at:
                ups[-1] = up
            else:
                times.append(at)
                ups.append(up)
    return times, ups


def group_health(s: dict, gi: int) -> GroupHealth:
    """Run scenario target group ``gi``'s health checks through a ``TargetGroup``."""
    from lbcore.elb import Target, node_pools
    spec = s["target_groups"][gi]
    targets = spec["targets"]
    n = len(targets)
    tg = scenario_target_group(spec)
    calls: list = []

    def call(name, *args, now, **kw):
        # a call that changes tg, written down for replay_health
        if name == "advance":
            args, kw = (now,), {}
        else:
            kw["now"] = now
        calls.append((now, name, args, kw))
        return getattr(tg, name)(*args, **kw)
    hc = tg.health_check
    interval, timeout = float(hc.interval_seconds), float(hc.timeout_seconds)
    raw = _raw_events(s, gi)
    up_tl = [_up_timeline(r) for r in raw]

    def up_at(k: int, t: float) -> bool:
        times, ups = up_tl[k]
        return ups[bisect.bisect_right(times, t) - 1]

    def next_up_change(k: int, t: float) -> float:
        times, _ = up_tl[k]
        i = bisect.bisect_right(times, t)
        return times[i] if i < len(times) else math.inf

    weight = [float(t["weight"]) for t in targets]
    gen = [0] * n                 # registration generation: stale checks are dropped
    inflight = [[0, 0] for _ in range(n)]   # results in flight: [failed, passed]
    last_ok: list = [None] * n
    heap: list = []
    seq = 0

    def push(t, kind, k, payload=None):
        nonlocal seq
        heapq.heappush(heap, (t, kind, seq, k, gen[k], payload))
        seq += 1

    initial = [Target(k, t["az"]) for k, t in enumerate(targets) if t["registered"]]
    if initial:
        call("register", initial, healthy=True, now=0.0)
        for x in initial:
            push(interval, _CHECK, x.id)
    for k, evs in enumerate(raw):
        for at, _, key, val in evs:
            if key in ("registered", "weight"):
                push(at, _EVENT, k, (key, val))

    def state_of(k: int) -> str:
        try:
            return tg.state(k)
        except KeyError:
            return "unused"

    pools_seen: dict = {}

    def snapshot():
        names = [state_of(k) for k in range(n)]
        key = tuple(names)
        takes = pools_seen.get(key)
        if takes is None:
            takes = np.zeros(n, dtype=bool)
            reg = [k for k in range(n) if names[k] in REGISTERED_STATES]
            if reg:
                zones = sorted({targets[k]["az"] for k in reg})
                pool = node_pools(tg, zones, cross_zone=True).pools[0]
                takes[[tg.target(int(j)).id for j in pool.tolist()]] = True
            pools_seen[key] = takes
        return names, takes

    times, states, takes_l, up_l, weight_l, changes = [], [], [], [], [], []

    def record(t):
        names, takes = snapshot()
        ups = [up_at(k, t) for k in range(n)]
        if times and (names, ups, weight) == (states[-1], up_l[-1], weight_l[-1]):
            return
        if times and times[-1] == t:
            states[-1], takes_l[-1], up_l[-1], weight_l[-1] = names, takes, ups, list(weight)
            return
        times.append(t)
        states.append(names)
        takes_l.append(takes)
        up_l.append(ups)
        weight_l.append(list(weight))

    record(0.0)
    # every instant where something may change: the events' own times and the results
    bounds = sorted({at for r in raw for at, _, _, _ in r})
    bi = 0
    while heap or bi < len(bounds):
        t_next = heap[0][0] if heap else math.inf
        while bi < len(bounds) and bounds[bi] < t_next:
            call("advance", now=bounds[bi])
            record(bounds[bi])
            bi += 1
        if not heap:
            break
        t, kind, _, k, g, payload = heapq.heappop(heap)
        if kind != _EVENT and g != gen[k]:
            kind = -1           # a check of a registration that has ended: dropped
        if kind == _EVENT:
            key, val = payload
            if key == "weight":
                weight[k] = float(val)
            elif val and state_of(k) not in REGISTERED_STATES:
                call("register", Target(k, targets[k]["az"]), now=t)
                gen[k] += 1
                inflight[k], last_ok[k] = [0, 0], None
                push(t + interval, _CHECK, k)
            elif not val and state_of(k) in REGISTERED_STATES:
                call("deregister", k, now=t)
                gen[k] += 1
        elif kind == _CHECK:
            ok = up_at(k, t)
            st = state_of(k)
            # (results still in flight with the other outcome could change the state)
            # a failure skipped with timeout >= interval would have landed after the next
            # check's pass: only passes, or failures answered within the interval, skip
            settled = inflight[k][not ok] == 0 and last_ok[k] is ok and \
                (st == "healthy" if ok else
                 (timeout < interval or next_up_change(k, t) == math.inf)
                 and st in ("unhealthy", "unhealthy.draining"))
            if settled:
                # nothing can change until the target's up state does: the first check
                # at or after that change
                tc = next_up_change(k, t)
                if tc < math.inf:
                    push(t + math.ceil((tc - t) / interval) * interval, _CHECK, k)
            else:
                inflight[k][ok] += 1
                push(t if ok else t + timeout, _RESULT, k, ok)
                push(t + interval, _CHECK, k)
        elif kind == _RESULT:
            inflight[k][payload] -= 1
            before = state_of(k)
            after = call("observe", k, payload, now=t)
            last_ok[k] = payload
            if after != before:
                changes.append((t, k, after))
        if not heap or heap[0][0] > t:
            call("advance", now=t)
            record(t)
    return GroupHealth(times, states, np.array(takes_l, dtype=bool).reshape(-1, n),
                       np.array(up_l, dtype=bool).reshape(-1, n),
                       np.array(weight_l, dtype=float).reshape(-1, n), changes, calls)


def replay_health(calls, target_group, until: float, start: int = 0) -> int:
    """Make the recorded calls ``calls[start:]`` whose time is at most ``until`` on
    ``target_group`` (another ``TargetGroup`` built like the recorded one); returns the
    index of the first call not made, for the next ``start``."""
    i = start
    while i < len(calls) and calls[i][0] <= until:
        _, name, args, kwargs = calls[i]
        getattr(target_group, name)(*args, **kwargs)
        i += 1
    return i
