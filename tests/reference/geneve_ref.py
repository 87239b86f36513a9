"""Pure-Python model of GENEVE (RFC 8926) with ``struct``: the reference the
Cython kernel is checked against, and the pure-Python candidate it was measured
against (benchmarks/bench_elb_l4.py)."""
import struct

_BASE = struct.Struct("!BBHI")   # ver/optlen, O/C/rsvd, protocol, vni<<8 | reserved
_OPT = struct.Struct("!HBB")


def decode(data, strict=False):
    """(oam, critical, protocol, vni, [(class, type, data)], header_length) or ValueError."""
    data = bytes(data)
    if len(data) < 8:
        raise ValueError("truncated")
    b0, b1, protocol, word = _BASE.unpack_from(data, 0)
    if b0 >> 6:
        raise ValueError("version")
    end = 8 + 4 * (b0 & 0x3F)
    if end > len(data):
        raise ValueError("optlen")
    if strict and ((b1 & 0x3F) or (word & 0xFF)):
        raise ValueError("reserved")
    options = []
    pos = 8
    while pos < end:
        cls, typ, lenbyte = _OPT.unpack_from(data, pos)
        dlen = 4 * (lenbyte & 0x1F)
        if pos + 4 + dlen > end:
            raise ValueError("option")
        if strict and lenbyte & 0xE0:
            raise ValueError("reserved")
        options.append((cls, typ, data[pos + 4:pos + 4 + dlen]))
        pos += 4 + dlen
    return bool(b1 & 0x80), bool(b1 & 0x40), protocol, word >> 8, options, end


def encode(payload, vni, protocol, options, oam=False, critical=False):
    """Header + options + payload; options are (class, type, data) triples."""
    body = b"".join(_OPT.pack(c, t, len(d) // 4) + d for c, t, d in options)
    head = _BASE.pack(len(body) // 4, (0x80 if oam else 0) | (0x40 if critical else 0),
                      protocol, vni << 8)
    return head + body + bytes(payload)
