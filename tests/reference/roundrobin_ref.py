"""Pure-Python model of smooth weighted round robin with slow start (lbcore._roundrobin).

Same floating-point operations in the same order as the kernel, so picks agree exactly.
"""
import math


def ramp(now, start, duration):
    """Linear slow-start ramp: 0 at ``start``, 1 after ``duration`` seconds."""
    if duration <= 0:
        return 1.0
    t = (now - start) / duration
    return 1.0 if t >= 1.0 else (0.0 if t <= 0.0 else t)


class RoundRobinRef:
    def __init__(self, targets, weights=None, slow_start=0.0):
        self.slow_start = float(slow_start)
        weights = [1.0] * len(targets) if weights is None else [float(w) for w in weights]
        # one row per index slot: [target, weight, current, available, ss_start]
        self.rows = [[t, w, 0.0, True, -math.inf] for t, w in zip(targets, weights)]
        self.free = []

    def _row(self, t):
        for r in self.rows:
            if r[0] == t and r[0] is not None:
                return r
        raise ValueError("unknown target")

    def pick(self, now=0.0):
        best, total = None, 0.0
        for r in self.rows:
            if not r[3]:
                continue
            e = r[1]
            if self.slow_start > 0:
                e = e * ramp(now, r[4], self.slow_start)
            if e <= 0:
                continue
            r[2] += e
            total += e
            if best is None or r[2] > best[2]:
                best = r
        if best is None and self.slow_start > 0:
            for r in self.rows:
                if not r[3] or r[1] <= 0:
                    continue
                r[2] += r[1]
                total += r[1]
                if best is None or r[2] > best[2]:
                    best = r
        if best is None:
            return None
        best[2] -= total
        return best[0]

    def _enter(self, row, now):
        others = sum(1 for r in self.rows if r[3] and r is not row)
        row[4] = now if (self.slow_start > 0 and others > 0) else -math.inf

    def set_available(self, t, flag, now=0.0):
        r = self._row(t)
        if flag and not r[3]:
            r[2], r[3] = 0.0, True
            self._enter(r, now)
        elif not flag:
            r[2], r[3], r[4] = 0.0, False, -math.inf

    def add(self, t, w=1.0, now=0.0):
        row = [t, float(w), 0.0, True, -math.inf]
        if self.free:                            # the last freed slot is reused first
            self.rows[self.free.pop()] = row
        else:
            self.rows.append(row)
        self._enter(row, now)

    def remove(self, t):
        r = self._row(t)
        i = self.rows.index(r)
        self.rows[i] = [None, 0.0, 0.0, False, -math.inf]
        self.free.append(i)

    def set_weight(self, t, w):
        self._row(t)[1] = float(w)
