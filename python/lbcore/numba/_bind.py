"""Binding lbcore's exported C kernels as numba ``ExternalFunction`` objects."""
from __future__ import annotations

import llvmlite.binding as _llvm
from numba import types as _t
from numba.extending import get_cython_function_address as _address

u8p = _t.CPointer(_t.uint8)
u16p = _t.CPointer(_t.uint16)
u32p = _t.CPointer(_t.uint32)
u64p = _t.CPointer(_t.uint64)
i32p = _t.CPointer(_t.int32)
i64p = _t.CPointer(_t.int64)
f64p = _t.CPointer(_t.float64)


def bind(module: str, name: str, signature):
    """Declare ``lbcore.<module>``'s exported C function ``name`` for numba.

    ``signature`` is a numba signature such as ``types.uint64(types.uint64)``.
    Returns an ``ExternalFunction`` callable from ``@njit`` code. The address
    is registered with LLVM under a stable symbol name, so callers can use
    ``@njit(cache=True)``.
    """
    symbol = f"lbcore_{module.lstrip('_')}_{name}"
    _llvm.add_symbol(symbol, _address(f"lbcore.{module}", name))
    return _t.ExternalFunction(symbol, signature)
