"""Obviously-correct models of the token bucket (and GCRA) in exact Fractions.

Times are integer nanoseconds; rate is tokens per second, burst tokens, both Fractions.
"""
from fractions import Fraction

NS = 10**9


class BucketRef:
    """The textbook token bucket: full at start, refill rate*dt capped at burst, a
    request of ``cost`` tokens is admitted iff the bucket holds at least ``cost``."""

    def __init__(self, rate, burst):
        self.rate = Fraction(rate)
        self.burst = Fraction(burst)
        self.tok = self.burst
        self.last = 0

    def _refill(self, now):
        if now < self.last:
            raise ValueError("time went back")
        self.tok = min(self.burst, self.tok + self.rate * Fraction(now - self.last, NS))
        self.last = now

    def tokens(self, now):
        saved = (self.tok, self.last)
        self._refill(now)
        t = self.tok
        self.tok, self.last = saved
        return t

    def try_acquire(self, now, cost=1):
        self._refill(now)
        if self.tok >= cost:
            self.tok -= cost
            return True
        return False


class GcraRef:
    """GCRA (virtual scheduling): theoretical arrival time ``tat``; emission interval
    1/rate s per token, tolerance burst/rate. Defined for rate > 0 only."""

    def __init__(self, rate, burst):
        self.rate = Fraction(rate)
        self.burst = Fraction(burst)
        assert self.rate > 0
        self.tat = Fraction(0)
        self.last = 0

    def try_acquire(self, now, cost=1):
        if now < self.last:
            raise ValueError("time went back")
        self.last = now
        t = Fraction(now, NS)
        new_tat = max(self.tat, t) + cost / self.rate
        if new_tat - t <= self.burst / self.rate:
            self.tat = new_tat
            return True
        return False
