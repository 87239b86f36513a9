"""ApiGateway on real request paths: an API's resources (lbcore.apigateway.Resources:
templates, {proxy+}, ANY, apiKeyRequired), the 403s API Gateway answers, Retry-After of
429s, and the bucket count bounded by configuration, never by the paths seen."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore.apigateway import (ApiGateway, Decision, Match, Resources, ThrottleSettings,
                               period_id, quota_reset)
from reference.resources_ref import match_ref

PETS = {"/": "GET", "/pets": ["GET", "POST"], "/pets/{id}": {"GET": {"apiKeyRequired": True},
                                                              "DELETE": True},
        "/pets/dog": "GET", "/pets/{id}/toys": "ANY", "/api/{proxy+}": "ANY",
        "/{proxy+}": {"POST": False}}
T0 = dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("path, method, want", [
    ("/pets/dog", "GET", ("/pets/dog", "GET", False)),           # literal over {id}
    ("/pets/7", "GET", ("/pets/{id}", "GET", True)),
    ("/pets/7", "delete", ("/pets/{id}", "DELETE", True)),
    ("/pets/dog", "DELETE", ("/pets/{id}", "DELETE", True)),     # /pets/dog has no DELETE
    ("/pets/7/toys", "PATCH", ("/pets/{id}/toys", "ANY", False)),  # ANY
    ("/pets/", "POST", ("/pets", "POST", False)),                # trailing slash
    ("/", "GET", ("/", "GET", False)),
    ("/api/a/b/c", "PUT", ("/api/{proxy+}", "ANY", False)),      # greedy: the rest
    ("/api/x", "GET", ("/api/{proxy+}", "ANY", False)),
    ("/api", "POST", ("/{proxy+}", "POST", False)),              # {proxy+} needs a segment
    ("/api", "GET", None),
    ("/pets/7/food", "GET", None),
    ("/pets/7", "PUT", None),
    ("/", "POST", None),                                         # / is not under {proxy+}
    ("/x", "BREW", None), ("/x", "ANY", None),
])
def test_most_specific_resource_and_method(path, method, want):
    r = Resources(PETS)
    got = r.match(path, method)
    assert got == (None if want is None else Match(*want))
    ref = match_ref(r.templates, path, method)
    assert (None if got is None else got[:2]) == ref


def test_get_resources_items_and_bad_templates():
    items = [{"id": "r0", "path": "/"}, {"id": "r1", "path": "/pets", "resourceMethods": {
        "GET": {"httpMethod": "GET", "apiKeyRequired": True}}},
        {"id": "r2", "path": "/pets/{petId}", "resourceMethods": {"ANY": {}}}]
    r = Resources(items)
    assert r.match("/pets", "GET") == Match("/pets", "GET", True)
    assert r.match("/pets/1", "HEAD") == Match("/pets/{petId}", "ANY", False)
    assert r.match("/", "GET") is None and len(r) == 2
    for bad, err in [({"pets": "GET"}, ValueError), ({"/pets/": "GET"}, ValueError),
                     ({"/a//b": "GET"}, ValueError), ({"/{p+}/x": "GET"}, ValueError),
                     ({"/{a}": "GET", "/{b}/c": "GET"}, ValueError),
                     ({"/a": "FETCH"}, ValueError), ({"/a": ["GET", "get"]}, ValueError),
                     ({"/a": {"GET": "yes"}}, TypeError), ({"/a": 3}, TypeError),
                     ({3: "GET"}, TypeError), ("/a", TypeError), ([{"p": 1}], TypeError),
                     ({"/a{b}": "GET"}, ValueError)]:
        with pytest.raises(err, match="resources"):
            Resources(bad)
    with pytest.raises(ValueError, match="given twice"):
        Resources([{"path": "/a", "resourceMethods": {"GET": {}}},
                   {"path": "/a", "resourceMethods": {"PUT": {}}}])
    with pytest.raises(TypeError, match="path"):
        r.match(b"/pets", "GET")               # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path"):
        r.match(["/pets"], "GET")              # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path"):
        r.match("pets", "GET")
    with pytest.raises(TypeError, match="method"):
        r.match("/pets", None)                 # type: ignore[arg-type]


_part = st.sampled_from(["a", "b", "c", "{v}", "{w}"])
_tmpl = st.lists(_part, min_size=0, max_size=3).flatmap(
    lambda ps: st.sampled_from(["", "/{p+}"]).map(lambda g: "/" + "/".join(ps) + g))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_tmpl, st.sets(st.sampled_from(["GET", "POST", "ANY"]), min_size=1),
                       max_size=6),
       st.lists(st.sampled_from(["a", "b", "c", "d", ""]), max_size=5),
       st.sampled_from(["GET", "POST", "PUT"]))
def test_match_equals_the_regex_reference(spec, segs, method):
    spec = {("/" if t == "/" else t.rstrip("/").replace("//", "/") or "/"): ms
            for t, ms in spec.items()}
    try:
        r = Resources({t: sorted(ms) for t, ms in spec.items()})
    except ValueError:                 # sibling {v}/{w}: API Gateway refuses it too
        return
    path = "/" + "/".join(segs)
    got = r.match(path, method)
    assert (None if got is None else got[:2]) == match_ref(r.templates, path, method)


def gateway(clock=None):
    g = ApiGateway(ThrottleSettings(1000, 1000), utc_clock=clock)
    g.add_stage("api", "prod", throttle={"rateLimit": 100, "burstLimit": 100},
                method_settings={"/pets/{id}/GET": {"rateLimit": 0.5, "burstLimit": 2}})
    g.add_api("api", PETS)
    g.add_stage("other", "prod")
    g.add_usage_plan("basic", throttle=ThrottleSettings(0.1, 1),
                     quota={"limit": 3, "period": "DAY"},
                     api_stages=[{"apiId": "api", "stage": "prod"}])
    g.add_usage_plan("elsewhere", api_stages=[("other", "prod")])
    g.add_api_key("k1", "basic")
    g.add_api_key("k2", "basic")
    g.add_api_key("k3", "basic")
    g.add_api_key("k-other", "elsewhere")
    return g


S = ("api", "prod")


def test_403s_as_api_gateway_answers_them():
    g = gateway()
    n = g.bucket_count
    forbidden = Decision(False, 403, "INVALID_API_KEY")
    assert g.check(None, "/pets/1", "GET", T0, stage=S) == forbidden       # key required
    assert g.check("nope", "/pets/1", "GET", T0, stage=S) == forbidden     # unknown key
    assert g.check("k-other", "/pets/1", "GET", T0, stage=S) == forbidden  # plan lacks stage
    assert forbidden.message == "Forbidden"
    missing = g.check(None, "/pets/1", "PUT", T0, stage=S)
    assert missing == Decision(False, 403, "MISSING_AUTHENTICATION_TOKEN")
    assert missing.message == "Missing Authentication Token"
    assert g.check("k1", "/nowhere/x", "GET", T0, stage=S).status == 403
    assert g.bucket_count == n                        # a 403 creates nothing
    # a method without apiKeyRequired ignores the key, even an unknown one
    assert g.check("nope", "/pets", "GET", T0, stage=S).allowed
    assert g.check("k1", "/pets/1", "GET", T0, stage=S).allowed


def test_templates_share_buckets_and_paths_never_add_any():
    g = gateway()
    # /pets/{id}/GET: method throttle burst 2 shared by every pet id, keyed per template
    got = [g.check(f"k{1 + i}", f"/pets/{i}", "GET", T0, stage=S) for i in range(3)]
    assert [d.allowed for d in got] == [True, True, False]
    assert (got[2].level, got[2].reason) == ("METHOD", "THROTTLED")
    n = g.bucket_count
    for i in range(20_000):                            # 20k distinct real paths
        g.check(None, f"/api/{i}/x", "GET", T0 + 1, stage=S)
        g.check("k1", f"/pets/{i}", "GET", T0 + 1, stage=S)
    assert g.bucket_count == n + 1                     # + the /api/{proxy+}/ANY bucket
    for i in range(1000):
        g.check(None, f"/api/{i}/x", "POST", T0 + 2, stage=S)
        g.check(None, f"/z/{i}", "POST", T0 + 2, stage=S)      # /{proxy+} POST
    assert g.bucket_count == n + 2


def test_retry_after_is_the_wait_for_the_next_token_exactly():
    g = gateway()
    assert g.check("k1", "/pets/1", "GET", T0, stage=S).allowed      # plan: 0.1/s burst 1
    d = g.check("k1", "/pets/2", "GET", T0 + 0.25, stage=S)
    assert (d.status, d.level, d.message) == (429, "USAGE_PLAN", "Too Many Requests")
    assert d.retry_after == pytest.approx(9.75, abs=1e-6)           # (1 - 0.025) / 0.1
    assert not g.check("k1", "/pets/2", "GET", T0 + 9.99, stage=S).allowed
    assert g.check("k1", "/pets/2", "GET", T0 + 10, stage=S).allowed
    # two levels empty: the wait is the longer one (plan 10 s; method 0.5/s: 2 s)
    assert g.check("k2", "/pets/3", "GET", T0 + 20, stage=S).allowed
    assert g.check("k3", "/pets/3", "GET", T0 + 20, stage=S).allowed    # method: 0 left
    d = g.check("k2", "/pets/3", "GET", T0 + 20.5, stage=S)
    assert d.level == "USAGE_PLAN" and d.retry_after == pytest.approx(9.5)
    d = g.check("k1", "/pets/3", "GET", T0 + 20.5, stage=S)
    assert d.level == "METHOD" and d.retry_after == pytest.approx(1.5)


def test_quota_exhaustion_retry_after_is_the_utc_reset():
    g = gateway()
    for i in range(3):
        assert g.check("k1", "/pets/1", "GET", T0 + 20 * i, stage=S).allowed
    d = g.check("k1", "/pets/1", "GET", T0 + 60, stage=S)
    assert (d.status, d.reason, d.message) == (429, "QUOTA_EXCEEDED", "Limit Exceeded")
    midnight = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc).timestamp()
    assert d.retry_after == pytest.approx(midnight - (T0 + 60))     # 10 h 59 min
    assert g.check("k1", "/pets/1", "GET", midnight, stage=S).allowed


def test_retry_after_none_when_never():
    g = ApiGateway()
    g.add_stage("api", "s", throttle={"rateLimit": 0, "burstLimit": 1})
    g.add_api("api", {"/a": "GET"})
    assert g.check(None, "/a", "GET", T0).allowed
    d = g.check(None, "/a", "GET", T0 + 5)
    assert d.status == 429 and d.retry_after is None


def test_quota_reset_boundaries():
    for period, want in [("DAY", dt.datetime(2026, 12, 4)), ("WEEK", dt.datetime(2026, 12, 7)),
                         ("MONTH", dt.datetime(2027, 1, 1))]:
        r = quota_reset(T0, period)
        assert r == want.replace(tzinfo=dt.timezone.utc).timestamp()
        assert period_id(r, period) == period_id(T0, period) + 1
        assert period_id(r - 0.001, period) == period_id(T0, period)
    with pytest.raises(ValueError, match="period"):
        quota_reset(T0, "YEAR")


def test_add_api_errors_and_check_many_matches_paths():
    g = gateway()
    with pytest.raises(ValueError, match="already"):
        g.add_api("api", {"/a": "GET"})
    with pytest.raises(TypeError, match="api_id"):
        g.add_api(3, {"/a": "GET"})                    # type: ignore[arg-type]
    with pytest.raises(TypeError, match="resources"):
        g.add_api("x", 3)
    n = g.bucket_count
    # check_many takes request paths as check does: the 403s of test_403s_... are the
    # same 403s (codes -2 / -3) and create nothing
    r = g.check_many([None, "nope", "k-other", None, "k1"],
                     ["/pets/1", "/pets/1", "/pets/1", "/pets/1", "/nowhere/x"],
                     ["GET", "GET", "GET", "PUT", "GET"], np.full(5, T0), stage=S)
    assert r.codes.tolist() == [-2, -2, -2, -3, -3]
    assert r.status.tolist() == [403] * 5
    assert r.reason.tolist() == ["INVALID_API_KEY"] * 3 + ["MISSING_AUTHENTICATION_TOKEN"] * 2
    assert r.decision(3) == Decision(False, 403, "MISSING_AUTHENTICATION_TOKEN")
    assert g.bucket_count == n
    # paths of one template share its buckets, in a batch and then one by one
    r = g.check_many(["k1", "k2", "k3"], ["/pets/1", "/pets/2", "/pets/3"], "GET",
                     np.full(3, T0), stage=S)
    assert r.allowed.tolist() == [True, True, False]     # /pets/{id}/GET burst 2
    assert r.decision(2) == Decision(False, 429, "THROTTLED", "METHOD")
    assert not g.check("k2", "/pets/9", "GET", T0, stage=S).allowed
    n = g.bucket_count
    g.check_many("k1", [f"/pets/{i}" for i in range(500)], "GET", np.full(500, T0 + 1),
                 stage=S)
    assert g.bucket_count == n                          # paths never add buckets
    assert g.resources("api").match("/pets/1", "GET").template == "/pets/{id}"
    assert g.resources("nope") is None
    with pytest.raises(TypeError, match="api_key"):
        g.check(3, "/pets/1", "GET", T0, stage=S)      # type: ignore[arg-type]
    assert g.check(None, "/pets", "GET", T0 + 10, stage=["api", "prod"]).allowed  # a list


def test_clock_default_is_the_gateway_utc_clock():
    now = [T0]
    g = gateway(clock=lambda: now[0])
    assert g.check("k1", "/pets/1", "GET", stage=S).allowed
    d = g.check("k1", "/pets/1", "GET", stage=S)
    assert d.retry_after == pytest.approx(10.0)
    now[0] += 10
    assert g.check("k1", "/pets/1", "GET", stage=S).allowed


path_requests = st.lists(st.tuples(
    st.sampled_from([None, "k1", "k2", "nope", "k-other"]),
    st.sampled_from(["/", "/pets", "/pets/1", "/pets/2", "/pets/1/x", "/api/a/b", "/z",
                     "/nowhere/x", "/pets/"]),
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.floats(0, 3)), max_size=25)


@settings(max_examples=100, deadline=None)
@given(path_requests)
def test_check_many_decides_paths_as_check_does(reqs):
    """Request paths, keys known and unknown, methods with and without apiKeyRequired:
    n check calls and one check_many decide alike (403s included) and leave the same
    buckets behind."""
    times = T0 + np.cumsum([q[3] for q in reqs]) if reqs else np.zeros(0)
    g1, g2 = gateway(), gateway()
    singles = [g1.check(k, r, m, float(t), stage=S) for (k, r, m, _), t in zip(reqs, times)]
    got = g2.check_many([q[0] for q in reqs], [q[1] for q in reqs], [q[2] for q in reqs],
                        times, stage=S)
    assert [got.decision(i) for i in range(len(reqs))] == singles
    assert got.status.tolist() == [d.status for d in singles]
    assert got.reason.tolist() == [d.reason for d in singles]
    assert g1.bucket_count == g2.bucket_count
