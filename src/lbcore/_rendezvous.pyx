# cython: language_level=3
"""Weighted rendezvous hashing (highest random weight) and the ``Rendezvous`` selector.

See _rendezvous.pxd for the score; docs/consistent.md for the semantics; modelled in
tests/reference/rendezvous_ref.py.
"""
cimport cython
import functools

import numpy as np

from libc.math cimport log
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t

from lbcore._hash import parse_seed
from lbcore._targetset import (find_identity, parse_targets, parse_weights,
                               parse_hash_options, as_hash_array)

include "_selector.pxi"

cdef double _INV52 = 1.0 / 4503599627370496.0      # 2**-52 (h >> 12) + 0.5 is exact


cdef inline double _score(uint64_t key, uint64_t ta, uint64_t tb, const double* weights,
                          int32_t i) noexcept nogil:
    # h < 2**52: converting through int64 is exact and a single instruction
    cdef double h = <double><int64_t>(lb_rendezvous_pair(key, ta, tb) >> 12)
    if weights == NULL:
        return h
    return -weights[i] / log((h + 0.5) * _INV52)


cdef inline bint _better(double s, uint64_t a, uint64_t b, int32_t i,
                         double s2, uint64_t a2, uint64_t b2, int32_t i2) noexcept nogil:
    if s != s2:
        return s > s2
    if a != a2:
        return a < a2
    if b != b2:
        return b < b2
    return i < i2


cdef int32_t lb_rendezvous_select(
        uint64_t key, int32_t n, const uint64_t* ta, const uint64_t* tb,
        const double* weights) noexcept nogil:
    """Index of the highest-scoring target, or -1 if none has a positive weight."""
    cdef int32_t i, best = -1
    cdef double s, bs = 0.0
    for i in range(n):
        if weights != NULL and not weights[i] > 0.0:
            continue
        s = _score(key, ta[i], tb[i], weights, i)
        if best < 0 or _better(s, ta[i], tb[i], i, bs, ta[best], tb[best], best):
            best = i
            bs = s
    return best


cdef void lb_rendezvous_select_many(
        size_t count, const uint64_t* keys, int32_t n, const uint64_t* ta,
        const uint64_t* tb, const double* weights, int32_t* out) noexcept nogil:
    cdef size_t j
    for j in range(count):
        out[j] = lb_rendezvous_select(keys[j], n, ta, tb, weights)


cdef int32_t lb_rendezvous_top(
        uint64_t key, int32_t n, const uint64_t* ta, const uint64_t* tb,
        const double* weights, int32_t k, int32_t* out, double* scratch) noexcept nogil:
    """The (up to) k best targets, best first, into out[0..); returns how many.
    ``scratch`` holds k doubles."""
    cdef int32_t i, j, c, have = 0
    cdef double s
    if k <= 0:
        return 0
    for i in range(n):
        if weights != NULL and not weights[i] > 0.0:
            continue
        s = _score(key, ta[i], tb[i], weights, i)
        if have == k:
            c = out[k - 1]
            if not _better(s, ta[i], tb[i], i, scratch[k - 1], ta[c], tb[c], c):
                continue
            j = k - 1
        else:
            j = have
            have += 1
        while j > 0:
            c = out[j - 1]
            if not _better(s, ta[i], tb[i], i, scratch[j - 1], ta[c], tb[c], c):
                break
            out[j] = c
            scratch[j] = scratch[j - 1]
            j -= 1
        out[j] = i
        scratch[j] = s
    return have


cdef inline bint _ahead(const double* sc, const uint64_t* ta, const uint64_t* tb,
                        int32_t x, int32_t y) noexcept nogil:
    return _better(sc[x], ta[x], tb[x], x, sc[y], ta[y], tb[y], y)


cdef int32_t _top_select(uint64_t key, int32_t n, const uint64_t* ta, const uint64_t* tb,
                         const double* weights, int32_t k, int32_t* idx,
                         double* sc) noexcept nogil:
    """lb_rendezvous_top's answer in O(n + k log k): every eligible target scored
    into ``sc`` (n doubles), a quickselect (Hoare partition, median-of-three pivot)
    leaves the k best in idx[0:k] (``idx`` holds n ints), a heapsort orders them.
    ``_better`` is a strict total order (indices break every tie), so the result
    is exactly the insertion kernel's."""
    cdef int32_t i, j, m = 0, lo, hi, mid, p, a, b, c, t, root, child, end
    for i in range(n):
        if weights != NULL and not weights[i] > 0.0:
            continue
        sc[i] = _score(key, ta[i], tb[i], weights, i)
        idx[m] = i
        m += 1
    if k > m:
        k = m
    if k <= 0:
        return 0
    lo = 0
    hi = m - 1
    while hi > lo and k < m:
        mid = lo + (hi - lo) // 2
        a, b, c = idx[lo], idx[mid], idx[hi]
        if _ahead(sc, ta, tb, b, a):
            a, b = b, a
        if _ahead(sc, ta, tb, c, b):
            b = c
            if _ahead(sc, ta, tb, b, a):
                b = a
        p = b                               # the median of the three
        i = lo
        j = hi
        while i <= j:
            while _ahead(sc, ta, tb, idx[i], p):
                i += 1
            while _ahead(sc, ta, tb, p, idx[j]):
                j -= 1
            if i <= j:
                t = idx[i]
                idx[i] = idx[j]
                idx[j] = t
                i += 1
                j -= 1
        if k - 1 <= j:
            hi = j
        elif k - 1 >= i:
            lo = i
        else:
            break
    # heapsort idx[0:k], best first: a heap whose root is the worst, popped to the end
    for root in range(k // 2 - 1, -1, -1):
        _sift(sc, ta, tb, idx, root, k)
    for end in range(k - 1, 0, -1):
        t = idx[0]
        idx[0] = idx[end]
        idx[end] = t
        _sift(sc, ta, tb, idx, 0, end)
    return k


cdef inline void _sift(const double* sc, const uint64_t* ta, const uint64_t* tb,
                       int32_t* idx, int32_t root, int32_t size) noexcept nogil:
    """Sift down in a heap of idx[0:size] ordered worst-first."""
    cdef int32_t child, t
    while True:
        child = 2 * root + 1
        if child >= size:
            return
        if child + 1 < size and _ahead(sc, ta, tb, idx[child], idx[child + 1]):
            child += 1                      # the worse of the two children
        if not _ahead(sc, ta, tb, idx[root], idx[child]):
            return
        t = idx[root]
        idx[root] = idx[child]
        idx[child] = t
        root = child


# ---------------------------------------------------------------- Python API

@cython.embedsignature(False)
cdef class Rendezvous:
    """Rendezvous(targets, *, weights=None, seed=0, fields="5-tuple", symmetric=False, flow_seed=0)
--

Weighted rendezvous (highest random weight) hashing over ``targets``.

    ``Rendezvous(targets, *, weights=None, seed=0, fields="5-tuple", symmetric=False,
    flow_seed=0)``. Target i's identity hashes are ``hash_key(identity, seed=seed)``
    and ``hash_key(identity, seed=seed + 0x9E3779B97F4A7C15)``; a key picks the target
    of highest score ``-w / ln(u)`` (u in (0, 1) from the pair hash), so target i wins
    with probability ``w_i / sum(w)`` and removing a target moves exactly its keys.
    The result does not depend on the order of ``targets``. Equal weights (or
    ``weights=None``) compare the 52-bit u directly. Flows are hashed with
    ``lbcore.flow_hash(flow, fields=..., symmetric=..., seed=flow_seed)``; an int is
    an already computed 64-bit hash. Selection costs O(len(targets)) per key.
    """
    cdef readonly object targets
    cdef readonly object weights
    cdef readonly uint64_t seed
    cdef readonly object fields
    cdef readonly bint symmetric
    cdef readonly uint64_t flow_seed
    cdef object _keys, _ta_arr, _tb_arr, _w_arr, _scratch_arr, _out_arr
    cdef const uint64_t* _ta
    cdef const uint64_t* _tb
    cdef const double* _w
    cdef double* _scratch
    cdef int32_t* _outbuf
    cdef int32_t _n
    cdef int32_t _eligible
    cdef lb_hash_keys _hkeys
    cdef int _fields

    def __init__(self, targets, *, weights=None, seed=0, fields="5-tuple", symmetric=False,
                 flow_seed=0):
        targets, keys, h1, h2 = parse_targets(targets, seed)
        if len(targets) > 0x7FFFFFFF:
            raise ValueError("targets: too many targets")
        w = parse_weights(weights, len(targets))
        fcode, sym, fs = parse_hash_options(fields, symmetric, flow_seed)
        cdef uint64_t sd = parse_seed(seed)
        cdef int32_t n = len(targets)
        if w is not None:
            w.flags.writeable = False
        # equal weights are the unweighted case (same order, integer comparison)
        cdef const double[::1] wv
        cdef const double* wp = NULL
        cdef int32_t eligible = n
        w_arr = None
        if w is not None and not np.all(w == w[0]):
            w_arr = w
            wv = w
            wp = &wv[0]
            eligible = int(np.count_nonzero(w > 0))
        scratch = np.empty(n, dtype=np.float64)
        outbuf = np.empty(n, dtype=np.int32)
        cdef const uint64_t[::1] a = h1
        cdef const uint64_t[::1] b = h2
        cdef double[::1] sv = scratch
        cdef int32_t[::1] ov = outbuf
        # Everything is computed above; the swap below runs no Python code (GIL held),
        # so a thread calling select*/top* meanwhile sees the old arrays or the new
        # ones, never new lengths over old arrays.
        self.targets = targets
        self._keys = keys
        self.seed = sd
        self.fields = fields
        self.symmetric = sym
        self.flow_seed = fs
        self._fields = fcode
        lb_hash_keys_init(&self._hkeys, fs)
        self._n = n
        self._ta_arr = h1
        self._tb_arr = h2
        self._ta = &a[0]
        self._tb = &b[0]
        self.weights = w
        self._w_arr = w_arr
        self._w = wp
        self._eligible = eligible
        self._scratch_arr = scratch
        self._out_arr = outbuf
        self._scratch = &sv[0]
        self._outbuf = &ov[0]

    def kernel_arrays(self):
        """``(ta, tb, weights or None)``: the read-only arrays the rendezvous kernels
        take (``lbcore.numba.rendezvous_*``), C-contiguous uint64 / float64."""
        return self._ta_arr, self._tb_arr, self._w_arr

    def __reduce__(self):
        # rebuilt from the constructor arguments (selection is a pure function of them)
        if self.targets is None:
            raise TypeError("cannot pickle a Rendezvous that was never initialised")
        return (functools.partial(type(self), weights=self.weights, seed=self.seed,
                                  fields=self.fields, symmetric=self.symmetric,
                                  flow_seed=self.flow_seed), (self.targets,))

    def __len__(self):
        return self._n

    def __repr__(self):
        return f"<Rendezvous: {self._n} targets>"

    def select_index(self, flow_or_hash):
        """Index (into ``targets``) of the target for one flow or 64-bit hash."""
        # the key first (it may run Python code), then the arrays with none in between
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return lb_rendezvous_select(key, self._n, self._ta, self._tb, self._w)

    def select(self, flow_or_hash):
        """The target for one flow or 64-bit hash."""
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return self.targets[lb_rendezvous_select(key, self._n, self._ta, self._tb, self._w)]

    def select_many(self, flows_or_hashes):
        """int32 target indices for ``lbcore.Flows`` or an array of uint64 hashes."""
        inp = _batch_input(flows_or_hashes)      # Python code first
        # Then one snapshot (no Python code between these reads) of the options and the
        # arrays: hashing and the loop release the GIL and read only the locals, and
        # ``keep`` holds their arrays, so a concurrent __init__ can neither free them nor
        # pair a new length or hash option with old arrays.
        keep = (self._ta_arr, self._tb_arr, self._w_arr)
        cdef int32_t nt = self._n
        cdef const uint64_t* ta = self._ta
        cdef const uint64_t* tb = self._tb
        cdef const double* wp = self._w
        cdef const uint64_t[::1] h = _batch_hashes(inp, self._fields, self.symmetric,
                                                   self.flow_seed)
        cdef Py_ssize_t n = h.shape[0]
        out = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] o = out
        if n:
            with nogil:
                lb_rendezvous_select_many(n, &h[0], nt, ta, tb, wp, &o[0])
        del keep
        return out

    def top_index(self, flow_or_hash, k):
        """Indices of the ``k`` best targets for one flow or hash, best first (at most
        the number of targets with a positive weight)."""
        if isinstance(k, (bool, np.bool_)) or not hasattr(k, "__index__"):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        kk = k.__index__()
        if kk < 1:
            raise ValueError(f"k must be >= 1, got {kk}")
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields, self.symmetric)
        # after the key (Python code may run there and a rebuild with it): k is bounded
        # by the arrays the calls below use
        cdef int32_t kc = min(kk, self._eligible)
        cdef int32_t got, n = self._n
        if kc <= 16:        # insertion into k slots: O(n k), fastest for small k
            got = lb_rendezvous_top(key, n, self._ta, self._tb, self._w, kc,
                                    self._outbuf, self._scratch)
            return [self._outbuf[i] for i in range(got)]
        # O(n + k log k) selection on buffers of this call, without the GIL; the
        # arrays it reads are held here, so a concurrent __init__ can't free them
        keep = (self._ta_arr, self._tb_arr, self._w_arr)
        cdef const uint64_t* ta = self._ta
        cdef const uint64_t* tb = self._tb
        cdef const double* w = self._w
        idx = np.empty(n, dtype=np.int32)
        sc = np.empty(n, dtype=np.float64)
        cdef int32_t[::1] iv = idx
        cdef double[::1] sv = sc
        with nogil:
            got = _top_select(key, n, ta, tb, w, kc, &iv[0], &sv[0])
        del keep
        return idx[:got].tolist()

    def top(self, flow_or_hash, k):
        """The ``k`` best targets for one flow or hash, best first: the first is
        ``select``'s answer, the next ones are where the key goes if the earlier ones
        are removed (retries, multivalue answers)."""
        return [self.targets[i] for i in self.top_index(flow_or_hash, k)]

    def index_of(self, target):
        return find_identity(self._keys, target)

    def without(self, target):
        """A new selector without ``target`` (others keep their weights)."""
        i = self.index_of(target)
        targets = self.targets[:i] + self.targets[i + 1:]
        if not targets:
            raise ValueError("target: removing the only target leaves no targets")
        w = None if self.weights is None else np.delete(self.weights, i)
        return self.with_targets(targets, weights=w)

    def with_targets(self, targets, *, weights=None):
        """A new selector over ``targets`` with the same seed and hash options."""
        return Rendezvous(targets, weights=weights, seed=self.seed, fields=self.fields,
                          symmetric=self.symmetric, flow_seed=self.flow_seed)
