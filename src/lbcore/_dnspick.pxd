# cython: language_level=3
"""The dnspick kernel family: the seeded random choices of DNS answers.

* ``lb_dnspick_weighted``: one record with probability w_i / sum(w) from the
  cumulative integer weights ``cum`` (cum[i] = w_0 + ... + w_i): one uniform
  integer r in [0, cum[n-1]) (Lemire's unbiased bounded draw from lbcore's
  xoshiro256**), then the first i with cum[i] > r (binary search). A zero total
  gives -1. Integer weights make the probabilities exact.
* ``lb_dnspick_shuffle``: partial Fisher-Yates over ``items`` in place: afterwards
  items[0:k] is a uniformly random k-subset in uniformly random order (k = n: a
  full shuffle).

The generator state is the four uint64 words of an ``lb_rng`` (lbcore._rng), passed
as ``uint64_t*`` so numba code can own it in a numpy array; ``lb_dnspick_seed``
seeds it exactly as ``lb_rng_seed`` does. Route 53 weighted records use this
family; lbcore.WeightedRandom (selection issue) may replace it later.
"""
from libc.stdint cimport uint64_t, int32_t, int64_t


cdef void lb_dnspick_seed(uint64_t* state, uint64_t seed) noexcept nogil

cdef int32_t lb_dnspick_weighted(uint64_t* state, int32_t n, const uint64_t* cum) noexcept nogil

cdef void lb_dnspick_weighted_many(uint64_t* state, int64_t m, int32_t n, const uint64_t* cum,
                                   int32_t* out) noexcept nogil

cdef void lb_dnspick_shuffle(uint64_t* state, int32_t n, int32_t k,
                             int32_t* items) noexcept nogil
