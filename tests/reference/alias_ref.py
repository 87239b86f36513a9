"""Pure-Python model of Vose's alias method with slow start by rejection (lbcore._alias).

``alias_build`` follows Vose (1991) with two stacks, in the same order of
floating-point operations as the kernel; ``implied_probabilities`` recovers
P(i) from a table independently of how it was built (the real correctness
check: it must equal w_i / sum(w)).
"""
import math

from lbcore import Random

from reference.roundrobin_ref import ramp

MAX_TRIES = 64


def alias_build(weights):
    n = len(weights)
    total = 0.0
    for w in weights:
        total += w
    first = next(i for i, w in enumerate(weights) if w > 0)
    prob = [(w / total) * n for w in weights]
    alias = list(range(n))
    small = [i for i in range(n) if prob[i] < 1.0]
    large = [i for i in range(n) if prob[i] >= 1.0]
    while small and large:
        l = small.pop()
        g = large[-1]
        alias[l] = g
        prob[g] = (prob[g] + prob[l]) - 1.0
        if prob[g] < 1.0:
            large.pop()
            small.append(g)
    for g in large:
        prob[g] = 1.0
    for l in small:
        if weights[l] > 0:
            prob[l], alias[l] = 1.0, l
        else:
            prob[l], alias[l] = 0.0, first
    return prob, alias


def implied_probabilities(prob, alias):
    n = len(prob)
    p = [0.0] * n
    for j in range(n):
        p[j] += prob[j] / n
        p[alias[j]] += (1.0 - prob[j]) / n
    return p


class WeightedRandomRef:
    def __init__(self, targets, weights, seed=0, slow_start=0.0):
        self.rng = Random(seed)
        self.slow_start = float(slow_start)
        self.t = list(targets)
        self.w = [float(x) for x in weights]
        self.av = [True] * len(self.t)
        self.ss = [-math.inf] * len(self.t)
        self.free = []
        self._rebuild()

    def _rebuild(self):
        eff = [w * a for w, a in zip(self.w, self.av)]
        self.total = sum(eff)
        if self.total > 0:
            self.prob, self.alias = alias_build(eff)

    def _sample(self):
        j = self.rng.bounded(len(self.prob))
        return j if self.rng.uniform() < self.prob[j] else self.alias[j]

    def pick_index(self, now=0.0):
        if not self.total > 0:
            return -1
        if self.slow_start <= 0:
            return self._sample()
        for _ in range(MAX_TRIES):
            j = self._sample()
            r = ramp(now, self.ss[j], self.slow_start)
            if r >= 1.0 or (r > 0.0 and self.rng.uniform() < r):
                return j
        eff = [self.w[i] * ramp(now, self.ss[i], self.slow_start) if self.av[i] else 0.0
               for i in range(len(self.t))]
        tot = 0.0
        for e in eff:
            tot += e
        if not tot > 0:
            return self._sample()
        u = self.rng.uniform() * tot
        last = -1
        for i, e in enumerate(eff):
            if e > 0:
                last = i
                if u < e:
                    return i
                u -= e
        return last

    def _enter(self, i, now):
        others = sum(self.av) - int(self.av[i])
        self.ss[i] = now if (self.slow_start > 0 and others > 0) else -math.inf

    def set_available(self, target, flag, now=0.0):
        i = self.t.index(target)
        if flag and not self.av[i]:
            self.av[i] = True
            self._enter(i, now)
        elif not flag and self.av[i]:
            self.av[i], self.ss[i] = False, -math.inf
        else:
            return
        self._rebuild()

    def add(self, target, w, now=0.0):
        if self.free:
            i = self.free.pop()
            self.t[i], self.w[i], self.av[i] = target, float(w), True
        else:
            i = len(self.t)
            self.t.append(target)
            self.w.append(float(w))
            self.av.append(True)
            self.ss.append(-math.inf)
        self._enter(i, now)
        self._rebuild()

    def remove(self, target):
        i = self.t.index(target)
        self.t[i], self.w[i], self.av[i], self.ss[i] = None, 0.0, False, -math.inf
        self.free.append(i)
        self._rebuild()
