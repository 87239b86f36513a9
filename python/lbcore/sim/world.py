"""One build step: a validated scenario as lbcore's own policy objects.

:func:`build_world` turns a scenario into the objects a real deployment would run:

* per scenario target group, an ``lbcore.elb.TargetGroup`` (protocol, attributes, health
  check) whose targets are ``Target(k, az)``, ``k`` the target's index in the scenario's
  list; its registrations, health-check results and clock come from the calls
  :func:`lbcore.sim.health.group_health` made (``World.advance`` makes them again);
* per load balancer, an ``ApplicationLoadBalancer`` (one HTTPS listener on 443, the
  scenario's rules as ``describe_rules`` dicts) or a ``NetworkLoadBalancer`` (one
  listener of its target group's protocol on the scenario's port); per ``inspection``
  tier a ``GatewayLoadBalancer`` over its appliance group;
* per DNS name a ``lbcore.route53.HostedZone`` holding its record sets, each an alias
  to its load balancer object (``EvaluateTargetHealth`` asks its ``is_healthy``);
* the throttling limits as one ``lbcore.TokenBuckets`` and, per (client class, request
  template), the chain of limits that applies, in the order listed.

The compiled loop's tables are computed from these objects (``lbcore.sim.model``), and
``lbcore replay`` feeds a run's trace through them one call at a time.
"""
from __future__ import annotations

from lbcore import TokenBuckets, hash_key
from lbcore.sim.health import group_health, replay_health, scenario_target_group
from lbcore.sim.scenario import alb_condition, geolocation_of

__all__ = ["World", "WorldError", "build_world", "ALB_PORT", "derive_seed", "record_set", "scenario_client"]

ALB_PORT = 443          # the port (HTTPS) of every template request and ALB listener


class WorldError(ValueError):
    """A scenario the policy objects refuse (an AWS rule lbcore.elb or lbcore.route53
    enforces): ``path`` is the scenario key it concerns, ``message`` their reason."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def derive_seed(seed: int, label: str) -> int:
    """The seed of one object of the world (a load balancer, a hosted zone) from the
    run's seed: each object draws from its own stream, as separately built objects do."""
    return int(hash_key(f"{int(seed)}:{label}"))


def _alb_actions(forward, fixed_response) -> list[dict]:
    if forward:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": f["target_group"], "Weight": int(f["weight"])}
            for f in forward]}}]
    return [{"Type": "fixed-response",
             "FixedResponseConfig": {"StatusCode": str(int(fixed_response))}}]


def scenario_client(cl: dict):
    """A scenario client class as the ``lbcore.route53.Client`` its queries come from
    (geolocation, location, and its round trips as latencies in ms)."""
    from lbcore.route53 import Client
    g = cl.get("geolocation") or {}
    loc = cl.get("location") or {}
    return Client(continent=g.get("continent"), country=g.get("country"),
                  subdivision=g.get("subdivision"), latitude=loc.get("latitude"),
                  longitude=loc.get("longitude"),
                  latencies={k: v * 1000.0 for k, v in (cl.get("rtt") or {}).items()})


def record_set(r: dict, target):
    """A scenario record as an ``lbcore.route53.RecordSet``: an A alias to ``target``
    (its load balancer object: ``is_healthy(now)``), with the record's routing policy."""
    from lbcore.route53 import AliasTarget, GeoproximityLocation, RecordSet
    routing = r["routing"]
    kw: dict = {}
    if routing == "weighted":
        kw["weight"] = int(r["weight"])
    elif routing == "latency":
        kw["region"] = r["region"]
    elif routing == "failover":
        kw["failover"] = r["failover"]
    elif routing == "geolocation":
        kw["geolocation"] = geolocation_of(r["geolocation"])
    elif routing == "geoproximity":
        kw["geoproximity"] = GeoproximityLocation(
            coordinates=(r["coordinates"]["latitude"], r["coordinates"]["longitude"]),
            bias=r["bias"])
    sid = r["set_identifier"] if routing != "simple" else None
    alias = AliasTarget(r["alias_target"], bool(r["evaluate_target_health"]), target=target)
    return RecordSet(r["name"], "A", set_identifier=sid, alias=alias, **kw)


class World:
    """The scenario's policy objects (see the module docstring). ``advance(t)`` makes
    every recorded target-group call up to time ``t`` (health checks, registrations)
    and the record-weight changes up to ``t``, so the objects are in the state the
    scenario has at ``t``."""

    def __init__(self, scenario: dict, seed: int):
        from lbcore.route53 import HostedZone
        s = scenario
        self.scenario = s
        self.seed = int(seed)
        tgs = s["target_groups"]
        self.target_groups = {}
        for gi, tg in enumerate(tgs):
            try:
                self.target_groups[tg["name"]] = scenario_target_group(tg)
            except (TypeError, ValueError) as exc:
                raise WorldError(f"target_groups[{gi}]", str(exc)) from None
        self.health = [group_health(s, gi) for gi in range(len(tgs))]
        self._next = [0] * len(tgs)
        self.now = -1.0
        spec = {tg["name"]: tg for tg in tgs}
        self.load_balancers: dict = {}
        self.inspection: dict = {}
        # target group name -> the load balancer forwarding to it (one each, elbv2)
        self.served_by: dict = {}
        self._lb_spec = {lb["name"]: lb for lb in s["load_balancers"]}
        for li, lb in enumerate(s["load_balancers"]):
            try:
                self._add_load_balancer(lb, spec)
            except (TypeError, ValueError) as exc:
                raise WorldError(f"load_balancers[{li}]", str(exc)) from None
        self.clients = [scenario_client(c) for c in s["traffic"]["clients"]]
        self.zones: dict = {}
        self._records = {r["set_identifier"]: r for r in s["route53"]["records"]}
        # (name, RecordSet.set_identifier) -> the record's index in the scenario's list
        self.record_index = {(r["name"], r["set_identifier"] if r["routing"] != "simple"
                              else None): i for i, r in enumerate(s["route53"]["records"])}
        by_name: dict = {}
        for r in s["route53"]["records"]:
            by_name.setdefault(r["name"], []).append(r)
        for name in sorted(by_name):
            rs = [record_set(r, self.load_balancers[r["alias_target"]])
                  for r in by_name[name]]
            self.zones[name] = HostedZone(name, rs, seed=derive_seed(seed, f"zone:{name}"))
        # set_record_weight events: an UPSERT of the record set at the event's time
        self._record_events = sorted((ev["at"], i, ev) for i, ev in enumerate(s["events"])
                                     if ev["action"] == "set_record_weight")
        self._next_record = 0
        lim = s["throttling"]
        self.buckets = TokenBuckets(len(lim), rate=[float(x["rate"]) for x in lim],
                                    burst=[float(x["burst"]) for x in lim]) if lim else None
        clients, reqs = s["traffic"]["clients"], s["traffic"]["requests"]
        self.chains = {(c, r): [b for b, th in enumerate(lim)
                                if (th["clients"] is None or cl["name"] in th["clients"])
                                and (th["requests"] is None or q["name"] in th["requests"])]
                       for c, cl in enumerate(clients) for r, q in enumerate(reqs)}

    def _add_load_balancer(self, lb: dict, spec: dict) -> None:
        from lbcore.elb import (ApplicationLoadBalancer, GatewayLoadBalancer,
                                NetworkLoadBalancer)
        name, seed = lb["name"], self.seed
        lb_seed = derive_seed(seed, f"lb:{name}")
        if lb["type"] == "network":
            tg_name = lb["default_forward"][0]["target_group"]
            azs = sorted({t["az"] for t in spec[tg_name]["targets"]})
            attrs = {}
            if lb["cross_zone"] is not None:
                attrs["load_balancing.cross_zone.enabled"] = \
                    "true" if lb["cross_zone"] else "false"
            nlb = NetworkLoadBalancer(azs, attributes=attrs, seed=lb_seed)
            nlb.add_listener(spec[tg_name]["protocol"], int(lb["port"]),
                             self.target_groups[tg_name])
            self.load_balancers[name] = nlb
            self.served_by[tg_name] = name
        else:
            used = {f["target_group"] for f in lb["default_forward"] or []}
            for rule in lb["rules"]:
                used.update(f["target_group"] for f in rule["forward"] or [])
            alb = ApplicationLoadBalancer(
                {k: self.target_groups[k] for k in sorted(used)}, seed=lb_seed)
            rules = [{"Priority": str(rule["priority"]),
                      "Conditions": [alb_condition(c) for c in rule["conditions"]],
                      "Actions": _alb_actions(rule["forward"], rule["fixed_response"])}
                     for rule in lb["rules"]]
            rules.append({"IsDefault": True, "Priority": "default", "Conditions": [],
                          "Actions": _alb_actions(lb["default_forward"],
                                                  lb["default_fixed_response"])})
            alb.add_listener(ALB_PORT, "HTTPS", default_actions=None, rules=rules)
            self.load_balancers[name] = alb
            for k in used:
                self.served_by[k] = name
        if lb.get("inspection"):
            insp = spec[lb["inspection"]]
            azs = sorted({t["az"] for t in insp["targets"]})
            self.inspection[name] = GatewayLoadBalancer(
                azs, self.target_groups[insp["name"]],
                seed=derive_seed(seed, f"gwlb:{name}"))

    def selector(self, target_group: str, zone: str | None, now: float):
        """The request selector the load balancer forwarding to ``target_group`` picks
        with for a request received in ``zone`` at ``now``
        (``ApplicationLoadBalancer.selector``); None when no target may take it."""
        return self.load_balancers[self.served_by[target_group]].selector(target_group, zone,
                                                                         now)

    def flow_path(self, load_balancer: str, target_group: str, now: float):
        """The data path that places ``load_balancer``'s flows on ``target_group`` at
        ``now``: its inspection tier's ``GatewayLoadBalancer`` when that is the group,
        else the ``NetworkLoadBalancer`` itself (``L4LoadBalancer.flow_path``):
        ``(L4Path, targets)``."""
        if self._lb_spec[load_balancer].get("inspection") == target_group:
            lb = self.inspection[load_balancer]
        else:
            lb = self.load_balancers[load_balancer]
        return lb.flow_path(now)

    def target_group_picker(self, load_balancer: str, rule: int):
        """The ALB's weighted-forward picker for rule ``rule`` (its index in the
        scenario's ``rules``, -1 the default): ``(WeightedRandom, target group names)``,
        or None when that forward has one target group."""
        priority = None if rule < 0 else self._lb_spec[load_balancer]["rules"][rule]["priority"]
        return self.load_balancers[load_balancer].target_group_picker(ALB_PORT, priority)

    def advance(self, t: float) -> None:
        """Make the recorded target-group calls up to time ``t`` (not before the last
        ``t``)."""
        if t < self.now:
            raise ValueError(f"t must not go back in time: {t} < {self.now}")
        self.now = t
        for gi, (h, tg) in enumerate(zip(self.health, self.target_groups.values())):
            self._next[gi] = replay_health(h.calls, tg, t, self._next[gi])
        ev = self._record_events
        while self._next_record < len(ev) and ev[self._next_record][0] <= t:
            e = ev[self._next_record][2]
            r = dict(self._records[e["record"]], weight=int(e["weight"]))
            self._records[e["record"]] = r
            self.zones[r["name"]].upsert(record_set(r, self.load_balancers[r["alias_target"]]))
            self._next_record += 1


def build_world(scenario: dict, seed: int | None = None) -> World:
    """The scenario's policy objects, seeded from ``seed`` (default: the scenario's)."""
    return World(scenario, scenario["simulation"]["seed"] if seed is None else seed)
