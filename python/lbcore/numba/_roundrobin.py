"""numba bindings of smooth weighted round robin (lbcore._roundrobin).

``state`` is ``RoundRobin.ctypes.state.ctypes`` (the ``lb_roundrobin`` struct); ``now`` is
the time in seconds (ignored unless slow start is on).
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p, i32p

__all__ = ["roundrobin_pick", "roundrobin_pick_many"]

#: roundrobin_pick(state, now) -> int32 index (-1: none available)
roundrobin_pick = bind("_roundrobin", "lb_roundrobin_pick", _t.int32(u8p, _t.float64))
#: roundrobin_pick_many(state, n, now, out_int32_ptr)
roundrobin_pick_many = bind("_roundrobin", "lb_roundrobin_pick_many", _t.void(u8p, _t.size_t, _t.float64, i32p))
