"""numba bindings of the Maglev kernel family (lbcore._maglev).

``maglev_lookup(table.ctypes, m, h)`` is ``table[(h * m) >> 64]``: use the table of a
``lbcore.Maglev`` (``maglev.table``, ``maglev.table_size``) and hashes from
``lbcore.numba.flow_hash`` with the selector's hash options.
"""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u16p, u32p, u64p, i32p

__all__ = ["maglev_populate", "maglev_lookup", "maglev_lookup_many", "maglev_select_flows",
           "maglev_lookup_array"]

# weights is an address: weights.ctypes.data, or 0 for equal weights
maglev_populate = bind("_maglev", "lb_maglev_populate", _t.intc(
    _t.int32, u64p, u64p, _t.uintp, _t.uint64, u64p, u64p, i32p))
maglev_lookup = bind("_maglev", "lb_maglev_lookup", _t.int32(i32p, _t.uint64, _t.uint64))
maglev_lookup_many = bind("_maglev", "lb_maglev_lookup_many", _t.void(
    i32p, _t.uint64, _t.size_t, u64p, i32p))
maglev_select_flows = bind("_maglev", "lb_maglev_select_flows", _t.void(
    i32p, _t.uint64, _t.size_t, u8p, u8p, u64p, u64p, u64p, u64p, u16p, u16p, u32p,
    _t.intc, _t.intc, _t.uint64, i32p))


@_numba.njit(cache=True)
def maglev_lookup_array(table, hashes):
    """Per-item loop over ``maglev_lookup`` (table: C-contiguous int32, hashes: uint64)."""
    m = _np.uint64(table.shape[0])
    out = _np.empty(hashes.shape[0], dtype=_np.int32)
    for i in range(hashes.shape[0]):
        out[i] = maglev_lookup(table.ctypes, m, hashes[i])
    return out
