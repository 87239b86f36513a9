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

``l4_route_fields(path, protocol, flags, src_hi, src_lo, dst_hi, dst_lo, src_port,
dst_port, seq, now, node, out_flags)`` routes one flow given by its fields on an
``L4Path``'s own state (``path`` = ``L4Path.ctypes.address``, e.g. of
``NetworkLoadBalancer.flow_path()[0]``; ``node`` -1: by DNS), as its ``route_flow``
does: the target index (-1 none; ``out_flags`` one uint8), -2 when the table is full
(call ``L4Path.reserve`` and again), -3 when ``now`` went back or no node is set.
``l4_close_fields(path, protocol, flags, src_hi, src_lo, dst_hi, dst_lo, src_port,
dst_port, seq, now)``: the flow's connection ended (``L4LoadBalancer.close``): 1 when
its entry was removed, 0 when there was none to remove, -3 when ``now`` went back.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u64p, i32p, i64p, f64p  # noqa: F401

__all__ = ["l4_route_many", "l4_route_fields", "l4_close_fields"]

l4_route_many = bind("_l4", "lb_l4_route_many", _t.size_t(
    _t.size_t, u8p, u64p, u64p, f64p, u8p, i32p, i32p, i64p, i32p, u8p, u8p, _t.size_t,
    _t.uintp, u64p, i32p, u8p))

l4_route_fields = bind("_l4", "lb_l4_route_fields", _t.int32(
    _t.uintp, _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint16,
    _t.uint16, _t.uint32, _t.float64, _t.int32, u8p))

l4_close_fields = bind("_l4", "lb_l4_close_fields", _t.int32(
    _t.uintp, _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint16,
    _t.uint16, _t.uint32, _t.float64))
