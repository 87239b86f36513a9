"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._decisions import Forward, Redirect, FixedResponse, SetCookie
from lbcore.elb._request import Request, Headers, QUERY_SEP, MAX_HEAD_BYTES, MAX_HEADERS

__all__ = ["Request", "Headers", "QUERY_SEP", "MAX_HEAD_BYTES", "MAX_HEADERS", "Forward",
           "Redirect", "FixedResponse", "SetCookie"]

warnings.warn("lbcore.elb.request is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
