"""The kernel facility lbcore.route53 uses (address parsing), imported in one place from
the algorithm API."""
from __future__ import annotations

from lbcore import parse_address

__all__ = ["parse_address"]
