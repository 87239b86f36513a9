"""Every public callable of lbcore has an introspectable signature (inspect.signature
succeeds: compiled classes carry a text signature, functions are cyfunctions or carry
one), every compiled module has a .pyi stub installed beside it, and each stub's
parameters (names, kinds, literal defaults) agree with the compiled object."""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

import lbcore

PKG = Path(lbcore.__file__).resolve().parent
SRC = Path(__file__).resolve().parents[2] / "src" / "lbcore"
COMPILED = sorted(f"lbcore.{p.stem}" for p in SRC.glob("*.pyx"))

_KINDS = {"posonly": inspect.Parameter.POSITIONAL_ONLY,
          "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
          "vararg": inspect.Parameter.VAR_POSITIONAL,
          "kwonly": inspect.Parameter.KEYWORD_ONLY,
          "kwarg": inspect.Parameter.VAR_KEYWORD}


def _stub_params(fn: ast.FunctionDef, method: bool):
    """[(name, kind, default)] of a stub def; default is ... when not a literal."""
    a = fn.args
    out = []
    pos = [(p, "posonly") for p in a.posonlyargs] + [(p, "args") for p in a.args]
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    for (p, kind), d in zip(pos, defaults):
        out.append((p.arg, _KINDS[kind], _literal(d)))
    if a.vararg:
        out.append((a.vararg.arg, _KINDS["vararg"], inspect.Parameter.empty))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, _KINDS["kwonly"], _literal(d)))
    if a.kwarg:
        out.append((a.kwarg.arg, _KINDS["kwarg"], inspect.Parameter.empty))
    if method and out and out[0][0] == "self":
        out = out[1:]
    return out


def _literal(node):
    if node is None:
        return inspect.Parameter.empty
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return ...
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ...


def _real_params(obj, method: bool):
    sig = inspect.signature(obj)
    params = list(sig.parameters.values())
    if method and params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def _agree(stub, real):
    if [(n, k) for n, k, _ in stub] != [(n, k) for n, k, _ in real]:
        return False
    return all(sd is ... or sd == rd or (sd is inspect.Parameter.empty
                                         and rd is inspect.Parameter.empty)
               for (_, _, sd), (_, _, rd) in zip(stub, real))


def _stub(module: str) -> ast.Module:
    path = PKG / f"{module.rpartition('.')[2]}.pyi"
    assert path.exists(), f"no stub {path.name} for the compiled module {module}"
    return ast.parse(path.read_text())


def _public_callables():
    for name in lbcore.__all__:
        obj = getattr(lbcore, name)
        if callable(obj) and not inspect.ismodule(obj):
            yield name, obj


def test_py_typed_is_installed():
    assert (PKG / "py.typed").exists()


@pytest.mark.parametrize("module", COMPILED)
def test_every_compiled_module_has_a_stub(module):
    tree = _stub(module)
    mod = importlib.import_module(module)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign)
                for t in [n.target] if isinstance(t, ast.Name)}
    public = {n for n, v in vars(mod).items() if not n.startswith("_")
              and not inspect.ismodule(v)
              and (getattr(v, "__module__", module) == module
                   or not (callable(v) or inspect.isclass(v)))}
    assert not sorted(public - defined), f"{module}: public names missing from its stub"


@pytest.mark.parametrize("name,obj", list(_public_callables()))
def test_signature_matches_stub(name, obj):
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return
    real = _real_params(obj, method=False)          # inspect.signature must succeed
    if obj.__module__ not in COMPILED:
        return                                      # pure Python: its source is the stub
    tree = _stub(obj.__module__)
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert name in defs or obj.__name__ in defs, f"{name} not in {obj.__module__}'s stub"
    node = defs.get(obj.__name__, defs.get(name))
    if isinstance(node, ast.ClassDef):
        methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
        assert "__init__" in methods, f"{name}: the stub declares no __init__"
        stub = _stub_params(methods["__init__"], method=True)
        assert _agree(stub, real), f"{name}(): stub {stub} != compiled {real}"
        for mname, mnode in methods.items():
            if mname.startswith("_") or any(isinstance(d, ast.Name) and d.id in
                                            ("property", "staticmethod", "classmethod")
                                            for d in mnode.decorator_list):
                continue
            attr = inspect.getattr_static(obj, mname)
            assert callable(attr), f"{name}.{mname} is not a method"
            mreal = _real_params(getattr(obj, mname), method=True)
            mstub = _stub_params(mnode, method=True)
            assert _agree(mstub, mreal), f"{name}.{mname}: stub {mstub} != compiled {mreal}"
    else:
        stub = _stub_params(node, method=False)
        assert _agree(stub, real), f"{name}: stub {stub} != compiled {real}"


def test_help_shows_the_real_constructor():
    """The constructor line help() prints is one a user can call (it was not, for the
    keyword-only arguments of the compiled classes)."""
    import pydoc
    text = pydoc.render_doc(lbcore.TokenBuckets, renderer=pydoc.plaintext)
    assert "TokenBuckets(n, *, rate, burst)" in text
    lbcore.TokenBuckets(1000, rate=5, burst=10)
    assert str(inspect.signature(lbcore.Maglev)).startswith("(targets, *, weights=None")
