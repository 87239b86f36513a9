"""Pure-Python models of LeastOutstanding and PowerOfTwoChoices (lbcore._lor).

Slow and obvious: the least-outstanding pick is a linear min over the available
targets of (Fraction(outstanding, weight), tie key); random draws come from
lbcore.Random (the same xoshiro256** stream the kernels own), drawn at the same
moments the kernel draws them, so kernel and model agree exactly. Ties in
least outstanding go to the target whose last acquire / return to service is
oldest (a global counter stamp); the constructor makes targets available in a
Fisher-Yates order drawn from the seed.
"""
from fractions import Fraction

from lbcore import Random


def shuffled(targets, rng):
    order = list(targets)
    for i in range(len(order) - 1, 0, -1):
        j = rng.bounded(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class LeastOutstandingRef:
    def __init__(self, targets, weights=None, seed=0):
        self.rng = Random(seed)
        self.o, self.w, self.key, self.avail = {}, {}, {}, set()
        weights = [1] * len(targets) if weights is None else list(weights)
        for t, w in zip(targets, weights):
            self.o[t], self.w[t], self.key[t] = 0, int(w), 0
        self.stamp = 0
        for t in shuffled(targets, self.rng):
            self.set_available(t, True)

    def load(self, t):
        return Fraction(self.o[t], self.w[t])

    def acquire(self):
        if not self.avail:
            return None
        best = min(self.avail, key=lambda t: (self.load(t), self.key[t]))
        self.o[best] += 1
        self.stamp += 1
        self.key[best] = self.stamp
        return best

    def acquire_at(self, t):
        if t not in self.o:
            raise ValueError("unknown target")
        self.o[t] += 1
        if t in self.avail:
            self.stamp += 1
            self.key[t] = self.stamp

    def release(self, t):
        if t not in self.o:
            raise ValueError("unknown target")
        if self.o[t] == 0:
            raise ValueError("nothing outstanding")
        self.o[t] -= 1

    def set_available(self, t, flag):
        if flag and t not in self.avail:
            self.avail.add(t)
            self.stamp += 1
            self.key[t] = self.stamp
        elif not flag:
            self.avail.discard(t)

    def add(self, t, w=1, available=True):
        self.o[t], self.w[t], self.key[t] = 0, int(w), 0
        if available:
            self.set_available(t, True)

    def remove(self, t):
        self.avail.discard(t)
        del self.o[t], self.w[t], self.key[t]


class PowerOfTwoChoicesRef:
    """Available targets kept in a list with swap-with-last removal (the
    kernel's dense list), two distinct uniform positions per acquire."""

    def __init__(self, targets, seed=0):
        self.rng = Random(seed)
        self.o = {t: 0 for t in targets}
        self.lst = []
        for t in shuffled(targets, self.rng):
            self.set_available(t, True)

    def acquire(self):
        n = len(self.lst)
        if n == 0:
            return None
        if n == 1:
            a = self.lst[0]
        else:
            x = self.rng.bounded(n)
            y = self.rng.bounded(n - 1)
            if y >= x:
                y += 1
            a, b = self.lst[x], self.lst[y]
            if self.o[b] < self.o[a]:
                a = b
        self.o[a] += 1
        return a

    def acquire_at(self, t):
        if t not in self.o:
            raise ValueError("unknown target")
        self.o[t] += 1

    def release(self, t):
        if t not in self.o:
            raise ValueError("unknown target")
        if self.o[t] == 0:
            raise ValueError("nothing outstanding")
        self.o[t] -= 1

    def set_available(self, t, flag):
        if flag and t not in self.lst:
            self.lst.append(t)
        elif not flag and t in self.lst:
            p = self.lst.index(t)
            last = self.lst.pop()
            if p < len(self.lst):
                self.lst[p] = last

    def add(self, t, available=True):
        self.o[t] = 0
        if available:
            self.set_available(t, True)

    def remove(self, t):
        self.set_available(t, False)
        del self.o[t]


class HeapqLeastOutstanding:
    """A straightforward heapq-based least outstanding requests balancer (lazy
    deletion: stale heap entries are skipped) — the benchmark's pure-Python peer."""

    def __init__(self, targets):
        import heapq
        self._heapq = heapq
        self.o = {t: 0 for t in targets}
        self.heap = [(0, i, t) for i, t in enumerate(targets)]
        self._n = len(targets)
        heapq.heapify(self.heap)

    def acquire(self):
        heap, o = self.heap, self.o
        while True:
            c, _, t = heap[0]
            if o[t] == c:
                break
            self._heapq.heappop(heap)
        o[t] = c + 1
        self._n += 1
        self._heapq.heapreplace(heap, (c + 1, self._n, t))
        return t

    def release(self, t):
        c = self.o[t]
        if c == 0:
            raise ValueError("nothing outstanding")
        self.o[t] = c - 1
        self._n += 1
        self._heapq.heappush(self.heap, (c - 1, self._n, t))
        if len(self.heap) > 4 * len(self.o) + 64:   # drop stale entries now and then
            self.heap = [(c, i, t) for c, i, t in self.heap if self.o[t] == c]
            self._heapq.heapify(self.heap)
