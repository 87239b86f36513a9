# cython: language_level=3
"""The LPM kernel family: longest-prefix match over IPv4 and IPv6 CIDR blocks.

Design: a prefix set is flattened once, at build time, into its *elementary
intervals* -- the sorted start addresses at which the longest matching prefix
changes, each with the value of that prefix (-1: no prefix matches). Because
CIDR blocks are either nested or disjoint, n prefixes give at most 2n + 1
intervals. A lookup is a binary search for the last start <= address
(ceil(log2(2n + 1)) probes: 15 for 10^4 prefixes), the same cost for every
address, independent of how prefix lengths are distributed. IPv4 tables hold
uint32 starts; IPv6 tables hold (hi, lo) uint64 pairs compared
lexicographically. The two families are separate tables; ``starts[0]`` is always
0, so ``n >= 1``.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t


cdef int32_t lb_lpm_lookup4(int64_t n, const uint32_t* starts, const int32_t* values,
                            uint32_t addr) noexcept nogil

cdef int32_t lb_lpm_lookup6(int64_t n, const uint64_t* starts_hi, const uint64_t* starts_lo,
                            const int32_t* values, uint64_t hi, uint64_t lo) noexcept nogil

cdef void lb_lpm_lookup4_many(int64_t m, const uint32_t* addrs, int64_t n,
                              const uint32_t* starts, const int32_t* values,
                              int32_t* out) noexcept nogil

cdef void lb_lpm_lookup6_many(int64_t m, const uint64_t* hi, const uint64_t* lo, int64_t n,
                              const uint64_t* starts_hi, const uint64_t* starts_lo,
                              const int32_t* values, int32_t* out) noexcept nogil

cdef void lb_lpm_lookup_mixed_many(int64_t m, const uint8_t* flags, const uint64_t* hi,
                                   const uint64_t* lo, int64_t n4, const uint32_t* starts4,
                                   const int32_t* values4, int64_t n6,
                                   const uint64_t* starts6_hi, const uint64_t* starts6_lo,
                                   const int32_t* values6, int32_t* out) noexcept nogil
