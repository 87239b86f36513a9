"""Flow hashing benchmarks: one flow per call from Python beside a no-op extension call
and lbcore.hash_key on the same 37 bytes (the mmh3 / xxhash peers on those bytes are in
lbcore.bench, run by benchmarks/bench_peers.py); batch hashing of 10^6 and 10^7
flows (flows/s on one core, Cython and numba).

    python -m pytest benchmarks/bench_hash.py --benchmark-enable -q \
        --benchmark-columns=median,min,rounds

Set-up (flows, arrays, numba compilation) happens outside the timed region.
"""
import struct

import numpy as np
import pytest

import lbcore
from lbcore import Flow, Flows, flow_hash, flow_hash_fields
from lbcore._hash import _noop, _noop_builtin

FLOW = Flow(6, "10.1.2.3", "10.9.8.7", 40000, 443, seq=123456789)
# The same flow as 37 bytes: protocol, 2 x 16-byte addresses (v4-mapped), 2 ports.
BYTES37 = (bytes([6]) + bytes(10) + b"\xff\xff" + bytes([10, 1, 2, 3]) + bytes(10)
           + b"\xff\xff" + bytes([10, 9, 8, 7]) + struct.pack("!HH", 40000, 443))
assert len(BYTES37) == 37
SRC, DST = 0x0A010203, 0x0A090807


# ---------------------------------------------------------------- one call
# Each timed round makes ITER calls in pytest-benchmark's inner loop (pedantic mode),
# so the timer's own cost is amortised and every entry pays the same loop overhead.
ITER, ROUNDS = 2000, 300


def per_call(benchmark, fn, *args, **kwargs):
    benchmark.pedantic(fn, args=args, kwargs=kwargs, iterations=ITER, rounds=ROUNDS,
                       warmup_rounds=5)


@pytest.mark.benchmark(group="scalar")
def test_noop_extension_call(benchmark):
    per_call(benchmark, _noop, FLOW)


@pytest.mark.benchmark(group="scalar")
def test_noop_builtin_call(benchmark):
    per_call(benchmark, _noop_builtin, FLOW)


@pytest.mark.benchmark(group="scalar")
def test_flow_hash_flow(benchmark):
    per_call(benchmark, flow_hash, FLOW)


@pytest.mark.benchmark(group="scalar")
def test_flow_hash_flow_seeded(benchmark):
    per_call(benchmark, flow_hash, FLOW, seed=12345)


@pytest.mark.benchmark(group="scalar")
def test_flow_hash_fields_preparsed(benchmark):
    per_call(benchmark, flow_hash_fields, 6, SRC, DST, 40000, 443, 123456789)


@pytest.mark.benchmark(group="scalar")
def test_hash_key_int(benchmark):
    per_call(benchmark, lbcore.hash_key, 123456789)


@pytest.mark.benchmark(group="scalar")
def test_hash_key_37_bytes(benchmark):
    per_call(benchmark, lbcore.hash_key, BYTES37)


# ---------------------------------------------------------------- batch

BATCHES = {
    "1e6-v4": lambda: Flows.random(10**6, seed=1),
    "1e7-v4": lambda: Flows.random(10**7, seed=1),
    "1e7-v4-udp": lambda: Flows.random(10**7, seed=1, protocols=(17,)),
    "1e6-mixed30": lambda: Flows.random(10**6, seed=1, ipv6_fraction=0.3),
    "1e6-v6": lambda: Flows.random(10**6, seed=1, ipv6_fraction=1.0),
}
_cache = {}


def _batch(name):
    if name not in _cache:
        _cache.clear()
        _cache[name] = BATCHES[name]()
    return _cache[name]


@pytest.mark.benchmark(group="batch")
@pytest.mark.parametrize("name", list(BATCHES))
def test_flow_hash_batch(benchmark, name):
    flows = _batch(name)
    benchmark.extra_info["flows"] = len(flows)
    benchmark(flow_hash, flows)


@pytest.mark.benchmark(group="batch")
@pytest.mark.parametrize("name", ["1e6-v4", "1e7-v4", "1e6-mixed30"])
def test_flow_hash_batch_into_out(benchmark, name):
    """The same, writing into a reused output buffer (no fresh 8 bytes/flow to fault in)."""
    flows = _batch(name)
    out = np.empty(len(flows), dtype=np.uint64)
    benchmark(lambda: flow_hash(flows, out=out))


@pytest.mark.benchmark(group="batch")
@pytest.mark.parametrize("name", ["1e6-v4", "1e7-v4"])
def test_flow_hash_batch_symmetric_3tuple(benchmark, name):
    flows = _batch(name)
    benchmark(lambda: flow_hash(flows, fields="3-tuple", symmetric=True))


@pytest.mark.benchmark(group="batch")
@pytest.mark.parametrize("name", ["1e6-v4", "1e7-v4"])
def test_numba_hash_flows_batch(benchmark, name):
    pytest.importorskip("numba")
    from lbcore import numba as lbn
    flows = _batch(name)
    cols = flows.columns()
    lbn.hash_flows(*cols, 0, False, np.uint64(0))        # compile outside the timing
    benchmark(lbn.hash_flows, *cols, 0, False, np.uint64(0))


@pytest.mark.benchmark(group="batch")
def test_numpy_copy_1e7_reference(benchmark):
    """Memory-bandwidth yardstick: copying the 34 bytes/flow an IPv4 batch reads."""
    flows = _batch("1e7-v4")
    cols = [flows.protocol, flows.flags, flows.src_lo, flows.dst_lo, flows.src_port,
            flows.dst_port, flows.seq]
    outs = [np.empty_like(c) for c in cols]

    def copy():
        for c, o in zip(cols, outs):
            np.copyto(o, c)
    benchmark(copy)
