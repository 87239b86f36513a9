"""Compile a validated scenario into the flat tables the compiled loop reads.

Request templates and client classes are finite, so everything that depends only on
them is decided here, once: which listener rule a template matches on each load balancer
(and so its target-group weights), the Route 53 answer distribution per (client class,
DNS name) in each epoch, and the targets' selection weights and up/down state in each
epoch. An *epoch* is a time interval in which none of that changes: its boundaries are
the event times and the times health checks notice them.
"""
from __future__ import annotations

import ipaddress
import math

import numpy as np

from lbcore.sim.health import REGISTERED_STATES
from lbcore.sim.world import build_world
from lbcore.sim._kernels import ALGO_CODES, DIST_CODES
from lbcore.sim.scenario import (alb_condition, attribute_values, client_cidrs,
                                 run_horizon, sticky_groups, template_request)

__all__ = ["compile_scenario", "rule_outcomes", "match_rule", "alb_ruleset", "ALGO_CODES",
           "DIST_CODES"]

TIME_BINS = 100
ALGO_NAMES = {v: k for k, v in ALGO_CODES.items()}
# the algorithms an ApplicationLoadBalancer target group has (power_of_two_choices is
# lbcore's extension, served by the engine's own selector)
ALB_ALGORITHMS = ("round_robin", "least_outstanding_requests", "weighted_random")


# ---------------------------------------------------------------------- listener rules

def alb_ruleset(lb: dict):
    """The load balancer's listener rules compiled by ``lbcore.elb.RuleSet``; each
    rule's action is its index in ``lb["rules"]`` (-1 for the default rule)."""
    from lbcore.elb import RuleSet, parse_rule
    rules = [parse_rule({"Priority": str(rule["priority"]),
                         "Conditions": [alb_condition(c) for c in rule["conditions"]],
                         "Actions": ri}, where=f"rules[{ri}]")
             for ri, rule in enumerate(lb["rules"])]
    return RuleSet(rules, parse_rule({"IsDefault": True, "Actions": -1}, where="default"))


def rule_outcomes(lb: dict, templates: list[dict]) -> list[int]:
    """Per request template: the index of the rule it matches on ``lb`` (-1 = the
    default rule), decided by lbcore.elb's compiled rules (templates are finite, so
    this is done once per (load balancer, template) when the model is compiled)."""
    if lb.get("type") == "network":
        return [-1] * len(templates)
    rs = alb_ruleset(lb)
    return [rs.match(template_request(q)).action for q in templates]


def match_rule(lb: dict, req: dict):
    """(rule index or -1 for the default rule, (forward, fixed_response)) for one request
    ``{method, host, path, headers}`` on a load balancer, through :func:`rule_outcomes`."""
    k = rule_outcomes(lb, [req])[0]
    if k < 0:
        return -1, (lb["default_forward"], lb["default_fixed_response"])
    rule = lb["rules"][k]
    return k, (rule["forward"], rule["fixed_response"])


# ---------------------------------------------------------------------- flow hashing

FLOW_GROUP_PROTOCOLS = ("TCP", "UDP", "TLS", "TCP_UDP", "GENEVE")
HASH_FIELDS = {0: "5-tuple", 1: "3-tuple", 2: "2-tuple"}
M64 = (1 << 64) - 1


def _hash_fields(values: dict) -> int:
    """Hash field set of a flow-hash group from its stickiness attributes: 0 = 5-tuple,
    1 = 3-tuple (GWLB source_ip_dest_ip_proto), 2 = 2-tuple (NLB source_ip, GWLB
    source_ip_dest_ip; the destination is the load balancer, so in effect the source IP)."""
    if not values.get("stickiness.enabled"):
        return 0
    return 1 if values.get("stickiness.type") == "source_ip_dest_ip_proto" else 2


def _protocol_udp_share(protocol: str, udp: float) -> float:
    """UDP share of the new flows a target group of ``protocol`` receives: TCP and TLS
    listeners carry TCP only, UDP only UDP, TCP_UDP the scenario's ``[traffic.flows].udp``
    share; HTTP/HTTPS traffic (an ALB's) is TCP."""
    return {"UDP": 1.0, "TCP_UDP": udp}.get(protocol, 0.0)


def udp_shares(s: dict, mgroups: list) -> np.ndarray:
    """(model group, load balancer) -> UDP share of the flows the group places for that
    load balancer's traffic. A flow-hash group gets its protocol's share
    (:func:`_protocol_udp_share`); a GENEVE inspection group gets the protocol of the
    traffic it inspects: an application load balancer's is TCP, a network load
    balancer's the forward-weighted share of the target groups it forwards to."""
    tgs, lbs = s["target_groups"], s["load_balancers"]
    udp = s["traffic"]["flows"]["udp"]
    proto = {tg["name"]: tg["protocol"] for tg in tgs}
    out = np.zeros((len(mgroups), len(lbs)))
    for li, lb in enumerate(lbs):
        fwd = lb["default_forward"] or []
        tot = sum(f["weight"] for f in fwd)
        lb_udp = (0.0 if lb["type"] != "network" or not tot else
                  sum(f["weight"] * _protocol_udp_share(proto[f["target_group"]], udp)
                      for f in fwd) / tot)
        for g, (gi, _) in enumerate(mgroups):
            p = tgs[gi]["protocol"]
            out[g, li] = lb_udp if p == "GENEVE" else _protocol_udp_share(p, udp)
    return out


def _flow_arrays(s: dict, mgroups: list) -> dict:
    """Model arrays the loop draws new flows from: the UDP share per (group, load
    balancer), the IPv6 share, the client classes' address ranges and the load
    balancers' addresses and ports. Where a flow goes is its NLB / GWLB's to decide
    (``World.flow_path``)."""
    lbs, clients = s["load_balancers"], s["traffic"]["clients"]
    # client source ranges: (client, IPv4 | IPv6) -> [base, host mask] as 2 x 64 bits
    cidr_start, ranges = [0], []
    for ci, cl in enumerate(clients):
        nets = client_cidrs(ci, cl)
        for version in (4, 6):
            for net in nets:
                if net.version == version:
                    base = int(net.network_address)
                    mask = (1 << (net.max_prefixlen - net.prefixlen)) - 1
                    ranges.append((base >> 64, base & M64, mask >> 64, mask & M64))
            cidr_start.append(len(ranges))
    rng = np.array(ranges, np.uint64).reshape(-1, 4)
    v4 = [int(ipaddress.ip_address("198.18.0.0")) + li + 1 for li in range(len(lbs))]
    v6 = [int(ipaddress.ip_address("2001:db8:ffff::")) + li + 1 for li in range(len(lbs))]
    flows = s["traffic"]["flows"]
    return {
        "udp_share": udp_shares(s, mgroups), "flow_ipv6": np.array([flows["ipv6"]]),
        "cidr_start": np.array(cidr_start, np.int32),
        "cidr_hi": rng[:, 0], "cidr_lo": rng[:, 1], "cidr_mask_hi": rng[:, 2],
        "cidr_mask_lo": rng[:, 3],
        "lb_dst_hi": np.array([x for li in range(len(lbs)) for x in (0, v6[li] >> 64)], np.uint64),
        "lb_dst_lo": np.array([x for li in range(len(lbs)) for x in (v4[li], v6[li] & M64)],
                              np.uint64),
        "lb_port": np.array([lb["port"] for lb in lbs], np.int32),
    }


def _flow_groups(s: dict, world, mgroups: list) -> dict:
    """Per flow-hash group, what the report says of it, read off the load balancer
    objects placing its flows: their nodes (Availability Zones), cross-zone load
    balancing as they apply it, and the hashed fields."""
    tgs = s["target_groups"]
    insp = {lb["inspection"]: lb["name"] for lb in s["load_balancers"] if lb.get("inspection")}
    out = {}
    for g, (gi, _) in enumerate(mgroups):
        tg = tgs[gi]
        if tg["protocol"] not in FLOW_GROUP_PROTOCOLS:
            continue
        name = tg["name"]
        if tg["protocol"] == "GENEVE":
            lb = world.inspection.get(insp.get(name))
        else:
            lb = world.load_balancers.get(world.served_by.get(name))
        if lb is None:
            continue            # served by no load balancer: never placed
        own = world.target_groups[name].cross_zone
        out[g] = {"azs": list(lb.availability_zones),
                  "cross_zone": bool(lb.cross_zone if own is None else own),
                  "hash": HASH_FIELDS[_hash_fields(attribute_values(tg))]}
    return out


# ---------------------------------------------------------------------- compile

def _alb_models(s: dict, tg: dict, algorithm: str) -> bool:
    """Whether lbcore.elb's ALB models this target group's selection as the scenario
    states it: an HTTP/HTTPS group with an ALB algorithm (not lbcore's
    power_of_two_choices) and no per-target weights (every ``weight`` 1, no
    ``set_weight`` event: a simulator extension an ALB has no counterpart for). The
    others keep the engine's own selector (docs/simulation.md, "Trace and replay")."""
    return (tg["protocol"] in ("HTTP", "HTTPS") and algorithm in ALB_ALGORITHMS
            and all(t["weight"] == 1 for t in tg["targets"])
            and not any(ev["action"] == "set_weight" and ev.get("target_group") == tg["name"]
                        for ev in s["events"]))


def compile_scenario(s: dict, *, requests: int | None = None,
                     seed: int | None = None) -> tuple[dict, dict]:
    """(model arrays for lbcore._sim.Engine, metadata naming every index). ``seed``
    (default: the scenario's) seeds the policy objects whose random draws the loop
    makes with their own generators (``lbcore.sim.world``)."""
    n_req = int(requests if requests is not None else s["simulation"]["requests"])
    tr = s["traffic"]
    clients, reqs = tr["clients"], tr["requests"]
    lbs = s["load_balancers"]
    lb_index = {lb["name"]: i for i, lb in enumerate(lbs)}
    records = s["route53"]["records"]
    dns_names = sorted({r["name"] for r in records})
    name_index = {n: i for i, n in enumerate(dns_names)}
    tgs = s["target_groups"]
    tg_index = {tg["name"]: i for i, tg in enumerate(tgs)}

    # Model groups: a target group, or with cross-zone off on an ALB group one per zone of
    # its targets (each zone's load balancer node selects among its zone's targets only).
    targets, tg_start, mgroups, sub_of, scen_range = [], [0], [], [], []
    for gi, tg in enumerate(tgs):
        zonal = (tg["protocol"] not in FLOW_GROUP_PROTOCOLS and
                 attribute_values(tg)["load_balancing.cross_zone.enabled"] == "false")
        parts = ([(az, [(k, t) for k, t in enumerate(tg["targets"]) if t["az"] == az])
                  for az in sorted({t["az"] for t in tg["targets"]})] if zonal
                 else [(None, list(enumerate(tg["targets"])))])
        sub_of.append([])
        a0 = len(targets)
        for az, ts in parts:
            sub_of[gi].append(len(mgroups))
            mgroups.append((gi, az))
            for k, t in ts:
                targets.append(dict(t, group=tg["name"], health_check=tg["health_check"],
                                    listed=k))
            tg_start.append(len(targets))
        scen_range.append((a0, len(targets)))
    # the model's target indices in the scenario's order (zonal groups are regrouped by zone)
    report_order = [i for a, b in scen_range
                    for i in sorted(range(a, b), key=lambda i: targets[i]["listed"])]
    T = len(targets)
    tg_algo = []
    for gi, _ in mgroups:
        tg = tgs[gi]
        if tg["protocol"] in FLOW_GROUP_PROTOCOLS:
            tg_algo.append(ALGO_CODES["flow_hash"])
        else:
            tg_algo.append(ALGO_CODES[tg["attributes"].get("load_balancing.algorithm.type",
                                                           "round_robin")])

    # listener rules per (load balancer, template); forward weights per target group
    G, L, R = len(mgroups), len(lbs), len(reqs)
    route_tg = np.zeros((L, R, len(tgs)))
    rule_of = np.full((L, R), -1, dtype=np.int64)
    # per (load balancer, template) also the forward's one target group, for an Engine
    # whose ALBs draw weighted forwards themselves (-1: a fixed response, -2: several,
    # drawn by the ALB's picker)
    fwd_single = np.full((L, R), -1, np.int32)
    for li, lb in enumerate(lbs):
        for ri, k in enumerate(rule_outcomes(lb, reqs)):
            rule_of[li, ri] = k
            fwd = lb["default_forward"] if k < 0 else lb["rules"][k]["forward"]
            for f in fwd or []:
                route_tg[li, ri, tg_index[f["target_group"]]] += f["weight"]
            if fwd:
                fwd_single[li, ri] = tg_index[fwd[0]["target_group"]] if len(fwd) == 1 else -2

    # epochs: every change of a group's state, its health from its checks run through
    # lbcore.elb.TargetGroup (lbcore.sim.health), and of Route 53 record weights
    world = build_world(s, seed)
    health = world.health
    bounds = {0.0}
    for h in health:
        bounds.update(h.times)
    bounds.update(ev["at"] for ev in s["events"] if ev["action"] == "set_record_weight")
    epoch_t = np.array(sorted(bounds))
    E = len(epoch_t)

    tgt_weight = np.zeros((E, T))
    tgt_up = np.zeros((E, T), dtype=np.uint8)
    for gi, (a, b) in enumerate(scen_range):   # fail open is per target group, zones or not
        h = health[gi]
        listed = [targets[i]["listed"] for i in range(a, b)]
        for e, t0 in enumerate(epoch_t):
            k = h.at(float(t0))
            names = h.state[k]
            for i, j in zip(range(a, b), listed):
                tgt_up[e, i] = h.up[k, j] and names[j] in REGISTERED_STATES
                if h.takes[k, j]:
                    tgt_weight[e, i] = h.weight[k, j]

    # Route 53 answers per epoch: what each name's lbcore.route53.HostedZone (the world's,
    # EvaluateTargetHealth asking its load balancer objects) draws from at the epoch's
    # start, as integer cumulative weights; the loop draws with the zone's own generator
    D, C, NN = len(records), len(clients), len(dns_names)
    dns_cum = np.zeros((E, C, NN, D), np.uint64)
    dns_draw = np.zeros((E, C, NN), np.uint8)
    for e, t0 in enumerate(epoch_t):
        world.advance(float(t0))
        for nm, name in enumerate(dns_names):
            zone = world.zones[name]
            for c in range(C):
                sets, w = zone.answer_weights(name, "A", world.clients[c], now=float(t0))
                row = dns_cum[e, c, nm]
                for k, rs in enumerate(sets):
                    row[world.record_index[name, rs.set_identifier]] = 1 if w is None else w[k]
                dns_draw[e, c, nm] = w is not None
    dns_cum = np.cumsum(dns_cum, axis=3, dtype=np.uint64)
    dns_state = np.array([world.zones[n].picker.state for n in dns_names],
                         np.uint64).reshape(NN, 4)

    # throttling: buckets per (client, template), in the order listed
    thr_start, thr_idx = [0], []
    for c, cl in enumerate(clients):
        for r, q in enumerate(reqs):
            for b, th in enumerate(s["throttling"]):
                if (th["clients"] is None or cl["name"] in th["clients"]) and \
                        (th["requests"] is None or q["name"] in th["requests"]):
                    thr_idx.append(b)
            thr_start.append(len(thr_idx))

    rate_t = np.array([p["at"] for p in tr["rate"]])
    rate_v = np.array([p["rps"] for p in tr["rate"]])
    horizon = run_horizon(s, n_req)          # the same end the warnings name
    max_time = s["simulation"]["max_time"]

    wk = np.concatenate([[0], np.cumsum([t["workers"] for t in targets])]).astype(np.int32)
    # target-group weights of each (epoch, load balancer, template) over model groups: a
    # zonal group's weight is split over its zones that have an eligible target (a zone
    # without one leaves DNS; none at all: every zone)
    # (and the zone share alone, per (epoch, target group): the second step of an Engine
    # whose ALBs draw the target group)
    route = np.zeros((E, L, R, G))
    zone = np.zeros((E, len(tgs), G))
    for gi, subs in enumerate(sub_of):
        for e in range(E):
            live = [m for m in subs if np.any(tgt_weight[e, tg_start[m]:tg_start[m + 1]] > 0)]
            live = live or subs
            zone[e, gi, live] = 1.0 / len(live)
            for m in live:
                route[e, :, :, m] = route_tg[:, :, gi] / len(live)
    route_cdf = np.cumsum(route, axis=3)
    zone_cdf = np.cumsum(zone, axis=2)

    flow_arrays = _flow_arrays(s, mgroups)
    # ALB lb_cookie stickiness: a cookie slot per load balancer with a sticky target group
    # (lbcore.elb's ALB sets one AWSALB cookie per user, whichever of its groups served
    # the request; a cookie naming another group's target is not honoured), users per
    # client class (none: every request is a new user)
    sticky = sticky_groups(s)
    served_by = {tg: lb_index[name] for tg, name in world.served_by.items()}
    sticky_lbs = sorted({served_by[name] for name in sticky if name in served_by})
    slot_of = {name: sticky_lbs.index(served_by[name]) for name in sticky if name in served_by}
    tg_slot = [slot_of.get(tgs[gi]["name"], -1) for gi, _ in mgroups]
    tg_stick_dur = [float(attribute_values(tgs[gi])["stickiness.lb_cookie.duration_seconds"])
                    if tg_slot[m] >= 0 else 0.0 for m, (gi, _) in enumerate(mgroups)]
    sessions = [(c.get("sessions") or 0) if slot_of else 0 for c in clients]
    model = {
        **flow_arrays,
        "S": len(sticky_lbs), "tg_slot": np.array(tg_slot, np.int32),
        "tg_stick_dur": np.array(tg_stick_dur),
        "user_start": np.concatenate([[0], np.cumsum(sessions)]).astype(np.int64),
        "C": C, "R": R, "NN": NN, "D": D, "L": L, "G": G, "T": T, "E": E,
        "P": len(rate_t), "B": len(s["throttling"]), "TB": TIME_BINS,
        "rate_t": rate_t, "rate_v": rate_v,
        "client_cdf": np.cumsum([c["weight"] for c in clients]),
        "tmpl_cdf": np.cumsum([q["weight"] for q in reqs]),
        "tmpl_name": np.array([name_index[q["host"]] for q in reqs], np.int32),
        "tmpl_cost": np.array([q["cost"] for q in reqs]),
        "epoch_t": epoch_t, "dns_cum": dns_cum, "dns_draw": dns_draw, "dns_state": dns_state,
        "rec_lb": np.array([lb_index[r["alias_target"]] for r in records], np.int32),
        "route_cdf": route_cdf, "NTG": len(tgs), "fwd_single": fwd_single,
        "fwd_rule": rule_of.astype(np.int32), "zone_cdf": zone_cdf,
        "lb_insp": np.array([sub_of[tg_index[lb["inspection"]]][0] if lb.get("inspection") else -1
                             for lb in lbs], np.int32),
        "rtt": np.array([[cl["rtt"][lb["region"]] for lb in lbs] for cl in clients]),
        "tg_start": np.array(tg_start, np.int32), "tg_algo": np.array(tg_algo, np.int32),
        "tg_slow_start": np.array([float(tgs[gi]["attributes"].get("slow_start.duration_seconds", 0))
                                   for gi, _ in mgroups]),
        "tgt_weight": tgt_weight, "tgt_up": tgt_up,
        "tgt_dist": np.array([DIST_CODES[t["service"]["distribution"]] for t in targets], np.int32),
        "tgt_mean": np.array([t["service"]["mean"] for t in targets]),
        "tgt_sigma": np.array([t["service"]["sigma"] for t in targets]),
        "wk_start": wk,
        "thr_start": np.array(thr_start, np.int32), "thr_idx": np.array(thr_idx, np.int32),
        "b_rate": np.array([th["rate"] for th in s["throttling"]]),
        "b_burst": np.array([float(th["burst"]) for th in s["throttling"]]),
        "tbin_w": max(horizon, 1e-9) * 1.02 / TIME_BINS,
        "max_time": math.inf if max_time is None else max_time,
        # groups an Engine given a World serves with the ALB's own selectors: per model
        # group (target group, zone or None), None for the others; target ids -> model index
        "world_groups": [(tgs[gi]["name"], az) if _alb_models(s, tgs[gi], ALGO_NAMES[tg_algo[m]])
                         else None for m, (gi, az) in enumerate(mgroups)],
        # flow-hash groups an Engine given a World routes through their NLB / GWLB's
        # connection table (World.flow_path): per model group its target group, else None
        "world_flow_groups": [tgs[gi]["name"] if tgs[gi]["protocol"] in FLOW_GROUP_PROTOCOLS
                              else None for gi, _ in mgroups],
        "world_targets": {tg["name"]: {t["listed"]: i for i, t in enumerate(targets)
                                       if t["group"] == tg["name"]} for tg in tgs},
    }
    meta = {
        "scenario": s["simulation"]["name"], "source": s.get("source", "<scenario>"),
        "requests": n_req,
        "clients": [c["name"] for c in clients], "templates": [q["name"] for q in reqs],
        "dns_names": dns_names,
        "records": [(r["name"], r["set_identifier"], r["routing"], r["alias_target"])
                    for r in records],
        "load_balancers": [lb["name"] for lb in lbs],
        "target_groups": [tgs[gi]["name"] + (f" [{az}]" if az else "") for gi, az in mgroups],
        "inspection": [tgs[gi]["protocol"] == "GENEVE" for gi, _ in mgroups],
        # per target group: (name, its model groups, their zones or None)
        "groups": [(tg["name"], sub_of[gi], [mgroups[m][1] for m in sub_of[gi]])
                   for gi, tg in enumerate(tgs)],
        "algorithms": [next(k for k, v in ALGO_CODES.items() if v == a) for a in tg_algo],
        # per model group: lb_cookie duration (s) of a sticky group, else None
        "stickiness": [d if k >= 0 else None for k, d in zip(tg_slot, tg_stick_dur)],
        "sessions": sessions,
        # per cookie slot: the load balancer whose AWSALB cookie it is
        "cookie_sites": [lbs[li]["name"] for li in sticky_lbs],
        "targets": [(t["group"], t["id"], t["az"]) for t in targets],
        "report_order": report_order,
        "limits": [th["name"] for th in s["throttling"]],
        "events": sorted(({"at": ev["at"], "action": ev["action"],
                           "what": ev.get("region")
                           or (ev.get("record") and f"{ev['record']} weight {ev['weight']:g}")
                           or ", ".join(([ev["target"]] if ev.get("target") else [])
                                        + (ev.get("targets") or []))
                           + (f" weight {ev['weight']:g}" if ev["action"] == "set_weight" else "")}
                          for ev in s["events"]), key=lambda e: e["at"]),
        "rule_of": rule_of,
        "flow_groups": _flow_groups(s, world, mgroups),
        # the transitions the health checks made (TargetGroup.observe), in time order
        "health_changes": sorted(
            ({"at": at, "target_group": tgs[gi]["name"], "target": tgs[gi]["targets"][j]["id"],
              "seen": state}
             for gi, h in enumerate(health) for at, j, state in h.changes),
            key=lambda x: (x["at"], x["target_group"], x["target"])),
    }
    return model, meta
