"""RedisApiGateway against a real redis-server (Debian package) on a loopback port:
decisions equal the in-process ApiGateway's, a fleet of processes shares one limit, and
a Redis restart mid-run fails closed/open as documented, then recovers. docs/redis.md."""
from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

redis = pytest.importorskip("redis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from fractions import Fraction  # noqa: E402

from lbcore import TokenBuckets  # noqa: E402
from lbcore.apigateway import ApiGateway, RedisApiGateway, RedisTokenBuckets  # noqa: E402

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="redis-server not installed (apt-get install "
                                        "redis-server)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port: int) -> subprocess.Popen:
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=port)
    for _ in range(200):
        try:
            if c.ping():
                return p
        except redis.exceptions.ConnectionError:
            time.sleep(0.02)
    p.kill()
    raise RuntimeError("redis-server did not start")


def _stop(p: subprocess.Popen) -> None:
    os.kill(p.pid, signal.SIGTERM)
    p.wait(10)


def _flushed(server) -> "redis.Redis":
    """A client of the test server, its data flushed: each test starts empty."""
    r = redis.Redis(port=server[0])
    r.flushall()
    return r


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    p = _start(port)
    yield port, p
    if p.poll() is None:
        _stop(p)


def _setup(gw, rate=(10, 5), method=(4.5, 3), plan=(2.5, 2), quota=None):
    gw.add_stage("api", "prod", throttle={"rateLimit": rate[0], "burstLimit": rate[1]},
                 method_settings={"/a/GET": {"rateLimit": method[0], "burstLimit": method[1]}})
    gw.add_usage_plan("p", api_stages=[{"apiId": "api", "stage": "prod"}],
                      throttle={"rateLimit": plan[0], "burstLimit": plan[1]}, quota=quota)
    gw.add_api_key("k1", "p")
    gw.add_api_key("k2", "p")


T0 = 1_700_000_000.0
REQ = st.tuples(st.sampled_from(["k1", "k2", None]), st.sampled_from(["/a", "/b"]),
                st.integers(0, 2_000_000_000))


@settings(max_examples=40, deadline=None)
@given(reqs=st.lists(REQ, min_size=1, max_size=60),
       acct=st.tuples(st.sampled_from([3, 7.5, 1 / 3, 0]), st.integers(0, 6)),
       quota=st.sampled_from([None, {"limit": 5, "period": "DAY", "offset": 2},
                              {"limit": 9, "period": "MONTH"}]),
       batch=st.booleans())
def test_decisions_equal_in_process(server, reqs, acct, quota, batch):
    r = _flushed(server)
    thr = {"rateLimit": acct[0], "burstLimit": acct[1]}
    ref, gw = ApiGateway(thr), RedisApiGateway(r, thr, prefix="t", batch=7)
    for g in (ref, gw):
        _setup(g, quota=quota)
    t, times = T0, []
    for _, _, dt in reqs:
        t += dt / 1e9 * 40           # up to 80 s apart: crosses a day now and then
        times.append(t)
    keys = [k for k, _, _ in reqs]
    res = [x for _, x, _ in reqs]
    want = [ref.check(k, x, "GET", now) for k, x, now in zip(keys, res, times)]
    if batch:
        got = gw.check_many(keys, res, ["GET"] * len(res), times)
        got = [got.decision(i) for i in range(len(got))]
    else:
        got = [gw.check(k, x, "GET", now) for k, x, now in zip(keys, res, times)]
        # a 429's Retry-After: the wait the script computes from the state in Redis is
        # the in-process one (exact in the buckets' units; a quota: its period's reset)
        assert [d.retry_after for d in got] == [d.retry_after for d in want]
    assert got == want


def test_retry_after_is_the_wait_for_a_token_or_the_quota_reset(server):
    r = _flushed(server)
    gw = RedisApiGateway(r, {"rateLimit": 4, "burstLimit": 1}, prefix="ra")
    gw.add_stage("api", "prod")
    # the burst's one token spent at T0: the next comes 1/4 s later; 0.1 s on, 0.15 s
    assert gw.check(None, "/a", "GET", T0).allowed
    d = gw.check(None, "/a", "GET", T0)
    assert (d.status, d.reason, d.retry_after) == (429, "THROTTLED", 0.25)
    assert gw.check(None, "/a", "GET", T0 + 0.1).retry_after == pytest.approx(0.15, abs=1e-9)
    # a daily quota of 1: refused until the next UTC midnight
    gw.add_usage_plan("p", api_stages=[{"apiId": "api", "stage": "prod"}],
                      quota={"limit": 1, "period": "DAY"})
    gw.add_api_key("k", "p")
    noon = 1_700_006_400.0 + 12 * 3600          # 2023-11-15 12:00 UTC
    assert gw.check("k", "/a", "GET", noon).allowed
    d = gw.check("k", "/a", "GET", noon + 1)
    assert (d.reason, d.retry_after) == ("QUOTA_EXCEEDED", 12 * 3600 - 1)
    # a bucket that never refills (rate 0): no Retry-After
    z = RedisApiGateway(r, {"rateLimit": 0, "burstLimit": 1}, prefix="rz")
    z.add_stage("api", "prod")
    assert z.check(None, "/a", "GET", T0).allowed
    assert z.check(None, "/a", "GET", T0 + 5).retry_after is None


@settings(max_examples=40, deadline=None)
@given(reqs=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3 * 10**9),
                               st.integers(0, 4)), min_size=1, max_size=60),
       rate=st.sampled_from([Fraction(1, 3), 2.5, 0, 7, Fraction(999, 1000)]),
       burst=st.integers(0, 5), batch=st.booleans())
def test_token_buckets_equal_in_process(server, reqs, rate, burst, batch):
    r = _flushed(server)
    ref = TokenBuckets(3, rate=rate, burst=burst)
    rb = RedisTokenBuckets(r, 3, rate=rate, burst=burst, prefix="tb", batch=5)
    t, rows = 1000 * 10**9, []
    for b, dt, cost in reqs:
        t += dt
        rows.append((b, t, cost))
    bs = [b for b, _, _ in rows]
    ts = [x / 1e9 for _, x, _ in rows]
    cs = [c for _, _, c in rows]
    want = [ref.check(b, x, c) for b, x, c in zip(bs, ts, cs)]
    if batch:
        got = rb.check_many(bs, ts, cs).tolist()
    else:
        got = [rb.check(b, x, c) for b, x, c in zip(bs, ts, cs)]
    assert got == want


def test_edges_exact_units(server):
    """Largest accepted rate numerator with a 1000 denominator: no rounding."""
    r = _flushed(server)
    thr = {"rateLimit": 8999.999, "burstLimit": 5000}
    ref, gw = ApiGateway(thr), RedisApiGateway(r, thr)
    for g in (ref, gw):
        g.add_stage("api", "prod")
    t = T0
    for i in range(3000):
        t += (i % 7) * 1e-4 + 1e-9 * (i % 3)
        assert gw.check(None, "/x", "GET", t) == ref.check(None, "/x", "GET", t), i
    with pytest.raises(ValueError, match="2\\*\\*53"):
        RedisApiGateway(r, {"rateLimit": 9007.001, "burstLimit": 1})


@settings(max_examples=30, deadline=None)
@given(gaps=st.lists(st.sampled_from([0, 1, 999_999_999, 10**9, 86_399 * 10**9,
                                      40 * 86_400 * 10**9, 10**18 // 4]), max_size=25),
       burst=st.sampled_from([1, 2, 10**6, 3 * 10**9 - 1]))
def test_edges_long_gaps_and_large_bursts(server, gaps, burst):
    """Gaps from 1 ns to years, bursts up to the in-process limit (3e9 tokens at q = 3),
    times up to ~1e18 ns. Caller times here run far faster than real time, so keys must
    not expire on the wall clock in between (the 60 s min_expire; the stage bucket's 4 ms
    full refill alone would expire them mid-example)."""
    r = _flushed(server)
    thr = {"rateLimit": 1 / 3, "burstLimit": burst}
    ref, gw = ApiGateway(thr), RedisApiGateway(r, thr)
    for g in (ref, gw):
        g.add_stage("api", "prod", throttle={"rateLimit": 997.001, "burstLimit": 3})
    t = 1
    for gap in gaps:
        t += gap
        for _ in range(2):
            assert gw.check(None, "/x", "GET", t / 1e9) == ref.check(None, "/x", "GET", t / 1e9)


def test_time_before_last_refills_nothing(server):
    """Documented difference: a fleet's clocks disagree, so an earlier time is not an error
    (ApiGateway raises ValueError); it refills nothing."""
    r = _flushed(server)
    gw = RedisApiGateway(r, {"rateLimit": 1, "burstLimit": 1})
    gw.add_stage("api", "prod")
    assert gw.check(None, "/x", "GET", T0 + 10).allowed
    assert not gw.check(None, "/x", "GET", T0).allowed          # no refill, no error
    assert not gw.check(None, "/x", "GET", T0 + 10.5).allowed
    assert gw.check(None, "/x", "GET", T0 + 11).allowed


def test_docs_page_runs(server):
    """docs/redis.md's py blocks, as written, against this server."""
    import pathlib
    import re
    port, _ = server
    redis.Redis(port=port).flushall()
    text = (pathlib.Path(__file__).parents[2] / "docs" / "redis.md").read_text()
    blocks = re.findall(r"^```py\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) == 2
    ns: dict = {}
    for code in blocks:
        exec(code.replace("redis://127.0.0.1:6379/0", f"redis://127.0.0.1:{port}/0"), ns)


def test_keys_prefixed_and_expire(server):
    r = _flushed(server)
    gw = RedisApiGateway(r, {"rateLimit": 100, "burstLimit": 50}, prefix="app1")
    gw.add_stage("api", "prod")
    assert gw.check(None, "/x", "GET").allowed           # server clock
    keys = r.keys("*")
    assert keys and all(k.startswith(b"{app1}:") for k in keys)
    assert 59_000 < r.pttl(keys[0]) <= 60_000            # min_expire: 60 s
    r.flushall()
    gw = RedisApiGateway(r, {"rateLimit": 100, "burstLimit": 50}, min_expire=0)
    gw.add_stage("api", "prod")
    assert gw.check(None, "/x", "GET").allowed
    assert 0 < r.pttl(r.keys("*")[0]) <= 50 * 1000 // 100 + 1   # a full refill: 0.5 s
    r.flushall()
    gw = RedisApiGateway(r, {"rateLimit": 100, "burstLimit": 50}, min_expire=None)
    gw.add_stage("api", "prod")
    assert gw.check(None, "/x", "GET").allowed
    assert r.pttl(r.keys("*")[0]) == -1                         # never
    with pytest.raises(ValueError, match="min_expire"):
        RedisApiGateway(r, min_expire=-1)


def _hammer(port, n, out):
    gw = RedisApiGateway(redis.Redis(port=port), {"rateLimit": 200, "burstLimit": 50},
                         prefix="fleet")
    gw.add_stage("api", "prod")
    ok = 0
    end = time.monotonic() + 1.5
    while time.monotonic() < end and n:
        res = gw.check_many(None, ["/x"] * 20, "GET")     # server clock
        ok += int(res.allowed.sum())
        n -= 1
    out.put(ok)


def test_fleet_shares_one_limit(server):
    port, _ = server
    r = redis.Redis(port=port)
    t0 = [int(x) for x in r.time()]
    q = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=_hammer, args=(port, 10_000, q))
             for _ in range(4)]
    for p in procs:
        p.start()
    got = sum(q.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    t1 = [int(x) for x in r.time()]
    span = (t1[0] - t0[0]) + (t1[1] - t0[1]) / 1e6
    assert got <= 50 + 200 * span + 1
    # at least one in-process bucket over the hammered span (>= 1.5 s of demand)
    assert got >= 50 + 200 * 1.5 * 0.9


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_restart_fails_as_documented_then_recovers(mode):
    port = _free_port()
    p = _start(port)
    try:
        gw = RedisApiGateway(redis.Redis(port=port, socket_timeout=1), {"rateLimit": 1,
                             "burstLimit": 2}, on_error=mode)
        gw.add_stage("api", "prod")
        assert gw.check(None, "/x", "GET", T0).allowed
        _stop(p)
        d = gw.check(None, "/x", "GET", T0)
        assert d.reason == "UNAVAILABLE" and d.allowed is (mode == "open")
        m = gw.check_many(None, ["/x"] * 3, "GET", [T0] * 3)
        assert (m.codes == -1).all() and m.allowed.all() == (mode == "open")
        p = _start(port)                       # empty again: state was not saved
        assert [gw.check(None, "/x", "GET", T0).allowed for _ in range(3)] == \
            [True, True, False]
        # the pipelined path reloads the script the restarted server lost
        assert gw.check_many(None, ["/x"] * 2, "GET", [T0 + 1] * 2).codes.tolist() == [0, 4]
        _stop(p)
        strict = RedisApiGateway(redis.Redis(port=port), on_error="raise")
        strict.add_stage("api", "prod")
        with pytest.raises(redis.exceptions.ConnectionError):
            strict.check(None, "/x", "GET", T0)
    finally:
        if p.poll() is None:
            _stop(p)


PATHS = st.tuples(st.sampled_from(["k1", "k2", None, "nope"]),
                  st.sampled_from(["/a", "/items/1", "/items/2", "/items/1/x", "/none"]),
                  st.sampled_from(["GET", "POST"]), st.integers(0, 2_000_000_000))


@settings(max_examples=30, deadline=None)
@given(reqs=st.lists(PATHS, min_size=1, max_size=40), batch=st.booleans())
def test_request_paths_and_403s_equal_in_process(server, reqs, batch):
    """An API with resources: Redis matches request paths as check does, answers the
    same 403s (unknown key, key required and missing, no resource) without asking
    Redis for them, and keeps one bucket per template whatever paths arrive."""
    r = _flushed(server)
    ref, gw = ApiGateway(), RedisApiGateway(r, prefix="t", batch=5)
    for g in (ref, gw):
        _setup(g)
        g.add_api("api", {"/a": "GET", "/items/{id}": {"GET": {"apiKeyRequired": True},
                                                       "POST": {}}})
    t, times = T0, []
    for *_, dt in reqs:
        t += dt / 1e9
        times.append(t)
    cols = [[q[j] for q in reqs] for j in range(3)]
    want = [ref.check(k, x, m, now) for k, x, m, now in zip(*cols, times)]
    if batch:
        got = gw.check_many(*cols, times)
        assert got.status.tolist() == [d.status for d in want]
        assert got.reason.tolist() == [d.reason for d in want]
        got = [got.decision(i) for i in range(len(got))]
    else:
        got = [gw.check(k, x, m, now) for k, x, m, now in zip(*cols, times)]
    assert got == want
    # buckets by template: the Redis keys name /items/{id}, never a request path
    assert not any(b"/items/1" in k or b"/items/2" in k for k in r.keys("t*"))
