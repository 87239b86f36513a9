"""numba bindings of the least-outstanding / power-of-two-choices kernels (lbcore._lor).

The ``state`` argument is ``obj.ctypes.state.ctypes`` of a ``LeastOutstanding`` or
``PowerOfTwoChoices`` (a uint8 array holding the ``lb_lor`` struct, which
points at the object's own arrays): numba code and the Python object share one
state, so counts acquired in ``@njit`` code are visible from Python and back.
"""
from numba import types as _t

from lbcore.numba._bind import bind, u8p

__all__ = ["lor_acquire", "lor_acquire_p2c", "lor_acquire_at", "lor_release", "lor_set_available"]

#: lor_acquire(state) -> int32 index (-1: none available)
lor_acquire = bind("_lor", "lb_lor_acquire", _t.int32(u8p))
#: lor_acquire_p2c(state) -> int32 index (-1: none available)
lor_acquire_p2c = bind("_lor", "lb_lor_acquire_p2c", _t.int32(u8p))
#: lor_acquire_at(state, index) -> 0 ok (a request counted on that target), -2 unknown index
lor_acquire_at = bind("_lor", "lb_lor_acquire_at", _t.intc(u8p, _t.int32))
#: lor_release(state, index) -> 0 ok, -1 nothing outstanding, -2 unknown index
lor_release = bind("_lor", "lb_lor_release", _t.intc(u8p, _t.int32))
#: lor_set_available(state, index, available) -> 0 ok, -2 unknown index
lor_set_available = bind("_lor", "lb_lor_set_available", _t.intc(u8p, _t.int32, _t.intc))
