"""The benchmark suite: ``python -m pytest benchmarks --benchmark-enable``.

Files here are named ``bench_*.py`` (so ``pytest tests`` never collects them); this
hook collects them when benchmarks/ is the path given to pytest (a file named on the
command line, ``pytest benchmarks/bench_hash.py``, is collected by pytest itself). tests/ is put on
sys.path so benchmarks can use the pure-Python reference models
(``reference.<kernel>_ref``), as the tests do.
"""
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def pytest_collect_file(file_path, parent):
    # a file named on the command line is collected by pytest itself
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") \
            and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
