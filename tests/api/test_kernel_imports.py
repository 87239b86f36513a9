"""Dependencies point down: no compiled kernel (src/lbcore/*.pyx, *.pxd, *.pxi)
imports a module of the Python layer (python/lbcore). A kernel may import or
cimport other compiled kernel modules only."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "lbcore"
COMPILED = {p.stem for p in SRC.glob("*.pyx")} | {p.stem for p in SRC.glob("*.pxd")}

# Upward imports that are known and owned elsewhere, with the reason; the test fails
# when one of them disappears too (so the list cannot go stale).
KNOWN = {
    ("_flowtable.pyx", "lbcore.flows"),   # FlowTable/L4 accept lbcore.Flows batches; goes
                                          # with the Flows column handle (C-API work)
}

_STMT = re.compile(r"^\s*(from\s+([\w.]+)\s+c?import\b|c?import\s+([\w.]+(?:\s*,\s*[\w.]+)*))",
                   re.M)


def lbcore_imports(text):
    """Every ``lbcore...`` module named by an import / cimport statement in ``text``
    (Cython source: import lines are parsed with a regex, not the Python grammar)."""
    out = set()
    for m in _STMT.finditer(text):
        names = [m.group(2)] if m.group(2) else [n.strip().split()[0]
                                                 for n in m.group(3).split(",")]
        for name in names:
            if name == "lbcore" or name.startswith("lbcore."):
                out.add(name)
    return out


def upward(path):
    bad = set()
    for name in lbcore_imports(path.read_text()):
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in COMPILED:
            bad.add((path.name, name))
    return bad


def test_the_parser_sees_every_form():
    text = ("import numpy as np\nimport lbcore\nfrom lbcore._hash import parse_seed\n"
            "from lbcore._rng cimport lb_rng\n    from lbcore.flows import Flows\n"
            "cimport lbcore._check\nimport os, lbcore.elb\n")
    assert lbcore_imports(text) == {"lbcore", "lbcore._hash", "lbcore._rng", "lbcore.flows",
                                    "lbcore._check", "lbcore.elb"}


def test_no_kernel_imports_the_python_layer():
    files = sorted(SRC.glob("*.pyx")) + sorted(SRC.glob("*.pxd")) + sorted(SRC.glob("*.pxi"))
    assert len(files) > 20
    found = set().union(*(upward(p) for p in files))
    assert found - KNOWN == set(), f"kernels importing python/lbcore: {sorted(found - KNOWN)}"
    assert KNOWN - found == set(), f"fixed: drop from KNOWN {sorted(KNOWN - found)}"


def test_python_layer_does_not_use_the_old_helper_modules():
    for name in ("_request_common.py", "_targets.py"):
        assert not (ROOT / "python" / "lbcore" / name).exists()
    uses = []
    for path in sorted((ROOT / "python").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py")):
        text = path.read_text()
        if re.search(r"lbcore\._request_common|lbcore\._targets\b|from lbcore import _targets",
                     text) and path.name != Path(__file__).name:
            uses.append(str(path.relative_to(ROOT)))
    assert not uses
