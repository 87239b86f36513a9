# cython: language_level=3
"""One flow as a C struct-backed extension type (cimport it to read the fields)."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef class Flow:
    cdef readonly uint8_t protocol    # IP protocol number
    cdef readonly uint8_t flags       # LB_FLOW_IPV6 | LB_FLOW_HAS_SEQ (lbcore._hash)
    cdef readonly uint64_t src_hi, src_lo, dst_hi, dst_lo
    cdef readonly uint16_t src_port, dst_port
    cdef readonly uint32_t seq        # meaningful only with LB_FLOW_HAS_SEQ
