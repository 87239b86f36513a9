"""The kernel facilities lbcore.elb uses, imported in one place from the algorithm API."""
from __future__ import annotations

from lbcore import (MAX_FLOW_CAPACITY, L4Path, flow_columns, is_prime, maglev_table_size,
                    parse_seed)

__all__ = ["MAX_FLOW_CAPACITY", "flow_columns", "parse_seed", "L4Path", "is_prime",
           "maglev_table_size"]
