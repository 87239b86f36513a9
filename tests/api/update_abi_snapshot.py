"""Write tests/data/abi_snapshot.txt: the C signatures lbcore exports.

Every compiled ``lbcore._<family>`` module lists its exported C functions in
``__pyx_capi__``: a dict of PyCapsules whose *name* is the C signature
(e.g. ``uint64_t (uint64_t, uint64_t)``). numba bindings and ``cimport`` users
depend on these; tests/api/test_api_coverage.py fails when they change. After an
intentional change, run

    python tests/api/update_abi_snapshot.py

and commit the new snapshot together with the change.
"""
from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import importlib.util
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "abi_snapshot.txt"

_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype = ctypes.c_char_p
_get_name.argtypes = [ctypes.py_object]


def compiled_modules():
    """Every compiled lbcore extension module (lbcore/_*.<ext suffix>), imported."""
    spec = importlib.util.find_spec("lbcore")
    modules = {}
    for directory in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            for path in Path(directory).glob(f"_*{suffix}"):
                name = "lbcore." + path.name.split(".", 1)[0]
                modules[name] = importlib.import_module(name)
    return dict(sorted(modules.items()))


def exported_signatures() -> dict[str, str]:
    """``{"lbcore._hash.lb_hash_u64": "uint64_t (uint64_t, uint64_t)", ...}``."""
    out = {}
    for name, module in compiled_modules().items():
        for cname, capsule in getattr(module, "__pyx_capi__", {}).items():
            out[f"{name}.{cname}"] = _get_name(capsule).decode()
    return dict(sorted(out.items()))


def render() -> str:
    lines = [f"{key}: {sig}" for key, sig in exported_signatures().items()]
    return "\n".join(lines) + "\n"


def main():
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(render())
    print(f"wrote {SNAPSHOT} ({len(exported_signatures())} exported C functions)")


if __name__ == "__main__":
    main()
