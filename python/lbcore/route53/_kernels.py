"""The kernel facility lbcore.route53 needs that the algorithm API does not export yet
(it lives in a private compiled module): imported here, in one place, until ``lbcore``
exports it."""
from __future__ import annotations

from lbcore._lpm import parse_address

__all__ = ["parse_address"]
