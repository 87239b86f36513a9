"""The documented C handles of the stateful objects (``obj.ctypes``, a KernelHandle):
the state they point at is the object's own, the kernel addresses are the exported
kernels numba binds, and a kernel called through them decides what the method does."""
import ctypes

import numpy as np
import pytest

import lbcore
from lbcore import FlowTable, KernelHandle, Quotas, RoundRobin, TokenBuckets


def _capsule_name(capsule):
    get = ctypes.pythonapi.PyCapsule_GetName
    get.restype, get.argtypes = ctypes.c_char_p, [ctypes.py_object]
    return get(capsule).decode()


def test_token_buckets_handle_is_the_live_table():
    tb = TokenBuckets(4, rate=1, burst=2)
    h = tb.ctypes
    assert isinstance(h, KernelHandle) and h.struct == "int64_t"
    assert h.address == h.state.ctypes.data and h.state.shape == (4, 8)
    assert h.state.flags.writeable and np.shares_memory(h.state, tb.state)
    assert _capsule_name(h.capsule) == "lbcore.int64_t"
    assert tb.ctypes is h                          # built once, while the table stays
    # the exported kernel, called through the handle's address, is TokenBuckets.check
    fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32,
                          ctypes.c_int64, ctypes.c_int64)(h.kernels["lb_bucket_try_acquire"])
    other = TokenBuckets(4, rate=1, burst=2)
    for t, cost in ((1, 1), (2, 2), (3, 5), (10**9, 1)):
        assert fn(h.address, 4, 1, t, cost) == other.check_ns(1, t, cost)
    assert np.array_equal(tb.state, other.state)
    tb.resize(40)                                  # swaps in a new table: a new handle
    assert tb.ctypes is not h and tb.ctypes.state.shape == (40, 8)


def test_handles_name_the_kernels_numba_binds():
    pytest.importorskip("numba")
    from numba.extending import get_cython_function_address
    cases = [(TokenBuckets(2, rate=1, burst=1), "lbcore._bucket"),
             (Quotas(), "lbcore._bucket"), (FlowTable(8), "lbcore._flowtable"),
             (RoundRobin(["a", "b"]), "lbcore._roundrobin"),
             (lbcore.LeastOutstanding(["a"]), "lbcore._lor"),
             (lbcore.WeightedRandom(["a"], [1.0]), "lbcore._alias")]
    for obj, module in cases:
        h = obj.ctypes
        assert h.kernels, type(obj).__name__
        for name, address in h.kernels.items():
            assert address == get_cython_function_address(module, name), (module, name)


def test_struct_handles():
    ft = FlowTable(8)
    assert ft.ctypes.address == ft.address and ft.ctypes.struct == "lb_flowtable"
    assert ft.ctypes.state is None
    rr = RoundRobin(["a", "b"])
    h = rr.ctypes
    assert h.struct == "lb_roundrobin" and h.address == h.state.ctypes.data
    assert _capsule_name(h.capsule) == "lbcore.lb_roundrobin"
    assert Quotas().ctypes.capsule is None         # nothing to point at yet
