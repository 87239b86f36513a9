"""Trace files and their replay through lbcore's public policy objects.

``lbcore simulate --trace FILE`` writes every simulated request (:func:`write_trace`);
``lbcore replay FILE`` (:func:`replay`) rebuilds the scenario's objects
(:func:`lbcore.sim.world.build_world`, seeded as the run was) and feeds the same
requests through them in time order, one call at a time:

* the target groups are brought to the request's time (``World.advance``: the recorded
  health checks and registrations), completions due by then are passed to
  ``ApplicationLoadBalancer.complete``;
* ``HostedZone.resolve`` answers the request's DNS name for its client class;
* the throttling limits that apply are checked as one chain (``lbcore.check_chains``
  on the world's ``TokenBuckets``);
* an inspection tier routes the request's flow (``GatewayLoadBalancer.route``);
* ``ApplicationLoadBalancer.route`` (with the user's cookies, at the node of the zone
  the simulator chose) or ``NetworkLoadBalancer.route`` (the request's flow) decides
  the target.

Each answer is compared with what the simulator recorded; the first difference is
reported (docs/simulation.md, "Trace and replay").
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass

import numpy as np

from lbcore.sim.world import build_world

__all__ = ["TRACE_FORMAT", "FIELDS", "write_trace", "read_trace", "replay", "Difference",
           "ReplayResult"]

TRACE_FORMAT = "lbcore-trace-1"
# what a replay compares, in the order a request meets them
FIELDS = ("record", "limit", "inspected_by", "rule", "target_group", "target", "flow_target")


def write_trace(path, columns: dict, scenario: dict, seed: int) -> None:
    """Write a run's trace (``Engine.trace()`` columns) with the scenario it ran and its
    seed as one ``.npz`` file."""
    np.savez_compressed(path, format=np.array(TRACE_FORMAT),
                        scenario=np.array(json.dumps(scenario)), seed=np.array(int(seed)),
                        **columns)


def read_trace(path) -> tuple[dict, dict, int]:
    """(columns, scenario, seed) of a trace file; ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz trace: {exc}") from None
    if str(data.pop("format", "")) != TRACE_FORMAT:
        raise ValueError(f"{path}: not an {TRACE_FORMAT} file")
    try:
        scenario = json.loads(str(data.pop("scenario")))
        seed = int(data.pop("seed"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not an {TRACE_FORMAT} file: no readable scenario and "
                         f"seed ({type(exc).__name__}: {exc})") from None
    from lbcore.sim._kernels import TRACE_FLOW_COLUMNS, TRACE_REQUEST_COLUMNS
    for cols in (TRACE_REQUEST_COLUMNS, TRACE_FLOW_COLUMNS):
        missing = [k for k in cols if k not in data]
        if missing:
            raise ValueError(f"{path}: not an {TRACE_FORMAT} file: no column {missing[0]!r}")
        lengths = {k: len(data[k]) for k in cols}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{path}: columns of different lengths: {lengths}")
    return data, scenario, seed


@dataclass
class Difference:
    """The first request where the public objects decided otherwise than the simulator."""
    request: int            # row of the trace
    time: float
    field: str              # one of FIELDS
    simulated: object
    replayed: object
    context: str

    def __str__(self) -> str:
        return (f"request {self.request} at {self.time:.6f} s ({self.context}): {self.field}: "
                f"the simulator chose {self.simulated}, lbcore's objects {self.replayed}")


@dataclass
class ReplayResult:
    requests: int           # rows replayed (all of them when there is no difference)
    difference: Difference | None
    # requests whose target is not compared: their group uses what an ALB does not
    # have (lbcore's power_of_two_choices, per-target weights), so the simulator's own
    # selector served it
    uncompared: int = 0

    @property
    def ok(self) -> bool:
        return self.difference is None


class _Names:
    """Index <-> name maps of the compiled model (for messages and to find objects)."""

    def __init__(self, model: dict, meta: dict):
        # target group name -> {target id (its scenario index): model target}
        self.index_of = model["world_targets"]
        self.target_name = [f"{g}/{tid}" for g, tid, _ in meta["targets"]]
        # model group -> (target group name, zone or None)
        self.group = [(name, z) for name, subs, zones in meta["groups"]
                      for _, z in sorted(zip(subs, zones))]

    def target_of(self, t: int) -> str:
        return "no target" if t < 0 else self.target_name[t]


def _flow(cols: dict, j: int, model: dict, lb: int):
    from lbcore import Flow
    v6 = int(cols["flow_ipv6"][j])
    return Flow.from_fields(int(cols["flow_protocol"][j]), v6,
                            int(cols["flow_src_hi"][j]), int(cols["flow_src_lo"][j]),
                            int(model["lb_dst_hi"][2 * lb + v6]),
                            int(model["lb_dst_lo"][2 * lb + v6]),
                            int(cols["flow_src_port"][j]), int(model["lb_port"][lb]), 0)


def replay(columns: dict, scenario: dict, seed: int, *, check=FIELDS,
           progress=None) -> ReplayResult:
    """Feed a trace through the scenario's public objects (module docstring); stop at
    the first difference in one of the ``check`` fields (:data:`FIELDS`; the others
    are still replayed, their differences not reported: a decision the objects take
    otherwise changes their later state, so only fields that do not depend on it --
    record, limit, rule -- stay comparable after one). ``progress(done, total)`` is
    called every 65,536 requests."""
    check = frozenset(check)
    if not check <= set(FIELDS):
        raise ValueError(f"check: unknown fields {sorted(check - set(FIELDS))}; "
                         f"expected some of {', '.join(FIELDS)}")
    from lbcore import Flow, Quotas, check_chains
    from lbcore.elb import Forward
    from lbcore.sim.model import compile_scenario
    from lbcore.sim.scenario import template_request

    world = build_world(scenario, seed)
    model, meta = compile_scenario(scenario, requests=1, seed=seed)
    names = _Names(model, meta)
    lbs = scenario["load_balancers"]
    reqs = scenario["traffic"]["requests"]
    records = meta["records"]
    lb_objects = [world.load_balancers[lb["name"]] for lb in lbs]
    gwlbs = [world.inspection.get(lb["name"]) for lb in lbs]
    kinds = [lb["type"] for lb in lbs]
    insp_group = [int(g) for g in model["lb_insp"]]
    quotas = Quotas()
    requests = [template_request(q) for q in reqs]
    c = columns
    n = len(c["time"])
    # each request's flows, by the group that placed them
    flows: dict = {}
    for j, (i, g) in enumerate(zip(c["flow_request"].tolist(), c["flow_group"].tolist())):
        flows[(i, g)] = j
    cookies: dict = {}
    uncompared = 0
    # (completion time, seq, load balancer, decision): an ALB decision to complete, or
    # (a flow-hash load balancer, its TCP flow) to close
    pending: list = []
    seq = 0
    time_l, client_l, tmpl_l = c["time"].tolist(), c["client"].tolist(), c["template"].tolist()
    user_l, name_l, rec_l = c["user"].tolist(), c["name"].tolist(), c["record"].tolist()
    lim_l, insp_l, group_l = c["limit"].tolist(), c["inspected_by"].tolist(), c["group"].tolist()
    target_l, done_l, out_l = c["target"].tolist(), c["done"].tolist(), c["outcome"].tolist()

    for i in range(n):
        t = time_l[i]
        cl, r, user = client_l[i], tmpl_l[i], user_l[i]
        where = (f"client {meta['clients'][cl]}, template {meta['templates'][r]}"
                 + (f", user {user}" if user >= 0 else ""))

        def differ(field, sim, got):
            return ReplayResult(i, Difference(i, t, field, sim, got, where), uncompared)

        def differs(field, same):
            return field in check and not same

        while pending and pending[0][0] <= t:
            done, _, lbo, d = heapq.heappop(pending)
            if isinstance(d, Flow):
                lbo.close(d, done)          # the request ended: its connection closes
            else:
                lbo.complete(d, now=max(t, world.now))
        opened: list = []        # this request's TCP flows: (load balancer, flow)

        def end_flows(at):
            # the request's connections close when it ends (the loop's _close_now /
            # _close_conn): now, or at its completion
            nonlocal seq
            for lbo, f in opened:
                if at <= t:
                    lbo.close(f, t)
                else:
                    heapq.heappush(pending, (at, seq, lbo, f))
                    seq += 1
        world.advance(t)
        if progress is not None and i % 65536 == 0:
            progress(i, n)
        # DNS
        dns_name = meta["dns_names"][name_l[i]]
        ans = world.zones[dns_name].resolve(dns_name, "A", world.clients[cl], now=t)
        got = -1
        if ans.record_sets:
            rs = ans.record_sets[0]
            got = world.record_index[(dns_name, rs.set_identifier)]
        if differs("record", got == rec_l[i]):
            rec = lambda k: "no answer" if k < 0 else records[k][1]  # noqa: E731
            return differ("record", rec(rec_l[i]), rec(got))
        if got < 0 or rec_l[i] < 0:
            continue
        # throttling
        chain = world.chains[(cl, r)]
        limit = -1
        if chain:
            code = int(check_chains(world.buckets, quotas, np.array([chain]),
                                    np.array([-1]), np.array([t]))[0])
            limit = -1 if code == 0 else chain[code - 2]
        if differs("limit", limit == lim_l[i]):
            lim = lambda k: "admit" if k < 0 else meta["limits"][k]  # noqa: E731
            return differ("limit", lim(lim_l[i]), lim(limit))
        if limit >= 0 or lim_l[i] >= 0:
            continue
        lb = int(model["rec_lb"][got])
        # an inspection tier's appliance
        if gwlbs[lb] is not None:
            j = flows.get((i, insp_group[lb]))
            sim_t = insp_l[i]
            got_t = -1
            if j is not None:
                f = _flow(c, j, model, lb)
                d = gwlbs[lb].route(f, t)
                if f.protocol == 6:
                    opened.append((gwlbs[lb], f))
                if d.target is not None:
                    got_t = _target_index(names, lbs[lb]["inspection"], d.target.id)
            if differs("inspected_by", got_t == sim_t):
                return differ("inspected_by", names.target_of(sim_t), names.target_of(got_t))
            if sim_t < 0 or out_l[i] == 1 and target_l[i] < 0 and group_l[i] < 0:
                end_flows(t)   # no appliance, or the appliance was down: the request ends
                continue
        g = group_l[i]
        if kinds[lb] == "network":
            j = flows.get((i, g))
            if j is None:           # no target group: the simulator placed no flow
                end_flows(t)
                continue
            f = _flow(c, j, model, lb)
            d = lb_objects[lb].route(f, t)
            if f.protocol == 6:
                opened.append((lb_objects[lb], f))
            end_flows(done_l[i] if out_l[i] == 0 else t)
            got_t = -1 if d.target is None else _target_index(names, names.group[g][0],
                                                               d.target.id)
            if differs("flow_target", got_t == target_l[i]):
                return differ("flow_target", names.target_of(target_l[i]),
                              names.target_of(got_t))
            continue
        end_flows(done_l[i] if out_l[i] == 0 else t)
        # the ALB: rule, target group, target
        zone = names.group[g][1] if g >= 0 else None
        jar = cookies.get((user, lb)) if user >= 0 else None   # one cookie jar per site
        req = template_request(reqs[r], cookies=jar) if jar else requests[r]
        d = lb_objects[lb].route(req, t, zone=zone)
        sim_rule = int(meta["rule_of"][lb, r])
        sim_priority = None if sim_rule < 0 else lbs[lb]["rules"][sim_rule]["priority"]
        if differs("rule", d.rule_priority == sim_priority):
            return differ("rule", sim_priority or "default", d.rule_priority or "default")
        if isinstance(d, Forward):
            got_g = d.target_group.name
            got_t = _target_index(names, got_g, d.target.id)
            for sc in d.set_cookies:
                if user >= 0:
                    cookies.setdefault((user, lb), {})[sc.name] = sc.value
        else:
            got_g, got_t = None, -1
        sim_g = names.group[g][0] if g >= 0 else None
        if got_g is None and target_l[i] < 0 and getattr(d, "status_code", 0) == 503:
            sim_g = None        # the group had no target to take it: both answer 503
        if differs("target_group", got_g == sim_g):
            return differ("target_group", sim_g or "none", got_g or "none")
        if g >= 0 and model["world_groups"][g] is None:
            uncompared += 1         # the simulator's own selector (no ALB counterpart)
        elif differs("target", got_t == target_l[i]):
            return differ("target", names.target_of(target_l[i]), names.target_of(got_t))
        if isinstance(d, Forward):
            heapq.heappush(pending, (done_l[i], seq, lb_objects[lb], d))
            seq += 1
    if progress is not None:
        progress(n, n)
    return ReplayResult(n, None, uncompared)


def _target_index(names: _Names, group: str, k: int) -> int:
    """The model's index of target ``k`` (its scenario index) of target group ``group``."""
    return names.index_of[group].get(k, -1)
