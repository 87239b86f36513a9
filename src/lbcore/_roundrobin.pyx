# cython: language_level=3
"""Smooth weighted round robin with ALB-style slow start (see _roundrobin.pxd)."""
cimport cython
from lbcore._handle import make_handle
from libc.stdint cimport int32_t, uint8_t, uintptr_t
from libc.math cimport INFINITY

import numpy as np

from lbcore._request_common import (check_targets, check_weight_array, check_weight,
                                    check_slow_start, check_now, check_count, check_bool,
                                    slow_start_entry, check_total, TargetMap, FREE)


cdef int32_t lb_roundrobin_pick(lb_roundrobin* s, double now) noexcept nogil:
    cdef int32_t i, best = -1
    cdef double e, total = 0.0, dur = s.slow_start
    cdef double* w = s.weight
    cdef double* cur = s.current
    cdef uint8_t* av = s.avail
    for i in range(s.n_slots):
        if av[i] == 0:
            continue
        e = w[i]
        if dur > 0.0:
            e = e * lb_roundrobin_ramp(now, s.ss_start[i], dur)
        if e <= 0.0:
            continue
        cur[i] += e
        total += e
        if best < 0 or cur[i] > cur[best]:
            best = i
    if best < 0 and dur > 0.0:
        # Every available target is at the very start of its ramp: ignore slow
        # start rather than refuse the request.
        for i in range(s.n_slots):
            if av[i] == 0 or w[i] <= 0.0:
                continue
            cur[i] += w[i]
            total += w[i]
            if best < 0 or cur[i] > cur[best]:
                best = i
    if best >= 0:
        cur[best] -= total
    return best


cdef void lb_roundrobin_pick_many(lb_roundrobin* s, size_t n, double now, int32_t* out) noexcept nogil:
    cdef size_t k
    for k in range(n):
        out[k] = lb_roundrobin_pick(s, now)


cdef inline void* _addr(object arr):
    return <void*><uintptr_t>arr.ctypes.data


cdef class _WeightedTargets:
    """Base of RoundRobin and lbcore._alias.WeightedRandom: the target map and the
    queries over it (index, target_at, targets, targets_array, weight,
    is_available, len, in). Subclasses own the kernel state; none of this is on
    the per-pick path (``_targets`` is a C-level attribute either way)."""

    def __cinit__(self, *args, **kwargs):
        self._set_targets([])

    cdef _set_targets(self, list targets):
        self._map = TargetMap(targets)
        self._targets = self._map.targets

    def index(self, target):
        """The dense index of ``target`` (what ``pick_index`` / ``pick_many`` return)."""
        return self._map.lookup(target, "index")

    def target_at(self, index):
        """The target at dense ``index``."""
        return self._targets[self._map.check_index(index)]

    @property
    def targets(self):
        """The registered targets, in index order."""
        return self._map.live()

    def targets_array(self):
        """Object array, index -> target (None for free slots): ``arr[pick_many(n)]``."""
        out = np.empty(len(self._targets), dtype=object)
        out[:] = [None if t is FREE else t for t in self._targets]
        return out

    def weight(self, target):
        """``target``'s configured weight."""
        return float(self._w[self._map.lookup(target, "weight")])

    def is_available(self, target):
        """Whether ``target`` may be picked (registered and available)."""
        return bool(self._av[self._map.lookup(target, "is_available")])

    def __len__(self):
        return len(self._map.index)

    def __contains__(self, target):
        return target in self._map.index


@cython.embedsignature(False)
cdef class RoundRobin(_WeightedTargets):
    """RoundRobin(targets, *, weights=None, slow_start_seconds=0)
--

Smooth weighted round robin (nginx): picks interleave in proportion to
    the weights instead of bursting (weights {a: 5, b: 1, c: 1} give
    a a b a c a a). Deterministic (no seed); ties go to the lowest index.

    ``weights``: non-negative numbers, not all zero (default all 1).
    ``slow_start_seconds``: ALB ``slow_start.duration_seconds`` (0 = off, else
    30-900): a target that is added, or turns healthy again, while another
    target is available ramps its weight linearly from 0 to full over that many
    seconds of the ``now`` you pass (required then).
    """
    cdef lb_roundrobin* s
    cdef object _st, _c, _ss

    def __cinit__(self, *args, **kwargs):
        # a valid empty state before __init__ (see _lor._OutstandingBase)
        self._st = np.zeros(sizeof(lb_roundrobin), dtype=np.uint8)
        self.s = <lb_roundrobin*>_addr(self._st)

    def __init__(self, targets, *, weights=None, slow_start_seconds=0):
        ts = check_targets(targets)
        n = len(ts)
        if weights is None:
            w = np.ones(n, dtype=np.float64)
        else:
            w = check_weight_array(weights, n, integer=False, allow_zero=True)
        dur = check_slow_start(slow_start_seconds)
        self.s.n_slots = 0
        self._w = None
        self.s.slow_start = dur
        self._alloc(max(n, 4))
        self._w[:n] = w
        self._av[:n] = 1
        self.s.n_slots = n
        self._set_targets(ts)

    cdef _alloc(self, Py_ssize_t cap):
        cdef Py_ssize_t old = 0 if self._w is None else self._w.shape[0]
        w = np.zeros(cap, dtype=np.float64)
        c = np.zeros(cap, dtype=np.float64)
        ss = np.full(cap, -np.inf, dtype=np.float64)
        av = np.zeros(cap, dtype=np.uint8)
        if old:
            w[:old] = self._w
            c[:old] = self._c
            ss[:old] = self._ss
            av[:old] = self._av
        self._w, self._c, self._ss, self._av = w, c, ss, av
        self.s.weight = <double*>_addr(w)
        self.s.current = <double*>_addr(c)
        self.s.ss_start = <double*>_addr(ss)
        self.s.avail = <uint8_t*>_addr(av)
        self.s.capacity = <int32_t>cap

    cdef double _now(self, now) except? -1.0:
        if now is None and self.s.slow_start == 0.0:
            return 0.0
        return check_now(now, self.s.slow_start)

    def pick(self, now=None):
        """The next target (LookupError if none is available)."""
        cdef int32_t i = lb_roundrobin_pick(self.s, self._now(now))
        if i < 0:
            raise LookupError("pick: no available target")
        return self._targets[i]

    def pick_index(self, now=None):
        """``pick`` returning the dense index (-1 if none is available)."""
        return lb_roundrobin_pick(self.s, self._now(now))

    def pick_many(self, n, now=None):
        """``n`` picks at time ``now`` → int32 array of indices (-1 = none
        available); map with ``target_at`` / ``targets_array``."""
        cdef size_t k = check_count(n)
        cdef double t = self._now(now)
        out = np.empty(k, dtype=np.int32)
        cdef int32_t* o = <int32_t*>_addr(out)
        # Run on a snapshot of the struct while holding references to the arrays
        # it points at: a concurrent add() that swaps arrays cannot free them
        # under the nogil loop (its picks may then be lost, never a crash).
        cdef lb_roundrobin local = self.s[0]
        keep = (self._w, self._c, self._ss, self._av)
        if k:
            with nogil:
                lb_roundrobin_pick_many(&local, k, t, o)
        del keep
        return out

    # -- membership and health ---------------------------------------------
    def set_available(self, target, available, *, now=None):
        """Unhealthy targets are skipped. Turning unhealthy leaves slow start;
        turning healthy again re-enters it (needs ``now`` when slow start is on)."""
        cdef int32_t i = self._map.lookup(target, "set_available")
        check_bool(available, "available")
        if available:
            if self._av[i]:
                return
            t = self._now(now)
            self._c[i] = 0.0
            self._av[i] = 1
            slow_start_entry(self._av, self._ss, i, t, self.s.slow_start)
        else:
            self._av[i] = 0
            self._ss[i] = -np.inf
            self._c[i] = 0.0

    def add(self, target, weight=1, *, now=None):
        """Register a healthy target; it enters slow start if another target is available."""
        w = check_weight(weight, integer=False, allow_zero=True)
        check_total(self._w, w)
        t = self._now(now)
        i, grew = self._map.add(target)
        if grew:
            if i >= self.s.capacity:
                self._alloc(2 * self.s.capacity)
            self.s.n_slots = i + 1
        self._w[i] = w
        self._c[i] = 0.0
        self._av[i] = 1
        slow_start_entry(self._av, self._ss, i, t, self.s.slow_start)
        return i

    def remove(self, target):
        cdef int32_t i = self._map.remove(target)
        self._w[i] = 0.0
        self._c[i] = 0.0
        self._av[i] = 0
        self._ss[i] = -np.inf

    # -- queries (index, target_at, targets, weight, ... : _WeightedTargets) -----

    def effective_weight(self, target, now):
        """``weight * ramp(now)`` (0 when unavailable)."""
        i = self._map.lookup(target, "effective_weight")
        if not self._av[i]:
            return 0.0
        t = check_now(now, 1.0)
        return float(self._w[i]) * lb_roundrobin_ramp(t, self._ss[i], self.s.slow_start)

    def in_slow_start(self, target, now):
        """Whether ``target`` is still ramping at ``now``."""
        i = self._map.lookup(target, "in_slow_start")
        t = check_now(now, 1.0)
        return bool(self._av[i]) and lb_roundrobin_ramp(t, self._ss[i], self.s.slow_start) < 1.0

    def _state(self):
        """uint8 array holding the ``lb_roundrobin`` struct (``._state().ctypes`` for numba)."""
        return self._st

    @property
    def ctypes(self):
        """The selector's C interface (a ``KernelHandle``): ``state`` is the uint8 array
        holding the ``lb_roundrobin`` struct (pass ``state.ctypes`` to
        ``lbcore.numba.roundrobin_*``), ``address`` the ``lb_roundrobin*``."""
        return make_handle(<size_t>self._st.ctypes.data, self._st, "lb_roundrobin", {
            "lb_roundrobin_pick": <size_t>&lb_roundrobin_pick,
            "lb_roundrobin_pick_many": <size_t>&lb_roundrobin_pick_many})

    def _state_arrays(self):
        n = self.s.n_slots
        return {"weight": self._w[:n], "current": self._c[:n], "ss_start": self._ss[:n],
                "avail": self._av[:n]}
