"""numba bindings of the dnspick kernel family (lbcore._dnspick). The generator state is
a ``numpy.uint64`` array of 4 words seeded with ``dnspick_seed``."""
from numba import types as _t

from lbcore.numba._bind import bind, i32p, u64p

__all__ = ["dnspick_seed", "dnspick_weighted", "dnspick_weighted_many", "dnspick_shuffle"]

dnspick_seed = bind("_dnspick", "lb_dnspick_seed", _t.void(u64p, _t.uint64))
dnspick_weighted = bind("_dnspick", "lb_dnspick_weighted", _t.int32(u64p, _t.int32, u64p))
dnspick_weighted_many = bind("_dnspick", "lb_dnspick_weighted_many",
                             _t.void(u64p, _t.int64, _t.int32, u64p, i32p))
dnspick_shuffle = bind("_dnspick", "lb_dnspick_shuffle",
                       _t.void(u64p, _t.int32, _t.int32, i32p))
