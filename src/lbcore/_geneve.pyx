# cython: language_level=3
"""GENEVE (RFC 8926) encapsulation: encode and decode the header and its options.

Wire format (RFC 8926 section 3.4), all fields big-endian::

    byte 0   Ver (2 bits, must be 0) | Opt Len (6 bits, options length in 4-byte words)
    byte 1   O (control packet) | C (critical options present) | Rsvd (6 bits)
    2..3     Protocol Type (EtherType of the payload; 0x6558 = Ethernet)
    4..6     Virtual Network Identifier (24 bits)
    7        Reserved
    8..      options: Option Class (16) | Type (8, high bit = critical) |
             R R R (3 reserved bits) | Length (5 bits, data length in 4-byte words) | data

AWS Gateway Load Balancer adds three options of class 0x0108 (AWS blog "Integrate
your custom logic or appliance with AWS Gateway Load Balancer"): type 1 the GWLB
endpoint ID (8 bytes), type 2 the attachment ID (8 bytes), type 3 the flow cookie
(4 bytes).

The kernels (``lb_geneve_*``, see _geneve.pxd) only read inside ``buf[0:n]`` and
report malformed input with negative codes; the Python functions turn those into
``ValueError``.
"""
cimport cython
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE,
                             PyObject_CheckBuffer)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM, PyTuple_GET_SIZE, PyTuple_GET_ITEM
from cpython.ref cimport Py_INCREF, PyObject

GENEVE_PORT = 6081
PROTOCOL_ETHERNET = 0x6558
PROTOCOL_IPV4 = 0x0800
PROTOCOL_IPV6 = 0x86DD
AWS_GWLB_OPTION_CLASS = 0x0108
GWLB_ENDPOINT_ID = 1
GWLB_ATTACHMENT_ID = 2
GWLB_FLOW_COOKIE = 3
MAX_OPTIONS_LENGTH = 252     # Opt Len is 6 bits of 4-byte words
MAX_OPTION_DATA = 124        # an option's Length is 5 bits of 4-byte words


# ------------------------------------------------------------------ kernels

cdef int64_t lb_geneve_check(const uint8_t* buf, size_t n, int strict) noexcept nogil:
    """Validate a GENEVE header; return its length (8 + options) or a negative code."""
    cdef size_t end, pos, dlen
    if n < LB_GENEVE_BASE_LEN:
        return LB_GENEVE_ETRUNCATED
    if (buf[0] >> 6) != 0:
        return LB_GENEVE_EVERSION
    end = LB_GENEVE_BASE_LEN + 4 * <size_t>(buf[0] & 0x3F)
    if end > n:
        return LB_GENEVE_EOPTLEN
    if strict and ((buf[1] & 0x3F) != 0 or buf[7] != 0):
        return LB_GENEVE_ERESERVED
    pos = LB_GENEVE_BASE_LEN
    while pos < end:
        if pos + 4 > end:           # cannot happen (end - pos is a multiple of 4); kept as a guard
            return LB_GENEVE_EOPTION
        dlen = 4 * <size_t>(buf[pos + 3] & 0x1F)
        if pos + 4 + dlen > end:
            return LB_GENEVE_EOPTION
        if strict and (buf[pos + 3] & 0xE0) != 0:
            return LB_GENEVE_ERESERVED
        pos += 4 + dlen
    return <int64_t>end


cdef int64_t lb_geneve_find_option(const uint8_t* buf, size_t n, uint16_t opt_class,
                                   uint8_t opt_type) noexcept nogil:
    """Offset of the data of the first option (class, type), or a negative code.

    The data length is ``4 * (buf[offset - 1] & 0x1F)`` bytes.
    """
    cdef int64_t end = lb_geneve_check(buf, n, 0)
    cdef size_t pos = LB_GENEVE_BASE_LEN
    if end < 0:
        return end
    while pos < <size_t>end:
        if ((<uint16_t>buf[pos] << 8) | buf[pos + 1]) == opt_class and buf[pos + 2] == opt_type:
            return <int64_t>(pos + 4)
        pos += 4 + 4 * <size_t>(buf[pos + 3] & 0x1F)
    return LB_GENEVE_ENOTFOUND


cdef int64_t lb_geneve_write_header(uint8_t* out, size_t cap, uint8_t opt_words, int oam,
                                    int critical, uint16_t protocol,
                                    uint32_t vni) noexcept nogil:
    """Write the 8-byte fixed header; return 8, or a negative code if it cannot fit.

    ``opt_words`` above 63 or ``vni`` above 2**24 - 1 give LB_GENEVE_EOPTLEN /
    LB_GENEVE_ERESERVED (nothing is written).
    """
    if cap < LB_GENEVE_BASE_LEN:
        return LB_GENEVE_ETRUNCATED
    if opt_words > 63:
        return LB_GENEVE_EOPTLEN
    if vni > 0xFFFFFF:
        return LB_GENEVE_ERESERVED
    out[0] = opt_words
    out[1] = (0x80 if oam else 0) | (0x40 if critical else 0)
    out[2] = protocol >> 8
    out[3] = protocol & 0xFF
    out[4] = (vni >> 16) & 0xFF
    out[5] = (vni >> 8) & 0xFF
    out[6] = vni & 0xFF
    out[7] = 0
    return LB_GENEVE_BASE_LEN


# ------------------------------------------------------------------ Python API

cdef dict _ERRORS = {
    LB_GENEVE_ETRUNCATED: "truncated: a GENEVE header needs at least 8 bytes",
    LB_GENEVE_EVERSION: "unsupported GENEVE version (only version 0 exists)",
    LB_GENEVE_EOPTLEN: "Opt Len reaches past the end of the packet",
    LB_GENEVE_EOPTION: "an option's length reaches past the end of the options",
    LB_GENEVE_ERESERVED: "a reserved bit is set (strict mode)",
}


@cython.embedsignature(False)
cdef class GeneveOption:
    """GeneveOption(option_class, type, data=b"")
--

One GENEVE option (TLV): class, type (high bit = critical) and data.

    ``data`` is bytes whose length is a multiple of 4, at most 124.
    """
    cdef readonly uint16_t option_class
    cdef readonly uint8_t type
    cdef readonly bytes data

    def __init__(self, option_class, type, data=b""):
        if isinstance(option_class, bool) or not hasattr(option_class, "__index__"):
            raise TypeError(f"option_class must be an int, got {option_class.__class__.__name__}")
        if not 0 <= option_class <= 0xFFFF:
            raise ValueError(f"option_class must be in 0..65535, got {option_class}")
        if isinstance(type, bool) or not hasattr(type, "__index__"):
            raise TypeError(f"type must be an int, got {type.__class__.__name__}")
        if not 0 <= type <= 0xFF:
            raise ValueError(f"type must be in 0..255, got {type}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {data.__class__.__name__}")
        data = bytes(data)
        if len(data) % 4 or len(data) > MAX_OPTION_DATA:
            raise ValueError(f"data length must be a multiple of 4 and at most "
                             f"{MAX_OPTION_DATA}, got {len(data)}")
        self.option_class = option_class
        self.type = type
        self.data = data

    @property
    def critical(self):
        """The critical bit (high bit of the type)."""
        return bool(self.type & 0x80)

    def __eq__(self, other):
        if not isinstance(other, GeneveOption):
            return NotImplemented
        cdef GeneveOption o = <GeneveOption>other
        return (self.option_class == o.option_class and self.type == o.type
                and self.data == o.data)

    def __hash__(self):
        return hash((self.option_class, self.type, self.data))

    def __repr__(self):
        return (f"GeneveOption(option_class=0x{self.option_class:04x}, type={self.type}, "
                f"data={self.data!r})")


cdef inline GeneveOption _make_option(uint16_t cls, uint8_t typ, const uint8_t* p, size_t n):
    cdef GeneveOption o = GeneveOption.__new__(GeneveOption)
    o.option_class = cls
    o.type = typ
    o.data = PyBytes_FromStringAndSize(<const char*>p, n)
    return o


cdef class GeneveHeader:
    """A decoded GENEVE header: ``length`` bytes long, the payload follows it."""
    cdef readonly uint8_t version
    cdef readonly bint oam
    cdef readonly bint critical
    cdef readonly uint16_t protocol
    cdef readonly uint32_t vni
    cdef readonly tuple options
    cdef readonly Py_ssize_t length

    def option(self, option_class, type):
        """The data of the first option with this class and type, or None."""
        for o in self.options:
            if (<GeneveOption>o).option_class == option_class and (<GeneveOption>o).type == type:
                return (<GeneveOption>o).data
        return None

    cdef object _aws_int(self, uint8_t typ, size_t size):
        cdef GeneveOption o
        for x in self.options:
            o = <GeneveOption>x
            if o.option_class == AWS_GWLB_OPTION_CLASS and o.type == typ:
                if len(o.data) != size:
                    raise ValueError(f"AWS GWLB option type {typ} must carry {size} bytes, "
                                     f"got {len(o.data)}")
                return int.from_bytes(o.data, "big")
        return None

    @property
    def gwlb_endpoint_id(self):
        """AWS GWLB TLV type 1 (GWLB endpoint ID, 64 bits) as an int, or None."""
        return self._aws_int(GWLB_ENDPOINT_ID, 8)

    @property
    def gwlb_attachment_id(self):
        """AWS GWLB TLV type 2 (attachment ID, 64 bits) as an int, or None."""
        return self._aws_int(GWLB_ATTACHMENT_ID, 8)

    @property
    def gwlb_flow_cookie(self):
        """AWS GWLB TLV type 3 (flow cookie, 32 bits) as an int, or None."""
        return self._aws_int(GWLB_FLOW_COOKIE, 4)

    def __repr__(self):
        return (f"GeneveHeader(vni={self.vni}, protocol=0x{self.protocol:04x}, oam={self.oam}, "
                f"critical={self.critical}, options={self.options!r}, length={self.length})")


cdef GeneveHeader _decode(const uint8_t* buf, size_t n, int strict):
    cdef int64_t end = lb_geneve_check(buf, n, strict)
    if end < 0:
        raise ValueError(f"data: {_ERRORS[end]} (got {n} bytes)")
    cdef GeneveHeader h = GeneveHeader.__new__(GeneveHeader)
    h.version = 0
    h.oam = (buf[1] & 0x80) != 0
    h.critical = (buf[1] & 0x40) != 0
    h.protocol = (<uint16_t>buf[2] << 8) | buf[3]
    h.vni = (<uint32_t>buf[4] << 16) | (<uint32_t>buf[5] << 8) | buf[6]
    h.length = end
    cdef size_t pos = LB_GENEVE_BASE_LEN, count = 0, dlen
    while pos < <size_t>end:
        count += 1
        pos += 4 + 4 * <size_t>(buf[pos + 3] & 0x1F)
    cdef tuple opts = PyTuple_New(count)
    cdef GeneveOption o
    pos = LB_GENEVE_BASE_LEN
    cdef Py_ssize_t i = 0
    while pos < <size_t>end:
        dlen = 4 * <size_t>(buf[pos + 3] & 0x1F)
        o = _make_option((<uint16_t>buf[pos] << 8) | buf[pos + 1], buf[pos + 2], buf + pos + 4, dlen)
        Py_INCREF(o)
        PyTuple_SET_ITEM(opts, i, o)
        i += 1
        pos += 4 + dlen
    h.options = opts
    return h


def decode(data, *, bint strict=False):
    """Decode the GENEVE header at the start of ``data`` (bytes-like).

    Returns a :class:`GeneveHeader`; the payload is ``data[header.length:]``.
    Raises ``ValueError`` for a truncated header, a version other than 0, an
    Opt Len or option length that reaches past the end. RFC 8926 says reserved
    bits are ignored on receipt, so they are by default; ``strict=True``
    rejects them instead.
    """
    cdef Py_buffer view
    cdef GeneveHeader h
    if type(data) is bytes:
        return _decode(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), strict)
    if not PyObject_CheckBuffer(data):
        raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        h = _decode(<const uint8_t*>view.buf, view.len, strict)
    finally:
        PyBuffer_Release(&view)
    return h


def header_length(data, *, bint strict=False):
    """Validate the header at the start of ``data`` and return its length in bytes."""
    cdef Py_buffer view
    cdef int64_t r
    if not PyObject_CheckBuffer(data):
        raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    r = lb_geneve_check(<const uint8_t*>view.buf, view.len, strict)
    PyBuffer_Release(&view)
    if r < 0:
        raise ValueError(f"data: {_ERRORS[r]}")
    return r


cdef object _U24 = 0xFFFFFF


def encode(payload=b"", *, vni=0, protocol=PROTOCOL_ETHERNET, options=(), bint oam=False,
           critical=None):
    """A GENEVE header followed by ``payload``, as bytes.

    ``options``: a sequence of :class:`GeneveOption` (at most 252 bytes in all).
    ``critical`` (the C bit) defaults to whether any option has its critical
    bit set; RFC 8926 requires the C bit when one does, so ``critical=False``
    with a critical option raises ``ValueError``.
    """
    if isinstance(vni, bool) or not hasattr(vni, "__index__"):
        raise TypeError(f"vni must be an int, got {type(vni).__name__}")
    if not 0 <= vni <= _U24:
        raise ValueError(f"vni must be in 0..2**24-1, got {vni}")
    if isinstance(protocol, bool) or not hasattr(protocol, "__index__"):
        raise TypeError(f"protocol must be an int, got {type(protocol).__name__}")
    if not 0 <= protocol <= 0xFFFF:
        raise ValueError(f"protocol must be in 0..65535, got {protocol}")
    if type(options) is not tuple:
        if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
            raise TypeError("options must be a sequence of GeneveOption")
        options = tuple(options)
    cdef Py_ssize_t k, nopt = PyTuple_GET_SIZE(options)
    cdef size_t optbytes = 0
    cdef bint any_critical = False
    cdef GeneveOption o
    for k in range(nopt):
        x = <object>PyTuple_GET_ITEM(options, k)
        if type(x) is not GeneveOption:
            raise TypeError(f"options[{k}] must be a GeneveOption, got {type(x).__name__}")
        o = <GeneveOption>x
        optbytes += 4 + PyBytes_GET_SIZE(o.data)
        if o.type & 0x80:
            any_critical = True
    if optbytes > MAX_OPTIONS_LENGTH:
        raise ValueError(f"options take {optbytes} bytes, more than the {MAX_OPTIONS_LENGTH} "
                         "GENEVE allows")
    cdef bint crit
    if critical is None:
        crit = any_critical
    else:
        crit = bool(critical)
        if any_critical and not crit:
            raise ValueError("critical must be set when an option has its critical bit set "
                             "(RFC 8926)")
    cdef Py_buffer view
    if not PyObject_CheckBuffer(payload):
        raise TypeError(f"payload must be bytes-like, got {type(payload).__name__}")
    PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
    cdef size_t total = LB_GENEVE_BASE_LEN + optbytes + <size_t>view.len
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef uint8_t* p = <uint8_t*>PyBytes_AS_STRING(out)
    cdef size_t pos = LB_GENEVE_BASE_LEN, dlen
    lb_geneve_write_header(p, total, <uint8_t>(optbytes // 4), oam, crit, <uint16_t>protocol,
                           <uint32_t>vni)
    for k in range(nopt):
        o = <GeneveOption>PyTuple_GET_ITEM(options, k)
        dlen = PyBytes_GET_SIZE(o.data)
        p[pos] = o.option_class >> 8
        p[pos + 1] = o.option_class & 0xFF
        p[pos + 2] = o.type
        p[pos + 3] = <uint8_t>(dlen // 4)
        if dlen:
            memcpy(p + pos + 4, PyBytes_AS_STRING(o.data), dlen)
        pos += 4 + dlen
    if view.len:
        memcpy(p + pos, view.buf, view.len)
    PyBuffer_Release(&view)
    return out


def gwlb_options(endpoint_id, attachment_id, flow_cookie):
    """The three AWS Gateway Load Balancer TLVs (class 0x0108) for these values.

    ``endpoint_id`` and ``attachment_id``: ints in [0, 2**64); ``flow_cookie``:
    an int in [0, 2**32).
    """
    for name, value, bits in (("endpoint_id", endpoint_id, 64),
                              ("attachment_id", attachment_id, 64),
                              ("flow_cookie", flow_cookie, 32)):
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 0 <= value < (1 << bits):
            raise ValueError(f"{name} must be in [0, 2**{bits}), got {value}")
    return (_make_aws(GWLB_ENDPOINT_ID, endpoint_id.__index__().to_bytes(8, "big")),
            _make_aws(GWLB_ATTACHMENT_ID, attachment_id.__index__().to_bytes(8, "big")),
            _make_aws(GWLB_FLOW_COOKIE, flow_cookie.__index__().to_bytes(4, "big")))


cdef GeneveOption _make_aws(uint8_t typ, bytes data):
    cdef GeneveOption o = GeneveOption.__new__(GeneveOption)
    o.option_class = AWS_GWLB_OPTION_CLASS
    o.type = typ
    o.data = data
    return o


def encode_gwlb(payload, *, endpoint_id, attachment_id, flow_cookie, vni=0,
                protocol=PROTOCOL_IPV4):
    """GENEVE as a Gateway Load Balancer sends it to an appliance: the inner IP
    packet (``protocol`` 0x0800 or 0x86DD) behind the three AWS TLVs."""
    return encode(payload, vni=vni, protocol=protocol,
                  options=gwlb_options(endpoint_id, attachment_id, flow_cookie))
