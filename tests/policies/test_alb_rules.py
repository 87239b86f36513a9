"""ALB listener rule matching: golden cases from the ALB guide ("Condition
types for listener rules") and the elbv2 API reference, validation of every
limit, and the compiled rule set against a naive scan (hypothesis)."""
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck as HC

from lbcore.elb import Request, RuleSet, parse_rule
from reference.alb_rules_ref import condition_holds, match_priority, wild_match


def cond(field, values=None, **cfg):
    key = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig",
           "http-header": "HttpHeaderConfig", "http-request-method": "HttpRequestMethodConfig",
           "query-string": "QueryStringConfig", "source-ip": "SourceIpConfig"}[field]
    c = dict(cfg)
    if values is not None:
        c["Values"] = values
    return {"Field": field, key: c}


def ruleset(rules):
    parsed = [parse_rule(r, f"Rules[{i}]") for i, r in enumerate(rules)]
    return RuleSet(parsed, parse_rule({"Priority": "default", "IsDefault": True,
                                       "Conditions": []}, "default"))


def first(conds, request):
    """Priority matched by a one-rule set (1) or None (default)."""
    return ruleset([{"Priority": "1", "Conditions": conds}]).match(request).priority


# ------------------------------------------------------------------ golden cases
@pytest.mark.parametrize("pattern, host, hit", [
    ("example.com", "example.com", True),
    ("example.com", "EXAMPLE.com", True),            # host names are case-insensitive
    ("EXAMPLE.COM", "example.com", True),
    ("*.example.com", "www.example.com", True),
    ("*.example.com", "example.com", False),         # '*' is 0+ chars; the '.' must be there
    ("*.example.com", ".example.com", True),
    ("www.example.???", "www.example.com", True),    # '?' is exactly one character
    ("www.example.???", "www.example.co", False),
    ("example.com", "example.com:8080", True),       # the port is not part of the host name
])
def test_host_header_golden(pattern, host, hit):
    got = first([cond("host-header", [pattern])], Request(host=host))
    assert (got == 1) is hit


def test_host_header_legacy_values_shape():
    # describe_rules returns both Values and HostHeaderConfig; either is accepted
    rs = ruleset([{"Priority": "3", "Conditions": [
        {"Field": "host-header", "Values": ["a.example.com"],
         "HostHeaderConfig": {"Values": ["a.example.com"]}}]},
        {"Priority": "4", "Conditions": [{"Field": "path-pattern", "Values": ["/x"]}]}])
    assert rs.match(Request(host="a.example.com")).priority == 3
    assert rs.match(Request(target="/x", host="b")).priority == 4


@pytest.mark.parametrize("pattern, target, hit", [
    ("/img/*", "/img/a.png", True),
    ("/img/*", "/IMG/a.png", False),                 # path patterns are case-sensitive
    ("/img/*", "/img", False),
    ("/img/*", "/img/?size=1", True),                # query string is not part of the path
    ("/img/*/pics", "/img/x/y/pics", True),
    ("/img/?.png", "/img/ab.png", False),
    ("/api", "/api?x=1", True),
    ("*", "/anything", True),
])
def test_path_pattern_golden(pattern, target, hit):
    assert (first([cond("path-pattern", [pattern])], Request(target=target)) == 1) is hit


@pytest.mark.parametrize("method, hit", [("GET", True), ("HEAD", True), ("get", False),
                                         ("POST", False)])
def test_http_request_method_case_sensitive(method, hit):
    got = first([cond("http-request-method", ["GET", "HEAD"])], Request(method))
    assert (got == 1) is hit


@pytest.mark.parametrize("headers, hit", [
    ([("User-Agent", "Mozilla/5.0 Chrome/120")], True),
    ([("user-agent", "mozilla/5.0 CHROME/120")], True),   # name and value case-insensitive
    ([("User-Agent", "curl/8")], False),
    ([("User-Agent", "curl/8"), ("User-Agent", "Safari/1")], True),   # any repeat may match
    ([], False),
])
def test_http_header_golden(headers, hit):
    c = cond("http-header", ["*Chrome*", "*Safari*"], HttpHeaderName="User-Agent")
    assert (first([c], Request(headers=headers)) == 1) is hit


@pytest.mark.parametrize("values, target, hit", [
    ([{"Key": "version", "Value": "v1"}], "/?version=v1", True),
    ([{"Key": "version", "Value": "v1"}], "/?VERSION=V1", True),       # case-insensitive
    ([{"Key": "version", "Value": "v1"}], "/?version=v2", False),
    ([{"Key": "version", "Value": "v1"}], "/?a=version&b=v1", False),  # key and value in one pair
    ([{"Value": "*example*"}], "/?x=an-example-value", True),          # value only
    ([{"Value": "*example*"}], "/?example=1", False),
    ([{"Key": "version", "Value": "v1"}], "/?version=v%31", True),     # percent-encoded
    ([{"Key": "q", "Value": "a\\*b"}], "/?q=a*b", True),               # '\' escapes '*'
    ([{"Key": "q", "Value": "a\\*b"}], "/?q=axb", False),
    ([{"Key": "q", "Value": "a\\?"}], "/?q=a%3F", True),
    ([{"Key": "k", "Value": "x"}, {"Key": "j", "Value": "y"}], "/?j=y", True),   # OR
    ([{"Key": "k", "Value": "x"}], "/?k=a&k=x", True),                 # repeated keys kept
])
def test_query_string_golden(values, target, hit):
    assert (first([cond("query-string", values)], Request(target=target)) == 1) is hit


@pytest.mark.parametrize("cidrs, ip, hit", [
    (["192.0.2.0/24"], "192.0.2.77", True),
    (["192.0.2.0/24"], "192.0.3.1", False),
    (["198.51.100.10/32"], "198.51.100.10", True),
    (["2001:db8::/32"], "2001:db8:1::5", True),
    (["2001:db8::/32", "192.0.2.0/24"], "10.0.0.1", False),
    (["0.0.0.0/0"], "203.0.113.9", True),
    (["0.0.0.0/0"], "2001:db8::1", False),
])
def test_source_ip_golden(cidrs, ip, hit):
    assert (first([cond("source-ip", cidrs)], Request(source_ip=ip)) == 1) is hit


def test_source_ip_ignores_x_forwarded_for():
    r = Request(source_ip="10.0.0.1", headers=[("X-Forwarded-For", "192.0.2.1")])
    assert first([cond("source-ip", ["192.0.2.0/24"])], r) is None


def test_and_across_conditions_or_within():
    conds = [cond("host-header", ["a.example.com", "b.example.com"]),
             cond("path-pattern", ["/x/*"])]
    assert first(conds, Request(target="/x/1", host="b.example.com")) == 1
    assert first(conds, Request(target="/y/1", host="b.example.com")) is None
    assert first(conds, Request(target="/x/1", host="c.example.com")) is None


def test_two_header_conditions_on_same_header_both_needed():
    conds = [cond("http-header", ["*mobile*"], HttpHeaderName="User-Agent"),
             cond("http-header", ["*chrome*"], HttpHeaderName="User-Agent")]
    assert first(conds, Request(headers=[("User-Agent", "Chrome Mobile")])) == 1
    assert first(conds, Request(headers=[("User-Agent", "Chrome")])) is None


def test_priority_lowest_first_and_default_last():
    rs = ruleset([
        {"Priority": "20", "Conditions": [cond("path-pattern", ["/*"])]},
        {"Priority": "5", "Conditions": [cond("path-pattern", ["/a*"])]},
        {"Priority": "50000", "Conditions": [cond("http-request-method", ["POST"])]},
    ])
    assert rs.match(Request(target="/ab")).priority == 5
    assert rs.match(Request(target="/b")).priority == 20
    assert rs.match(Request("POST", "/zz")).priority == 20
    r = ruleset([{"Priority": "7", "Conditions": [cond("http-request-method", ["PUT"])]}])
    assert r.match(Request("GET")).priority is None


# ------------------------------------------------------------------ validation
def _rule(conds, prio="1"):
    return {"Priority": prio, "Conditions": conds}


@pytest.mark.parametrize("rule, match", [
    (_rule([cond("host-header", ["a.com", "b.com", "c.com"]),
            cond("path-pattern", ["/a", "/b", "/c"])]), "6 condition values"),
    (_rule([cond("path-pattern", ["/*/*/*/*/*/*"])]), "6 wildcards"),
    (_rule([cond("host-header", ["a.com"]), cond("host-header", ["b.com"])]),
     "at most one host-header"),
    (_rule([cond("path-pattern", ["/a"]), cond("path-pattern", ["/b"])]),
     "at most one path-pattern"),
    (_rule([cond("http-request-method", ["GET"]), cond("http-request-method", ["PUT"])]),
     "at most one http-request-method"),
    (_rule([cond("source-ip", ["10.0.0.0/8"]), cond("source-ip", ["11.0.0.0/8"])]),
     "at most one source-ip"),
    (_rule([cond("http-request-method", ["G*T"])]), "HttpRequestMethodConfig.Values"),
    (_rule([cond("host-header", ["exa mple.com"])]), "HostHeaderConfig.Values"),
    (_rule([cond("path-pattern", ["/" + "a" * 128])]), "PathPatternConfig.Values"),
    (_rule([cond("source-ip", ["10.0.0.1"])]), "CIDR"),
    (_rule([cond("source-ip", ["10.0.0.300/8"])]), "SourceIpConfig.Values"),
    (_rule([cond("http-header", ["x"], HttpHeaderName="Bad Name")]), "HttpHeaderName"),
    (_rule([cond("query-string", [{"Key": "a"}])]), r"QueryStringConfig.Values\[0\]"),
    (_rule([cond("query-string", [])]), "QueryStringConfig.Values"),
    (_rule([{"Field": "cookie", "Values": ["x"]}]), "Field"),
    (_rule([{"Field": "http-header", "Values": ["x"]}]), "HttpHeaderConfig"),
    (_rule([cond("path-pattern", ["/a"])], prio="0"), "Priority"),
    (_rule([cond("path-pattern", ["/a"])], prio="50001"), "Priority"),
    (_rule([]), "at least one condition"),
    ({"Priority": "default", "IsDefault": True, "Conditions": [cond("path-pattern", ["/a"])]},
     "default rule can't have conditions"),
])
def test_invalid_rules_name_the_field(rule, match):
    with pytest.raises(ValueError, match=match):
        parse_rule(rule, "Rules[0]")


def test_limits_at_the_boundary_are_accepted():
    parse_rule(_rule([cond("path-pattern", ["/*/*/*/*/*"])]))
    parse_rule(_rule([cond("host-header", ["a.com", "b.com"]),
                      cond("path-pattern", ["/a", "/b", "/c"])]))
    parse_rule(_rule([cond("query-string", [{"Value": "\\*\\*\\*\\*\\*\\*"}])]))  # escaped


def test_duplicate_priority_rejected():
    with pytest.raises(ValueError, match="priority 3"):
        ruleset([_rule([cond("path-pattern", ["/a"])], "3"),
                 _rule([cond("path-pattern", ["/b"])], "3")])


# ------------------------------------------------------------------ compiled == naive
ALPHA = "ab.-"
hosts = st.one_of(st.text(alphabet="aAb.", min_size=0, max_size=6),
                  st.text(alphabet="aAb.", min_size=1, max_size=6).map(lambda h: h + ":8080"))
# a host value needs a "." and only letters (or wildcards) after the last one
host_pats = st.tuples(st.text(alphabet="ab.*?", max_size=4),
                      st.text(alphabet="ab*?", min_size=1, max_size=2)).map(".".join)
# regexes (RegexValues) from the supported subset; anchored ones ("^a", "^/a") go to the
# slot's prefix index, "(?i)..." and unanchored ones are searched one by one
host_rx = st.sampled_from(["^a", "b$", r"\.a", "A", r":\d+$", "^[ab]+$", "a|b", "^$",
                           r"^(a|b)\.", "a.b", "(?i)^B", "(?P<n>a)"])
path_rx = st.sampled_from(["^/a", "b$", "/a*b", "^/(a|b)+$", "[ab]{2}", "^/$", "A",
                           r"\*", "(?i)^/B", "(?P<n>/)", "a?", "^/[^/]+/"])
hdr_rx = st.sampled_from(["^a", "B$", "aB", "^[aB]+$", "(?i)b", "a|B", "^$"])
path_pats = st.text(alphabet="ab/*?", min_size=0, max_size=6).map(lambda s: "/" + s)
hdr_pats = st.text(alphabet="aB*?", min_size=1, max_size=4)
q_pats = st.text(alphabet="aB*?\\", min_size=1, max_size=4)
cidrs = st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "0.0.0.0/0",
                         "2001:db8::/32", "2001:db8:1::/48", "::/0"])
ips = st.sampled_from(["10.1.2.3", "10.2.0.1", "192.0.2.1", "2001:db8:1::1", "2001:db9::1"])
HNAMES = ["X-A", "x-b"]


@st.composite
def conditions(draw):
    kind = draw(st.sampled_from(["host-header", "path-pattern", "http-header",
                                 "http-request-method", "query-string", "source-ip"]))
    n = draw(st.integers(1, 2))
    if kind in ("host-header", "path-pattern", "http-header") and draw(st.integers(0, 2)) == 0:
        rx = {"host-header": host_rx, "path-pattern": path_rx, "http-header": hdr_rx}[kind]
        values = draw(st.lists(rx, min_size=n, max_size=n))
        if kind == "http-header":
            return cond(kind, None, RegexValues=values,
                        HttpHeaderName=draw(st.sampled_from(HNAMES)))
        if draw(st.booleans()):          # RegexValues beside Field, as botocore allows
            return {"Field": kind, "RegexValues": values}
        return cond(kind, None, RegexValues=values)
    if kind == "host-header":
        return cond(kind, draw(st.lists(host_pats, min_size=n, max_size=n)))
    if kind == "path-pattern":
        return cond(kind, draw(st.lists(path_pats, min_size=n, max_size=n)))
    if kind == "http-request-method":
        return cond(kind, draw(st.lists(st.sampled_from(["GET", "POST", "PUT"]),
                                        min_size=n, max_size=n, unique=True)))
    if kind == "http-header":
        return cond(kind, draw(st.lists(hdr_pats, min_size=n, max_size=n)),
                    HttpHeaderName=draw(st.sampled_from(HNAMES)))
    if kind == "source-ip":
        return cond(kind, draw(st.lists(cidrs, min_size=n, max_size=n)))
    vals = []
    for _ in range(n):
        kv = {"Value": draw(q_pats)}
        if draw(st.booleans()):
            kv["Key"] = draw(q_pats)
        vals.append(kv)
    return cond(kind, vals)


@st.composite
def rule_sets(draw):
    n = draw(st.integers(0, 12))
    prios = draw(st.lists(st.integers(1, 50000), min_size=n, max_size=n, unique=True))
    out = []
    for p in prios:
        r = {"Priority": str(p), "Conditions": draw(st.lists(conditions(), min_size=1,
                                                             max_size=3))}
        try:
            parse_rule(r)
        except ValueError:
            continue            # over a limit: not a rule ALB accepts
        out.append(r)
    return out


@st.composite
def requests(draw):
    path = "/" + draw(st.text(alphabet="ab/*?", max_size=6)).replace("?", "")
    q = draw(st.lists(st.tuples(st.text(alphabet="aAbB*?", max_size=3),
                                st.text(alphabet="aAbB*?", max_size=3)), max_size=3))
    headers = draw(st.lists(st.tuples(st.sampled_from(HNAMES + ["X-a", "X-C"]),
                                      st.text(alphabet="aAbB*?", max_size=4)), max_size=3))
    return Request(draw(st.sampled_from(["GET", "POST", "get", "PUT"])), path,
                   host=draw(st.one_of(st.none(), hosts)), query=q, headers=headers,
                   source_ip=draw(ips))


@settings(max_examples=300, deadline=None, suppress_health_check=[HC.too_slow])
@given(rule_sets(), st.lists(requests(), min_size=1, max_size=8))
def test_compiled_matches_naive_scan(rules, reqs):
    rs = ruleset(rules)
    for r in reqs:
        want = match_priority(rules, r)
        assert rs.match(r).priority == want
        assert rs._match_loop(r).priority == want      # the closure path agrees
        m = rs.match_mask(r)
        assert [x.priority for i, x in enumerate(rs.rules) if m >> i & 1] == \
            [int(x["Priority"]) for x in sorted(rules, key=lambda x: int(x["Priority"]))
             if all(condition_holds(c, r) for c in x["Conditions"])]
    for r in reqs:          # second pass: served from the per-slot caches
        assert rs.match(r).priority == match_priority(rules, r)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab*?\\", max_size=6), st.text(alphabet="ab*?\\", max_size=6),
       st.booleans())
def test_compiled_pattern_vs_reference_matcher(pattern, text, escapes):
    from lbcore.elb._rules import _Pattern, wildcard_tokens
    p = _Pattern(wildcard_tokens(pattern, escapes))
    if p.kind == "exact":
        got = p.literal == text
    else:
        got = (text.startswith(p.prefix) and text.endswith(p.suffix)
               and p.match_candidate(text))
    assert got == wild_match(pattern, text, escapes)


def test_many_rules_same_answer_as_naive():
    rules = [{"Priority": str(i + 1), "Conditions": [
        cond("host-header", [f"svc{i}.example.com", f"*.svc{i}.example.com"]),
        cond("path-pattern", [f"/v{i % 7}/*"])]} for i in range(200)]
    rs = ruleset(rules)
    for i in range(0, 200, 13):
        for host in (f"svc{i}.example.com", f"a.svc{i}.example.com", "nope.example.com"):
            for path in (f"/v{i % 7}/x", "/v99/x"):
                r = Request(target=path, host=host)
                assert rs.match(r).priority == match_priority(rules, r)


# regexes anchored with literal text are indexed by that prefix (one dict lookup per
# prefix length, then only the candidates are searched): drawn from a grammar that makes
# prefixes, optional last literals, top-level alternations, classes, escapes, inline
# flags and non-ASCII case folding (LATIN SMALL LETTER LONG S matches "s" under
# IGNORECASE), compared with the reference scan
_rx_lit = st.text(alphabet="aAbsS/.", min_size=0, max_size=4).map(
    lambda t: "".join("\\." if ch == "." else ch for ch in t))
_rx_tail = st.sampled_from(["", "$", "b?", "a*", "s{2}", "[ab]", "(a|b)", "|b", ".", r"\d",
                            r"\.", "ſ", "(?i:s)"])
_rx_anchored = st.tuples(st.sampled_from(["^", "^", "", "(?i)^"]), _rx_lit, _rx_tail) \
    .map("".join).filter(lambda p: p not in ("", "^", "(?i)^"))
_rx_value = st.text(alphabet="aAbBsSſ/.1", max_size=7)


@settings(max_examples=300, deadline=None, suppress_health_check=[HC.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["host-header", "path-pattern", "http-header"]),
                          st.lists(_rx_anchored, min_size=1, max_size=2)),
                min_size=1, max_size=12),
       st.lists(st.tuples(_rx_value, _rx_value, _rx_value), min_size=1, max_size=8))
def test_prefix_indexed_regexes_match_the_naive_scan(rule_specs, values):
    rules = []
    for i, (field, rxs) in enumerate(rule_specs):
        if field == "path-pattern":
            rxs = [r.replace("^", "^/", 1) if "^" in r else r for r in rxs]
        extra = {"HttpHeaderName": "X-A"} if field == "http-header" else {}
        rules.append({"Priority": str(i + 1),
                      "Conditions": [cond(field, None, RegexValues=rxs, **extra)]})
    rs = ruleset(rules)
    for host, path, header in values:
        req = Request("GET", "/" + path, host=host.strip(".") or None,
                      headers=[("X-A", header)])
        assert rs.match(req).priority == match_priority(rules, req), (host, path, header)


# ------------------------------------------------------- pattern index (every key kind)
many_pats = st.lists(st.text(alphabet="ab/*?", min_size=1, max_size=7), min_size=1,
                     max_size=40)


@settings(max_examples=300, deadline=None)
@given(many_pats, st.lists(st.text(alphabet="ab/", max_size=9), min_size=1, max_size=12))
def test_pattern_index_equals_reference_for_every_pattern_shape(pats, values):
    """Patterns with and without literal prefix/suffix, several per key, wildcards only:
    the index (prefix, suffix, k-gram of a literal run, length) gives exactly the
    patterns the reference matcher accepts."""
    from lbcore.elb._rules import _Pattern, _PatternIndex, wildcard_tokens
    idx = _PatternIndex()
    for i, p in enumerate(pats):
        idx.add(_Pattern(wildcard_tokens(p)), 1 << i)
    idx.freeze()
    for v in values + values:           # the second pass is served from the cache
        want = sum(1 << i for i, p in enumerate(pats) if wild_match(p, v))
        assert idx.match(v) == want


def test_no_literal_prefix_patterns_are_filed_by_a_rare_key():
    """1,000 '*/v{i}/*' patterns: each value checks a handful of candidates, not all."""
    from lbcore.elb._rules import _Pattern, _PatternIndex, wildcard_tokens
    idx = _PatternIndex()
    for i in range(1000):
        idx.add(_Pattern(wildcard_tokens(f"*/v{i}/*")), 1 << i)
    idx.add(_Pattern(wildcard_tokens("??*")), 1 << 1000)
    idx.freeze()
    assert max(len(e) for d in idx._grams for e in d.values()) <= 11
    assert idx.match("/x/v7/y") == (1 << 7) | (1 << 1000)
    assert idx.match("/v") == 1 << 1000 and idx.match("/") == 0
