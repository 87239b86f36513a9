"""ALB per-request cost from Python: rule matching with 1, 10 and 100 rules,
target selection, and the whole route(); listeners of 100 and 1,000 RegexValues
rules (warm value caches, and every request new). Run:

    python -m pytest benchmarks/bench_alb.py --benchmark-enable -q

Rule sets look like real listeners: host-header + path-pattern (with
wildcards) per service, some header/query/method conditions; the request
matches the LAST non-default rule (worst case for a priority scan).
"""
import pytest

from lbcore.elb import ApplicationLoadBalancer, Request, RuleSet, Target, TargetGroup, parse_rule

SIZES = [1, 10, 100]


def make_rules(n):
    rules = []
    for i in range(n):
        conds = [{"Field": "host-header", "HostHeaderConfig": {
                     "Values": [f"svc{i}.example.com", f"*.svc{i}.example.com"]}},
                 {"Field": "path-pattern", "PathPatternConfig": {"Values": [f"/api/v{i}/*"]}}]
        if i % 3 == 1:
            conds.append({"Field": "http-header", "HttpHeaderConfig": {
                "HttpHeaderName": "User-Agent", "Values": ["*Mobile*"]}})
        if i % 5 == 2:
            conds.append({"Field": "http-request-method",
                          "HttpRequestMethodConfig": {"Values": ["GET"]}})
        rules.append({"Priority": str(i + 1), "Conditions": conds,
                      "Actions": [{"Type": "forward", "TargetGroupArn": "web"}]})
    return rules


def last_request(n, path_suffix="x"):
    i = n - 1
    hdr = [("User-Agent", "Mozilla Mobile")] if i % 3 == 1 else [("User-Agent", "curl")]
    return Request("GET", f"/api/v{i}/{path_suffix}?a=1", host=f"www.svc{i}.example.com",
                   headers=hdr, source_ip="192.0.2.10")


def make_alb(n, algorithm="round_robin", slow_start=0, rules=None):
    """10 targets behind a listener of ``make_rules(n)`` (or ``rules``)."""
    tg = TargetGroup([Target(f"i-{k}", "az-a" if k % 2 else "az-b") for k in range(10)],
                     protocol="HTTP", name="web", healthy=True,
                     load_balancing_algorithm_type=algorithm,
                     slow_start_duration_seconds=slow_start)
    alb = ApplicationLoadBalancer([tg], seed=1)
    alb.add_listener(80, default_actions=[{"Type": "forward", "TargetGroupArn": "web"}],
                     rules=make_rules(n) if rules is None else rules)
    return alb


def make_ruleset(n):
    rules = [parse_rule(r) for r in make_rules(n)]
    return RuleSet(rules, parse_rule({"Priority": "default", "IsDefault": True}))


@pytest.mark.parametrize("n", SIZES)
def test_match_compiled(benchmark, n):
    rs, req = make_ruleset(n), last_request(n)
    assert rs.match(req).priority == n
    benchmark.group = "alb-match"
    benchmark(rs.match, req)


@pytest.mark.parametrize("n", SIZES)
def test_match_compiled_cold_cache(benchmark, n):
    """Every request has a new path (the per-slot value caches miss)."""
    rs = make_ruleset(n)
    reqs = [last_request(n, f"p{k}") for k in range(20000)]
    it = iter(reqs * 50)
    benchmark.group = "alb-match"
    benchmark(lambda: rs.match(next(it)))


@pytest.mark.parametrize("n", SIZES)
def test_match_naive_scan(benchmark, n):
    """The reference scan (tests/reference/alb_rules_ref.py) for comparison."""
    bench_naive(benchmark, make_rules(n), last_request(n), n, "alb-match")


def bench_naive(benchmark, rules, req, n, group):
    """The reference scan on ``rules``; ``req`` must match rule ``n``."""
    from reference.alb_rules_ref import match_priority      # tests/ is on sys.path
    assert match_priority(rules, req) == n
    benchmark.group = group
    benchmark(match_priority, rules, req)


@pytest.mark.parametrize("n", SIZES)
def test_route(benchmark, n):
    alb, req = make_alb(n), last_request(n)
    benchmark.group = "alb-route"
    benchmark(alb.route, req, 1.0)


@pytest.mark.parametrize("algorithm", ["round_robin", "weighted_random",
                                       "least_outstanding_requests"])
def test_route_and_complete_100_rules(benchmark, algorithm):
    alb, req = make_alb(100, algorithm), last_request(100)

    def one():
        alb.complete(alb.route(req, 1.0))
    benchmark.group = "alb-route"
    benchmark(one)


@pytest.mark.parametrize("slow_start", [0, 30], ids=["round_robin", "round_robin+slow_start"])
def test_route_and_complete_one_group(benchmark, slow_start):
    """What a proxy pays per request: route + complete, one target group of 10
    targets, the default rule, time moving on between requests (the target group
    advances every time)."""
    alb, req = make_alb(0, slow_start=slow_start), last_request(1)
    clock = iter(range(1, 1 << 62))

    def one():
        alb.complete(alb.route(req, 1.0 + next(clock) * 1e-6))
    benchmark.group = "alb-route-one-group"
    benchmark(one)


def test_selection_only(benchmark):
    """The forward path without rule matching (default rule, 0 rules)."""
    alb, req = make_alb(0), last_request(1)
    benchmark.group = "alb-select"
    benchmark(alb.route, req, 1.0)


def test_parse_raw_request(benchmark):
    raw = (b"GET /api/v7/items?id=3&sort=asc HTTP/1.1\r\nHost: www.svc7.example.com\r\n"
           b"User-Agent: Mozilla/5.0 Mobile\r\nAccept: */*\r\nCookie: AWSALB=x; s=1\r\n\r\n")
    benchmark.group = "alb-request"
    benchmark(Request.from_bytes, raw, source_ip="192.0.2.1")


# ---------------------------------------------------------------- RegexValues rules

REGEX_SIZES = [100, 1000]


def make_regex_rules(n):
    """n rules, each a host-header regex and a path-pattern regex (issue 18's regex
    conditions): ``^svcI\\.example\\.(com|net)$`` and ``^/api/vI/items/[0-9]+$``."""
    return [{"Priority": str(i + 1), "Conditions": [
                {"Field": "host-header",
                 "HostHeaderConfig": {"RegexValues": [rf"^svc{i}\.example\.(com|net)$"]}},
                {"Field": "path-pattern",
                 "PathPatternConfig": {"RegexValues": [rf"^/api/v{i}/items/[0-9]+$"]}}],
             "Actions": [{"Type": "forward", "TargetGroupArn": "web"}]} for i in range(n)]


def regex_request(n, item=7):
    """A request the LAST regex rule matches (the worst case for a priority scan)."""
    return Request("GET", f"/api/v{n - 1}/items/{item}", host=f"svc{n - 1}.example.net",
                   source_ip="192.0.2.10")


def make_regex_alb(rules):
    return make_alb(0, rules=rules)


@pytest.mark.parametrize("n", REGEX_SIZES)
def test_regex_rules_route_warm(benchmark, n):
    """One request again and again: the per-slot value caches hit."""
    alb, req = make_regex_alb(make_regex_rules(n)), regex_request(n)
    assert alb.route(req, 1.0).rule_priority == n
    benchmark.group = "alb-regex-route"
    benchmark(alb.route, req, 1.0)


@pytest.mark.parametrize("n", REGEX_SIZES)
def test_regex_rules_route_cold(benchmark, n):
    """Every request a new path (new item number): the path slot's combined regex runs
    each time (the host value repeats, as it does on a real listener)."""
    alb = make_regex_alb(make_regex_rules(n))
    reqs = [regex_request(n, k) for k in range(20000)]
    assert alb.route(reqs[0], 1.0).rule_priority == n
    it = iter(reqs * 50)
    benchmark.group = "alb-regex-route"
    benchmark(lambda: alb.route(next(it), 1.0))


@pytest.mark.parametrize("n", REGEX_SIZES)
def test_regex_rules_naive_scan(benchmark, n):
    """The reference scan (tests/reference/alb_rules_ref.py: each regex searched on its
    own, rules in priority order) for comparison."""
    bench_naive(benchmark, make_regex_rules(n), regex_request(n), n, "alb-regex-route")


@pytest.mark.parametrize("n", REGEX_SIZES)
def test_regex_rules_build(benchmark, n):
    """Building the listener: parsing and checking n rules, compiling each regex and
    indexing the anchored ones by their literal prefix."""
    import re
    rules = make_regex_rules(n)

    def build():
        re.purge()                   # re's own compile cache would hide the compile
        make_regex_alb(rules)
    benchmark.group = "alb-regex-build"
    benchmark.pedantic(build, rounds=5, iterations=1)
