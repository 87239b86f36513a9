# cython: language_level=3
"""Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
Network Load Balancer", NSDI 2016, section 3.4), documented in docs/consistent.md and
modelled in tests/reference/maglev_ref.py.

Population (paper, Pseudocode 1): backend i has the permutation
``(offset_i + j * skip_i) mod M`` of the M slots (M prime, 1 <= skip < M); in turns,
each backend claims its next preferred slot that is still empty, until the table is
full. Weighted population (lbcore's rule, the same idea as Envoy's weighted Maglev):
population runs in rounds t = 1, 2, ...; in round t backend i takes its (k+1)-th turn
only when ``t * (w_i / w_max) >= k + 1``, so the heaviest backend takes a turn every
round and a backend of half its weight every second round. With equal weights every
backend takes a turn every round: the paper's algorithm exactly.
"""
cimport cython
import functools
import warnings

import numpy as np

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t
from libc.stdlib cimport malloc, free

from lbcore._hash import parse_seed
from lbcore._targetset import (parse_targets, canonical_order, parse_weights,
                               parse_hash_options, as_hash_array, identity_key,
                               identity_tag as _tag)

include "_selector.pxi"


cdef int lb_maglev_populate(
        int32_t n, const uint64_t* offsets, const uint64_t* skips, const double* weights,
        uint64_t m, uint64_t* pos, uint64_t* turns, int32_t* table) noexcept nogil:
    """Fill ``table[0..m)`` with backend indices; returns 0, or -1 when no backend
    can take a slot (n == 0 or every weight is zero). ``weights`` may be NULL
    (equal weights). ``pos``/``turns`` are n-entry scratch buffers."""
    cdef int32_t i
    cdef uint64_t s, c, skip, filled = 0, t = 0
    cdef double wmax = 0.0
    if n <= 0 or m == 0:
        return -1
    if weights != NULL:
        for i in range(n):
            if weights[i] > wmax:
                wmax = weights[i]
        if not wmax > 0.0:
            return -1
    for s in range(m):
        table[s] = -1
    for i in range(n):
        pos[i] = offsets[i]
        turns[i] = 0
    while filled < m:
        t += 1
        for i in range(n):
            if weights != NULL:
                if not weights[i] > 0.0:
                    continue
                if <double>t * (weights[i] / wmax) < <double>(turns[i] + 1):
                    continue
            turns[i] += 1
            c = pos[i]
            skip = skips[i]
            while table[c] >= 0:
                c += skip
                if c >= m:
                    c -= m
            table[c] = i
            c += skip
            if c >= m:
                c -= m
            pos[i] = c
            filled += 1
            if filled == m:
                break
    return 0


cdef int32_t lb_maglev_lookup(const int32_t* table, uint64_t m, uint64_t h) noexcept nogil:
    return table[lb_maglev_slot(h, m)]


cdef void lb_maglev_lookup_many(
        const int32_t* table, uint64_t m, size_t n, const uint64_t* hashes,
        int32_t* out) noexcept nogil:
    cdef size_t i
    for i in range(n):
        out[i] = table[lb_maglev_slot(hashes[i], m)]


cdef enum:
    _SELECT_CHUNK = 16384     # flows hashed per step of lb_maglev_select_flows (128 KB)
    _SMALL_CHUNK = 512        # on the stack, for small batches (4 KB)


cdef void lb_maglev_select_flows(
        const int32_t* table, uint64_t m, size_t n,
        const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo,
        const uint64_t* dst_hi, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t seed, int32_t* out) noexcept nogil:
    # Hash a chunk into a scratch buffer with the batch kernel (branch-free, per
    # instruction set), then look the chunk up: the two-call path select_many(flow_hash(f))
    # without its 8-byte-per-flow array. (Hashing flow by flow with lb_flow_hash_keyed
    # branched on "has an ISN" and mispredicted on mixed TCP/UDP traffic.) 16,384 flows
    # (128 KB, in L2) per chunk: 1,024-flow chunks measured ~1.5x slower than two calls.
    cdef uint64_t small[_SMALL_CHUNK]
    cdef uint64_t* h = small
    cdef size_t chunk = _SMALL_CHUNK, start = 0, stop, i
    if n > _SMALL_CHUNK:
        h = <uint64_t*>malloc(_SELECT_CHUNK * sizeof(uint64_t))
        if h != NULL:
            chunk = _SELECT_CHUNK
        else:
            h = small           # no memory: the same results in smaller steps
    while start < n:
        stop = start + chunk if n - start > chunk else n
        lb_flow_hash_many(stop - start, proto + start, flags + start, src_hi + start,
                          src_lo + start, dst_hi + start, dst_lo + start, sport + start,
                          dport + start, seq + start, fields, symmetric, seed, h)
        for i in range(stop - start):
            out[start + i] = table[lb_maglev_slot(h[i], m)]
        start = stop
    if h != small:
        free(h)


# ---------------------------------------------------------------- Python API

class MaglevTableSizeWarning(UserWarning):
    """A Maglev table smaller than 100x the number of targets: the paper (section
    3.4, 5.3) sizes M >> N; small tables spread slots unevenly under weights and
    move more slots on churn."""


_MAX_TABLE = (1 << 31) - 1

# Slots per target below which a table is "small" (Maglev paper, section 3.4: M >> N,
# "M > 100 N"): the warning below and maglev_table_size's growth rule use this one number.
MIN_SLOTS_PER_TARGET = 100
DEFAULT_TABLE_SIZE = 65537


def is_prime(n):
    """Deterministic Miller-Rabin for n < 3.3e24 (bases 2..41)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for p in small:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in small:
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def maglev_table_size(n_targets, table_size=DEFAULT_TABLE_SIZE):
    """The Maglev table size for ``n_targets`` targets: ``table_size`` when it is at
    least ``MIN_SLOTS_PER_TARGET`` (100) slots per target, else the smallest prime
    >= 100 x ``n_targets`` (the paper's M > 100 N). ``lbcore.elb``'s NLB/GWLB and the
    simulator both size their tables with this one rule."""
    if isinstance(n_targets, bool) or not hasattr(n_targets, "__index__"):
        raise TypeError(f"n_targets must be an int, got {type(n_targets).__name__}")
    n = n_targets.__index__()
    if n < 0:
        raise ValueError(f"n_targets must be >= 0, got {n}")
    m = _check_table_size(table_size)
    if m >= MIN_SLOTS_PER_TARGET * n:
        return m
    m = MIN_SLOTS_PER_TARGET * n
    if m > _MAX_TABLE:
        raise ValueError(f"n_targets {n} needs a table above 2**31 slots")
    while not is_prime(m):
        m += 1
    return m


def _check_table_size(table_size):
    if isinstance(table_size, bool) or not hasattr(table_size, "__index__"):
        raise TypeError(f"table_size must be an int, got {type(table_size).__name__}")
    m = table_size.__index__()
    if not 2 <= m <= _MAX_TABLE:
        raise ValueError(f"table_size must be a prime in [2, 2**31), got {m}")
    if not is_prime(m):
        raise ValueError(f"table_size must be prime (every skip must generate a full "
                         f"permutation of the slots), got {m}")
    return m


cdef object _populate(object offsets, object skips, object weights, uint64_t m):
    cdef const uint64_t[::1] off = offsets
    cdef const uint64_t[::1] sk = skips
    cdef const double[::1] w
    cdef const double* wp = NULL
    cdef int32_t n = off.shape[0]
    table = np.empty(m, dtype=np.int32)
    scratch = np.empty((2, max(n, 1)), dtype=np.uint64)
    cdef uint64_t[:, ::1] scr = scratch
    cdef int32_t[::1] t = table
    cdef int rc
    if weights is not None:
        w = weights
        wp = &w[0]
    with nogil:
        rc = lb_maglev_populate(n, &off[0], &sk[0], wp, m, &scr[0, 0], &scr[1, 0], &t[0])
    if rc != 0:
        raise ValueError("weights must not all be zero")
    return table


def maglev_populate(offsets, skips, table_size, weights=None):
    """The paper's population: explicit per-backend ``offsets`` and ``skips`` →
    an int32 array of backend indices of length ``table_size`` (prime).

    ``offsets[i]`` in ``[0, table_size)``, ``skips[i]`` in ``[1, table_size)``;
    ``weights`` (optional, finite, >= 0, not all zero) use lbcore's weighted rule
    (module docstring). Backend i's claims are tried in index order within a
    round, as in the paper's pseudocode.
    """
    m = _check_table_size(table_size)
    off = as_hash_array(offsets, "offsets")
    sk = as_hash_array(skips, "skips")
    if off.shape[0] == 0:
        raise ValueError("offsets must not be empty")
    if sk.shape[0] != off.shape[0]:
        raise ValueError(f"skips must have the same length as offsets "
                         f"({off.shape[0]}), got {sk.shape[0]}")
    if off.shape[0] >= (1 << 31):
        raise ValueError("offsets: too many backends")
    if np.any(off >= np.uint64(m)):
        raise ValueError(f"offsets must be in [0, table_size={m})")
    if np.any(sk < 1) or np.any(sk >= np.uint64(m)):
        raise ValueError(f"skips must be in [1, table_size={m})")
    w = parse_weights(weights, off.shape[0])
    return _populate(off, sk, w, m)


cdef int _not_initialised() except -1:
    raise ValueError("this Maglev has no table: it was created without __init__ "
                     "(use Maglev(targets, ...))")


@cython.embedsignature(False)
cdef class Maglev:
    """Maglev(targets, *, weights=None, table_size=65537, seed=0, fields="5-tuple", symmetric=False, flow_seed=0)
--

Maglev lookup table over ``targets`` (see docs/consistent.md).

    ``Maglev(targets, *, weights=None, table_size=65537, seed=0, fields="5-tuple",
    symmetric=False, flow_seed=0)``. Each target's offset and skip come from two
    seeded hashes of its identity (``offset = h1 mod M``, ``skip = h2 mod (M-1) + 1``,
    paper section 3.4), and population runs in the canonical target order, so the
    table maps each slot to the same target whatever the order of ``targets``.
    Flows are hashed with ``lbcore.flow_hash(flow, fields=fields,
    symmetric=symmetric, seed=flow_seed)``; an int is taken as an already computed
    64-bit hash. A hash h selects slot ``(h * M) >> 64``.
    """
    cdef readonly object targets
    cdef readonly object weights
    cdef readonly uint64_t table_size
    cdef readonly uint64_t seed
    cdef readonly object fields
    cdef readonly bint symmetric
    cdef readonly uint64_t flow_seed
    cdef object _table
    cdef object _keys
    cdef object _index
    cdef const int32_t* _tab
    cdef lb_hash_keys _hkeys
    cdef int _fields

    def __init__(self, targets, *, weights=None, table_size=65537, seed=0,
                 fields="5-tuple", symmetric=False, flow_seed=0):
        m = _check_table_size(table_size)
        targets, keys, h1, h2 = parse_targets(targets, seed)
        n = len(targets)
        w = parse_weights(weights, n)
        fcode, sym, fs = parse_hash_options(fields, symmetric, flow_seed)
        if m < MIN_SLOTS_PER_TARGET * n:
            warnings.warn(f"Maglev table_size {m} is below {MIN_SLOTS_PER_TARGET}x the number "
                          f"of targets "
                          f"({n}): expect uneven slot shares and extra churn",
                          MaglevTableSizeWarning, stacklevel=2)
        order = canonical_order(keys, h1, h2)
        mm = np.uint64(m)
        offsets = np.ascontiguousarray(h1[order] % mm)
        skips = np.ascontiguousarray(h2[order] % np.uint64(m - 1) + np.uint64(1))
        cw = None if w is None else np.ascontiguousarray(w[order])
        canon = _populate(offsets, skips, cw, m)
        table = order.astype(np.int32)[canon]
        table.flags.writeable = False
        if w is not None:
            w.flags.writeable = False
        self._set(table, targets, keys, w, m, parse_seed(seed), fields, fcode, sym, fs)

    cdef _set(self, table, targets, keys, w, uint64_t m, uint64_t seed, fields, int fcode,
              bint sym, uint64_t fs):
        # Everything is computed before: from here no Python code runs (GIL held), so a
        # thread calling select* meanwhile sees the old table or the new one, never a mix
        # (a re-run __init__ is a rebuild under concurrent readers).
        cdef const int32_t[::1] tv = table
        self._fields = fcode
        self._table = table
        self._tab = &tv[0]
        self.targets = targets
        self._keys = keys
        self._index = None
        self.weights = w
        self.table_size = m
        self.seed = seed
        self.fields = fields
        self.symmetric = sym
        self.flow_seed = fs
        lb_hash_keys_init(&self._hkeys, fs)

    @property
    def table(self):
        """The lookup table: read-only int32 array of target indices, one per slot."""
        return self._table

    def __len__(self):
        return len(self.targets)

    def __reduce__(self):
        # rebuilt from the constructor arguments: population is deterministic, so
        # the table (and every decision) is the same; no lock is part of the state
        if self._tab == NULL:
            raise TypeError("cannot pickle a Maglev that was never initialised")
        return (_restore_maglev, (type(self), self.targets, dict(
            weights=self.weights, table_size=self.table_size, seed=self.seed,
            fields=self.fields, symmetric=self.symmetric, flow_seed=self.flow_seed)))

    def __repr__(self):
        return f"<Maglev: {len(self.targets)} targets, table_size={self.table_size}>"

    def select_index(self, flow_or_hash):
        """Index (into ``targets``) of the target for one flow or 64-bit hash."""
        if self._tab == NULL:
            _not_initialised()
        # the key first (it may run Python code: __index__), then the table read with
        # no Python code in between, so a concurrent rebuild is seen whole or not at all
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return self._tab[lb_maglev_slot(key, self.table_size)]

    def select(self, flow_or_hash):
        """The target for one flow or 64-bit hash."""
        if self._tab == NULL:
            _not_initialised()
        cdef uint64_t key = _key_of(flow_or_hash, &self._hkeys, self._fields,
                                    self.symmetric)
        return self.targets[self._tab[lb_maglev_slot(key, self.table_size)]]

    def select_many(self, flows_or_hashes):
        """int32 target indices for ``lbcore.Flows`` or an array of uint64 hashes."""
        if self._tab == NULL:
            _not_initialised()
        columns = getattr(flows_or_hashes, "__lbcore_columns__", None)
        if columns is not None:
            c = columns()
            return self._select_cols(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8])
        hashes = as_hash_array(flows_or_hashes)
        return self._select_hashes(hashes)

    cdef object _select_hashes(self, const uint64_t[::1] h):
        cdef Py_ssize_t n = h.shape[0]
        out = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] o = out
        # Local copies taken together (no Python code between them): the nogil loop
        # reads only these, and ``tab`` keeps their buffer alive, whatever a concurrent
        # __init__ does to self meanwhile.
        tab = self._table
        cdef const int32_t* tp = self._tab
        cdef uint64_t m = self.table_size
        if n:
            with nogil:
                lb_maglev_lookup_many(tp, m, n, &h[0], &o[0])
        del tab
        return out

    cdef object _select_cols(
            self, const uint8_t[::1] proto, const uint8_t[::1] flags,
            const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
            const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
            const uint16_t[::1] sport, const uint16_t[::1] dport, const uint32_t[::1] seq):
        cdef Py_ssize_t n = proto.shape[0]
        _check_columns(n, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq)
        out = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] o = out
        tab = self._table           # as in _select_hashes: one consistent snapshot
        cdef const int32_t* tp = self._tab
        cdef uint64_t m = self.table_size
        cdef int fcode = self._fields
        cdef bint sym = self.symmetric
        cdef uint64_t fs = self.flow_seed
        if n:
            with nogil:
                lb_maglev_select_flows(tp, m, n, &proto[0], &flags[0],
                                       &src_hi[0], &src_lo[0], &dst_hi[0], &dst_lo[0],
                                       &sport[0], &dport[0], &seq[0], fcode, sym, fs, &o[0])
        del tab
        return out

    def _rebuild(self, targets, weights):
        return Maglev(targets, weights=weights, table_size=self.table_size, seed=self.seed,
                      fields=self.fields, symmetric=self.symmetric, flow_seed=self.flow_seed)

    def index_of(self, target):
        """Index of ``target`` (matched by identity key) in ``targets``."""
        if self._index is None:
            self._index = {(_tag(k), k): i for i, k in enumerate(self._keys)}
        k = identity_key(target)
        try:
            return self._index[(_tag(k), k)]
        except KeyError:
            raise ValueError(f"target {target!r} is not in this table") from None

    def without(self, target):
        """A new table without ``target`` (other targets keep their weights)."""
        i = self.index_of(target)
        targets = self.targets[:i] + self.targets[i + 1:]
        if not targets:
            raise ValueError("target: removing the only target leaves an empty table")
        w = None if self.weights is None else np.delete(self.weights, i)
        return self._rebuild(targets, w)

    def with_targets(self, targets, *, weights=None):
        """A new table over ``targets`` with this table's size, seed and hash options."""
        return self._rebuild(targets, weights)

    def diff(self, Maglev other):
        """Slots (int64 array) whose target, by identity, differs in ``other``."""
        if other.table_size != self.table_size:
            raise ValueError(f"other must have the same table_size ({self.table_size}), "
                             f"got {other.table_size}")
        ids = {}
        for k in self._keys:
            ids.setdefault((_tag(k), k), len(ids))
        mine = np.array([ids[(_tag(k), k)] for k in self._keys], dtype=np.int64)
        theirs = np.array([ids.setdefault((_tag(k), k), len(ids)) for k in other._keys],
                          dtype=np.int64)
        return np.flatnonzero(mine[self._table] != theirs[other._table])


def _restore_maglev(cls, targets, kwargs):
    """Unpickle a Maglev (see Maglev.__reduce__): the table-size warning was given
    when the original was built."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaglevTableSizeWarning)
        return cls(targets, **kwargs)
