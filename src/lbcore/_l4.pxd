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
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from lbcore._lock cimport lb_lock
from lbcore._hash cimport lb_hash_keys
from lbcore._flowtable cimport lb_flowtable, lb_flow_key

cdef enum:
    LB_L4_DROPPED = 0x01        # flow/entry mark: placed while no target was healthy (GWLB)
    LB_L4_NEW = 0x02            # output flag: the flow was placed (not found pinned)
    LB_L4_NO_TARGET = 0x04      # output flag: the node had no target at all (target -1)
    LB_L4_BLOCK = 32            # flows hashed and prefetched together
    LB_L4_FULL = -2             # lb_l4_route_fields: no room (grow with L4Path.reserve)
    LB_L4_REFUSED = -3          # lb_l4_route_fields: time went back, or no node to use

# node j selects tables[off[j] + slot(h, tlen[j])] (or a random entry when rand[j]);
# valid[t]: pinned flows may stay on target t
ctypedef struct lb_l4_selection:
    const int32_t* tables
    const int64_t* off
    const int32_t* tlen
    const uint8_t* rand
    const uint8_t* valid
    size_t n_targets

# how a flow becomes its table key, probe hash, selection hash and node (L4Path.configure)
ctypedef struct lb_l4_config:
    lb_hash_keys kkeys
    lb_hash_keys nkeys
    int fields
    int symmetric
    int fallback3
    int sticky
    uint64_t sticky_seed
    const int32_t* dns
    int32_t ndns

# The path's lock: lbcore's one object lock (a benaphore, lbcore._lock), under the name
# the L4 C API has always used.
ctypedef lb_lock lb_l4_lock

# An L4Path's state as C code drives it (L4Path.ctypes): valid while the path lives and
# until its next set_selection / set_dns (the pointed-to arrays are swapped then).
ctypedef struct lb_l4_path:
    lb_flowtable* table
    const lb_l4_config* config
    const lb_l4_selection* selection
    uint64_t* rng
    int32_t n_nodes
    lb_l4_lock* lock

cdef size_t lb_l4_route_many(
    size_t n, const lb_flow_key* keys, const uint64_t* key_hashes, const uint64_t* hashes,
    const double* times, const uint8_t* cls, const int32_t* node,
    const int32_t* tables, const int64_t* table_off, const int32_t* table_len,
    const uint8_t* table_random, const uint8_t* valid, size_t n_targets,
    lb_flowtable* table, uint64_t* rng_state,
    int32_t* out_target, uint8_t* out_flags) noexcept nogil

# One flow given by its fields at ``now``, as L4Path.route_flow routes it (node -1: by
# DNS), under the path's lock, without the GIL: the target index (-1 none, flags in
# out_flags), LB_L4_FULL when the table has no room even after dropping expired
# entries (nothing changed: grow it with L4Path.reserve and call again), LB_L4_REFUSED
# when now is before the latest time routed or not finite, or node is -1 with no DNS.
cdef int32_t lb_l4_route_fields(
    lb_l4_path* p, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
    double now, int32_t node, uint8_t* out_flags) noexcept nogil

# The flow's connection ended (its FIN or RST seen) at ``now``: its entry leaves the table
# (1; 0 when it had none, or when the path keys flows by fewer than all five fields,
# so one entry stands for many connections and stays until idle), under the path's lock;
# LB_L4_REFUSED when now is before the latest time routed or not finite.
cdef int32_t lb_l4_close_fields(
    lb_l4_path* p, uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
    double now) noexcept nogil
