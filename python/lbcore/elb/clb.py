"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._clb import ClassicLoadBalancer

__all__ = ["ClassicLoadBalancer"]

warnings.warn("lbcore.elb.clb is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
