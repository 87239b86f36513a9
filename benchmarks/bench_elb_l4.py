"""NLB / GWLB routing and GENEVE encode/decode.

Run: python -m pytest benchmarks/bench_elb_l4.py --benchmark-enable -q
Set-up (load balancers, flows, warm flow tables) happens outside the timed region.
"route_many" benchmarks route a batch of N flows (new flows: table misses; the
"pinned" variants route the same flows again: table hits). The baseline is the
raw Maglev batch select of the same flows (lbcore.Maglev.select_many):
flow hash + table lookup, no flow table, no listeners/DNS.
"""
import struct

import numpy as np
import pytest

import lbcore
from lbcore import geneve
from lbcore.elb import GatewayLoadBalancer, NetworkLoadBalancer, Target, TargetGroup

N = 200_000


def _targets(k=10):
    return [Target(f"A{i}", "A") for i in range(k // 2)] + \
        [Target(f"B{i}", "B") for i in range(k - k // 2)]


@pytest.fixture(scope="module")
def flows():
    f = lbcore.Flows.random(N, seed=1, protocols=(6, 17))
    seq = np.where(f.flags & 2, f.seq.astype(np.int64), -1)
    return lbcore.Flows(f.protocol, f.src_lo, f.dst_lo, f.src_port, 80, seq)


def _nlb(cap=1024):
    nlb = NetworkLoadBalancer(["A", "B"], seed=1, flow_capacity=cap)
    nlb.add_listener("TCP_UDP", 80, TargetGroup(_targets(), protocol="TCP_UDP", healthy=True))
    return nlb


def _gwlb(cap=1024):
    return GatewayLoadBalancer(["A", "B"], TargetGroup(_targets(), protocol="GENEVE",
                                                       healthy=True), seed=1, flow_capacity=cap)


# ------------------------------------------------------------------ batch
def test_raw_maglev_select_many(benchmark, flows):
    """lbcore.Maglev.select_many over the Flows (fused flow hash + lookup)."""
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    benchmark.group = "route_many"
    benchmark(lambda: mg.select_many(flows))


def test_raw_maglev_select_many_hashes(benchmark, flows):
    """lbcore.flow_hash then Maglev.select_many over the uint64 hashes."""
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    benchmark.group = "route_many"
    benchmark(lambda: mg.select_many(lbcore.flow_hash(flows)))


@pytest.mark.parametrize("presized", [False, True])
@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_route_many_new_flows(benchmark, flows, kind, presized):
    state = {"t": 0.0}
    cap = 1 << 20 if presized else 1024

    def setup():
        lb = _nlb(cap) if kind == "nlb" else _gwlb(cap)
        lb.route_many(flows[:10], 0.0)           # tables built outside the timed region
        return (lb,), {}

    def run(lb):
        return lb.route_many(flows, 1.0)
    benchmark.group = "route_many"
    benchmark.pedantic(run, setup=setup, rounds=7, iterations=1)
    del state


@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_route_many_pinned_flows(benchmark, flows, kind):
    lb = _nlb() if kind == "nlb" else _gwlb()
    lb.route_many(flows, 0.0)
    times = iter(np.arange(1.0, 1e6))
    benchmark.group = "route_many"
    benchmark(lambda: lb.route_many(flows, next(times)))


def test_flowtable_route_many_pinned(benchmark, flows):
    """lbcore.FlowTable.route_many over a Maglev, all flows live (table hits):
    the connection table alone, no listeners, DNS or validity."""
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    ft = lbcore.FlowTable(N)
    ft.route_many(flows, 0.0, mg)
    times = iter(np.arange(1.0, 1e6))
    benchmark.group = "route_many"
    benchmark(lambda: ft.route_many(flows, next(times), mg))


def test_l4path_route_flows_pinned(benchmark, flows):
    """The NLB kernel alone (L4Path.route_flows, one node): key + hash, FlowTable
    find, validity; no listener matching or result objects."""
    from lbcore._l4 import L4Path
    mg = lbcore.Maglev([f"T{i}" for i in range(10)])
    path = L4Path(N, seed=0)
    path.set_selection(mg.table.astype(np.int32), np.zeros(1, np.int64),
                       np.array([mg.table.shape[0]], np.int32), np.zeros(1, np.uint8),
                       np.ones(10, np.uint8))
    path.set_dns(np.zeros(1, np.int32))
    path.configure(1, 2, 0, False, False, False, 0, 350.0, 120.0)
    path.route_flows(flows, np.zeros(N))
    times = iter(np.arange(1.0, 1e6))
    benchmark.group = "route_many"
    benchmark(lambda: path.route_flows(flows, np.full(N, next(times))))


# ------------------------------------------------------------------ per call
@pytest.mark.parametrize("kind", ["nlb", "gwlb"])
def test_route_per_call(benchmark, flows, kind):
    lb = _nlb() if kind == "nlb" else _gwlb()
    f = flows[7]
    lb.route(f, 0.0)
    benchmark.group = "route per call"
    benchmark(lambda: lb.route(f, 1.0))


def test_flow_hash_per_call(benchmark, flows):
    f = flows[7]
    benchmark.group = "route per call"
    benchmark(lambda: lbcore.flow_hash(f))


# ------------------------------------------------------------------ GENEVE
PAYLOAD = bytes(range(64))
OPTS = geneve.gwlb_options(0x1122334455667788, 0x99AABBCCDDEEFF00, 0xCAFEF00D)
PACKET = geneve.encode(PAYLOAD, vni=0, protocol=0x0800, options=OPTS)


def test_geneve_encode_lbcore(benchmark):
    benchmark.group = "geneve encode"
    benchmark(lambda: geneve.encode(PAYLOAD, vni=0, protocol=0x0800, options=OPTS))


def test_geneve_encode_struct(benchmark):
    import sys
    sys.path.insert(0, "tests")
    from reference import geneve_ref
    opts = [(o.option_class, o.type, o.data) for o in OPTS]
    benchmark.group = "geneve encode"
    benchmark(lambda: geneve_ref.encode(PAYLOAD, 0, 0x0800, opts))


def test_geneve_decode_lbcore(benchmark):
    benchmark.group = "geneve decode"
    benchmark(lambda: geneve.decode(PACKET))


def test_geneve_decode_lbcore_cookie(benchmark):
    benchmark.group = "geneve decode"
    benchmark(lambda: geneve.decode(PACKET).gwlb_flow_cookie)


def test_geneve_header_length_lbcore(benchmark):
    benchmark.group = "geneve decode"
    benchmark(lambda: geneve.header_length(PACKET))


def test_geneve_decode_struct(benchmark):
    import sys
    sys.path.insert(0, "tests")
    from reference import geneve_ref
    benchmark.group = "geneve decode"
    benchmark(lambda: geneve_ref.decode(PACKET))
