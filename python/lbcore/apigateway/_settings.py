"""API Gateway throttle and quota settings, shaped like botocore's apigateway shapes.

``ThrottleSettings`` {burstLimit: Integer, rateLimit: Double} and ``QuotaSettings``
{limit: Integer, offset: Integer, period: DAY | WEEK | MONTH} (API Gateway REST API
reference, API_ThrottleSettings / API_QuotaSettings). Both the snake_case Python names and
the API's camelCase names are accepted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from lbcore.apigateway._kernels import period_id

__all__ = ["ThrottleSettings", "QuotaSettings", "DAY", "WEEK", "MONTH", "PERIODS",
           "ACCOUNT_DEFAULT_THROTTLE", "quota_reset"]

DAY, WEEK, MONTH = "DAY", "WEEK", "MONTH"
PERIODS = (DAY, WEEK, MONTH)

_MISSING: Any = object()


def _pick(snake: Any, camel: Any, sname: str, cname: str) -> Any:
    if snake is not _MISSING and camel is not _MISSING:
        raise TypeError(f"give {sname} or {cname}, not both")
    return camel if snake is _MISSING else snake


def _int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


@dataclass(frozen=True)
class ThrottleSettings:
    """Token-bucket limits: ``rate_limit`` requests/s (Double) refill, ``burst_limit``
    (Integer) bucket capacity. ``ThrottleSettings(rateLimit=.., burstLimit=..)`` and
    ``ThrottleSettings.from_dict({"rateLimit": .., "burstLimit": ..})`` work too."""

    rate_limit: float
    burst_limit: int

    def __init__(self, rate_limit: float = _MISSING, burst_limit: int = _MISSING, *,
                 rateLimit: float = _MISSING, burstLimit: int = _MISSING) -> None:
        rate = _pick(rate_limit, rateLimit, "rate_limit", "rateLimit")
        burst = _pick(burst_limit, burstLimit, "burst_limit", "burstLimit")
        if rate is _MISSING or burst is _MISSING:
            raise TypeError("ThrottleSettings needs rate_limit (rateLimit) and burst_limit "
                            "(burstLimit)")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"rate_limit must be a number, got {type(rate).__name__}")
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"rate_limit must be finite and >= 0, got {rate!r}")
        object.__setattr__(self, "rate_limit", float(rate))
        object.__setattr__(self, "burst_limit", _int(burst, "burst_limit"))

    @classmethod
    def from_dict(cls, d: ThrottleSettings | Mapping[str, Any]) -> ThrottleSettings:
        """From a botocore-style dict (``rateLimit``/``burstLimit``, or the MethodSetting
        names ``throttlingRateLimit``/``throttlingBurstLimit``)."""
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise TypeError(f"throttle settings must be ThrottleSettings or dict, "
                            f"got {type(d).__name__}")
        alias = {"throttlingRateLimit": "rateLimit", "throttlingBurstLimit": "burstLimit",
                 "rate_limit": "rateLimit", "burst_limit": "burstLimit"}
        kw = {}
        for k, v in d.items():
            k = alias.get(k, k)
            if k not in ("rateLimit", "burstLimit"):
                raise ValueError(f"unknown throttle settings field {k!r}")
            kw[k] = v
        return cls(**kw)

    def to_dict(self) -> dict[str, float]:
        return {"burstLimit": self.burst_limit, "rateLimit": self.rate_limit}


@dataclass(frozen=True)
class QuotaSettings:
    """At most ``limit`` requests per ``period`` (DAY, WEEK or MONTH, reset at UTC
    boundaries, see docs/throttling.md); ``offset`` requests are subtracted from the limit
    in the initial period."""

    limit: int
    period: str
    offset: int = 0

    def __init__(self, limit: int, period: str, offset: int = 0) -> None:
        object.__setattr__(self, "limit", _int(limit, "limit"))
        if period not in PERIODS:
            raise ValueError(f"period must be one of DAY, WEEK, MONTH, got {period!r}")
        object.__setattr__(self, "period", period)
        off = _int(offset, "offset")
        if off > self.limit:
            raise ValueError(f"offset must be <= limit ({self.limit}), got {off}")
        object.__setattr__(self, "offset", off)

    @classmethod
    def from_dict(cls, d: QuotaSettings | Mapping[str, Any]) -> QuotaSettings:
        """From a botocore-style dict (``limit``, ``period``, ``offset``)."""
        if isinstance(d, cls):
            return d
        if not isinstance(d, dict):
            raise TypeError(f"quota settings must be QuotaSettings or dict, "
                            f"got {type(d).__name__}")
        bad = set(d) - {"limit", "period", "offset"}
        if bad:
            raise ValueError(f"unknown quota settings field(s) {sorted(bad)}")
        return cls(**d)

    def to_dict(self) -> dict[str, int | str]:
        return {"limit": self.limit, "offset": self.offset, "period": self.period}


ACCOUNT_DEFAULT_THROTTLE = ThrottleSettings(rate_limit=10000, burst_limit=5000)


def quota_reset(now: float, period: str) -> float:
    """The UTC second at which the quota period (DAY, WEEK or MONTH) containing ``now``
    (UTC seconds since the epoch) ends: the next 00:00 UTC, Monday 00:00 UTC or 1st of
    the month 00:00 UTC (the boundaries :func:`lbcore.apigateway.period_id` counts)."""
    pid = period_id(now, period)            # validates now and period
    if period == DAY:
        return float((pid + 1) * 86400)
    if period == WEEK:                      # week 1 starts Monday 1970-01-05 (day 4)
        return float((4 + 7 * pid) * 86400)
    year, month0 = divmod(pid + 1, 12)
    return datetime(year, month0 + 1, 1, tzinfo=timezone.utc).timestamp()
