"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._actions import (ForwardAction, RedirectAction, FixedResponseAction,
                                 parse_actions, STICKY_MAX)
from lbcore.elb._alb import ApplicationLoadBalancer, Listener

__all__ = ["ApplicationLoadBalancer", "Listener", "ForwardAction", "RedirectAction",
           "FixedResponseAction", "parse_actions", "STICKY_MAX"]

warnings.warn("lbcore.elb.alb is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
