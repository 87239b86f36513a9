"""The private kernel modules the simulator uses, imported in one place: its compiled
engine (``lbcore._sim``, which the simulator rewrite replaces) and two facilities the
algorithm API does not export yet (``is_prime`` for Maglev table sizes, ``parse_targets``
for the node-choice hashes the engine's rendezvous step reads)."""
from __future__ import annotations

from lbcore._maglev import is_prime
from lbcore._sim import LAT_BINS, LAT_MIN_DECADE, LAT_PER_DECADE, OUT_BINS, Engine
from lbcore._targetset import parse_targets

__all__ = ["is_prime", "parse_targets", "Engine", "LAT_BINS", "LAT_MIN_DECADE",
           "LAT_PER_DECADE", "OUT_BINS"]
