"""numba bindings of the weighted rendezvous kernel family (lbcore._rendezvous).

``rendezvous_arrays(r)`` gives a ``Rendezvous``'s kernel arrays ``ta, tb, weights``.
The weights argument of the kernels is an *address*: ``weights.ctypes.data``, or 0
for an unweighted selector (``weights`` is then an empty array).
"""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, u64p, i32p, f64p

__all__ = ["rendezvous_select", "rendezvous_select_many", "rendezvous_top",
           "rendezvous_arrays", "rendezvous_select_array"]

rendezvous_select = bind("_rendezvous", "lb_rendezvous_select", _t.int32(
    _t.uint64, _t.int32, u64p, u64p, _t.uintp))
rendezvous_select_many = bind("_rendezvous", "lb_rendezvous_select_many", _t.void(
    _t.size_t, u64p, _t.int32, u64p, u64p, _t.uintp, i32p))
rendezvous_top = bind("_rendezvous", "lb_rendezvous_top", _t.int32(
    _t.uint64, _t.int32, u64p, u64p, _t.uintp, _t.int32, i32p, f64p))


def rendezvous_arrays(r):
    """(ta, tb, weights) C arrays of a ``lbcore.Rendezvous``; weights is empty when
    the selector compares unweighted scores (pass address 0)."""
    ta, tb, w = r.kernel_arrays()
    return ta, tb, (_np.empty(0) if w is None else w)


@_numba.njit(cache=True)
def rendezvous_select_array(hashes, ta, tb, weights):
    """Per-item loop over ``rendezvous_select`` (weights empty = unweighted)."""
    out = _np.empty(hashes.shape[0], dtype=_np.int32)
    n = _np.int32(ta.shape[0])
    waddr = weights.ctypes.data if weights.shape[0] else 0
    for i in range(hashes.shape[0]):
        out[i] = rendezvous_select(hashes[i], n, ta.ctypes, tb.ctypes, waddr)
    return out
