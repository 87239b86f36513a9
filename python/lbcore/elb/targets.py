"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._targets import (Target, TargetGroup, INITIAL, HEALTHY, UNHEALTHY, DRAINING,
                                 UNUSED, STATE_NAMES)
from lbcore.elb._targets import HealthCheckSettings as HealthCheck

__all__ = ["Target", "TargetGroup", "INITIAL", "HEALTHY", "UNHEALTHY", "DRAINING", "UNUSED",
           "STATE_NAMES", "HealthCheck"]

warnings.warn("lbcore.elb.targets is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
