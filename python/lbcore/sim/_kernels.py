"""The kernel names the simulator uses, imported in one place: its compiled engine
(``lbcore._sim``, which the simulator rewrite replaces with a loop of its own) and the
algorithm and service-time codes the compiled loop defines (``ALGO_CODES``, ``DIST_CODES``)."""
from __future__ import annotations

from lbcore._sim import (ALGO_CODES, DIST_CODES, LAT_BINS, LAT_MIN_DECADE, LAT_PER_DECADE,
                         OUT_BINS, TRACE_FLOW_COLUMNS, TRACE_REQUEST_COLUMNS, Engine)

__all__ = ["ALGO_CODES", "DIST_CODES", "Engine", "LAT_BINS",
           "LAT_MIN_DECADE", "LAT_PER_DECADE", "OUT_BINS", "TRACE_FLOW_COLUMNS",
           "TRACE_REQUEST_COLUMNS"]
