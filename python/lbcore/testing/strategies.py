"""Hypothesis strategies for property-testing code built on lbcore.

These are the strategies lbcore's own tests use, published so that you can fuzz your
own routing policies the same way::

    from hypothesis import given
    from lbcore.testing import strategies as lbst

    @given(lbst.flow_batches(max_size=50))
    def test_hash_is_deterministic(flows):
        assert (lbcore.flow_hash(flows) == lbcore.flow_hash(flows)).all()

Two layers. Data strategies draw plain data documented on each function (dicts in the
shapes ``lbcore simulate`` scenarios use, tuples, floats), so they work with any policy
of your own. Object strategies draw that data and build the lbcore object that models
it — ``target_groups`` (``lbcore.elb.TargetGroup``), ``rule_sets`` (``RuleSet``),
``application_load_balancers``, ``alb_requests`` (``Request``), ``hosted_zones`` and
``clients`` (``lbcore.route53``), ``throttles`` and ``api_gateways``
(``lbcore.apigateway``); ``flows``/``flow_batches`` draw ``lbcore.Flow``/``Flows``. The
``to_*`` functions are the converters, usable on your own data; built objects carry the
drawn data on ``.data``. See docs/testing.md. hypothesis is a test-time dependency:
``pip install 'lbcore[test]'``.
"""
from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "lbcore.testing.strategies needs hypothesis, which is not installed; "
        "install it with: pip install 'lbcore[test]' (or pip install hypothesis)") from exc

from collections.abc import Mapping

import lbcore

__all__ = [
    "ip_addresses", "flow_tuples", "to_flow", "flows", "flow_batches", "availability_zones",
    "target_sets", "health_event_sequences", "throttle_settings", "arrival_times",
    "http_requests", "alb_conditions", "alb_rule_conditions", "alb_rule_sets",
    "alb_transforms", "coordinates",
    "route53_record_sets", "scenarios",
]

_PROTOCOLS = (6, 17)


def ip_addresses(*, v6: bool | None = None) -> st.SearchStrategy[tuple[bool, int]]:
    """``(is_ipv6, address_int)``; ``v6=None`` draws both families."""
    v4 = st.tuples(st.just(False), st.integers(0, 2**32 - 1))
    six = st.tuples(st.just(True), st.integers(2**32, 2**128 - 1))
    if v6 is None:
        return st.one_of(v4, six)
    return six if v6 else v4


@st.composite
def flow_tuples(draw, *, v6: bool | None = None, protocols=_PROTOCOLS,
                tcp_seq: bool | None = None, edge_cases: bool = False):
    """A flow as plain data: ``(protocol, is_ipv6, src, dst, src_port, dst_port, seq)``
    with addresses as ints and ``seq`` an int (TCP initial sequence number) or None;
    :func:`to_flow` makes it a :class:`lbcore.Flow`.

    ``v6``: None = either family (both endpoints the same family), True/False = only IPv6 /
    IPv4. ``protocols``: IP protocol numbers to draw from (TCP 6, UDP 17 by default), or
    None for any 0..255 (biased to 0, 1, 6, 17, 255). ``tcp_seq``: None = TCP flows carry
    a sequence number or not, True = always, False = never; other protocols never do.
    ``edge_cases``: bias addresses and ports to 0, 1 and all-ones and make source and
    destination equal often (the ties a symmetric hash must get right).
    """
    family = draw(st.booleans()) if v6 is None else v6
    bits = 128 if family else 32
    lo = 0 if edge_cases else (2**32 if family else 0)
    addr = st.integers(lo, 2**bits - 1)
    port = st.integers(0, 65535)
    if edge_cases:
        addr = st.one_of(addr, st.sampled_from([0, 1, 2**bits - 1]))
        port = st.one_of(port, st.sampled_from([0, 65535]))
    src, sport = draw(addr), draw(port)
    dst = draw(st.one_of(addr, st.just(src)) if edge_cases else addr)
    dport = draw(st.one_of(port, st.just(sport)) if edge_cases else port)
    if protocols is None:
        proto = draw(st.one_of(st.sampled_from([6, 17, 1, 0, 255]), st.integers(0, 255)))
    else:
        proto = draw(st.sampled_from(tuple(protocols)))
    seq = None
    if proto == 6 and (tcp_seq if tcp_seq is not None else draw(st.booleans())):
        seq = draw(st.integers(0, 2**32 - 1))
    return proto, family, src, dst, sport, dport, seq


def to_flow(values):
    """A :func:`flow_tuples` tuple → :class:`lbcore.Flow`."""
    import ipaddress
    proto, v6, src, dst, sport, dport, seq = values
    make = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
    return lbcore.Flow(proto, make(src), make(dst), sport, dport, seq)


def flows(*, v6: bool | None = None, protocols=_PROTOCOLS, tcp_seq: bool | None = None,
          edge_cases: bool = False):
    """A :class:`lbcore.Flow` built from :func:`flow_tuples` (same options)."""
    return flow_tuples(v6=v6, protocols=protocols, tcp_seq=tcp_seq,
                       edge_cases=edge_cases).map(to_flow)


def flow_batches(*, min_size: int = 0, max_size: int = 64, v6: bool | None = None,
                 protocols=_PROTOCOLS, tcp_seq: bool | None = None):
    """A :class:`lbcore.Flows` batch of ``min_size..max_size`` flows drawn by :func:`flows`
    (families may be mixed within a batch when ``v6`` is None)."""
    return st.lists(flows(v6=v6, protocols=protocols, tcp_seq=tcp_seq),
                    min_size=min_size, max_size=max_size).map(lbcore.Flows.from_flows)


def availability_zones(region: str = "us-east-1", *, max_zones: int = 6):
    """Zone names of one Region: ``'us-east-1a'`` .. (up to ``max_zones`` letters)."""
    return st.sampled_from([f"{region}{c}" for c in "abcdef"[:max_zones]])


@st.composite
def target_sets(draw, *, min_size: int = 1, max_size: int = 16, region: str = "us-east-1",
                max_zones: int = 3, weights: bool = True, max_weight: int = 999):
    """A list of distinct targets: dicts ``{"id": str, "az": str, "weight": int}``.

    Ids are unique strings; AZs come from ``max_zones`` zones of ``region``; weights are
    1..``max_weight`` (all 1 when ``weights`` is False). Use the list index as the dense
    target index lbcore's kernels take.
    """
    ids = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1,
                                max_size=12), min_size=min_size, max_size=max_size,
                        unique=True))
    zone = availability_zones(region, max_zones=max_zones)
    return [{"id": f"t-{i}", "az": draw(zone),
             "weight": draw(st.integers(1, max_weight)) if weights else 1} for i in ids]


@st.composite
def health_event_sequences(draw, n_targets: int, *, max_events: int = 20,
                           horizon: float = 300.0, initially_healthy: bool = True):
    """Time-ordered health changes for targets ``0..n_targets-1``.

    A list of ``(time, target_index, healthy)``, times in ``[0, horizon]`` non-decreasing;
    each event flips its target's state (so a target alternates unhealthy/healthy
    starting from ``initially_healthy``), which is what a health checker reports.
    """
    if n_targets < 1:
        raise ValueError(f"n_targets must be >= 1, got {n_targets}")
    times = sorted(draw(st.lists(st.floats(0.0, horizon, allow_nan=False), max_size=max_events)))
    state = [initially_healthy] * n_targets
    out = []
    for t in times:
        k = draw(st.integers(0, n_targets - 1))
        state[k] = not state[k]
        out.append((t, k, state[k]))
    return out


def throttle_settings(*, max_rate: float = 10_000.0, max_burst: int = 5_000):
    """API Gateway ThrottleSettings as a dict ``{"rate": float > 0, "burst": int >= 1}``
    (rateLimit requests per second, burstLimit bucket size)."""
    return st.fixed_dictionaries({
        "rate": st.floats(0.001, max_rate, allow_nan=False, allow_infinity=False),
        "burst": st.integers(1, max_burst),
    })


@st.composite
def arrival_times(draw, *, max_size: int = 200, horizon: float = 10.0, bursty: bool = True):
    """Non-decreasing request arrival times in ``[0, horizon]`` (a list of floats).

    With ``bursty``, runs of identical timestamps (simultaneous arrivals) are likely —
    the edge case token buckets get wrong.
    """
    base = sorted(draw(st.lists(st.floats(0.0, horizon, allow_nan=False), max_size=max_size)))
    if not bursty or not base:
        return base
    out = []
    for t in base:
        out.extend([t] * draw(st.integers(1, 4)))
    return out[:max_size]


# ---------------------------------------------------------------------------------------
# HTTP requests, ALB listener rules, Route 53 record sets and whole simulation scenarios,
# as plain data in the shapes `lbcore simulate` scenarios use (docs/simulation.md).

_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")


def _segment():
    return st.text(_PATH_CHARS, min_size=1, max_size=8)


def http_requests(*, hosts=("www.example.com", "api.example.com")):
    """A request dict ``{"method", "host", "path", "headers"}`` (path starts with ``/``;
    header names lower or mixed case)."""
    return st.fixed_dictionaries({
        "method": st.sampled_from(_METHODS),
        "host": st.sampled_from(tuple(hosts)),
        "path": st.lists(_segment(), max_size=4).map(lambda p: "/" + "/".join(p)),
        "headers": st.dictionaries(st.sampled_from(["User-Agent", "x-tenant", "Accept"]),
                                   st.text(_PATH_CHARS, max_size=8), max_size=2),
    })


@st.composite
def _wildcard_pattern(draw, base, keep=""):
    """A pattern matching-or-not ``base``: some characters (not those in ``keep``)
    replaced by ``?`` or ``*``."""
    chars = list(draw(base))
    for i in range(len(chars)):
        if chars[i] not in keep and draw(st.integers(0, 9)) == 0:
            chars[i] = draw(st.sampled_from("*?"))
    return "".join(chars)


@st.composite
def _regex(draw, base, anchor_start=""):
    """A regular expression (``RegexValues``) from the subset ALB supports that
    matches-or-not ``base``: a slice of it, escaped, some characters made ``.`` or a
    class, optionally anchored, a ``+`` on one atom, or an alternation of two."""
    import re
    text = draw(base)
    i = draw(st.integers(0, max(0, len(text) - 1)))
    j = draw(st.integers(i + 1, max(i + 1, len(text))))
    atoms = [re.escape(c) for c in text[i:j]] or ["x"]
    for k in range(len(atoms)):
        roll = draw(st.integers(0, 9))
        if roll == 0:
            atoms[k] = "."
        elif roll == 1:
            atoms[k] = "[a-z0-9]"
    if draw(st.integers(0, 4)) == 0:
        k = draw(st.integers(0, len(atoms) - 1))
        atoms[k] += "+"
    rx = "".join(atoms)
    if i == 0 and draw(st.booleans()):
        rx = "^" + anchor_start + rx
    if j == len(text) and draw(st.booleans()):
        rx += "$"
    if draw(st.integers(0, 5)) == 0:
        rx = f"(?:{rx})|{re.escape(draw(base)[:3]) or 'y'}"
    return rx[:128]


def alb_conditions(*, hosts=("www.example.com", "api.example.com"), regex: bool = False):
    """One listener rule condition ``{"field", "values"[, "name"][, "regex"]}``
    (path-pattern, host-header, http-request-method or http-header), values with
    ``*``/``?`` wildcards. With ``regex``, host-header, path-pattern and http-header
    conditions may instead carry ``RegexValues`` (``"regex": True``; the values are
    regular expressions searched in the Host header, the path, or the header's values)."""
    path = _wildcard_pattern(st.lists(_segment(), min_size=1, max_size=3)
                             .map(lambda p: "/" + "/".join(p)))
    plain = _alb_plain_conditions(hosts, path)
    if not regex:
        return plain
    paths = st.lists(_segment(), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
    regexes = st.one_of(
        st.fixed_dictionaries({"field": st.just("path-pattern"), "regex": st.just(True),
                               "values": st.lists(_regex(paths), min_size=1, max_size=2)}),
        st.fixed_dictionaries({"field": st.just("host-header"), "regex": st.just(True),
                               "values": st.lists(_regex(st.sampled_from(tuple(hosts))),
                                                  min_size=1, max_size=2)}),
        st.fixed_dictionaries({"field": st.just("http-header"), "regex": st.just(True),
                               "name": st.sampled_from(["x-tenant", "User-Agent"]),
                               "values": st.lists(_regex(st.text(_PATH_CHARS, min_size=1,
                                                                 max_size=6)),
                                                  min_size=1, max_size=2)}),
    )
    return st.one_of(plain, regexes)


def _alb_plain_conditions(hosts, path):
    return st.one_of(
        st.fixed_dictionaries({"field": st.just("path-pattern"),
                               "values": st.lists(path, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"field": st.just("host-header"),
                               "values": st.lists(_wildcard_pattern(st.sampled_from(hosts),
                                                                    keep="."),
                                                  min_size=1, max_size=2)}),
        st.fixed_dictionaries({"field": st.just("http-request-method"),
                               "values": st.lists(st.sampled_from(_METHODS), min_size=1,
                                                  max_size=3, unique=True)}),
        st.fixed_dictionaries({"field": st.just("http-header"),
                               "name": st.sampled_from(["x-tenant", "User-Agent"]),
                               "values": st.lists(_wildcard_pattern(
                                   st.text(_PATH_CHARS, min_size=1, max_size=6)),
                                   min_size=1, max_size=2)}),
    )


def alb_rule_conditions(*, hosts=("www.example.com", "api.example.com"),
                        regex: bool = False):
    """The conditions of one listener rule: 1-3 :func:`alb_conditions`, one per field,
    within AWS's per-rule limits of 5 condition values and 5 wildcards."""
    return st.lists(alb_conditions(hosts=hosts, regex=regex), min_size=1, max_size=3,
                    unique_by=lambda c: c["field"]).filter(_within_rule_limits)


@st.composite
def alb_transforms(draw, *, hosts=("www.example.com", "api.example.com")):
    """A rule's transforms ``{"host": [(regex, replace)], "url": [(regex, replace)]}``
    (one ``host-header-rewrite`` and/or one ``url-rewrite``, each one rewrite whose
    regex may or may not match; replacements use ``$1``)."""
    import re
    out = {}
    if draw(st.booleans()):
        h = draw(st.sampled_from(tuple(hosts)))
        label = h.split(".")[0]
        rx = draw(st.sampled_from([f"^({re.escape(label)})\\.", "^(nomatch)\\.",
                                   r"^([a-z]+)\.(.*)$"]))
        out["host"] = [(rx, "internal-$1.")] if rx.endswith("\\.") else \
            [(rx, "$1.internal.$2")]
    if draw(st.booleans()) or not out:
        seg = draw(_segment())
        out["url"] = [(draw(st.sampled_from([f"^/{re.escape(seg)}(/.*)?$", r"^/(.*)$",
                                             "^/never/(x)"])), "/v2/$1")]
    return out


@st.composite
def alb_rule_sets(draw, target_groups, *, max_rules: int = 6, hosts=("www.example.com",
                                                                     "api.example.com"),
                  regex: bool = False, transforms: bool = False):
    """A list of listener rules with distinct priorities 1..50000; each has 1-3 conditions
    (one per field, within AWS's limits of 5 values and 5 wildcards per rule) and either
    ``forward`` (weighted target groups drawn from ``target_groups``) or
    ``fixed_response``. ``regex``: conditions may be ``RegexValues`` ones
    (:func:`alb_conditions`); ``transforms``: rules may carry ``"transforms"``
    (:func:`alb_transforms`). Both are off by default: ``lbcore simulate`` scenarios
    (which draw these rules) do not model them."""
    target_groups = tuple(target_groups)
    prios = draw(st.lists(st.integers(1, 50000), max_size=max_rules, unique=True))
    rules = []
    for p in prios:
        rule = {"priority": p,
                "conditions": draw(alb_rule_conditions(hosts=hosts, regex=regex))}
        if target_groups and draw(st.booleans()):
            rule["forward"] = draw(_forward(target_groups))
        else:
            rule["fixed_response"] = draw(st.sampled_from([200, 404, 503]))
        if transforms and draw(st.booleans()):
            rule["transforms"] = draw(alb_transforms(hosts=hosts))
        rules.append(rule)
    return rules


def _within_rule_limits(conditions):
    """AWS's limits: at most 3 match evaluations per condition, 5 condition values and
    5 wildcards per rule (regexes count as values, not wildcards)."""
    values = [v for c in conditions for v in c["values"]]
    wild = [v for c in conditions if not c.get("regex") for v in c["values"]]
    return (len(values) <= 5 and all(len(c["values"]) <= 3 for c in conditions)
            and sum(v.count("*") + v.count("?") for v in wild) <= 5)


def _forward(target_groups):
    return st.lists(st.fixed_dictionaries({"target_group": st.sampled_from(target_groups),
                                           "weight": st.integers(0, 999)}),
                    min_size=1, max_size=3, unique_by=lambda f: f["target_group"]).filter(
        lambda fs: any(f["weight"] > 0 for f in fs))


def coordinates():
    """``{"latitude": -90..90, "longitude": -180..180}`` (2 decimals, as Route 53 keeps)."""
    return st.fixed_dictionaries({
        "latitude": st.integers(-9000, 9000).map(lambda v: v / 100),
        "longitude": st.integers(-18000, 18000).map(lambda v: v / 100),
    })


@st.composite
def route53_record_sets(draw, name: str, load_balancers: dict, *, max_records: int = 4):
    """Records for one DNS ``name`` sharing one routing policy (simple: one record;
    weighted; latency: at most one per Region; failover: primary and secondary; geoproximity with
    coordinates and bias), aliased to load balancers drawn from ``load_balancers``
    (name -> Region)."""
    lbs = sorted(load_balancers)
    routing = draw(st.sampled_from(["simple", "weighted", "latency", "failover",
                                    "geoproximity"]))
    if routing == "simple":
        n = 1                    # one simple record set per name and type
    elif routing == "failover":
        n = 2
    elif routing == "latency":
        regions = sorted(set(load_balancers.values()))
        n = draw(st.integers(1, len(regions)))
    else:
        n = draw(st.integers(1, max_records))
    recs = []
    for i in range(n):
        lb = draw(st.sampled_from(lbs))
        rec = {"name": name, "set_identifier": f"{name}-{i}", "routing": routing,
               "alias_target": lb, "evaluate_target_health": draw(st.booleans())}
        if routing == "weighted":
            rec["weight"] = draw(st.integers(0, 255))
        elif routing == "latency":
            rec["region"] = regions[i]
            rec["alias_target"] = draw(st.sampled_from(
                [n_ for n_ in lbs if load_balancers[n_] == regions[i]]))
        elif routing == "failover":
            rec["failover"] = ("PRIMARY", "SECONDARY")[i]
        elif routing == "geoproximity":
            rec["coordinates"] = draw(coordinates())
            rec["bias"] = draw(st.integers(-99, 99))
        recs.append(rec)
    return recs


@st.composite
def scenarios(draw, *, max_groups: int = 3, max_targets: int = 4, max_events: int = 6,
              horizon: float = 5.0):
    """A whole valid ``lbcore simulate`` scenario as a dict (what ``tomllib`` would parse):
    clients, request templates, Route 53 records, application load balancers with rules
    (the first one sometimes behind a GENEVE inspection tier), target groups (some with
    lb_cookie stickiness; some client classes have a finite ``sessions`` population),
    throttling and events within ``horizon`` seconds."""
    n_regions = draw(st.integers(1, min(2, max_groups)))
    regions = _REGIONS[:n_regions]
    groups = []
    # one load balancer per Region; each target group serves one of them (elbv2: a
    # target group is used with only one load balancer), at least one each
    owner = list(range(n_regions))
    owner += [draw(st.integers(0, n_regions - 1))
              for _ in range(draw(st.integers(0, max_groups - n_regions)))]
    for g, lb_of in enumerate(owner):
        region = regions[lb_of]
        targets = []
        for t in range(draw(st.integers(1, max_targets))):
            targets.append({
                "id": f"t{t}", "az": f"{region}{'abc'[t % 3]}",
                "weight": draw(st.sampled_from([1.0, 2.0, 5.0])),
                "workers": draw(st.integers(1, 4)),
                "registered": t == 0 or draw(st.booleans()),
                "service": {"distribution": draw(st.sampled_from(
                    ["constant", "exponential", "lognormal"])),
                    "mean": draw(st.sampled_from([0.001, 0.01, 0.05])), "sigma": 0.5},
            })
        algo = draw(st.sampled_from(["round_robin", "least_outstanding_requests",
                                     "weighted_random", "power_of_two_choices"]))
        attributes = {"load_balancing.algorithm.type": algo}
        if algo in ("round_robin", "weighted_random") and draw(st.booleans()):
            attributes["slow_start.duration_seconds"] = draw(st.sampled_from(["0", "30"]))
        if draw(st.booleans()):       # ALB lb_cookie stickiness (matters for clients with sessions)
            attributes["stickiness.enabled"] = "true"
            attributes["stickiness.type"] = "lb_cookie"
            attributes["stickiness.lb_cookie.duration_seconds"] = draw(
                st.sampled_from(["1", "60", "86400"]))
        groups.append({
            "name": f"g{g}",
            "attributes": attributes,
            "health_check": {"interval": 5, "healthy_threshold": 2, "unhealthy_threshold": 2},
            "targets": targets,
        })
    own = [[g["name"] for g, o in zip(groups, owner) if o == i] for i in range(n_regions)]
    if draw(st.booleans()):      # a Gateway Load Balancer inspection tier in front of lb0
        groups.append({
            "name": "inspect", "protocol": "GENEVE", "attributes": {},
            "health_check": {"interval": 5, "healthy_threshold": 2, "unhealthy_threshold": 2},
            "targets": [{"id": f"fw{i}", "az": f"{regions[0]}a", "workers": 2,
                         "service": {"distribution": "exponential", "mean": 0.001}}
                        for i in range(draw(st.integers(1, 3)))],
        })
    lbs = []
    for i, region in enumerate(regions):
        lbs.append({"name": f"lb{i}", "type": "application", "region": region,
                    "rules": draw(alb_rule_sets(own[i], max_rules=3)),
                    "default_forward": draw(_forward(own[i]))})
    if groups[-1]["name"] == "inspect":
        lbs[0]["inspection"] = "inspect"
    # the ALB guide's rule (lbcore.elb enforces it): a forward to several target groups
    # includes no sticky group unless group stickiness is on, which scenarios do not model
    shared = {f["target_group"] for lb in lbs
              for fwd in [lb.get("default_forward")] + [r.get("forward") for r in lb["rules"]]
              if fwd and len(fwd) > 1 for f in fwd}
    for g in groups:
        if g["name"] in shared and g["attributes"].get("stickiness.enabled") == "true":
            for k in ("stickiness.enabled", "stickiness.type",
                      "stickiness.lb_cookie.duration_seconds"):
                g["attributes"].pop(k, None)
    hosts = ["www.example.com", "api.example.com"]
    lb_regions = {lb["name"]: lb["region"] for lb in lbs}
    records = []
    for h in hosts:
        records += draw(route53_record_sets(h, lb_regions))
    clients = [{"name": f"c{i}", "weight": draw(st.sampled_from([1.0, 3.0])),
                "rtt": {r: draw(st.sampled_from([0.0, 0.01, 0.1])) for r in regions},
                "location": draw(coordinates())}
               for i in range(draw(st.integers(1, 3)))]
    for c in clients:
        if draw(st.booleans()):       # a finite user population: sticky cookies recur
            c["sessions"] = draw(st.integers(1, 50))
    templates = []
    for i in range(draw(st.integers(1, 4))):
        req = draw(http_requests(hosts=hosts))
        templates.append(dict(req, name=f"q{i}", weight=draw(st.sampled_from([1.0, 2.0])),
                              cost=draw(st.sampled_from([1.0, 2.0]))))
    throttling = [{"name": f"limit{i}", "rate": draw(st.sampled_from([5.0, 50.0, 500.0])),
                   "burst": draw(st.integers(1, 50)),
                   "requests": draw(st.lists(st.sampled_from([q["name"] for q in templates]),
                                             min_size=1, unique=True))}
                  for i in range(draw(st.integers(0, 2)))]
    events = []
    for _ in range(draw(st.integers(0, max_events))):
        at = draw(st.floats(0.0, horizon, allow_nan=False))
        kind = draw(st.sampled_from(["fail", "recover", "register", "deregister",
                                     "set_weight", "region_fail", "region_recover"]))
        if kind.startswith("region"):
            events.append({"at": at, "action": kind, "region": draw(st.sampled_from(regions))})
        else:
            g = draw(st.sampled_from(groups))
            ev = {"at": at, "action": kind, "target_group": g["name"],
                  "target": draw(st.sampled_from([t["id"] for t in g["targets"]]))}
            if kind == "set_weight":
                ev["weight"] = draw(st.sampled_from([0.5, 1.0, 4.0]))
            events.append(ev)
    return {
        "simulation": {"name": "drawn", "requests": 500, "seed": draw(st.integers(0, 2**32))},
        "traffic": {"rate": [{"at": 0.0, "rps": draw(st.sampled_from([50.0, 500.0, 5000.0]))}],
                    "clients": clients, "requests": templates},
        "route53": {"records": records},
        "load_balancers": lbs,
        "target_groups": groups,
        "throttling": throttling,
        "events": events,
    }


# ---------------------------------------------------------------------------------------
# From plain data to lbcore objects. Each ``to_*`` function converts what the data
# strategies above draw into the lbcore object that models it; each object strategy
# below draws the data and converts it, so a failing example shrinks on the data.

def _lazy(module):
    import importlib
    return importlib.import_module(module)


def to_targets(targets):
    """``target_sets`` data → a list of :class:`lbcore.elb.Target` (id, AZ, weight)."""
    elb = _lazy("lbcore.elb")
    return [elb.Target(t["id"], t["az"], weight=t["weight"]) for t in targets]


def to_target_group(targets, *, name: str = "tg", protocol: str = "HTTP",
                    healthy: bool = True, **attributes):
    """``target_sets`` data → an :class:`lbcore.elb.TargetGroup` named ``name``; targets are
    registered ``healthy`` at time 0. ``attributes``: elbv2 target group attributes as
    keyword arguments (dots as underscores)."""
    elb = _lazy("lbcore.elb")
    return elb.TargetGroup(to_targets(targets), name=name, protocol=protocol,
                           healthy=healthy, now=0.0, **attributes)


def to_aws_condition(condition) -> dict:
    """An ``alb_conditions`` dict → the ``describe_rules`` condition shape
    (``{"Field", "<Field>Config": {...}}``) that :mod:`lbcore.elb` parses."""
    field, values = condition["field"], list(condition["values"])
    vkey = "RegexValues" if condition.get("regex") else "Values"
    if field == "http-header":
        return {"Field": field, "HttpHeaderConfig": {"HttpHeaderName": condition["name"],
                                                     vkey: values}}
    key = {"path-pattern": "PathPatternConfig", "host-header": "HostHeaderConfig",
           "http-request-method": "HttpRequestMethodConfig"}[field]
    return {"Field": field, key: {vkey: values}}


def _check_mapping(value, name: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict (as the strategies draw it), got "
                        f"{type(value).__name__}")


def to_aws_actions(rule) -> list:
    """The ``forward`` list or ``fixed_response`` status of a rule (or of a load balancer's
    default, ``default_forward``/``default_fixed_response``) → elbv2 ``Actions``."""
    _check_mapping(rule, "rule")
    fwd = rule.get("forward", rule.get("default_forward"))
    if fwd:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": f["target_group"], "Weight": f["weight"]} for f in fwd]}}]
    status = rule.get("fixed_response", rule.get("default_fixed_response", 404))
    return [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": str(status)}}]


def to_aws_rule(rule) -> dict:
    """An ``alb_rule_sets`` rule → a ``describe_rules`` rule dict (``Transforms`` when
    the rule has ``"transforms"``)."""
    out = {"Priority": str(rule["priority"]),
           "Conditions": [to_aws_condition(c) for c in rule["conditions"]],
           "Actions": to_aws_actions(rule)}
    tf = rule.get("transforms")
    if tf:
        out["Transforms"] = []
        for kind, typ, key in (("host", "host-header-rewrite", "HostHeaderRewriteConfig"),
                               ("url", "url-rewrite", "UrlRewriteConfig")):
            if tf.get(kind):
                out["Transforms"].append({"Type": typ, key: {"Rewrites": [
                    {"Regex": rx, "Replace": rep} for rx, rep in tf[kind]]}})
    return out


def to_rule_set(rules, default=None):
    """``alb_rule_sets`` data → a compiled :class:`lbcore.elb.RuleSet`; actions stay as
    elbv2 dicts (``rule.action``), ``default`` is the default rule's (fixed 404 if None).
    ``rule_set.match(request).priority`` is the matching rule's priority (None: default)."""
    elb = _lazy("lbcore.elb")
    parsed = [elb.parse_rule(to_aws_rule(r), f"rules[{i}]") for i, r in enumerate(rules)]
    return elb.RuleSet(parsed, elb.Rule(None, [], default or to_aws_actions({})))


def to_request(request, *, port: int = 80, source_ip: str = "0.0.0.0"):
    """An ``http_requests`` dict → an :class:`lbcore.elb.Request` on listener ``port``."""
    elb = _lazy("lbcore.elb")
    return elb.Request(request["method"], request["path"], host=request["host"],
                       headers=list(request["headers"].items()), port=port,
                       source_ip=source_ip)


def to_application_load_balancer(groups, rules, default_forward, *, port: int = 80,
                                 seed: int = 0):
    """Target groups (``{name: target_sets data}``), ``alb_rule_sets`` rules and a default
    ``forward`` list → an :class:`lbcore.elb.ApplicationLoadBalancer` with one HTTP
    listener on ``port``."""
    elb = _lazy("lbcore.elb")
    alb = elb.ApplicationLoadBalancer([to_target_group(ts, name=name)
                                       for name, ts in groups.items()], seed=seed)
    alb.add_listener(port, "HTTP", rules=[to_aws_rule(r) for r in rules],
                     default_actions=to_aws_actions({"forward": default_forward}))
    return alb


def to_record_sets(records, addresses=None):
    """``route53_record_sets`` data → :class:`lbcore.route53.RecordSet` objects. Each
    record answers with its load balancer's address: ``addresses`` maps alias targets to
    an IPv4 string (default: ``192.0.2.<k>`` by first appearance)."""
    r53 = _lazy("lbcore.route53")
    addresses = dict(addresses or {})
    out = []
    for rec in records:
        lb = rec["alias_target"]
        if lb not in addresses:
            addresses[lb] = f"192.0.2.{len(addresses) + 1}"
        # the policy fields keep their names; simple records have no set identifier
        kw = {k: rec[k] for k in ("weight", "region", "failover") if k in rec}
        if rec["routing"] != "simple":
            kw["set_identifier"] = rec["set_identifier"]
        if "coordinates" in rec:
            c = rec["coordinates"]
            kw["geoproximity"] = r53.GeoproximityLocation(
                coordinates=(c["latitude"], c["longitude"]), bias=rec["bias"])
        out.append(r53.RecordSet(rec["name"], "A", [addresses[lb]], **kw))
    return out


def to_client(client):
    """A ``route53_clients`` dict → a :class:`lbcore.route53.Client`."""
    _check_mapping(client, "client")
    r53 = _lazy("lbcore.route53")
    loc = client.get("location") or {}
    _check_mapping(loc, "client['location']")
    return r53.Client(ip=client.get("ip"), continent=client.get("continent"),
                      country=client.get("country"), latitude=loc.get("latitude"),
                      longitude=loc.get("longitude"), latencies=client.get("latencies"))


def to_throttle(settings):
    """A ``throttle_settings`` dict → :class:`lbcore.apigateway.ThrottleSettings`."""
    return _lazy("lbcore.apigateway").ThrottleSettings(settings["rate"], settings["burst"])


def to_api_gateway(config):
    """A ``throttling_configurations`` dict → an :class:`lbcore.apigateway.ApiGateway` with
    stage ``api/prod`` and, when the config has one, usage plan ``plan`` holding its keys."""
    _check_mapping(config, "config")
    apigw = _lazy("lbcore.apigateway")
    opt = {k: None if config.get(k) is None else to_throttle(config[k])
           for k in ("stage", "plan")}
    g = apigw.ApiGateway(to_throttle(config["account"]))
    g.add_stage("api", "prod", throttle=opt["stage"])
    if config.get("api_keys"):
        quota = config.get("quota")
        g.add_usage_plan("plan", api_stages=[{"apiId": "api", "stage": "prod"}],
                         throttle=opt["plan"],
                         quota=None if quota is None else dict(quota))
        for k in config["api_keys"]:
            g.add_api_key(k, "plan")
    return g


# --------------------------------------------------------------- data strategies (more)
_CONTINENTS = {"US": "NA", "CA": "NA", "FR": "EU", "DE": "EU", "JP": "AS", "AU": "OC",
               "BR": "SA"}


@st.composite
def route53_clients(draw, *, regions=_REGIONS):
    """A resolver client dict ``{"ip", "country", "continent", "location", "latencies"}``:
    an IPv4 string, an ISO country and its continent, ``coordinates()``, and measured
    latency in ms to each of ``regions``."""
    country = draw(st.sampled_from(sorted(_CONTINENTS)))
    ip = draw(ip_addresses(v6=False))[1]
    return {"ip": ".".join(str(ip >> s & 255) for s in (24, 16, 8, 0)),
            "country": country, "continent": _CONTINENTS[country],
            "location": draw(coordinates()),
            "latencies": {r: draw(st.floats(1.0, 300.0)) for r in regions}}


@st.composite
def throttling_configurations(draw, *, max_rate: float = 1000.0, max_burst: int = 500,
                              max_keys: int = 3):
    """API Gateway throttling for one account: ``{"account", "stage", "plan", "quota",
    "api_keys"}`` — ``throttle_settings`` dicts for the account (always), the stage and a
    usage plan (each None or a dict), a quota ``{"limit", "period", "offset"}`` or None,
    and the plan's API keys (empty: no usage plan)."""
    ts = throttle_settings(max_rate=max_rate, max_burst=max_burst)
    keys = draw(st.lists(st.sampled_from(["k1", "k2", "k3", "k4"]), max_size=max_keys,
                         unique=True))
    quota = None
    if keys and draw(st.booleans()):
        limit = draw(st.integers(1, 10_000))
        quota = {"limit": limit, "period": draw(st.sampled_from(["DAY", "WEEK", "MONTH"])),
                 "offset": draw(st.integers(0, limit))}
    return {"account": draw(ts), "stage": draw(st.none() | ts),
            "plan": draw(st.none() | ts) if keys else None, "quota": quota, "api_keys": keys}


# --------------------------------------------------------------- object strategies
def target_groups(*, name: str = "tg", protocol: str = "HTTP", healthy: bool = True,
                  algorithms=("round_robin", "least_outstanding_requests",
                              "weighted_random"), **target_set_options):
    """An :class:`lbcore.elb.TargetGroup` over drawn ``target_sets(**target_set_options)``
    (weights and AZs), registered ``healthy`` at time 0; for HTTP/HTTPS, the
    ``load_balancing.algorithm.type`` is drawn from ``algorithms``."""
    if not isinstance(protocol, str):
        raise TypeError(f"protocol must be a str, got {type(protocol).__name__}")
    sets = target_sets(**target_set_options)
    if protocol.upper() not in ("HTTP", "HTTPS") or not algorithms:
        return sets.map(lambda ts: to_target_group(ts, name=name, protocol=protocol,
                                                   healthy=healthy))
    return st.builds(
        lambda ts, algo: to_target_group(ts, name=name, protocol=protocol, healthy=healthy,
                                         load_balancing_algorithm_type=algo),
        sets, st.sampled_from(tuple(algorithms)))


def alb_requests(*, hosts=("www.example.com", "api.example.com"), port: int = 80):
    """An :class:`lbcore.elb.Request` built from ``http_requests(hosts=hosts)``."""
    return http_requests(hosts=hosts).map(lambda r: to_request(r, port=port))


def rule_sets(target_groups=("g0", "g1"), *, max_rules: int = 6,
              hosts=("www.example.com", "api.example.com"), regex: bool = True,
              transforms: bool = True):
    """A compiled :class:`lbcore.elb.RuleSet` built from ``alb_rule_sets`` (actions kept as
    elbv2 dicts), with regex conditions and rule transforms unless ``regex``/``transforms``
    are False; the drawn rule dicts are on its ``.data`` attribute."""
    def build(rules):
        rs = to_rule_set(rules)
        rs.data = rules
        return rs
    return alb_rule_sets(target_groups, max_rules=max_rules, hosts=hosts, regex=regex,
                         transforms=transforms).map(build)


@st.composite
def application_load_balancers(draw, *, max_groups: int = 3, max_targets: int = 6,
                               max_rules: int = 6, port: int = 80,
                               hosts=("www.example.com", "api.example.com"),
                               regex: bool = True, transforms: bool = True):
    """An :class:`lbcore.elb.ApplicationLoadBalancer` with target groups ``g0``.. (drawn
    ``target_sets``, healthy, a drawn algorithm each) and one HTTP listener on ``port``
    whose rules come from ``alb_rule_sets`` (regex conditions and transforms unless
    turned off) and whose default forwards to weighted groups.
    The drawn data is on ``.data``: ``{"target_groups", "rules", "default_forward"}``."""
    names = [f"g{i}" for i in range(draw(st.integers(1, max_groups)))]
    groups = {n: draw(target_sets(max_size=max_targets)) for n in names}
    rules = draw(alb_rule_sets(names, max_rules=max_rules, hosts=hosts, regex=regex,
                               transforms=transforms))
    default = draw(_forward(names))
    algos = {n: draw(st.sampled_from(["round_robin", "least_outstanding_requests",
                                      "weighted_random"])) for n in names}
    elb = _lazy("lbcore.elb")
    alb = elb.ApplicationLoadBalancer(
        [to_target_group(groups[n], name=n, load_balancing_algorithm_type=algos[n])
         for n in names], seed=draw(st.integers(0, 2**32 - 1)))
    alb.add_listener(port, "HTTP", rules=[to_aws_rule(r) for r in rules],
                     default_actions=to_aws_actions({"forward": default}))
    alb.data = {"target_groups": groups, "rules": rules, "default_forward": default}
    return alb


@st.composite
def hosted_zones(draw, zone: str = "example.com", *, names=("www", "api"),
                 load_balancers=None, seed: int | None = None):
    """An :class:`lbcore.route53.HostedZone` for ``zone`` with one ``route53_record_sets``
    group per name in ``names`` (``www.example.com``, ...), answering with the address of
    the drawn load balancer. ``load_balancers``: name → Region (default: one per Region of
    us-east-1, eu-west-1). The drawn records are on ``.data``."""
    r53 = _lazy("lbcore.route53")
    lbs = load_balancers or {"lb-use1": "us-east-1", "lb-euw1": "eu-west-1"}
    records = []
    for n in names:
        records += draw(route53_record_sets(f"{n}.{zone}", lbs))
    z = r53.HostedZone(zone, to_record_sets(records),
                       seed=draw(st.integers(0, 2**32 - 1)) if seed is None else seed)
    z.data = records
    return z


def clients(*, regions=_REGIONS):
    """A :class:`lbcore.route53.Client` built from ``route53_clients(regions=regions)``."""
    return route53_clients(regions=regions).map(to_client)


def throttles(*, max_rate: float = 10_000.0, max_burst: int = 5_000):
    """A :class:`lbcore.apigateway.ThrottleSettings` built from ``throttle_settings``."""
    return throttle_settings(max_rate=max_rate, max_burst=max_burst).map(to_throttle)


def api_gateways(**options):
    """An :class:`lbcore.apigateway.ApiGateway` built from
    ``throttling_configurations(**options)``: stage ``("api", "prod")``, usage plan
    ``"plan"`` with the drawn API keys; the drawn config is on ``.data``."""
    def build(cfg):
        g = to_api_gateway(cfg)
        g.data = cfg
        return g
    return throttling_configurations(**options).map(build)


__all__ += [
    "route53_clients", "throttling_configurations",
    "target_groups", "alb_requests", "rule_sets", "application_load_balancers",
    "hosted_zones", "clients", "throttles", "api_gateways",
    "to_targets", "to_target_group", "to_aws_condition", "to_aws_actions", "to_aws_rule",
    "to_rule_set", "to_request", "to_application_load_balancer", "to_record_sets",
    "to_client", "to_throttle", "to_api_gateway",
]
