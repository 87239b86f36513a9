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


def period_ref(now_ns, period):
    """UTC period index via the datetime module: DAY, WEEK (Monday start), MONTH."""
    import datetime as _dt
    d = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=now_ns // 1000)
    if period == "DAY":
        return (d.date() - _dt.date(1970, 1, 1)).days
    if period == "WEEK":
        monday = d.date() - _dt.timedelta(days=d.weekday())
        return (monday - _dt.date(1969, 12, 29)).days // 7
    return d.year * 12 + d.month - 1


class GatewayRef:
    """Slow model of lbcore.apigateway.ApiGateway's documented semantics: a chain of
    exact token buckets (usage plan per-method or per-key, then stage method, then
    account), plus a quota counter per key; all-or-nothing; quota reported first."""

    def __init__(self, account):
        self.account = BucketRef(*account)
        self.buckets = {}
        self.quota = {}   # key -> [limit, offset, period, initial, current_period, used]

    def bucket(self, ident, lim):
        if ident not in self.buckets:
            self.buckets[ident] = BucketRef(*lim)
        return self.buckets[ident]

    def check(self, chain, quota_key, quota, now):
        """chain: list of (name, BucketRef); quota: (limit, offset, period) or None."""
        for _, b in chain:
            if now < b.last:
                raise ValueError("time went back")
        for _, b in chain:
            b._refill(now)          # refill is state-neutral: the kernel does it first
        if quota is not None:
            st = self.quota.setdefault(quota_key, [None, None, 0])
            p = period_ref(now, quota[2])
            if st[0] is None:
                st[0] = p
            used = st[2] if st[1] == p else 0
            limit = quota[0] - (quota[1] if p == st[0] else 0)
            if used + 1 > limit:
                return ("QUOTA_EXCEEDED", "USAGE_PLAN")
        for name, b in chain:
            if b.tok < 1:
                return ("THROTTLED", name)
        for _, b in chain:
            assert b.try_acquire(now, 1)
        if quota is not None:
            if st[1] != p:
                st[1], st[2] = p, 0
            st[2] += 1
        return None
