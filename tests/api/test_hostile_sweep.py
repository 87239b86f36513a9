"""Every public callable of the Python-layer packages, and every public method of an
instance of each public class, called with deterministic mutations of a valid call.

``tests/api/test_hostile_inputs.py`` drives the compiled kernel classes; this sweep
covers ``lbcore.elb``, ``lbcore.route53``, ``lbcore.apigateway``, ``lbcore.geneve``,
``lbcore.dns`` (the parts that need no network or files), ``lbcore.flows`` and
``lbcore.testing``, enumerated from each package's ``__all__``. For every parameter
of a valid call, the value is replaced by each entry of ``HOSTILE`` (wrong types,
None, empty, huge, nested, NaN/inf, bool where an int or time is meant), one
parameter at a time. A rejected call may raise only ``TypeError`` or ``ValueError``
(or ``KeyError``/``IndexError``/``LookupError`` from a lookup by key or index, as
their docstrings say), with a non-empty message. The run is bounded (a few thousand
calls, a few seconds); ``test_sweep_totals`` prints the counts.
"""
from __future__ import annotations

import importlib
import inspect
import math
import warnings
from collections import Counter

import numpy as np
import pytest

import lbcore
from lbcore import elb, route53, apigateway

# What a rejected call may raise. LookupError (and its KeyError/IndexError) is the
# documented "no such target / record / index" answer of lookups by key or index.
REJECT = (TypeError, ValueError, LookupError)


class _Weird:
    """Neither a number nor a string nor a container."""

    def __repr__(self) -> str:
        return "<weird>"


HOSTILE = (
    None, True, False, 0, -1, 2**63, 2**200, 1.5, math.nan, math.inf, -math.inf,
    "", "x", "x" * 5000, b"\x00", [], [None], [[[[[]]]]], {}, {"Key": None},
    (1, 2), _Weird(), np.array([math.nan]), np.zeros((2, 2)),
)

# ------------------------------------------------------------------ valid objects
AZ = "us-east-1a"


def _tg(protocol="TCP", name="tg", **kw):
    return elb.TargetGroup([elb.Target(f"A{i}", AZ) for i in range(3)], protocol=protocol,
                           name=name, healthy=True, now=0.0, **kw)


def _nlb():
    n = elb.NetworkLoadBalancer([AZ], table_size=1009)
    n.add_listener("TCP", 80, _tg())
    return n


def _gwlb():
    return elb.GatewayLoadBalancer([AZ], _tg("GENEVE"), table_size=1009)


def _alb():
    a = elb.ApplicationLoadBalancer([_tg("HTTP", "web")])
    a.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}])
    return a


def _clb():
    return elb.ClassicLoadBalancer(
        [elb.Target(f"i-{k}", AZ) for k in range(2)],
        [{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
          "InstancePort": 80}], healthy=True)


def _rule():
    return elb.parse_rule({"Priority": "1", "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a*"]}}]})


def _default_rule():
    return elb.parse_rule({"Priority": "default", "IsDefault": True, "Conditions": []},
                          "default")


def _zone():
    return route53.HostedZone("example.com", [
        route53.RecordSet("www.example.com", "A", ["192.0.2.1"], ttl=60),
        route53.RecordSet("lat.example.com", "A", ["192.0.2.2"], ttl=60,
                          set_identifier="e", region="us-east-1"),
        route53.RecordSet("lat.example.com", "A", ["192.0.2.3"], ttl=60,
                          set_identifier="w", region="us-west-2"),
    ])


def _client():
    return route53.Client(ip="192.0.2.9", latitude=40.0, longitude=-75.0)


def _gateway():
    g = apigateway.ApiGateway()
    g.add_stage("api", "prod")
    g.add_usage_plan("gold", api_stages=[("api", "prod")],
                     throttle={"rateLimit": 10, "burstLimit": 5})
    g.add_api_key("key1", "gold", created=0.0)
    return g


def _lambda():
    c = apigateway.LambdaConcurrency()
    c.put_function_concurrency("fn", 5)
    return c


def _responder():
    from lbcore import dns
    return dns.Responder(_zone())


def _l4result():
    return _nlb().route_many(lbcore.Flows.random(4, seed=1, protocols=(6,)), 0.0)


# a valid value for a parameter, by name (constructors and methods share names)
VALID = {
    "id": "A0", "availability_zone": AZ, "port": 80, "weight": 1, "target": None,
    "targets": [elb.Target("B0", AZ)], "target_id": "A0", "target_ids": ["A0"],
    "index": 0, "i": 0, "now": 1.0, "ok": True, "healthy": True, "zones": [AZ],
    "zone": AZ, "protocol": "TCP", "family": "nlb", "specs": elb.TARGET_GROUP_ATTRIBUTES,
    "tg": _tg(), "prefix": "target_group_health.dns_failover.minimum_healthy_targets",
    "n_registered": 3, "flow": lbcore.Flow("tcp", "10.0.0.1", "10.0.0.2", 1, 80),
    "flows": lbcore.Flows.random(4, seed=1, protocols=(6,)), "times": 1.0,
    "target_group": _tg(), "request": elb.Request(), "method": "GET", "name": "www.example.com",
    "items": [("A", "1")], "field": "path-pattern", "values": ["/a"], "cond":
    {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/a"]}},
    "rule": {"Priority": "1", "Conditions": []}, "rules": [_rule()], "default": _default_rule(),
    "priority": 1, "conditions": [], "ruleset": elb.RuleSet([_rule()], _default_rule()),
    "target_groups": [_tg("HTTP", "web")], "instances": [elb.Target("i-0", AZ)],
    "listeners": [{"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP",
                   "InstancePort": 22}],
    "availability_zones": [AZ], "value": "x", "status_code": 302, "location": "https://a/",
    "rs": route53.RecordSet("new.example.com", "A", ["192.0.2.7"], ttl=60),
    "record_sets": [], "rtype": "A", "type": "A", "client": _client(),
    "clients": route53.Clients([_client()]), "region": "us-east-1", "group": "us-east-1-bos-1",
    "d": {"Name": "x.example.com.", "Type": "A", "TTL": 60,
          "ResourceRecords": [{"Value": "192.0.2.1"}]},
    "dns_name": "a.example.com", "collection_id": "c", "location_name": "l",
    "children": [route53.HealthCheck("h")], "health_threshold": 1, "api_id": "api",
    "stage": "prod", "plan": "gold", "api_key": "key1", "api_keys": ["key1"],
    "resource": "/r", "resources": ["/r"], "methods": ["GET"], "limit": 10,
    "period": "DAY", "function": "fn", "reserved": 1, "wire": b"", "ip": "192.0.2.1",
    "data": b"", "payload": b"", "option_class": 0x0108, "endpoint_id": 1,
    "attachment_id": 2, "flow_cookie": 3, "table": None, "dns": np.zeros(1, np.int32),
    "pools": [np.zeros(1, np.int32)], "listener": 0, "target_group_key": "web",
    "instance_id": "i-0", "decision": None, "set_cookies": (), "rule_priority": None,
    "content_type": "text/plain", "body": "", "max_age": None, "rcode": "NOERROR",
    "choice": np.zeros(1, np.int64), "codes": np.zeros(1, np.int8), "allowed": True,
    "status": 200, "reason": None, "level": None, "created": 0.0, "api_stages": [("api", "prod")],
    "throttle": None, "quota": None, "method_settings": None, "account_throttle":
    apigateway.ThrottleSettings(10, 5), "rate_limit": 10.0, "burst_limit": 5,
}

PACKAGES = {"elb": elb, "route53": route53, "apigateway": apigateway,
            "geneve": importlib.import_module("lbcore.geneve"),
            "dns": importlib.import_module("lbcore.dns"),
            "flows": importlib.import_module("lbcore.flows"),
            "sim": importlib.import_module("lbcore.sim"),
            "testing": importlib.import_module("lbcore.testing.strategies")}
_GENEVE = PACKAGES["geneve"].encode(b"payload", vni=7)
_RECORD = {"Name": "x.example.com.", "Type": "A", "TTL": 60,
           "ResourceRecords": [{"Value": "192.0.2.1"}]}
_HEALTH = {"Id": "hc1", "HealthCheckConfig": {"Type": "HTTP", "IPAddress": "192.0.2.1",
                                              "Port": 80, "FailureThreshold": 3,
                                              "RequestInterval": 30}}

# Valid calls where the names above don't make one: (args, kwargs) by callable.
VALID_CALLS = {
    "apigateway.ThrottleSettings": ((10.0, 5), {}),
    "dns.CidrLocator": (({"10.0.0.0/8": {"country": "US"}},), {}),
    "dns.Responder": ((_zone(),), {}),
    "elb.FixedResponse": ((200,), {}),
    "elb.Listener": ((80, "HTTP", elb.RuleSet([_rule()], _default_rule())), {}),
    "elb.parse_attributes": ((elb.TARGET_GROUP_ATTRIBUTES, "nlb", "TCP"), {}),
    "elb.parse_rule": (({"Priority": "2", "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/b"]}}]},), {}),
    "elb.node_pools": ((_tg(), [AZ]), {"cross_zone": True}),
    "flows.Flows": ((6, ["10.0.0.1"], ["10.0.0.2"], [1], [80]), {}),
    "geneve.GeneveOption": ((0x0108, 1, b"abcd"), {}),
    "geneve.decode": ((_GENEVE,), {}),
    "geneve.header_length": ((_GENEVE,), {}),
    "route53.Clients": (([_client()],), {}),
    "route53.Geolocation": (("EU",), {}),
    "route53.GeoproximityLocation": (("us-east-1",), {}),
    "route53.RecordSet": (("a.example.com", "A", ["192.0.2.1"]), {"ttl": 60}),
    "route53.HostedZone.from_aws": (([_RECORD],), {"name": "example.com",
                                                   "health_checks": [_HEALTH]}),
    "apigateway.ApiGateway.add_api_key": (("key2", "gold"), {"created": 0.0}),
    "apigateway.ApiGateway.add_stage": (("api", "test"), {}),
    "apigateway.ApiGateway.check_many": ((["key1"], ["/r"], ["GET"], [1.0]), {}),
    "apigateway.QuotaSettings.from_dict": (({"limit": 10, "period": "DAY"},), {}),
    "apigateway.ThrottleSettings.from_dict": (({"rateLimit": 10, "burstLimit": 5},), {}),
    "elb.ClassicLoadBalancer.route": ((elb.Request(), 1.0), {}),
    "elb.ApplicationLoadBalancer.add_listener": ((81, "HTTP"), {"default_actions": [
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]}),
    "elb.NetworkLoadBalancer.add_listener": (("TCP", 81, _tg()), {}),
    "elb.Request.from_bytes": ((b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",), {}),
    "sim.parse_scenario": ((PACKAGES["sim"].DEFAULT_SCENARIO.read_text(),), {}),
}

# Known offenders left unfixed: strict xfails, so a fix shows up as XPASS -> failure.
KNOWN: dict[str, str] = {}

# Public classes built from a valid call, for their methods.
INSTANCES = {
    "elb.TargetGroup": _tg, "elb.NetworkLoadBalancer": _nlb, "elb.GatewayLoadBalancer": _gwlb,
    "elb.ApplicationLoadBalancer": _alb, "elb.ClassicLoadBalancer": _clb,
    "elb.Request": lambda: elb.Request("GET", "/a?x=1", host="h"),
    "elb.Headers": lambda: elb.Headers([("A", "1")]),
    "elb.RuleSet": lambda: elb.RuleSet([_rule()], _default_rule()),
    "elb.Condition": lambda: _rule().conditions[0], "elb.L4Result": _l4result,
    "route53.HostedZone": _zone, "route53.HealthCheck": lambda: route53.HealthCheck("h"),
    "route53.CalculatedHealthCheck": lambda: route53.CalculatedHealthCheck(
        [route53.HealthCheck("h")], 1),
    "route53.Clients": lambda: route53.Clients([_client()]),
    "apigateway.ApiGateway": _gateway, "apigateway.LambdaConcurrency": _lambda,
    "apigateway.ThrottleSettings": lambda: apigateway.ThrottleSettings(10, 5),
    "apigateway.QuotaSettings": lambda: apigateway.QuotaSettings(10, "DAY"),
    "dns.Responder": _responder,
}

# Callables that touch the network, files or threads, or are abstract protocols.
SKIP = {
    "dns.DNSServer", "dns.HealthProber", "dns.Probe", "dns.MaxMindLocator", "dns.Locator",
    "route53.HealthReporter", "elb.Forward",     # Forward holds a release callback
    "sim.simulate",            # runs a whole simulation; its input is fuzzed by
                               # tests/sim/test_scenario_fuzz.py through the CLI
}

def _public_callables():
    for pkg, mod in PACKAGES.items():
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            key = f"{pkg}.{name}"
            if key in SKIP or not callable(obj) or inspect.ismodule(obj):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            yield key, obj


def _methods():
    for key, make in INSTANCES.items():
        obj = make()
        for name in sorted(dir(obj)):
            if name.startswith("_"):
                continue
            attr = getattr(type(obj), name, None)
            if isinstance(attr, property) or not callable(getattr(obj, name, None)):
                continue
            if inspect.isclass(getattr(obj, name)):
                continue
            yield f"{key}.{name}", make, name


def _valid_call(fn):
    """(args, kwargs, names) of a call from VALID: required parameters by name,
    optional ones left to their defaults; None when a required one is unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    args, kwargs, names = [], {}, []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        known = p.name in VALID
        if p.default is p.empty and not known:
            return None
        names.append((p.name, p.kind))
        if p.default is not p.empty:
            continue
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = VALID[p.name]
        else:
            args.append(VALID[p.name])
    return args, kwargs, names


def _mutations(fn, key):
    """(parameter, args, kwargs) for every parameter x hostile value."""
    call = _valid_call(fn)
    if key in VALID_CALLS:
        args, kwargs = VALID_CALLS[key]
        names = []
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        for p in params:
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                names.append((p.name, p.kind))
        call = list(args), dict(kwargs), names
    if call is None:                 # no valid call known: hostile first argument alone
        for v in HOSTILE:
            yield "arg0", (v,), {}
        return
    args, kwargs, names = call
    npos = len(args)
    for pos, (pname, kind) in enumerate(names):
        for v in HOSTILE:
            a, kw = list(args), dict(kwargs)
            if kind == inspect.Parameter.KEYWORD_ONLY or pos >= npos:
                kw[pname] = v
            else:
                a[pos] = v
            yield pname, tuple(a), kw


STATS: Counter = Counter()
BAD: list[str] = []


def _run(label, fn, pname, args, kwargs):
    STATS["calls"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(*args, **kwargs)
    except REJECT as e:
        STATS["rejected"] += 1
        if not str(e):
            BAD.append(f"{label}({pname}={_short(args, kwargs, pname)}): "
                       f"{type(e).__name__} with no message")
    except Exception as e:          # noqa: BLE001 - the point of the test
        STATS["unexpected"] += 1
        BAD.append(f"{label}({pname}={_short(args, kwargs, pname)}): "
                   f"{type(e).__name__}: {str(e)[:80]}")
    else:
        STATS["accepted"] += 1


def _short(args, kwargs, pname):
    v = kwargs.get(pname, args[0] if args else None)
    r = repr(v)
    return r if len(r) < 30 else r[:27] + "..."


CALLABLES = sorted(_public_callables(), key=lambda kv: kv[0])
METHODS = sorted(_methods())


@pytest.mark.parametrize("key,fn", [
    pytest.param(k, f, marks=pytest.mark.xfail(strict=True, reason=KNOWN[k])) if k in KNOWN
    else (k, f) for k, f in CALLABLES], ids=[k for k, _ in CALLABLES])
def test_public_callables(key, fn):
    start = len(BAD)
    for pname, args, kwargs in _mutations(fn, key):
        _run(key, fn, pname, args, kwargs)
    assert BAD[start:] == []


@pytest.mark.parametrize("key,make,name", METHODS, ids=[k for k, _, _ in METHODS])
def test_public_methods(key, make, name):
    start = len(BAD)
    obj = make()
    for pname, args, kwargs in _mutations(getattr(obj, name), key):
        _run(key, getattr(obj, name), pname, args, kwargs)
    assert BAD[start:] == []


# ------------------------------------------------------------ mutated AWS shapes
_DELETE = object()


def _paths(obj, path=()):
    """Every path into a JSON-like value (dict keys, list indices), root first."""
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, path + (i,))


def _mutate(obj, path, value):
    """A copy of ``obj`` with the value at ``path`` replaced (or deleted: _DELETE)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    out = dict(obj) if isinstance(obj, dict) else list(obj)
    if value is _DELETE and not rest:
        del out[head]
    else:
        out[head] = _mutate(obj[head], rest, value)
    return out


def _rrs(name, **kw):
    d = {"Name": name, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    d.update(kw)
    return d


RECORD_SETS = [
    {"Name": "example.com.", "Type": "SOA", "TTL": 900,
     "ResourceRecords": [{"Value": "ns-1.awsdns-00.com. hostmaster. 1 7200 900 1209600 86400"}]},
    _rrs("w.example.com.", SetIdentifier="a", Weight=3, HealthCheckId="hc-1"),
    _rrs("l.example.com.", SetIdentifier="use1", Region="us-east-1"),
    _rrs("f.example.com.", SetIdentifier="p", Failover="PRIMARY", HealthCheckId="calc"),
    _rrs("g.example.com.", SetIdentifier="wa",
         GeoLocation={"CountryCode": "US", "SubdivisionCode": "WA"}),
    _rrs("p.example.com.", SetIdentifier="c",
         GeoProximityLocation={"Coordinates": {"Latitude": "47.61", "Longitude": "-122.33"},
                               "Bias": -10}),
    _rrs("m.example.com.", SetIdentifier="m1", MultiValueAnswer=True),
    _rrs("i.example.com.", SetIdentifier="i1",
         CidrRoutingConfig={"CollectionId": "c-1", "LocationName": "isp"}),
    {"Name": "alias.example.com.", "Type": "A",
     "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "w.example.com.",
                     "EvaluateTargetHealth": True}},
]
HEALTH_CHECKS = [
    {"Id": "hc-1", "HealthCheckConfig": {"Type": "HTTP", "FailureThreshold": 1,
                                         "RequestInterval": 10}},
    {"Id": "calc", "HealthCheckConfig": {"Type": "CALCULATED", "HealthThreshold": 1,
                                         "ChildHealthChecks": ["hc-1"]}},
]
CIDRS = {"c-1": [{"CidrBlock": "198.51.100.0/24", "LocationName": "isp"}]}
RULES = [
    {"Priority": "1", "Conditions": [
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-A",
                                                      "Values": ["1"]}},
        {"Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "k", "Value": "v"}]}},
        {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}}],
     "Actions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
         {"TargetGroupArn": "web", "Weight": 1}]}}]},
    {"Priority": "2", "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/old"]}}],
     "Actions": [{"Type": "redirect", "RedirectConfig": {"Path": "/new",
                                                         "StatusCode": "HTTP_301"}}]},
    {"Priority": "3", "Conditions": [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/x"]}}],
     "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {
         "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "no"}}]},
]
TG_ATTRIBUTES = [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
                 {"Key": "stickiness.enabled", "Value": "true"},
                 {"Key": "stickiness.type", "Value": "lb_cookie"},
                 {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}]
LB_ATTRIBUTES = [{"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
                 {"Key": "dns_record.client_routing_policy", "Value": "any_availability_zone"}]


def _zone_from(records=RECORD_SETS, health=HEALTH_CHECKS, cidrs=CIDRS):
    return route53.HostedZone.from_aws({"ResourceRecordSets": records}, health_checks=health,
                                       cidr_collections=cidrs)


def _alb_rules(rules):
    a = elb.ApplicationLoadBalancer([_tg("HTTP", "web")])
    a.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "web"}],
                   rules=rules)
    return a


SHAPES = {
    "list_resource_record_sets": (RECORD_SETS, lambda d: _zone_from(records=d)),
    "get_health_check": (HEALTH_CHECKS, lambda d: _zone_from(health=d)),
    "list_cidr_blocks": (CIDRS, lambda d: _zone_from(cidrs=d)),
    "describe_rules": (RULES, _alb_rules),
    "describe_target_group_attributes": (
        TG_ATTRIBUTES, lambda d: elb.TargetGroup(protocol="HTTP", attributes=d)),
    "describe_load_balancer_attributes": (
        LB_ATTRIBUTES, lambda d: elb.NetworkLoadBalancer([AZ], attributes=d)),
}
SHAPE_VALUES = (_DELETE, None, True, 0, -1, 2**63, 1.5, math.nan, "", "x" * 300, [], {},
                [[]], {"Key": None}, _Weird())


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_mutated_aws_shapes(shape):
    valid, build = SHAPES[shape]
    build(valid)                                   # the unmutated shape is valid
    bad = []
    for path in _paths(valid):
        for value in SHAPE_VALUES:
            if value is _DELETE and not path:
                continue
            STATS["calls"] += 1
            STATS["shape_calls"] += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    build(_mutate(valid, path, value))
            except REJECT as e:
                STATS["rejected"] += 1
                if not str(e):
                    bad.append(f"{shape}{list(path)}={value!r}: {type(e).__name__} no message")
            except Exception as e:      # noqa: BLE001
                STATS["unexpected"] += 1
                bad.append(f"{shape}{list(path)}={value!r}: {type(e).__name__}: {str(e)[:80]}")
            else:
                STATS["accepted"] += 1
    BAD.extend(bad)
    assert bad == []


# ------------------------------------------- the offenders issue 20 names, one by one
@pytest.mark.parametrize("call, exc, match", [
    (lambda: route53.distance_latency(0, "us-east-1"), TypeError, "client"),
    (lambda: elb.parse_attributes("x", "nlb"), TypeError, "specs"),
    (lambda: elb.Headers().get(0), TypeError, "name"),
    (lambda: elb.Headers().getall(None), TypeError, "name"),
    (lambda: route53.region_location("us-east-1", (1, 2)), TypeError, "table"),
    (lambda: route53.region_location("us-east-1", {"us-east-1": (1,)}), ValueError, "table"),
    (lambda: elb.minimum_healthy(0, "x", 1), TypeError, "tg"),
    (lambda: elb.minimum_healthy(_tg(), "x", 1), ValueError, "prefix"),
    (lambda: elb.Listener(80, "HTTP", None), TypeError, "ruleset"),
    (lambda: route53.Clients(["x"]), TypeError, r"clients\[0\]"),
    (lambda: elb.RuleSet([1], None), TypeError, r"rules\[0\]"),
    (lambda: elb.RuleSet([], 1), TypeError, "default"),
    (lambda: elb.RuleSet([_rule()], _default_rule()).match(None), TypeError, "request"),
    (lambda: route53.HostedZone.from_aws([], name="example.com",
                                         health_checks=[{"Id": "h", "HealthCheckConfig": 1}]),
     TypeError, r"health_checks\[0\]\.HealthCheckConfig"),
    (lambda: route53.HostedZone("example.com", cidr_collections="x"), TypeError,
     "cidr_collections"),
    (lambda: lbcore.RecordPicker(1).sample(2**31, 1), ValueError, "n and k"),
    (lambda: lbcore.TokenBuckets(1, rate=1, burst=1).check(0, True), TypeError, "now"),
    (lambda: _nlb().route_many(VALID["flows"], True), TypeError, "times"),
    (lambda: route53.HealthCheck(checkers=2**40), ValueError, "checkers"),
])
def test_named_offenders(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_latency_record_without_a_client_and_non_finite_now():
    z = _zone()
    assert z.resolve("lat.example.com", "A", now=1.0).values    # client=None: an answer
    for bad in (math.nan, math.inf, True):
        with pytest.raises((TypeError, ValueError), match="now"):
            z.resolve("lat.example.com", "A", now=bad)
        with pytest.raises((TypeError, ValueError), match="now"):
            z.resolve_many("lat.example.com", "A", [_client()], now=bad)


def test_sweep_totals(capsys):
    """The whole sweep again in one test (so the counts don't depend on how xdist
    splits the tests above), printed for the record (docs/testing.md)."""
    STATS.clear()
    del BAD[:]
    for key, fn in CALLABLES:
        for pname, args, kwargs in _mutations(fn, key):
            _run(key, fn, pname, args, kwargs)
    for key, make, name in METHODS:
        obj = make()
        for pname, args, kwargs in _mutations(getattr(obj, name), key):
            _run(key, getattr(obj, name), pname, args, kwargs)
    for shape in SHAPES:
        test_mutated_aws_shapes(shape)
    with capsys.disabled():
        print(f"\nhostile sweep: {len(CALLABLES)} callables, {len(METHODS)} methods, "
              f"{len(SHAPES)} AWS shapes; {STATS['calls']} calls "
              f"({STATS['shape_calls']} on mutated shapes): {STATS['accepted']} accepted, "
              f"{STATS['rejected']} rejected, {STATS['unexpected']} unexpected")
    known = [b for b in BAD if b.split("(")[0] in KNOWN]
    unknown = [b for b in BAD if b not in known]
    with capsys.disabled():
        print(f"known offenders outside this change's files: {len(known)} calls "
              f"({', '.join(sorted(KNOWN))})")
    assert unknown == [] and STATS["unexpected"] == len(known)
    assert STATS["calls"] > 10000
