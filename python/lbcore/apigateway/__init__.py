"""AWS API Gateway throttling / usage plans and Lambda concurrency, on lbcore's kernels.

Time: ``ApiGateway``'s ``now`` is UTC seconds since the epoch (quotas reset at UTC
boundaries), from the caller or from its ``utc_clock`` (default :func:`time.time`).
See docs/throttling.md for what AWS documents, what lbcore does, and where it differs.
"""
from lbcore.apigateway._kernels import period_id
from lbcore.apigateway._lambda import (CONCURRENT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED,
                                       LambdaConcurrency, LambdaDecision)
from lbcore.apigateway._redis import (ON_ERROR, UNAVAILABLE, RedisApiGateway,
                                     RedisTokenBuckets)
from lbcore.apigateway._resources import HTTP_METHODS, Match, Resources
from lbcore.apigateway._settings import (ACCOUNT_DEFAULT_THROTTLE, DAY, MONTH, PERIODS,
                                         WEEK, QuotaSettings, ThrottleSettings, quota_reset)
from lbcore.apigateway._throttling import (ALLOWED, FORBIDDEN_CODES, INVALID_API_KEY, LEVELS,
                                           MISSING_AUTHENTICATION_TOKEN, QUOTA_EXCEEDED,
                                           THROTTLED, ApiGateway, CheckResults, Decision)

__all__ = [
    "ThrottleSettings", "QuotaSettings", "DAY", "WEEK", "MONTH", "PERIODS",
    "ACCOUNT_DEFAULT_THROTTLE", "ApiGateway", "Decision", "CheckResults", "ALLOWED",
    "THROTTLED", "QUOTA_EXCEEDED", "LEVELS", "LambdaConcurrency", "LambdaDecision",
    "RESERVED_LIMIT_EXCEEDED", "CONCURRENT_LIMIT_EXCEEDED", "period_id",
    "RedisApiGateway", "RedisTokenBuckets", "UNAVAILABLE", "ON_ERROR",
    "Resources", "Match", "HTTP_METHODS", "quota_reset", "INVALID_API_KEY",
    "MISSING_AUTHENTICATION_TOKEN", "FORBIDDEN_CODES",
]
