# cython: language_level=3
"""The L4 kernel family: the data path of lbcore's NLB and GWLB.

Connection tracking is lbcore's one flow table (lbcore._flowtable, driven through
lb_flowtable_find / lb_flowtable_add with the flow's own hash); this family adds the
placement: a flow found live whose target is still valid stays where it is; otherwise
it is placed through the selection table of the node it arrived at (a Maglev lookup
table, or a plain list of targets to draw from at random, marking the flow dropped)
and its entry is (re)written. Targets are dense int32 indices; ``valid[t]`` says
whether existing flows may stay on target ``t``.
"""
from libc.stdint cimport uint8_t, int32_t, int64_t, uint64_t
from lbcore._flowtable cimport lb_flowtable, lb_flow_key

cdef enum:
    LB_L4_DROPPED = 0x01        # flow/entry mark: placed while no target was healthy (GWLB)
    LB_L4_NEW = 0x02            # output flag: the flow was placed (not found pinned)
    LB_L4_NO_TARGET = 0x04      # output flag: the node had no target at all (target -1)
    LB_L4_BLOCK = 32            # flows hashed and prefetched together

cdef size_t lb_l4_route_many(
    size_t n, const lb_flow_key* keys, const uint64_t* key_hashes, const uint64_t* hashes,
    const double* times, const uint8_t* cls, const int32_t* node,
    const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
    const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
    lb_flowtable* table, uint64_t* rng_state,
    int32_t* out_target, uint8_t* out_flags) noexcept nogil
