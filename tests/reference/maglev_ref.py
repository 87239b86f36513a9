"""Pure-Python model of Maglev population (paper Pseudocode 1 + lbcore's weighted
rounds) and of lbcore.Maglev's offsets/skips/canonical order/lookup."""
import lbcore

GOLDEN = 0x9E3779B97F4A7C15
U64 = (1 << 64) - 1


def populate(offsets, skips, m, weights=None):
    n = len(offsets)
    perm = [[(offsets[i] + j * skips[i]) % m for j in range(m)] for i in range(n)]
    nxt = [0] * n
    turns = [0] * n
    entry = [-1] * m
    filled = 0
    wmax = max(weights) if weights is not None else None
    t = 0
    while filled < m:
        t += 1
        for i in range(n):
            if weights is not None:
                if not weights[i] > 0:
                    continue
                if float(t) * (weights[i] / wmax) < float(turns[i] + 1):
                    continue
            turns[i] += 1
            c = perm[i][nxt[i]]
            while entry[c] >= 0:
                nxt[i] += 1
                c = perm[i][nxt[i]]
            entry[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                break
    return entry


def identity(t):
    if isinstance(t, (str, bytes)) or (isinstance(t, int) and 0 <= t <= U64):
        return t
    return str(t)


def tag(k):
    return 0 if isinstance(k, int) else (1 if isinstance(k, str) else 2)


def build(targets, m, weights=None, seed=0):
    """Table of target indices (into ``targets``) as lbcore.Maglev builds it."""
    keys = [identity(t) for t in targets]
    h1 = [lbcore.hash_key(k, seed=seed) for k in keys]
    h2 = [lbcore.hash_key(k, seed=(seed + GOLDEN) & U64) for k in keys]
    order = sorted(range(len(targets)), key=lambda i: (h1[i], h2[i], tag(keys[i]), keys[i]))
    offsets = [h1[i] % m for i in order]
    skips = [h2[i] % (m - 1) + 1 for i in order]
    w = None if weights is None else [float(weights[i]) for i in order]
    canon = populate(offsets, skips, m, w)
    return [order[c] for c in canon]


def slot(h, m):
    return (h * m) >> 64
