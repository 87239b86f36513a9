"""numba bindings of the L4 kernel family (lbcore._l4).

``l4_route_many(n, keys, key_hashes, hashes, times, cls, node, tables, table_off,
table_len, table_random, valid, n_targets, table, rng_state, out_target,
out_flags)`` (pointers as ``arr.ctypes``) routes a batch through a connection
table: ``keys`` are ``n`` canonical flow keys (``lbcore._l4.KEY_SIZE`` bytes each,
built with ``flowtable_make_key``), ``table`` is a ``FlowTable.address`` (of
``L4Path.flow_table``, or of a FlowTable used only this way), ``rng_state`` four
uint64 words (xoshiro256** state). It stops before a block of flows that could
fill the table and returns how many flows it routed — the kernel behind
``L4Path.route_many``.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u64p, i32p, i64p, f64p  # noqa: F401

__all__ = ["l4_route_many"]

l4_route_many = bind("_l4", "lb_l4_route_many", _t.size_t(
    _t.size_t, u8p, u64p, u64p, f64p, u8p, i32p, i32p, i64p, i32p, u8p, u8p, _t.size_t,
    _t.uintp, u64p, i32p, u8p))
