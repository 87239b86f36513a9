"""``mypy --strict`` on user scripts of the policy objects (typing_policies.py) and the
compiled kernel classes (typing_kernels.py, through the .pyi stubs) finds no error."""
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


def test_mypy_strict_sees_kernel_types():
    env = dict(os.environ, MYPYPATH=str(ROOT / "python"))
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--no-incremental", "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
         str(ROOT / "tests" / "api" / "typing_kernels.py")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
