# cython: language_level=3
"""The connection-tracking kernel family: a bounded flow → target table.

Open addressing (linear probing, backward-shift deletion) over an int32 index of
``2**k >= 2 * capacity`` slots pointing into a fixed pool of ``capacity`` entries.
An entry is keyed by the flow's full identity (protocol, flags, both addresses,
both ports, and the TCP sequence number when the flow carries one), so distinct
flows never share an entry; the 64-bit flow hash only picks the probe start.
Each entry is on one of three least-recently-used lists by timeout class (TCP,
UDP, other); ``now`` never decreases, so each list is ordered by last use.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from lbcore._hash cimport lb_hash_keys, LB_FLOW_HAS_SEQ, LB_FIELDS_5, LB_FIELDS_2
from lbcore._lock cimport lb_lock

cdef enum:
    LB_FT_TCP = 0
    LB_FT_UDP = 1
    LB_FT_OTHER = 2
    LB_FT_CLASSES = 3

ctypedef struct lb_flow_key:
    uint64_t src_hi, src_lo, dst_hi, dst_lo
    uint32_t seq
    uint16_t sport, dport
    uint8_t proto, flags

# One entry: what a hit reads first (probe hash, last use, target, class, mark, key)
# leads, the least-recently-used links follow; 96 bytes, so a hit touches the
# entry's two cache lines plus its list neighbours' (one each) and the index slot.
ctypedef struct lb_ft_entry:
    uint64_t hash             # probe hash
    double last_seen
    int32_t target            # -1 when free
    uint8_t cls               # timeout class (LB_FT_*), 255 when free
    uint8_t mark              # one byte for the caller (0 on insert)
    lb_flow_key key
    int32_t prev              # least-recently-used list of its class
    int32_t next              # (free entries: the free list)
    int32_t slot              # its index slot
    uint64_t stamp            # use counter at last use

ctypedef struct lb_flowtable:
    int32_t capacity          # entries in the pool
    int32_t size              # live + not yet expired-and-removed entries
    uint64_t mask             # index slots - 1
    int32_t free_head         # free entries, linked through next
    int32_t fresh             # entries [fresh, capacity) never used (zero memory, on no list)
    int32_t head[3]           # least recently used entry per class (-1 = empty)
    int32_t tail[3]
    double timeout[3]         # idle timeout per class, seconds
    double now                # latest time seen
    uint64_t stamp            # use counter
    int symmetric             # a flow and its reverse share one entry
    lb_hash_keys hkeys
    int32_t* index            # 2**k >= 2 * capacity slots: entry or -1
    lb_ft_entry* ent          # the pool


cdef int32_t lb_flowtable_lookup(
    lb_flowtable* t, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
    double now) noexcept nogil

cdef int32_t lb_flowtable_insert(
    lb_flowtable* t, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
    int32_t target, double now) noexcept nogil

cdef size_t lb_flowtable_lookup_many(
    lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
    const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
    const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
    const uint32_t* seq, double now, int32_t* out) noexcept nogil

cdef void lb_flowtable_insert_many(
    lb_flowtable* t, size_t n, const uint8_t* proto, const uint8_t* flags,
    const uint64_t* src_hi, const uint64_t* src_lo, const uint64_t* dst_hi,
    const uint64_t* dst_lo, const uint16_t* sport, const uint16_t* dport,
    const uint32_t* seq, const int32_t* targets, double now, int32_t* out) noexcept nogil

# Building blocks for callers that hash a flow once and keep their own key scheme
# (lbcore._l4: NLB/GWLB). A table must be driven either by lookup/insert (whose probe
# hash is the table's own) or by find/add with the caller's hash, never both.
cdef void lb_flowtable_make_key(
    lb_flow_key* k, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
    int fields, int symmetric) noexcept nogil

cdef int32_t lb_flowtable_find(
    lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls, double now) noexcept nogil

cdef int32_t lb_flowtable_add(
    lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls, int32_t target,
    double now) noexcept nogil

cdef void lb_flowtable_remove(lb_flowtable* t, int32_t entry) noexcept nogil

cdef int32_t lb_flowtable_forget_target(lb_flowtable* t, int32_t target) noexcept nogil

cdef int32_t lb_flowtable_expire(lb_flowtable* t, double now) noexcept nogil


# ---- the hot path, inline so that lbcore._l4 compiles the same code into its loop
# (the exported kernels above are these same functions).

cdef inline int _ft_class_of(uint8_t proto) noexcept nogil:
    """Timeout class of a protocol: TCP (6), UDP (17), other."""
    if proto == 6:
        return LB_FT_TCP
    if proto == 17:
        return LB_FT_UDP
    return LB_FT_OTHER


cdef inline void _ft_make_key(
        lb_flow_key* k, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        int fields, int symmetric) noexcept nogil:
    """Canonical identity of a flow keyed by ``fields`` (LB_FIELDS_5/3/2: the 5-tuple
    with the sequence number when the flow has one, protocol + addresses, addresses):
    the unused fields are zeroed; ``symmetric`` drops the sequence number and puts the
    smaller (address, port) endpoint first, so a flow and its reverse share a key."""
    cdef uint64_t a
    cdef uint16_t p
    if fields != LB_FIELDS_5:
        sport = 0
        dport = 0
        flags = flags & ~LB_FLOW_HAS_SEQ
        if fields == LB_FIELDS_2:
            proto = 0
    if not (flags & LB_FLOW_HAS_SEQ):
        seq = 0
    if symmetric:
        seq = 0
        flags = flags & ~LB_FLOW_HAS_SEQ
        if (src_hi > dst_hi or (src_hi == dst_hi and (src_lo > dst_lo or
                (src_lo == dst_lo and sport > dport)))):
            a = src_hi; src_hi = dst_hi; dst_hi = a
            a = src_lo; src_lo = dst_lo; dst_lo = a
            p = sport; sport = dport; dport = p
    k.proto = proto
    k.flags = flags
    k.src_hi = src_hi
    k.src_lo = src_lo
    k.dst_hi = dst_hi
    k.dst_lo = dst_lo
    k.sport = sport
    k.dport = dport
    k.seq = seq


cdef inline bint _key_eq(const lb_flow_key* a, const lb_flow_key* b) noexcept nogil:
    return (a.src_lo == b.src_lo and a.dst_lo == b.dst_lo and a.sport == b.sport
            and a.dport == b.dport and a.proto == b.proto and a.flags == b.flags
            and a.seq == b.seq and a.src_hi == b.src_hi and a.dst_hi == b.dst_hi)


cdef inline int32_t _find(const lb_flowtable* t, const lb_flow_key* k, uint64_t h,
                          uint64_t* slot_out) noexcept nogil:
    """Entry of key k, or -1; *slot_out = its index slot, or the empty slot that ends
    the probe sequence."""
    cdef uint64_t i = h & t.mask
    cdef int32_t e
    while True:
        e = t.index[i]
        if e < 0:
            slot_out[0] = i
            return -1
        if t.ent[e].hash == h and _key_eq(&t.ent[e].key, k):
            slot_out[0] = i
            return e
        i = (i + 1) & t.mask


cdef inline void _unlink(lb_flowtable* t, int32_t e) noexcept nogil:
    cdef int c = t.ent[e].cls
    cdef int32_t p = t.ent[e].prev, nx = t.ent[e].next
    if p >= 0:
        t.ent[p].next = nx
    else:
        t.head[c] = nx
    if nx >= 0:
        t.ent[nx].prev = p
    else:
        t.tail[c] = p


cdef inline void _link_tail(lb_flowtable* t, int32_t e) noexcept nogil:
    cdef int c = t.ent[e].cls
    t.ent[e].prev = t.tail[c]
    t.ent[e].next = -1
    if t.tail[c] >= 0:
        t.ent[t.tail[c]].next = e
    else:
        t.head[c] = e
    t.tail[c] = e


cdef inline void _touch(lb_flowtable* t, int32_t e, double now) noexcept nogil:
    t.ent[e].last_seen = now
    t.stamp += 1
    t.ent[e].stamp = t.stamp
    if t.tail[t.ent[e].cls] != e:
        _unlink(t, e)
        _link_tail(t, e)


cdef inline void _touch_cls(lb_flowtable* t, int32_t e, int cls, double now) noexcept nogil:
    """_touch, moving the entry to class ``cls``'s list if it was on another."""
    if t.ent[e].cls == cls:
        _touch(t, e, now)
        return
    _unlink(t, e)
    t.ent[e].cls = <uint8_t>cls
    _link_tail(t, e)
    t.ent[e].last_seen = now
    t.stamp += 1
    t.ent[e].stamp = t.stamp


cdef inline bint _expired(const lb_flowtable* t, int32_t e, double now) noexcept nogil:
    return now - t.ent[e].last_seen > t.timeout[t.ent[e].cls]


cdef inline int32_t _ft_find(
        lb_flowtable* t, const lb_flow_key* k, uint64_t h, int cls, double now) noexcept nogil:
    """Entry of the live flow with canonical key ``k`` (see lb_flowtable_make_key) and
    probe hash ``h`` — any function of the key, the same for every call on this table —
    refreshed at ``now`` and moved to timeout class ``cls`` (0 TCP, 1 UDP, 2 other); or
    -1 (absent, or expired under its previous class: removed)."""
    cdef uint64_t s
    cdef int32_t e = _find(t, k, h, &s)
    t.now = now
    if e < 0:
        return -1
    if _expired(t, e, now):
        lb_flowtable_remove(t, e)
        return -1
    _touch_cls(t, e, cls, now)
    return e




cdef class FlowTable:
    cdef lb_flowtable t
    cdef object _bufs
    cdef readonly object idle_timeout
    cdef readonly bint symmetric
    cdef object owner_lock         # set by an owner (lbcore._l4.L4Path) that mutates the
                                # table without the GIL: public mutators take it
    cdef lb_lock _lock             # a table without owner: every public call holds it
                                # (route* span the selector call, Python code)
    cdef reallocate(self, int32_t cap)
    cdef _install(self, bufs, int32_t cap)
    cdef _entries(self, dict out, bint with_class_and_mark=*)
    cdef dict _entries_locked(self, bint with_class_and_mark)
    cdef _refuse_owned(self)
    cdef grow_to(self, int32_t cap)
    cdef _grow_into(self, bufs, int32_t cap)
    cdef object _route_many(self, c, flows, now, selector, hashes, Py_ssize_t n)
    cdef object _route(self, flow, now, selector, hash)
    cdef snapshot(self)             # __reduce__'s value; the caller holds owner_lock
    cdef double _check_now(self, now) except? -1.0
    cdef size_t _lookup(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                        const uint16_t[::1] sport, const uint16_t[::1] dport,
                        const uint32_t[::1] seq, double now, int32_t[::1] out,
                        uint64_t[:, ::1] probe, size_t* stale)
    # route_many's passes: the lookup records each miss's probe hash and end slot in
    # ``probe`` (rows 0, 1) for the insert (see _lookup_many_rec in _flowtable.pyx)
    cdef void _insert(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                      const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                      const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                      const uint16_t[::1] sport, const uint16_t[::1] dport,
                      const uint32_t[::1] seq, const int32_t[::1] targets, double now,
                      int32_t[::1] out, const uint64_t[:, ::1] probe, size_t stale)
