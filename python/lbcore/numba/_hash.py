"""numba bindings of the hash kernel family (lbcore._hash)."""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u16p, u32p, u64p

__all__ = ["FIELDS_5", "FIELDS_3", "FIELDS_2", "flow_hash", "flow_hash_seeded", "flow_hash_k",
           "hash_keys", "flow_hash_many", "hash_u64", "hash_bytes", "hash_flows"]

FIELDS_5, FIELDS_3, FIELDS_2 = 0, 1, 2

# lb_flow_hash itself: expands the seed's eight key words on every call.
flow_hash_seeded = bind("_hash", "lb_flow_hash", _t.uint64(
    _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint16, _t.uint16, _t.uint32, _t.intc, _t.intc, _t.uint64))
# lb_flow_hash_k: the same hash, given the eight key words.
flow_hash_k = bind("_hash", "lb_flow_hash_k", _t.uint64(
    _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint16, _t.uint16, _t.uint32, _t.intc, _t.intc))
flow_hash_many = bind("_hash", "lb_flow_hash_many", _t.void(
    _t.size_t, u8p, u8p, u64p, u64p, u64p, u64p, u16p, u16p, u32p,
    _t.intc, _t.intc, _t.uint64, u64p))
hash_u64 = bind("_hash", "lb_hash_u64", _t.uint64(_t.uint64, _t.uint64))
hash_bytes = bind("_hash", "lb_hash_bytes", _t.uint64(u8p, _t.size_t, _t.uint64))

_GOLDEN = _np.uint64(0x9E3779B97F4A7C15)
_M1 = _np.uint64(0xBF58476D1CE4E5B9)
_M2 = _np.uint64(0x94D049BB133111EB)


@_numba.njit(inline="always", cache=True)
def _key_word(seed, i):
    # SplitMix64's i-th output (1-based) from state ``seed``: mix64(seed + i * golden)
    z = _np.uint64(seed) + _np.uint64(i) * _GOLDEN
    z = (z ^ (z >> _np.uint64(30))) * _M1
    z = (z ^ (z >> _np.uint64(27))) * _M2
    return z ^ (z >> _np.uint64(31))


@_numba.njit(inline="always", cache=True)
def hash_keys(seed):
    """The eight key words of ``seed`` (lb_hash_keys_init), as a tuple of uint64."""
    return (_key_word(seed, 1), _key_word(seed, 2), _key_word(seed, 3), _key_word(seed, 4),
            _key_word(seed, 5), _key_word(seed, 6), _key_word(seed, 7), _key_word(seed, 8))


@_numba.njit(inline="always", cache=True)
def flow_hash(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, fields,
              symmetric, seed):
    """``lbcore.flow_hash`` of one flow's fields (the C kernel ``lb_flow_hash_k``).

    The seed's key words are computed here, inline in the caller, as plain arithmetic on
    ``seed``: in a loop over flows with one seed LLVM hoists them out of the loop, so the
    loop pays for one kernel call per flow and no key expansion."""
    k = hash_keys(seed)
    return flow_hash_k(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], proto, flags,
                       src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, fields, symmetric)


@_numba.njit(cache=True)
def hash_flows(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
               fields, symmetric, seed):
    """Hash a batch given as ``*flows.columns()`` of an ``lbcore.Flows`` (C-contiguous arrays)."""
    n = proto.shape[0]
    out = _np.empty(n, dtype=_np.uint64)
    if n:
        flow_hash_many(n, proto.ctypes, flags.ctypes, src_hi.ctypes, src_lo.ctypes,
                       dst_hi.ctypes, dst_lo.ctypes, sport.ctypes, dport.ctypes, seq.ctypes,
                       fields, symmetric, seed, out.ctypes)
    return out
