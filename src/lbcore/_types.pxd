# cython: language_level=3
"""Flags and field sets shared by lbcore's kernel families (one definition each).

A flow batch is nine columns (``lbcore.Flows.columns()``); its ``flags`` column holds
the ``LB_FLOW_*`` bits, and every hashing kernel takes a ``fields`` argument from the
``LB_FIELDS_*`` set. ``lbcore._hash`` cimports them from here and re-exports them, so
``from lbcore._hash cimport LB_FIELDS_5`` (what the families write) is the same constant.
"""

# Flags of a flow (one byte per flow in a batch).
cdef enum:
    LB_FLOW_IPV6 = 1      # addresses are 128-bit; else IPv4 in the low 32 bits of *_lo
    LB_FLOW_HAS_SEQ = 2   # the flow carries a TCP initial sequence number

# Field sets, as the `fields` argument.
cdef enum:
    LB_FIELDS_5 = 0       # protocol, addresses, ports (+ sequence number when present)
    LB_FIELDS_3 = 1       # protocol and addresses
    LB_FIELDS_2 = 2       # addresses only
