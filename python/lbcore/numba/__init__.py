"""lbcore's kernels for numba ``@njit`` code.

Each name here is the compiled Cython kernel itself (one implementation, not a
numba re-write; ``hash_flows`` is a thin ``@njit`` wrapper that calls one, and
``flow_hash`` / ``hash_keys`` are the kernel's few lines of arithmetic in numba, so that
they inline into the caller's loop, tested bit-identical), bound through its
``__pyx_capi__`` address: the address is
registered with LLVM under a stable symbol and declared as a
``numba.types.ExternalFunction``, so ``@njit(cache=True)`` works (a ctypes
function pointer would be a "dynamic global" that numba cannot cache).

Pointer arguments take ``array.ctypes`` of a C-contiguous array of the stated
dtype. Scalar hashing::

    from lbcore import numba as lbn

    @numba.njit(cache=True)
    def hash_all(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, out):
        for i in range(out.shape[0]):
            out[i] = lbn.flow_hash(proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                                   dst_lo[i], sport[i], dport[i], seq[i],
                                   lbn.FIELDS_5, False, 0)

Kernel families add their bindings with :func:`bind`.
"""
from importlib import import_module as _import

from lbcore.numba._bind import bind, bound_kernels

# One module per kernel family; each defines __all__.
_FAMILIES = ["_hash", "_geo", "_lpm", "_dnspick", "_lor", "_roundrobin", "_alias",
             "_maglev", "_jump", "_rendezvous", "_flowtable", "_bucket",
             "_geneve", "_l4"]

__all__ = ["bind", "bound_kernels"]
for _name in _FAMILIES:
    _module = _import(f"lbcore.numba.{_name}")
    globals().update({k: getattr(_module, k) for k in _module.__all__})
    __all__ += _module.__all__
del _name, _module
