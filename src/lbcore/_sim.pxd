# cython: language_level=3
"""The simulation kernel family: the time-ordered per-request loop of ``lbcore simulate``.

The Python layer (``lbcore.sim``) compiles a scenario into flat arrays: per-epoch DNS
answer distributions per (client class, DNS name), per-(load balancer, request template)
target-group distributions, per-epoch target weights and up/down state, service-time
models, token buckets. The loop here draws arrivals, routes them with those tables and
the request-level selection algorithms, serves them on per-target worker pools, releases
outstanding counts from a completion heap and keeps streaming statistics.

Only structs and inline helpers are declared here: the loop itself is driven through
``lbcore._sim.Engine`` (no exported ``lb_*`` functions, so nothing for numba to bind).
"""
from libc.stdint cimport uint8_t, uint16_t, int32_t, int64_t, uint64_t

# Target-group selection algorithms (lb_sim_model.tg_algo).
cdef enum:
    LB_SIM_ROUND_ROBIN = 0
    LB_SIM_LEAST_OUTSTANDING = 1
    LB_SIM_WEIGHTED_RANDOM = 2
    LB_SIM_FLOW_HASH = 3
    LB_SIM_POWER_OF_TWO = 4      # lbcore extension: power of two choices (lbcore._lor)

# Service-time distributions (lb_sim_model.tgt_dist).
cdef enum:
    LB_SIM_CONSTANT = 0
    LB_SIM_EXPONENTIAL = 1
    LB_SIM_LOGNORMAL = 2

# Streaming histogram shapes: latency in log10 bins, outstanding in unit bins.
cdef enum:
    LB_SIM_LAT_BINS = 270          # 10 us .. 1000 s, 30 bins per decade
    LB_SIM_LAT_PER_DECADE = 30
    LB_SIM_LAT_MIN_DECADE = -5
    LB_SIM_OUT_BINS = 1024         # 0 .. 1022, last bin = 1023 or more

ctypedef struct lb_sim_completion:
    double t
    int32_t target
    int32_t conn                   # the request's open TCP flows (Engine.conn), -1 none

# a TCP flow a request opened on an L4 path (slot = group * L + load balancer), closed
# when the request ends
ctypedef struct lb_sim_flow:
    int64_t slot
    uint64_t src_hi
    uint64_t src_lo
    uint16_t sport
    uint8_t v6


cdef inline int32_t lb_sim_pick_cdf(const double* cdf, int32_t n, double u) noexcept nogil:
    """Index i of the first cdf[i] > u * cdf[n-1] (cumulative weights); -1 if all zero."""
    cdef double x
    cdef int32_t i
    if n <= 0 or cdf[n - 1] <= 0.0:
        return -1
    x = u * cdf[n - 1]
    for i in range(n):
        if x < cdf[i]:
            return i
    return n - 1


cdef inline int32_t lb_sim_first_weighted(const uint64_t* cum, int32_t n) noexcept nogil:
    """Index of the first non-zero weight in the cumulative weights cum[0..n); -1 if none."""
    cdef int32_t i
    for i in range(n):
        if cum[i] > 0:
            return i
    return -1
