"""The IPv4 batch hash on every instruction-set path this CPU has (src/lbcore/_hash_simd.h):
each path forced in turn must agree exactly with the reference model and with the scalar
kernel; Maglev's fused select_many must agree with its two-call form; the per-call
rewrites of hash_key(int) and JumpHash.select(int) keep their results and errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lbcore
from lbcore import Flows, flow_hash, hash_key
from lbcore._hash import SIMD_PATHS, simd_path, simd_paths, use_simd_path
from reference import hash_ref as ref
from _strategies import FIELDS, SEEDS, flow_values, make_flow

PATHS = simd_paths()


@pytest.fixture(params=PATHS)
def path(request):
    previous = use_simd_path(request.param)
    yield request.param
    use_simd_path(previous)


def ref_of(flow, **kw):
    return ref.flow_hash(flow.protocol, flow.is_ipv6, int(flow.src), int(flow.dst),
                         flow.src_port, flow.dst_port, flow.sequence, **kw)


def test_paths_are_the_known_ones_lowest_first():
    assert PATHS[0] == "default" and PATHS == SIMD_PATHS[:len(PATHS)]
    assert simd_path() == PATHS[-1]          # the best by default (no LBCORE_HASH_ISA)


@settings(max_examples=120, deadline=None)
@given(st.lists(flow_values(ipv6=False).map(make_flow), min_size=1, max_size=70), FIELDS,
       st.booleans(), SEEDS)
def test_every_path_matches_reference(flow_list, fields, symmetric, seed):
    # 70 flows: more than one vector (8 lanes) plus a remainder, on every path
    batch = Flows.from_flows(flow_list)
    expected = [ref_of(f, fields=fields, symmetric=symmetric, seed=seed) for f in flow_list]
    previous = simd_path()
    try:
        for p in PATHS:
            use_simd_path(p)
            got = flow_hash(batch, fields=fields, symmetric=symmetric, seed=seed)
            assert got.tolist() == expected, p
    finally:
        use_simd_path(previous)


def test_every_path_large_batch_matches_scalar(path):
    # ties (equal endpoints: the symmetric min/max), all protocols, ISN and none
    batch = Flows.random(5000, seed=3, protocols=(6, 17, 1))
    ties = Flows.from_flows([lbcore.Flow(6, "10.0.0.1", "10.0.0.1", p, p, seq=p)
                             for p in range(0, 65536, 4099)])
    for b in (batch, ties):
        for fields in ("5-tuple", "3-tuple", "2-tuple"):
            for symmetric in (False, True):
                got = flow_hash(b, fields=fields, symmetric=symmetric, seed=2**64 - 1)
                assert got.tolist() == [flow_hash(f, fields=fields, symmetric=symmetric,
                                                  seed=2**64 - 1) for f in b]


def test_mixed_families_on_every_path(path):
    batch = Flows.random(3000, seed=4, ipv6_fraction=0.3)
    assert flow_hash(batch, seed=9).tolist() == [flow_hash(f, seed=9) for f in batch]


def test_use_simd_path_validates_and_returns_previous():
    with pytest.raises(TypeError, match="name"):
        use_simd_path(1)
    with pytest.raises(ValueError, match="name"):
        use_simd_path("sse9")
    previous = use_simd_path("default")
    try:
        assert simd_path() == "default"
        assert use_simd_path(previous) == "default"
    finally:
        use_simd_path(previous)
    missing = [p for p in SIMD_PATHS if p not in PATHS]
    for p in missing:
        with pytest.raises(ValueError, match="cannot run"):
            use_simd_path(p)


@pytest.mark.parametrize("wanted", ["default", "avx2", "bogus"])
def test_environment_variable_chooses_the_path(wanted):
    env = dict(os.environ, LBCORE_HASH_ISA=wanted)
    r = subprocess.run([sys.executable, "-c",
                        "import warnings\nwith warnings.catch_warnings(record=True) as w:\n"
                        "    warnings.simplefilter('always')\n"
                        "    from lbcore._hash import simd_path\n"
                        "print(simd_path(), len(w))"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    name, warned = r.stdout.split()
    if wanted == "bogus":
        assert name == PATHS[-1] and warned == "1"
    else:
        assert name == (wanted if wanted in PATHS else PATHS[-1]) and warned == "0"


# ------------------------------------------------------------ Maglev fused == two calls

@pytest.mark.parametrize("kw", [dict(protocols=(6, 17)), dict(protocols=(17,)),
                                dict(protocols=(6,)), dict(tcp_seq=False),
                                dict(ipv6_fraction=0.3)])
def test_maglev_fused_matches_two_calls(path, kw):
    flows = Flows.random(5000, seed=6, **kw)
    for fields, symmetric in (("5-tuple", False), ("3-tuple", True), ("2-tuple", False)):
        mg = lbcore.Maglev([f"t{i}" for i in range(37)], table_size=4099, fields=fields,
                           symmetric=symmetric, flow_seed=77)
        two = mg.select_many(flow_hash(flows, fields=fields, symmetric=symmetric, seed=77))
        assert mg.select_many(flows).tolist() == two.tolist()


@pytest.mark.parametrize("n", [0, 1, 511, 512, 513, 16384, 16385, 40000])
def test_maglev_fused_chunk_edges(n):
    flows = Flows.random(n, seed=n)
    mg = lbcore.Maglev(["a", "b", "c"], table_size=307)
    assert mg.select_many(flows).tolist() == [mg.select_index(f) for f in flows]


# ------------------------------------------------------------ per-call rewrites

@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), SEEDS)
def test_hash_key_int_matches_reference_after_other_seed(key, seed):
    # the int path uses the cached keys of the last seed: alternate seeds
    assert hash_key(key, seed=seed) == ref.hash_key(key, seed)
    assert hash_key(key) == ref.hash_key(key, 0)
    assert hash_key(key, seed=seed) == ref.hash_key(key, seed)


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (2**64, ValueError),
                                     (1.0, TypeError), (True, TypeError), (None, TypeError)])
def test_hash_key_bad_int_names_key(bad, exc):
    with pytest.raises(exc, match="key"):
        hash_key(bad)


def test_hash_key_int_subclass_and_index():
    class I(int):
        pass

    class Idx:
        def __index__(self):
            return 5
    assert hash_key(I(5)) == hash_key(5) == hash_key(Idx()) == hash_key(np.uint64(5))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(1, 300))
def test_jump_select_int_matches_jump_hash(key, n):
    jh = lbcore.JumpHash([f"t{i}" for i in range(n)])
    assert jh.select_index(key) == lbcore.jump_hash(key, n)
    assert jh.select(key) == f"t{lbcore.jump_hash(key, n)}"


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (2**64, ValueError),
                                     (1.5, TypeError), (True, TypeError)])
def test_selectors_bad_hash_names_parameter(bad, exc):
    for sel in (lbcore.JumpHash(["a", "b"]), lbcore.Maglev(["a", "b"], table_size=307)):
        with pytest.raises(exc, match="flow_or_hash"):
            sel.select(bad)
        with pytest.raises(exc, match="flow_or_hash"):
            sel.select_index(bad)
