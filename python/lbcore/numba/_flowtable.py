"""numba bindings of the connection-tracking kernel family (lbcore._flowtable).

The first argument of every kernel is ``FlowTable.address`` (the table's C struct);
keep the ``FlowTable`` object alive and ``now`` non-decreasing (the Python methods
check it, the kernels do not). A route step is ``lookup``; on -1 select a target and
``insert``.

Callers with their own flow hash (lbcore._l4) build a canonical key with
``flowtable_make_key`` into ``KEY_SIZE`` bytes (``lbcore._l4.KEY_SIZE``), then
``flowtable_find`` / ``flowtable_add`` (entry indices; -1 for a timeout class outside
0..2, the table untouched) / ``flowtable_remove``; such a table must not also be driven
by lookup/insert. A ``FlowTable`` owned by an NLB/GWLB (``L4Path.flow_table``) is
mutated by its batches without the GIL: don't drive it from numba.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, u16p, u32p, u64p, i32p

__all__ = ["flowtable_lookup", "flowtable_insert", "flowtable_lookup_many",
           "flowtable_insert_many", "flowtable_forget_target", "flowtable_expire",
           "flowtable_make_key", "flowtable_find", "flowtable_add", "flowtable_remove"]

_FLOW = (_t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint16,
         _t.uint16, _t.uint32)
_COLS = (u8p, u8p, u64p, u64p, u64p, u64p, u16p, u16p, u32p)

flowtable_lookup = bind("_flowtable", "lb_flowtable_lookup", _t.int32(
    _t.uintp, *_FLOW, _t.float64))
flowtable_insert = bind("_flowtable", "lb_flowtable_insert", _t.int32(
    _t.uintp, *_FLOW, _t.int32, _t.float64))
flowtable_lookup_many = bind("_flowtable", "lb_flowtable_lookup_many", _t.size_t(
    _t.uintp, _t.size_t, *_COLS, _t.float64, i32p))
flowtable_insert_many = bind("_flowtable", "lb_flowtable_insert_many", _t.void(
    _t.uintp, _t.size_t, *_COLS, i32p, _t.float64, i32p))
flowtable_forget_target = bind("_flowtable", "lb_flowtable_forget_target", _t.int32(
    _t.uintp, _t.int32))
flowtable_expire = bind("_flowtable", "lb_flowtable_expire", _t.int32(_t.uintp, _t.float64))
flowtable_make_key = bind("_flowtable", "lb_flowtable_make_key", _t.void(
    u8p, *_FLOW, _t.intc, _t.intc))
flowtable_find = bind("_flowtable", "lb_flowtable_find", _t.int32(
    _t.uintp, u8p, _t.uint64, _t.intc, _t.float64))
flowtable_add = bind("_flowtable", "lb_flowtable_add", _t.int32(
    _t.uintp, u8p, _t.uint64, _t.intc, _t.int32, _t.float64))
flowtable_remove = bind("_flowtable", "lb_flowtable_remove", _t.void(_t.uintp, _t.int32))
