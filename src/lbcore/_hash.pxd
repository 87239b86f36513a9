# cython: language_level=3
"""The hash kernel family: lbcore's 64-bit flow hash and its mixing primitives.

Everything declared here is part of lbcore's C-level API: other Cython code may
``cimport lbcore._hash`` and numba code binds the ``lb_*`` functions through
``lbcore.numba``. Exported functions are single-typed and ``noexcept nogil``.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from *:
    """
    /* 64x64 -> 128 multiply folded to 64 bits (high xor low): the mixing step
       of lbcore's flow hash. gcc and clang both provide unsigned __int128. */
    static inline uint64_t lb_mum(uint64_t a, uint64_t b) {
        unsigned __int128 r = (unsigned __int128)a * b;
        return (uint64_t)r ^ (uint64_t)(r >> 64);
    }
    """
    uint64_t lb_mum(uint64_t a, uint64_t b) noexcept nogil

# The flow flags and field sets (lbcore._types), re-exported for cimports of lbcore._hash.
from lbcore._types cimport LB_FLOW_IPV6, LB_FLOW_HAS_SEQ, LB_FIELDS_5, LB_FIELDS_3, LB_FIELDS_2

ctypedef struct lb_hash_keys:
    uint64_t k[8]


cdef inline uint64_t lb_splitmix64(uint64_t* state) noexcept nogil:
    """One step of SplitMix64 (Steele, Lea, Flood 2014): advances *state."""
    state[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t lb_mix64(uint64_t z) noexcept nogil:
    """SplitMix64's output function: a bijective 64-bit finalizer."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void lb_hash_keys_init(lb_hash_keys* keys, uint64_t seed) noexcept nogil:
    """The eight secret words of a seed: the first eight SplitMix64 outputs."""
    cdef uint64_t state = seed
    cdef int i
    for i in range(8):
        keys.k[i] = lb_splitmix64(&state)


cdef inline uint64_t lb_flow_hash_keyed(
        const lb_hash_keys* keys, uint8_t proto, uint8_t flags,
        uint64_t src_hi, uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo,
        uint16_t sport, uint16_t dport, uint32_t seq,
        int fields, int symmetric) noexcept nogil:
    cdef uint64_t t, a, b, x, y, h
    cdef uint16_t tp
    cdef bint use_seq = (flags & LB_FLOW_HAS_SEQ) != 0 and fields == LB_FIELDS_5 and not symmetric
    if not (flags & LB_FLOW_IPV6):
        # IPv4 lives in the low 32 bits of *_lo; anything else is ignored (so
        # callers of the C API that leave garbage there get the same hash).
        src_hi = 0
        dst_hi = 0
        src_lo &= 0xFFFFFFFFULL
        dst_lo &= 0xFFFFFFFFULL
    if fields != LB_FIELDS_5:
        sport = 0
        dport = 0
    if fields == LB_FIELDS_2:
        proto = 0
    if symmetric:
        # Canonical direction: the smaller (address, port) endpoint first, so a
        # flow and its reverse hash the same.
        if (src_hi > dst_hi or (src_hi == dst_hi and (src_lo > dst_lo or
                (src_lo == dst_lo and sport > dport)))):
            a = src_hi; src_hi = dst_hi; dst_hi = a
            a = src_lo; src_lo = dst_lo; dst_lo = a
            tp = sport; sport = dport; dport = tp
    t = (<uint64_t>proto | (<uint64_t>(flags & LB_FLOW_IPV6) << 8)
         | (<uint64_t>fields << 9) | (<uint64_t>(symmetric != 0) << 11))
    b = (((<uint64_t>sport << 16) | dport) << 32) | t
    if flags & LB_FLOW_IPV6:
        x = lb_mum(src_hi ^ keys.k[0], src_lo ^ keys.k[1])
        y = lb_mum(dst_hi ^ keys.k[2], dst_lo ^ keys.k[3])
        a = x
        b = y ^ b
        h = lb_mum(a ^ keys.k[4], b ^ keys.k[5]) ^ a ^ b
    else:
        a = (src_lo << 32) | (dst_lo & 0xFFFFFFFFULL)
        h = lb_mum(a ^ keys.k[0], b ^ keys.k[1]) ^ a ^ b
    if use_seq:
        h = lb_mum(h ^ keys.k[6], <uint64_t>seq ^ keys.k[7]) ^ h ^ seq
    return lb_mix64(h)


cdef uint64_t lb_flow_hash(
    uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
    uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport,
    uint32_t seq, int fields, int symmetric, uint64_t seed) noexcept nogil

cdef uint64_t lb_flow_hash_k(
    uint64_t k0, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4, uint64_t k5,
    uint64_t k6, uint64_t k7, uint8_t proto, uint8_t flags, uint64_t src_hi,
    uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport,
    uint32_t seq, int fields, int symmetric) noexcept nogil

cdef void lb_flow_hash_many(
    size_t n, const uint8_t* proto, const uint8_t* flags,
    const uint64_t* src_hi, const uint64_t* src_lo,
    const uint64_t* dst_hi, const uint64_t* dst_lo,
    const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
    int fields, int symmetric, uint64_t seed, uint64_t* out) noexcept nogil

cdef uint64_t lb_hash_u64(uint64_t key, uint64_t seed) noexcept nogil

cdef uint64_t lb_hash_bytes(const uint8_t* data, size_t n, uint64_t seed) noexcept nogil
