# cython: language_level=3
"""Weighted random (Vose alias method) with ALB-style slow start (see _alias.pxd)."""
cimport cython
from lbcore._handle import make_handle
from libc.stdint cimport int32_t, uint8_t, uint64_t, uintptr_t
from libc.stdlib cimport malloc, free

import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_uniform, lb_rng_bounded
from lbcore._roundrobin cimport lb_roundrobin_ramp, WeightedTargets
from lbcore._check cimport check_weight_array, check_count, check_seed


cdef int lb_alias_build(int32_t n, const double* weight, double* prob,
                        int32_t* alias) noexcept nogil:
    cdef int32_t i, l, g, ns = 0, nl = 0, first = -1
    cdef double total = 0.0
    for i in range(n):
        total += weight[i]
        if first < 0 and weight[i] > 0.0:
            first = i
    if n <= 0 or not total > 0.0:
        return -1
    cdef int32_t* small = <int32_t*>malloc(2 * <size_t>n * sizeof(int32_t))
    if small == NULL:
        return -1
    cdef int32_t* large = small + n
    for i in range(n):
        prob[i] = (weight[i] / total) * n    # scaled so the mean column is 1
        alias[i] = i
        if prob[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        l = small[ns]
        g = large[nl - 1]
        alias[l] = g                         # column l: keep l w.p. prob[l], else g
        prob[g] = (prob[g] + prob[l]) - 1.0  # g gave 1 - prob[l] of its mass to column l
        if prob[g] < 1.0:
            nl -= 1
            small[ns] = g
            ns += 1
    # Leftovers are 1 up to rounding: they keep their own column, except a
    # zero-weight leftover (only reachable through rounding), which must never win.
    while nl > 0:
        nl -= 1
        prob[large[nl]] = 1.0
    while ns > 0:
        ns -= 1
        l = small[ns]
        if weight[l] > 0.0:
            prob[l] = 1.0
            alias[l] = l
        else:
            prob[l] = 0.0
            alias[l] = first
    free(small)
    return 0


cdef int32_t lb_alias_sample(int32_t n, const double* prob, const int32_t* alias,
                             lb_rng* rng) noexcept nogil:
    cdef int32_t j = <int32_t>lb_rng_bounded(rng, <uint64_t>n)
    if lb_rng_uniform(rng) < prob[j]:
        return j
    return alias[j]


cdef int32_t _exact_scan(lb_alias* s, double now) noexcept nogil:
    """O(n) exact pick from weight * ramp(now) (ramps ignored if they sum to 0)."""
    cdef int32_t i, last = -1
    cdef double total = 0.0, u, e
    for i in range(s.n_slots):
        if s.avail[i]:
            total += s.weight[i] * lb_roundrobin_ramp(now, s.ss_start[i], s.slow_start)
    if not total > 0.0:
        return lb_alias_sample(s.table_n, s.prob, s.alias, &s.rng)
    u = lb_rng_uniform(&s.rng) * total
    for i in range(s.n_slots):
        if s.avail[i]:
            e = s.weight[i] * lb_roundrobin_ramp(now, s.ss_start[i], s.slow_start)
            if e > 0.0:
                last = i
                if u < e:
                    return i
                u -= e
    return last                              # rounding at the very end of the scan


cdef int32_t lb_alias_pick(lb_alias* s, double now) noexcept nogil:
    if not s.total > 0.0:
        return -1
    cdef int32_t j, tries
    cdef double r
    if s.slow_start <= 0.0:
        return lb_alias_sample(s.table_n, s.prob, s.alias, &s.rng)
    for tries in range(LB_ALIAS_MAX_TRIES):
        j = lb_alias_sample(s.table_n, s.prob, s.alias, &s.rng)
        r = lb_roundrobin_ramp(now, s.ss_start[j], s.slow_start)
        if r >= 1.0:
            return j
        if r > 0.0 and lb_rng_uniform(&s.rng) < r:
            return j
    return _exact_scan(s, now)


cdef void lb_alias_pick_many(lb_alias* s, size_t n, double now, int32_t* out) noexcept nogil:
    cdef size_t k
    for k in range(n):
        out[k] = lb_alias_pick(s, now)


cdef inline void* _addr(object arr):
    return <void*><uintptr_t>arr.ctypes.data


def alias_table(weights):
    """The Vose alias table of ``weights`` → (prob float64, alias int32)."""
    w = check_weight_array(weights, -1, False, True, "weights")
    n = w.shape[0]
    if n == 0:
        raise ValueError("weights must not be empty")
    prob = np.empty(n, dtype=np.float64)
    alias = np.empty(n, dtype=np.int32)
    if lb_alias_build(<int32_t>n, <double*>_addr(w), <double*>_addr(prob),
                      <int32_t*>_addr(alias)) != 0:
        raise MemoryError("alias table allocation failed")
    return prob, alias


@cython.embedsignature(False)
cdef class WeightedRandom(WeightedTargets):
    """WeightedRandom(targets, weights, *, seed=0, slow_start_seconds=0)
--

Weighted random choice, P(target) = weight / sum of available weights,
    by Vose's alias method: O(1) per pick, O(N) per add/remove/availability
    change (the table is rebuilt; ``sync_available`` rebuilds once for many
    changes). Every draw comes from the object's xoshiro256** generator seeded
    by ``seed``.

    ``weights``: non-negative numbers, not all zero. ``slow_start_seconds``:
    as for RoundRobin; honoured exactly by rejection (see _alias.pxd). The
    RequestSelector protocol: ``pick(now)`` counts the request until ``release``.
    """
    cdef lb_alias* s
    cdef object _st, _p, _a, _eff

    def __cinit__(self, *args, **kwargs):
        # a valid empty state before __init__ (see _lor._OutstandingBase)
        self._st = np.zeros(sizeof(lb_alias), dtype=np.uint8)
        self.s = <lb_alias*>_addr(self._st)

    def __init__(self, targets, weights, *, seed=0, slow_start_seconds=0):
        cdef uint64_t sd
        self._init_common(targets, weights, True, slow_start_seconds)
        sd = check_seed(seed, "seed")
        self.s.slow_start = self._slow_start
        lb_rng_seed(&self.s.rng, sd)
        self._rebuild()

    cdef _alloc(self, Py_ssize_t cap):
        self._alloc_common(cap)
        self.s.weight = self._wp
        self.s.ss_start = self._ssp
        self.s.avail = self._avp
        self.s.capacity = <int32_t>cap

    cdef _set_n_slots(self, int32_t n):
        self.s.n_slots = n

    cdef int _k_changed(self) except -1:
        self._rebuild()
        return 0

    cdef object _k_getstate(self):
        st = self._common_getstate()
        st["rng"] = tuple(int(self.s.rng.s[j]) for j in range(4))
        return st

    cdef int _k_setstate(self, object st) except -1:
        if not isinstance(st, dict):
            raise TypeError("WeightedRandom state must be a dict")
        self._common_setstate(st)
        self.s.slow_start = self._slow_start
        rng = st["rng"]
        if len(rng) != 4:
            raise ValueError("WeightedRandom state: invalid generator state")
        cdef int j
        for j in range(4):
            self.s.rng.s[j] = rng[j]
        self._rebuild()             # the alias table is a function of weights and availability
        return 0

    cdef _rebuild(self):
        """New alias table over the available weights; swapped in after it is built."""
        n = self.s.n_slots
        eff = np.ascontiguousarray(self._w[:n] * self._av[:n])
        total = float(eff.sum())
        prob = np.zeros(max(n, 1), dtype=np.float64)
        alias = np.zeros(max(n, 1), dtype=np.int32)
        if total > 0.0:
            if lb_alias_build(<int32_t>n, <double*>_addr(eff), <double*>_addr(prob),
                              <int32_t*>_addr(alias)) != 0:
                raise MemoryError("alias table allocation failed")
        cdef double* pp = <double*>_addr(prob)
        cdef int32_t* ap = <int32_t*>_addr(alias)
        cdef int32_t tn = prob.shape[0]
        cdef double tot = total
        self._p, self._a, self._eff = prob, alias, eff
        # No Python code runs between these C assignments, so a pick_many
        # snapshot (taken under the GIL) sees a table and its length together.
        self.s.prob = pp
        self.s.alias = ap
        self.s.table_n = tn
        self.s.total = tot

    cdef int32_t _k_pick(self, double now) noexcept:
        cdef int32_t i = lb_alias_pick(self.s, now)
        if i >= 0:
            self._op[i] += 1
        return i

    def pick_many(self, n, now=None):
        """``n`` independent picks at time ``now`` → int32 index array (-1 = none).
        A batch for simulation: these picks are not counted as outstanding."""
        cdef size_t k = check_count(n, "n")
        cdef double t = self._now(now)
        out = np.empty(k, dtype=np.int32)
        cdef int32_t* o = <int32_t*>_addr(out)
        # Run on a snapshot of the struct (table pointers + size + generator)
        # while holding references to its arrays: a concurrent rebuild cannot
        # free or resize them under the nogil loop. The generator advances as if
        # the picks had been made one by one.
        cdef lb_alias local = self.s[0]
        keep = (self._w, self._p, self._a, self._ss, self._av)
        if k:
            with nogil:
                lb_alias_pick_many(&local, k, t, o)
        self.s.rng = local.rng
        del keep
        return out

    def probabilities(self, now=None):
        """Exact pick probability of every index at ``now`` (float64, length n_slots)."""
        cdef double t = self._now(now)
        n = self.s.n_slots
        eff = np.array([self._w[i] * self._av[i] *
                        lb_roundrobin_ramp(t, self._ss[i], self.s.slow_start)
                        for i in range(n)], dtype=np.float64)
        if not eff.sum() > 0:
            eff = self._w[:n] * self._av[:n]
        tot = eff.sum()
        return eff / tot if tot > 0 else eff

    def _state(self):
        """uint8 array holding the ``lb_alias`` struct (``._state().ctypes`` for numba).
        Availability changes and add/remove swap in new table arrays (the struct's
        pointers are updated in place)."""
        return self._st

    @property
    def ctypes(self):
        """The selector's C interface (a ``KernelHandle``): ``state`` is the uint8 array
        holding the ``lb_alias`` struct (pass ``state.ctypes`` to
        ``lbcore.numba.alias_pick*``), ``address`` the ``lb_alias*``."""
        return make_handle(<size_t>self._st.ctypes.data, self._st, "lb_alias", {
            "lb_alias_pick": <size_t>&lb_alias_pick,
            "lb_alias_pick_many": <size_t>&lb_alias_pick_many})

    def _state_arrays(self):
        n = self.s.n_slots
        return {"weight": self._w[:n], "prob": self._p[:n], "alias": self._a[:n],
                "ss_start": self._ss[:n], "avail": self._av[:n],
                "rng": np.array([self.s.rng.s[j] for j in range(4)], dtype=np.uint64)}
