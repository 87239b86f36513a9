"""The kernel names the simulator uses, imported in one place: its compiled engine
(``lbcore._sim``, which the simulator rewrite replaces with a loop of its own) and
``is_prime`` for Maglev table sizes."""
from __future__ import annotations

from lbcore import is_prime
from lbcore._sim import LAT_BINS, LAT_MIN_DECADE, LAT_PER_DECADE, OUT_BINS, Engine

__all__ = ["is_prime", "Engine", "LAT_BINS", "LAT_MIN_DECADE",
           "LAT_PER_DECADE", "OUT_BINS"]
