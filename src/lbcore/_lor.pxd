# cython: language_level=3
"""Least outstanding requests and power of two choices: the C-level API.

Both algorithms share one state (``lb_lor``): per-target outstanding counts and
integer weights, and the set of available targets held in ``heap[0:size]``
with ``pos[i]`` = where target ``i`` sits (-1 = not available / free slot).

* ``ordered == 1`` (LeastOutstanding): ``heap`` is a binary min-heap ordered by
  ``outstanding[i] / weight[i]`` (compared exactly by 128-bit cross
  multiplication), ties broken by the node's ``key``: a stamp from the ever-increasing
  counter ``stamp``, renewed whenever ``i`` is acquired or becomes available.
  Equally loaded targets therefore take turns, least recently picked first
  (round robin within a load level, as HAProxy's leastconn does); the seed
  fixes the initial turn order (a Fisher-Yates shuffle from ``rng``).
  O(log N) acquire and release. (A tie key re-drawn at random on each acquire
  does NOT spread load: the redrawn key is usually below everyone else's
  high survivors, so one target keeps winning.)
* ``ordered == 0`` (PowerOfTwoChoices): ``heap`` is an unordered dense list of
  the available targets; acquire samples two distinct positions. O(1).

A free index slot has ``weight == 0``. The struct lives inside a numpy uint8
array owned by the Python object (``obj._state()``), so numba code can pass
``state.ctypes`` as the ``lb_lor*`` argument.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t
from lbcore._rng cimport lb_rng

# One heap slot: a copy of the target's load and tie key next to its index, so a
# sift touches one 32-byte node per child instead of three scattered arrays.
ctypedef struct lb_lor_node:
    int64_t outstanding      # == outstanding[idx]
    int64_t weight           # == weight[idx]
    uint64_t key             # tie-break stamp (ordered only)
    int32_t idx
    int32_t _pad

ctypedef struct lb_lor:
    int32_t n_slots          # index slots in use: valid indices are [0, n_slots)
    int32_t size             # number of available targets (heap[0:size])
    int32_t ordered          # 1 = least outstanding heap, 0 = power of two choices
    int32_t capacity         # allocated length of every per-target array
    int32_t weighted         # 0: every weight is 1 (compare loads directly)
    int32_t _pad
    int64_t* outstanding
    int64_t* weight          # >= 1 for a registered target, 0 for a free slot
    lb_lor_node* heap        # heap[0:size]: the available targets
    int32_t* pos             # pos[idx] = slot of idx in heap, -1 if not available
    uint64_t stamp           # last tie-break stamp handed out
    lb_rng rng

cdef extern from *:
    """
    /* (oa / wa, ka) < (ob / wb, kb), exactly: cross-multiplied in 128 bits. */
    static inline int lb_lor_less(int64_t oa, int64_t wa, uint64_t ka,
                                  int64_t ob, int64_t wb, uint64_t kb) {
        __int128 l = (__int128)oa * wb, r = (__int128)ob * wa;
        if (l != r) return l < r;
        return ka < kb;
    }
    /* the same order when both weights are 1 */
    static inline int lb_lor_less1(int64_t oa, uint64_t ka, int64_t ob, uint64_t kb) {
        return (oa < ob) | ((oa == ob) & (ka < kb));
    }
    """
    int lb_lor_less(int64_t oa, int64_t wa, uint64_t ka,
                    int64_t ob, int64_t wb, uint64_t kb) noexcept nogil
    int lb_lor_less1(int64_t oa, uint64_t ka, int64_t ob, uint64_t kb) noexcept nogil

# Least outstanding: the available target with the smallest outstanding/weight
# (ties: least recently acquired / made available); counts the request and
# renews its stamp. -1 if none.
cdef int32_t lb_lor_acquire(lb_lor* s) noexcept nogil
# Power of two choices: two distinct random available targets, the smaller
# outstanding/weight wins (a tie goes to the first drawn); counts the request.
# -1 if none; with one available target it is returned.
cdef int32_t lb_lor_acquire_p2c(lb_lor* s) noexcept nogil
# Count a request on a given target i (a sticky request: the target was chosen
# elsewhere), whether or not it is available; renews its stamp like an acquire.
# 0 ok, -2 unknown index.
cdef int lb_lor_acquire_at(lb_lor* s, int32_t i) noexcept nogil
# End one request on target i: 0 ok, -1 nothing outstanding, -2 unknown index.
cdef int lb_lor_release(lb_lor* s, int32_t i) noexcept nogil
# Make target i available (1) or not (0): 0 ok, -2 unknown index.
cdef int lb_lor_set_available(lb_lor* s, int32_t i, int available) noexcept nogil
