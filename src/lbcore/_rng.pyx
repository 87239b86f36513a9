# cython: language_level=3
"""Python shims over the inline generator in _rng.pxd, so it is tested like a kernel."""
cimport cython
from libc.stdint cimport uint64_t

from lbcore._hash cimport lb_splitmix64
from lbcore._hash import parse_seed


@cython.embedsignature(False)
cdef class Random:
    """Random(seed=0)
--

xoshiro256** seeded through SplitMix64; the generator every lbcore kernel uses."""
    cdef lb_rng rng

    def __cinit__(self, *args, **kwargs):
        # seeded before __init__ runs: an all-zero xoshiro state only ever gives 0
        # (bounded() would never return)
        lb_rng_seed(&self.rng, 0)

    def __init__(self, seed=0):
        lb_rng_seed(&self.rng, parse_seed(seed))

    def next_u64(self):
        return lb_rng_next(&self.rng)

    def uniform(self):
        return lb_rng_uniform(&self.rng)

    def bounded(self, n):
        """A uniform integer in [0, n), 1 <= n < 2**64 (Lemire's method, no modulo bias)."""
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        n = n.__index__()
        if not 1 <= n < (1 << 64):
            raise ValueError(f"n must be in [1, 2**64), got {n}")
        return lb_rng_bounded(&self.rng, n)

    @property
    def state(self):
        return tuple(self.rng.s[i] for i in range(4))

    def __reduce__(self):
        return (type(self), (), self.state)

    def __setstate__(self, state):
        """Restore the generator from ``state`` (four words, not all zero), as
        pickle does: the next draws are the ones the pickled object would make."""
        rng_load_state(&self.rng, state)
