"""The kernel facilities lbcore.apigateway uses (quota counters and chained bucket
checks), imported in one place from the algorithm API."""
from __future__ import annotations

from lbcore import Quotas, check_chain, check_chains, period_id

__all__ = ["Quotas", "check_chain", "check_chains", "period_id"]
