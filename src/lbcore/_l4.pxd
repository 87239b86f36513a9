# cython: language_level=3
"""The L4 kernel family: the connection-tracking data path of lbcore's NLB and GWLB.

One nogil pass per batch: for each flow, look its key up in an open-addressing
flow table (linear probing, power-of-two capacity, one 24-byte entry per slot);
a live entry whose target is still valid keeps the flow where it is; otherwise
the flow is placed through the selection table of the node it arrived at (a
Maglev lookup table, or a plain list of targets to draw from at random) and the
entry is (re)written. Targets are dense int32 indices; ``valid[t]`` says whether
existing flows may stay on target ``t``.
"""
from libc.stdint cimport uint8_t, int32_t, int64_t, uint64_t

cdef enum:
    LB_L4_OCCUPIED = 0x80       # entry flag: slot in use
    LB_L4_DROPPED = 0x01        # flow/entry flag: placed while no target was healthy (GWLB)
    LB_L4_NEW = 0x02            # output flag: the flow was placed (not found pinned)
    LB_L4_NO_TARGET = 0x04      # output flag: the node had no target at all (target -1)

# One flow-table slot; numpy dtype: [("key", u8), ("expires", f8), ("target", i4),
# ("flags", u1)] with align=True (24 bytes).
ctypedef struct lb_l4_entry:
    uint64_t key
    double expires
    int32_t target
    uint8_t flags

cdef int64_t lb_l4_route_many(
    size_t n, const uint64_t* keys, const uint64_t* hashes, const double* times,
    const double* idle, const int32_t* node,
    const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
    const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
    void* table, uint64_t table_mask, uint64_t* rng_state,
    int32_t* out_target, uint8_t* out_flags) noexcept nogil
