# cython: language_level=3
"""The C-level interface of a stateful lbcore object (see _handle.pyx)."""

cpdef object make_handle(size_t address, object state, str struct, dict kernels)
