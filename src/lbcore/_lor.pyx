# cython: language_level=3
"""Least outstanding requests (indexed min-heap) and power of two choices.

Kernels are documented in _lor.pxd; the Python objects map arbitrary hashable
target identities to dense int32 indices and keep raw pointers to their numpy
state so the per-request path has no memoryview or numpy call in it.
"""
cimport cython
from lbcore._handle import make_handle
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint64_t, uintptr_t

import warnings

import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_bounded
from lbcore._check cimport (check_targets, check_weight_array, check_weight, check_seed,
                            reject_slow_start)
from lbcore._request_selector cimport RequestSelector
from lbcore._lock cimport lb_lock_acquire, lb_lock_release


# ---------------------------------------------------------------- kernels

cdef inline bint _less(const lb_lor_node* a, const lb_lor_node* b) noexcept nogil:
    return lb_lor_less(a.outstanding, a.weight, a.key, b.outstanding, b.weight, b.key)


cdef inline bint _less1(const lb_lor_node* a, const lb_lor_node* b) noexcept nogil:
    return lb_lor_less1(a.outstanding, a.key, b.outstanding, b.key)


cdef inline void _sift_up(lb_lor* s, int32_t p) noexcept nogil:
    cdef lb_lor_node* heap = s.heap
    cdef int32_t* pos = s.pos
    cdef lb_lor_node node = heap[p]
    cdef int32_t parent
    cdef bint weighted = s.weighted
    while p > 0:
        parent = (p - 1) >> 1
        if weighted:
            if not _less(&node, &heap[parent]):
                break
        elif not _less1(&node, &heap[parent]):
            break
        heap[p] = heap[parent]
        pos[heap[p].idx] = p
        p = parent
    heap[p] = node
    pos[node.idx] = p


cdef inline void _sift_down(lb_lor* s, int32_t p) noexcept nogil:
    cdef lb_lor_node* heap = s.heap
    cdef int32_t* pos = s.pos
    cdef int32_t n = s.size
    cdef lb_lor_node node = heap[p]
    cdef int32_t c
    if s.weighted:
        while True:
            c = 2 * p + 1
            if c >= n:
                break
            if c + 1 < n and _less(&heap[c + 1], &heap[c]):
                c += 1
            if not _less(&heap[c], &node):
                break
            heap[p] = heap[c]
            pos[heap[p].idx] = p
            p = c
    else:
        while True:
            c = 2 * p + 1
            if c >= n:
                break
            if c + 1 < n and _less1(&heap[c + 1], &heap[c]):
                c += 1
            if not _less1(&heap[c], &node):
                break
            heap[p] = heap[c]
            pos[heap[p].idx] = p
            p = c
    heap[p] = node
    pos[node.idx] = p


cdef int32_t lb_lor_acquire(lb_lor* s) noexcept nogil:
    if s.size <= 0:
        return -1
    cdef lb_lor_node* root = &s.heap[0]
    cdef int32_t i = root.idx
    s.outstanding[i] += 1
    root.outstanding += 1
    s.stamp += 1
    root.key = s.stamp
    _sift_down(s, 0)
    return i


cdef int32_t lb_lor_acquire_p2c(lb_lor* s) noexcept nogil:
    cdef int32_t n = s.size
    if n <= 0:
        return -1
    cdef int32_t x = 0, y
    if n > 1:
        # two distinct positions: x uniform in [0, n), y uniform over the others
        x = <int32_t>lb_rng_bounded(&s.rng, <uint64_t>n)
        y = <int32_t>lb_rng_bounded(&s.rng, <uint64_t>(n - 1))
        if y >= x:
            y += 1
        # y wins only if strictly less loaded: a tie goes to x, the first draw
        # (a fair coin, since (x, y) is a uniformly random ordered pair).
        if lb_lor_less(s.heap[y].outstanding, s.heap[y].weight, 0,
                       s.heap[x].outstanding, s.heap[x].weight, 0):
            x = y
    cdef lb_lor_node* node = &s.heap[x]
    node.outstanding += 1
    s.outstanding[node.idx] += 1
    return node.idx


cdef int lb_lor_acquire_at(lb_lor* s, int32_t i) noexcept nogil:
    if i < 0 or i >= s.n_slots or s.weight[i] == 0:
        return -2
    s.outstanding[i] += 1
    cdef int32_t p = s.pos[i]
    if p >= 0:
        s.heap[p].outstanding += 1
        if s.ordered:
            s.stamp += 1
            s.heap[p].key = s.stamp
            _sift_down(s, p)       # a larger load and a newer stamp only move it down
    return 0


cdef int lb_lor_release(lb_lor* s, int32_t i) noexcept nogil:
    if i < 0 or i >= s.n_slots or s.weight[i] == 0:
        return -2
    if s.outstanding[i] <= 0:
        return -1
    s.outstanding[i] -= 1
    cdef int32_t p = s.pos[i]
    if p >= 0:
        s.heap[p].outstanding -= 1
        if s.ordered:
            _sift_up(s, p)         # a smaller load only moves a target up
    return 0


cdef int lb_lor_set_available(lb_lor* s, int32_t i, int available) noexcept nogil:
    if i < 0 or i >= s.n_slots or s.weight[i] == 0:
        return -2
    cdef int32_t p = s.pos[i], moved
    if available:
        if p >= 0:
            return 0
        p = s.size
        s.size += 1
        s.heap[p].outstanding = s.outstanding[i]
        s.heap[p].weight = s.weight[i]
        s.heap[p].key = 0
        s.heap[p].idx = i
        s.heap[p]._pad = 0
        s.pos[i] = p
        if s.ordered:
            s.stamp += 1
            s.heap[p].key = s.stamp
            _sift_up(s, p)
        return 0
    if p < 0:
        return 0
    s.size -= 1
    s.pos[i] = -1
    if p != s.size:
        s.heap[p] = s.heap[s.size]
        moved = s.heap[p].idx
        s.pos[moved] = p
        if s.ordered:
            _sift_up(s, p)
            _sift_down(s, s.pos[moved])
    return 0


# ---------------------------------------------------------------- Python API

cdef inline void* _addr(object arr):
    return <void*><uintptr_t>arr.ctypes.data


cdef class _OutstandingBase(RequestSelector):
    """What LeastOutstanding and PowerOfTwoChoices share: the ``lb_lor`` state under
    the RequestSelector protocol (the target map and the methods are the base's)."""
    cdef lb_lor* s
    cdef object _st, _o, _w, _h, _p        # numpy arrays owning the state

    def __cinit__(self, *args, **kwargs):
        # A valid empty state before __init__ runs, so an object created with
        # __new__ alone (or whose __init__ raised) answers -1 / LookupError
        # instead of dereferencing NULL.
        self._st = np.zeros(sizeof(lb_lor), dtype=np.uint8)
        self.s = <lb_lor*>_addr(self._st)
        lb_rng_seed(&self.s.rng, 0)          # an all-zero generator state never moves

    def _init(self, targets, weights, seed, bint ordered, str name):
        ts = check_targets(targets, "targets")
        n = len(ts)
        if weights is None:
            w = np.ones(n, dtype=np.int64)
        else:
            w = check_weight_array(weights, n, True, False, "weights")
        cdef uint64_t sd = check_seed(seed, "seed")
        # a re-__init__ is a rebuild: no pick or release sees it half done
        lb_lock_acquire(&self._lock)
        try:
            self._init_locked(ts, w, sd, ordered, name)
        finally:
            lb_lock_release(&self._lock)

    cdef _init_locked(self, ts, w, uint64_t sd, bint ordered, str name):
        cdef Py_ssize_t n = len(ts)
        # validated: only now is the old state dropped (a failed re-__init__ keeps it,
        # and the struct never points at arrays no longer referenced)
        self._name = name
        self.s.size = 0
        self.s.n_slots = 0
        self._o = None
        self.s.stamp = 0
        self.s.ordered = ordered
        self.s.weighted = 0
        lb_rng_seed(&self.s.rng, sd)
        self._alloc(max(n, 4))
        self._set_targets(ts)
        cdef int32_t i
        for i in range(n):
            self._w[i] = w[i]
        self.s.weighted = bool(np.any(w != 1))
        self.s.n_slots = n
        # Targets become available in a seeded random order (Fisher-Yates from
        # the object's generator): for LeastOutstanding that order is the
        # initial turn order among equally loaded targets.
        order = list(range(n))
        cdef int32_t j
        for i in range(n - 1, 0, -1):
            j = <int32_t>lb_rng_bounded(&self.s.rng, <uint64_t>(i + 1))
            order[i], order[j] = order[j], order[i]
        for i in order:
            lb_lor_set_available(self.s, i, 1)

    cdef _alloc(self, Py_ssize_t cap):
        """(Re)allocate every per-target array with capacity ``cap``, keeping contents."""
        cdef Py_ssize_t old = 0 if self._o is None else self._o.shape[0]
        o = np.zeros(cap, dtype=np.int64)
        w = np.zeros(cap, dtype=np.int64)
        h = np.zeros(cap * sizeof(lb_lor_node), dtype=np.uint8)   # lb_lor_node[cap]
        p = np.full(cap, -1, dtype=np.int32)
        if old:
            o[:old] = self._o
            w[:old] = self._w
            h[:old * sizeof(lb_lor_node)] = self._h
            p[:old] = self._p
        self._o, self._w, self._h, self._p = o, w, h, p
        self.s.outstanding = <int64_t*>_addr(o)
        self.s.weight = <int64_t*>_addr(w)
        self.s.heap = <lb_lor_node*>_addr(h)
        self.s.pos = <int32_t*>_addr(p)
        self.s.capacity = <int32_t>cap

    # -- RequestSelector hooks (valid slots only; see _request_selector.pxd) ------
    cdef int _k_acquire_at(self, int32_t i, double now) except -1:
        lb_lor_acquire_at(self.s, i)
        return 0

    cdef int _k_release(self, int32_t i) except -1:
        return 0 if lb_lor_release(self.s, i) == 0 else 1

    cdef int64_t _k_outstanding(self, int32_t i) noexcept:
        return self.s.outstanding[i]

    cdef bint _k_available(self, int32_t i) noexcept:
        return self.s.pos[i] >= 0

    cdef int _k_set_available(self, int32_t i, bint available, double now) except -1:
        if (self.s.pos[i] >= 0) == available:
            return 0
        lb_lor_set_available(self.s, i, available)
        return 1

    cdef int _k_add(self, int32_t i, bint grew, object weight, bint available,
                    double now) except -1:
        cdef int64_t w = weight
        if grew:
            if i >= self.s.capacity:
                self._alloc(max(4, 2 * self.s.capacity))     # capacity 0 before __init__
            self.s.n_slots = i + 1
        self.s.outstanding[i] = 0
        self.s.weight[i] = w
        self.s.pos[i] = -1
        if w != 1:
            self.s.weighted = 1     # sticky: weighted comparisons from now on
        if available:
            lb_lor_set_available(self.s, i, 1)
        return 0

    cdef int _k_remove(self, int32_t i) except -1:
        lb_lor_set_available(self.s, i, 0)
        self.s.outstanding[i] = 0
        self.s.weight[i] = 0
        return 0

    cdef object _k_check_weight(self, object weight):
        return check_weight(weight, "weight", True, False)

    cdef object _k_getstate(self):
        cdef int32_t cap = self.s.capacity
        if self._o is None:
            cap = 0
        return {"capacity": int(cap), "size": int(self.s.size),
                "ordered": int(self.s.ordered), "weighted": int(self.s.weighted),
                "stamp": int(self.s.stamp), "rng": tuple(int(self.s.rng.s[j]) for j in range(4)),
                "outstanding": None if cap == 0 else self._o.copy(),
                "weight": None if cap == 0 else self._w.copy(),
                "heap": b"" if cap == 0 else self._h.tobytes(),
                "pos": None if cap == 0 else self._p.copy()}

    cdef int _k_setstate(self, object st) except -1:
        if not isinstance(st, dict):
            raise TypeError(f"{self._name} state must be a dict")
        cap = int(st["capacity"])
        if not 0 <= cap <= 2**31 - 1 or self._n_slots > cap or not 0 <= st["size"] <= self._n_slots:
            raise ValueError(f"{self._name} state: inconsistent sizes")
        if cap:
            o = np.asarray(st["outstanding"], dtype=np.int64)
            w = np.asarray(st["weight"], dtype=np.int64)
            p = np.asarray(st["pos"], dtype=np.int32)
            h = np.frombuffer(st["heap"], dtype=np.uint8)
            if o.shape != (cap,) or w.shape != (cap,) or p.shape != (cap,) \
                    or h.shape != (cap * sizeof(lb_lor_node),):
                raise ValueError(f"{self._name} state: arrays do not match the capacity")
            self._o = None
            self._alloc(cap)
            self._o[:] = o
            self._w[:] = w
            self._p[:] = p
            self._h[:] = h
        self.s.n_slots = self._n_slots
        self.s.size = st["size"]
        self.s.ordered = 1 if st["ordered"] else 0
        self.s.weighted = 1 if st["weighted"] else 0
        self.s.stamp = st["stamp"]
        cdef int j
        for j in range(4):
            self.s.rng.s[j] = st["rng"][j]
        try:
            self._check()
        except AssertionError as e:
            self.s.size = 0
            self.s.n_slots = 0
            raise ValueError(f"{self._name} state: {e}") from None
        return 0

    cdef int _k_set_weight(self, int32_t i, object weight, double now) except -1:
        cdef int64_t w = weight
        cdef int32_t p = self.s.pos[i]
        self.s.weight[i] = w
        if w != 1:
            self.s.weighted = 1
        if p >= 0:
            self.s.heap[p].weight = w
            if self.s.ordered:
                _sift_up(self.s, p)
                _sift_down(self.s, self.s.pos[i])
        return 0

    cdef object _k_weight(self, int32_t i):
        return int(self.s.weight[i])

    # -- names kept for one release ---------------------------------------------
    def acquire(self):
        """Deprecated: ``pick(now)``."""
        warnings.warn(f"{self._name}.acquire() is deprecated; use pick(now)",
                      DeprecationWarning, stacklevel=1)
        cdef int32_t i
        lb_lock_acquire(&self._lock)
        try:
            i = self._k_pick(0.0)
            if i < 0:
                raise LookupError("acquire: no available target")
            return self._targets[i]
        finally:
            lb_lock_release(&self._lock)

    def acquire_index(self):
        """Deprecated: ``pick_index(now)``."""
        warnings.warn(f"{self._name}.acquire_index() is deprecated; use pick_index(now)",
                      DeprecationWarning, stacklevel=1)
        lb_lock_acquire(&self._lock)
        try:
            return self._k_pick(0.0)
        finally:
            lb_lock_release(&self._lock)

    # -- introspection for tests and numba -----------------------------------
    def _state(self):
        """The uint8 array holding the ``lb_lor`` struct: pass ``._state().ctypes``
        as the ``lb_lor*`` argument of ``lbcore.numba`` LOR kernels. Valid while the
        object lives; ``add`` may reallocate the per-target arrays (the struct's
        pointers are updated in place), so don't ``add`` concurrently with a numba call."""
        return self._st

    @property
    def ctypes(self):
        """The selector's C interface (a ``KernelHandle``): ``state`` is the uint8 array
        holding the ``lb_lor`` struct (pass ``state.ctypes`` to the ``lbcore.numba``
        LOR kernels), ``address`` the ``lb_lor*``. Valid while the object lives (``add``
        updates the struct's pointers in place: not concurrently with a numba call)."""
        return make_handle(<size_t>self._st.ctypes.data, self._st, "lb_lor", {
            "lb_lor_acquire": <size_t>&lb_lor_acquire,
            "lb_lor_acquire_p2c": <size_t>&lb_lor_acquire_p2c,
            "lb_lor_acquire_at": <size_t>&lb_lor_acquire_at,
            "lb_lor_release": <size_t>&lb_lor_release,
            "lb_lor_set_available": <size_t>&lb_lor_set_available})

    def _state_arrays(self):
        """Views of the per-target arrays (length n_slots) and the heap (length size)."""
        n = self.s.n_slots
        cdef int32_t q
        return {"outstanding": self._o[:n], "weight": self._w[:n], "pos": self._p[:n],
                "heap": np.array([self.s.heap[q].idx for q in range(self.s.size)], np.int32),
                "key": np.array([self.s.heap[q].key for q in range(self.s.size)], np.uint64),
                "stamp": self.s.stamp, "rng": tuple(self.s.rng.s[j] for j in range(4))}

    def _check(self):
        """Debug: raise AssertionError unless the heap/list invariants hold."""
        cdef lb_lor* s = self.s
        cdef int32_t p, i, c
        seen = set()
        for p in range(s.size):
            i = s.heap[p].idx
            assert 0 <= i < s.n_slots and s.weight[i] > 0, f"heap[{p}]={i} is not a target"
            assert s.pos[i] == p, f"pos[{i}]={s.pos[i]} but heap[{p}]={i}"
            assert i not in seen, f"target {i} twice in heap"
            assert s.heap[p].outstanding == s.outstanding[i], f"stale load copy for {i}"
            assert s.heap[p].weight == s.weight[i], f"stale weight copy for {i}"
            seen.add(i)
            if s.ordered:
                assert s.heap[p].key <= s.stamp
                for c in (2 * p + 1, 2 * p + 2):
                    if c < s.size:
                        assert not _less(&s.heap[c], &s.heap[p]), \
                            f"heap order violated at {p} -> {c}"
        for i in range(s.n_slots):
            assert s.outstanding[i] >= 0
            if i not in seen:
                assert s.pos[i] == -1, f"pos[{i}]={s.pos[i]} for a target not in the heap"
        return True


@cython.embedsignature(False)
cdef class LeastOutstanding(_OutstandingBase):
    """LeastOutstanding(targets, *, weights=None, seed=0, slow_start_seconds=0)
--

Least outstanding requests over arbitrary hashable targets.

    ``pick(now)`` returns the available target with the fewest outstanding
    requests (weighted: smallest ``outstanding / weight``, compared exactly in
    integers) and counts the request; ``release(target)`` ends one (the
    RequestSelector protocol; ``now`` is validated, no decision depends on it). Ties are
    broken by turns: among equally loaded targets the one acquired (or made
    available) least recently wins, so they share requests evenly rather than
    "lowest index first"; ``seed`` shuffles the initial turn order. O(log N)
    acquire and release.

    ``weights``: positive integers (default all 1). ``slow_start_seconds`` must
    be 0: AWS does not allow slow start with least outstanding requests.
    """

    def __init__(self, targets, *, weights=None, seed=0, slow_start_seconds=0):
        reject_slow_start(slow_start_seconds, "LeastOutstanding")
        self._init(targets, weights, seed, True, "LeastOutstanding")

    cdef int32_t _k_pick(self, double now) noexcept:
        return lb_lor_acquire(self.s)

    def peek_index(self):
        """The index ``acquire`` would pick next, without counting (-1 if none)."""
        lb_lock_acquire(&self._lock)
        try:
            return self.s.heap[0].idx if self.s.size > 0 else -1
        finally:
            lb_lock_release(&self._lock)


@cython.embedsignature(False)
cdef class PowerOfTwoChoices(_OutstandingBase):
    """PowerOfTwoChoices(targets, *, seed=0, slow_start_seconds=0)
--

Power of two choices: two *distinct* random available targets, the one
    with fewer outstanding requests wins (a tie goes to the first of the two
    draws, i.e. a fair coin). Sampling distinct candidates avoids comparing a
    target with itself (Envoy issue 20420). O(1) pick and release.
    """

    def __init__(self, targets, *, seed=0, slow_start_seconds=0):
        reject_slow_start(slow_start_seconds, "PowerOfTwoChoices")
        self._init(targets, None, seed, False, "PowerOfTwoChoices")

    cdef int32_t _k_pick(self, double now) noexcept:
        return lb_lor_acquire_p2c(self.s)


def _noop(x=None):
    """A no-op extension call (benchmark baseline)."""
    return x
