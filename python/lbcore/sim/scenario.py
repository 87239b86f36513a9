"""Load and validate a simulation scenario (TOML).

Every problem is collected with its location, so ``lbcore validate`` can report them all
at once: ``ScenarioError.problems`` is a list of ``(key_path, message)`` pairs, and
``str(error)`` is one ``file: key.path: message`` line per problem.
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
import reprlib
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["ScenarioError", "load_scenario", "parse_scenario", "validate", "DEFAULT_SCENARIO",
           "alb_condition", "attribute_values", "template_request", "client_cidrs",
           "sticky_groups", "scenario_warnings", "run_horizon", "dns_name_problem"]

DEFAULT_SCENARIO = Path(__file__).with_name("default.toml")

# AWS's three, plus lbcore's power of two choices
ALGORITHMS = ("round_robin", "least_outstanding_requests", "weighted_random",
              "power_of_two_choices")
DISTRIBUTIONS = ("constant", "exponential", "lognormal")
ROUTING = ("simple", "weighted", "latency", "failover", "geoproximity", "geolocation")
LB_TYPES = ("application", "network")
CONDITION_FIELDS = ("path-pattern", "host-header", "http-request-method", "http-header",
                    "query-string")
# target-group attributes lbcore simulate models; any other elbv2 key is accepted only at
# its API default (so a describe_target_group_attributes listing can be pasted as is)
MODELLED_ATTRIBUTES = ("load_balancing.algorithm.type", "slow_start.duration_seconds",
                       "load_balancing.cross_zone.enabled", "stickiness.enabled",
                       "stickiness.type", "stickiness.lb_cookie.duration_seconds",
                       # applied by lbcore.elb.node_pools on the group's TargetGroup
                       "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
                       "target_group_health.unhealthy_state_routing.minimum_healthy_targets"
                       ".percentage")
TARGET_ACTIONS = ("fail", "recover", "register", "deregister", "set_weight")
MAX_WORKERS = 1_000_000
# ALB lb_cookie stickiness: the engine keeps one cookie (target, expiry: 12 bytes) per
# (user, sticky target group) in a flat array; this bounds its size (240 MB)
MAX_COOKIES = 20_000_000
EVENT_ACTIONS = TARGET_ACTIONS + ("region_fail", "region_recover", "set_record_weight")


class ScenarioError(ValueError):
    """A scenario is invalid: ``problems`` lists every ``(key_path, message)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        # the file name as messages show it: on one line, and not 4,000 characters wide
        if not source.isprintable():
            source = repr(source)
        if len(source) > 200:
            source = source[:100] + "..." + source[-60:]
        # one line per problem, whatever a message quotes
        self.problems = [(path, " ".join(str(msg).split("\n"))) for path, msg in problems]
        super().__init__("\n".join(
            f"{source}: {path}: {msg}" if path else f"{source}: {msg}"
            for path, msg in self.problems))


# ---------------------------------------------------------------------------------------
# A small declarative schema: each spec checks one value and appends problems.

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel = 60, 60, 3
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = 4


def _show(v) -> str:
    """``repr(v)`` for a message: one line, at most ~60 characters, safe on values nested
    arbitrarily deep (a 2,000-character name or a 900-level array stays readable)."""
    return _REPR.repr(v)


def _tname(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(v), type(v).__name__)


class _Ctx:
    def __init__(self):
        self.problems: list[tuple[str, str]] = []

    def add(self, path, msg):
        self.problems.append((path, msg))

    def has(self, path) -> bool:
        """Whether a problem is already reported at ``path`` (a value that failed its
        check is None afterwards: not to be reported again as missing)."""
        return any(p == path for p, _ in self.problems)


class Num:
    def __init__(self, lo=None, hi=None, lo_open=False, integer=False, default=None,
                 required=False):
        self.lo, self.hi, self.lo_open, self.integer = lo, hi, lo_open, integer
        self.default, self.required = default, required

    def describe(self):
        kind = "an integer" if self.integer else "a number"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo}")
        if self.hi is not None:
            parts.append(f"<= {self.hi}")
        return kind + (" " + " and ".join(parts) if parts else "")

    def check(self, v, path, ctx):
        ok_type = (isinstance(v, int) and not isinstance(v, bool)) if self.integer else \
            (isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok_type or (isinstance(v, float) and not math.isfinite(v)):
            ctx.add(path, f"expected {self.describe()}, got {_tname(v)} {_show(v)}")
            return None
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo) or \
                self.hi is not None and v > self.hi:
            ctx.add(path, f"expected {self.describe()}, got {_show(v)}")
            return None
        return v if self.integer else float(v)


class Str:
    def __init__(self, choices=None, default=None, required=False, pattern=None, what=None,
                 max_len=None, source=None):
        self.choices, self.default, self.required = choices, default, required
        self.pattern, self.what, self.max_len, self.source = pattern, what, max_len, source

    def describe(self):
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return self.what or "a string"

    def check(self, v, path, ctx):
        if not isinstance(v, str) or (self.choices and v not in self.choices) or \
                (self.pattern and not re.fullmatch(self.pattern, v)):
            ctx.add(path, f"expected {self.describe()}, got {_tname(v)} {_show(v)}")
            return None
        if self.max_len is not None and len(v) > self.max_len:
            ctx.add(path, f"expected {self.describe()} of at most {self.max_len} characters"
                    f"{f' ({self.source})' if self.source else ''}, got {len(v):,}")
            return None
        return v


class Bool:
    def __init__(self, default=None, required=False):
        self.default, self.required = default, required

    def check(self, v, path, ctx):
        if not isinstance(v, bool):
            ctx.add(path, f"expected true or false, got {_tname(v)} {_show(v)}")
            return None
        return v


class Arr:
    def __init__(self, item, default=None, required=False, min_len=0):
        self.item, self.default, self.required, self.min_len = item, default, required, min_len

    def check(self, v, path, ctx):
        if not isinstance(v, list):
            ctx.add(path, f"expected an array, got {_tname(v)} {_show(v)}")
            return None
        if len(v) < self.min_len:
            ctx.add(path, f"expected at least {self.min_len} entr{'y' if self.min_len == 1 else 'ies'}, got {len(v)}")
        return [self.item.check(x, f"{path}[{i}]", ctx) for i, x in enumerate(v)]


class Map:
    """A table with free-form string keys and values of one spec."""

    def __init__(self, value, default=None, required=False):
        self.value, self.default, self.required = value, default, required

    def check(self, v, path, ctx):
        if not isinstance(v, dict):
            ctx.add(path, f"expected a table, got {_tname(v)} {_show(v)}")
            return None
        return {k: self.value.check(x, f"{path}.{_key(k)}", ctx) for k, x in v.items()}


class Table:
    def __init__(self, fields: dict, default=None, required=False):
        self.fields, self.default, self.required = fields, default, required

    def check(self, v, path, ctx):
        if not isinstance(v, dict):
            ctx.add(path, f"expected a table, got {_tname(v)} {_show(v)}")
            return None
        out = {}
        for k in v:
            if k not in self.fields:
                ctx.add(f"{path}.{_key(k)}" if path else _key(k),
                        "unknown key; expected one of " + ", ".join(self.fields))
        for k, spec in self.fields.items():
            sub = f"{path}.{_key(k)}" if path else _key(k)
            if k in v:
                out[k] = spec.check(v[k], sub, ctx)
            elif spec.required:
                ctx.add(sub, "missing required key")
                out[k] = None
            else:
                d = spec.default
                out[k] = d() if callable(d) else d
        return out


class Attrs:
    """elbv2 attributes: a table of string values, or the API's list of
    ``{Key, Value}`` tables. Checked here for shape only (string keys and values, no
    key twice); ``lbcore.elb``'s attribute parser checks names and values later. The
    result is a dict with ``paths``: key -> the location to name in messages."""

    class Values(dict):
        paths: dict

    def __init__(self, default=None, required=False):
        self.default, self.required = default, required

    def check(self, v, path, ctx):
        out = Attrs.Values()
        out.paths = {}
        if isinstance(v, dict):
            items = [(k, x, f"{path}.{_key(k)}") for k, x in v.items()]
        elif isinstance(v, list):
            items = []
            for i, a in enumerate(v):
                p = f"{path}[{i}]"
                if not isinstance(a, dict) or set(a) != {"Key", "Value"}:
                    ctx.add(p, f"expected a table {{ Key = ..., Value = ... }}, got "
                            f"{_tname(a)} {_show(a)}")
                    continue
                if not isinstance(a["Key"], str):
                    ctx.add(f"{p}.Key", f"expected a string, got {_tname(a['Key'])} {_show(a['Key'])}")
                    continue
                items.append((a["Key"], a["Value"], f"{p}.Value"))
        else:
            ctx.add(path, "expected a table of strings or an array of { Key, Value } tables, "
                    f"got {_tname(v)} {_show(v)}")
            return None
        for k, x, p in items:
            if not isinstance(x, str):
                ctx.add(p, f"expected a string (elbv2 attribute values are strings), got "
                        f"{_tname(x)} {_show(x)}")
            elif k in out:
                ctx.add(p, f"attribute {_show(k)} given twice")
            else:
                out[k] = x
                out.paths[k] = p
        return out


def attribute_values(tg: dict) -> dict:
    """A target group's attributes parsed by ``lbcore.elb``'s elbv2 attribute parser:
    typed values for every key of its family, defaults filled in. ``power_of_two_choices``
    (an lbcore extension, not an elbv2 value) is passed through as is."""
    from lbcore.elb import TARGET_GROUP_ATTRIBUTES, family_of_protocol, parse_attributes
    attrs = dict(tg["attributes"] or {})
    p2c = attrs.get("load_balancing.algorithm.type") == "power_of_two_choices"
    if p2c:
        del attrs["load_balancing.algorithm.type"]
    values, _ = parse_attributes(TARGET_GROUP_ATTRIBUTES, family_of_protocol(tg["protocol"]),
                                 tg["protocol"], attrs)
    if p2c:
        values["load_balancing.algorithm.type"] = "power_of_two_choices"
    return values


class Cond:
    """An ALB rule condition: the scenario's ``{ field, values, name }`` or the elbv2
    API's ``{ Field, ...Config }`` (checked by ``lbcore.elb.parse_condition`` later)."""

    def __init__(self, required=False):
        self.required, self.default = required, None

    def check(self, v, path, ctx):
        if isinstance(v, dict) and "Field" in v:
            return {"aws": v}
        return _CONDITION.check(v, path, ctx)


def alb_condition(cond: dict) -> dict:
    """A scenario condition in the elbv2 ``describe_rules`` shape."""
    if "aws" in cond:
        return cond["aws"]
    f = cond["field"]
    if f == "http-header":
        return {"Field": f, "HttpHeaderConfig": {"HttpHeaderName": cond["name"],
                                                 "Values": cond["values"]}}
    if f == "query-string":
        pairs = []
        for v in cond["values"]:
            k, sep, val = v.partition("=")
            pairs.append({"Key": k, "Value": val} if sep else {"Value": v})
        return {"Field": f, "QueryStringConfig": {"Values": pairs}}
    key = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig",
           "http-request-method": "HttpRequestMethodConfig"}[f]
    return {"Field": f, key: {"Values": cond["values"]}}


def geolocation_of(g: dict):
    """A scenario ``geolocation`` table as an ``lbcore.route53.Geolocation``."""
    from lbcore.route53 import Geolocation
    return Geolocation(g.get("continent"), g.get("country"), g.get("subdivision"))


def client_geolocation_problem(g: dict):
    """What is wrong with a client class's ``geolocation`` (None if nothing): its
    continent, and its country with subdivision, each checked by :func:`geolocation_of`
    as a record's would be (a client has both a continent and a country; '*' is a
    record's default location, not a place a client can be)."""
    if g.get("country") == "*":
        return "a client's country must be a 2-letter ISO 3166 code ('*' is the default " \
               "location of a record, not where a client is)"
    try:
        if g.get("continent") is not None:
            geolocation_of({"continent": g["continent"]})
        if g.get("country") is not None or g.get("subdivision") is not None:
            geolocation_of({"country": g.get("country"), "subdivision": g.get("subdivision")})
    except ValueError as exc:
        return str(exc)
    return None


def template_request(q: dict, cookies: dict | None = None):
    """A request template as the ``lbcore.elb.Request`` listener rules evaluate (HTTPS on
    443), with the user's ``cookies`` when given."""
    from lbcore.elb import Request
    return Request(q["method"], q["path"], host=q["host"], headers=list(q["headers"].items()),
                   cookies=cookies, protocol="HTTPS", port=443)


def client_cidrs(ci: int, client: dict) -> list:
    """A client class's source address ranges (ipaddress networks): its ``cidrs``, or
    by default 10.<ci>.0.0/16 and fd00:<ci>::/48."""
    given = client.get("cidrs")
    if given:
        return [ipaddress.ip_network(c, strict=False) for c in given]
    return [ipaddress.ip_network(f"10.{ci % 256}.0.0/16"),
            ipaddress.ip_network(f"fd00:{ci % 65536:x}::/48")]


def _key(k: str) -> str:
    """A TOML key as a key path prints it: bare, or quoted (escaped, so a key with a line
    break stays on one line; shortened past 60 characters)."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,60}", k):
        return k
    q = json.dumps(k if len(k) <= 60 else k[:57] + "...", ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in q)


# Route 53 names (developer guide, "DNS domain name format"): labels of at most 63 bytes,
# at most 255 bytes in all including the dots; records and hosted zones may use printable
# ASCII (no spaces) -- others must be written as \ooo octal escapes.
DNS_NAME_MAX, DNS_LABEL_MAX = 255, 63
# Route 53 API reference, ResourceRecordSet: SetIdentifier is 1 to 128 characters.
SET_IDENTIFIER_MAX = 128


def dns_name_problem(name: str):
    """What is wrong with a Route 53 record name (None if nothing)."""
    n = name[:-1] if name.endswith(".") and name != "." else name
    if not n or n == ".":
        return "expected a DNS name such as 'www.example.com', got an empty name"
    if not all(33 <= ord(c) <= 126 for c in n):
        return (f"expected a DNS name of printable ASCII characters without spaces (Route 53), "
                f"got {_show(name)}")
    size = len(n) + 1          # wire length: a length byte per label and the root byte
    if size > DNS_NAME_MAX:
        return (f"expected a DNS name of at most {DNS_NAME_MAX} bytes with its dots "
                f"(Route 53), got {size:,}")
    for label in n.split("."):
        if not label:
            return f"expected a DNS name without empty labels ('..'), got {_show(name)}"
        if len(label) > DNS_LABEL_MAX:
            return (f"expected DNS labels of at most {DNS_LABEL_MAX} characters (Route 53), "
                    f"got one of {len(label):,}: {_show(label)}")
    return None


class DnsName:
    """A Route 53 record name (or a request's host, which must name one)."""

    def __init__(self, default=None, required=False):
        self.default, self.required = default, required

    def check(self, v, path, ctx):
        if not isinstance(v, str):
            ctx.add(path, f"expected a DNS name, got {_tname(v)} {_show(v)}")
            return None
        msg = dns_name_problem(v)
        if msg:
            ctx.add(path, msg)
            return None
        return v


NAME = r"[A-Za-z0-9][A-Za-z0-9._:/-]*"

SERVICE = Table({
    "distribution": Str(DISTRIBUTIONS, default="exponential"),
    "mean": Num(0, lo_open=True, required=True),
    "sigma": Num(0, default=0.5),
}, required=True)

TARGET = Table({
    "id": Str(required=True, pattern=NAME, what="a target id"),
    "az": Str(required=True, pattern=r"[a-z]{2}(-[a-z]+)+-\d+[a-z]",
              what="an Availability Zone name such as 'us-east-1a'"),
    "weight": Num(0, lo_open=True, default=1.0),
    "workers": Num(1, 100_000, integer=True, default=8),
    "registered": Bool(default=True),
    "service": SERVICE,
})

HEALTH_CHECK = Table({
    "interval": Num(5, 300, integer=True, default=30),
    "timeout": Num(2, 120, integer=True),      # omitted: the protocol's default
    "healthy_threshold": Num(2, 10, integer=True, default=5),
    "unhealthy_threshold": Num(2, 10, integer=True, default=2),
}, default=lambda: {"interval": 30, "timeout": None, "healthy_threshold": 5,
                    "unhealthy_threshold": 2})

TARGET_GROUP = Table({
    "name": Str(required=True, pattern=NAME, what="a target group name"),
    "protocol": Str(("HTTP", "HTTPS", "TCP", "UDP", "TLS", "TCP_UDP", "GENEVE"), default="HTTP"),
    "attributes": Attrs(default=dict),
    "health_check": HEALTH_CHECK,
    "targets": Arr(TARGET, required=True, min_len=1),
})

FORWARD = Arr(Table({
    "target_group": Str(required=True, pattern=NAME, what="a target group name"),
    "weight": Num(0, 999, integer=True, default=1),
}), min_len=1)

_CONDITION = Table({
    "field": Str(CONDITION_FIELDS, required=True),
    "name": Str(),
    "values": Arr(Str(), required=True, min_len=1),
})

RULE = Table({
    "priority": Num(1, 50000, integer=True, required=True),
    "conditions": Arr(Cond(), required=True, min_len=1),
    "forward": FORWARD,
    "fixed_response": Num(200, 599, integer=True),
})

LOAD_BALANCER = Table({
    "name": Str(required=True, pattern=NAME, what="a load balancer name"),
    "type": Str(LB_TYPES, default="application"),
    "region": Str(required=True, pattern=r"[a-z]{2}(-[a-z]+)+-\d+", what="a Region name"),
    "rules": Arr(RULE, default=list),
    "default_forward": FORWARD,
    "default_fixed_response": Num(200, 599, integer=True),
    "inspection": Str(pattern=NAME, what="a GENEVE target group name"),
    "port": Num(1, 65535, integer=True, default=443),
    "cross_zone": Bool(),
})

GEOLOCATION = Table({
    "continent": Str(what="a continent code such as 'EU'"),
    "country": Str(what="a 2-letter country code, or '*' (the default location)"),
    "subdivision": Str(what="a US state code"),
})

COORDINATES = Table({
    "latitude": Num(-90, 90, required=True),
    "longitude": Num(-180, 180, required=True),
})

RECORD = Table({
    "name": DnsName(required=True),
    "set_identifier": Str(required=True, pattern=NAME, what="a record set identifier",
                          max_len=SET_IDENTIFIER_MAX, source="Route 53 SetIdentifier"),
    "routing": Str(ROUTING, default="simple"),
    "alias_target": Str(required=True, pattern=NAME, what="a load balancer name"),
    "evaluate_target_health": Bool(default=True),
    "weight": Num(0, 255, integer=True),
    "region": Str(pattern=r"[a-z]{2}(-[a-z]+)+-\d+", what="a Region name"),
    "failover": Str(("PRIMARY", "SECONDARY")),
    "coordinates": COORDINATES,
    "bias": Num(-99, 99, integer=True, default=0),
    "geolocation": GEOLOCATION,
})

class Record:
    """A Route 53 record: the scenario's shape, or a ``ResourceRecordSet`` as
    ``list_resource_record_sets`` returns it (``Name``, ``Type``, ``AliasTarget``, ...),
    read by ``lbcore.route53``'s loader and turned into the scenario's shape."""

    def __init__(self, required=False):
        self.required, self.default = required, None

    def check(self, v, path, ctx):
        if isinstance(v, dict) and "Name" in v:
            return _aws_record(v, path, ctx)
        return RECORD.check(v, path, ctx)


def _aws_record(d: dict, path: str, ctx: _Ctx):
    from lbcore.route53 import local_zone_location, region_location
    from lbcore.route53 import parse_record_set
    try:
        rs = parse_record_set(d)
    except (TypeError, ValueError) as exc:
        ctx.add(path, str(exc))
        return None
    msg = dns_name_problem(rs.name)
    if msg:
        ctx.add(f"{path}.Name", msg)
        return None
    if rs.alias is None:
        ctx.add(f"{path}.ResourceRecords", "lbcore simulate sends clients to load balancers: "
                "expected an AliasTarget whose DNSName is a load balancer name")
        return None
    if rs.policy not in ROUTING:
        ctx.add(path, f"{rs.policy} routing is not modelled by lbcore simulate; expected one of "
                + ", ".join(map(repr, ROUTING)))
        return None
    rec = {"name": rs.name, "set_identifier": rs.set_identifier or rs.name,
           "routing": rs.policy, "alias_target": rs.alias.dns_name,
           "evaluate_target_health": rs.alias.evaluate_target_health, "weight": rs.weight,
           "region": rs.region, "failover": rs.failover, "coordinates": None, "bias": 0,
           "alias_key": "AliasTarget.DNSName", "geolocation": None}
    if rs.geolocation is not None:
        g = rs.geolocation
        rec["geolocation"] = {"continent": g.continent, "country": g.country,
                              "subdivision": g.subdivision}
    if rs.geoproximity is not None:
        g = rs.geoproximity
        try:
            lat, lon = (g.coordinates if g.coordinates is not None else
                        region_location(g.region) if g.region is not None else
                        local_zone_location(g.local_zone_group))
        except ValueError as exc:
            ctx.add(f"{path}.GeoProximityLocation", str(exc))
            return None
        rec["coordinates"] = {"latitude": lat, "longitude": lon}
        rec["bias"] = g.bias
    return rec


CLIENT = Table({
    "name": Str(required=True, pattern=NAME, what="a client class name"),
    "weight": Num(0, lo_open=True, default=1.0),
    "rtt": Map(Num(0), required=True),
    "location": COORDINATES,
    "cidrs": Arr(Str(what="a CIDR such as '198.51.100.0/24'"), min_len=1),
    "geolocation": GEOLOCATION,
    "sessions": Num(1, MAX_COOKIES, integer=True),
})

REQUEST = Table({
    "name": Str(required=True, pattern=NAME, what="a request template name"),
    "weight": Num(0, lo_open=True, default=1.0),
    "method": Str(default="GET"),
    "host": DnsName(required=True),
    "path": Str(default="/", pattern=r"/.*", what="a path starting with '/'"),
    "headers": Map(Str(), default=dict),
    "cost": Num(0, lo_open=True, default=1.0),
})

RATE = Table({"at": Num(0, required=True), "rps": Num(0, required=True)})

THROTTLE = Table({
    "name": Str(required=True, pattern=NAME, what="a limit name"),
    "rate": Num(0, required=True),
    "burst": Num(1, integer=True, required=True),
    "clients": Arr(Str()),
    "requests": Arr(Str()),
})

EVENT = Table({
    "at": Num(0, required=True),
    "action": Str(EVENT_ACTIONS, required=True),
    "target_group": Str(),
    "target": Str(),
    "targets": Arr(Str(), min_len=1),
    "region": Str(),
    "record": Str(),
    "weight": Num(0),
})

SCHEMA = Table({
    "simulation": Table({
        "name": Str(default="scenario"),
        "description": Str(default=""),
        "requests": Num(1, integer=True, default=1_000_000),
        "seed": Num(0, 2**64 - 1, integer=True, default=0),
        "max_time": Num(0, lo_open=True),
    }, default=lambda: {"name": "scenario", "description": "", "requests": 1_000_000,
                        "seed": 0, "max_time": None}),
    "traffic": Table({
        "rate": Arr(RATE, required=True, min_len=1),
        "clients": Arr(CLIENT, required=True, min_len=1),
        "requests": Arr(REQUEST, required=True, min_len=1),
        "flows": Table({"udp": Num(0, 1, default=0.0), "ipv6": Num(0, 1, default=0.0)},
                       default=lambda: {"udp": 0.0, "ipv6": 0.0}),
    }, required=True),
    "route53": Table({"records": Arr(Record(), required=True, min_len=1)}, required=True),
    "load_balancers": Arr(LOAD_BALANCER, required=True, min_len=1),
    "target_groups": Arr(TARGET_GROUP, required=True, min_len=1),
    "throttling": Arr(THROTTLE, default=list),
    "events": Arr(EVENT, default=list),
})


# ---------------------------------------------------------------------------------------

def _unique(items, key, path, ctx, what):
    seen = {}
    for i, it in enumerate(items or []):
        if it is None or it.get(key) is None:
            continue
        if it[key] in seen:
            ctx.add(f"{path}[{i}].{key}", f"duplicate {what} {_show(it[key])} (first at {path}[{seen[it[key]]}])")
        else:
            seen[it[key]] = i
    return seen


def _check_attributes(tg: dict, path: str, ctx: _Ctx) -> None:
    """Each attribute through lbcore.elb's elbv2 parser (one at a time, so every bad one
    is reported at its own location), then what lbcore simulate models."""
    from lbcore.elb import TARGET_GROUP_ATTRIBUTES, family_of_protocol, parse_attributes
    attrs = tg.get("attributes")
    if attrs is None or tg.get("protocol") is None:
        return
    family = family_of_protocol(tg["protocol"])
    good = {}
    for k, v in attrs.items():
        where = attrs.paths[k]
        if k == "load_balancing.algorithm.type" and v == "power_of_two_choices":
            good[k] = v
            continue
        try:
            values, strings = parse_attributes(TARGET_GROUP_ATTRIBUTES, family, tg["protocol"],
                                               {k: v})
        except (TypeError, ValueError) as exc:
            hint = (" (or lbcore's extension 'power_of_two_choices')"
                    if k == "load_balancing.algorithm.type" else "")
            ctx.add(where, f"{exc}{hint}")
            continue
        spec_default = TARGET_GROUP_ATTRIBUTES[k][2]
        default = spec_default(tg["protocol"]) if callable(spec_default) else spec_default
        if k not in MODELLED_ATTRIBUTES and v != default:
            ctx.add(where, f"elbv2 attribute {_show(k)} is not modelled by lbcore simulate; "
                    f"expected its default {_show(default)} or one of "
                    + ", ".join(map(repr, MODELLED_ATTRIBUTES)))
            continue
        good[k] = v
    algo = good.get("load_balancing.algorithm.type")
    ss = good.get("slow_start.duration_seconds")
    if ss is not None and int(ss) and algo in ("least_outstanding_requests",
                                               "power_of_two_choices"):
        ctx.add(attrs.paths["slow_start.duration_seconds"],
                f"slow start cannot be combined with {algo} (AWS: not with least "
                "outstanding requests)")
    if good.get("stickiness.enabled") == "true" and family == "alb" and \
            good.get("stickiness.type") == "app_cookie":
        ctx.add(attrs.paths["stickiness.type"],
                "ALB app_cookie stickiness (the application's own cookie) is not modelled by "
                "lbcore simulate; expected 'lb_cookie'")


def _check_health_check(tg: dict, path: str, ctx: _Ctx) -> None:
    """The health check through ``lbcore.elb.HealthCheckSettings`` (timeout below the
    interval, and what else the elbv2 API requires of the protocol)."""
    from lbcore.sim.health import health_settings
    hc = tg.get("health_check")
    if not hc or tg.get("protocol") is None or ctx.has(path):
        return
    try:
        health_settings(tg)
    except (TypeError, ValueError) as exc:
        ctx.add(path, str(exc))


def sticky_groups(s: dict) -> list[str]:
    """Names of the target groups with ALB lb_cookie stickiness (each keeps a cookie per
    user): ``stickiness.enabled`` = "true" on an HTTP/HTTPS group (type lb_cookie, the
    ALB default)."""
    out = []
    for tg in s.get("target_groups") or []:
        if not tg or tg.get("protocol") not in ("HTTP", "HTTPS") or not tg.get("attributes"):
            continue
        a = tg["attributes"]
        if a.get("stickiness.enabled") == "true" and \
                a.get("stickiness.type", "lb_cookie") == "lb_cookie":
            out.append(tg["name"])
    return out


def _condition_checked(cond) -> bool:
    """Whether a rule condition passed the schema (a field or value that failed it is None)."""
    if not cond:
        return False
    if "aws" in cond:
        return True
    return cond.get("field") is not None and cond.get("values") is not None and \
        None not in cond["values"]


def _check_rules(lb: dict, p: str, ctx: _Ctx) -> None:
    """An application load balancer's rule conditions through lbcore.elb's parser."""
    from lbcore.elb import parse_condition, parse_rule
    for ri, rule in enumerate(lb.get("rules") or []):
        if not rule:
            continue
        before = len(ctx.problems)
        for ci, cond in enumerate(rule.get("conditions") or []):
            if not cond:
                continue
            cp = f"{p}.rules[{ri}].conditions[{ci}]"
            if "aws" in cond and cond["aws"].get("Field") == "source-ip":
                ctx.add(f"{cp}.Field", "source-ip conditions depend on each request's client "
                        "address, which lbcore simulate does not route by yet; expected "
                        "host-header, path-pattern, http-request-method, http-header or "
                        "query-string")
                continue
            if "aws" not in cond and cond.get("field") == "http-header" and not cond.get("name"):
                ctx.add(f"{cp}.name", "missing; required for http-header")
                continue
            if not _condition_checked(cond):
                continue            # its bad field or values are reported at their keys
            try:
                parse_condition(alb_condition(cond), where="condition")
            except (TypeError, ValueError) as exc:
                ctx.add(cp, str(exc))
        conds = rule.get("conditions")
        if len(ctx.problems) == before and isinstance(conds, list) and conds \
                and all(map(_condition_checked, conds)) and isinstance(rule.get("priority"), int):
            # the whole rule: the elbv2 per-rule quotas (5 condition values, 5 wildcards)
            # and at most one condition per single-valued field
            try:
                parse_rule({"Priority": str(rule["priority"]),
                            "Conditions": [alb_condition(c) for c in conds]},
                           where="rule")
            except (TypeError, ValueError) as exc:
                ctx.add(f"{p}.rules[{ri}].conditions", str(exc))


def _cross_check(s: dict, ctx: _Ctx) -> None:
    """References between sections: names that must exist, combinations that must agree."""
    tr = s.get("traffic") or {}
    tgs = _unique(s.get("target_groups"), "name", "target_groups", ctx, "target group")
    lbs = _unique(s.get("load_balancers"), "name", "load_balancers", ctx, "load balancer")
    clients = _unique(tr.get("clients"), "name", "traffic.clients", ctx, "client class")
    reqs = _unique(tr.get("requests"), "name", "traffic.requests", ctx, "request template")
    recs = _unique((s.get("route53") or {}).get("records"), "set_identifier",
                   "route53.records", ctx, "set_identifier")
    _unique(s.get("throttling"), "name", "throttling", ctx, "limit")
    regions = {lb["region"] for lb in s.get("load_balancers") or [] if lb and lb.get("region")}

    total_workers = sum((t or {}).get("workers") or 0 for tg in s.get("target_groups") or []
                        if tg for t in tg.get("targets") or [])
    if total_workers > MAX_WORKERS:
        ctx.add("target_groups", f"{total_workers:,} workers in all; expected at most "
                f"{MAX_WORKERS:,} (each is a queue slot the engine keeps in memory)")
    targets = {}
    for gi, tg in enumerate(s.get("target_groups") or []):
        if not tg:
            continue
        ids = _unique(tg.get("targets"), "id", f"target_groups[{gi}].targets", ctx, "target id")
        targets[tg["name"]] = ids
        _check_attributes(tg, f"target_groups[{gi}].attributes", ctx)
        _check_health_check(tg, f"target_groups[{gi}].health_check", ctx)

    users = [(c.get("sessions") or 0, ci) for ci, c in enumerate(tr.get("clients") or []) if c]
    n_sticky = len(sticky_groups(s))
    if n_sticky and sum(u for u, _ in users) * n_sticky > MAX_COOKIES:
        _, ci = max(users, key=lambda x: x[0])     # the largest class (the first)
        ctx.add(f"traffic.clients[{ci}].sessions",
                f"{sum(u for u, _ in users):,} users (sessions of all client classes) x "
                f"{n_sticky} sticky target group{'s' if n_sticky > 1 else ''} = "
                f"{sum(u for u, _ in users) * n_sticky:,} cookies; expected at most "
                f"{MAX_COOKIES:,} (the engine keeps each in memory)")

    rates = tr.get("rate") or []
    for i in range(1, len(rates)):
        if rates[i] and rates[i - 1] and rates[i]["at"] is not None and \
                rates[i - 1]["at"] is not None and rates[i]["at"] <= rates[i - 1]["at"]:
            ctx.add(f"traffic.rate[{i}].at", "expected times in increasing order")
    if rates and rates[0] and rates[0]["at"] not in (None, 0.0):
        ctx.add("traffic.rate[0].at", "expected the first rate piece to start at 0")
    if rates and rates[-1] and rates[-1]["rps"] is not None and rates[-1]["rps"] <= 0:
        ctx.add(f"traffic.rate[{len(rates) - 1}].rps",
                "expected the last rate piece to be > 0 (it lasts until the run ends)")

    for ci, c in enumerate(tr.get("clients") or []):
        if c and c.get("geolocation") is not None:
            msg = client_geolocation_problem(c["geolocation"])
            if msg:
                ctx.add(f"traffic.clients[{ci}].geolocation", msg)
        for region in (c or {}).get("rtt") or {}:
            if region not in regions:
                ctx.add(f"traffic.clients[{ci}].rtt.{_key(region)}",
                        f"no load balancer in Region {_show(region)}; expected one of "
                        + ", ".join(sorted(map(repr, regions))))
        if c and c.get("rtt") is not None:
            for region in sorted(regions - set(c["rtt"])):
                ctx.add(f"traffic.clients[{ci}].rtt", f"missing round-trip time to Region {_show(region)}")

    names = set()
    by_name: dict[str, list[tuple[int, dict]]] = {}
    # an AliasTarget's DNSName is a DNS name: case-insensitive, maybe with a final dot
    lb_fold: dict[str, list[str]] = {}
    for lb_name in lbs:
        lb_fold.setdefault(lb_name.lower().rstrip("."), []).append(lb_name)
    for ri, rec in enumerate((s.get("route53") or {}).get("records") or []):
        if not rec:
            continue
        p = f"route53.records[{ri}]"
        if rec["name"] is not None:
            names.add(rec["name"])
            if rec["routing"] is not None:     # a bad routing is reported at its own key
                by_name.setdefault(rec["name"], []).append((ri, rec))
        if rec.get("alias_key") and rec.get("alias_target") is not None:
            found = lb_fold.get(rec["alias_target"].lower().rstrip("."), [])
            if len(found) == 1:
                rec["alias_target"] = found[0]
            elif found:
                ctx.add(f"{p}.{rec['alias_key']}", f"{_show(rec['alias_target'])} matches load "
                        f"balancers {' and '.join(map(repr, found))} (DNS names are "
                        "case-insensitive); rename one")
                rec["alias_target"] = found[0]
        if rec.get("alias_target") is not None and rec["alias_target"] not in lbs:
            ctx.add(f"{p}.{rec.get('alias_key', 'alias_target')}",
                    f"unknown load balancer {_show(rec['alias_target'])}")
        need = {"weighted": "weight", "latency": "region", "failover": "failover",
                "geoproximity": "coordinates", "geolocation": "geolocation"}.get(rec["routing"])
        if rec.get("geolocation") is not None:
            try:
                geolocation_of(rec["geolocation"])
            except ValueError as exc:
                ctx.add(f"{p}.geolocation", str(exc))
        if need and rec.get(need) is None and not ctx.has(f"{p}.{need}"):
            ctx.add(f"{p}.{need}", f"missing; required for routing = {_show(rec['routing'])}")
        if rec["routing"] == "latency" and rec.get("region") is not None and \
                rec["region"] not in regions:
            ctx.add(f"{p}.region", f"no load balancer in Region {_show(rec['region'])}, so no "
                    "client round-trip time to it")
    for name, lst in by_name.items():
        kinds = {r["routing"] for _, r in lst}
        if len(kinds) > 1:
            ctx.add(f"route53.records[{lst[-1][0]}].routing",
                    f"records for {_show(name)} mix routing policies {sorted(kinds)}; expected one")
        if kinds == {"simple"} and len(lst) > 1:
            # Route 53: one simple record set per name and type (an alias has one target)
            ctx.add(f"route53.records[{lst[1][0]}].routing",
                    f"{_show(name)} has {len(lst)} simple records; Route 53 allows one simple "
                    "record set per name (use weighted routing to split traffic)")
        if kinds == {"failover"}:
            roles = [r.get("failover") for _, r in lst]
            if sorted(roles) != ["PRIMARY", "SECONDARY"]:
                ctx.add(f"route53.records[{lst[-1][0]}].failover",
                        f"failover records for {_show(name)} must be one PRIMARY and one SECONDARY")
    if any(r and r.get("routing") == "geoproximity"
           for r in (s.get("route53") or {}).get("records") or []):
        for ci, c in enumerate(tr.get("clients") or []):
            if c and c.get("location") is None:
                ctx.add(f"traffic.clients[{ci}].location",
                        "missing; required when any record uses geoproximity routing")
    # a record whose name is invalid is reported once: no "no record named" for its hosts
    all_names = all(r and r.get("name") is not None
                    for r in (s.get("route53") or {}).get("records") or [])
    for qi, q in enumerate(tr.get("requests") or []):
        if q and q.get("host") is not None and q["host"] not in names and all_names:
            ctx.add(f"traffic.requests[{qi}].host",
                    f"no route53 record named {_show(q['host'])}")
        if q and q.get("method") is not None and q.get("path") is not None and \
                q.get("headers") is not None and q.get("host") is not None:
            try:
                template_request(q)
            except (TypeError, ValueError) as exc:
                ctx.add(f"traffic.requests[{qi}]", f"not a valid HTTP request: {exc}")
    for ci, c in enumerate(tr.get("clients") or []):
        for i, cidr in enumerate((c or {}).get("cidrs") or []):
            if cidr is None:
                continue
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                ctx.add(f"traffic.clients[{ci}].cidrs[{i}]",
                        f"expected an IPv4 or IPv6 CIDR such as '198.51.100.0/24', got {_show(cidr)}")

    lb_of: dict[str, str] = {}      # target group -> the load balancer it serves
    for li, lb in enumerate(s.get("load_balancers") or []):
        if not lb:
            continue
        p = f"load_balancers[{li}]"
        if lb.get("default_forward") is None and lb.get("default_fixed_response") is None:
            ctx.add(f"{p}.default_forward", "missing: a listener needs a default action "
                    "(default_forward or default_fixed_response)")
        if lb["type"] == "network" and lb.get("rules"):
            ctx.add(f"{p}.rules", "network load balancers have no listener rules")
        _unique(lb.get("rules"), "priority", f"{p}.rules", ctx, "priority")
        fwd_lists = [(f"{p}.default_forward", lb.get("default_forward"))]
        for ri, rule in enumerate(lb.get("rules") or []):
            if not rule:
                continue
            rp = f"{p}.rules[{ri}]"
            if (rule.get("forward") is None) == (rule.get("fixed_response") is None):
                ctx.add(rp, "expected exactly one action: forward or fixed_response")
            fwd_lists.append((f"{rp}.forward", rule.get("forward")))
        _check_rules(lb, p, ctx)
        if lb.get("cross_zone") is not None and lb["type"] == "application":
            ctx.add(f"{p}.cross_zone", "cross_zone is a network load balancer setting: an "
                    "application load balancer always routes across zones (turn it off per "
                    "target group with the attribute 'load_balancing.cross_zone.enabled' = "
                    "'false'); leave it out")
        insp = lb.get("inspection")
        if insp is not None:
            if insp not in tgs:
                ctx.add(f"{p}.inspection", f"unknown target group {_show(insp)}")
            elif (s["target_groups"][tgs[insp]] or {}).get("protocol") != "GENEVE":
                ctx.add(f"{p}.inspection", f"target group {_show(insp)} must have protocol "
                        "GENEVE (a Gateway Load Balancer's appliances)")
            elif lb.get("name") is not None and \
                    lb_of.setdefault(insp, lb["name"]) != lb["name"]:
                ctx.add(f"{p}.inspection", f"target group {_show(insp)} already inspects for "
                        f"load balancer {_show(lb_of[insp])}; expected a target group of its "
                        "own (elbv2: each target group is used with only one load balancer)")
        for fp, fwd in fwd_lists:
            for fi, f in enumerate(fwd or []):
                if f and f.get("target_group") is not None:
                    if f["target_group"] not in tgs:
                        ctx.add(f"{fp}[{fi}].target_group",
                                f"unknown target group {_show(f['target_group'])}")
                    else:
                        tg = s["target_groups"][tgs[f["target_group"]]]
                        tcp = tg and tg.get("protocol") in ("TCP", "UDP", "TLS", "TCP_UDP")
                        if tg and tg.get("protocol") == "GENEVE":
                            ctx.add(f"{fp}[{fi}].target_group",
                                    f"target group {_show(f['target_group'])} has protocol GENEVE: "
                                    "use it as a load balancer's inspection tier")
                        elif tg and tcp != (lb["type"] == "network"):
                            ctx.add(f"{fp}[{fi}].target_group",
                                    f"target group {_show(f['target_group'])} has protocol "
                                    f"{tg['protocol']} which a {lb['type']} load balancer "
                                    "cannot forward to")
                        elif lb.get("name") is not None:
                            other = lb_of.setdefault(f["target_group"], lb["name"])
                            if other != lb["name"]:
                                ctx.add(f"{fp}[{fi}].target_group",
                                        f"target group {_show(f['target_group'])} already serves "
                                        f"load balancer {_show(other)}; expected a target group "
                                        "of its own (elbv2: each target group is used with "
                                        "only one load balancer)")

    for ti, th in enumerate(s.get("throttling") or []):
        if not th:
            continue
        for k, known in (("clients", clients), ("requests", reqs)):
            for i, name in enumerate(th.get(k) or []):
                if name is not None and name not in known:
                    ctx.add(f"throttling[{ti}].{k}[{i}]", f"unknown {k[:-1]} {_show(name)}")

    for ei, ev in enumerate(s.get("events") or []):
        if not ev or not ev.get("action"):
            continue
        p = f"events[{ei}]"
        a = ev["action"]
        if a in TARGET_ACTIONS:
            if ev.get("target_group") is None:
                ctx.add(f"{p}.target_group", f"missing; required for action {_show(a)}")
            elif ev["target_group"] not in targets:
                ctx.add(f"{p}.target_group", f"unknown target group {_show(ev['target_group'])}")
            ids = ([ev["target"]] if ev.get("target") is not None else []) + (ev.get("targets") or [])
            if not ids:
                ctx.add(f"{p}.target", f"missing; action {_show(a)} needs target or targets")
            elif ev.get("target_group") in targets:
                for t in ids:
                    if t is not None and t not in targets[ev["target_group"]]:
                        ctx.add(f"{p}.target", f"unknown target {_show(t)} in target group "
                                f"{_show(ev['target_group'])}")
            if a == "set_weight" and ev.get("weight") is None and not ctx.has(f"{p}.weight"):
                ctx.add(f"{p}.weight", "missing; required for action 'set_weight'")
        elif a in ("region_fail", "region_recover"):
            if ev.get("region") is None:
                ctx.add(f"{p}.region", f"missing; required for action {_show(a)}")
            elif ev["region"] not in regions:
                ctx.add(f"{p}.region", f"no load balancer in Region {_show(ev['region'])}")
        elif a == "set_record_weight":
            if ev.get("record") is None:
                ctx.add(f"{p}.record", "missing; required for action 'set_record_weight'")
            elif ev["record"] not in recs:
                ctx.add(f"{p}.record", f"unknown route53 set_identifier {_show(ev['record'])}")
            if ev.get("weight") is None:
                if not ctx.has(f"{p}.weight"):
                    ctx.add(f"{p}.weight", "missing; required for action 'set_record_weight'")
            elif ev["weight"] > 255 or ev["weight"] != int(ev["weight"]):
                ctx.add(f"{p}.weight", f"expected an integer 0..255, got {_show(ev['weight'])}")


# Unit sanity: above these, a value is more likely milliseconds written where seconds are
# meant than a real time (the longest round trip on Earth's surface is ~0.3 s, a
# geostationary satellite hop ~0.6 s; a request served in 10 s is a batch job).
RTT_PLAUSIBLE_S = 1.0
SERVICE_PLAUSIBLE_S = 10.0


def run_horizon(s: dict, requests: int | None = None) -> float:
    """The simulated time by which ``requests`` arrivals (default ``simulation.requests``)
    are expected under the piecewise ``traffic.rate``, capped by ``simulation.max_time``:
    when the run ends."""
    need = float(s["simulation"]["requests"] if requests is None else requests)
    rates = s["traffic"]["rate"]
    end_time = float(rates[-1]["at"])
    for k, piece in enumerate(rates):
        end = rates[k + 1]["at"] if k + 1 < len(rates) else math.inf
        if piece["rps"] > 0 and piece["rps"] * (end - piece["at"]) >= need:
            end_time = piece["at"] + need / piece["rps"]
            break
        need -= piece["rps"] * (end - piece["at"])
    max_time = s["simulation"]["max_time"]
    return end_time if max_time is None else min(end_time, max_time)


def scenario_warnings(s: dict, requests: int | None = None) -> list[tuple[str, str]]:
    """``(key_path, message)`` for what is valid but likely a mistake in a loaded scenario:
    times implausible as seconds, and rate pieces or events after the run ends (``requests``:
    the run's request count, default ``simulation.requests``)."""
    out = []
    for ci, c in enumerate(s["traffic"]["clients"]):
        for region, rtt in c["rtt"].items():
            if rtt > RTT_PLAUSIBLE_S:
                out.append((f"traffic.clients[{ci}].rtt.{_key(region)}",
                            f"a round trip of {rtt:g} s is implausible (times are in seconds: "
                            f"{rtt:g} ms is {rtt / 1000:g})"))
    for gi, tg in enumerate(s["target_groups"]):
        for ti, t in enumerate(tg["targets"]):
            mean = t["service"]["mean"]
            if mean > SERVICE_PLAUSIBLE_S:
                out.append((f"target_groups[{gi}].targets[{ti}].service.mean",
                            f"a mean service time of {mean:g} s is implausible (times are in "
                            f"seconds: {mean:g} ms is {mean / 1000:g})"))
    n = s["simulation"]["requests"] if requests is None else requests
    end = run_horizon(s, requests)
    why = (f"the run ends at about {end:,.6g} s: {n:,} requests at traffic.rate"
           + (", simulation.max_time" if s["simulation"]["max_time"] is not None else ""))
    for i, piece in enumerate(s["traffic"]["rate"]):
        if i and piece["at"] >= end:
            out.append((f"traffic.rate[{i}].at", f"{piece['at']:g} s is after the run ends: "
                        f"this rate never applies ({why})"))
    for ei, ev in enumerate(s["events"]):
        if ev["at"] >= end:
            out.append((f"events[{ei}].at", f"{ev['at']:g} s is after the run ends: this "
                        f"{ev['action']} never happens ({why})"))
    return out


def validate(data: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Check a parsed scenario; return (normalised scenario, problems)."""
    ctx = _Ctx()
    s = SCHEMA.check(data, "", ctx)
    if s is not None:
        _cross_check(s, ctx)
    if s is not None and not ctx.problems:
        # the last word is the policy objects' (the AWS rules lbcore.elb and
        # lbcore.route53 enforce): a scenario they refuse is reported at its key
        from lbcore.sim.world import World, WorldError
        try:
            World(s, s["simulation"]["seed"])
        except WorldError as exc:
            ctx.add(exc.path, exc.message)
    return s, ctx.problems


def parse_scenario(text: str, source: str = "<scenario>") -> dict:
    """Parse and validate TOML text; raise ScenarioError listing every problem."""
    if not isinstance(text, str):
        raise TypeError(f"text must be the scenario's TOML as a str, got {type(text).__name__}")
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"invalid TOML: {exc}")]) from None
    except RecursionError:
        # the TOML parser recurses once per level of nested arrays / inline tables
        raise ScenarioError(source, [("", "invalid TOML: arrays or inline tables nested "
                                      "too deeply for the parser")]) from None
    s, problems = validate(data)
    if problems:
        raise ScenarioError(source, problems)
    s["source"] = source
    return s


def load_scenario(path=None) -> dict:
    """Load a scenario file (default: the scenario shipped with lbcore)."""
    p = Path(path) if path is not None else DEFAULT_SCENARIO
    source = str(path) if path is not None else "default scenario"
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(p), [("", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(str(p), [("", "is a directory, expected a TOML file")]) from None
    except PermissionError:
        raise ScenarioError(str(p), [("", "permission denied")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(p), [("", f"not UTF-8 text: {exc}")]) from None
    except OSError as exc:
        # a symlink loop, a name too long, a path through a file, an I/O error, ...
        raise ScenarioError(str(p), [("", f"cannot read the file: "
                                      f"{exc.strerror or exc}")]) from None
    except ValueError as exc:                # a path with a NUL byte
        raise ScenarioError(str(p), [("", f"not a usable file name: {exc}")]) from None
    return parse_scenario(text, source)
