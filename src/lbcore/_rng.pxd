# cython: language_level=3
"""lbcore's seeded random generator: xoshiro256** (Blackman & Vigna 2018).

State is a plain struct passed by pointer (no global state); every random
decision in lbcore draws from one of these, owned by the Python object that
makes the decision. Seeding expands a 64-bit seed with SplitMix64, as the
xoshiro authors recommend.
"""
from libc.stdint cimport uint64_t
from lbcore._hash cimport lb_splitmix64, lb_mum

ctypedef struct lb_rng:
    uint64_t s[4]


cdef inline void lb_rng_seed(lb_rng* r, uint64_t seed) noexcept nogil:
    cdef uint64_t state = seed
    cdef int i
    for i in range(4):
        r.s[i] = lb_splitmix64(&state)


cdef inline uint64_t _rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline uint64_t lb_rng_next(lb_rng* r) noexcept nogil:
    cdef uint64_t result = _rotl(r.s[1] * 5, 7) * 9
    cdef uint64_t t = r.s[1] << 17
    r.s[2] ^= r.s[0]
    r.s[3] ^= r.s[1]
    r.s[1] ^= r.s[2]
    r.s[0] ^= r.s[3]
    r.s[2] ^= t
    r.s[3] = _rotl(r.s[3], 45)
    return result


cdef inline double lb_rng_uniform(lb_rng* r) noexcept nogil:
    """A double in [0, 1) with 53 random bits."""
    return <double>(lb_rng_next(r) >> 11) * (1.0 / 9007199254740992.0)


cdef extern from *:
    """
    static inline uint64_t lb_mul_hi64(uint64_t a, uint64_t b) {
        return (uint64_t)(((unsigned __int128)a * b) >> 64);
    }
    static inline uint64_t lb_mul_lo64(uint64_t a, uint64_t b) { return a * b; }
    """
    uint64_t lb_mul_hi64(uint64_t a, uint64_t b) noexcept nogil
    uint64_t lb_mul_lo64(uint64_t a, uint64_t b) noexcept nogil


cdef inline uint64_t lb_rng_bounded(lb_rng* r, uint64_t n) noexcept nogil:
    """Uniform integer in [0, n), n >= 1, without modulo bias (Lemire 2019)."""
    cdef uint64_t x = lb_rng_next(r)
    cdef uint64_t lo = lb_mul_lo64(x, n)
    cdef uint64_t threshold
    if lo < n:
        threshold = (0 - n) % n
        while lo < threshold:
            x = lb_rng_next(r)
            lo = lb_mul_lo64(x, n)
    return lb_mul_hi64(x, n)


cdef inline int rng_load_state(lb_rng* r, object state) except -1:
    """Set ``r`` from ``state``, four ints in [0, 2**64) not all zero (what a
    generator's ``state`` property gives; pickling restores through it)."""
    if not isinstance(state, tuple) or len(state) != 4:
        raise TypeError("state must be a tuple of four 64-bit words")
    for w in state:
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < 2**64:
            raise ValueError("state words must be ints in [0, 2**64)")
    if not any(state):
        raise ValueError("state must not be all zero (the generator would never move)")
    cdef int i
    for i in range(4):
        r.s[i] = state[i]
    return 0
