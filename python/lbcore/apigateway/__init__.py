"""AWS API Gateway throttling / usage plans and Lambda concurrency, on lbcore's kernels.

See docs/throttling.md for what AWS documents, what lbcore does, and where it differs.
"""
from lbcore.apigateway._settings import (ACCOUNT_DEFAULT_THROTTLE, DAY, MONTH, PERIODS,
                                         WEEK, QuotaSettings, ThrottleSettings)
from lbcore.apigateway._throttling import (ALLOWED, LEVELS, QUOTA_EXCEEDED, THROTTLED,
                                           ApiGateway, CheckResults, Decision)
from lbcore.apigateway._lambda import (CONCURRENT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED,
                                       LambdaConcurrency, LambdaDecision)
from lbcore._bucket import period_id

__all__ = [
    "ThrottleSettings", "QuotaSettings", "DAY", "WEEK", "MONTH", "PERIODS",
    "ACCOUNT_DEFAULT_THROTTLE", "ApiGateway", "Decision", "CheckResults", "ALLOWED",
    "THROTTLED", "QUOTA_EXCEEDED", "LEVELS", "LambdaConcurrency", "LambdaDecision",
    "RESERVED_LIMIT_EXCEEDED", "CONCURRENT_LIMIT_EXCEEDED", "period_id",
]
