# cython: language_level=3
"""The one base of the request-level selectors (LeastOutstanding, PowerOfTwoChoices,
RoundRobin, WeightedRandom): one target map (identity -> dense int32 index, free
slots reused LIFO), one method set, one ``now`` rule (see docs/request-selection.md).

A subclass owns its kernel state and implements the ``_k_*`` hooks below (C-level
virtual methods: one indirect call, no Python in between); everything a caller sees
is implemented once in _request_selector.pyx.
"""
cimport cython
from libc.stdint cimport int32_t, int64_t
from lbcore._lock cimport lb_lock

cdef class RequestSelector:
    cdef dict _index            # target -> dense index
    cdef list _targets          # dense index -> target (_FREE for a free slot)
    cdef list _free             # free index slots, reused LIFO
    cdef int32_t _n_slots       # valid indices are [0, _n_slots)
    cdef double _slow_start     # slow start seconds (0: off; then `now` is only validated)
    cdef str _name
    # The thread rule: every public call holds it (picks, releases, membership and
    # re-__init__), so the target map and the kernel state change as one step.
    cdef lb_lock _lock

    # -- kernel hooks (every subclass) ----------------------------------------
    # One pick at `now`, counted as outstanding; -1 when no target is available.
    cdef int32_t _k_pick(self, double now) noexcept
    # Count a request on slot i chosen elsewhere (stickiness). i is a valid slot.
    cdef int _k_acquire_at(self, int32_t i, double now) except -1
    # End one request on slot i: 0 ok, 1 nothing outstanding. i is a valid slot.
    cdef int _k_release(self, int32_t i) except -1
    cdef int64_t _k_outstanding(self, int32_t i) noexcept
    cdef bint _k_available(self, int32_t i) noexcept
    # Make slot i available or not: 1 when it changed, 0 when it already was.
    cdef int _k_set_available(self, int32_t i, bint available, double now) except -1
    # Called once after one or more availability / weight / membership changes.
    cdef int _k_changed(self) except -1
    # Slot i (new when `grew`, else a reused free slot) gets `weight` (validated by
    # _k_check_weight) and availability `available`.
    cdef int _k_add(self, int32_t i, bint grew, object weight, bint available,
                    double now) except -1
    cdef int _k_remove(self, int32_t i) except -1
    cdef object _k_check_weight(self, object weight)
    cdef int _k_set_weight(self, int32_t i, object weight, double now) except -1
    cdef object _k_weight(self, int32_t i)
    # Pickling: the kernel state as plain Python values (numpy arrays, ints, bytes),
    # and its restore into an object fresh from __cinit__ whose target map is already
    # restored. The base refuses (TypeError) for a subclass that does not implement them.
    cdef object _k_getstate(self)
    cdef int _k_setstate(self, object state) except -1

    # -- shared -----------------------------------------------------------------
    cdef double _now(self, object now) except? -1.0
    cdef _warn_no_now(self)
    cdef int32_t _lookup(self, object target, str what) except -1
    cdef int32_t _check_index(self, object index, str what) except -1
    cdef _set_targets(self, list targets)
