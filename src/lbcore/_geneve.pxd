# cython: language_level=3
"""The GENEVE kernel family (RFC 8926): header and option parsing over raw bytes.

Exported functions never read outside ``buf[0:n]``; a malformed packet gives
a negative error code (``LB_GENEVE_E*``), never an out-of-bounds read.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int64_t

cdef enum:
    LB_GENEVE_BASE_LEN = 8          # fixed header, bytes (RFC 8926 section 3.4)
    LB_GENEVE_ETRUNCATED = -1       # fewer than 8 bytes
    LB_GENEVE_EVERSION = -2         # version field is not 0
    LB_GENEVE_EOPTLEN = -3          # Opt Len reaches past the end of the buffer
    LB_GENEVE_EOPTION = -4          # an option's length reaches past the option area
    LB_GENEVE_ERESERVED = -5        # a reserved bit is set (strict mode only)
    LB_GENEVE_ENOTFOUND = -6        # no option of that class and type


cdef int64_t lb_geneve_check(const uint8_t* buf, size_t n, int strict) noexcept nogil
cdef int64_t lb_geneve_find_option(const uint8_t* buf, size_t n, uint16_t opt_class,
                                   uint8_t opt_type) noexcept nogil
cdef int64_t lb_geneve_write_header(uint8_t* out, size_t cap, uint8_t opt_words, int oam,
                                    int critical, uint16_t protocol,
                                    uint32_t vni) noexcept nogil
