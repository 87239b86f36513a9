# cython: language_level=3
"""``KernelHandle``: the C-level interface of a stateful lbcore object.

What numba, ctypes/cffi and Cython code needs to call lbcore's kernels on an object's
own state, the way ``numpy.random``'s bit generators expose ``.ctypes`` / ``.capsule``:

* ``address``: the address of the C state (``struct`` names its C type: an ``lb_*``
  struct, or ``int64_t`` for the first element of a state table);
* ``state``: the numpy array that owns that memory (``None`` when the object holds the
  struct itself); from ``@njit`` code pass ``state.ctypes`` as the pointer argument;
* ``kernels``: ``{C name: address}`` of the exported ``lb_*`` functions that take this
  state (``lbcore.numba`` binds the same functions by name);
* ``capsule``: a ``PyCapsule`` of ``address`` named ``"lbcore.<struct>"``, for C
  extensions (``None`` while the state is empty: an empty ``Quotas``).

Stateful objects build their handle on first use of their ``ctypes`` property. The
address stays valid while the object lives, except where the object's documentation
says a call swaps in a new state buffer (then fetch ``ctypes`` again).
"""
from collections import namedtuple

from cpython.pycapsule cimport PyCapsule_New

KernelHandle = namedtuple("KernelHandle", ["address", "state", "struct", "kernels", "capsule"])
KernelHandle.__doc__ = ("KernelHandle(address, state, struct, kernels, capsule): the C-level "
                        "interface of a stateful lbcore object (its ``ctypes`` property).")

cdef dict _CAPSULE_NAMES = {}      # struct -> bytes kept alive for the capsules' names


def make_handle(size_t address, object state, str struct, dict kernels):
    """A ``KernelHandle`` over the C state at ``address`` (owned by ``state``)."""
    name = _CAPSULE_NAMES.get(struct)
    if name is None:
        name = _CAPSULE_NAMES.setdefault(struct, f"lbcore.{struct}".encode())
    cdef const char* cname = name
    capsule = None if address == 0 else PyCapsule_New(<void*>address, cname, NULL)
    return KernelHandle(address, state, struct, dict(kernels), capsule)
