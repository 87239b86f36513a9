"""lbcore's kernels for numba ``@njit`` code.

Each name here is the compiled Cython kernel itself (one implementation, not a
numba re-write), bound through its ``__pyx_capi__`` address: the address is
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
from lbcore.numba._bind import bind
from lbcore.numba._hash import *  # noqa: F401,F403
from lbcore.numba import _hash
from lbcore.numba._lor import *  # noqa: F401,F403
from lbcore.numba._roundrobin import *  # noqa: F401,F403
from lbcore.numba._alias import *  # noqa: F401,F403
from lbcore.numba import _lor, _roundrobin, _alias

__all__ = ["bind", *_hash.__all__, *_lor.__all__, *_roundrobin.__all__, *_alias.__all__]
