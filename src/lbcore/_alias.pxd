# cython: language_level=3
"""Weighted random selection by Vose's alias method: the C-level API.

Index level (reusable, e.g. by Route 53 weighted records):
``lb_alias_build`` turns n non-negative weights into a table (``prob``,
``alias``); ``lb_alias_sample`` draws index i with probability w_i / sum(w) in
O(1): a uniform column j, kept with probability prob[j], else alias[j].

Object level (``lb_alias``, used by ``lbcore.WeightedRandom``): the table is
built over the available targets' weights; slow start is applied per pick by
rejection — draw j from the full-weight table, accept it with probability
ramp_j(now) — which samples exactly from weight_j * ramp_j(now) / sum. After
``LB_ALIAS_MAX_TRIES`` rejections the pick falls back to an exact O(n) scan (so
the result is still exactly distributed, and a pick never loops forever).
"""
from libc.stdint cimport int32_t, uint8_t
from lbcore._rng cimport lb_rng

cdef enum:
    LB_ALIAS_MAX_TRIES = 64

ctypedef struct lb_alias:
    int32_t n_slots          # valid indices [0, n_slots) of the per-target arrays
    int32_t capacity
    int32_t table_n          # length of prob/alias (set with them on each rebuild)
    int32_t _pad
    double slow_start        # seconds, 0 = off
    double total             # sum of the available targets' weights (0: none available)
    double* weight           # configured weight (>= 0)
    double* prob             # alias table: keep probability of column j
    int32_t* alias           # alias table: the alternative of column j
    double* ss_start         # slow start entry time, -inf = not in slow start
    uint8_t* avail           # 1 = may be picked
    lb_rng rng

# Build the alias table of n >= 1 weights (finite, >= 0). Returns 0, or -1 if
# all weights are 0 (table left unusable) or on allocation failure.
cdef int lb_alias_build(int32_t n, const double* weight, double* prob,
                        int32_t* alias) noexcept nogil
# One O(1) sample from a table built by lb_alias_build (two generator draws).
cdef int32_t lb_alias_sample(int32_t n, const double* prob, const int32_t* alias,
                             lb_rng* rng) noexcept nogil
# One weighted random pick at time ``now`` honouring slow start; -1 if none available.
cdef int32_t lb_alias_pick(lb_alias* s, double now) noexcept nogil
# ``n`` picks at time ``now`` into ``out`` (same sequence as n calls of lb_alias_pick).
cdef void lb_alias_pick_many(lb_alias* s, size_t n, double now, int32_t* out) noexcept nogil
