# cython: language_level=3
"""Boundary checks, written once: every Python value a kernel object takes (times,
seeds, counts, indices, flags, weights, target lists, slow start) is validated here,
in C, with one message style that names the parameter:
``"<name> must be <what>, got <value or type>"`` (TypeError for a wrong type,
ValueError for a wrong value). Nothing here imports the Python layer.

``check_now`` is the per-request one: an exact float or int is accepted in a few
C operations (no Python ABC test); anything else takes the slow path once.
"""
from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t

# ALB slow_start.duration_seconds: 0 (off) or an integer in [SLOW_START_MIN, SLOW_START_MAX]
cdef enum:
    SLOW_START_MIN = 30
    SLOW_START_MAX = 900

cdef double check_now_slow(object now, str name) except? -1.0


cdef inline double check_now(object now, str name) except? -1.0:
    """``now`` (seconds on any clock): a finite real number, not a bool, not None."""
    cdef double t
    if PyFloat_CheckExact(now):
        t = PyFloat_AS_DOUBLE(now)
        if isfinite(t):
            return t
    return check_now_slow(now, name)


cpdef double check_time(object now, str name=*) except? -1.0
cpdef bint check_bool(object value, str name) except -1
cpdef Py_ssize_t check_count(object n, str name=*) except -1
cpdef uint64_t check_seed(object seed, str name=*) except? 0xFFFFFFFFFFFFFFFF
cpdef double check_slow_start(object seconds, str name=*) except -1.0
cpdef reject_slow_start(object seconds, str cls)
cpdef object check_weight(object weight, str name, bint integer, bint allow_zero)
cpdef object check_weight_array(object weights, Py_ssize_t n, bint integer, bint allow_zero,
                                str name=*)
cpdef check_total(object existing, double weight, str name=*)
cpdef list check_targets(object targets, str name=*)
cpdef check_hashable(object target, str name=*)
