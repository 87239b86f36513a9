# cython: language_level=3
"""Seeded random choices for DNS answers (weighted record, random order, random subset)."""
cimport cython
from libc.stdint cimport uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, free
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM

import numpy as np

from lbcore._rng cimport lb_rng, lb_rng_seed, lb_rng_bounded, rng_load_state
from lbcore._hash import parse_seed


cdef void lb_dnspick_seed(uint64_t* state, uint64_t seed) noexcept nogil:
    lb_rng_seed(<lb_rng*>state, seed)


cdef inline int32_t _pick(lb_rng* r, int32_t n, const uint64_t* cum) noexcept nogil:
    if n <= 0 or cum[n - 1] == 0:
        return -1
    cdef uint64_t x = lb_rng_bounded(r, cum[n - 1])
    cdef int32_t lo = 0, hi = n - 1, mid
    while lo < hi:                     # first i with cum[i] > x
        mid = (lo + hi) >> 1
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef int32_t lb_dnspick_weighted(uint64_t* state, int32_t n, const uint64_t* cum) noexcept nogil:
    return _pick(<lb_rng*>state, n, cum)


cdef void lb_dnspick_weighted_many(uint64_t* state, int64_t m, int32_t n, const uint64_t* cum,
                                   int32_t* out) noexcept nogil:
    cdef int64_t i
    for i in range(m):
        out[i] = _pick(<lb_rng*>state, n, cum)


cdef void lb_dnspick_shuffle(uint64_t* state, int32_t n, int32_t k,
                             int32_t* items) noexcept nogil:
    cdef int32_t i, j, t
    if k > n:
        k = n
    if k == n and n > 0:
        k = n - 1                       # the last position is then fixed
    for i in range(k):
        j = i + <int32_t>lb_rng_bounded(<lb_rng*>state, <uint64_t>(n - i))
        t = items[i]
        items[i] = items[j]
        items[j] = t


@cython.embedsignature(False)
cdef class RecordPicker:
    """RecordPicker(seed=0)
--

The seeded generator a Route 53 record set (or zone) owns for its random answers.

    ``weighted(weights)`` -> index (probability w_i / sum w; -1 when the sum is 0);
    ``sample(n, k)`` -> k distinct indices of range(n) in random order;
    ``weighted_many(weights, m)`` -> int32 array, the same stream as m calls of
    ``weighted``.
    """
    cdef lb_rng rng

    def __init__(self, seed=0):
        lb_rng_seed(&self.rng, parse_seed(seed))

    @property
    def state(self):
        return tuple(self.rng.s[i] for i in range(4))

    def __reduce__(self):
        return (type(self), (), self.state)

    def __setstate__(self, state):
        """Restore the generator from ``state`` (four words, not all zero), as
        pickle does: the next draws are the ones the pickled object would make."""
        rng_load_state(&self.rng, state)

    def weighted(self, list weights):
        """One index drawn with probability weights[i] / sum(weights) (ints >= 0, < 2**32)."""
        cdef Py_ssize_t n = PyList_GET_SIZE(weights), i
        cdef uint64_t buf[64]
        cdef uint64_t* cum = buf
        cdef uint64_t total = 0
        cdef object w
        if n == 0:
            raise ValueError("weights must not be empty")
        if n > 64:
            cum = <uint64_t*>malloc(n * sizeof(uint64_t))
            if cum == NULL:
                raise MemoryError()
        try:
            for i in range(n):
                w = <object>PyList_GET_ITEM(weights, i)
                if type(w) is not int or w < 0 or w >= 4294967296:
                    raise ValueError(f"weights must be ints in [0, 2**32), got {w!r}")
                total += <uint64_t>w
                cum[i] = total
            return _pick(&self.rng, <int32_t>n, cum)
        finally:
            if cum != buf:
                free(cum)

    def weighted_many(self, weights, Py_ssize_t m):
        """``m`` weighted draws as an int32 array (one nogil call)."""
        w = np.asarray(weights)
        if w.dtype.kind not in "ui" or w.ndim != 1 or w.shape[0] == 0:
            raise ValueError("weights must be a non-empty 1-D integer array")
        if w.min() < 0 or w.max() >= 2**32:
            raise ValueError("weights must be in [0, 2**32)")
        if m < 0:
            raise ValueError(f"m must be >= 0, got {m}")
        cum = np.cumsum(w.astype(np.uint64))
        out = np.empty(m, dtype=np.int32)
        if m == 0:
            return out
        cdef const uint64_t[::1] cv = cum
        cdef int32_t[::1] ov = out
        with nogil:
            lb_dnspick_weighted_many(<uint64_t*>&self.rng, m, <int32_t>cv.shape[0], &cv[0],
                                     &ov[0])
        return out

    def sample(self, n, k):
        """``k`` distinct indices of ``range(n)`` in uniformly random order (k <= n;
        n < 2**31). Memory is O(min(n, 8k)): a small sample of a huge range keeps only
        the positions it moved (the same draws as the dense shuffle)."""
        for name, v in (("n", n), ("k", k)):
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if not 0 <= n <= 2**31 - 1 or k < 0:
            raise ValueError(f"n and k must be ints with 0 <= n < 2**31 and k >= 0, got "
                             f"n={n}, k={k}")
        cdef int32_t nn = n
        cdef int32_t kk = min(k, n)
        cdef int32_t buf[64]
        cdef int32_t* items = buf
        cdef int32_t i, j
        if nn > 64 and 8 * <int64_t>kk < nn:      # sparse partial Fisher-Yates
            moved = {}
            out = []
            for i in range(kk):
                j = i + <int32_t>lb_rng_bounded(&self.rng, <uint64_t>(nn - i))
                out.append(moved.get(j, j))
                moved[j] = moved.get(i, i)
            return out
        if nn > 64:
            items = <int32_t*>malloc(nn * sizeof(int32_t))
            if items == NULL:
                raise MemoryError()
        try:
            for i in range(nn):
                items[i] = i
            lb_dnspick_shuffle(<uint64_t*>&self.rng, nn, kk, items)
            return [items[i] for i in range(kk)]
        finally:
            if items != buf:
                free(items)
