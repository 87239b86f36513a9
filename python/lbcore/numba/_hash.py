"""numba bindings of the hash kernel family (lbcore._hash)."""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u16p, u32p, u64p

__all__ = ["FIELDS_5", "FIELDS_3", "FIELDS_2", "flow_hash", "flow_hash_many", "hash_u64",
           "hash_bytes", "hash_flows"]

FIELDS_5, FIELDS_3, FIELDS_2 = 0, 1, 2

flow_hash = bind("_hash", "lb_flow_hash", _t.uint64(
    _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint16, _t.uint16, _t.uint32, _t.intc, _t.intc, _t.uint64))
flow_hash_many = bind("_hash", "lb_flow_hash_many", _t.void(
    _t.size_t, u8p, u8p, u64p, u64p, u64p, u64p, u16p, u16p, u32p,
    _t.intc, _t.intc, _t.uint64, u64p))
hash_u64 = bind("_hash", "lb_hash_u64", _t.uint64(_t.uint64, _t.uint64))
hash_bytes = bind("_hash", "lb_hash_bytes", _t.uint64(u8p, _t.size_t, _t.uint64))


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
