"""``mypy --strict`` on a user script of the policy objects (typing_policies.py) finds no
error: the ELB, Route 53 and API Gateway objects carry real types."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_sees_policy_types():
    env = dict(os.environ, MYPYPATH=str(ROOT / "python"))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--no-incremental", "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
         str(ROOT / "tests" / "api" / "typing_policies.py")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
