"""Binding lbcore's exported C kernels as numba ``ExternalFunction`` objects."""
from __future__ import annotations

import llvmlite.binding as _llvm
from numba import types as _t
from numba.extending import get_cython_function_address as _address

__all__ = ["bind", "bound_kernels", "u8p", "u16p", "u32p", "u64p", "i32p", "i64p", "f64p"]

u8p = _t.CPointer(_t.uint8)
u16p = _t.CPointer(_t.uint16)
u32p = _t.CPointer(_t.uint32)
u64p = _t.CPointer(_t.uint64)
i32p = _t.CPointer(_t.int32)
i64p = _t.CPointer(_t.int64)
f64p = _t.CPointer(_t.float64)

# (module, cname) -> the ExternalFunction bind() returned for it, e.g.
# ("lbcore._hash", "lb_flow_hash") -> <ExternalFunction lbcore_hash_lb_flow_hash>.
_REGISTRY: dict[tuple[str, str], object] = {}


def bind(module: str, name: str, signature):
    """Declare ``lbcore.<module>``'s exported C function ``name`` for numba.

    ``signature`` is a numba signature such as ``types.uint64(types.uint64)``.
    Returns an ``ExternalFunction`` callable from ``@njit`` code. The address
    is registered with LLVM under a stable symbol name, so callers can use
    ``@njit(cache=True)``. Every binding is recorded (see :func:`bound_kernels`).
    """
    qualified = module if module.startswith("lbcore.") else f"lbcore.{module}"
    symbol = f"lbcore_{qualified[len('lbcore.'):].lstrip('_')}_{name}"
    _llvm.add_symbol(symbol, _address(qualified, name))
    function = _t.ExternalFunction(symbol, signature)
    _REGISTRY[(qualified, name)] = function
    return function


def bound_kernels() -> dict[tuple[str, str], str]:
    """``{(module, cname): python name}`` of every kernel bound so far.

    The python name is the attribute of ``lbcore.numba`` that holds the
    binding (what ``@njit`` code calls), or ``"<module>.<cname>"`` for a
    binding that is not exported there.
    """
    import lbcore.numba as namespace

    names = {id(getattr(namespace, attr)): attr for attr in getattr(namespace, "__all__", ())
             if hasattr(namespace, attr)}
    return {key: names.get(id(function), f"{key[0]}.{key[1]}")
            for key, function in _REGISTRY.items()}
