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
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from lbcore._hash cimport lb_hash_keys

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

ctypedef struct lb_flowtable:
    int32_t capacity          # entries in the pool
    int32_t size              # live + not yet expired-and-removed entries
    uint64_t mask             # index slots - 1
    int32_t free_head         # free entries, linked through next[]
    int32_t head[3]           # least recently used entry per class (-1 = empty)
    int32_t tail[3]
    double timeout[3]         # idle timeout per class, seconds
    double now                # latest time seen
    uint64_t stamp            # use counter
    int symmetric             # a flow and its reverse share one entry
    lb_hash_keys hkeys
    int32_t* index
    lb_flow_key* keys
    uint64_t* hashes
    int32_t* target
    double* last_seen
    uint64_t* stamps
    int32_t* prev
    int32_t* next
    int32_t* slot
    uint8_t* cls
    uint8_t* mark             # one byte per entry for the caller (0 on insert)


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


cdef class FlowTable:
    cdef lb_flowtable t
    cdef object _bufs
    cdef readonly object idle_timeout
    cdef readonly bint symmetric
    cdef _alloc(self, int32_t cap)
    cdef _grow_to(self, int32_t cap)
    cdef double _check_now(self, now) except? -1.0
    cdef size_t _lookup(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                        const uint16_t[::1] sport, const uint16_t[::1] dport,
                        const uint32_t[::1] seq, double now, int32_t[::1] out)
    cdef void _insert(self, const uint8_t[::1] proto, const uint8_t[::1] flags,
                      const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                      const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                      const uint16_t[::1] sport, const uint16_t[::1] dport,
                      const uint32_t[::1] seq, const int32_t[::1] targets, double now,
                      int32_t[::1] out)
