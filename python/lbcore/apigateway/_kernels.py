"""The kernel facilities lbcore.apigateway needs that the algorithm API does not export
yet (they live in the private compiled module lbcore._bucket): imported here, in one
place, until ``lbcore`` exports them."""
from __future__ import annotations

from lbcore._bucket import Quotas, check_chain, check_chains, period_id

__all__ = ["Quotas", "check_chain", "check_chains", "period_id"]
