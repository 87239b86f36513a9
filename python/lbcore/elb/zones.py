"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._zones import NodePools, node_pools, minimum_healthy

__all__ = ["NodePools", "node_pools", "minimum_healthy"]

warnings.warn("lbcore.elb.zones is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
