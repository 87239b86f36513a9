# cython: language_level=3
"""The weighted rendezvous (highest random weight) kernel family.

Target i has two 64-bit identity hashes ``ta[i]``, ``tb[i]``; for a 64-bit key the
pair hash is ``h = mix64(mix64(key ^ ta) + tb)`` (SplitMix64's finalizer), ``u =
((h >> 12) + 0.5) / 2**52`` in (0, 1) and the score ``-w / ln(u)`` (Schindelhauer &
Schomaker's weighted distributed hash tables; the "logarithmic method"). Without
weights (``weights == NULL``) the score is ``h >> 12``, the same order as u.
The highest score wins; ties go to the smaller ``(ta, tb)``, then the smaller index.
Zero-weight targets never win.
"""
from libc.stdint cimport uint64_t, int32_t
from lbcore._hash cimport lb_mix64


cdef inline uint64_t lb_rendezvous_pair(uint64_t key, uint64_t ta, uint64_t tb) noexcept nogil:
    return lb_mix64(lb_mix64(key ^ ta) + tb)


cdef int32_t lb_rendezvous_select(
    uint64_t key, int32_t n, const uint64_t* ta, const uint64_t* tb,
    const double* weights) noexcept nogil

cdef void lb_rendezvous_select_many(
    size_t count, const uint64_t* keys, int32_t n, const uint64_t* ta, const uint64_t* tb,
    const double* weights, int32_t* out) noexcept nogil

cdef int32_t lb_rendezvous_top(
    uint64_t key, int32_t n, const uint64_t* ta, const uint64_t* tb,
    const double* weights, int32_t k, int32_t* out, double* scratch) noexcept nogil
