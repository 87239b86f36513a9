# cython: language_level=3
"""Smooth weighted round robin (nginx's algorithm) with slow start: C-level API.

Per pick, every available target's ``current`` grows by its effective weight
(``weight * ramp(now)``), the target with the largest ``current`` is picked
(ties: the lowest index, as nginx's first-greater scan) and its ``current`` is
lowered by the sum of the effective weights. The struct lives in a numpy uint8
array owned by the Python object (``obj._state()``); numba passes
``state.ctypes`` as ``lb_roundrobin*``.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t
from lbcore._request_selector cimport RequestSelector

ctypedef struct lb_roundrobin:
    int32_t n_slots          # valid indices [0, n_slots)
    int32_t capacity
    double slow_start        # slow start duration in seconds, 0 = off
    double* weight           # configured weight (>= 0)
    double* current          # nginx current_weight
    double* ss_start         # time the target entered slow start, -inf = not in it
    uint8_t* avail           # 1 = may be picked; 0 = unavailable or free slot
    # The cycle form (cyc_on = 1), O(1) per pick: every active target (available,
    # weight > 0, not ramping) has the same integral weight cyc_w and, in index
    # order cyc_order[0..cyc_m), the first cyc_k of them have current = cyc_c -
    # cyc_total and the others cyc_c (cyc_total = cyc_m * cyc_w). Smooth round robin
    # keeps that shape: a pick adds cyc_w to cyc_c and takes cyc_order[cyc_k] (the
    # first largest), so ``current`` is not written per pick; every value is an
    # integer below 2**52, so the arithmetic is the O(N) loop's exactly.
    # _rr_sync (_roundrobin.pyx) writes the values back into ``current``.
    int32_t cyc_on
    int32_t cyc_m
    int32_t cyc_k
    int32_t cyc_dirty        # 1: a change since the last look for the form (the next
                             # pick looks, so a run of add()s stays O(1) each)
    double cyc_w
    double cyc_c
    double cyc_total
    int32_t* cyc_order


cdef inline double lb_roundrobin_ramp(double now, double start, double duration) noexcept nogil:
    """Fraction of its weight a target in slow start gets: linear 0 -> 1 over
    ``duration`` seconds from ``start`` (1 when not in slow start: start = -inf;
    0 before ``start``)."""
    if duration <= 0.0:
        return 1.0
    cdef double t = (now - start) / duration
    if t >= 1.0:
        return 1.0
    if t <= 0.0:
        return 0.0
    return t


# One pick at time ``now``; -1 if no target is available.
cdef int32_t lb_roundrobin_pick(lb_roundrobin* s, double now) noexcept nogil
# ``n`` picks at time ``now`` into ``out`` (same sequence as n calls of lb_roundrobin_pick).
cdef void lb_roundrobin_pick_many(lb_roundrobin* s, size_t n, double now, int32_t* out) noexcept nogil


cdef class WeightedTargets(RequestSelector):
    """What RoundRobin and lbcore._alias.WeightedRandom share under the
    RequestSelector protocol: per-slot weights ``_w`` (float64), availability
    ``_av`` (uint8), slow start entry times ``_ss`` and outstanding counts ``_o``
    (int64), with raw pointers to them, and the hooks over them (defined in
    _roundrobin.pyx). Subclasses own the kernel struct, which points at the same
    arrays (``_alloc`` keeps both in step)."""
    cdef object _w, _av, _ss, _o
    cdef double* _wp
    cdef uint8_t* _avp
    cdef double* _ssp
    cdef int64_t* _op
    cdef Py_ssize_t _cap
    cdef _alloc_common(self, Py_ssize_t cap)
    cdef dict _common_getstate(self)           # pickling: the per-slot arrays
    cdef _common_setstate(self, dict st)       # ... restored (subclass struct via _alloc)
    cdef _alloc(self, Py_ssize_t cap)
    cdef _set_n_slots(self, int32_t n)
    cdef _init_common(self, targets, weights, bint weights_required, slow_start_seconds)
