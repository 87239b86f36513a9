"""The public C API: every exported kernel is bound for numba and tested, and the
exported C signatures match the committed snapshot (as scipy.special does)."""
import re
from pathlib import Path

import pytest

from update_abi_snapshot import SNAPSHOT, compiled_modules, exported_signatures, render

TESTS = Path(__file__).resolve().parents[1]


def _test_texts():
    """Text of every tests/**/test_*.py that uses lbcore.numba (other than this file)."""
    texts = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        text = path.read_text()
        if "lbcore.numba" in text or "from lbcore import numba" in text:
            texts[path.name] = text
    return texts


def test_compiled_modules_are_found():
    names = set(compiled_modules())
    assert {"lbcore._hash", "lbcore._flow", "lbcore._rng"} <= names


def test_every_public_kernel_is_bound_and_tested():
    pytest.importorskip("numba")
    import lbcore.numba  # noqa: F401  (binds every family)
    from lbcore.numba import bound_kernels

    bound = bound_kernels()
    texts = _test_texts()
    unbound, untested = [], []
    for module_name, module in compiled_modules().items():
        for cname in getattr(module, "__pyx_capi__", {}):
            if not cname.startswith("lb_"):
                continue
            pyname = bound.get((module_name, cname))
            if pyname is None:
                unbound.append(f"{module_name}.{cname}")
                continue
            short = pyname.rsplit(".", 1)[-1]
            pattern = re.compile(rf"\b({re.escape(short)}|{re.escape(cname)})\b")
            if not any(pattern.search(t) for t in texts.values()):
                untested.append(f"{module_name}.{cname} (lbcore.numba.{pyname})")
    assert not unbound, ("exported kernels with no lbcore.numba binding (add them to "
                         "python/lbcore/numba/_<family>.py): " + ", ".join(unbound))
    assert not untested, ("bound kernels that no tests/**/test_*.py using lbcore.numba "
                          "mentions: " + ", ".join(untested))


def test_bindings_point_at_exported_kernels():
    pytest.importorskip("numba")
    import lbcore.numba  # noqa: F401
    from lbcore.numba import bound_kernels

    exported = {(m, c) for m, mod in compiled_modules().items()
                for c in getattr(mod, "__pyx_capi__", {})}
    stale = sorted(f"{m}.{c}" for m, c in bound_kernels() if (m, c) not in exported)
    assert not stale, f"bindings of kernels that are not exported: {stale}"


def test_abi_snapshot():
    assert SNAPSHOT.exists(), "run `python tests/api/update_abi_snapshot.py` to create it"
    expected = SNAPSHOT.read_text().splitlines()
    actual = render().splitlines()
    if actual != expected:
        removed = sorted(set(expected) - set(actual))
        added = sorted(set(actual) - set(expected))
        pytest.fail("the exported C signatures changed (numba and cimport users depend on "
                    "them).\n  removed: " + "\n           ".join(removed or ["-"]) +
                    "\n  added:   " + "\n           ".join(added or ["-"]) +
                    "\nIf the change is intentional, run `python tests/api/update_abi_snapshot.py`"
                    " and commit tests/data/abi_snapshot.txt with it.")


def test_snapshot_names_hash_kernels():
    sigs = exported_signatures()
    assert sigs["lbcore._hash.lb_hash_u64"] == "uint64_t (uint64_t, uint64_t)"
    assert "lbcore._hash.lb_flow_hash_many" in sigs


def test_bound_kernels_names_the_numba_attribute():
    pytest.importorskip("numba")
    from lbcore import numba as lbn

    bound = lbn.bound_kernels()
    assert bound[("lbcore._hash", "lb_flow_hash")] == "flow_hash_seeded"
    assert bound[("lbcore._hash", "lb_flow_hash_k")] == "flow_hash_k"
    assert bound[("lbcore._hash", "lb_hash_bytes")] == "hash_bytes"
    for (module, cname), pyname in bound.items():
        assert getattr(lbn, pyname) is not None, (module, cname)
