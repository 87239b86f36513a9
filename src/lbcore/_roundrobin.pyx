# cython: language_level=3
"""Smooth weighted round robin with ALB-style slow start (see _roundrobin.pxd)."""
cimport cython
from lbcore._handle import make_handle
from libc.stdint cimport int32_t, int64_t, uint8_t, uintptr_t
from libc.math cimport INFINITY, floor, signbit

import numpy as np

from lbcore._check cimport (check_now, check_targets, check_weight_array, check_weight,
                            check_slow_start, check_count, check_total)
from lbcore._request_selector cimport RequestSelector
from lbcore._lock cimport lb_lock_acquire, lb_lock_release


cdef double _CYC_MAX = 4503599627370496.0     # 2**52: integers below are exact doubles


cdef void _rr_sync(lb_roundrobin* s) noexcept nogil:
    """Write the cycle form's values into ``current`` (no-op when cyc_on is 0)."""
    cdef int32_t j
    cdef double lo
    if not s.cyc_on:
        return
    lo = s.cyc_c - s.cyc_total
    for j in range(s.cyc_m):
        s.current[s.cyc_order[j]] = lo if j < s.cyc_k else s.cyc_c


cdef int _rr_try_cycle(lb_roundrobin* s) noexcept nogil:
    """Enter the cycle form if the state has its shape (O(N)); returns cyc_on.
    The cycle form applies when every active target has weight w (integral),
    effective weight w (slow start off, or not ramping: ss_start = -inf) and the
    current values, in index order, are some hi - m*w followed by hi (all integral,
    no -0.0, magnitudes < 2**51)."""
    cdef int32_t i, m = 0, k = 0
    cdef double w = 0.0, hi = 0.0, lo = 0.0, v, total
    cdef bint seen_hi = False
    s.cyc_on = 0
    s.cyc_dirty = 0
    if s.cyc_order == NULL:
        return 0
    for i in range(s.n_slots):
        if s.avail[i] == 0 or not s.weight[i] > 0.0:
            continue
        if s.slow_start > 0.0 and s.ss_start[i] != -INFINITY:
            return 0
        if m == 0:
            w = s.weight[i]
            if w != floor(w) or w > _CYC_MAX:
                return 0
        elif s.weight[i] != w:
            return 0
        v = s.current[i]
        if v != floor(v) or not -0.5 * _CYC_MAX < v < 0.5 * _CYC_MAX or \
                (v == 0.0 and signbit(v)):
            return 0
        s.cyc_order[m] = i
        m += 1
    if m == 0:
        return 0
    total = <double>m * w
    if total > 0.25 * _CYC_MAX:
        return 0
    # hi = the largest value; lo = hi - total; a prefix of lo, then only hi
    hi = s.current[s.cyc_order[m - 1]]
    lo = hi - total
    for i in range(m):
        v = s.current[s.cyc_order[i]]
        if v == hi:
            seen_hi = True
        elif v == lo and not seen_hi:
            k += 1
        else:
            return 0
    s.cyc_m = m
    s.cyc_k = k
    s.cyc_w = w
    s.cyc_c = hi
    s.cyc_total = total
    s.cyc_on = 1
    return 1


cdef inline int32_t _cycle_pick(lb_roundrobin* s) noexcept nogil:
    # every active current += w; the first largest (order[k], or order[0] once all
    # are equal) is picked and lowered by the total
    if s.cyc_k == s.cyc_m:
        s.cyc_c -= s.cyc_total
        s.cyc_k = 0
    s.cyc_c += s.cyc_w
    s.cyc_k += 1
    return s.cyc_order[s.cyc_k - 1]


cdef int32_t lb_roundrobin_pick(lb_roundrobin* s, double now) noexcept nogil:
    if s.cyc_on or (s.cyc_dirty and _rr_try_cycle(s)):
        return _cycle_pick(s)
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


cdef class WeightedTargets(RequestSelector):
    """Base of RoundRobin and lbcore._alias.WeightedRandom (see _roundrobin.pxd):
    float weights, availability, slow start entry and outstanding counts per slot,
    under the RequestSelector protocol."""

    cdef _init_common(self, targets, weights, bint weights_required, slow_start_seconds):
        ts = check_targets(targets, "targets")
        n = len(ts)
        if weights is None and not weights_required:
            w = np.ones(n, dtype=np.float64)
        else:
            w = check_weight_array(weights, n, False, True, "weights")
        self._slow_start = check_slow_start(slow_start_seconds, "slow_start_seconds")
        self._w = None
        self._set_n_slots(0)
        self._alloc(max(n, 4))
        self._w[:n] = w
        self._av[:n] = 1
        self._set_n_slots(n)
        self._set_targets(ts)

    cdef _alloc_common(self, Py_ssize_t cap):
        cdef Py_ssize_t old = 0 if self._w is None else self._w.shape[0]
        w = np.zeros(cap, dtype=np.float64)
        ss = np.full(cap, -np.inf, dtype=np.float64)
        av = np.zeros(cap, dtype=np.uint8)
        o = np.zeros(cap, dtype=np.int64)
        if old:
            w[:old] = self._w
            ss[:old] = self._ss
            av[:old] = self._av
            o[:old] = self._o
        self._w, self._ss, self._av, self._o = w, ss, av, o
        self._wp = <double*>_addr(w)
        self._ssp = <double*>_addr(ss)
        self._avp = <uint8_t*>_addr(av)
        self._op = <int64_t*>_addr(o)
        self._cap = cap

    cdef _alloc(self, Py_ssize_t cap):
        self._alloc_common(cap)

    cdef dict _common_getstate(self):
        if self._w is None:
            return {"capacity": 0}
        return {"capacity": int(self._cap), "weight": self._w.copy(), "ss_start": self._ss.copy(),
                "avail": self._av.copy(), "outstanding": self._o.copy()}

    cdef _common_setstate(self, dict st):
        cap = int(st["capacity"])
        if not 0 <= cap <= 2**31 - 1 or self._n_slots > cap or (cap == 0 and self._n_slots):
            raise ValueError(f"{self._name} state: inconsistent sizes")
        if cap == 0:
            return
        arrays = {k: np.asarray(st[k], dtype=d) for k, d in
                  (("weight", np.float64), ("ss_start", np.float64), ("avail", np.uint8),
                   ("outstanding", np.int64))}
        if any(a.shape != (cap,) for a in arrays.values()):
            raise ValueError(f"{self._name} state: arrays do not match the capacity")
        w = arrays["weight"]
        if not (np.isfinite(w).all() and (w >= 0).all() and (arrays["outstanding"] >= 0).all()):
            raise ValueError(f"{self._name} state: invalid weights or counts")
        self._w = None
        self._alloc(cap)
        self._w[:] = w
        self._ss[:] = arrays["ss_start"]
        self._av[:] = arrays["avail"] != 0
        self._o[:] = arrays["outstanding"]
        self._set_n_slots(self._n_slots)

    cdef _set_n_slots(self, int32_t n):
        pass

    # -- RequestSelector hooks (valid slots only) -----------------------------------
    cdef int _k_acquire_at(self, int32_t i, double now) except -1:
        self._op[i] += 1
        return 0

    cdef int _k_release(self, int32_t i) except -1:
        if self._op[i] <= 0:
            return 1
        self._op[i] -= 1
        return 0

    cdef int64_t _k_outstanding(self, int32_t i) noexcept:
        return self._op[i]

    cdef bint _k_available(self, int32_t i) noexcept:
        return self._avp[i] != 0

    cdef int _k_set_available(self, int32_t i, bint available, double now) except -1:
        """Becoming available enters slow start at ``now`` when slow start is on and
        another target is available (AWS: targets registered into a group with no
        healthy target serve their full share at once); becoming unavailable leaves it."""
        cdef int32_t j
        cdef bint others = False
        if available:
            if self._avp[i]:
                return 0
            self._avp[i] = 1
            if self._slow_start > 0.0:
                for j in range(self._n_slots):
                    if j != i and self._avp[j]:
                        others = True
                        break
            self._ssp[i] = now if others else -INFINITY
            return 1
        if not self._avp[i]:
            return 0
        self._avp[i] = 0
        self._ssp[i] = -INFINITY
        return 1

    cdef int _k_add(self, int32_t i, bint grew, object weight, bint available,
                    double now) except -1:
        if grew:
            if i >= self._cap:
                self._alloc(2 * self._cap)
            self._set_n_slots(i + 1)
        self._wp[i] = weight
        self._op[i] = 0
        self._avp[i] = 0
        self._ssp[i] = -INFINITY
        if available:
            self._k_set_available(i, True, now)
        return 0

    cdef int _k_remove(self, int32_t i) except -1:
        self._k_set_available(i, False, 0.0)
        self._wp[i] = 0.0
        self._op[i] = 0
        return 0

    cdef object _k_check_weight(self, object weight):
        w = check_weight(weight, "weight", False, True)
        check_total(self._w, w, "weight")
        return w

    cdef int _k_set_weight(self, int32_t i, object weight, double now) except -1:
        self._wp[i] = weight
        return 0

    cdef object _k_weight(self, int32_t i):
        return float(self._wp[i])

    # -- slow start queries ---------------------------------------------------------
    def effective_weight(self, target, now):
        """``weight * ramp(now)`` (0 when unavailable)."""
        cdef int32_t i = self._lookup(target, "effective_weight")
        cdef double t = check_now(now, "now")
        if not self._avp[i]:
            return 0.0
        return self._wp[i] * lb_roundrobin_ramp(t, self._ssp[i], self._slow_start)

    def in_slow_start(self, target, now):
        """Whether ``target`` is still ramping at ``now``."""
        cdef int32_t i = self._lookup(target, "in_slow_start")
        cdef double t = check_now(now, "now")
        return bool(self._avp[i]) and lb_roundrobin_ramp(t, self._ssp[i], self._slow_start) < 1.0


@cython.embedsignature(False)
cdef class RoundRobin(WeightedTargets):
    """RoundRobin(targets, *, weights=None, slow_start_seconds=0)
--

Smooth weighted round robin (nginx): picks interleave in proportion to
    the weights instead of bursting (weights {a: 5, b: 1, c: 1} give
    a a b a c a a). Deterministic (no seed); ties go to the lowest index.

    ``weights``: non-negative numbers, not all zero (default all 1).
    ``slow_start_seconds``: ALB ``slow_start.duration_seconds`` (0 = off, else
    30-900): a target that is added, or turns healthy again, while another
    target is available ramps its weight linearly from 0 to full over that many
    seconds of the ``now`` you pass. The RequestSelector protocol: ``pick(now)``
    counts the request until ``release``.
    """
    cdef lb_roundrobin* s
    cdef object _st, _c, _order

    def __cinit__(self, *args, **kwargs):
        # a valid empty state before __init__ (see _lor._OutstandingBase)
        self._st = np.zeros(sizeof(lb_roundrobin), dtype=np.uint8)
        self.s = <lb_roundrobin*>_addr(self._st)

    def __init__(self, targets, *, weights=None, slow_start_seconds=0):
        self._init_common(targets, weights, False, slow_start_seconds)
        self.s.slow_start = self._slow_start
        _rr_try_cycle(self.s)

    cdef _leave_cycle(self):
        """Before a change to weights, availability or membership: ``current`` made
        explicit again and the cycle form off (``_k_changed`` looks for it again)."""
        _rr_sync(self.s)
        self.s.cyc_on = 0
        self.s.cyc_dirty = 0

    cdef _alloc(self, Py_ssize_t cap):
        cdef Py_ssize_t old = 0 if self._c is None else self._c.shape[0]
        if self._w is None:
            old = 0
        self._leave_cycle()
        self._alloc_common(cap)
        c = np.zeros(cap, dtype=np.float64)
        if old:
            c[:old] = self._c
        self._c = c
        self._order = np.zeros(cap, dtype=np.int32)
        self.s.cyc_order = <int32_t*>_addr(self._order)
        self.s.weight = self._wp
        self.s.current = <double*>_addr(c)
        self.s.ss_start = self._ssp
        self.s.avail = self._avp
        self.s.capacity = <int32_t>cap

    cdef _set_n_slots(self, int32_t n):
        self.s.n_slots = n

    cdef object _k_getstate(self):
        _rr_sync(self.s)
        st = self._common_getstate()
        if st["capacity"]:
            st["current"] = self._c.copy()
        return st

    cdef int _k_setstate(self, object st) except -1:
        if not isinstance(st, dict):
            raise TypeError("RoundRobin state must be a dict")
        self._common_setstate(st)
        self.s.slow_start = self._slow_start
        if st["capacity"]:
            c = np.asarray(st["current"], dtype=np.float64)
            if c.shape != self._c.shape or not np.isfinite(c).all():
                raise ValueError("RoundRobin state: invalid current weights")
            self._c[:] = c
        _rr_try_cycle(self.s)
        return 0

    cdef int32_t _k_pick(self, double now) noexcept:
        cdef int32_t i = lb_roundrobin_pick(self.s, now)
        if i >= 0:
            self._op[i] += 1
        return i

    cdef int _k_changed(self) except -1:
        self.s.cyc_dirty = 1        # the next pick looks for the cycle form
        return 0

    cdef int _k_set_available(self, int32_t i, bint available, double now) except -1:
        # a target made unavailable, or available again, restarts from current = 0
        if (self._avp[i] != 0) == available:
            return 0
        self._leave_cycle()
        cdef int r = WeightedTargets._k_set_available(self, i, available, now)
        if r:
            self.s.current[i] = 0.0
        return r

    cdef int _k_add(self, int32_t i, bint grew, object weight, bint available,
                    double now) except -1:
        self._leave_cycle()
        WeightedTargets._k_add(self, i, grew, weight, available, now)
        self.s.current[i] = 0.0
        return 0

    cdef int _k_remove(self, int32_t i) except -1:
        self._leave_cycle()
        WeightedTargets._k_remove(self, i)
        self.s.current[i] = 0.0
        return 0

    cdef int _k_set_weight(self, int32_t i, object weight, double now) except -1:
        self._leave_cycle()
        return WeightedTargets._k_set_weight(self, i, weight, now)

    def pick_many(self, n, now=None):
        """``n`` picks at time ``now`` → int32 array of indices (-1 = none
        available); map with ``target_at`` / ``targets_array``. A batch for
        simulation: these picks are not counted as outstanding. Holds the
        selector's lock (the thread rule), so no add() swaps arrays under the loop."""
        cdef size_t k = check_count(n, "n")
        cdef double t = self._now(now)
        out = np.empty(k, dtype=np.int32)
        cdef int32_t* o = <int32_t*>_addr(out)
        lb_lock_acquire(&self._lock)
        try:
            if k:
                with nogil:
                    lb_roundrobin_pick_many(self.s, k, t, o)
        finally:
            lb_lock_release(&self._lock)
        return out

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
        if self.s.cyc_dirty:            # what the next pick would find (values unchanged)
            _rr_try_cycle(self.s)
        _rr_sync(self.s)
        n = self.s.n_slots
        return {"weight": self._w[:n], "current": self._c[:n], "ss_start": self._ss[:n],
                "avail": self._av[:n], "cycle": bool(self.s.cyc_on)}
