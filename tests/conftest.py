"""Test-suite set-up: tests/ itself is importable from every group, so tests import
their pure-Python models as ``reference.<kernel>_ref`` and shared hypothesis helpers
from ``_strategies`` (tests/ has no __init__.py; pytest adds only each test's own
directory to sys.path)."""
import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
