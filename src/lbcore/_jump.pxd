# cython: language_level=3
"""The jump consistent hash kernel family (Lamping & Veach, "A Fast, Minimal Memory,
Consistent Hash Algorithm", 2014, Figure 1)."""
from libc.stdint cimport uint64_t, int32_t

cdef int32_t lb_jump_hash(uint64_t key, int32_t num_buckets) noexcept nogil

cdef void lb_jump_hash_many(size_t n, const uint64_t* keys, int32_t num_buckets,
                            int32_t* out) noexcept nogil
