"""lbcore.apigateway: settings shapes, precedence, quotas at UTC boundaries, check_many ==
check == exact reference, Lambda concurrency."""
import datetime as dt
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore.apigateway import (ACCOUNT_DEFAULT_THROTTLE, ApiGateway, Decision, LambdaConcurrency,
                               QuotaSettings, ThrottleSettings, period_id,
                               CONCURRENT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED)
from reference.bucket_ref import NS, BucketRef, GatewayRef, period_ref


def utc(s):
    """Unix seconds of an ISO 8601 UTC time; fractional seconds of any length (Python
    3.10's fromisoformat takes only 3 or 6 digits)."""
    whole, _, frac = s.partition(".")
    t = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


# ------------------------------------------------------------------ settings
def test_settings_shapes_and_camel_case():
    a = ThrottleSettings(rate_limit=10, burst_limit=5)
    assert a == ThrottleSettings(rateLimit=10, burstLimit=5) == ThrottleSettings(10, 5)
    assert a == ThrottleSettings.from_dict({"rateLimit": 10.0, "burstLimit": 5})
    assert a == ThrottleSettings.from_dict({"throttlingRateLimit": 10,
                                            "throttlingBurstLimit": 5})
    assert a.to_dict() == {"burstLimit": 5, "rateLimit": 10.0}
    q = QuotaSettings(limit=100, period="WEEK", offset=10)
    assert q == QuotaSettings.from_dict({"limit": 100, "period": "WEEK", "offset": 10})
    assert q.to_dict() == {"limit": 100, "offset": 10, "period": "WEEK"}
    assert ACCOUNT_DEFAULT_THROTTLE == ThrottleSettings(10000, 5000)


@pytest.mark.parametrize("make,exc,match", [
    (lambda: ThrottleSettings(-1, 5), ValueError, "rate_limit"),
    (lambda: ThrottleSettings(float("nan"), 5), ValueError, "rate_limit"),
    (lambda: ThrottleSettings(1, -5), ValueError, "burst_limit"),
    (lambda: ThrottleSettings(1, 2.5), TypeError, "burst_limit"),
    (lambda: ThrottleSettings(1), TypeError, "burst_limit"),
    (lambda: ThrottleSettings(1, 2, rateLimit=3), TypeError, "rateLimit"),
    (lambda: ThrottleSettings.from_dict({"rate": 1}), ValueError, "rate"),
    (lambda: QuotaSettings(10, "YEAR"), ValueError, "period"),
    (lambda: QuotaSettings(-1, "DAY"), ValueError, "limit"),
    (lambda: QuotaSettings(10, "DAY", 11), ValueError, "offset"),
    (lambda: QuotaSettings.from_dict({"limit": 1, "period": "DAY", "x": 1}), ValueError, "x"),
])
def test_settings_validation(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


# ---------------------------------------------------------------- precedence
def gateway():
    g = ApiGateway()
    g.add_stage("api", "prod", throttle={"rateLimit": 100, "burstLimit": 4},
                method_settings={"/pets/GET": {"rateLimit": 10, "burstLimit": 2}})
    g.add_usage_plan("gold", api_stages=[{"apiId": "api", "stage": "prod", "throttle": {
        "/pets/POST": {"rateLimit": 1, "burstLimit": 1}}}],
        throttle={"rateLimit": 5, "burstLimit": 3})
    g.add_usage_plan("quota", api_stages=[("api", "prod")],
                     quota={"limit": 2, "period": "DAY", "offset": 1})
    g.add_api_key("k1", "gold")
    g.add_api_key("k2", "gold")
    g.add_api_key("q1", "quota")
    return g


def test_account_default_10000_rps_5000_burst():
    g = ApiGateway()
    g.add_stage("api", "prod")
    r = g.check_many(None, "/x", "GET", np.zeros(5001))
    assert r.allowed[:5000].all() and not r.allowed[5000]
    assert r.decision(5000).level == "ACCOUNT" and r.decision(5000).status == 429
    # 0.1 s later the bucket refilled exactly 1,000 tokens
    r = g.check_many(None, "/x", "GET", np.full(1001, 0.1))
    assert r.allowed.sum() == 1000


def test_precedence_levels_reported():
    g = gateway()
    # stage per-method setting (/pets/GET burst 2) refuses at METHOD level
    assert [g.check(None, "/pets", "GET", 0.0).allowed for _ in range(3)] == [1, 1, 0]
    assert g.check(None, "/pets", "GET", 0.0).level == "METHOD"
    # stage-wide default (burst 4) applies to each other method separately
    assert sum(g.check(None, "/cats", "GET", 0.0).allowed for _ in range(5)) == 4
    assert g.check(None, "/cats", "GET", 0.0).level == "STAGE"
    assert sum(g.check(None, "/dogs", "GET", 0.0).allowed for _ in range(5)) == 4
    # usage-plan per-method throttle (/pets/POST burst 1) beats the plan throttle
    assert g.check("k1", "/pets", "POST", 0.0).allowed
    d = g.check("k1", "/pets", "POST", 0.0)
    assert (d.reason, d.level, d.status, d.message) == ("THROTTLED", "USAGE_PLAN_METHOD",
                                                         429, "Too Many Requests")
    # per-client: k2 has its own usage-plan buckets
    assert g.check("k2", "/pets", "POST", 0.0).allowed
    # plan-wide per-key throttle (burst 3) for other methods
    assert [g.check("k1", "/birds", "PUT", 0.0).allowed for _ in range(4)] == [1, 1, 1, 0]
    assert g.check("k1", "/birds", "PUT", 0.0).level == "USAGE_PLAN"


def test_chain_names_what_decides_without_deciding():
    g = gateway()
    levels, quota = g.chain("k1", "/pets", "post")
    assert [lv and lv[0] for lv in levels] == ["USAGE_PLAN_METHOD", "STAGE", "ACCOUNT"]
    assert levels[0][2] == ThrottleSettings(rate_limit=1, burst_limit=1)
    assert levels[1][2] == ThrottleSettings(rate_limit=100, burst_limit=4)
    assert levels[2] == ("ACCOUNT", ("account",), ACCOUNT_DEFAULT_THROTTLE)
    assert quota is None
    # two keys of one plan: their own plan buckets, the same method bucket
    other, _ = g.chain("k2", "/pets", "POST")
    assert other[0][1] != levels[0][1] and other[1][1] == levels[1][1]
    levels, quota = g.chain("q1", "/pets", "GET")
    assert levels[0] is None and levels[1][0] == "METHOD"
    assert quota == ("q1", QuotaSettings(2, "DAY", 1), None)
    # nothing was charged: the stage's per-method burst of 2 is all there
    assert [g.check(None, "/pets", "GET", 0.0).allowed for _ in range(3)] == [1, 1, 0]
    # a request check answers with a 403 is that 403, and nothing is created for it
    n = g.bucket_count
    assert g.chain("nope", "/pets", "GET") == Decision(False, 403, "INVALID_API_KEY")
    assert g.bucket_count == n


def test_refusal_takes_no_tokens_all_or_nothing():
    g = ApiGateway(ThrottleSettings(0, 2))       # account: 2 tokens, never refilled
    g.add_stage("api", "prod", method_settings={"/a/GET": ThrottleSettings(0, 1)})
    assert g.check(None, "/a", "GET", 0.0).allowed
    assert g.check(None, "/a", "GET", 0.0).level == "METHOD"   # account not charged
    assert g.check(None, "/b", "GET", 0.0).allowed             # 2nd account token left
    assert g.check(None, "/b", "GET", 0.0).level == "ACCOUNT"


def test_quota_offset_and_day_boundary():
    g = gateway()
    t = utc("2026-03-10T23:59:59")
    assert g.check("q1", "/x", "GET", t).allowed          # initial day: limit 2 - offset 1
    d = g.check("q1", "/x", "GET", t)
    assert (d.reason, d.level, d.message) == ("QUOTA_EXCEEDED", "USAGE_PLAN", "Limit Exceeded")
    assert g.check("q1", "/x", "GET", t + 0.999).reason == "QUOTA_EXCEEDED"
    t2 = utc("2026-03-11T00:00:00")                       # 00:00 UTC: new period, no offset
    assert g.quota_remaining("q1", t2) == 2
    assert [g.check("q1", "/x", "GET", t2).allowed for _ in range(3)] == [1, 1, 0]


@pytest.mark.parametrize("period,last,first", [
    ("DAY", "2024-02-28T23:59:59.999", "2024-02-29T00:00:00"),
    ("WEEK", "2026-11-29T23:59:59.5", "2026-11-30T00:00:00"),    # Sunday -> Monday
    ("MONTH", "2024-02-29T23:59:59", "2024-03-01T00:00:00"),
    ("MONTH", "2025-12-31T23:59:59", "2026-01-01T00:00:00"),
])
def test_quota_resets_at_utc_boundaries(period, last, first):
    g = ApiGateway()
    g.add_stage("api", "prod")
    g.add_usage_plan("p", api_stages=[("api", "prod")], quota=QuotaSettings(1, period))
    g.add_api_key("k", "p")
    a, b = utc(last), utc(first)
    assert period_id(a, period) + 1 == period_id(b, period)
    assert g.check("k", "/r", "GET", a).allowed
    assert g.check("k", "/r", "GET", a).reason == "QUOTA_EXCEEDED"
    assert g.check("k", "/r", "GET", b).allowed
    # within the period (a Monday..Sunday week, a calendar month) it does not reset
    if period != "DAY":
        assert period_id(b, period) == period_id(b + 5 * 86400 + 3600, period)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4 * 10**18))
def test_period_id_equals_datetime_reference(ns):
    for p in ("DAY", "WEEK", "MONTH"):
        s = ns / 1e9
        assert period_id(s, p) == period_ref(int(np.rint(s * 1e9)), p)


def test_quota_created_sets_initial_period():
    g = ApiGateway()
    g.add_stage("api", "prod")
    g.add_usage_plan("p", api_stages=[("api", "prod")],
                     quota=QuotaSettings(3, "MONTH", offset=2))
    g.add_api_key("k", "p", created=utc("2026-01-15T00:00:00"))
    # first used in February: not the initial period, so the full limit applies
    t = utc("2026-02-03T00:00:00")
    assert sum(g.check("k", "/r", "GET", t).allowed for _ in range(4)) == 3


# ---------------------------------------------- batch == scalar == reference
STAGE = dict(throttle={"rateLimit": 3, "burstLimit": 4},
             method_settings={"/a/GET": {"rateLimit": 2, "burstLimit": 2}})
PLANS = {"p1": dict(throttle={"rateLimit": 1.5, "burstLimit": 3},
                    quota={"limit": 6, "period": "DAY", "offset": 2},
                    stage_throttle={"/a/POST": {"rateLimit": 1, "burstLimit": 1}}),
         "p2": dict(throttle=None, quota=None, stage_throttle={})}
KEYS = {"k1": "p1", "k2": "p1", "k3": "p2"}
ACC = (8, 6)


def build():
    g = ApiGateway(ThrottleSettings(*ACC))
    g.add_stage("api", "prod", **STAGE)
    for name, p in PLANS.items():
        g.add_usage_plan(name, api_stages=[{"apiId": "api", "stage": "prod",
                                            "throttle": p["stage_throttle"]}],
                         throttle=p["throttle"], quota=p["quota"])
    for k, p in KEYS.items():
        g.add_api_key(k, p)
    return g


def ref_check(ref, key, res, meth, now):
    mkey = f"{res}/{meth}"
    chain = []
    quota = None
    if key is not None:
        p = PLANS[KEYS[key]]
        if mkey in p["stage_throttle"]:
            t = p["stage_throttle"][mkey]
            chain.append(("USAGE_PLAN_METHOD", ref.bucket(("pm", key, mkey),
                                                          (t["rateLimit"], t["burstLimit"]))))
        elif p["throttle"]:
            t = p["throttle"]
            chain.append(("USAGE_PLAN", ref.bucket(("p", key), (Fraction(t["rateLimit"]),
                                                                 t["burstLimit"]))))
        if p["quota"]:
            q = p["quota"]
            quota = (q["limit"], q["offset"], q["period"])
    if mkey in STAGE["method_settings"]:
        t = STAGE["method_settings"][mkey]
        chain.append(("METHOD", ref.bucket(("m", mkey), (t["rateLimit"], t["burstLimit"]))))
    else:
        t = STAGE["throttle"]
        chain.append(("STAGE", ref.bucket(("m", mkey), (t["rateLimit"], t["burstLimit"]))))
    chain.append(("ACCOUNT", ref.account))
    return ref.check(chain, key, quota, now)


requests = st.lists(st.tuples(st.sampled_from([None, "k1", "k2", "k3"]),
                              st.sampled_from(["/a", "/b"]),
                              st.sampled_from(["GET", "POST"]),
                              st.one_of(st.just(0.0), st.floats(0, 0.7),
                                        st.floats(0, 90000))),
                    max_size=60)


@settings(max_examples=80, deadline=None)
@given(requests, st.floats(0, 2e9))
def test_check_many_equals_check_equals_reference(reqs, t0):
    times = t0 + np.cumsum([r[3] for r in reqs]) if reqs else np.zeros(0)
    keys = [r[0] for r in reqs]
    res = [r[1] for r in reqs]
    meth = [r[2] for r in reqs]
    g1, g2 = build(), build()
    ref = GatewayRef(ACC)
    got = g2.check_many(keys, res, meth, times)
    for i, (k, r, m) in enumerate(zip(keys, res, meth)):
        d = g1.check(k, r, m, float(times[i]))
        want = ref_check(ref, k, r, m, int(np.rint(times[i] * 1e9)))
        assert (None if d.allowed else (d.reason, d.level)) == want
        assert got.decision(i) == d
    assert got.retry_after is None          # not asked for


def _same_wait(a, b):
    return (a is None and b is None) or (a is not None and b is not None and a == b)


@settings(max_examples=60, deadline=None)
@given(requests, st.floats(0, 2e9), st.sampled_from(["DAY", "WEEK", "MONTH"]),
       st.sampled_from([0, 0.25, 1.5, 7, 10**6]))
def test_check_many_retry_after_equals_check_bit_for_bit(reqs, t0, period, rate):
    """check_many(retry_after=True) computes each refusal's Retry-After in the kernel,
    from the state the refusal left; every value is the float check returns (None <->
    NaN): bucket waits (a rate-0 plan never refills: None), quota resets at the UTC
    day / Monday / 1st-of-month boundary, and the longer of the two."""
    times = t0 + np.cumsum([r[3] for r in reqs]) * 30 if reqs else np.zeros(0)
    keys = [r[0] for r in reqs]
    res = [r[1] for r in reqs]
    meth = [r[2] for r in reqs]

    def make():
        g = ApiGateway(ThrottleSettings(*ACC))
        g.add_stage("api", "prod", **STAGE)
        g.add_usage_plan("p1", api_stages=[("api", "prod")],
                         throttle=ThrottleSettings(rate, 2),
                         quota={"limit": 3, "period": period})
        g.add_usage_plan("p2", api_stages=[("api", "prod")])
        for k, p in KEYS.items():
            g.add_api_key(k, p)
        return g
    g1, g2 = make(), make()
    got = g2.check_many(keys, res, meth, times, retry_after=True)
    assert got.retry_after.dtype == np.float64 and got.retry_after.shape == (len(reqs),)
    for i, (k, r, m) in enumerate(zip(keys, res, meth)):
        d = g1.check(k, r, m, float(times[i]))
        e = got.decision(i)
        assert e == d and _same_wait(e.retry_after, d.retry_after), (i, d, e)
        assert np.isnan(got.retry_after[i]) == (d.retry_after is None)


def test_check_many_retry_after_cases_by_hand():
    """The documented figures through the batch: the plan bucket (rate 1.5, burst 3)
    refuses the 4th request at t=0 and needs 1/1.5 s for a token; the DAY quota (6 - 2
    offset in the first period) refuses the 5th admitted request until 00:00 UTC."""
    g = build()
    r = g.check_many("k1", "/b", "GET", np.zeros(4), retry_after=True)
    assert r.codes.tolist() == [0, 0, 0, 2]
    assert np.isnan(r.retry_after[:3]).all() and r.retry_after[3] == 1 / 1.5
    t = np.array([10.0, 20.0, 86399.5])
    r = g.check_many("k1", "/b", "GET", t, retry_after=True)
    assert r.codes.tolist() == [0, 1, 1]
    assert r.retry_after[1:].tolist() == [86400 - 20.0, 0.5]
    with pytest.raises(TypeError, match="retry_after"):
        g.check_many("k1", "/b", "GET", t, retry_after=1)


def test_errors_unknown_key_and_time_back():
    g = gateway()
    # check and check_many answer an unknown key as API Gateway does (403 Forbidden,
    # nothing created, no token taken)
    n = g.bucket_count
    assert g.check("nope", "/x", "GET", 0.0) == Decision(False, 403, "INVALID_API_KEY")
    assert g.check("nope", "/x", "GET", 0.0).message == "Forbidden"
    assert g.bucket_count == n
    r = g.check_many(["nope", "k1", "nope"], "/x", "GET", [0.0, 0.0, 0.0])
    assert r.codes.tolist() == [-2, 0, -2]
    assert r.status.tolist() == [403, 200, 403]
    assert r.reason.tolist() == ["INVALID_API_KEY", None, "INVALID_API_KEY"]
    assert r.level.tolist() == [None, None, None]
    assert r.decision(0) == Decision(False, 403, "INVALID_API_KEY")
    fresh = gateway()
    fresh.check("k1", "/x", "GET", 0.0)
    assert g.bucket_count == fresh.bucket_count     # nothing made for "nope"
    # the 403 rows took no token: k1's plan (burst 3) admits two more, as after one check
    assert [g.check("k1", "/x", "GET", 0.0).allowed for _ in range(3)] == \
        [fresh.check("k1", "/x", "GET", 0.0).allowed for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError, match="resource"):
        g.check(None, "x", "GET", 0.0)
    with pytest.raises(ValueError, match="method"):
        g.check(None, "/x", "FETCH", 0.0)
    with pytest.raises(ValueError, match="now"):
        g.check(None, "/x", "GET", float("nan"))
    with pytest.raises(ValueError, match="method_settings"):
        g.add_stage("api", "dev", method_settings={"pets/GET": {"rateLimit": 1,
                                                                 "burstLimit": 1}})
    with pytest.raises(ValueError, match="method_settings"):
        g.add_stage("api", "dev2", method_settings={"/pets/*": {"rateLimit": 1,
                                                                 "burstLimit": 1}})
    with pytest.raises(KeyError, match="stage"):
        g.add_usage_plan("x", api_stages=[("api", "nope")])
    g.check("k1", "/x", "GET", 10.0)
    with pytest.raises(ValueError, match="time went back"):
        g.check("k1", "/x", "GET", 9.0)
    # batch: error at index 2 leaves everything unchanged, then the same batch with a
    # fixed time behaves exactly like a fresh sequential run from the same state
    h = gateway()
    h.check("k1", "/x", "GET", 10.0)
    with pytest.raises(ValueError, match=r"times\[2\]"):
        g.check_many(["k1", "k1", "k1"], "/x", "GET", [11.0, 11.0, 5.0])
    a = g.check_many(["k1"] * 5, "/x", "GET", [11.0] * 5)
    b = [h.check("k1", "/x", "GET", 11.0).allowed for _ in range(5)]
    assert a.allowed.tolist() == b


# -------------------------------------------------------------------- Lambda
def test_lambda_defaults_and_unreserved_pool():
    lam = LambdaConcurrency()
    assert lam.account_limit == 1000 and lam.unreserved_limit == 1000
    lam.put_function_concurrency("hot", 900)            # leaves exactly 100
    with pytest.raises(ValueError, match="100"):
        lam.put_function_concurrency("other", 1)
    with pytest.raises(ValueError, match="100"):
        lam.put_function_concurrency("hot", 901)
    assert all(lam.start("hot").allowed for _ in range(900))
    d = lam.start("hot")
    assert (d.allowed, d.status, d.reason, d.error) == (
        False, 429, RESERVED_LIMIT_EXCEEDED, "TooManyRequestsException")
    assert all(lam.start(f"f{i % 7}").allowed for i in range(100))
    d = lam.start("f1")
    assert (d.status, d.reason) == (429, CONCURRENT_LIMIT_EXCEEDED)
    lam.finish("f3")
    assert lam.start("f1").allowed
    lam.finish("hot")
    assert lam.start("hot").allowed and lam.running() == 1000


def test_lambda_reserved_zero_and_errors():
    lam = LambdaConcurrency(200)
    lam.put_function_concurrency("off", 0)
    assert lam.start("off").reason == RESERVED_LIMIT_EXCEEDED
    with pytest.raises(ValueError, match="without a matching start"):
        lam.finish("never")
    lam.start("g")
    lam.finish("g")
    with pytest.raises(ValueError, match="without a matching start"):
        lam.finish("g")
    with pytest.raises(ValueError, match="reserved"):
        lam.put_function_concurrency("x", -1)
    with pytest.raises(TypeError, match="account_limit"):
        LambdaConcurrency(10.5)
    # a reservation moves running executions out of the shared pool and back
    for _ in range(50):
        lam.start("g")
    lam.put_function_concurrency("g", 60)
    assert lam.unreserved_limit == 140
    assert all(lam.start("h").allowed for _ in range(140))
    assert lam.start("h").reason == CONCURRENT_LIMIT_EXCEEDED
    lam.delete_function_concurrency("g")         # pool 200 again, 140 + 50 in use
    assert [lam.start("h").allowed for _ in range(11)] == [True] * 10 + [False]


def test_numba_chain_kernels_equal_cython():
    import numba
    from lbcore import numba as lbn
    from lbcore._bucket import Quotas, TokenBuckets, check_chains

    @numba.njit
    def seq(state, quotas, chains, quota, times):
        out = np.empty(chains.shape[0], np.intc)
        for i in range(chains.shape[0]):
            row = chains[i].copy()
            out[i] = lbn.bucket_check_chain(state.ctypes, state.shape[0], quotas.ctypes,
                                     quotas.shape[0], row.ctypes, 3, quota[i], times[i], 1)
        return out

    @numba.njit
    def batch(state, quotas, chains, quota, times):
        n = chains.shape[0]
        out = np.zeros(n, np.int8)
        journal = np.empty(n * 9, np.int64)
        reason = np.zeros(1, np.intc)
        costs = np.ones(n, np.int64)
        bad = lbn.bucket_check_chains(state.ctypes, state.shape[0], quotas.ctypes, quotas.shape[0],
                               n, chains.ctypes, 3, quota.ctypes, times.ctypes,
                               costs.ctypes, journal.ctypes, out.ctypes, reason.ctypes)
        return out, bad

    @numba.njit
    def periods(ns, kind):
        out = np.empty(ns.shape[0], np.int64)
        for i in range(ns.shape[0]):
            out[i] = lbn.bucket_period_id(ns[i], kind)
        return out

    def fresh():
        tb = TokenBuckets(4, rate=[1, 2, 3, 50], burst=[2, 3, 1, 5])
        qs = Quotas()
        qs.add(5, "DAY", 1)
        qs.add(3, "MONTH")
        return tb, qs

    rng = np.random.default_rng(11)
    n = 400
    chains = np.stack([rng.integers(-1, 2, n), rng.integers(-1, 3, n) * 0 + 2,
                       np.full(n, 3)], axis=1).astype(np.int32)
    quota = rng.integers(-1, 2, n).astype(np.int32)
    t_s = np.cumsum(rng.exponential(2000.0, n))
    t_ns = np.rint(t_s * 1e9).astype(np.int64)
    tb, qs = fresh()
    want = check_chains(tb, qs, chains, quota, t_s)
    tb1, qs1 = fresh()
    got1 = seq(tb1.ctypes.state, qs1.ctypes.state, chains, quota, t_ns)
    tb2, qs2 = fresh()
    got2, bad = batch(tb2.ctypes.state, qs2.ctypes.state, chains, quota, t_ns)
    assert set(np.unique(want)) >= {0, 1}          # the mix exercises quota refusals
    assert np.array_equal(got1, want) and bad == -1 and np.array_equal(got2, want)
    assert np.array_equal(tb1.state, tb.state) and np.array_equal(qs2.state, qs.state)
    kinds = {"DAY": lbn.BUCKET_PERIOD_DAY, "WEEK": lbn.BUCKET_PERIOD_WEEK,
             "MONTH": lbn.BUCKET_PERIOD_MONTH}
    for name, k in kinds.items():
        assert periods(t_ns, k).tolist() == [period_ref(int(x), name) for x in t_ns]


def test_check_chain_rejects_repeated_bucket_and_bad_index():
    from lbcore._bucket import Quotas, TokenBuckets, check_chain, check_chains
    tb, qs = TokenBuckets(3, rate=1, burst=1), Quotas()
    with pytest.raises(IndexError, match="repeated"):
        check_chain(tb, qs, 1, 1, -1, -1, 0.0)
    with pytest.raises(IndexError, match="quota"):
        check_chain(tb, qs, 0, -1, -1, 0, 0.0)
    with pytest.raises(IndexError, match="request 1"):
        check_chains(tb, qs, [[0, -1], [2, 2]], [-1, -1], [0.0, 0.0])
    assert tb.tokens(0, 0.0) == 1.0          # the failed batch was rolled back
    assert check_chain(tb, qs, 0, 1, 2, -1, 0.0) == 0
    assert check_chain(tb, qs, 0, -1, -1, -1, 0.0) == 2


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 3), st.integers(0, 3),
       st.lists(st.tuples(st.sampled_from(["k1", "k2"]), st.floats(0, 0.5)), max_size=60))
def test_plan_limit_at_or_above_account_changes_no_decision(acc_rate, acc_burst, extra_r, extra_b, reqs):
    # A level whose rate and burst are both >= the account's never holds fewer tokens
    # than the account bucket, so it never changes a decision: every request it refuses
    # the account refuses too (with equal tokens both refuse, and the decision names the
    # first refusing level, the plan, as docs/throttling.md says).
    g = ApiGateway(ThrottleSettings(acc_rate, acc_burst))
    g.add_stage("api", "prod")
    g.add_usage_plan("p", api_stages=[("api", "prod")],
                     throttle=ThrottleSettings(acc_rate + extra_r, acc_burst + extra_b))
    g.add_api_key("k1", "p")
    g.add_api_key("k2", "p")
    times = np.cumsum([r[1] for r in reqs]) if reqs else np.zeros(0)
    r = g.check_many([k for k, _ in reqs], "/x", "GET", times)
    account_only = ApiGateway(ThrottleSettings(acc_rate, acc_burst))
    account_only.add_stage("api", "prod")
    account_only.add_usage_plan("p", api_stages=[("api", "prod")])
    account_only.add_api_key("k1", "p")
    account_only.add_api_key("k2", "p")
    a = account_only.check_many([k for k, _ in reqs], "/x", "GET", times)
    assert r.allowed.tolist() == a.allowed.tolist()


class _Key(str):
    """A str subclass: an API key is any str, as ``check`` takes it."""


odd_requests = st.lists(st.tuples(
    st.one_of(st.sampled_from([None, "k1", "k3", "nope", _Key("k2")]), st.integers(0, 3),
              st.just(b"k1")),
    st.one_of(st.sampled_from(["/a", "/a\x00", "/a\x00\x00", "/b", "/é", "a", ""]),
              st.integers(0, 1)),
    st.sampled_from(["GET", "get", "POST", "BREW"])), max_size=12)


@settings(max_examples=150, deadline=None)
@given(odd_requests)
def test_check_and_check_many_agree_on_every_input(reqs):
    """Scalar and batch decide alike on odd inputs too: an int or bytes API key is a
    TypeError in both (check_many used to stringify it and admit it), '/a' and '/a\\x00'
    are two resources in both (numpy's string dtype used to drop the NUL), and a batch
    holding a request check refuses raises one of the errors check raises; a 403 of
    check (an unknown key) is the same 403 in check_many."""
    times = np.arange(len(reqs), dtype=np.float64) * 0.01
    g1, g2 = build(), build()
    singles, errors = [], set()
    for (k, r, m), now in zip(reqs, times.tolist()):
        try:
            d = g1.check(k, r, m, now)
            singles.append(d)
        except (TypeError, ValueError, KeyError) as exc:
            errors.add(type(exc))
            singles.append(None)
    if errors:
        with pytest.raises(tuple(errors)):
            g2.check_many([q[0] for q in reqs], [q[1] for q in reqs], [q[2] for q in reqs],
                          times)
        return
    got = g2.check_many([q[0] for q in reqs], [q[1] for q in reqs], [q[2] for q in reqs],
                        times)
    assert [got.decision(i) for i in range(len(reqs))] == singles


def test_nul_suffixed_resources_are_distinct_buckets_in_both_paths():
    """'/a' GET has its own method throttle (burst 2); '/a\x00' GET falls to the stage
    default (burst 4): at one instant the third '/a' is refused, every '/a\x00' admitted."""
    g1, g2 = build(), build()
    res = ["/a", "/a\x00"] * 3
    one = [g1.check(None, r, "GET", 0.0).allowed for r in res]
    many = g2.check_many(None, res, "GET", np.zeros(len(res))).allowed.tolist()
    assert one == many == [True, True, True, True, False, True]


def test_check_many_memory_floor_and_lazy_result_arrays():
    """check_many holds 5 bytes per request beyond its inputs (the kind and the code;
    the per-request arrays of the result are built on first access) and those arrays
    equal the decisions one by one."""
    import tracemalloc
    n = 200_000
    rng = np.random.default_rng(5)
    keys = np.array([None, "k1", "k2", "q1"], dtype=object)[rng.integers(0, 4, n)]
    res = np.array(["/pets", "/cats"], dtype=object)[rng.integers(0, 2, n)]
    meth = np.array(["GET", "POST"], dtype=object)[rng.integers(0, 2, n)]
    times = np.sort(rng.uniform(0, 20, n))
    g = gateway()
    tracemalloc.start()
    r = g.check_many(keys, res, meth, times)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 16 * n, peak / n
    g = gateway()
    tracemalloc.start()
    w = g.check_many(keys, res, meth, times, retry_after=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 24 * n, peak / n         # the float64 Retry-After column: 8 B more
    assert (w.codes == r.codes).all() and w.retry_after.nbytes == 8 * n
    h = gateway()
    sample = range(0, n, 997)
    ds = [r.decision(i) for i in range(n)]
    assert r.allowed.tolist() == [d.allowed for d in ds]
    assert r.status.tolist() == [d.status for d in ds]
    assert r.reason.tolist() == [d.reason for d in ds]
    assert r.level.tolist() == [d.level for d in ds]
    assert [r.decision(i) for i in sample] == [ds[i] for i in sample]
    assert {d.level for d in ds} >= {None, "USAGE_PLAN", "METHOD", "STAGE"}
    one = [h.check(k, s, m, t) for k, s, m, t in zip(keys.tolist(), res.tolist(),
                                                     meth.tolist(), times.tolist())]
    assert one == ds
