"""The kernel facilities lbcore.apigateway uses (quota counters, chained bucket
checks and request-kind factorisation), imported in one place from the algorithm API."""
from __future__ import annotations

from lbcore import (Quotas, check_chain, check_chains, check_kinds, factorize_columns,
                    period_id)

__all__ = ["Quotas", "check_chain", "check_chains", "check_kinds", "factorize_columns",
           "period_id"]
