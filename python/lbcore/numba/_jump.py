"""numba bindings of the jump consistent hash kernel family (lbcore._jump)."""
import numba as _numba
import numpy as _np
from numba import types as _t

from lbcore.numba._bind import bind, u64p, i32p

__all__ = ["jump_hash", "jump_hash_many", "jump_hash_array"]

jump_hash = bind("_jump", "lb_jump_hash", _t.int32(_t.uint64, _t.int32))
jump_hash_many = bind("_jump", "lb_jump_hash_many", _t.void(_t.size_t, u64p, _t.int32, i32p))


@_numba.njit(cache=True)
def jump_hash_array(keys, num_buckets):
    """Per-item loop over ``jump_hash`` (keys: C-contiguous uint64)."""
    out = _np.empty(keys.shape[0], dtype=_np.int32)
    for i in range(keys.shape[0]):
        out[i] = jump_hash(keys[i], num_buckets)
    return out
