"""numba bindings of the L4 kernel family (lbcore._l4).

``l4_route_many(n, keys, hashes, times, idle, node, tables, table_off, table_len,
table_random, valid, n_targets, table, table_mask, rng_state, out_target,
out_flags)`` (pointers as ``arr.ctypes``) routes a batch through a flow table:
``table`` is a zeroed numpy array of ``lbcore._l4.ENTRY_DTYPE`` with a
power-of-two length (``table_mask`` = length - 1), ``rng_state`` four uint64
words (xoshiro256** state) — the kernel behind ``L4Path.route_many``.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u64p, i32p, i64p, f64p  # noqa: F401

__all__ = ["l4_route_many"]

l4_route_many = bind("_l4", "lb_l4_route_many", _t.int64(
    _t.size_t, u64p, u64p, f64p, f64p, i32p, i32p, i64p, i32p, u8p, u8p, _t.size_t,
    _t.voidptr, _t.uint64, u64p, i32p, u8p))
