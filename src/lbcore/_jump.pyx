# cython: language_level=3
"""Jump consistent hash (Lamping & Veach 2014) and the ``JumpHash`` selector.

The kernel is the paper's Figure 1 line for line: a 64-bit linear congruential step
``key = key * 2862933555777941757 + 1`` (mod 2**64), then the next candidate bucket
``j = (b + 1) * (2**31 / ((key >> 33) + 1))`` in double precision, truncated.
Modelled in tests/reference/jump_ref.py.
"""
cimport cython
import functools

import numpy as np

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t

from lbcore._hash import parse_seed
from lbcore._targetset import (find_identity, parse_targets, parse_hash_options,
                               as_hash_array)

include "_selector.pxi"


cdef int32_t lb_jump_hash(uint64_t key, int32_t num_buckets) noexcept nogil:
    """Bucket in [0, num_buckets) of a 64-bit key; -1 if num_buckets < 1."""
    cdef int64_t b = -1, j = 0
    while j < num_buckets:
        b = j
        key = key * 2862933555777941757ULL + 1
        j = <int64_t>(<double>(b + 1) * (<double>(1LL << 31) / <double>((key >> 33) + 1)))
    return <int32_t>b


cdef void lb_jump_hash_many(size_t n, const uint64_t* keys, int32_t num_buckets,
                            int32_t* out) noexcept nogil:
    cdef size_t i
    for i in range(n):
        out[i] = lb_jump_hash(keys[i], num_buckets)


# ---------------------------------------------------------------- Python API

cdef int32_t _check_buckets(object num_buckets) except -1:
    if isinstance(num_buckets, (bool, np.bool_)) or not hasattr(num_buckets, "__index__"):
        raise TypeError(f"num_buckets must be an int, got {type(num_buckets).__name__}")
    nb = num_buckets.__index__()
    if not 1 <= nb <= 0x7FFFFFFF:
        raise ValueError(f"num_buckets must be in [1, 2**31), got {nb}")
    return nb


cdef object _jump_array(const uint64_t[::1] k, int32_t nb):
    cdef Py_ssize_t n = k.shape[0]
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    if n:
        with nogil:
            lb_jump_hash_many(n, &k[0], nb, &o[0])
    return out


def jump_hash(key, num_buckets):
    """Lamping & Veach's jump consistent hash: the bucket in ``[0, num_buckets)`` of a
    64-bit ``key`` (an int in ``[0, 2**64)`` → int) or of every key of an integer
    array (→ int32 array of the same shape)."""
    cdef int32_t nb = _check_buckets(num_buckets)
    if type(key) is int:
        if 0 <= <object>key <= _MAXU64:
            return lb_jump_hash(<uint64_t>key, nb)
        raise ValueError(f"key must be in [0, 2**64), got {key}")
    if isinstance(key, (bool, np.bool_)):
        raise TypeError("key must be an int or an integer array, got bool")
    if hasattr(key, "__index__") and not isinstance(key, np.ndarray):
        return jump_hash(key.__index__(), nb)
    arr = np.asarray(key)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"key must be an int or an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError("key must be non-negative")
    flat = np.ascontiguousarray(arr, dtype=np.uint64).ravel()
    return _jump_array(flat, nb).reshape(arr.shape)


@cython.embedsignature(False)
cdef class JumpHash:
    """JumpHash(targets, *, fields="5-tuple", symmetric=False, flow_seed=0)
--

Jump consistent hash over ``targets`` (bucket i is ``targets[i]``).

    ``JumpHash(targets, *, fields="5-tuple", symmetric=False, flow_seed=0)``. Flows are
    hashed with ``lbcore.flow_hash(flow, fields=..., symmetric=..., seed=flow_seed)``;
    an int is an already computed 64-bit hash, used as the jump key. Jump hash
    numbers buckets, so order matters: append new targets at the end and remove
    from the end (``without`` of the last target moves only its keys; removing
    another target renumbers the later buckets).
    """
    cdef readonly object targets
    cdef readonly object fields
    cdef readonly bint symmetric
    cdef readonly uint64_t flow_seed
    cdef object _keys
    cdef int32_t _n
    cdef lb_hash_keys _hkeys
    cdef int _fields

    def __init__(self, targets, *, fields="5-tuple", symmetric=False, flow_seed=0):
        targets, keys, _, _ = parse_targets(targets, 0)
        if len(targets) > 0x7FFFFFFF:
            raise ValueError("targets: too many targets")
        fcode, sym, fs = parse_hash_options(fields, symmetric, flow_seed)
        cdef int32_t n = len(targets)
        # swapped in with no Python code in between (GIL held): a concurrent select*
        # sees the old selector or the new one, never a mix
        self._fields = fcode
        self.targets = targets
        self._keys = keys
        self._n = n
        self.fields = fields
        self.symmetric = sym
        self.flow_seed = fs
        lb_hash_keys_init(&self._hkeys, fs)

    def __len__(self):
        return self._n

    def __reduce__(self):
        # rebuilt from the constructor arguments (selection is a pure function of them)
        if self.targets is None:
            raise TypeError("cannot pickle a JumpHash that was never initialised")
        return (functools.partial(type(self), fields=self.fields, symmetric=self.symmetric,
                                  flow_seed=self.flow_seed), (self.targets,))

    def __repr__(self):
        return f"<JumpHash: {self._n} targets>"

    @cython.binding(False)      # a plain METH_O method descriptor: cheaper per call
    def select_index(self, flow_or_hash):
        """select_index($self, flow_or_hash, /)
--

Index (bucket) of the target for one flow or 64-bit hash."""
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return lb_jump_hash(key, self._n)

    @cython.binding(False)      # a plain METH_O method descriptor: cheaper per call
    def select(self, flow_or_hash):
        """select($self, flow_or_hash, /)
--

The target for one flow or 64-bit hash."""
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return self.targets[lb_jump_hash(key, self._n)]

    def select_many(self, flows_or_hashes):
        """int32 target indices for ``lbcore.Flows`` or an array of uint64 hashes."""
        inp = _batch_input(flows_or_hashes)      # Python code first
        # then one snapshot of the options and the size (hashing releases the GIL, and a
        # rebuild may run meanwhile: the batch is answered wholly by the old selector)
        cdef int32_t nb = self._n
        h = _batch_hashes(inp, self._fields, self.symmetric, self.flow_seed)
        return _jump_array(h, nb)

    def index_of(self, target):
        return find_identity(self._keys, target)

    def without(self, target):
        """A new selector without ``target`` (later targets shift down one bucket)."""
        i = self.index_of(target)
        targets = self.targets[:i] + self.targets[i + 1:]
        if not targets:
            raise ValueError("target: removing the only target leaves no targets")
        return self.with_targets(targets)

    def with_targets(self, targets):
        """A new selector over ``targets`` with the same hash options."""
        return JumpHash(targets, fields=self.fields, symmetric=self.symmetric,
                        flow_seed=self.flow_seed)
