"""lbcore.numba's per-element flow hashes (flow_hash, the kernel's arithmetic written in
numba; flow_hash_seeded = lb_flow_hash, flow_hash_k = lb_flow_hash_k) agree exactly with
lbcore.flow_hash and with the pure-Python reference for any flow, field set, symmetry and
seed."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("numba")
import numba  # noqa: E402

from lbcore import Flows, flow_hash  # noqa: E402
from lbcore import numba as lbn  # noqa: E402
from reference import hash_ref as ref  # noqa: E402
from _strategies import SEEDS, flows  # noqa: E402

FIELD_CODES = {"5-tuple": lbn.FIELDS_5, "3-tuple": lbn.FIELDS_3, "2-tuple": lbn.FIELDS_2}


@numba.njit
def _loop(which, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, fields,
          symmetric, seed):
    out = np.empty(proto.shape[0], dtype=np.uint64)
    k = lbn.hash_keys(seed)
    for i in range(proto.shape[0]):
        if which == 0:
            out[i] = lbn.flow_hash(proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                                   dst_lo[i], sport[i], dport[i], seq[i], fields, symmetric,
                                   seed)
        elif which == 1:
            out[i] = lbn.flow_hash_seeded(proto[i], flags[i], src_hi[i], src_lo[i],
                                          dst_hi[i], dst_lo[i], sport[i], dport[i], seq[i],
                                          fields, symmetric, seed)
        else:
            out[i] = lbn.flow_hash_k(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7],
                                     proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                                     dst_lo[i], sport[i], dport[i], seq[i], fields,
                                     symmetric)
    return out


@numba.njit
def _keys(seed):
    return lbn.hash_keys(seed)


@settings(max_examples=80, deadline=None)
@given(st.lists(flows, min_size=1, max_size=30), st.sampled_from(sorted(FIELD_CODES)),
       st.booleans(), SEEDS)
def test_per_element_hashes_match_the_batch(flow_list, fields, symmetric, seed):
    batch = Flows.from_flows(flow_list)
    expected = flow_hash(batch, fields=fields, symmetric=symmetric, seed=seed).tolist()
    for which in (0, 1, 2):
        got = _loop(which, *batch.columns(), FIELD_CODES[fields], int(symmetric),
                    np.uint64(seed))
        assert got.tolist() == expected, which


@settings(max_examples=100, deadline=None)
@given(SEEDS)
def test_hash_keys_are_the_seed_key_words(seed):
    assert list(_keys(np.uint64(seed))) == ref.hash_keys(seed)


def test_large_mixed_batch():
    batch = Flows.random(20_000, seed=8, ipv6_fraction=0.2, protocols=(6, 17, 1))
    expected = flow_hash(batch, seed=2**64 - 1).tolist()
    for which in (0, 1, 2):
        assert _loop(which, *batch.columns(), 0, 0, np.uint64(2**64 - 1)).tolist() == expected


@settings(max_examples=300, deadline=None)
@given(flows, st.sampled_from(sorted(FIELD_CODES)), st.booleans(), SEEDS)
def test_numba_flow_hash_equals_the_reference(flow, fields, symmetric, seed):
    # flow_hash is a numba transcription, not the C kernel: checked against
    # tests/reference/hash_ref.py directly as well as against the batch above
    cols = Flows.from_flows([flow]).columns()
    got = _loop(0, *cols, FIELD_CODES[fields], int(symmetric), np.uint64(seed))[0]
    assert int(got) == ref.flow_hash(flow.protocol, flow.is_ipv6, int(flow.src),
                                     int(flow.dst), flow.src_port, flow.dst_port,
                                     flow.sequence, fields=fields, symmetric=symmetric,
                                     seed=seed)
