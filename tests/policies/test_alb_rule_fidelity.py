"""Listener-rule configuration AWS rejects (issue 18), each as a golden reject next to a
nearby configuration AWS accepts, so a check can't pass by rejecting everything; and the
regex conditions and rule transforms on a request (ALB guide, "Listener rules":
condition types, "Transforms"; botocore elbv2 RuleCondition / RuleTransform)."""
import pytest

from lbcore.elb import ApplicationLoadBalancer, Request, Target, TargetGroup


def tg(name):
    return TargetGroup([Target(f"{name}-0", "az-a")], protocol="HTTP", name=name,
                       healthy=True, now=0.0)


def listener(*conditions, transforms=None):
    """An ALB with one rule (the given conditions) forwarding to 'b', default 'a'."""
    alb = ApplicationLoadBalancer([tg("a"), tg("b")])
    rule = {"Priority": "1", "Conditions": list(conditions),
            "Actions": [{"Type": "forward", "TargetGroupArn": "b"}]}
    if transforms is not None:
        rule["Transforms"] = transforms
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "a"}],
                     rules=[rule])
    return alb


def group(alb, req):
    return alb.route(req, 0.0).target_group.name


def host(*values, regex=False):
    key = "RegexValues" if regex else "Values"
    return {"Field": "host-header", "HostHeaderConfig": {key: list(values)}}


@pytest.mark.parametrize("good,bad,match", [
    # at most 3 match evaluations in one condition (5 per rule stays)
    ([host("a.example.com", "b.example.com", "c.example.com")],
     [host("a.example.com", "b.example.com", "c.example.com", "d.example.com")],
     "match evaluations"),
    # a host pattern needs a '.', and only letters after the last one
    ([host("*.example.com")], [host("localhost")], "at least one '.'"),
    ([host("www.example.com")], [host("www.example.c0m")], "only letters"),
    # methods: A-Z, '-' and '_'
    ([{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["CUSTOM_X-Y"]}}],
     [{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["get"]}}],
     "invalid method"),
    # source-ip: CIDR, not 255.255.255.255/32
    ([{"Field": "source-ip", "SourceIpConfig": {"Values": ["255.255.255.254/32"]}}],
     [{"Field": "source-ip", "SourceIpConfig": {"Values": ["255.255.255.255/32"]}}],
     "255.255.255.255/32"),
    # http-header: not Host, no wildcard in the name
    ([{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Host",
                                                    "Values": ["a"]}}],
     [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "Host",
                                                    "Values": ["a"]}}],
     "Host"),
    ([{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Env",
                                                    "Values": ["pr*d"]}}],
     [{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-*",
                                                    "Values": ["a"]}}],
     "wildcards are not supported in a header name"),
    # legacy Values (next to Field) take one value
    ([{"Field": "path-pattern", "Values": ["/a"]}],
     [{"Field": "path-pattern", "Values": ["/a", "/b"]}], "single value"),
    # a condition takes Values or RegexValues, not both
    ([host("^a\\.example\\.com$", regex=True)],
     [{"Field": "host-header", "HostHeaderConfig": {"Values": ["a.example.com"],
                                                    "RegexValues": ["^a"]}}],
     "not both"),
])
def test_condition_rejects_and_nearby_accepts(good, bad, match):
    listener(*good)
    with pytest.raises(ValueError, match=match):
        listener(*bad)


@pytest.mark.parametrize("feature,regex", [
    ("lookahead", "^api(?=\\.)"), ("lookbehind", "(?<=v)1"), ("backreference", "(a)\\1"),
    ("atomic group", "(?>ab)"), ("possessive quantifier", "a++"),
    ("unicode class", "\\p{L}"),
])
def test_regex_features_aws_excludes_are_refused(feature, regex):
    # ALB guide, listener rule conditions: regex features not supported
    listener({"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/v[0-9]+/"]}})
    with pytest.raises(ValueError):
        listener({"Field": "path-pattern", "PathPatternConfig": {"RegexValues": [regex]}})


def test_regex_conditions_route_by_search():
    alb = listener({"Field": "path-pattern", "PathPatternConfig": {"RegexValues": ["^/v[0-9]+/"]}})
    assert group(alb, Request("GET", "/v2/users", port=80)) == "b"
    assert group(alb, Request("GET", "/va/users", port=80)) == "a"
    alb = listener(host("^api-[a-z]+\\.example\\.com$", regex=True))
    assert group(alb, Request("GET", "/", host="api-eu.example.com", port=80)) == "b"
    assert group(alb, Request("GET", "/", host="web.example.com", port=80)) == "a"


def test_host_header_rewrite_carries_the_rewritten_request():
    # ALB guide, transforms example: ^mywebsite-(.+).com$ -> internal.dev.$1.myweb.com
    tr = [{"Type": "host-header-rewrite", "HostHeaderRewriteConfig": {"Rewrites": [
        {"Regex": "^mywebsite-(.+).com$", "Replace": "internal.dev.$1.myweb.com"}]}}]
    alb = listener(host("*.com"), transforms=tr)
    d = alb.route(Request("GET", "/", host="mywebsite-green.com", port=80), 0.0)
    assert d.target_group.name == "b"                 # decided on the original host
    assert d.rewritten is not None and d.rewritten.host_name == "internal.dev.green.myweb.com"
    d = alb.route(Request("GET", "/", host="other.com", port=80), 0.0)
    assert d.target_group.name == "b" and d.rewritten is None    # no match: the original


def test_transforms_one_of_each_type_and_none_on_the_default_rule():
    one = {"Type": "url-rewrite", "UrlRewriteConfig": {"Rewrites": [
        {"Regex": "^/api/(.*)$", "Replace": "/$1"}]}}
    alb = listener(host("*.com"), transforms=[one])
    d = alb.route(Request("GET", "/api/users", host="a.com", port=80), 0.0)
    assert d.rewritten is not None and d.rewritten.path == "/users"
    with pytest.raises(ValueError):
        listener(host("*.com"), transforms=[one, one])
    alb = ApplicationLoadBalancer([tg("a")])
    with pytest.raises(ValueError, match="default rule"):
        default_rule = {"Priority": "default", "IsDefault": True, "Conditions": [],
                        "Transforms": [one],
                        "Actions": [{"Type": "forward", "TargetGroupArn": "a"}]}
        alb.add_listener(80, "HTTP", default_actions=None, rules=[default_rule])


def test_anomaly_mitigation_needs_weighted_random():
    # botocore elbv2 TargetGroupAttribute load_balancing.algorithm.anomaly_mitigation:
    # "Only available when load_balancing.algorithm.type is weighted_random"
    item = {"TargetGroupName": "w", "Protocol": "HTTP", "Port": 80, "TargetType": "ip"}
    good = [{"Key": "load_balancing.algorithm.type", "Value": "weighted_random"},
            {"Key": "load_balancing.algorithm.anomaly_mitigation", "Value": "on"}]
    TargetGroup.from_aws(item, [], attributes=good)
    bad = [{"Key": "load_balancing.algorithm.type", "Value": "round_robin"},
           {"Key": "load_balancing.algorithm.anomaly_mitigation", "Value": "on"}]
    with pytest.raises(ValueError, match="anomaly_mitigation"):
        TargetGroup.from_aws(item, [], attributes=bad)
