"""Lambda concurrency: account limit per Region, reserved concurrency per function.

AWS Lambda developer guide / PutFunctionConcurrency: the account has a Regional
concurrency limit (1,000 by default); a function may reserve concurrency, which both
guarantees and caps it, as long as at least 100 stay unreserved for the other functions.
An invocation above the limit fails with TooManyRequestsException (HTTP 429) whose Reason
is ReservedFunctionConcurrentInvocationLimitExceeded (the function's reservation is in
use) or ConcurrentInvocationLimitExceeded (the unreserved pool is in use).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LambdaConcurrency", "LambdaDecision", "RESERVED_LIMIT_EXCEEDED",
           "CONCURRENT_LIMIT_EXCEEDED"]

RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
CONCURRENT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True)
class LambdaDecision:
    """``allowed`` (status 200), or status 429 ``TooManyRequestsException`` with
    ``reason`` as AWS's ``Reason`` field."""

    allowed: bool
    status: int = 200
    reason: str | None = None
    error: str | None = None


_OK = LambdaDecision(True)


def _count(v: object, name: str, low: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")
    return v


class LambdaConcurrency:
    """Concurrent executions of one account in one Region.

    ``account_limit`` (default 1,000); ``min_unreserved`` (100) must stay unreserved.
    ``start(function)`` admits or refuses an invocation; ``finish(function)`` ends one.
    """

    def __init__(self, account_limit: int = 1000, *, min_unreserved: int = 100) -> None:
        self.account_limit = _count(account_limit, "account_limit", 1)
        self.min_unreserved = _count(min_unreserved, "min_unreserved")
        if self.min_unreserved > self.account_limit:
            raise ValueError("min_unreserved must be <= account_limit")
        self._reserved: dict[str, int] = {}
        self._running: dict[str, int] = {}
        self._unreserved_running = 0

    @property
    def unreserved_limit(self) -> int:
        """The account limit minus every reservation (the shared pool)."""
        return self.account_limit - sum(self._reserved.values())

    def put_function_concurrency(self, function: str, reserved: int) -> None:
        """Reserve ``reserved`` concurrent executions for ``function`` (0 throttles it
        completely). Refused (ValueError) if fewer than ``min_unreserved`` would remain."""
        _count(reserved, "reserved")
        others = sum(v for f, v in self._reserved.items() if f != function)
        if self.account_limit - others - reserved < self.min_unreserved:
            raise ValueError(
                f"reserved={reserved} for {function!r} would leave "
                f"{self.account_limit - others - reserved} unreserved; at least "
                f"{self.min_unreserved} must stay unreserved (InvalidParameterValueException)")
        running = self._running.get(function, 0)
        if function not in self._reserved:
            self._unreserved_running -= running     # its executions leave the pool
        self._reserved[function] = reserved

    def delete_function_concurrency(self, function: str) -> None:
        """Remove ``function``'s reservation: it draws on the unreserved pool again."""
        if function not in self._reserved:
            raise KeyError(f"function {function!r} has no reserved concurrency")
        del self._reserved[function]
        self._unreserved_running += self._running.get(function, 0)

    def reserved(self, function: str) -> int | None:
        return self._reserved.get(function)

    def running(self, function: str | None = None) -> int:
        """Executions in flight for ``function`` (all functions if None)."""
        if function is None:
            return sum(self._running.values())
        return self._running.get(function, 0)

    def start(self, function: str) -> LambdaDecision:
        """Start one execution of ``function`` if concurrency allows."""
        if not isinstance(function, str):
            raise TypeError(f"function must be a str, got {type(function).__name__}")
        running = self._running.get(function, 0)
        res = self._reserved.get(function)
        if res is not None:
            if running >= res:
                return LambdaDecision(False, 429, RESERVED_LIMIT_EXCEEDED,
                                      "TooManyRequestsException")
        else:
            if self._unreserved_running >= self.unreserved_limit:
                return LambdaDecision(False, 429, CONCURRENT_LIMIT_EXCEEDED,
                                      "TooManyRequestsException")
            self._unreserved_running += 1
        self._running[function] = running + 1
        return _OK

    def finish(self, function: str) -> None:
        """End one execution of ``function``; ValueError if none is running."""
        running = self._running.get(function, 0)
        if running == 0:
            raise ValueError(f"finish({function!r}) without a matching start")
        self._running[function] = running - 1
        if function not in self._reserved:
            self._unreserved_running -= 1
