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
import numpy as np

from lbcore._hash import hash_key, parse_seed

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


def parse_targets(targets, seed, *, allow_empty=False):
    """Validate targets: (tuple of targets, h1 uint64 array, h2 uint64 array)."""
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise TypeError(f"targets must be a sequence of targets, got {type(targets).__name__}")
    targets = tuple(targets)
    if not targets and not allow_empty:
        raise ValueError("targets must not be empty")
    s1 = parse_seed(seed)
    s2 = second_seed(s1)
    keys = [identity_key(t) for t in targets]
    if len(set((identity_tag(k), k) for k in keys)) != len(keys):
        seen = set()
        for t, k in zip(targets, keys):
            if (identity_tag(k), k) in seen:
                raise ValueError(f"targets must be unique: {t!r} appears twice "
                                 "(by identity key)")
            seen.add((identity_tag(k), k))
    h1 = [hash_key(k, seed=s1) for k in keys]
    h2 = [hash_key(k, seed=s2) for k in keys]
    return targets, keys, np.array(h1, dtype=np.uint64), np.array(h2, dtype=np.uint64)


def canonical_order(keys, h1, h2):
    """Indices that sort targets into the canonical order."""
    a = np.asarray(h1, dtype=np.uint64).tolist()
    b = np.asarray(h2, dtype=np.uint64).tolist()
    order = sorted(range(len(keys)), key=lambda i: (a[i], b[i]))
    # exact (h1, h2) ties between distinct targets are astronomically rare; settle
    # them by (type tag, identity key) so the order stays canonical
    for j in range(len(order) - 1):
        if a[order[j]] == a[order[j + 1]] and b[order[j]] == b[order[j + 1]]:
            order = sorted(range(len(keys)),
                           key=lambda i: (a[i], b[i], identity_tag(keys[i]), keys[i]))
            break
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

