# cython: language_level=3
"""Connection tracking: ``FlowTable`` remembers the target of every live flow.

See _flowtable.pxd for the layout, docs/consistent.md for the semantics, and
tests/reference/flowtable_ref.py for the model.

Rules:

* an entry is *expired* at time ``now`` when ``now - last_seen > timeout`` of its
  class (AWS: a connection idle for longer than the idle timeout is closed) (TCP = protocol 6, UDP = 17, other); a lookup of an expired entry removes it
  and reports a miss;
* a hit refreshes ``last_seen`` and makes the entry the most recently used;
* inserting into a full table first evicts one entry: an expired one if any (the one
  idle longest), else the one idle longest (least recently used) of all;
* ``now`` never decreases (checked at the Python boundary).
"""
cimport cython
from lbcore._handle import make_handle
import math
import sys

import numpy as np

from libc.math cimport INFINITY
from libc.string cimport memcpy
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t, uintptr_t

from lbcore._flow cimport Flow
from lbcore._lock cimport lb_lock_init, lb_lock_free, lb_lock_acquire, lb_lock_release
from lbcore._flow import Flow as _PyFlow
from lbcore._hash cimport (lb_hash_keys_init, lb_flow_hash_keyed, LB_FLOW_HAS_SEQ,
                           LB_FIELDS_5, LB_FIELDS_2)

cdef uint64_t _TABLE_SEED = 0x3C6EF372FE94F82BULL
cdef uint8_t _FREE = 255


cdef void lb_flowtable_make_key(
        lb_flow_key* k, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        int fields, int symmetric) noexcept nogil:
    """The exported form of ``_ft_make_key`` (_flowtable.pxd), which documents it."""
    _ft_make_key(k, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, fields,
                 symmetric)


cdef inline uint64_t _make_key(
        const lb_flowtable* t, lb_flow_key* k, uint8_t proto, uint8_t flags,
        uint64_t src_hi, uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo,
        uint16_t sport, uint16_t dport, uint32_t seq) noexcept nogil:
    """Canonical identity of a flow (5-tuple), and the table's own probe hash."""
    _ft_make_key(k, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                 LB_FIELDS_5, t.symmetric)
    return lb_flow_hash_keyed(&t.hkeys, k.proto, k.flags, k.src_hi, k.src_lo, k.dst_hi,
                              k.dst_lo, k.sport, k.dport, k.seq, LB_FIELDS_5, 0)


cdef void _delete(lb_flowtable* t, int32_t e) noexcept nogil:
    """Remove entry e: backward-shift deletion in the index, unlink, free."""
    cdef uint64_t i = <uint64_t>t.ent[e].slot, j, home
    cdef int32_t f
    while True:
        j = (i + 1) & t.mask
        while True:
            f = t.index[j]
            if f < 0:
                t.index[i] = -1
                break
            home = t.ent[f].hash & t.mask
            # f may stay unless its home lies cyclically outside (i, j]
            if (i <= j and i < home and home <= j) or (i > j and (i < home or home <= j)):
                j = (j + 1) & t.mask
                continue
            t.index[i] = f
            t.ent[f].slot = <int32_t>i
            i = j
            break
        if f < 0:
            break
    _unlink(t, e)
    t.ent[e].cls = _FREE
    t.ent[e].target = -1
    t.ent[e].next = t.free_head
    t.free_head = e
    t.size -= 1


cdef void _evict_one(lb_flowtable* t, double now) noexcept nogil:
    cdef int c
    cdef int32_t h, best = -1
    cdef bint exp, best_exp = False
    for c in range(LB_FT_CLASSES):
        h = t.head[c]
        if h < 0:
            continue
        exp = _expired(t, h, now)
        if best < 0 or (exp and not best_exp) or (exp == best_exp and
                                                  t.ent[h].stamp < t.ent[best].stamp):
            best = h
            best_exp = exp
    if best >= 0:
        _delete(t, best)


cdef int32_t lb_flowtable_lookup(
        lb_flowtable* t, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        double now) noexcept nogil:
    """Target of a live flow (refreshing it), or -1 (absent, or expired: removed)."""
    cdef lb_flow_key k
    cdef uint64_t h = _make_key(t, &k, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                                sport, dport, seq)
    # a 5-tuple entry's class is its protocol's (lb_flowtable_insert), so _ft_find's
    # class move is a plain refresh here
    cdef int32_t e = _ft_find(t, &k, h, _ft_class_of(proto), now)
    return t.ent[e].target if e >= 0 else -1


cdef int32_t lb_flowtable_insert(
        lb_flowtable* t, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        int32_t target, double now) noexcept nogil:
    """Record flow → target (evicting when full) and return the flow's target: the
    existing one if the flow is already live. A negative target is refused (-1)."""
    cdef lb_flow_key k
    cdef uint64_t s
    if target < 0:
        return -1
    cdef uint64_t h = _make_key(t, &k, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                                sport, dport, seq)
    cdef int32_t e = _find(t, &k, h, &s)
    t.now = now
    if e >= 0:
        if _expired(t, e, now):
            t.ent[e].target = target
            t.ent[e].mark = 0
        _touch(t, e, now)
        return t.ent[e].target
    return t.ent[_new_entry(t, &k, h, _ft_class_of(proto), target, now, s)].target


cdef inline int32_t _pop_free(lb_flowtable* t) noexcept nogil:
    """An unused entry (the caller knows size < capacity): a freed one, else the next
    never-used one -- the pool is not walked at allocation, so a large table costs
    only the pages its flows touch."""
    cdef int32_t e = t.free_head
    if e >= 0:
        t.free_head = t.ent[e].next
    else:
        e = t.fresh
        t.fresh += 1
    return e


cdef void _materialise(lb_flowtable* t) noexcept nogil:
    """Put every never-used entry on the free list (before a snapshot)."""
    cdef int32_t e
    for e in range(t.capacity - 1, t.fresh - 1, -1):
        t.ent[e].target = -1
        t.ent[e].cls = _FREE
        t.ent[e].prev = -1
        t.ent[e].slot = -1
        t.ent[e].next = t.free_head
        t.free_head = e
    t.fresh = t.capacity


cdef int32_t _new_entry(lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls,
                        int32_t target, double now, uint64_t s) noexcept nogil:
    """Store a key that is not in the table; ``s`` is the empty index slot that ended
    its probe. Evicts first when the table is full. Returns the entry."""
    cdef int32_t e
    if t.size >= t.capacity:
        _evict_one(t, now)
        _find(t, k, h, &s)           # the deletion may have shifted the probe run
    e = _pop_free(t)
    t.size += 1
    t.ent[e].key = k[0]
    t.ent[e].hash = h
    t.ent[e].target = target
    t.ent[e].mark = 0
    t.ent[e].cls = <uint8_t>cls
    t.ent[e].slot = <int32_t>s
    t.index[s] = e
    _link_tail(t, e)
    t.ent[e].last_seen = now
    t.stamp += 1
    t.ent[e].stamp = t.stamp
    return e


cdef int32_t lb_flowtable_find(
        lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls, double now) noexcept nogil:
    """Entry of the live flow with canonical key ``k`` (see lb_flowtable_make_key) and
    probe hash ``h`` — any function of the key, the same for every call on this table —
    refreshed at ``now`` and moved to timeout class ``cls`` (0 TCP, 1 UDP, 2 other); or
    -1 (absent, or expired under its previous class: removed). Returns -1 without
    touching the table for a class outside 0..2 (as lb_flowtable_add)."""
    if cls < 0 or cls >= LB_FT_CLASSES:
        return -1
    return _ft_find(t, k, h, cls, now)


cdef int32_t lb_flowtable_add(
        lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls, int32_t target,
        double now) noexcept nogil:
    """Entry recording key ``k`` (probe hash ``h``, class ``cls``) → ``target`` at
    ``now`` (mark 0), evicting as lb_flowtable_insert does when full. A key already
    stored keeps its entry: it is refreshed and, when expired, retargeted (as
    lb_flowtable_insert). Returns -1 for a negative target or class outside 0..2."""
    cdef uint64_t s
    cdef int32_t e
    if target < 0 or cls < 0 or cls >= LB_FT_CLASSES:
        return -1
    e = _find(t, k, h, &s)
    t.now = now
    if e >= 0:
        if _expired(t, e, now):
            t.ent[e].target = target
            t.ent[e].mark = 0
        _touch_cls(t, e, cls, now)
        return e
    return _new_entry(t, k, h, cls, target, now, s)


cdef void lb_flowtable_remove(lb_flowtable* t, int32_t entry) noexcept nogil:
    """Remove a stored entry (an index returned by find/add); anything else is ignored."""
    if 0 <= entry < t.fresh and t.ent[entry].cls != _FREE:
        _delete(t, entry)


cdef size_t lb_flowtable_lookup_many(
        lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
        const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
        const uint32_t* seq, double now, int32_t* out) noexcept nogil:
    """out[i] = lb_flowtable_lookup(flow i) in order; returns the number of misses."""
    cdef size_t i, misses = 0
    for i in range(n):
        out[i] = lb_flowtable_lookup(t, proto[i], flags[i], src_hi[i], src_lo[i],
                                     dst_hi[i], dst_lo[i], sport[i], dport[i], seq[i], now)
        if out[i] < 0:
            misses += 1
    return misses


cdef void lb_flowtable_insert_many(
        lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
        const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
        const uint32_t* seq, const int32_t* targets, double now, int32_t* out) noexcept nogil:
    """For every i with out[i] < 0 (a miss), in order: out[i] = insert(flow i,
    targets[i])."""
    cdef size_t i
    for i in range(n):
        if out[i] < 0:
            out[i] = lb_flowtable_insert(t, proto[i], flags[i], src_hi[i], src_lo[i],
                                         dst_hi[i], dst_lo[i], sport[i], dport[i], seq[i],
                                         targets[i], now)


# ---- route_many's two passes: the lookup keeps, per miss, its probe hash and the
# empty slot that ended its probe, so the insert neither hashes again nor probes again
# from the home slot (the slots before it are still taken by other keys: inserts only
# fill empty slots). A deletion moves entries (backward shift), so a miss probed before
# the last deletion, or any miss after an eviction, probes from its home slot again.

cdef size_t _lookup_many_rec(
        lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
        const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
        const uint32_t* seq, double now, int32_t* out, uint64_t* hs, uint64_t* ss,
        size_t* stale) noexcept nogil:
    """lb_flowtable_lookup_many, recording hs[i] / ss[i] for every miss i; *stale: the
    misses below it were probed before a deletion."""
    cdef size_t i, misses = 0
    cdef lb_flow_key k
    cdef uint64_t h, sl
    cdef int32_t e
    stale[0] = 0
    for i in range(n):
        h = _make_key(t, &k, proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i],
                      dst_lo[i], sport[i], dport[i], seq[i])
        e = _find(t, &k, h, &sl)        # as _ft_find (lb_flowtable_lookup)
        t.now = now
        if e >= 0 and _expired(t, e, now):
            lb_flowtable_remove(t, e)
            e = -1
            stale[0] = i + 1
        if e >= 0:
            _touch_cls(t, e, _ft_class_of(proto[i]), now)
            out[i] = t.ent[e].target
        else:
            out[i] = -1
            hs[i] = h
            ss[i] = sl
            misses += 1
    return misses


cdef void _insert_many_rec(
        lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
        const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
        const uint32_t* seq, const int32_t* targets, double now, int32_t* out,
        const uint64_t* hs, const uint64_t* ss, size_t stale) noexcept nogil:
    """lb_flowtable_insert_many after _lookup_many_rec (same table, nothing changed in
    between): the same entries, slots and order, one probe per miss."""
    cdef size_t i
    cdef lb_flow_key k
    cdef uint64_t h, sl
    cdef int32_t e
    cdef bint moved = False
    for i in range(n):
        if out[i] >= 0:
            continue
        if targets[i] < 0:
            out[i] = -1
            continue
        _ft_make_key(&k, proto[i], flags[i], src_hi[i], src_lo[i], dst_hi[i], dst_lo[i],
                     sport[i], dport[i], seq[i], LB_FIELDS_5, t.symmetric)
        h = hs[i]
        if i < stale or moved:
            e = _find(t, &k, h, &sl)
        else:
            sl = ss[i]
            while True:                 # _find, resumed where the lookup stopped
                e = t.index[sl]
                if e < 0:
                    break
                if t.ent[e].hash == h and _key_eq(&t.ent[e].key, &k):
                    break
                sl = (sl + 1) & t.mask
        t.now = now                     # from here as lb_flowtable_insert
        if e >= 0:
            if _expired(t, e, now):
                t.ent[e].target = targets[i]
                t.ent[e].mark = 0
            _touch(t, e, now)
            out[i] = t.ent[e].target
            continue
        if t.size >= t.capacity:
            moved = True                # _new_entry evicts: entries shift
        out[i] = t.ent[_new_entry(t, &k, h, _ft_class_of(proto[i]), targets[i], now,
                                  sl)].target


cdef int32_t lb_flowtable_forget_target(lb_flowtable* t, int32_t target) noexcept nogil:
    """Remove every entry of ``target``; returns how many."""
    cdef int32_t e, count = 0
    for e in range(t.fresh):
        if t.ent[e].cls != _FREE and t.ent[e].target == target:
            _delete(t, e)
            count += 1
    return count


cdef int32_t lb_flowtable_expire(lb_flowtable* t, double now) noexcept nogil:
    """Remove every expired entry; returns how many."""
    cdef int c
    cdef int32_t count = 0
    t.now = now
    for c in range(LB_FT_CLASSES):
        while t.head[c] >= 0 and _expired(t, t.head[c], now):
            _delete(t, t.head[c])
            count += 1
    return count


# ---------------------------------------------------------------- Python API

DEFAULT_IDLE_TIMEOUT = {"tcp": 350.0, "udp": 120.0, "other": 120.0}
_CLASSES = ("tcp", "udp", "other")
# 2**26 entries: 6 GiB of entries (96 bytes each) + 512 MiB of index, already more
# than a simulation needs; beyond it the allocation itself is the failure (2**30
# would be 96 GiB up front), so a larger capacity is refused before allocating.
MAX_CAPACITY = 1 << 26
_ENTRY_BYTES = sizeof(lb_ft_entry)


def capacity_error(name, cap, low=1):
    """The ValueError for a capacity outside [low, MAX_CAPACITY], naming the memory
    a capacity above the limit would take."""
    msg = f"{name} must be in [{low}, 2**26], got {cap}"
    if cap > MAX_CAPACITY:
        slots = 2
        while slots < 2 * cap:
            slots *= 2
        gib = (cap * _ENTRY_BYTES + slots * 4) / 2**30
        msg += (f" (it would need {gib:.1f} GiB: {_ENTRY_BYTES} bytes per entry plus the "
                f"index; the limit 2**26 takes {(MAX_CAPACITY * _ENTRY_BYTES + 2**29) / 2**30:.1f} GiB)")
    return ValueError(msg)


def flow_columns(flows, name="flows"):
    """The nine columns of a ``lbcore.Flows`` as contiguous arrays of the kernels'
    dtypes and one length, or TypeError/ValueError naming ``name``."""
    columns = getattr(flows, "__lbcore_columns__", None)   # the Flows batch protocol
    if columns is None:
        raise TypeError(f"{name} must be lbcore.Flows, got {type(flows).__name__}")
    cols = tuple(columns())
    if len(cols) != 9:
        raise ValueError(f"{name}: expected 9 columns, got {len(cols)}")
    n = None
    out = []
    for c, dt in zip(cols, _COLUMN_DTYPES):
        if not isinstance(c, np.ndarray) or c.dtype != dt or c.ndim != 1:
            raise ValueError(f"{name}: columns must be one-dimensional {_COLUMN_DTYPES} "
                             f"arrays")
        if n is None:
            n = c.shape[0]
        elif c.shape[0] != n:
            raise ValueError(f"{name}: columns must have one length, got {c.shape[0]} "
                             f"and {n}")
        out.append(np.ascontiguousarray(c))
    return tuple(out)


_COLUMN_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint8), np.dtype(np.uint64),
                  np.dtype(np.uint64), np.dtype(np.uint64), np.dtype(np.uint64),
                  np.dtype(np.uint16), np.dtype(np.uint16), np.dtype(np.uint32))


def _timeout_value(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                              np.floating)):
        raise TypeError(f"{name} must be a number of seconds, got {type(v).__name__}")
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {v}")
    return v


def _parse_idle_timeout(idle_timeout):
    out = dict(DEFAULT_IDLE_TIMEOUT)
    if idle_timeout is None:
        return out
    if isinstance(idle_timeout, dict):
        for k, v in idle_timeout.items():
            if k not in _CLASSES:
                raise ValueError(f"idle_timeout keys must be among {_CLASSES}, got {k!r}")
            out[k] = _timeout_value(v, f"idle_timeout[{k!r}]")
        return out
    v = _timeout_value(idle_timeout, "idle_timeout")
    return {k: v for k in _CLASSES}


@cython.embedsignature(False)
cdef class FlowTable:
    """FlowTable(capacity, *, idle_timeout=None, symmetric=False)
--

Connection tracking: each live flow stays on the target it was first sent to.

    ``FlowTable(capacity, *, idle_timeout=None, symmetric=False)``.

    ``idle_timeout``: seconds a flow may stay idle before it is forgotten; ``None``
    is AWS's Network Load Balancer default (TCP 350 s, UDP 120 s, other protocols
    120 s), a number applies to every protocol, a dict sets some of ``"tcp"``,
    ``"udp"``, ``"other"`` (the rest keep the defaults). AWS lets a TCP listener's
    timeout be set in 60..6000 s; that range is the NLB policy object's to enforce,
    this table accepts any positive time (simulations).

    A flow is keyed by its full identity (protocol, addresses, ports, and the TCP
    initial sequence number when present); ``symmetric=True`` keys a flow and its
    reverse (addresses and ports swapped) as one entry and ignores the sequence
    number, for GWLB's two-way stickiness. At most ``capacity`` entries are kept:
    inserting into a full table evicts an expired entry if there is one, else the
    flow idle longest. ``now`` is seconds as a float and must never decrease.
    """

    def __cinit__(self, *args, **kwargs):
        # A valid empty one-entry table before __init__ runs: an object made with
        # __new__ alone, or whose __init__ raised, is safe to call (it never
        # dereferences a NULL buffer).
        lb_lock_init(&self._lock)
        FlowTable.__init__(self, 1)

    def __dealloc__(self):
        lb_lock_free(&self._lock)

    def __init__(self, capacity, *, idle_timeout=None, symmetric=False):
        if isinstance(capacity, (bool, np.bool_)) or not hasattr(capacity, "__index__"):
            raise TypeError(f"capacity must be an int, got {type(capacity).__name__}")
        cap = capacity.__index__()
        if not 1 <= cap <= MAX_CAPACITY:
            raise capacity_error("capacity", cap)
        if symmetric is not True and symmetric is not False:
            raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
        timeouts = _parse_idle_timeout(idle_timeout)
        bufs = _new_bufs(cap)       # Python code first; then the swap, under the lock
        cdef int c
        lb_lock_acquire(&self._lock)
        try:
            self.idle_timeout = timeouts
            self.symmetric = symmetric
            for c in range(LB_FT_CLASSES):
                self.t.timeout[c] = self.idle_timeout[_CLASSES[c]]
            self.t.now = -INFINITY
            self.t.stamp = 0
            self.t.symmetric = symmetric
            lb_hash_keys_init(&self.t.hkeys, _TABLE_SEED)
            self._install(bufs, cap)
        finally:
            lb_lock_release(&self._lock)

    cdef reallocate(self, int32_t cap):
        """Fresh, empty buffers for ``cap`` entries (the old ones are dropped)."""
        self._install(_new_bufs(cap), cap)

    cdef _install(self, bufs, int32_t cap):
        """Point the table at ``bufs`` (from _new_bufs(cap)), empty. Runs no Python
        code: with the GIL held, no other thread sees a half-swapped table."""
        index, ents = bufs
        cdef uint64_t slots = index.shape[0]
        self._bufs = bufs
        cdef int32_t[::1] v_index = index
        cdef uint8_t[::1] v_ents = ents
        cdef uintptr_t base = <uintptr_t>&v_ents[0]
        self.t.index = &v_index[0]
        self.t.ent = <lb_ft_entry*>((base + 63) & ~(<uintptr_t>63))    # cache-line aligned
        # no entry is written: all are "never used" (t.fresh = 0) until taken
        self.t.capacity = cap
        self.t.size = 0
        self.t.mask = slots - 1
        self.t.free_head = -1
        self.t.fresh = 0
        cdef int c
        for c in range(LB_FT_CLASSES):
            self.t.head[c] = -1
            self.t.tail[c] = -1

    cdef grow_to(self, int32_t cap):
        """Move every stored entry (key, hash, target, mark, class, last use, LRU
        order) into fresh buffers of ``cap >= len(self)`` entries."""
        bufs = _new_bufs(cap)           # Python code: other threads may run here
        # From here on no Python code runs (GIL held throughout), so the old state
        # taken now is the final one and no thread sees the table mid-move.
        if self.t.size > cap:           # another thread stored more meanwhile
            raise capacity_error("capacity", cap, self.t.size)
        self._grow_into(bufs, cap)

    cdef _grow_into(self, bufs, int32_t cap):
        old_bufs = self._bufs           # keeps the old arrays alive while copying
        cdef lb_flowtable o = self.t    # the old struct (pointers into old_bufs)
        self._install(bufs, cap)
        cdef lb_flowtable* t = &self.t
        cdef int c
        cdef int32_t e, d
        cdef uint64_t i
        # GIL held (as in _lookup): no other thread sees the half-moved table
        for c in range(LB_FT_CLASSES):
            e = o.head[c]
            while e >= 0:               # oldest first: the list order is kept
                d = _pop_free(t)
                t.ent[d] = o.ent[e]
                i = o.ent[e].hash & t.mask
                while t.index[i] >= 0:
                    i = (i + 1) & t.mask
                t.index[i] = d
                t.ent[d].slot = <int32_t>i
                _link_tail(t, d)
                t.size += 1
                e = o.ent[e].next
        del old_bufs

    @property
    def capacity(self):
        return self.t.capacity

    @property
    def now(self):
        """The latest ``now`` this table has seen (``-inf`` before the first call)."""
        return self.t.now

    @property
    def address(self):
        """Address of the table's C struct (``lb_flowtable*``) for ``lbcore.numba``;
        valid while this object lives. numba callers must keep ``now`` monotone."""
        return <uintptr_t>&self.t

    @property
    def ctypes(self):
        """The table's C interface (a ``KernelHandle``): ``address`` is the
        ``lb_flowtable*`` (the same as :attr:`address`), ``kernels`` the
        ``lb_flowtable_*`` functions that take it."""
        return make_handle(<size_t>&self.t, None, "lb_flowtable", {
            "lb_flowtable_lookup": <size_t>&lb_flowtable_lookup,
            "lb_flowtable_insert": <size_t>&lb_flowtable_insert,
            "lb_flowtable_lookup_many": <size_t>&lb_flowtable_lookup_many,
            "lb_flowtable_insert_many": <size_t>&lb_flowtable_insert_many,
            "lb_flowtable_find": <size_t>&lb_flowtable_find,
            "lb_flowtable_add": <size_t>&lb_flowtable_add,
            "lb_flowtable_remove": <size_t>&lb_flowtable_remove,
            "lb_flowtable_forget_target": <size_t>&lb_flowtable_forget_target,
            "lb_flowtable_expire": <size_t>&lb_flowtable_expire})

    def _check_now_for_numba(self, now):
        """Validate ``now`` as the Python methods do (for callers driving the kernels
        from numba); returns it as a float."""
        return self._check_now(now)

    def __len__(self):
        """Stored entries (expired ones count until a lookup, eviction or
        ``expire`` removes them)."""
        return self.t.size

    def __repr__(self):
        return f"<FlowTable: {self.t.size}/{self.t.capacity} flows>"

    cdef double _check_now(self, now) except? -1.0:
        if isinstance(now, (bool, np.bool_)) or not isinstance(now, (int, float, np.integer,
                                                                      np.floating)):
            raise TypeError(f"now must be a number of seconds, got {type(now).__name__}")
        cdef double x = float(now)
        if not math.isfinite(x):
            raise ValueError(f"now must be finite, got {x}")
        if x < self.t.now:
            raise ValueError(f"now must not decrease: got {x} after {self.t.now}")
        return x

    def route_many(self, flows, now, selector, *, hashes=None):
        """Targets (int32 indices from ``selector``) for a batch of ``lbcore.Flows``.

        Live flows keep their target and refresh their idle timer; the others (new,
        or expired) are sent together to ``selector.select_many`` — with
        ``hashes[misses]`` when ``hashes`` (one uint64 per flow, e.g. a GWLB 3-tuple
        or symmetric hash) is given, else with the sub-batch of flows — and inserted.
        Lookups happen in batch order, then inserts in batch order; a flow repeated in
        a batch gets the target of its first insertion.
        """
        self._refuse_owned()
        c = flow_columns(flows)
        cdef Py_ssize_t n = c[0].shape[0]
        if hashes is not None:
            hashes = _as_hashes(hashes, n)
        # One step for other threads: the lock spans the check of ``now``, the lookups,
        # the selector call (Python code) and the inserts, so no other call can move
        # the clock past ``now`` in between (inserting at a stale ``now`` would move the
        # table's clock back and break the LRU order expiry and eviction rely on).
        lb_lock_acquire(&self._lock)
        try:
            return self._route_many(c, flows, now, selector, hashes, n)
        finally:
            lb_lock_release(&self._lock)

    cdef object _route_many(self, c, flows, now, selector, hashes, Py_ssize_t n):
        cdef double t_now = self._check_now(now)
        out = np.empty(n, dtype=np.int32)
        probe = np.empty((2, n), dtype=np.uint64)     # per miss: probe hash, end slot
        cdef size_t stale = 0
        misses = self._lookup(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], t_now,
                              out, probe, &stale)
        if misses:
            if misses == n:             # all new: the batch itself, no gather
                chosen = selector.select_many(hashes if hashes is not None else flows)
                targets = _check_choice(chosen, n)
            else:
                idx = np.flatnonzero(out < 0)
                chosen = selector.select_many(hashes[idx] if hashes is not None
                                              else flows[idx])
                chosen = _check_choice(chosen, idx.shape[0])
                targets = np.full(n, -1, dtype=np.int32)
                targets[idx] = chosen
            self._insert(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], targets,
                         t_now, out, probe, stale)
        return out

    cdef size_t _lookup(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                        const uint16_t[::1] sport, const uint16_t[::1] dport,
                        const uint32_t[::1] seq, double now, int32_t[::1] out,
                        uint64_t[:, ::1] probe, size_t* stale):
        # The GIL stays held: the kernel mutates the table, and holding it makes
        # concurrent calls on one FlowTable from several threads safe (serialised).
        cdef size_t n = proto.shape[0], misses = 0
        if n:
            misses = _lookup_many_rec(&self.t, n, &proto[0], &flags[0], &src_hi[0],
                                      &src_lo[0], &dst_hi[0], &dst_lo[0], &sport[0],
                                      &dport[0], &seq[0], now, &out[0], &probe[0, 0],
                                      &probe[1, 0], stale)
        return misses

    cdef void _insert(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                      const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                      const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                      const uint16_t[::1] sport, const uint16_t[::1] dport,
                      const uint32_t[::1] seq, const int32_t[::1] targets, double now,
                      int32_t[::1] out, const uint64_t[:, ::1] probe, size_t stale):
        cdef size_t n = proto.shape[0]
        if n:    # GIL held, as in _lookup
            _insert_many_rec(&self.t, n, &proto[0], &flags[0], &src_hi[0], &src_lo[0],
                             &dst_hi[0], &dst_lo[0], &sport[0], &dport[0], &seq[0],
                             &targets[0], now, &out[0], &probe[0, 0], &probe[1, 0], stale)

    def route(self, flow, now, selector, *, hash=None):
        """Target index for one ``lbcore.Flow`` (see ``route_many``). A new flow asks
        ``selector.select_index(hash if given else flow)``, or ``select_many`` with a
        one-element batch when the selector has no ``select_index``."""
        self._refuse_owned()
        # as in route_many: check, lookup, selector, insert as one step
        lb_lock_acquire(&self._lock)
        try:
            return self._route(flow, now, selector, hash)
        finally:
            lb_lock_release(&self._lock)

    cdef object _route(self, flow, now, selector, hash):
        cdef double t_now = self._check_now(now)
        if type(flow) is not _PyFlow:
            raise TypeError(f"flow must be a lbcore.Flow, got {type(flow).__name__}")
        cdef Flow f = <Flow>flow
        cdef int32_t r = lb_flowtable_lookup(&self.t, f.protocol, f.flags, f.src_hi, f.src_lo,
                                             f.dst_hi, f.dst_lo, f.src_port, f.dst_port, f.seq,
                                             t_now)
        if r >= 0:
            return r
        if hash is not None:
            if isinstance(hash, (bool, np.bool_)) or not hasattr(hash, "__index__"):
                raise TypeError(f"hash must be an int, got {type(hash).__name__}")
            hash = hash.__index__()
            if not 0 <= hash < (1 << 64):
                raise ValueError(f"hash must be in [0, 2**64), got {hash}")
        x = hash if hash is not None else flow
        pick = getattr(selector, "select_index", None)
        if pick is not None:
            chosen = pick(x)
        else:
            from lbcore.flows import Flows
            batch = (np.array([x], dtype=np.uint64) if hash is not None
                     else Flows.from_flows([flow]))
            chosen = selector.select_many(batch)[0]
        chosen = int(_check_choice(np.array([chosen]), 1)[0])
        return lb_flowtable_insert(&self.t, f.protocol, f.flags, f.src_hi, f.src_lo, f.dst_hi,
                                   f.dst_lo, f.src_port, f.dst_port, f.seq, chosen, t_now)

    def forget_target(self, index):
        """Forget every flow on target ``index`` (a deregistered target whose flows
        should be rebalanced); returns how many were removed."""
        if isinstance(index, (bool, np.bool_)) or not hasattr(index, "__index__"):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        i = index.__index__()
        if not 0 <= i <= 0x7FFFFFFF:
            raise ValueError(f"index must be in [0, 2**31), got {i}")
        if self.owner_lock is not None:
            with self.owner_lock:
                return lb_flowtable_forget_target(&self.t, i)
        lb_lock_acquire(&self._lock)
        try:
            return lb_flowtable_forget_target(&self.t, i)
        finally:
            lb_lock_release(&self._lock)

    def resize(self, capacity):
        """Change the capacity to ``capacity`` (>= the stored entries); every entry,
        its target, idle timer and least-recently-used order is kept."""
        if isinstance(capacity, (bool, np.bool_)) or not hasattr(capacity, "__index__"):
            raise TypeError(f"capacity must be an int, got {type(capacity).__name__}")
        cap = capacity.__index__()
        if not 1 <= cap <= MAX_CAPACITY or cap < self.t.size:
            raise capacity_error("capacity", cap, max(1, self.t.size))
        if self.owner_lock is None:
            bufs = _new_bufs(cap)       # allocated outside the lock (Python code)
            lb_lock_acquire(&self._lock)
            try:
                if cap < self.t.size:
                    raise capacity_error("capacity", cap, max(1, self.t.size))
                self._grow_into(bufs, cap)
            finally:
                lb_lock_release(&self._lock)
            return
        with self.owner_lock:
            if cap < self.t.size:
                raise capacity_error("capacity", cap, max(1, self.t.size))
            self.grow_to(cap)

    def expire(self, now):
        """Remove every flow idle for longer than its timeout at ``now``; returns how
        many."""
        cdef double t_now
        if self.owner_lock is not None:
            with self.owner_lock:
                t_now = self._check_now(now)
                return lb_flowtable_expire(&self.t, t_now)
        lb_lock_acquire(&self._lock)
        try:
            t_now = self._check_now(now)
            return lb_flowtable_expire(&self.t, t_now)
        finally:
            lb_lock_release(&self._lock)

    def __reduce__(self):
        # The exact table, copied under the owner's lock when there is one. The copy
        # has no owner and no lock of its own in its state.
        if self.owner_lock is not None:
            with self.owner_lock:
                return self.snapshot()
        lb_lock_acquire(&self._lock)
        try:
            return self.snapshot()
        finally:
            lb_lock_release(&self._lock)

    cdef snapshot(self):
        """``__reduce__``'s value without taking a lock (the caller holds it): the
        index, the entry pool (keys, targets, marks, last use, LRU links), the
        clock and the use counter."""
        cdef int32_t cap = self.t.capacity, c
        _materialise(&self.t)       # the pickle holds every entry as a free or live one
        index = np.array(self._bufs[0], copy=True)
        ents = (<char*>self.t.ent)[:cap * sizeof(lb_ft_entry)]
        scal = (int(self.t.size), int(self.t.free_head),
                tuple(int(self.t.head[c]) for c in range(LB_FT_CLASSES)),
                tuple(int(self.t.tail[c]) for c in range(LB_FT_CLASSES)),
                float(self.t.now), int(self.t.stamp))
        return (_restore_flowtable, (type(self), int(cap), dict(self.idle_timeout),
                                     bool(self.symmetric), index, ents, scal,
                                     (int(sizeof(lb_ft_entry)), sys.byteorder)))

    def entries(self):
        """Stored entries as ``{flow: (target, last_seen)}`` (flows in the table's
        canonical form), for inspection and tests; O(capacity)."""
        return self._entries_locked(False)

    cdef dict _entries_locked(self, bint with_class_and_mark):
        out = {}
        if self.owner_lock is not None:
            with self.owner_lock:
                self._entries(out, with_class_and_mark)
            return out
        lb_lock_acquire(&self._lock)
        try:
            self._entries(out, with_class_and_mark)
        finally:
            lb_lock_release(&self._lock)
        return out

    cdef _entries(self, dict out, bint with_class_and_mark=False):
        cdef int32_t e
        cdef lb_flow_key* k
        for e in range(self.t.fresh):
            if self.t.ent[e].cls == _FREE:
                continue
            k = &self.t.ent[e].key
            f = _PyFlow.from_fields(k.proto, k.flags, k.src_hi, k.src_lo, k.dst_hi,
                                     k.dst_lo, k.sport, k.dport, k.seq)
            if with_class_and_mark:
                out[f] = (self.t.ent[e].target, self.t.ent[e].last_seen, self.t.ent[e].cls,
                          self.t.ent[e].mark)
            else:
                out[f] = (self.t.ent[e].target, self.t.ent[e].last_seen)

    cdef _refuse_owned(self):
        if self.owner_lock is not None:
            raise ValueError("this FlowTable belongs to an NLB/GWLB connection table "
                             "(keyed by find/add): route through the load balancer")



def _new_bufs(int32_t cap):
    """Index (2**k >= 2 * cap int32 slots, all -1) and entry pool buffers."""
    slots = 2
    while slots < 2 * cap:
        slots *= 2
    return (np.full(slots, -1, dtype=np.int32),
            np.zeros(cap * sizeof(lb_ft_entry) + 64, dtype=np.uint8))


def _restore_flowtable(cls, cap, idle_timeout, symmetric, index, ents, scal, fmt):
    """Unpickle a FlowTable (see FlowTable.__reduce__). The entry pool is raw memory of
    this build's layout: another layout or byte order is refused, and every link is
    bounds-checked before the structural invariants are verified."""
    if not (isinstance(cls, type) and issubclass(cls, FlowTable)):
        raise TypeError("_restore_flowtable: not a FlowTable class")
    if tuple(fmt) != (int(sizeof(lb_ft_entry)), sys.byteorder):
        raise ValueError("FlowTable state was pickled by a build with another entry "
                         "layout or byte order")
    cdef FlowTable ft = cls(cap, idle_timeout=idle_timeout, symmetric=symmetric)
    idx = np.asarray(index)
    if idx.dtype != np.int32 or idx.shape != ft._bufs[0].shape \
            or not isinstance(ents, bytes) or len(ents) != cap * sizeof(lb_ft_entry):
        raise ValueError("FlowTable state: buffers do not match the capacity")
    if idx.size and ((idx < -1).any() or (idx >= cap).any()):
        raise ValueError("FlowTable state: index slot out of range")
    size, free_head, head, tail, now, stamp = scal
    cdef int32_t c, e, steps
    links = [free_head] + list(head) + list(tail)
    if not 0 <= size <= cap or len(head) != LB_FT_CLASSES or len(tail) != LB_FT_CLASSES \
            or any(not -1 <= v < cap for v in links) or now != now:
        raise ValueError("FlowTable state: inconsistent header")
    ft._bufs[0][:] = idx
    memcpy(<void*>ft.t.ent, <const char*>ents, cap * sizeof(lb_ft_entry))
    cdef lb_flowtable* t = &ft.t
    t.size, t.free_head, t.now, t.stamp = size, free_head, now, stamp
    t.fresh = cap                   # a pickle has every entry initialised
    for c in range(LB_FT_CLASSES):
        t.head[c], t.tail[c] = head[c], tail[c]
    try:
        for e in range(cap):
            assert -1 <= t.ent[e].prev < cap and -1 <= t.ent[e].next < cap
            assert t.ent[e].cls == _FREE or (t.ent[e].cls < LB_FT_CLASSES and
                                             0 <= t.ent[e].slot <= <int64_t>t.mask)
        for e in [t.free_head] + [t.head[c] for c in range(LB_FT_CLASSES)]:
            steps = 0
            while e >= 0:                   # every list ends within cap steps
                steps += 1
                assert steps <= cap, "a cycle in a list"
                e = t.ent[e].next
        _check_invariants(ft)
    except AssertionError as exc:
        ft.reallocate(cap)                  # an empty, valid table again
        raise ValueError(f"FlowTable state: {exc or 'entry link out of range'}") from None
    return ft


def _check_invariants(FlowTable ft):
    """Assert the table's structural invariants (tests call this after every step)."""
    cdef lb_flowtable* t = &ft.t
    cdef int32_t e, c, prev, count = 0, listed = 0
    cdef uint64_t i, home
    assert 0 <= t.fresh <= t.capacity, "never-used mark out of range"
    for e in range(t.fresh):
        if t.ent[e].cls == _FREE:
            continue
        count += 1
        assert t.index[t.ent[e].slot] == e, "index/slot mismatch"
        home = t.ent[e].hash & t.mask
        i = home
        while i != <uint64_t>t.ent[e].slot:          # linear probing: no hole before it
            assert t.index[i] >= 0, "hole in a probe run"
            i = (i + 1) & t.mask
    assert count == t.size, "size mismatch"
    assert sum(1 for i in range(t.mask + 1) if t.index[i] >= 0) == t.size
    for c in range(LB_FT_CLASSES):
        e = t.head[c]
        prev = -1
        while e >= 0:
            assert t.ent[e].cls == c and t.ent[e].prev == prev, "broken LRU list"
            if prev >= 0:
                assert t.ent[prev].stamp < t.ent[e].stamp and t.ent[prev].last_seen <= t.ent[e].last_seen
            prev = e
            e = t.ent[e].next
            listed += 1
        assert t.tail[c] == prev, "tail mismatch"
    assert listed == t.size, "list length mismatch"
    free = 0
    e = t.free_head
    while e >= 0:
        assert t.ent[e].cls == _FREE
        free += 1
        e = t.ent[e].next
    assert free + t.size + (t.capacity - t.fresh) == t.capacity, "free list mismatch"


def _entry_fields(FlowTable ft):
    """``{flow: (target, last_seen, class, mark)}`` of every stored entry (tests)."""
    return ft._entries_locked(True)


def _set_mark(FlowTable ft, int32_t entry, uint8_t mark):
    """Set a stored entry's mark byte, as lbcore._l4 does (tests)."""
    if not (0 <= entry < ft.t.fresh and ft.t.ent[entry].cls != _FREE):
        raise ValueError(f"entry must be a stored entry, got {entry}")
    ft.t.ent[entry].mark = mark


def _as_hashes(hashes, n):
    arr = np.asarray(hashes)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"hashes must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"hashes must be one-dimensional with one hash per flow ({n}), "
                         f"got shape {arr.shape}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError("hashes must be non-negative")
    return np.ascontiguousarray(arr, dtype=np.uint64)


def _check_choice(chosen, n):
    arr = np.asarray(chosen)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"selector must return integer target indices, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"selector returned shape {arr.shape}, expected ({n},)")
    if n and (arr.min() < 0 or arr.max() > 0x7FFFFFFF):
        raise ValueError("selector returned a target index outside [0, 2**31)")
    return np.ascontiguousarray(arr, dtype=np.int32)
