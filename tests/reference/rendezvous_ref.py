"""Pure-Python weighted rendezvous, as lbcore.Rendezvous defines it."""
import math

import lbcore

GOLDEN = 0x9E3779B97F4A7C15
U64 = (1 << 64) - 1


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return z ^ (z >> 31)


def identity(t):
    if isinstance(t, (str, bytes)) or (isinstance(t, int) and 0 <= t <= U64):
        return t
    return str(t)


def ranking(targets, key, weights=None, seed=0):
    """All eligible target indices, best first."""
    ids = [identity(t) for t in targets]
    ta = [lbcore.hash_key(k, seed=seed) for k in ids]
    tb = [lbcore.hash_key(k, seed=(seed + GOLDEN) & U64) for k in ids]
    if weights is not None and len(set(float(w) for w in weights)) == 1:
        weights = None
    scored = []
    for i in range(len(targets)):
        u52 = mix64((mix64(key ^ ta[i]) + tb[i]) & U64) >> 12
        if weights is None:
            s = float(u52)
        else:
            if not weights[i] > 0:
                continue
            s = -float(weights[i]) / math.log((u52 + 0.5) * 2.0 ** -52)
        scored.append((-s, ta[i], tb[i], i))
    return [i for *_, i in sorted(scored)]
