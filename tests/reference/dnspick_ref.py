"""Pure-Python model of lbcore's generator (SplitMix64-seeded xoshiro256**, Lemire's
bounded draw) and of the dnspick kernels built on it."""
M = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        s, self.s = seed & M, []
        for _ in range(4):
            s = (s + 0x9E3779B97F4A7C15) & M
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def bounded(self, n):
        x = self.next()
        m = x * n
        lo = m & M
        if lo < n:
            threshold = ((1 << 64) - n) % n
            while lo < threshold:
                x = self.next()
                m = x * n
                lo = m & M
        return m >> 64


def weighted(rng, weights):
    total = sum(weights)
    if total == 0:
        return -1
    r = rng.bounded(total)
    acc = 0
    for i, w in enumerate(weights):
        acc += w
        if acc > r:
            return i
    raise AssertionError("unreachable")


def sample(rng, n, k):
    items = list(range(n))
    k = min(k, n)
    steps = n - 1 if (k == n and n > 0) else k
    for i in range(steps):
        j = i + rng.bounded(n - i)
        items[i], items[j] = items[j], items[i]
    return items[:k]
