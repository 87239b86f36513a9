"""API Gateway throttling with its state in Redis, so a fleet of processes shares one limit.

``RedisApiGateway`` is configured exactly like :class:`ApiGateway` (it is one) and decides
with the same precedence (usage plan / method / stage / account chain, then the usage-plan
quota) and the same exact integer arithmetic, but the buckets and quota counters live in
Redis and every request is decided by one atomic server-side Lua script. docs/redis.md.

Units in Redis: Lua numbers are doubles (integers exact below 2**53), so lbcore's int64
state is split: time as (seconds, nanoseconds < 1e9) and a bucket's tokens as (whole
tokens, fraction in units of 1/(1e9 * q) token, < 1e9 * q) for a rate p/q tokens/s. Every
intermediate stays below 2**53 for the limits ``_limits`` accepts, so nothing rounds.
"""
from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any, Callable, Mapping

import numpy as np

from lbcore import seconds_to_ns
from lbcore.apigateway._settings import (ACCOUNT_DEFAULT_THROTTLE, QuotaSettings,
                                         ThrottleSettings, quota_reset)
from lbcore.apigateway._throttling import (ALLOWED, FORBIDDEN_CODES, LEVELS,
                                           QUOTA_EXCEEDED, THROTTLED, ApiGateway,
                                           CheckResults, Decision, place_forbidden)

__all__ = ["RedisApiGateway", "RedisTokenBuckets", "UNAVAILABLE", "ON_ERROR"]

UNAVAILABLE = "UNAVAILABLE"          # Decision.reason when Redis could not be asked
ON_ERROR = ("closed", "open", "raise")
_USAGE_PLAN = LEVELS[1]
_EXACT = 2 ** 53
_KIND = {"DAY": 0, "WEEK": 1, "MONTH": 2}
_PERIOD = {v: k for k, v in _KIND.items()}
_KIND_CACHE_MAX = 4096          # request kinds remembered (cleared when full: paths are unbounded)
# a kind the script admits touching nothing (cost 1, no bucket, no quota): a 403
_NO_LEVELS: tuple[list[str], list[str], tuple[Any, ...]] = ([], ["1", "0", "0"],
                                                            (None, None, None))
_QUOTA_TTL_MS = {"DAY": 2 * 86400_000, "WEEK": 8 * 86400_000, "MONTH": 32 * 86400_000}

# ARGV: the number of request kinds, then per kind: cost, m, m buckets (key index, level,
# p, q, burst, ttl ms), has_quota [key index, limit, offset, kind, initial period or -1,
# ttl ms]; then one string "kind sec ns kind sec ns ..." (kinds from 1; sec -1: the
# server's TIME); then optionally "w": the call is one request, and the reply is {code,
# wait numerator, wait denominator, sec, ns} -- the wait for a refusal is num / (den * 1e9)
# seconds until every bucket of its chain holds a token again (num -1: never, a bucket
# without refill), at the time sec.ns the request was decided. State is read once per
# key, decided in order, written back at the end.
_LUA = r"""
if redis.replicate_commands then redis.replicate_commands() end  -- Redis 3.2-4: TIME, then writes
local function divmod(a, b)
  local d = math.floor(a / b)
  local r = a - d * b
  if r < 0 then d = d - 1; r = r + b elseif r >= b then d = d + 1; r = r - b end
  return d, r
end
local function fmt(x) return string.format('%.0f', x) end
local function period_of_day(days, kind)
  if kind == 0 then return days end
  if kind == 1 then return (divmod(days + 3, 7)) end
  local z = days + 719468
  local era = divmod(z, 146097)
  local doe = z - era * 146097
  local yoe = divmod(doe - divmod(doe, 1460) + divmod(doe, 36524) - divmod(doe, 146096), 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + divmod(yoe, 4) - divmod(yoe, 100))
  local mp = divmod(5 * doy + 2, 153)
  local mo
  if mp < 10 then mo = mp + 3 else mo = mp - 9 end
  if mo <= 2 then y = y + 1 end
  return y * 12 + (mo - 1)
end
local pday, ppid = {}, {}
local function period(sec, kind)  -- memoised per day: requests of a call share days
  local days = math.floor(sec / 86400)
  if pday[kind] ~= days then pday[kind] = days; ppid[kind] = period_of_day(days, kind) end
  return ppid[kind]
end
local A = ARGV
local pos = 1
local function num() pos = pos + 1; return tonumber(A[pos - 1]) end
local kinds = {}
for k = 1, num() do
  local d = {cost = num(), b = {}}
  for i = 1, num() do
    d.b[i] = {key = num(), lvl = num(), p = num(), q = num(), burst = num(), ttl = num()}
  end
  if num() == 1 then
    d.quota = {key = num(), limit = num(), offset = num(), kind = num(), init = num(),
               ttl = num()}
  end
  kinds[k] = d
end
local S, Q = {}, {}
local server_sec, server_ns
local out = {}
local nreq = 0
local nw, nf, nls, nlns = {}, {}, {}, {}
local it = string.gmatch(A[pos], '%S+')
local want_wait = A[pos + 1] == 'w'
local wait
while true do
  local kk = it()
  if not kk then break end
  local d = kinds[tonumber(kk)]
  local sec, ns = tonumber(it()), tonumber(it())
  if sec < 0 then
    if not server_sec then
      local t = redis.call('TIME')
      server_sec = tonumber(t[1]); server_ns = tonumber(t[2]) * 1000
    end
    sec, ns = server_sec, server_ns
  end
  local cost = d.cost
  local m = #d.b
  for i = 1, m do
    local e = d.b[i]
    local st = S[e.key]
    if not st then
      local h = redis.call('HMGET', KEYS[e.key], 'w', 'f', 's', 'n')
      if h[1] then
        st = {w = tonumber(h[1]), f = tonumber(h[2]), ls = tonumber(h[3]), lns = tonumber(h[4])}
      else
        st = {w = e.burst, f = 0, ls = sec, lns = ns}
      end
      st.e = e
      S[e.key] = st
    end
    local w, f, ls, lns = st.w, st.f, st.ls, st.lns
    local dsec, dns = sec - ls, ns - lns
    if dns < 0 then dns = dns + 1e9; dsec = dsec - 1 end
    if dsec >= 0 then
      ls = sec; lns = ns
      if (dsec > 0 or dns > 0) and e.p > 0 and w < e.burst then
        if dsec * e.p > (e.burst + 1) * e.q then
          w = e.burst; f = 0
        else
          local whole, r1 = divmod(e.p * dsec, e.q)
          local w2, f2 = divmod(f + r1 * 1e9 + e.p * dns, 1e9 * e.q)
          w = w + whole + w2; f = f2
          if w >= e.burst then w = e.burst; f = 0 end
        end
      end
    end  -- a time before the bucket's last refills nothing and keeps its last time
    nw[i] = w; nf[i] = f; nls[i] = ls; nlns[i] = lns
  end
  local code = 0
  local qe = d.quota
  local qs, pid, used
  if qe then
    qs = Q[qe.key]
    if not qs then
      local h = redis.call('HMGET', KEYS[qe.key], 'p', 'u', 'i')
      qs = {p = tonumber(h[1] or '-1'), u = tonumber(h[2] or '0'), i = tonumber(h[3] or '-1'),
            e = qe}
      Q[qe.key] = qs
    end
    pid = period(sec, qe.kind)
    local init = qe.init
    if init < 0 then init = qs.i end
    if init < 0 then init = pid; qs.i = pid; qs.dirty = true end
    used = 0
    if qs.p == pid then used = qs.u end
    local limit = qe.limit
    if pid == init then limit = limit - qe.offset end
    if cost > limit - used then code = 1 end
  end
  if code == 0 then
    for i = 1, m do
      if cost > d.b[i].burst or nw[i] < cost then code = 2 + d.b[i].lvl; break end
    end
  end
  if code == 0 then  -- admitted: every level pays (a refusal keeps the old state: refill
    for i = 1, m do  -- is state-neutral, so not storing it changes no later decision)
      local st = S[d.b[i].key]
      st.w = nw[i] - cost; st.f = nf[i]; st.ls = nls[i]; st.lns = nlns[i]; st.dirty = true
    end
    if qe then qs.p = pid; qs.u = used + cost; qs.dirty = true end
  end
  if want_wait and code ~= 0 then  -- Retry-After: the longest wait of a short bucket
    local best, bden = 0, 1
    for i = 1, m do
      local e = d.b[i]
      local short = cost * 1e9 * e.q - (nw[i] * 1e9 * e.q + nf[i])  -- in 1/(1e9 q) tokens
      if short > 0 then
        if e.p == 0 or e.burst < cost then best = -1; break end
        if short * bden > best * e.p then best = short; bden = e.p end
      end
    end
    wait = {fmt(best), fmt(bden), fmt(sec), fmt(ns)}
  end
  nreq = nreq + 1
  out[nreq] = code
end
for k, st in pairs(S) do
  if st.dirty then
    redis.call('HSET', KEYS[k], 'w', fmt(st.w), 'f', fmt(st.f), 's', fmt(st.ls), 'n', fmt(st.lns))
    if st.e.ttl > 0 then redis.call('PEXPIRE', KEYS[k], st.e.ttl)
    else redis.call('PERSIST', KEYS[k]) end
  end
end
for k, qs in pairs(Q) do
  if qs.dirty then
    redis.call('HSET', KEYS[k], 'p', fmt(qs.p), 'u', fmt(qs.u), 'i', fmt(qs.i))
    if qs.e.ttl > 0 then redis.call('PEXPIRE', KEYS[k], qs.e.ttl)
    else redis.call('PERSIST', KEYS[k]) end
  end
end
if want_wait then
  if wait then return {out[1], wait[1], wait[2], wait[3], wait[4]} end
  return {out[1], '0', '1', '0', '0'}
end
return out
"""


def _limits(ts: ThrottleSettings, name: str,
            exact: Fraction | None = None) -> tuple[int, int, int, int]:
    """(p, q, burst, ttl ms) of a level: rate p/q tokens/s exactly as TokenBuckets reads
    it (``exact``: the rate already as a Fraction), checked to fit Redis's doubles."""
    f = Fraction(ts.rate_limit).limit_denominator(1000) if exact is None else exact
    p, q, burst = f.numerator, f.denominator, ts.burst_limit
    if p * 10**9 + 2 * 10**9 * q >= _EXACT or (burst + 1) * q >= _EXACT // 2:
        raise ValueError(f"{name}: rate_limit {ts.rate_limit!r} / burst_limit {burst} do not "
                         "fit RedisApiGateway's exact units (rate numerator * 1e9 and "
                         "(burst + 1) * rate denominator must stay below 2**53)")
    ttl = 0 if p == 0 else -(-burst * q * 1000 // p) + 1   # ms a full refill takes
    return p, q, burst, ttl


class RedisApiGateway(ApiGateway):
    """:class:`ApiGateway` whose buckets and quotas live in Redis (shared by every process
    using the same ``redis`` server and ``prefix``).

    ``redis`` is a ``redis.Redis`` client or a URL (``"redis://127.0.0.1:6379/0"``).
    Keys are ``{prefix}:...`` (one hash slot) and expire once idle (real time) for the
    time a full refill takes, at least ``min_expire`` seconds (None: never expire; raise
    it when callers' times run faster than real time, e.g. replays). Time: a call's ``now`` (UTC seconds) when given, else ``utc_clock`` if
    one was given, else the Redis server's clock (``TIME`` inside the script, so a fleet
    agrees). A time before a bucket's last time refills nothing (ApiGateway raises:
    one process's clock must not go back, a fleet's clocks differ by milliseconds).
    ``on_error``: what a request gets when Redis cannot be reached — ``"closed"``
    (refused, 429, reason UNAVAILABLE), ``"open"`` (admitted, reason UNAVAILABLE, not
    counted) or ``"raise"`` (the ``redis.exceptions.ConnectionError`` propagates).
    """

    def __init__(self, redis: Any, account_throttle: ThrottleSettings | Mapping[str, Any]
                 = ACCOUNT_DEFAULT_THROTTLE, *, prefix: str = "lbcore",
                 on_error: str = "closed", utc_clock: Callable[[], float] | None = None,
                 batch: int = 512, min_expire: float | None = 60.0) -> None:
        super().__init__(account_throttle, utc_clock=utc_clock)
        self._min_ttl = _min_ttl(min_expire)
        import redis as redis_py                  # the optional extra lbcore[redis]
        if isinstance(redis, str):
            redis = redis_py.Redis.from_url(redis)
        if not isinstance(redis, redis_py.Redis):
            raise TypeError(f"redis must be a redis.Redis client or a URL, got "
                            f"{type(redis).__name__}")
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be a non-empty str without braces, got {prefix!r}")
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        _limits(self.account_throttle, "account_throttle")
        self.redis = redis
        self.prefix = prefix
        self.on_error = on_error
        self.batch = batch
        self._own_clock = utc_clock is not None
        self._errors = (redis_py.exceptions.ConnectionError, redis_py.exceptions.TimeoutError)
        self._script = redis.register_script(_LUA)
        self._kinds: dict[tuple[Any, ...], tuple[list[str], list[str], tuple[Any, ...]]] = {}

    def _key(self, kind: str, ident: Any) -> str:
        return f"{{{self.prefix}}}:{kind}:" + json.dumps(ident, separators=(",", ":"))

    def _kind(self, api_key: str | None, resource: str, method: str,
              stage: tuple[str, str] | None) -> Any:
        """(keys, args after the time, level names) of a request kind, cached (bounded:
        request paths are unbounded), or its 403 Decision (never cached)."""
        ck = (api_key, resource, method, stage)
        try:
            hit = self._kinds.get(ck)
        except TypeError:           # an unhashable argument: chain() names it
            hit = ck = None
        if hit is not None:
            return hit
        found = self.chain(api_key, resource, method, stage=stage)
        if type(found) is Decision:
            return found
        levels, quota = found
        keys: list[str] = []
        args: list[str] = ["1", str(sum(lv is not None for lv in levels))]
        for k, lv in enumerate(levels):
            if lv is None:
                continue
            name, ident, ts = lv
            p, q, burst, ttl = _limits(ts, f"{name} throttle")
            ttl = _ttl(ttl, self._min_ttl)
            keys.append(self._key("b", list(ident)))
            args += [str(len(keys)), str(k), str(p), str(q), str(burst), str(ttl)]
        if quota is None:
            args.append("0")
        else:
            key, qs, created = quota
            if qs.limit >= _EXACT:
                raise ValueError(f"quota limit {qs.limit} must be < 2**53 in Redis")
            init = -1 if created is None else _period_of(created, qs)
            keys.append(self._key("q", key))
            ttl = 0 if (qs.offset and init < 0) or self._min_ttl < 0 \
                else _QUOTA_TTL_MS[qs.period]
            args += ["1", str(len(keys)), str(qs.limit), str(qs.offset),
                     str(_KIND[qs.period]), str(init), str(ttl)]
        out = (keys, args, tuple(lv and lv[0] for lv in levels))
        if ck is not None:
            if len(self._kinds) >= _KIND_CACHE_MAX:
                self._kinds.clear()
            self._kinds[ck] = out
        return out

    def _time(self, now: Any) -> tuple[int, int]:
        t = self._seconds_of(now)
        if t is None:
            return -1, 0
        ns = int(seconds_to_ns([t])[0])
        return ns // 10**9, ns % 10**9

    def _seconds_of(self, now: Any) -> float | None:
        # a request's time in seconds (None: the Redis server's clock decides)
        if now is None:
            if not self._own_clock:
                return None
            now = self.utc_clock()
        return _seconds(now)

    def _call(self, kinds: list[Any], reqs: str, client: Any, waits: bool = False) -> Any:
        return _script_call(self._script, kinds, reqs, client, waits)

    def _fail(self, exc: Exception) -> Decision:
        if self.on_error == "raise":
            raise exc
        return Decision(self.on_error == "open", 200 if self.on_error == "open" else 429,
                        UNAVAILABLE, None)

    def check(self, api_key: str | None, resource: str, method: str,
              now: float | None = None, *, stage: tuple[str, str] | None = None) -> Decision:
        """Decide one request in Redis (one round trip); see the class for ``now``."""
        kind = self._kind(api_key, resource, method, stage)
        if type(kind) is Decision:
            return kind             # a 403: Redis is not asked
        t = self._seconds_of(now)
        sec, ns = self._time(t)
        try:
            rep = self._call([kind], f"1 {sec} {ns}", None, waits=True)
        except self._errors as e:
            return self._fail(e)
        code = int(rep[0])
        if code == 0:
            return ALLOWED
        wait = _retry_after(code, kind, rep, t)
        if code == 1:
            return Decision(False, 429, QUOTA_EXCEEDED, _USAGE_PLAN, wait)
        return Decision(False, 429, THROTTLED, kind[2][code - 2], wait)

    def check_many(self, api_keys: Any, resources: Any, methods: Any, times: Any = None, *,
                   stage: tuple[str, str] | None = None) -> CheckResults:
        """Decide n requests in order, as n ``check`` calls would: ``batch`` requests per
        script call (each call atomic), all calls in one pipeline (one round trip).
        ``times`` None: every request at the server's clock. ``codes`` -1: Redis could
        not be reached (the outcome ``on_error`` says)."""
        if times is None:
            n = next((len(c) for c in (api_keys, resources, methods)
                      if not isinstance(c, str) and c is not None), None)
            if n is None:
                raise ValueError("times is required when no column is a sequence")
            sec = np.full(n, -1, dtype=np.int64)
            nsec = np.zeros(n, dtype=np.int64)
        else:
            n = len(times)
            ns = seconds_to_ns(np.asarray([_seconds(t) for t in times], dtype=float))
            sec, nsec = np.divmod(ns, 10**9)
        cols = []
        for name, col in (("api_keys", api_keys), ("resources", resources),
                          ("methods", methods)):
            if isinstance(col, str) or col is None:
                col = [col] * n
            col = list(col)
            if len(col) != n:
                raise ValueError(f"{name} must have length {n} like times, got {len(col)}")
            cols.append(col)
        ids: dict[tuple[Any, ...], int] = {}
        kid = np.fromiter((ids.setdefault(c, len(ids)) for c in zip(*cols)),
                          dtype=np.int64, count=n)
        kinds = [self._kind(k, r, m, stage) for k, r, m in ids]
        # a 403 kind runs as an empty chain in the script (admitted, nothing touched)
        # and gets its code below
        forbidden = {i: FORBIDDEN_CODES[d.reason] for i, d in enumerate(kinds)
                     if type(d) is Decision}
        for i in forbidden:
            kinds[i] = _NO_LEVELS
        codes = np.zeros(n, dtype=np.int8)
        pipe = self.redis.pipeline(transaction=False)
        spans = []
        for lo in range(0, n, self.batch):
            hi = min(n, lo + self.batch)
            used, local = np.unique(kid[lo:hi], return_inverse=True)
            flat = np.column_stack((local.reshape(-1) + 1, sec[lo:hi], nsec[lo:hi]))
            self._call([kinds[u] for u in used.tolist()],
                       " ".join(map(str, flat.ravel().tolist())), pipe)
            spans.append((lo, hi))
        try:
            replies = pipe.execute(raise_on_error=False)
        except self._errors as e:
            replies = [e] * len(spans)
        failed = None
        for (lo, hi), rep in zip(spans, replies):
            if isinstance(rep, Exception):
                if not isinstance(rep, self._errors):
                    raise rep
                failed = rep
                codes[lo:hi] = -1
            else:
                codes[lo:hi] = rep
        if failed is not None and self.on_error == "raise":
            raise failed
        place_forbidden(codes, kid, len(kinds), forbidden)   # 403s stand when Redis failed
        allowed = codes == 0
        if self.on_error == "open":
            allowed |= codes == -1
        reason = np.full(n, None, dtype=object)
        reason[codes == 1] = QUOTA_EXCEEDED
        reason[codes >= 2] = THROTTLED
        reason[codes == -1] = UNAVAILABLE
        for reason_403, code in FORBIDDEN_CODES.items():
            reason[codes == code] = reason_403
        level = np.full(n, None, dtype=object)
        level[codes == 1] = _USAGE_PLAN
        for i in np.flatnonzero(codes >= 2).tolist():
            level[i] = kinds[kid[i]][2][codes[i] - 2]
        status = np.where(allowed, 200, np.where(codes <= -2, 403, 429)).astype(np.int16)
        return CheckResults(codes, allowed, status, reason, level)

    def quota_remaining(self, api_key: str, now: float | None = None) -> int | None:
        """Not kept in process for a Redis gateway: read it from Redis yourself."""
        raise NotImplementedError("RedisApiGateway keeps quotas in Redis")


def _retry_after(code: int, kind: Any, rep: Any, t: float | None) -> float | None:
    """A refused request's Retry-After from the script's reply (``waits``): the longest
    wait of a bucket of its chain without a token, exact in the bucket's units, and for a
    quota refusal at least until the quota's period resets (``quota_reset``, at the time
    the script decided it), as ``ApiGateway.check`` computes it; None when a bucket the
    request needs never refills."""
    num, den = int(rep[1]), int(rep[2])
    if num < 0:
        return None
    wait = Fraction(num, den * 10**9)
    if code == 1:
        args = kind[1]
        m = int(args[1])
        period = _PERIOD[int(args[2 + 6 * m + 4])]
        if t is None:           # the server's clock decided: the time it used
            t = int(rep[3]) + int(rep[4]) / 1e9
        wait = max(wait, Fraction(quota_reset(t, period) - t))
    return float(wait)


def _script_call(script: Any, kinds: list[Any], reqs: str, client: Any,
                 waits: bool = False) -> Any:
    """One script call: ``kinds`` the distinct (keys, args, names) request kinds, numbered
    from 1 in ``reqs`` ("kind sec ns ..."); each kind's key indices become this call's.
    ``waits``: one request, answered with its code and Retry-After parts (see _LUA)."""
    where: dict[str, int] = {}
    args = [str(len(kinds))]
    for kk, ka, _ in kinds:
        idx = [str(where.setdefault(k, len(where) + 1)) for k in kk]
        a = list(ka)
        j = 2
        for x in idx[:int(a[1])]:
            a[j] = x
            j += 6
        if a[j] == "1":
            a[j + 1] = idx[-1]
        args += a
    args.append(reqs)
    if waits:
        args.append("w")
    return script(list(where), args, client=client)


def _min_ttl(min_expire: Any) -> int:
    """min_expire seconds -> ms (-1: keys never expire)."""
    if min_expire is None:
        return -1
    if isinstance(min_expire, bool) or not isinstance(min_expire, (int, float)) \
            or not math.isfinite(min_expire) or min_expire < 0:
        raise ValueError(f"min_expire must be None or finite seconds >= 0, got {min_expire!r}")
    return int(math.ceil(min_expire * 1000))


def _ttl(refill_ms: int, min_ms: int) -> int:
    """A bucket key's PEXPIRE: the full-refill time, at least min_ms; 0 = never expire."""
    if min_ms < 0 or refill_ms == 0:
        return 0
    return max(refill_ms, min_ms)


def _seconds(now: Any) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float, np.integer, np.floating)):
        raise TypeError(f"now must be a number (UTC seconds), got {type(now).__name__}")
    t = float(now)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"now must be finite and >= 0, got {t}")
    return t


def _period_of(created: float, qs: QuotaSettings) -> int:
    from lbcore import period_id
    return int(period_id(created, qs.period))


class RedisTokenBuckets:
    """:class:`lbcore.TokenBuckets` with its state in Redis: ``n`` buckets (indices
    ``0..n-1``) of ``rate`` tokens/s (scalar or length-n array; floats read as for
    TokenBuckets) and integer ``burst``, every bucket full until first used. ``check`` and
    ``check_many`` decide as TokenBuckets' do, with RedisApiGateway's time rules (``now``
    omitted: the Redis server's clock), keys (``{prefix}:t:<bucket>``), expiry and
    ``on_error`` ("closed": refused, "open": admitted uncounted, "raise")."""

    def __init__(self, redis: Any, n: int, *, rate: Any, burst: Any, prefix: str = "lbcore",
                 on_error: str = "closed", batch: int = 512,
                 min_expire: float | None = 60.0) -> None:
        import redis as redis_py
        self._min_ttl = _min_ttl(min_expire)
        if isinstance(redis, str):
            redis = redis_py.Redis.from_url(redis)
        if not isinstance(redis, redis_py.Redis):
            raise TypeError(f"redis must be a redis.Redis client or a URL, got "
                            f"{type(redis).__name__}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be a non-empty str without braces, got {prefix!r}")
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        self.n = int(n)
        rates = np.broadcast_to(np.asarray(rate, dtype=object), (self.n,))
        bursts = np.broadcast_to(np.asarray(burst, dtype=object), (self.n,))
        self._lim: dict[tuple[Any, Any], tuple[int, int, int, int]] = {}
        self._bl = []
        for r, b in zip(rates.tolist(), bursts.tolist()):
            if (r, b) not in self._lim:
                if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
                    if not (isinstance(b, float) and b.is_integer()):
                        raise TypeError(f"burst must be whole tokens (int) in Redis, got {b!r}")
                if isinstance(r, bool) or not isinstance(r, (int, float, Fraction, np.integer,
                                                             np.floating)):
                    raise TypeError(f"rate must be a number, got {type(r).__name__}")
                f = Fraction(r) if isinstance(r, Fraction) else \
                    Fraction(float(r)).limit_denominator(1000)
                if f < 0 or b < 0:
                    raise ValueError(f"rate and burst must be >= 0, got {r!r}, {b!r}")
                self._lim[(r, b)] = _limits(ThrottleSettings(float(f), int(b)), "bucket",
                                            exact=f)
            self._bl.append(self._lim[(r, b)])
        self.redis = redis
        self.prefix = prefix
        self.on_error = on_error
        self.batch = batch
        self._errors = (redis_py.exceptions.ConnectionError, redis_py.exceptions.TimeoutError)
        self._script = redis.register_script(_LUA)
        self._kinds: dict[tuple[int, int], tuple[list[str], list[str], tuple[Any, ...]]] = {}

    def __len__(self) -> int:
        return self.n

    def _kind(self, bucket: Any, cost: Any) -> tuple[list[str], list[str], tuple[Any, ...]]:
        hit = self._kinds.get((bucket, cost))
        if hit is not None:
            return hit
        if isinstance(bucket, bool) or not isinstance(bucket, (int, np.integer)):
            raise TypeError(f"bucket must be an int, got {type(bucket).__name__}")
        if not 0 <= bucket < self.n:
            raise IndexError(f"bucket {bucket} out of range [0, {self.n})")
        if isinstance(cost, bool) or not isinstance(cost, (int, np.integer)):
            raise TypeError(f"cost must be an int, got {type(cost).__name__}")
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost}")
        p, q, burst, ttl = self._bl[bucket]
        ttl = _ttl(ttl, self._min_ttl)
        key = f"{{{self.prefix}}}:t:{int(bucket)}"
        out = ([key], [str(int(cost)), "1", "1", "0", str(p), str(q), str(burst), str(ttl),
                       "0"], ("BUCKET",))
        self._kinds[(int(bucket), int(cost))] = out
        return out

    def check(self, bucket: int, now: float | None = None, cost: int = 1) -> bool:
        """Refill ``bucket`` to ``now`` (seconds; omitted: the server's clock) and take
        ``cost`` tokens if it holds them: True if admitted (or Redis is unreachable and
        ``on_error`` is "open")."""
        kind = self._kind(bucket, cost)
        if now is None:
            sec, ns = -1, 0
        else:
            t = int(seconds_to_ns([_seconds(now)])[0])
            sec, ns = t // 10**9, t % 10**9
        try:
            return int(_script_call(self._script, [kind], f"1 {sec} {ns}", None)[0]) == 0
        except self._errors:
            if self.on_error == "raise":
                raise
            return self.on_error == "open"

    def check_many(self, buckets: Any, times: Any = None, costs: Any = None) -> np.ndarray:
        """Decide requests ``(buckets[i], times[i], costs[i])`` in order, as ``check``
        one by one would (``times`` None: the server's clock); a bool array. ``batch``
        requests per script call, all calls in one pipeline."""
        b = np.asarray(buckets)
        if b.ndim != 1 or (b.size and b.dtype.kind not in "iu"):
            raise TypeError("buckets must be a 1-D array of ints")
        n = b.shape[0]
        if times is None:
            sec, nsec = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
        else:
            t = seconds_to_ns(times)
            if t.shape != (n,):
                raise ValueError(f"times must have shape ({n},) like buckets, got {t.shape}")
            sec, nsec = np.divmod(t, 10**9)
        c = np.ones(n, dtype=np.int64) if costs is None else np.asarray(costs)
        if c.shape != (n,):
            raise ValueError(f"costs must have shape ({n},) like buckets, got {c.shape}")
        ids: dict[tuple[int, int], int] = {}
        kid = np.fromiter((ids.setdefault(k, len(ids)) for k in zip(b.tolist(), c.tolist())),
                          dtype=np.int64, count=n)
        kinds = [self._kind(bk, ck) for bk, ck in ids]
        pipe = self.redis.pipeline(transaction=False)
        spans = []
        for lo in range(0, n, self.batch):
            hi = min(n, lo + self.batch)
            used, local = np.unique(kid[lo:hi], return_inverse=True)
            flat = np.column_stack((local.reshape(-1) + 1, sec[lo:hi], nsec[lo:hi]))
            _script_call(self._script, [kinds[u] for u in used.tolist()],
                         " ".join(map(str, flat.ravel().tolist())), pipe)
            spans.append((lo, hi))
        out = np.zeros(n, dtype=bool)
        try:
            replies = pipe.execute(raise_on_error=False) if spans else []
        except self._errors as e:
            replies = [e] * len(spans)
        for (lo, hi), rep in zip(spans, replies):
            if isinstance(rep, Exception):
                if not isinstance(rep, self._errors) or self.on_error == "raise":
                    raise rep
                out[lo:hi] = self.on_error == "open"
            else:
                out[lo:hi] = np.asarray(rep) == 0
        return out
