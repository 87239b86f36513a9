# cython: language_level=3
"""RequestSelector: the one target map and method set of the request-level
selectors (see _request_selector.pxd and docs/request-selection.md)."""
cimport cython
from cpython.float cimport PyFloat_CheckExact, PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongLongAndOverflow
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t

import warnings

import numpy as np

from lbcore._check cimport check_now, check_bool, check_hashable
from lbcore._lock cimport lb_lock_init, lb_lock_free, lb_lock_acquire, lb_lock_release

cdef extern from "Python.h":
    PyObject* PyDict_GetItem(object d, object key)

cdef object _FREE = object()      # marks a free index slot in _targets
cdef int32_t _MAX_SLOTS = 2**31 - 2


@cython.embedsignature(False)
cdef class RequestSelector:
    """RequestSelector(*args, **kwargs)
--

Base of LeastOutstanding, PowerOfTwoChoices, RoundRobin and WeightedRandom.

    Targets are hashable identities mapped to dense int32 indices (registration
    order; ``remove`` frees an index, the next ``add`` reuses the last freed).
    One method set: ``pick(now)`` / ``pick_index(now)`` choose a target and count
    the request; ``acquire_at(target, now)`` / ``acquire_at_index(index, now)``
    count a request chosen elsewhere (stickiness); ``release(target)`` /
    ``release_index(index)`` end one; ``add``, ``remove``, ``set_available``,
    ``set_weight`` and ``sync_available`` (one call for a whole availability
    mask) change the set. ``now`` is one time in seconds (a finite number) on
    every call that takes it; it matters only with slow start, and is required
    (calling without it is deprecated when slow start is off, an error when it is on).
    Not instantiable itself.
    """

    def __cinit__(self, *args, **kwargs):
        lb_lock_init(&self._lock)
        self._index = {}
        self._targets = []
        self._free = []
        self._n_slots = 0
        self._slow_start = 0.0
        self._name = type(self).__name__

    def __dealloc__(self):
        lb_lock_free(&self._lock)

    def __init__(self, *args, **kwargs):
        raise TypeError("RequestSelector is a base class: use LeastOutstanding, "
                        "PowerOfTwoChoices, RoundRobin or WeightedRandom")

    # -- kernel hooks: overridden by every subclass --------------------------
    cdef int32_t _k_pick(self, double now) noexcept:
        return -1

    cdef int _k_acquire_at(self, int32_t i, double now) except -1:
        raise NotImplementedError

    cdef int _k_release(self, int32_t i) except -1:
        raise NotImplementedError

    cdef int64_t _k_outstanding(self, int32_t i) noexcept:
        return 0

    cdef bint _k_available(self, int32_t i) noexcept:
        return False

    cdef int _k_set_available(self, int32_t i, bint available, double now) except -1:
        raise NotImplementedError

    cdef int _k_changed(self) except -1:
        return 0

    cdef int _k_add(self, int32_t i, bint grew, object weight, bint available,
                    double now) except -1:
        raise NotImplementedError

    cdef int _k_remove(self, int32_t i) except -1:
        raise NotImplementedError

    cdef object _k_check_weight(self, object weight):
        raise NotImplementedError

    cdef int _k_set_weight(self, int32_t i, object weight, double now) except -1:
        raise NotImplementedError

    cdef object _k_getstate(self):
        raise TypeError(f"cannot pickle {self._name} objects")

    cdef int _k_setstate(self, object state) except -1:
        raise TypeError(f"cannot unpickle {self._name} objects")

    cdef object _k_weight(self, int32_t i):
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------
    cdef double _now(self, object now) except? -1.0:
        if PyFloat_CheckExact(now):                 # the per-request case: no Python call
            return check_now(now, "now")
        if now is None:
            if self._slow_start > 0.0:
                raise ValueError("now is required when slow start is enabled: "
                                 "a finite number of seconds")
            self._warn_no_now()
            return 0.0
        return check_now(now, "now")

    cdef _warn_no_now(self):
        warnings.warn(f"{self._name}: calling without now is deprecated; pass now "
                      "(seconds, any clock) as every request selector takes it",
                      DeprecationWarning, stacklevel=1)

    cdef int32_t _lookup(self, object target, str what) except -1:
        cdef PyObject* p = PyDict_GetItem(self._index, target)
        if p == NULL:
            check_hashable(target, "target")
            raise ValueError(f"{what}: unknown target {target!r}")
        return <int32_t><object>p

    cdef int32_t _check_index(self, object index, str what) except -1:
        cdef long long i
        cdef int overflow = 0
        if PyLong_CheckExact(index):
            i = PyLong_AsLongLongAndOverflow(index, &overflow)   # C compares, no Python
            if overflow or i < 0 or i >= self._n_slots:
                raise ValueError(f"{what}: index {index} is not a registered target")
        elif isinstance(index, (bool, np.bool_)) or not hasattr(index, "__index__"):
            raise TypeError(f"{what}: index must be an int, got {type(index).__name__}")
        else:
            return self._check_index(index.__index__(), what)
        if self._targets[i] is _FREE:
            raise ValueError(f"{what}: index {index} is not a registered target")
        return <int32_t>i

    cdef _set_targets(self, list targets):
        """The target map of a fresh constructor call: index i = targets[i]."""
        self._index = {t: i for i, t in enumerate(targets)}
        self._targets = list(targets)
        self._free = []
        self._n_slots = len(targets)

    # -- the request path -------------------------------------------------------
    def pick_index(self, now=None):
        """Choose a target at ``now`` and count the request on it: its dense index,
        or -1 when no target is available."""
        cdef double t = self._now(now)
        lb_lock_acquire(&self._lock)
        try:
            return self._k_pick(t)
        finally:
            lb_lock_release(&self._lock)

    def pick(self, now=None):
        """``pick_index`` returning the target (LookupError when none is available)."""
        cdef double t = self._now(now)
        cdef int32_t i
        lb_lock_acquire(&self._lock)
        try:
            i = self._k_pick(t)
            if i < 0:
                raise LookupError("pick: no available target")
            return self._targets[i]
        finally:
            lb_lock_release(&self._lock)

    def acquire_at(self, target, now=None):
        """Count a request on ``target`` chosen elsewhere (e.g. a sticky session),
        available or not, so later picks see its load. Release it as usual."""
        cdef double t = self._now(now)
        lb_lock_acquire(&self._lock)
        try:
            self._k_acquire_at(self._lookup(target, "acquire_at"), t)
        finally:
            lb_lock_release(&self._lock)

    def acquire_at_index(self, index, now=None):
        """``acquire_at`` by dense index."""
        cdef double t = self._now(now)
        lb_lock_acquire(&self._lock)
        try:
            self._k_acquire_at(self._check_index(index, "acquire_at_index"), t)
        finally:
            lb_lock_release(&self._lock)

    def release(self, target):
        """End one request on ``target`` (ValueError if it has none outstanding)."""
        lb_lock_acquire(&self._lock)
        try:
            if self._k_release(self._lookup(target, "release")) != 0:
                raise ValueError(f"release: target {target!r} has no outstanding requests")
        finally:
            lb_lock_release(&self._lock)

    def release_index(self, index):
        """``release`` by dense index."""
        lb_lock_acquire(&self._lock)
        try:
            if self._k_release(self._check_index(index, "release_index")) != 0:
                raise ValueError(f"release_index: index {index} has no outstanding requests")
        finally:
            lb_lock_release(&self._lock)

    # -- membership, health and weights -------------------------------------
    def set_available(self, target, available, *, now=None):
        """Unavailable (unhealthy, draining) targets get no new picks; releases of
        their requests still count. With slow start, becoming available again
        re-enters slow start at ``now``."""
        cdef int32_t i
        cdef bint a = check_bool(available, "available")
        cdef double t = 0.0
        if a or now is not None:
            t = self._now(now)
        else:                                       # leaving service needs no time
            self._warn_no_now()
        lb_lock_acquire(&self._lock)
        try:
            i = self._lookup(target, "set_available")
            if self._k_set_available(i, a, t):
                self._k_changed()
        finally:
            lb_lock_release(&self._lock)

    def sync_available(self, available, *, now=None):
        """Set the availability of indices ``0 .. len(available)-1`` at once, as
        ``set_available`` would one by one in index order (one call, and one table
        rebuild for WeightedRandom). ``available``: bools, one per index; a free
        index must be False. Returns how many indices changed."""
        arr = np.asarray(available)
        if arr.ndim != 1 or (arr.dtype != np.bool_ and arr.size):
            raise TypeError("available must be a one-dimensional sequence of bools, got "
                            f"{'dtype ' + str(arr.dtype) if arr.ndim == 1 else 'shape ' + str(arr.shape)}")
        if arr.shape[0] > self._n_slots:
            raise ValueError(f"available must have at most one entry per index "
                             f"({self._n_slots}), got {arr.shape[0]}")
        cdef double t = self._now(now)
        cdef const uint8_t[::1] av = np.ascontiguousarray(arr, dtype=np.uint8)
        cdef int32_t i, m = <int32_t>arr.shape[0]
        cdef Py_ssize_t changed = 0
        lb_lock_acquire(&self._lock)
        try:
            if m > self._n_slots:
                raise ValueError(f"available must have at most one entry per index "
                                 f"({self._n_slots}), got {m}")
            for i in range(m):
                if av[i] and self._targets[i] is _FREE:
                    raise ValueError(f"available[{i}] is True but index {i} is not a "
                                     "registered target")
            for i in range(m):
                if (av[i] != 0) != self._k_available(i):
                    changed += self._k_set_available(i, av[i] != 0, t)
            if changed:
                self._k_changed()
        finally:
            lb_lock_release(&self._lock)
        return changed

    def add(self, target, weight=1, *, available=True, now=None):
        """Register a new target (nothing outstanding); returns its index. A freed
        index is reused (the last freed first). With slow start, a target that
        becomes available while another one is enters slow start at ``now``."""
        check_hashable(target, "target")
        w = self._k_check_weight(weight)
        cdef bint a = check_bool(available, "available")
        cdef double t = self._now(now)
        cdef int32_t i
        cdef bint grew
        # the slot is chosen and filled as one step (_k_add may allocate)
        lb_lock_acquire(&self._lock)
        try:
            if target in self._index:
                raise ValueError(f"add: target {target!r} is already registered")
            grew = not self._free
            if grew:
                if self._n_slots >= _MAX_SLOTS:
                    raise ValueError("add: too many targets")
                i = self._n_slots
            else:
                i = self._free[len(self._free) - 1]
            self._k_add(i, grew, w, a, t)
            if grew:
                self._targets.append(target)
                self._n_slots = i + 1
            else:
                self._free.pop()
                self._targets[i] = target
            self._index[target] = i
            self._k_changed()
            return i
        finally:
            lb_lock_release(&self._lock)

    def remove(self, target):
        """Deregister ``target``; its outstanding count is forgotten (later releases
        of it are unknown-target errors). To drain, ``set_available(target, False,
        now=...)`` and remove it once ``outstanding(target)`` is 0."""
        cdef int32_t i
        lb_lock_acquire(&self._lock)
        try:
            i = self._lookup(target, "remove")
            self._k_remove(i)
            del self._index[target]
            self._targets[i] = _FREE
            self._free.append(i)
            self._k_changed()
        finally:
            lb_lock_release(&self._lock)

    def set_weight(self, target, weight, *, now=None):
        """Change ``target``'s weight (outstanding counts and availability stay)."""
        w = self._k_check_weight(weight)
        cdef double t = self._now(now)
        lb_lock_acquire(&self._lock)
        try:
            self._k_set_weight(self._lookup(target, "set_weight"), w, t)
            self._k_changed()
        finally:
            lb_lock_release(&self._lock)

    # -- queries ----------------------------------------------------------------
    def outstanding(self, target):
        """Requests counted on ``target`` (picks and acquire_at) and not yet released."""
        lb_lock_acquire(&self._lock)
        try:
            return self._k_outstanding(self._lookup(target, "outstanding"))
        finally:
            lb_lock_release(&self._lock)

    def is_available(self, target):
        """Whether ``target`` may be picked (registered and available)."""
        return self._k_available(self._lookup(target, "is_available"))

    def weight(self, target):
        """``target``'s configured weight."""
        return self._k_weight(self._lookup(target, "weight"))

    def index(self, target):
        """The dense int32 index of ``target`` (what the ``*_index`` methods take)."""
        return self._lookup(target, "index")

    def target_at(self, index):
        """The target registered at dense ``index``."""
        return self._targets[self._check_index(index, "target_at")]

    @property
    def targets(self):
        """Registered targets in index order (free slots left by ``remove`` are skipped)."""
        return [t for t in self._targets if t is not _FREE]

    def targets_array(self):
        """Object array, index -> target (None for free slots): ``arr[pick_many(n)]``."""
        out = np.empty(len(self._targets), dtype=object)
        out[:] = [None if t is _FREE else t for t in self._targets]
        return out

    @property
    def slow_start_seconds(self):
        """The slow start duration (0.0: off)."""
        return self._slow_start

    def __reduce__(self):
        # The target map (free slots as None, listed in ``free``) and the subclass's
        # kernel state; never a lock (a restored object gets its own from __cinit__).
        targets = [None if t is _FREE else t for t in self._targets]
        return (_restore_selector, (type(self), targets, list(self._free), self._n_slots,
                                    self._slow_start, self._name, self._k_getstate()))

    def __len__(self):
        return len(self._index)

    def __contains__(self, target):
        return target in self._index

    def __repr__(self):
        cdef int32_t i
        cdef Py_ssize_t avail = 0
        cdef int64_t out = 0
        for i in range(self._n_slots):
            if self._targets[i] is not _FREE:
                avail += self._k_available(i)
                out += self._k_outstanding(i)
        return (f"{self._name}({len(self._index)} targets, {avail} available, "
                f"{out} outstanding)")


def _restore_selector(cls, targets, free, n_slots, slow_start, name, kstate):
    """Unpickle a RequestSelector subclass (see RequestSelector.__reduce__)."""
    if not (isinstance(cls, type) and issubclass(cls, RequestSelector)):
        raise TypeError("_restore_selector: not a RequestSelector subclass")
    if not isinstance(targets, list) or not isinstance(free, list):
        raise TypeError("_restore_selector: targets and free must be lists")
    if n_slots != len(targets) or not set(free) <= set(range(len(targets))) \
            or len(set(free)) != len(free) or any(targets[i] is not None for i in free):
        raise ValueError("_restore_selector: inconsistent target map")
    cdef RequestSelector obj = cls.__new__(cls)
    fs = set(free)
    obj._targets = [_FREE if i in fs else t for i, t in enumerate(targets)]
    obj._index = {t: i for i, t in enumerate(targets) if i not in fs}
    if len(obj._index) != len(targets) - len(free):
        raise ValueError("_restore_selector: a target is registered twice")
    obj._free = list(free)
    obj._n_slots = n_slots
    obj._slow_start = float(slow_start)
    obj._name = str(name)
    obj._k_setstate(kstate)
    return obj
