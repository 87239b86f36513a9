"""The thread rule: every public stateful object may be called from several threads at
once, and the outcome is that of some serial order of the calls (docs/architecture.md).

Each test runs one shared object from 4 threads with the interpreter switching threads
every microsecond (``sys.setswitchinterval(1e-6)``) and checks an exact invariant; the
iterations are bounded so the file runs in seconds. Every test failed on the code before
the locks (over-admission, shared bucket indices, a table clock moving back, a flow
decided with another thread's node, a timeline disagreeing with its observations, an
answer from a half-rebuilt selector, a short duck-typed column read out of bounds); races
show in some runs only, so the racy tests repeat rounds.
"""
from __future__ import annotations

import itertools
import sys
import threading

import numpy as np
import pytest

import lbcore
from lbcore import FlowTable, Flows, LeastOutstanding, Maglev, Rendezvous, TokenBuckets
from lbcore.apigateway import ApiGateway
from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup
from lbcore.route53 import HealthCheck, HostedZone, RecordSet

THREADS = 4
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def run_threads(*bodies):
    """Run each body (one per thread) after a common start; re-raise the first error."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(bodies))

    def wrap(body, k):
        try:
            start.wait()
            body(k)
        except BaseException as e:          # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(b, k)) for k, b in enumerate(bodies)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


# ------------------------------------------------------------------ token buckets
def test_token_buckets_batches_and_scalars_admit_exactly_the_burst():
    """rate 0 at one time: any serial order admits exactly ``burst`` requests. Two
    concurrent check_many used to over-admit (their GIL-free loops raced on one row)."""
    n = 500_000
    burst = 3 * n
    buckets = np.zeros(n, dtype=np.int64)
    times = np.full(n, 5.0)
    for _ in range(4):                  # rounds (the old race showed in about half)
        tb = TokenBuckets(2, rate=0, burst=burst)
        admitted = [0] * THREADS

        def body(k):
            for i in range(3):
                if k == 3 and i == 1:
                    admitted[k] += sum(tb.check(0, 5.0) for _ in range(500))
                else:
                    admitted[k] += int(tb.check_many(buckets, times).sum())

        run_threads(*([body] * THREADS))
        assert sum(admitted) == burst                   # == burst + rate * t, exactly
        assert tb.tokens(0, 5.0) == 0 and tb.tokens(1, 5.0) == burst


def test_api_gateway_new_resources_from_threads_get_their_own_buckets():
    """Each (resource, method) has its own method-level bucket of burst 5; every thread
    asks for the same resources (new ones: buckets are created on first use). Any serial
    order admits exactly 5 per resource. Two threads creating buckets at once used to
    give two resources one bucket index (wrong throttling) or an IndexError."""
    resources = [f"/r{i}" for i in range(300)]
    now = 1_700_000_000.0
    for _ in range(6):                  # rounds (the old race showed in about one in five)
        g = ApiGateway({"rateLimit": 10_000, "burstLimit": 100_000})
        g.add_stage("api", "prod", throttle={"rateLimit": 0.001, "burstLimit": 5})
        counts = [dict.fromkeys(resources, 0) for _ in range(THREADS)]

        def body(k):
            order = list(resources)
            np.random.default_rng(k).shuffle(order)
            for r in order:
                if k == 3:
                    res = g.check_many(None, [r] * 3, "GET", [now] * 3)
                    counts[k][r] += int(res.allowed.sum())
                else:
                    counts[k][r] += sum(g.check(None, r, "GET", now).allowed
                                        for _ in range(3))

        run_threads(*([body] * THREADS))
        assert all(sum(c[r] for c in counts) == 5 for r in resources)


# ------------------------------------------------------------------ flow table
class _SlowSelector:
    """A Python selector (runs bytecode between the table's lookups and inserts)."""

    def __init__(self, n):
        self.m = Maglev([f"t{i}" for i in range(n)], table_size=1009)

    def select_many(self, x):
        for _ in range(20):
            pass
        return self.m.select_many(x)

    def select_index(self, x):
        for _ in range(20):
            pass
        return self.m.select_index(x)


def test_flow_table_clock_never_moves_back_and_lru_stays_ordered():
    """Threads route at rising times (taken from one counter, so they reach the table in
    any order: a time older than the table's clock is refused as in a serial run). An
    accepted call must never move the clock back, and the LRU lists stay ordered by last
    use. The table used to insert at a ``now`` validated before the selector call, after
    another thread had moved the clock on."""
    from lbcore._flowtable import _check_invariants
    ft = FlowTable(5_000)
    sel = _SlowSelector(7)
    pool = Flows.random(3_000, seed=1)
    clock = itertools.count(1)
    accepted: list[float] = []
    seen: list[list[float]] = [[] for _ in range(THREADS)]

    def body(k):
        rng = np.random.default_rng(k)
        for _ in range(150):
            t = float(next(clock))
            try:
                if k == 0:
                    ft.route(pool[int(rng.integers(len(pool)))], t, sel)
                else:
                    ft.route_many(pool[rng.integers(0, len(pool), 40)], t, sel)
            except ValueError as e:
                assert "must not decrease" in str(e)
                continue
            accepted.append(t)
            seen[k].append(ft.now)

    run_threads(*([body] * THREADS))
    assert accepted
    for s in seen:
        assert s == sorted(s)           # the clock as each thread saw it: monotone
    assert ft.now == max(accepted)
    _check_invariants(ft)               # LRU lists ordered by last use, index consistent


# ------------------------------------------------------------------ NLB / GWLB
def _l4(kind, clock):
    targets = [Target(f"{az}{i}", az) for az in "AB" for i in range(4)]
    if kind == "nlb":
        lb = NetworkLoadBalancer(["A", "B"], seed=3, clock=clock, flow_capacity=64)
        lb.add_listener("TCP", 80, TargetGroup(targets, protocol="TCP", healthy=True))
    else:
        lb = GatewayLoadBalancer(["A", "B"], TargetGroup(targets, protocol="GENEVE",
                                                         healthy=True),
                                 seed=3, clock=clock, flow_capacity=64)
    return lb


@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_l4_load_balancer_a_flow_maps_to_one_target(kind):
    """Scalar routes (the LB's clock: a shared rising counter) and batches from 4 threads
    over one flow set: every flow gets one (target, node) whichever thread routes it, and
    nothing raises. The scalar path used to read the path's ``last_node`` after another
    thread's route (a decision naming the wrong node) and to read the clock outside any
    lock (a time behind the table's: ValueError)."""
    counter = itertools.count(1)
    lb = _l4(kind, lambda: float(next(counter)) * 1e-3)
    f = Flows.random(400, seed=5, protocols=(6,))
    flows = Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, np.full(len(f), 80),
                  np.full(len(f), -1)) if kind == "nlb" else f
    first = lb.route_many(flows, 0.0)                   # the reference decisions
    ref = {i: (first.target[i], first.node[i]) for i in range(len(flows))}
    names = [t.id for t in lb.target_groups[0].targets]
    bad: list[tuple[int, object]] = []

    def body(k):
        rng = np.random.default_rng(k)
        for _ in range(1500):
            i = int(rng.integers(len(flows)))
            d = lb.route(flows[i])
            exp_t, exp_n = ref[i]
            if d.target is None or d.target.id != names[exp_t] or \
                    d.node != lb.availability_zones[exp_n]:
                bad.append((i, d))

    run_threads(*([body] * THREADS))
    assert not bad, bad[:3]


@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_l4_route_with_times_during_rebuilds(kind):
    """Routes given ``now`` do not take the load balancer's lock: 3 threads route pinned
    flows at one time while a fourth changes the configuration over and over
    (set_attributes: a rebuild on the next route). Each decision names the target and
    node the flow is pinned to (tables and decision objects swap together), and
    nothing raises."""
    lb = _l4(kind, lambda: 0.0)
    f = Flows.random(300, seed=7, protocols=(6,))
    flows = Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, np.full(len(f), 80),
                  np.full(len(f), -1)) if kind == "nlb" else f
    first = lb.route_many(flows, 1.0)
    names = [t.id for t in lb.target_groups[0].targets]
    ref = {i: (names[first.target[i]], lb.availability_zones[first.node[i]])
           for i in range(len(flows))}
    bad: list[tuple[int, object]] = []
    stop = threading.Event()

    def router(k):
        rng = np.random.default_rng(k)
        for _ in range(1500):
            i = int(rng.integers(len(flows)))
            d = lb.route(flows[i], 1.0)
            if d.target is None or (d.target.id, d.node) != ref[i]:
                bad.append((i, d))
        stop.set()

    def reconfigure(_k):
        flip = False
        while not stop.is_set():
            flip = not flip
            lb.set_attributes({"deletion_protection.enabled": "true" if flip else "false"})

    run_threads(router, router, router, reconfigure)
    assert not bad, bad[:3]


# ------------------------------------------------------------------ LOR / P2C
class _Name:
    """A target whose hash and equality run Python code (thread switches inside the
    selector's lookups)."""

    def __init__(self, s):
        self.s = s

    def __hash__(self):
        return hash(self.s)

    def __eq__(self, other):
        return isinstance(other, _Name) and other.s == self.s

    def __repr__(self):
        return f"_Name({self.s!r})"


@pytest.mark.parametrize("cls", [LeastOutstanding, lbcore.PowerOfTwoChoices])
def test_least_outstanding_counts_conserved_under_membership_changes(cls):
    """Picks, sticky acquires and releases from 4 threads while each thread also adds and
    removes its own targets: every acquire is released, so at the end every count is 0,
    every target is where the map says, and nothing raised."""
    base = [_Name(f"b{i}") for i in range(6)]
    lo = cls(base, seed=1)

    def body(k):
        for r in range(60):
            mine = _Name(f"m{k}.{r}")
            lo.add(mine, available=False, now=0.0)    # only this thread counts on it
            held = [lo.pick(now=0.0) for _ in range(5)]
            for _ in range(3):
                lo.acquire_at(mine, now=0.0)
            for t in held:
                lo.release(t)
            for _ in range(3):
                lo.release(mine)
            assert lo.outstanding(mine) == 0
            lo.remove(mine)

    run_threads(*([body] * THREADS))
    assert len(lo) == len(base)
    for i, t in enumerate(base):
        assert lo.outstanding(t) == 0 and lo.index(t) == i


# ------------------------------------------------------------------ Route 53
def test_health_check_observe_racing_resolve_agrees_with_the_observations():
    """Two threads observe (times interleaved, out of order), two resolve a health-checked
    failover record and ask the check. No exception, and afterwards the check's status at
    every time equals a check fed the same observations from one thread. observe used to
    rewrite a timeline's lists while readers bisected them (IndexError/TypeError) and two
    observes could leave states that disagree with the results."""
    for seed in range(3):
        _health_round(seed)


def _health_round(seed):
    hc = HealthCheck("p", failure_threshold=3, history=2_000)
    Z = "example.com."
    zone = HostedZone(Z, [
        RecordSet(Z, "A", ["1.1.1.1"], set_identifier="p", failover="PRIMARY",
                  health_check="p"),
        RecordSet(Z, "A", ["2.2.2.2"], set_identifier="s", failover="SECONDARY")],
        health_checks={"p": hc})
    rng = np.random.default_rng(seed)
    obs = [(float(t), bool(rng.random() < 0.6)) for t in rng.permutation(1200)]
    parts = [obs[0::3], obs[1::3], obs[2::3]]

    def observer(k):
        for t, ok in parts[k]:
            hc.observe(ok, now=t)

    def reader(k):
        for i in range(600):
            a = zone.resolve(Z, "A", now=float(i * 2))
            assert a.values in (("1.1.1.1",), ("2.2.2.2",))
            hc.is_healthy(float(i))

    run_threads(observer, observer, observer, reader)
    ref = HealthCheck("p", failure_threshold=3, history=2_000)
    for t, ok in obs:
        ref.observe(ok, now=t)
    for t in np.arange(0, 1200, 0.5):
        assert hc.is_healthy(float(t)) == ref.is_healthy(float(t)), t
        want = ("1.1.1.1",) if ref.is_healthy(float(t)) else ("2.2.2.2",)
        assert zone.resolve(Z, "A", now=float(t)).values == want


# ------------------------------------------------------------------ selectors
@pytest.mark.parametrize("kind", ["maglev", "rendezvous", "jump"])
def test_selectors_under_rebuild_answer_as_the_old_or_the_new(kind):
    """One selector re-built in place (``__init__`` again, between 3 and 40 targets with
    other hash options) while 3 threads select (batches of flows and of hashes, scalar
    calls): every answer is in range and is what one of the two selectors would say.
    The old code mixed them: Maglev set the new hash option before building its table,
    Rendezvous and JumpHash read their arrays after hashing, which releases the GIL."""
    make = {"maglev": lambda t, **kw: Maglev(t, table_size=4099, **kw),
            "rendezvous": lambda t, **kw: Rendezvous(t, weights=np.arange(1, len(t) + 1),
                                                     **kw),
            "jump": lambda t, **kw: lbcore.JumpHash(t, **kw)}[kind]
    small = ([f"s{i}" for i in range(3)], {"fields": "3-tuple", "flow_seed": 1})
    large = ([f"l{i}" for i in range(40)], {"fields": "5-tuple", "flow_seed": 2})
    args = {"maglev": lambda t, kw: ((t,), dict(table_size=4099, **kw)),
            "rendezvous": lambda t, kw: ((t,), dict(weights=np.arange(1, len(t) + 1),
                                                    **kw)),
            "jump": lambda t, kw: ((t,), kw)}[kind]
    sel = make(small[0], **small[1])
    refs = [make(t, **kw) for t, kw in (small, large)]
    flows = Flows.random(300, seed=2)
    hashes = np.random.default_rng(3).integers(0, 2**63, 300, dtype=np.uint64)
    allowed_f = [r.select_many(flows) for r in refs]
    allowed_h = [r.select_many(hashes) for r in refs]
    stop = threading.Event()

    def rebuild(k):
        try:
            for i in range(300):
                a, kw = args(*(large if i % 2 == 0 else small))
                type(sel).__init__(sel, *a, **kw)
        finally:
            stop.set()

    def reader(k):
        while not stop.is_set():
            out = sel.select_many(flows if k % 2 else hashes)
            al = allowed_f if k % 2 else allowed_h
            assert out.min() >= 0 and out.max() < 40
            assert np.all((out == al[0]) | (out == al[1]))
            j = int(hashes[k])
            assert sel.select_index(j) in (int(allowed_h[0][k]), int(allowed_h[1][k]))

    run_threads(rebuild, reader, reader, reader)


def test_batch_entry_points_check_duck_typed_column_lengths():
    """A duck-typed batch (``__lbcore_columns__``) with a short column is a ValueError,
    not an out-of-bounds read, in every selector's select_many."""
    f = Flows.random(50, seed=1)

    class Short:
        def __lbcore_columns__(self):
            c = list(f.__lbcore_columns__())
            c[7] = c[7][:10]                # dst_port shorter than the others
            return tuple(c)

    for sel in (Maglev(["a", "b"], table_size=211), Rendezvous(["a", "b"]),
                lbcore.JumpHash(["a", "b"])):
        with pytest.raises(ValueError, match="same length"):
            sel.select_many(Short())


# ------------------------------------------------------------------ ALB and Classic LB
class _TickClock:
    """A clock that moves forward by 1 ms at every read. Reads come from inside the load
    balancer's lock; without that lock two threads could read t and t+1 ms and then enter
    the target group in the opposite order ("now must not go backwards")."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 0.001
        return self.t


def test_alb_least_outstanding_and_stickiness_from_threads():
    """4 threads route and complete through one ALB (a least-outstanding group and an
    lb_cookie sticky group, clock read by the ALB): no exception, every lease comes back
    (all counts 0 at the end), the least-outstanding spread stays within the number of
    requests in flight, and a cookie set in one thread keeps its target in every other."""
    from lbcore.elb import ApplicationLoadBalancer, Request

    def group(name, **attrs):
        return TargetGroup([Target(f"{name}-{i}", ("az-a", "az-b")[i % 2]) for i in range(4)],
                           protocol="HTTP", name=name, healthy=True, now=0.0, **attrs)

    lor = group("lor", load_balancing_algorithm_type="least_outstanding_requests")
    sticky = group("sticky", stickiness_enabled=True, stickiness_type="lb_cookie")
    alb = ApplicationLoadBalancer([lor, sticky], seed=3, clock=_TickClock())
    alb.add_listener(80, "HTTP", default_actions=[{"Type": "forward", "TargetGroupArn": "lor"}],
                     rules=[{"Priority": "1", "Actions": [
                         {"Type": "forward", "TargetGroupArn": "sticky"}], "Conditions": [
                         {"Field": "path-pattern", "Values": ["/s*"]}]}])
    first = alb.route(Request("GET", "/s", port=80))
    cookies = {c.name: c.value for c in first.set_cookies}
    alb.complete(first)
    sticky_req = Request("GET", "/s", port=80, cookies=cookies)
    plain = Request("GET", "/", port=80)
    seen: list[set] = [set() for _ in range(THREADS)]

    def body(k):
        for _ in range(300):
            held = [alb.route(plain) for _ in range(3)]
            d = alb.route(sticky_req)
            seen[k].add(d.target.id)
            for h in held:
                assert h.target.id.startswith("lor-")
                alb.complete(h)
            alb.complete(d)

    run_threads(*([body] * THREADS))
    assert set().union(*seen) == {first.target.id}
    for i in range(4):
        assert alb.outstanding("lor", f"lor-{i}") == 0
        assert alb.outstanding("sticky", f"sticky-{i}") == 0


def test_classic_load_balancer_from_threads_returns_every_lease():
    """4 threads route TCP and HTTP connections through one Classic LB with its own
    clock: no exception, only registered instances, every count back to 0."""
    from lbcore.elb import ClassicLoadBalancer

    inst = [Target(f"i-{k}", "az-a" if k < 2 else "az-b") for k in range(4)]
    lb = ClassicLoadBalancer(inst, [
        {"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP",
         "InstancePort": 22}], healthy=True, now=0.0, cross_zone=True, clock=_TickClock())
    counts = [0] * THREADS

    def body(k):
        for _ in range(400):
            d = lb.route(None, port=22, zone="az-a")
            assert d.target.id in {"i-0", "i-1", "i-2", "i-3"}
            counts[k] += 1
            lb.complete(d)

    run_threads(*([body] * THREADS))
    assert sum(counts) == THREADS * 400
    for k in range(4):
        assert lb.outstanding(f"i-{k}") == 0
