"""The house rules of docs/architecture.md, checked over python/ and src/:

1. **Private names stay home.** A name starting with ``_`` (not a dunder) is used only
   inside the module that defines it:
   - a private *module* ``pkg._mod`` is imported only by modules of ``pkg`` itself (its
     siblings and ``pkg/__init__``), never from a subpackage, a parent or elsewhere;
   - a private *name* (``from m import _x``, ``obj._x``, a ``_x`` declared in a ``.pxd``
     and used by another module) is used only in the module (``.py``, or ``.pyx`` with
     its own ``.pxd``) that defines it.
2. **Dependencies point down.** Kernels (``src/lbcore/*.pyx``) import no module of
   ``python/lbcore``; the algorithm API (``lbcore/*.py``) imports no policy or user
   layer; policy packages (elb, route53, apigateway) import no user layer (sim, http,
   dns, dask, cli, bench, testing).

Run ``python tests/api/layer_rules.py`` to list violations; ``test_layers.py`` requires
there to be none.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / "python"
SRC = ROOT / "src"

POLICY = ("elb", "route53", "apigateway")
USERS = ("sim", "http", "dns", "dask", "cli", "bench", "testing", "redis", "__main__")

_PRIVATE = re.compile(r"_[A-Za-z0-9]\w*")          # _x but not __x__
_DUNDER = re.compile(r"__\w+__")


def _is_private(name: str) -> bool:
    return bool(_PRIVATE.fullmatch(name)) and not _DUNDER.fullmatch(name)


def use_root(root: Path) -> None:
    """Check another tree laid out like this one (``python/`` and ``src/`` under
    ``root``): the checker's own tests point it at a small fixture tree."""
    global ROOT, PY, SRC
    ROOT = Path(root).resolve()
    PY = ROOT / "python"
    SRC = ROOT / "src"


def compiled_modules() -> set[str]:
    return {f"lbcore.{p.stem}" for p in (SRC / "lbcore").glob("*.pyx")}


def _module_of(path: Path) -> str:
    """Dotted module name of a source file (.py under python/, .pyx/.pxd under src/)."""
    base = PY if PY in path.parents else SRC
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _package_of(path: Path) -> str:
    mod = _module_of(path)
    return mod if path.stem == "__init__" else mod.rpartition(".")[0]


def _is_module(dotted: str) -> bool:
    """Whether a dotted lbcore path names a module or package (not a class or function)."""
    if dotted in compiled_modules():
        return True
    rel = PY.joinpath(*dotted.split("."))
    return rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()


def _private_component(dotted: str):
    """(package, private part) of the first private component of a dotted path."""
    parts = dotted.split(".")
    for i, p in enumerate(parts):
        if _is_private(p):
            return ".".join(parts[:i]), p
    return None


def _layer(module: str) -> tuple[int, str]:
    """(rank, name): kernels 0, algorithm API 1, policies 2, users 3."""
    if module in compiled_modules():
        return 0, "kernel"
    parts = module.split(".")
    if len(parts) == 1:
        return 1, "algorithm API"
    top = parts[1]
    if top in POLICY:
        return 2, "policy"
    if top in USERS:
        return 3, "user"
    if top == "numba":
        return 1, "algorithm API"
    if len(parts) == 2:
        return 1, "algorithm API"
    return 3, "user"


# ---------------------------------------------------------------- sources

def sources():
    for p in sorted(PY.rglob("*.py")):
        yield p
    for p in sorted((SRC / "lbcore").glob("*.py[xd]")):
        yield p
    for p in sorted((SRC / "lbcore").glob("*.pxi")):
        yield p


_CY_IMPORT = re.compile(
    r"^\s*(?:from\s+([\w.]+)\s+(c?import)\s+\(?([^#\n]*(?:\n[^#\n()]*)*?)\)?\s*$"
    r"|(c?import)\s+([\w., ]+))", re.M)


def _imports(path: Path, text: str):
    """(lineno, imported module, [names], is_cimport) for each import in a file."""
    if path.suffix == ".py":
        tree = ast.parse(text, str(path))
        pkg = _package_of(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield node.lineno, a.name, [], False
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = pkg.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([mod] if mod else []))
                yield node.lineno, mod, [a.name for a in node.names], False
        return
    for m in _CY_IMPORT.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group(1):
            names = [n.strip().split(" as ")[0] for n in m.group(3).replace("\n", " ").split(",")]
            yield line, m.group(1), [n for n in names if n], m.group(2) == "cimport"
        else:
            for mod in m.group(5).split(","):
                yield line, mod.strip().split(" as ")[0], [], m.group(4) == "cimport"


_ATTR = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*(?:\(\))?)\.(_[A-Za-z0-9]\w*)\b")
_DEF = re.compile(r"(?:\bdef|\bcdef|\bcpdef|\bclass|\bctypedef)\b[^\n:=(]*?\b(_[A-Za-z0-9]\w*)\b")
_SELF = {"self", "cls", "super()", "type(self)"}


def _defined_private(text: str) -> set[str]:
    names = set(m.group(1) for m in _DEF.finditer(text))
    names |= set(re.findall(r"\bself\.(_[A-Za-z0-9]\w*)\s*=", text))
    names |= set(re.findall(r"^\s*(_[A-Za-z0-9]\w*)\s*[:=]", text, re.M))
    for decl in re.findall(r"\bcdef\s+(?:public\s+|readonly\s+)?[\w*\[\]]+\s+([\w, *]+)", text):
        names |= {n.strip(" *") for n in decl.split(",") if _is_private(n.strip(" *"))}
    return names


def _strip_strings(text: str) -> str:
    """Blank out comments and string literals (keeps line numbers)."""
    out = re.sub(r'("""|\'\'\')(?:.|\n)*?\1', lambda m: "\n" * m.group(0).count("\n"), text)
    out = re.sub(r"#[^\n]*", "", out)
    out = re.sub(r"(?<![\w])[rbfuRBFU]{0,2}('([^'\\\n]|\\.)*'|\"([^\"\\\n]|\\.)*\")", "''", out)
    return out


def violations():
    """Every violation, as 'path:line: message'."""
    out = []
    own = {}            # module -> private names defined there (.pyx and its .pxd together)
    texts = {}
    for path in sources():
        text = path.read_text()
        texts[path] = text
        mod = _module_of(path)
        own.setdefault(mod, set()).update(_defined_private(_strip_strings(text)))
    compiled = compiled_modules()
    for path, text in texts.items():
        rel = path.relative_to(ROOT)
        mod = _module_of(path)
        pkg = _package_of(path)
        rank, layer = _layer(mod)
        code = _strip_strings(text)
        for line, imported, names, cimport in _imports(path, code if path.suffix != ".py" else text):
            if not imported.startswith("lbcore"):
                continue
            priv = _private_component(imported)
            if priv and priv[0] != pkg and not (path.suffix in (".pyx", ".pxd", ".pxi")
                                                and imported in compiled):
                out.append(f"{rel}:{line}: imports private module {imported} from outside "
                           f"{priv[0]}")
            for n in names:
                if _is_private(n) and not _is_module(f"{imported}.{n}"):
                    out.append(f"{rel}:{line}: imports private name {n} from {imported}")
                sub = f"{imported}.{n}"
                if _is_private(n) and _is_module(sub) and imported != pkg and \
                        not (path.suffix in (".pyx", ".pxd", ".pxi") and sub in compiled):
                    out.append(f"{rel}:{line}: imports private module {sub} from outside "
                               f"{imported}")
            if cimport:
                continue
            if path.suffix in (".pyx", ".pxd", ".pxi"):
                if imported not in compiled:
                    out.append(f"{rel}:{line}: kernel imports Python-layer module {imported}")
                continue
            for full in ([f"{imported}.{n}" for n in names if _is_module(f"{imported}.{n}")]
                         or [imported]):
                trank, tlayer = _layer(full)
                if trank > rank:
                    out.append(f"{rel}:{line}: {layer} module {mod} imports {tlayer} "
                               f"module {full}")
        mine = own.get(mod, set())
        for i, src_line in enumerate(code.splitlines(), 1):
            for m in _ATTR.finditer(src_line):
                obj, name = m.group(1), m.group(2)
                if obj in _SELF or _DUNDER.fullmatch(name):
                    continue
                if obj.split(".")[0] in ("lbcore",):
                    continue                       # module paths: checked as imports
                if name in mine:
                    continue
                out.append(f"{rel}:{i}: uses {obj}.{name}, private to another module")
    return out


if __name__ == "__main__":
    v = violations()
    print("\n".join(v))
    print(f"{len(v)} violations", file=sys.stderr)
    sys.exit(1 if v else 0)
