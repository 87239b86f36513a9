"""lbcore.dask.route_flows on a real dask.distributed LocalCluster (2 worker processes):
the result equals one route_many over the whole batch, flow for flow (target, node,
listener, dropped, new), for NLB, GWLB and Maglev — including connections that continue
across input partitions, idle expiry inside the batch, GWLB's both directions, and the
cases routed in one task (GWLB random placement, a draining delay ending mid-batch).
The cluster is bounded in time (pytest-timeout) and closed at the end."""
from __future__ import annotations

import functools

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import lbcore  # noqa: E402
from lbcore.dask import COLUMNS, route_flows  # noqa: E402
from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup  # noqa: E402

pytestmark = pytest.mark.timeout(300)

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


# ------------------------------------------------------------------ load balancers
def prime_flows():
    """200 TCP flows to port 80 (a drain test's connections open before the batch)."""
    base = lbcore.Flows.random(200, seed=99, protocols=(6,))
    cols = list(base.columns())
    cols[7] = np.full(200, 80, np.uint16)
    return lbcore.Flows.from_columns(*cols)


def make_nlb(seed=0, cross_zone=False, sticky=False, unhealthy=(), drain=None):
    """Two listeners (TCP 80, UDP 53) over zonal targets; some unhealthy. ``drain``: the
    prime_flows connections are opened at t=0, then that target is deregistered with a
    30 s delay and connection termination (its connections move when the delay ends)."""
    targets = [Target(f"i-{k}", ZONES[k % 3]) for k in range(9)]
    web = TargetGroup(targets, protocol="TCP", healthy=True, now=0.0,
                      stickiness_enabled=sticky, stickiness_type="source_ip",
                      deregistration_delay_timeout_seconds=30,
                      deregistration_delay_connection_termination_enabled=drain is not None)
    dns = TargetGroup(targets[:6], protocol="UDP", healthy=True, now=0.0)
    if unhealthy:
        web.set_health(list(unhealthy), False, now=0.0)
    lb = NetworkLoadBalancer(ZONES, seed=seed, load_balancing_cross_zone_enabled=cross_zone)
    lb.add_listener("TCP", 80, web, tcp_idle_timeout_seconds=60)
    lb.add_listener("UDP", 53, dns)
    if drain is not None:
        lb.route_many(prime_flows(), 0.0)
        web.deregister(drain, now=0.0)
    return lb


def make_gwlb(seed=0, stickiness=None, healthy=True, failover="no_rebalance"):
    targets = [Target(f"fw-{k}", ZONES[k % 3]) for k in range(6)]
    kw = {}
    if stickiness:
        kw = {"stickiness_enabled": True, "stickiness_type": stickiness}
    tg = TargetGroup(targets, protocol="GENEVE", healthy=healthy, now=0.0,
                     target_failover_on_unhealthy=failover,
                     target_failover_on_deregistration=failover, **kw)
    if not healthy:     # failed their checks (targets still in initial checks get no flows)
        tg.set_health([t.id for t in targets], False, now=0.0)
    return GatewayLoadBalancer(ZONES, tg, seed=seed)


# ------------------------------------------------------------------ flows
def flow_batch(n, seed, ports=(80, 53, 443), repeat=0.5, reverse=0.0, span=400.0):
    """n flows in which ``repeat`` of them repeat an earlier flow (a connection going
    on, often in another input partition) and ``reverse`` come back the other way;
    times spread over ``span`` seconds (past the 60 s TCP and 120 s UDP idle timeouts)."""
    rng = np.random.default_rng(seed)
    base = lbcore.Flows.random(n, seed=seed, ipv6_fraction=0.3, protocols=(6, 17, 1))
    cols = [c.copy() for c in base.columns()]
    cols[7] = rng.choice(np.array(ports, np.uint16), n)
    fresh = lbcore.Flows.from_columns(*cols)
    src = np.arange(n)
    again = rng.random(n) < repeat
    again[:1] = False
    src[again] = (rng.random(int(again.sum())) * np.flatnonzero(again)).astype(np.int64)
    flows = fresh[src]
    if reverse:
        back = rng.random(n) < reverse
        rev = flows.reversed()
        cols = [np.where(back, r, f) for r, f in zip(rev.columns(), flows.columns())]
        flows = lbcore.Flows.from_columns(*cols)
    times = np.sort(rng.random(n)) * span
    return flows, times


def as_array(flows, chunk):
    return da.from_array(np.stack([c.astype(np.uint64) for c in flows.columns()], axis=1),
                         chunks=(chunk, len(COLUMNS)))


def assert_same(got, want):
    assert len(got) == len(want)
    for name in ("target", "node", "listener", "dropped", "new"):
        g, w = getattr(got, name), getattr(want, name)
        assert np.array_equal(g, w), (name, np.flatnonzero(g != w)[:10])
    assert [tg.name for tg in got.target_groups] == [tg.name for tg in want.target_groups]


def first_seen_in_other_chunk(flows, want, chunk):
    """How many pinned (not new) flows were first placed in an earlier input partition:
    the connection state a partition-by-input-chunk router would lose."""
    keys = {}
    count = 0
    for i, f in enumerate(flows):
        k = (f.protocol, f.src, f.dst, f.src_port, f.dst_port)
        if k in keys and not want.new[i] and keys[k] // chunk != i // chunk:
            count += 1
        keys.setdefault(k, i)
    return count


# ------------------------------------------------------------------ NLB
@pytest.mark.parametrize("params", [
    {},
    {"cross_zone": True, "seed": 7},
    {"sticky": True, "unhealthy": ["i-0", "i-4"], "seed": 3},
])
def test_nlb_equals_route_many(client, params):
    factory = functools.partial(make_nlb, **params)
    flows, times = flow_batch(6000, seed=11)
    want = factory().route_many(flows, times)
    got = route_flows(as_array(flows, 1000), factory, da.from_array(times, chunks=1000),
                      partitions=4)
    assert_same(got, want)
    assert first_seen_in_other_chunk(flows, want, 1000) > 100   # the test can tell
    assert want.new.sum() > 0 and (~want.new & (want.target >= 0)).sum() > 0


def test_nlb_fixed_node_and_numpy_times(client):
    flows, times = flow_batch(3000, seed=5)
    want = make_nlb().route_many(flows, times, node="us-east-1b")
    got = route_flows(as_array(flows, 700), make_nlb, times, node="us-east-1b")
    assert_same(got, want)
    assert set(got.node[got.listener >= 0].tolist()) == {1}


def test_nlb_draining_delay_ending_mid_batch_routes_in_one_task(client):
    # One route_many samples the target states once, at its first time: the draining
    # target keeps its connections for the whole batch, though its 30 s delay ends
    # inside it. Half of the connections appear only after 40 s, so many of the 200
    # partitions start after the delay, and would see the target unused and move them.
    factory = functools.partial(make_nlb, drain="i-1")
    rng = np.random.default_rng(2)
    times = 1.0 + np.sort(rng.random(4000)) * 300
    pick = np.where(times < 40, rng.integers(0, 100, 4000), rng.integers(0, 200, 4000))
    flows = prime_flows()[pick]
    want = factory().route_many(flows, times)
    i1 = factory().target_groups[0].index_of("i-1")
    assert (want.target[(times > 100) & (pick >= 100)] == i1).sum() > 50   # kept draining
    got = route_flows(as_array(flows, 1000), factory, da.from_array(times, chunks=1000),
                      partitions=200)
    assert_same(got, want)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 2500), chunk=st.integers(100, 1500), parts=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1), cross=st.booleans(), sticky=st.booleans())
def test_nlb_equals_route_many_property(client, n, chunk, parts, seed, cross, sticky):
    factory = functools.partial(make_nlb, seed=seed, cross_zone=cross, sticky=sticky,
                                unhealthy=["i-2"])
    flows, times = flow_batch(n, seed=seed % 1000)
    want = factory().route_many(flows, times)
    got = route_flows(as_array(flows, chunk), factory, da.from_array(times, chunks=chunk),
                      partitions=parts)
    assert_same(got, want)


# ------------------------------------------------------------------ GWLB
@pytest.mark.parametrize("stickiness", [None, "source_ip_dest_ip_proto", "source_ip_dest_ip"])
def test_gwlb_equals_route_many_both_directions(client, stickiness):
    factory = functools.partial(make_gwlb, seed=9, stickiness=stickiness)
    flows, times = flow_batch(5000, seed=21, reverse=0.4)
    want = factory().route_many(flows, times)
    got = route_flows(as_array(flows, 900), factory, da.from_array(times, chunks=900),
                      partitions=3)
    assert_same(got, want)
    assert first_seen_in_other_chunk(flows, want, 900) > 50


def test_gwlb_random_placement_routes_in_one_task(client):
    # no healthy appliance: new flows go to a random appliance (one random sequence for
    # the whole batch), reported as dropped
    factory = functools.partial(make_gwlb, healthy=False, failover="rebalance")
    flows, times = flow_batch(3000, seed=4)
    want = factory().route_many(flows, times)
    assert want.dropped.all()
    got = route_flows(as_array(flows, 800), factory, da.from_array(times, chunks=800))
    assert_same(got, want)


# ------------------------------------------------------------------ Maglev, DataFrames
def test_maglev_equals_select_many(client):
    mg = lbcore.Maglev([f"t{k}" for k in range(13)], weights=[1 + k % 3 for k in range(13)],
                       table_size=4099, seed=17, fields="3-tuple", symmetric=True)
    flows, _ = flow_batch(5000, seed=8)
    got = route_flows(as_array(flows, 1200), mg)
    assert got.dtype == np.int32
    assert np.array_equal(got, mg.select_many(flows))


def test_dataframe_input(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    flows, times = flow_batch(4000, seed=13)
    frame = pd.DataFrame({name: col for name, col in zip(COLUMNS, flows.columns())})
    frame["time"] = times
    ddf = dd.from_pandas(frame, npartitions=5)
    assert_same(route_flows(ddf, make_nlb, "time"), make_nlb().route_many(flows, times))
    mg = lbcore.Maglev(["a", "b", "c"])
    assert np.array_equal(route_flows(ddf, mg), mg.select_many(flows))


# ------------------------------------------------------------------ bad input
def test_bad_input(client):
    flows, times = flow_batch(500, seed=1)
    arr = as_array(flows, 200)
    t = da.from_array(times, chunks=200)
    with pytest.raises(TypeError, match="balancer: a NetworkLoadBalancer cannot be sent"):
        route_flows(arr, make_nlb(), t)
    with pytest.raises(TypeError, match="balancer must be"):
        route_flows(arr, "nlb", t)
    with pytest.raises(TypeError, match="balancer: the function must build"):
        route_flows(arr, lambda: 42, t)
    with pytest.raises(TypeError, match="flows must be a dask DataFrame or a dask array"):
        route_flows(flows, make_nlb, times)
    with pytest.raises(ValueError, match=r"flows: a dask array of flows has shape \(n, 9\)"):
        route_flows(arr[:, :8], make_nlb, t)
    with pytest.raises(TypeError, match="flows must be an integer dask array"):
        route_flows(arr.astype(float), make_nlb, t)
    with pytest.raises(ValueError, match="times: a load balancer routes flows at times"):
        route_flows(arr, make_nlb)
    with pytest.raises(ValueError, match="times: Maglev selection does not depend"):
        route_flows(arr, lbcore.Maglev(["a"]), t)
    with pytest.raises(ValueError, match="times must be a number or one time per flow"):
        route_flows(arr, make_nlb, times[:-1])
    with pytest.raises(ValueError, match="partitions must be >= 1"):
        route_flows(arr, make_nlb, t, partitions=0)
    with pytest.raises(TypeError, match="partitions must be an int"):
        route_flows(arr, make_nlb, t, partitions=2.0)
    with pytest.raises(ValueError, match="node must be one of"):
        route_flows(arr, make_nlb, t, node="eu-west-1a")
    # times decreasing inside one partition, and only across two partitions
    with pytest.raises(ValueError, match="times must not decrease"):
        route_flows(arr, make_nlb, da.from_array(times[::-1].copy(), chunks=200))
    swapped = np.concatenate([times[200:400], times[:200], times[400:]])
    with pytest.raises(ValueError, match="times must not decrease"):
        route_flows(arr, make_nlb, da.from_array(swapped, chunks=200))
    # a value out of its column's range, from a worker
    bad = np.stack([c.astype(np.uint64) for c in flows.columns()], axis=1)
    bad[3, 6] = 70000
    with pytest.raises(ValueError, match="src_port must be in 0..65535"):
        route_flows(da.from_array(bad, chunks=(200, 9)), make_nlb, t)


def test_bad_dataframe_input(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    flows, times = flow_batch(100, seed=1)
    frame = pd.DataFrame({name: col for name, col in zip(COLUMNS, flows.columns())})
    ddf = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ValueError, match="times: the DataFrame has no column 'time'"):
        route_flows(ddf, make_nlb, "time")
    with pytest.raises(ValueError, match="the DataFrame lacks the column"):
        route_flows(ddf.drop(columns=["seq"]), make_nlb, 0.0)
