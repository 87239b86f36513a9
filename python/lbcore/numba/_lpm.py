"""numba bindings of the LPM kernel family (lbcore._lpm). Pass a ``PrefixTable``'s
``starts4``/``values4`` (IPv4) or ``starts6_hi``/``starts6_lo``/``values6`` arrays."""
from numba import types as _t

from lbcore.numba._bind import bind, i32p, u8p, u32p, u64p

__all__ = ["lpm_lookup4", "lpm_lookup6", "lpm_lookup4_many", "lpm_lookup6_many",
           "lpm_lookup_mixed_many"]

lpm_lookup4 = bind("_lpm", "lb_lpm_lookup4", _t.int32(_t.int64, u32p, i32p, _t.uint32))
lpm_lookup6 = bind("_lpm", "lb_lpm_lookup6",
                   _t.int32(_t.int64, u64p, u64p, i32p, _t.uint64, _t.uint64))
lpm_lookup4_many = bind("_lpm", "lb_lpm_lookup4_many",
                        _t.void(_t.int64, u32p, _t.int64, u32p, i32p, i32p))
lpm_lookup6_many = bind("_lpm", "lb_lpm_lookup6_many",
                        _t.void(_t.int64, u64p, u64p, _t.int64, u64p, u64p, i32p, i32p))
lpm_lookup_mixed_many = bind("_lpm", "lb_lpm_lookup_mixed_many",
                             _t.void(_t.int64, u8p, u64p, u64p, _t.int64, u32p, i32p,
                                     _t.int64, u64p, u64p, i32p, i32p))
