# cython: language_level=3
"""The stickiness-cookie rule of lbcore's load balancers, in one place: the ALB's
``AWSALB`` / application / ``AWSALBTG`` cookies (lbcore.elb) and the simulator's lb_cookie
store (lbcore._sim) both decide with these two functions.

A cookie names a target (or target group) and carries an expiry: it binds a request
while the expiry is after ``now`` (an expiry equal to ``now`` has run out), and every
forward that sets it gives it the expiry ``now + duration`` (the stickiness duration,
``stickiness.lb_cookie.duration_seconds``; ALB guide, "Sticky sessions"). Whether the
named target may still take the request (healthy, or registered under fail open) is
the pool's decision, not the cookie's.
"""
from libc.stdint cimport int32_t


cdef inline int32_t lb_sticky_cookie_target(int32_t target, double expiry,
                                            double now) noexcept nogil:
    """The target a cookie naming ``target`` (-1: no cookie) with ``expiry`` binds a
    request at ``now`` to: ``target`` while ``expiry > now``, else -1."""
    if target >= 0 and expiry > now:
        return target
    return -1


cdef inline double lb_sticky_cookie_expiry(double now, double duration) noexcept nogil:
    """The expiry a cookie set at ``now`` gets: ``now + duration``."""
    return now + duration
