# cython: language_level=3
"""The stickiness-cookie rule (see _sticky.pxd) for Python callers: lbcore.elb's ALB
calls these, the simulator's compiled loop the inline functions themselves.
Modelled in tests/reference/sticky_ref.py."""
import math

import numpy as np

from libc.stdint cimport int32_t


cdef double _seconds(object value, str name) except? -1.0:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (seconds), got {type(value).__name__}")
    cdef double x = float(value)
    if math.isnan(x):
        raise ValueError(f"{name} must not be NaN")
    return x


def sticky_cookie_target(target, expiry, now):
    """The target a stickiness cookie naming ``target`` (an int >= 0, or -1 / None for
    no cookie) with ``expiry`` (seconds) binds a request at ``now`` to: ``target``
    while ``expiry > now``, else -1."""
    if target is None:
        return -1
    if isinstance(target, bool) or not hasattr(target, "__index__"):
        raise TypeError(f"target must be an int, got {type(target).__name__}")
    t = target.__index__()
    if not -1 <= t <= 2**31 - 1:
        raise ValueError(f"target must be in -1..2**31-1, got {t}")
    return lb_sticky_cookie_target(<int32_t>t, _seconds(expiry, "expiry"),
                                   _seconds(now, "now"))


def sticky_cookie_expiry(now, duration):
    """The expiry (seconds) of a stickiness cookie set at ``now`` for ``duration``
    seconds: ``now + duration``."""
    cdef double d = _seconds(duration, "duration")
    if d < 0:
        raise ValueError(f"duration must be >= 0, got {duration!r}")
    return lb_sticky_cookie_expiry(_seconds(now, "now"), d)
