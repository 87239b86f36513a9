"""API Gateway request throttling and usage-plan quotas over lbcore's token-bucket kernel.

Levels, in the precedence AWS documents ("Throttle requests to your REST APIs", API
Gateway developer guide): usage-plan per-client / per-method limits, then per-method
(stage) limits, then the account limit per Region. Every applicable level is a token
bucket; a request is admitted only if the usage-plan quota and every level admit it, and
then every level pays one token (all-or-nothing, one kernel call). docs/throttling.md.

Time: the gateway's ``now`` is calendar time — UTC seconds since the Unix epoch — because
usage-plan quotas reset at UTC day / week / month boundaries; the same time refills the
token buckets. It comes from the caller, or, when omitted, from ``utc_clock`` (default
:func:`time.time`; the load balancers' ``clock`` is monotonic instead).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from lbcore import TokenBuckets
from lbcore.apigateway._kernels import Quotas, check_chain, check_kinds, factorize_columns
from lbcore.apigateway._resources import Resources
from lbcore.apigateway._settings import (ACCOUNT_DEFAULT_THROTTLE, QuotaSettings,
                                         ThrottleSettings, quota_reset)
from lbcore.locking import PickleWithoutLock

__all__ = ["ApiGateway", "Decision", "CheckResults", "ALLOWED", "THROTTLED",
           "QUOTA_EXCEEDED", "LEVELS", "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN",
           "FORBIDDEN_CODES"]

THROTTLED, QUOTA_EXCEEDED = "THROTTLED", "QUOTA_EXCEEDED"
# 403s, named as API Gateway's gateway response types
INVALID_API_KEY, MISSING_AUTHENTICATION_TOKEN = "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN"
_MESSAGES = {THROTTLED: "Too Many Requests", QUOTA_EXCEEDED: "Limit Exceeded",
             INVALID_API_KEY: "Forbidden",
             MISSING_AUTHENTICATION_TOKEN: "Missing Authentication Token"}
_FAST_MAX = 4096      # request kinds check() remembers (bounded: cleared when full)
# level names, most specific first
USAGE_PLAN_METHOD, USAGE_PLAN, METHOD, STAGE, ACCOUNT = (
    "USAGE_PLAN_METHOD", "USAGE_PLAN", "METHOD", "STAGE", "ACCOUNT")
LEVELS = (USAGE_PLAN_METHOD, USAGE_PLAN, METHOD, STAGE, ACCOUNT)
_STAGE_WIDE = ("*/*", "/*/*")     # methodSettings key overriding all methods of a stage
_HTTP = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"}


@dataclass(frozen=True)
class Decision:
    """Outcome of one request: ``allowed`` (status 200) or refused with status 429,
    ``reason`` THROTTLED (a token bucket was empty) or QUOTA_EXCEEDED (usage-plan quota
    used up), and the ``level`` that refused; or, from ``check`` only, status 403 with
    ``reason`` INVALID_API_KEY (a missing key where the method requires one, an unknown
    key, or a key whose plan does not include the stage) or MISSING_AUTHENTICATION_TOKEN
    (no resource or method of the API matches the request). ``retry_after``: for a 429
    from ``check``, the seconds until the request could be admitted if nothing else
    arrived (every level of its chain has a token again, or the quota period resets),
    exact; None when it never could (rate 0) or when not computed. Not compared."""

    allowed: bool
    status: int = 200
    reason: str | None = None
    level: str | None = None
    retry_after: float | None = field(default=None, compare=False)

    @property
    def message(self) -> str | None:
        """The body's message API Gateway sends: "Too Many Requests" / "Limit Exceeded"
        (429), "Forbidden" / "Missing Authentication Token" (403)."""
        if self.allowed:
            return None
        return _MESSAGES.get(self.reason or "", "Too Many Requests")


ALLOWED = Decision(True)
_BAD_KEY = Decision(False, 403, INVALID_API_KEY)
_NO_RESOURCE = Decision(False, 403, MISSING_AUTHENTICATION_TOKEN)
#: CheckResults codes of the two 403s (0 allowed, 1 quota, 2 + k throttled by level k)
FORBIDDEN_CODES = {INVALID_API_KEY: -2, MISSING_AUTHENTICATION_TOKEN: -3}
_REASON_OF_CODE = {v: k for k, v in FORBIDDEN_CODES.items()}
_NO_CHAIN = (-1, -1, -1, -1, (None, None, None))


def place_forbidden(codes: np.ndarray, kinds: np.ndarray, n_kinds: int,
                    forbidden: dict[int, int]) -> None:
    """Give every request of a 403 kind its code: ``codes[i] = forbidden[kinds[i]]``
    where ``kinds[i]`` is a key of ``forbidden`` (kind -> FORBIDDEN_CODES value), in one
    pass over the requests whatever the number of such kinds (check_many's of ApiGateway
    and RedisApiGateway)."""
    if not forbidden:
        return
    code_of = np.zeros(n_kinds, dtype=np.int8)
    code_of[list(forbidden)] = list(forbidden.values())
    refused = code_of[kinds]
    np.copyto(codes, refused, where=refused != 0)


class CheckResults:
    """``check_many`` outcomes as arrays: ``codes`` int8 (0 allowed, 1 quota exceeded,
    2 + k refused by chain level k, -2 403 INVALID_API_KEY, -3 403
    MISSING_AUTHENTICATION_TOKEN; RedisApiGateway adds -1, Redis unreachable), and per
    request ``allowed``, ``status``, ``reason`` and ``level`` (object arrays, None when allowed). ``check_many`` keeps
    only the codes and each request's kind (``kinds``, with ``level_names`` per kind);
    the other arrays are built on first access (then cached), so deciding n requests
    costs 5 bytes per request, not 20. ``retry_after``: float64 seconds per request,
    each equal to what ``check`` puts in ``Decision.retry_after`` (NaN where that is
    None), when ``check_many`` was asked for it (``retry_after=True``: 8 more bytes per
    request), else None."""

    __slots__ = ("codes", "_allowed", "_status", "_reason", "_level", "_kinds", "_names",
                 "retry_after")
    retry_after: NDArray[np.float64] | None

    def __init__(self, codes: np.ndarray, allowed: np.ndarray | None = None,
                 status: np.ndarray | None = None, reason: np.ndarray | None = None,
                 level: np.ndarray | None = None, *, kinds: np.ndarray | None = None,
                 level_names: np.ndarray | None = None,
                 retry_after: NDArray[np.float64] | None = None) -> None:
        # allowed/status/reason follow from the codes; level needs the array itself or
        # each request's kind and the (kinds, 3) level names of every kind
        if level is None and (kinds is None or level_names is None):
            raise TypeError("CheckResults needs level, or kinds and level_names")
        self.codes = codes
        self._allowed, self._status, self._reason, self._level = allowed, status, reason, level
        self._kinds, self._names = kinds, level_names
        self.retry_after = retry_after

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def allowed(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = self.codes == 0
        return self._allowed

    @property
    def status(self) -> np.ndarray:
        if self._status is None:
            self._status = np.where(self.codes == 0, 200,
                                    np.where(self.codes <= -2, 403, 429)).astype(np.int16)
        return self._status

    @property
    def reason(self) -> np.ndarray:
        if self._reason is None:
            r = np.full(len(self), None, dtype=object)
            r[self.codes == 1] = QUOTA_EXCEEDED
            r[self.codes >= 2] = THROTTLED
            for code, reason in _REASON_OF_CODE.items():
                r[self.codes == code] = reason
            self._reason = r
        return self._reason

    @property
    def level(self) -> np.ndarray:
        if self._level is None:
            lv = np.full(len(self), None, dtype=object)
            lv[self.codes == 1] = USAGE_PLAN
            assert self._kinds is not None and self._names is not None
            for k in range(3):
                sel = np.flatnonzero(self.codes == 2 + k)
                lv[sel] = self._names[self._kinds[sel], k]
            self._level = lv
        return self._level

    def decision(self, i: int) -> Decision:
        """Request ``i``'s outcome as a :class:`Decision` (its ``retry_after`` when
        ``check_many`` computed them)."""
        code = int(self.codes[i])
        if code == 0:
            return ALLOWED
        wait = None
        if self.retry_after is not None and code > 0:
            w = float(self.retry_after[i])
            wait = None if math.isnan(w) else w
        if code == 1:
            return Decision(False, 429, QUOTA_EXCEEDED, USAGE_PLAN, wait)
        if code in _REASON_OF_CODE:
            return Decision(False, 403, _REASON_OF_CODE[code])
        if code < 0:        # RedisApiGateway's -1 (Redis unreachable): its arrays say
            return Decision(bool(self.allowed[i]), int(self.status[i]), self.reason[i])
        if self._level is not None:
            return Decision(False, 429, THROTTLED, self._level[i], wait)
        assert self._kinds is not None and self._names is not None
        return Decision(False, 429, THROTTLED, self._names[self._kinds[i], code - 2], wait)


ThrottleLike = ThrottleSettings | Mapping[str, Any]


def _utc_now(now: object) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float, np.integer, np.floating)):
        raise TypeError(f"now must be a number (UTC seconds), got {type(now).__name__}")
    t = float(now)
    if not math.isfinite(t):
        raise ValueError(f"now must be finite, got {t}")
    return t


def _throttle(v: Any, name: str) -> ThrottleSettings | None:
    if v is None:
        return None
    try:
        return ThrottleSettings.from_dict(v)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {e}") from None


def _method_key(key: str, name: str) -> str:
    """Validate a "/resource/METHOD" methodSettings / apiStages throttle key."""
    if key in _STAGE_WIDE:
        return "*/*"
    if not isinstance(key, str) or not key.startswith("/") or "/" not in key[1:]:
        raise ValueError(f"{name} keys must look like '/resource/METHOD' or '*/*', "
                         f"got {key!r}")
    res, _, meth = key.rpartition("/")
    if meth.upper() not in _HTTP:       # only "*/*" is a wildcard
        raise ValueError(f"{name} key {key!r}: unknown HTTP method {meth!r}")
    return f"{res}/{meth.upper()}"


def _request_key(resource: str, method: str) -> str:
    if not isinstance(resource, str):
        raise TypeError(f"resource must be a str path, got {type(resource).__name__}")
    if not resource.startswith("/"):
        raise ValueError(f"resource must be a path starting with '/', got {resource!r}")
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, got {type(method).__name__}")
    if method.upper() not in _HTTP:
        raise ValueError(f"method must be an HTTP method, got {method!r}")
    return f"{resource}/{method.upper()}"


class _Stage:
    def __init__(self, throttle: ThrottleSettings | None,
                 method_settings: Mapping[str, Any] | None) -> None:
        self.default = throttle
        self.methods: dict[str, ThrottleSettings | None] = {}
        if method_settings is not None and not isinstance(method_settings, Mapping):
            raise TypeError(f"method_settings must be a mapping of '/resource/METHOD' to "
                            f"throttle settings, got {type(method_settings).__name__}")
        for k, v in (method_settings or {}).items():
            k = _method_key(k, "method_settings")
            ts = _throttle(v, f"method_settings[{k!r}]")
            if k == "*/*":
                self.default = ts
            else:
                self.methods[k] = ts


class _Plan:
    def __init__(self, name: str, throttle: ThrottleSettings | None,
                 quota: QuotaSettings | None, api_stages: Sequence[Any]) -> None:
        self.name = name
        self.throttle = throttle
        self.quota = quota
        self.stages: dict[tuple[str, str], dict[str, ThrottleSettings | None]] = {}
        for s in api_stages:
            if isinstance(s, dict):
                api, st, thr = s.get("apiId"), s.get("stage"), s.get("throttle") or {}
            else:
                api, st, thr = (tuple(s) + ({},))[:3]
            if not isinstance(api, str) or not isinstance(st, str):
                raise ValueError(f"api_stages entries need apiId and stage, got {s!r}")
            self.stages[(api, st)] = {
                _method_key(k, "api_stages throttle"): _throttle(v, f"throttle[{k!r}]")
                for k, v in thr.items()}


class ApiGateway(PickleWithoutLock):
    """Throttling for one AWS account in one Region.

    ``account_throttle`` defaults to 10,000 requests/s steady and 5,000 burst. Add stages
    (``add_stage``), usage plans (``add_usage_plan``) and API keys (``add_api_key``), then
    decide requests with ``check`` (one) or ``check_many`` (arrays, one kernel call).
    With an API's resources (``add_api``), ``check`` takes real request paths, matches
    them to resource templates, and answers 403s (invalid key, no resource) as API
    Gateway does; buckets stay bounded by the configured resources and keys.
    Times are UTC seconds since the epoch (finite, >= 0: quotas reset at UTC
    boundaries) and must not go back (the account bucket is shared by every request);
    ``utc_clock`` gives ``now`` when a call omits it (default :func:`time.time`).
    One gateway may be shared by threads: configuration and decisions are serialised
    by the gateway's lock (``_lock``), so concurrent calls decide as some serial order.
    """

    def __init__(self, account_throttle: ThrottleLike = ACCOUNT_DEFAULT_THROTTLE, *,
                 utc_clock: Callable[[], float] | None = None) -> None:
        acc = _throttle(account_throttle, "account_throttle")
        if acc is None:
            raise ValueError("account_throttle must be given")
        if utc_clock is not None and not callable(utc_clock):
            raise TypeError(f"utc_clock must be a callable returning UTC seconds, got "
                            f"{type(utc_clock).__name__}")
        self.utc_clock: Callable[[], float] = time.time if utc_clock is None else utc_clock
        self.account_throttle = acc
        self._tb = TokenBuckets(1, rate=acc.rate_limit, burst=acc.burst_limit)  # 0 = account
        self._quotas = Quotas()
        self._stages: dict[tuple[str, str], _Stage] = {}
        self._plans: dict[str, _Plan] = {}
        self._keys: dict[str, str] = {}         # api key -> plan name
        self._key_quota: dict[str, int] = {}    # api key -> quota row
        self._quota_period: dict[int, str] = {}  # quota row -> its period (Retry-After)
        self._key_created: dict[str, float | None] = {}   # api key -> add_api_key created
        self._bucket_of: dict[tuple[Any, ...], int] = {}   # identity tuple -> bucket index
        self._bucket_info: dict[int, tuple[Any, ...]] = {}  # index -> (identity, settings)
        self._chains: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # (key, stage, method key) -> (b0, b1, b2, quota row, level names)
        self._apis: dict[str, Resources] = {}    # api id -> its resources (add_api)
        self._fast: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # check(): (key, resource, method, stage) as given -> the _chains entry; bounded
        # Guards every structure above: bucket indices are handed out from len(self._tb),
        # so two threads resolving new resources at once must not both see one length.
        self._lock = threading.Lock()

    def _forget_resolutions(self) -> None:
        # a configuration change: every remembered request resolution may be stale
        self._chains.clear()
        self._fast.clear()

    # ------------------------------------------------------------ configuration
    def add_stage(self, api_id: str, stage: str, *, throttle: ThrottleLike | None = None,
                  method_settings: Mapping[str, ThrottleLike] | None = None) -> None:
        """A deployed stage: ``throttle`` is the stage-wide default (methodSettings
        ``*/*``), applied to each method separately; ``method_settings`` maps
        ``"/resource/METHOD"`` (or ``"*/*"``) to ThrottleSettings or botocore dicts."""
        st = _Stage(_throttle(throttle, "throttle"), method_settings)
        with self._lock:
            if (api_id, stage) in self._stages:
                raise ValueError(f"stage {api_id}/{stage} already exists")
            self._stages[(api_id, stage)] = st
            self._forget_resolutions()

    def add_api(self, api_id: str, resources: Any) -> None:
        """The resources of REST API ``api_id`` (see :class:`Resources`: a mapping of
        templates such as ``/pets/{id}`` or ``/{proxy+}`` to methods, or
        ``get_resources`` items). Then ``check`` on its stages takes real request paths:
        the most specific resource and its method (or ANY) decide, buckets and
        methodSettings keys are per template and method (never per path), a method with
        ``apiKeyRequired`` needs a valid key and only such methods use the key's usage
        plan; a path no resource matches is a 403 MISSING_AUTHENTICATION_TOKEN."""
        if not isinstance(api_id, str):
            raise TypeError(f"api_id must be a str, got {type(api_id).__name__}")
        res = resources if isinstance(resources, Resources) else Resources(resources)
        with self._lock:
            if api_id in self._apis:
                raise ValueError(f"api {api_id!r} already has resources")
            self._apis[api_id] = res
            self._forget_resolutions()

    @property
    def bucket_count(self) -> int:
        """Token buckets in use (the account's included): one per configured level that
        requests have reached, so bounded by the stages' methods and the keys."""
        return len(self._tb)

    def resources(self, api_id: str) -> Resources | None:
        """The resources given to ``add_api(api_id, ...)``, or None."""
        return self._apis.get(api_id)

    def add_usage_plan(self, name: str, *, api_stages: Sequence[Any],
                       throttle: ThrottleLike | None = None,
                       quota: QuotaSettings | Mapping[str, Any] | None = None) -> None:
        """A usage plan: per-API-key ``throttle`` and ``quota`` (QuotaSettings or dict),
        and ``api_stages``: ``[{"apiId": .., "stage": .., "throttle": {"/pets/GET":
        {"rateLimit": .., "burstLimit": ..}}}]`` (per-method, per-key throttles)."""
        if name in self._plans:
            raise ValueError(f"usage plan {name!r} already exists")
        q = None if quota is None else QuotaSettings.from_dict(quota)
        plan = _Plan(name, _throttle(throttle, "throttle"), q, api_stages)
        with self._lock:
            if name in self._plans:
                raise ValueError(f"usage plan {name!r} already exists")
            for k in plan.stages:
                if k not in self._stages:
                    raise KeyError(f"api_stages: unknown stage {k[0]}/{k[1]}")
            self._plans[name] = plan

    def add_api_key(self, api_key: str, plan: str, *, created: float | None = None) -> None:
        """Associate ``api_key`` with usage plan ``plan``. The quota's initial period
        (where ``offset`` applies) is the one containing ``created`` seconds, default
        the first period the key is used in."""
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        with self._lock:
            if plan not in self._plans:
                raise KeyError(f"unknown usage plan {plan!r}")
            if api_key in self._keys:
                raise ValueError(f"api_key {api_key!r} is already in a usage plan")
            q = self._plans[plan].quota
            if q is not None:
                self._key_quota[api_key] = self._quotas.add(q.limit, q.period, q.offset,
                                                            initial=created)
                self._quota_period[self._key_quota[api_key]] = q.period
            self._key_created[api_key] = created
            self._keys[api_key] = plan

    # ------------------------------------------------------------ reconfiguration
    # docs/throttling.md, "Changing settings at run time": a change swaps in the new
    # settings under the lock. A bucket whose identity and limits are unchanged keeps
    # its tokens and clock exactly; one whose limits changed is moved to a new bucket
    # that holds min(its tokens at ``now``, the new burst) rounded down to a whole token
    # and refills at the new rate from ``now``; a level that newly applies starts full.
    def update_stage(self, api_id: str, stage: str, *, throttle: ThrottleLike | None = None,
                     method_settings: Mapping[str, ThrottleLike] | None = None,
                     now: float | None = None) -> None:
        """UpdateStage: the stage's throttling becomes ``throttle`` and
        ``method_settings`` (as :meth:`add_stage` takes them: the whole set) at
        ``now`` (UTC seconds; omitted: ``utc_clock``)."""
        st = _Stage(_throttle(throttle, "throttle"), method_settings)
        with self._lock:
            if (api_id, stage) not in self._stages:
                raise KeyError(f"unknown stage {(api_id, stage)!r}")
            self._reconfigure(now, stages={(api_id, stage): st})

    def update_usage_plan(self, name: str, *, throttle: ThrottleLike | None = None,
                          api_stages: Sequence[Any] | None = None,
                          now: float | None = None) -> None:
        """UpdateUsagePlan: the plan's per-key ``throttle`` becomes the one given (None:
        none) and, when ``api_stages`` is given, its stages and per-method throttles
        become those (as :meth:`add_usage_plan` takes them); at ``now`` (UTC seconds;
        omitted: ``utc_clock``). The quota and the keys are kept."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        thr = _throttle(throttle, "throttle")
        with self._lock:
            old = self._plans.get(name)
            if old is None:
                raise KeyError(f"unknown usage plan {name!r}")
            plan = _Plan(name, thr, old.quota, () if api_stages is None else api_stages)
            if api_stages is None:
                plan.stages = old.stages
            for k in plan.stages:
                if k not in self._stages:
                    raise KeyError(f"api_stages: unknown stage {k[0]}/{k[1]}")
            self._reconfigure(now, plans={name: plan})

    def remove_api_key(self, api_key: str) -> None:
        """DeleteUsagePlanKey: ``api_key`` leaves its usage plan (requests with it are
        then refused with KeyError, as unknown keys are); its buckets and quota are
        dropped, so adding it again starts afresh."""
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        with self._lock:
            if api_key not in self._keys:
                raise KeyError(f"unknown api_key {api_key!r}")
            del self._keys[api_key]
            self._key_quota.pop(api_key, None)
            self._key_created.pop(api_key, None)
            for ident in [i for i in self._bucket_of if i[0] != "method" and i[1] == api_key]:
                del self._bucket_of[ident]
            self._forget_resolutions()

    def _settings_of(self, ident: tuple[Any, ...]) -> ThrottleSettings | None:
        # the limits the current configuration gives a bucket identity (None: none
        # applies to it now); the same choice as _resolve makes
        if ident[0] == "method":
            st = self._stages.get(ident[1])
            if st is None:
                return None
            ts = st.methods.get(ident[2])
            return ts if ts is not None else st.default
        plan_name = self._keys.get(str(ident[1]))
        if plan_name is None:
            return None
        plan = self._plans[plan_name]
        if ident[0] == "plan":
            return plan.throttle
        per = plan.stages.get(ident[2], {})
        return per.get(ident[3]) or per.get("*/*")

    def _reconfigure(self, now: float | None, stages: Mapping[Any, _Stage] = {},
                     plans: Mapping[str, _Plan] = {}) -> None:
        # swap in new stages/plans at now, moving changed buckets (caller holds _lock);
        # every check comes before the first change
        t = _utc_now(self.utc_clock() if now is None else now)
        old_stages, old_plans = dict(self._stages), dict(self._plans)
        self._stages.update(stages)
        self._plans.update(plans)
        try:
            moves = []
            for ident, b in self._bucket_of.items():
                ts = self._settings_of(ident)
                was = self._bucket_info[b][1]
                if ts is None or (ts.rate_limit, ts.burst_limit) == \
                        (was.rate_limit, was.burst_limit):
                    continue
                try:
                    held = self._tb.tokens(b, t, exact=True)
                except ValueError:
                    raise ValueError(f"now ({t}) is before the last request this "
                                     f"gateway decided: time must not go back") from None
                moves.append((ident, ts, min(held, ts.burst_limit)))
        except BaseException:
            self._stages, self._plans = old_stages, old_plans
            raise
        first = len(self._tb)
        self._grow([ts for _, ts, _ in moves])
        for k, (ident, ts, keep) in enumerate(moves):
            b = first + k
            cost = math.ceil(ts.burst_limit - keep)
            if cost > 0:
                self._tb.check(b, t, cost)
            self._bucket_of[ident] = b
            self._bucket_info[b] = (ident, ts)
        self._forget_resolutions()

    def quota_remaining(self, api_key: str, now: float | None = None) -> int | None:
        """Requests ``api_key`` may still make in the quota period containing ``now``
        (UTC seconds; omitted: ``utc_clock``). None when its plan has no quota."""
        if api_key not in self._keys:
            raise KeyError(f"unknown api_key {api_key!r}")
        if api_key not in self._key_quota:
            return None
        t = self.utc_clock() if now is None else now
        return int(self._quotas.remaining(self._key_quota[api_key], t))

    # --------------------------------------------------------------- resolution
    def _stage_of(self, stage: tuple[str, str] | None) -> tuple[str, str]:
        if stage is None:
            if len(self._stages) != 1:
                raise ValueError("stage=(api_id, stage_name) is required when there is "
                                 f"not exactly one stage (there are {len(self._stages)})")
            return next(iter(self._stages))
        key = tuple(stage)
        if key not in self._stages:
            raise KeyError(f"unknown stage {stage!r}")
        return key[0], key[1]

    def _resolve(self, api_key: str | None, sk: tuple[str, str], mkey: str,
                 new: list[ThrottleSettings]) -> Any:
        """(b0, b1, b2, quota, level names) of a request kind matched by ``_match``, or
        the 403 INVALID_API_KEY for a key that is unknown or whose plan lacks the stage
        (nothing queued); new buckets are queued in ``new`` as ThrottleSettings and
        created together by the caller (``_grow``), which holds ``_lock``."""
        ck = (api_key, sk, mkey)
        hit = self._chains.get(ck)
        if hit is not None:
            return hit

        def bucket(ident: tuple[Any, ...], ts: ThrottleSettings) -> int:
            b = self._bucket_of.get(ident)
            if b is None:
                b = len(self._tb) + len(new)
                self._bucket_of[ident] = b
                self._bucket_info[b] = (ident, ts)
                new.append(ts)
            return b

        b0 = b1 = -1
        n0 = n1 = None
        q = -1
        if api_key is not None:
            if api_key not in self._keys:
                return _BAD_KEY
            plan = self._plans[self._keys[api_key]]
            if sk not in plan.stages:
                return _BAD_KEY
            per_method = plan.stages[sk].get(mkey) or plan.stages[sk].get("*/*")
            if per_method is not None:
                b0, n0 = bucket(("plan-method", api_key, sk, mkey), per_method), \
                    USAGE_PLAN_METHOD
            elif plan.throttle is not None:
                b0, n0 = bucket(("plan", api_key), plan.throttle), USAGE_PLAN
            q = self._key_quota.get(api_key, -1)
        st = self._stages[sk]
        ts = st.methods.get(mkey)
        if ts is not None:
            b1, n1 = bucket(("method", sk, mkey), ts), METHOD
        elif st.default is not None:
            b1, n1 = bucket(("method", sk, mkey), st.default), STAGE
        out = (b0, b1, 0, q, (n0, n1, ACCOUNT))
        self._chains[ck] = out
        return out

    def _grow(self, new: list[ThrottleSettings]) -> None:
        if len(new) == 1:
            self._tb.resize(len(self._tb) + 1, rate=new[0].rate_limit,
                            burst=new[0].burst_limit)
        elif new:
            self._tb.resize(len(self._tb) + len(new),
                            rate=np.array([t.rate_limit for t in new]),
                            burst=np.array([t.burst_limit for t in new]))

    def chain(self, api_key: str | None, resource: str, method: str, *,
              stage: tuple[str, str] | None = None) -> Any:
        """What decides a request, without deciding it: ``(levels, quota)`` where
        ``levels`` is three entries in precedence order (usage plan, method/stage,
        account), each None or ``(level name, bucket identity tuple, ThrottleSettings)``,
        and ``quota`` is None or ``(api_key, QuotaSettings, created)``; or, for a request
        ``check`` answers with a 403, that 403 :class:`Decision` (nothing is created).
        ``resource`` as in ``check``: the request path for an API with resources.
        Requests with equal identities share a bucket. Other backends
        (lbcore.apigateway.RedisApiGateway) decide with it."""
        out = self._kind_of(api_key, resource, method, stage)
        if type(out) is Decision:
            return out
        b0, b1, _, q, names = out
        with self._lock:
            levels: list[Any] = []
            for b, name in ((b0, names[0]), (b1, names[1])):
                levels.append(None if b < 0 else (name,) + self._bucket_info[b])
            levels.append((ACCOUNT, ("account",), self.account_throttle))
            quota = None
            if q >= 0:
                quota = (api_key, self._plans[self._keys[api_key]].quota,
                         self._key_created.get(api_key))
        return tuple(levels), quota

    # ----------------------------------------------------------------- decisions
    def check(self, api_key: str | None, resource: str, method: str,
              now: float | None = None, *, stage: tuple[str, str] | None = None) -> Decision:
        """Decide one request (``api_key`` None: no usage plan) at ``now`` (UTC seconds;
        omitted: ``utc_clock``). ``resource``: the resource template, or, for an API
        with resources (``add_api``), the request path. A key that is unknown, or whose
        plan does not include the stage, is a 403 INVALID_API_KEY; so is a missing key
        where the matched method requires one."""
        if now is None:
            now = self.utc_clock()
        if type(now) is not float:
            now = _utc_now(now)
        try:
            hit = self._fast.get((api_key, resource, method, stage))
        except TypeError:           # an unhashable argument: the slow path names it
            hit = None
        if hit is None:
            hit = self._check_kind(api_key, resource, method, stage)
            if type(hit) is Decision:
                return hit
        b0, b1, b2, q, names = hit
        with self._lock:
            code = check_chain(self._tb, self._quotas, b0, b1, b2, q, now)
            if code == 0:
                return ALLOWED
            wait = self._retry_after(code, hit, now)
        if code == 1:
            return Decision(False, 429, QUOTA_EXCEEDED, USAGE_PLAN, wait)
        return Decision(False, 429, THROTTLED, names[code - 2], wait)

    def _check_kind(self, api_key: Any, resource: str, method: str,
                    stage: tuple[str, str] | None) -> Any:
        # check()'s resolution of a request kind: its _chains entry (remembered in
        # _fast, bounded), or the 403 Decision (never remembered: unknown keys and
        # unmatched paths are unbounded)
        out = self._kind_of(api_key, resource, method, stage)
        if type(out) is Decision:
            return out
        with self._lock:
            fast = self._fast
            if len(fast) >= _FAST_MAX:
                fast.clear()
            try:
                fast[(api_key, resource, method, stage)] = out
            except TypeError:
                pass
        return out

    def _kind_of(self, api_key: Any, resource: str, method: str,
                 stage: tuple[str, str] | None) -> Any:
        # a request's chain entry (b0, b1, b2, quota, level names), its buckets created,
        # or its 403 Decision: what check() and chain() share
        sk = self._stage_of(stage)
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str or None, got {type(api_key).__name__}")
        matched = self._match(sk, api_key, resource, method)
        if type(matched) is Decision:
            return matched
        new: list[ThrottleSettings] = []
        with self._lock:
            try:
                return self._resolve(matched[0], sk, matched[1], new)
            finally:
                self._grow(new)

    def _match(self, sk: tuple[str, str], api_key: str | None, resource: str,
               method: str) -> Any:
        """(key the usage plan is found by or None, "/template/METHOD") of a request, or
        its 403: no resource of the API matches (MISSING_AUTHENTICATION_TOKEN), or the
        matched method requires a key and none was given (INVALID_API_KEY). Without
        resources (no add_api) ``resource`` is the template itself."""
        res = self._apis.get(sk[0])
        if res is None:
            return api_key, _request_key(resource, method)
        m = res.match(resource, method)
        if m is None:
            return _NO_RESOURCE
        if not m.api_key_required:
            return None, f"{m.template}/{m.method}"     # only key-required methods use plans
        if api_key is None:
            return _BAD_KEY
        return api_key, f"{m.template}/{m.method}"

    def _retry_after(self, code: int, chain: tuple[Any, ...], now: float) -> float | None:
        # seconds until every bucket of the chain holds a token again (and, for a quota
        # refusal, the period has reset); exact in the buckets' rationals; caller locks
        wait: Any = 0
        if code == 1:
            wait = quota_reset(now, self._quota_period[chain[3]]) - now
        for b in chain[:3]:
            if b < 0:
                continue
            tok = self._tb.tokens(b, now, exact=True)
            if tok >= 1:
                continue
            rate, burst = self._tb.limits(b)
            if rate == 0 or burst < 1:
                return None
            wait = max(wait, (1 - tok) / rate)
        return float(wait)

    def check_many(self, api_keys: Any, resources: Any, methods: Any, times: Any, *,
                   stage: tuple[str, str] | None = None,
                   retry_after: bool = False) -> CheckResults:
        """Decide n requests in order (exactly as n ``check`` calls). The three columns
        are factorised by hashing into request kinds (one per distinct (key, resource,
        method), compared exactly as ``check`` compares them), each kind is resolved
        once, and all decisions are one call into the chained-bucket kernel, which
        reads each request's chain through its kind (nothing expanded per request).
        ``resources`` are request paths for an API with resources (``add_api``), matched
        as ``check`` matches them; a request ``check`` answers with a 403 has code -2
        (INVALID_API_KEY) or -3 (MISSING_AUTHENTICATION_TOKEN) and touches no bucket.
        ``retry_after=True``: the results also hold each refused request's Retry-After,
        computed in the kernel from the state its refusal left, exactly as ``check``
        computes it (``CheckResults.retry_after``)."""
        if not isinstance(retry_after, bool):
            raise TypeError(f"retry_after must be a bool, got {type(retry_after).__name__}")
        sk = self._stage_of(stage)
        n = len(times)
        names = ("api_keys", "resources", "methods")
        kinds, rows, values = factorize_columns((api_keys, resources, methods), n, names)
        for name, vals in zip(names, values):
            # the distinct values as check() sees them: Python strs, compared exactly (no
            # numpy string dtype, which drops trailing NULs), None only for api_keys
            for v in vals:
                if not isinstance(v, str) and not (v is None and name == "api_keys"):
                    raise TypeError(f"{name} must hold str"
                                    f"{' or None' if name == 'api_keys' else ''}"
                                    f" values, got {type(v).__name__}")
        ku, ru, mu = values
        chains: list[tuple[Any, ...]] = []
        forbidden: dict[int, int] = {}              # kind -> 403 code (-2, -3)
        new: list[ThrottleSettings] = []
        by_template = self._apis.get(sk[0]) is None     # resources are the templates
        mkeys: dict[tuple[int, int], str] = {}          # (resource, method) -> method key
        with self._lock:
            try:
                for kind, (k, r, m) in enumerate(rows.tolist()):   # once per distinct kind
                    if by_template:
                        mk = mkeys.get((r, m))
                        if mk is None:
                            mk = mkeys[(r, m)] = _request_key(ru[r], mu[m])
                        matched = (ku[k], mk)
                    else:
                        matched = self._match(sk, ku[k], ru[r], mu[m])
                    out = matched if type(matched) is Decision else \
                        self._resolve(matched[0], sk, matched[1], new)
                    if type(out) is Decision:
                        # a 403 touches no bucket: an empty chain, its code set below
                        forbidden[kind] = FORBIDDEN_CODES[out.reason]
                        out = _NO_CHAIN
                    chains.append(out)
            finally:
                self._grow(new)
            table = np.array([c[:4] for c in chains], dtype=np.int32).reshape(-1, 4)
            lnames = np.empty((len(chains), 3), dtype=object)
            if chains:
                lnames[:] = [c[4] for c in chains]
            decided = check_kinds(self._tb, self._quotas, table[:, :3], table[:, 3], kinds,
                                  times, retry_after=retry_after)
        codes, waits = decided if retry_after else (decided, None)
        place_forbidden(codes, kinds, len(chains), forbidden)
        return CheckResults(codes, kinds=kinds, level_names=lnames, retry_after=waits)
