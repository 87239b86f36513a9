# cython: language_level=3
"""The Maglev kernel family: table population (Eisenbud et al., NSDI 2016, section 3.4)
and lookup.

Exported functions are single-typed and ``noexcept nogil``; numba binds them through
``lbcore.numba``. A table of prime size ``m`` holds int32 target indices.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t

cdef extern from *:
    """
    /* Slot of a 64-bit hash in a table of m slots: the high word of h*m
       (Lemire's multiply-shift range reduction), uniform for uniform h and
       cheaper than h % m. */
    static inline uint64_t lb_maglev_slot(uint64_t h, uint64_t m) {
        return (uint64_t)(((unsigned __int128)h * m) >> 64);
    }
    """
    uint64_t lb_maglev_slot(uint64_t h, uint64_t m) noexcept nogil


cdef int lb_maglev_populate(
    int32_t n, const uint64_t* offsets, const uint64_t* skips, const double* weights,
    uint64_t m, uint64_t* scratch_pos, uint64_t* scratch_turns,
    int32_t* table) noexcept nogil

cdef int32_t lb_maglev_lookup(const int32_t* table, uint64_t m, uint64_t h) noexcept nogil

cdef void lb_maglev_lookup_many(
    const int32_t* table, uint64_t m, size_t n, const uint64_t* hashes,
    int32_t* out) noexcept nogil

cdef void lb_maglev_select_flows(
    const int32_t* table, uint64_t m, size_t n,
    const uint8_t* proto, const uint8_t* flags,
    const uint64_t* src_hi, const uint64_t* src_lo,
    const uint64_t* dst_hi, const uint64_t* dst_lo,
    const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
    int fields, int symmetric, uint64_t seed, int32_t* out) noexcept nogil
