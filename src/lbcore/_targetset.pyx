# cython: language_level=3
"""Target sets of the consistent selectors (Maglev, JumpHash, Rendezvous): identity
keys, their two hashes, the canonical order, weights and hash options, validated once.

Target identity: a target's *identity key* is the target itself when it is an
``int`` (in ``[0, 2**64)``), ``str`` or ``bytes``, and ``str(target)`` for any other
object. Two targets with the same identity key are duplicates (``ValueError``).
Each target gets two independent 64-bit hashes of its identity key,
``lbcore.hash_key(key, seed=seed)`` and ``lbcore.hash_key(key, seed=seed2)`` with
``seed2 = (seed + 0x9E3779B97F4A7C15) mod 2**64``. Selectors that must not depend on
the order targets are given in work in the *canonical order*: targets sorted by
(first hash, second hash, type tag, identity key).
"""
from cpython.unicode cimport PyUnicode_CheckExact
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_CheckExact
from libc.stdint cimport uint8_t, uint64_t

import numpy as np

from lbcore._hash import hash_key, parse_seed
from lbcore._hash cimport lb_hash_u64, lb_hash_bytes

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL

_GOLDEN = 0x9E3779B97F4A7C15
_U64 = (1 << 64) - 1
FIELDS = ("5-tuple", "3-tuple", "2-tuple")


def identity_key(target):
    """The identity key of a target (see the module docstring)."""
    if isinstance(target, (str, bytes)):
        return target
    if isinstance(target, int) and not isinstance(target, bool):
        if 0 <= target <= _U64:
            return target
        return str(target)
    return str(target)


def identity_tag(key):
    """0 for an int identity key, 1 for str, 2 for bytes (part of the canonical order)."""
    return 0 if isinstance(key, int) else (1 if isinstance(key, str) else 2)


def find_identity(keys, target):
    """Index of ``target`` among identity ``keys`` (linear scan), or ValueError."""
    k = identity_key(target)
    tag = identity_tag(k)
    for i, kk in enumerate(keys):
        if identity_tag(kk) == tag and kk == k:
            return i
    raise ValueError(f"target {target!r} is not in this selector")


def second_seed(seed):
    return (seed + _GOLDEN) & _U64


cdef inline object _identity_key(object target):
    # identity_key without a Python call: exact str/bytes/int first
    if PyUnicode_CheckExact(target) or PyBytes_CheckExact(target):
        return target
    if PyLong_CheckExact(target):
        if 0 <= target <= _U64:
            return target
        return str(target)
    return identity_key(target)


cdef inline int _hash_pair(object key, uint64_t s1, uint64_t s2, uint64_t* h) except -1:
    """``h[0], h[1] = hash_key(key, seed=s1), hash_key(key, seed=s2)`` for an
    identity key (the same bytes and ints hash_key hashes)."""
    cdef const char* p
    cdef Py_ssize_t n
    cdef uint64_t k
    if PyUnicode_CheckExact(key):
        p = PyUnicode_AsUTF8AndSize(key, &n)    # the UTF-8 bytes encode() gives
        h[0] = lb_hash_bytes(<const uint8_t*>p, <size_t>n, s1)
        h[1] = lb_hash_bytes(<const uint8_t*>p, <size_t>n, s2)
    elif PyBytes_CheckExact(key):
        p = PyBytes_AS_STRING(key)
        n = PyBytes_GET_SIZE(key)
        h[0] = lb_hash_bytes(<const uint8_t*>p, <size_t>n, s1)
        h[1] = lb_hash_bytes(<const uint8_t*>p, <size_t>n, s2)
    elif PyLong_CheckExact(key):
        k = key                                 # an identity key: in [0, 2**64)
        h[0] = lb_hash_u64(k, s1)
        h[1] = lb_hash_u64(k, s2)
    else:                                       # subclasses: hash_key's own rules
        h[0] = hash_key(key, seed=s1)
        h[1] = hash_key(key, seed=s2)
    return 0


def parse_targets(targets, seed, *, allow_empty=False):
    """Validate targets: (tuple of targets, identity keys, h1 uint64 array, h2 uint64
    array). One pass in C over the targets (no Python call per target for int, str
    and bytes identities)."""
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise TypeError(f"targets must be a sequence of targets, got {type(targets).__name__}")
    targets = tuple(targets)
    if not targets and not allow_empty:
        raise ValueError("targets must not be empty")
    cdef uint64_t s1 = parse_seed(seed)
    cdef uint64_t s2 = second_seed(s1)
    cdef Py_ssize_t i, n = len(targets)
    cdef list keys = [None] * n
    cdef bint has_str = False, has_bytes = False
    h1 = np.empty(n, dtype=np.uint64)
    h2 = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] a = h1
    cdef uint64_t[::1] b = h2
    cdef uint64_t h[2]
    for i in range(n):
        k = _identity_key((<tuple>targets)[i])
        keys[i] = k
        if isinstance(k, str):
            has_str = True
        elif isinstance(k, bytes):
            has_bytes = True
    # int, str and bytes keys never compare equal across types, so a set of the keys
    # finds duplicates; with both str and bytes present, (tag, key) pairs keep str and
    # bytes from being compared (a BytesWarning under python -b)
    if len(set((identity_tag(k), k) for k in keys) if has_str and has_bytes
           else set(keys)) != n:
        seen = set()
        for t, k in zip(targets, keys):
            if (identity_tag(k), k) in seen:
                raise ValueError(f"targets must be unique: {t!r} appears twice "
                                 "(by identity key)")
            seen.add((identity_tag(k), k))
    for i in range(n):
        _hash_pair(keys[i], s1, s2, h)
        a[i] = h[0]
        b[i] = h[1]
    return targets, keys, h1, h2


def canonical_order(keys, h1, h2):
    """Indices that sort targets into the canonical order."""
    a = np.asarray(h1, dtype=np.uint64)
    b = np.asarray(h2, dtype=np.uint64)
    # distinct h1 (all but always): one fast unstable sort of h1 gives the only order by
    # (h1, h2); otherwise the stable two-key sort, as sorted() was
    order = np.argsort(a)
    sa = a[order]
    last = max(len(sa) - 1, 0)
    if not np.any(sa[1:] == sa[:last]):
        return order.astype(np.int64, copy=False)
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    if np.any((sa[1:] == sa[:last]) & (sb[1:] == sb[:last])):
        # exact (h1, h2) ties between distinct targets are astronomically rare; settle
        # them by (type tag, identity key) so the order stays canonical
        al, bl = a.tolist(), b.tolist()
        order = sorted(range(len(keys)),
                       key=lambda i: (al[i], bl[i], identity_tag(keys[i]), keys[i]))
    return np.array(order, dtype=np.int64)


def parse_weights(weights, n):
    """None, or a float64 array of n finite non-negative weights, not all zero."""
    if weights is None:
        return None
    if isinstance(weights, dict):
        raise TypeError("weights must be a sequence of numbers aligned with targets, got dict")
    arr = np.asarray(weights)
    if arr.dtype == object or arr.dtype.kind not in "uif" or arr.dtype.kind == "b":
        raise TypeError(f"weights must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"weights must have one entry per target ({n}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("weights must be finite")
    if np.any(arr < 0):
        raise ValueError("weights must be >= 0")
    if not np.any(arr > 0):
        raise ValueError("weights must not all be zero")
    return np.ascontiguousarray(arr)


def parse_hash_options(fields, symmetric, flow_seed):
    if fields not in FIELDS:
        raise ValueError(f"fields must be one of {FIELDS}, got {fields!r}")
    if symmetric is not True and symmetric is not False:
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    return FIELDS.index(fields), bool(symmetric), parse_seed(flow_seed)


def as_hash_array(values, name="flows_or_hashes"):
    """A C-contiguous uint64 array from an integer array of hashes (no Flows)."""
    arr = np.asarray(values)
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.uint64)
    if arr.dtype.kind not in "ui" or arr.dtype.kind == "b":
        what = ("lbcore.Flows or an integer array of 64-bit hashes"
                if name == "flows_or_hashes" else "an integer array")
        raise TypeError(f"{name} must be {what}, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"{name}: hashes must be non-negative")
    return np.ascontiguousarray(arr, dtype=np.uint64)

