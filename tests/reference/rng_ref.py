"""Pure-Python model of lbcore's generator (src/lbcore/_rng.pxd).

xoshiro256** (Blackman & Vigna, "Scrambled linear pseudorandom number
generators", 2018/2021), seeded with four SplitMix64 outputs as its authors
recommend; doubles from the top 53 bits; bounded integers by Lemire's
multiply-and-reject method ("Fast random integer generation in an interval",
ACM TOMACS 2019).
"""
from __future__ import annotations

from reference.hash_ref import M64, splitmix64


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & M64


class Xoshiro256ss:
    def __init__(self, seed: int = 0):
        self.s = splitmix64(seed, 4)

    def next_u64(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self) -> float:
        return (self.next_u64() >> 11) / float(1 << 53)

    def bounded(self, n: int) -> int:
        """Uniform in [0, n): the high word of x*n, rejecting the biased low words."""
        m = self.next_u64() * n
        if (m & M64) < n:
            threshold = ((1 << 64) - n) % n
            while (m & M64) < threshold:
                m = self.next_u64() * n
        return m >> 64

    @property
    def state(self):
        return tuple(self.s)
