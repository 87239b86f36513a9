"""The kernel facilities lbcore.elb needs that the algorithm API does not export
yet (they live in private compiled modules): imported here, in one place, until
``lbcore`` exports them."""
from __future__ import annotations

from lbcore._flowtable import _MAX_CAPACITY as MAX_FLOW_CAPACITY
from lbcore._flowtable import _flow_columns as flow_columns
from lbcore._hash import parse_seed
from lbcore._l4 import L4Path
from lbcore._maglev import is_prime

__all__ = ["MAX_FLOW_CAPACITY", "flow_columns", "parse_seed", "L4Path", "is_prime"]
