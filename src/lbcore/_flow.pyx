# cython: language_level=3
"""``lbcore.Flow``: one flow (protocol, addresses, ports, optional TCP ISN)."""
cimport cython
import ipaddress
import warnings

from lbcore._hash cimport LB_FLOW_IPV6, LB_FLOW_HAS_SEQ

PROTOCOLS = {
    "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "ipv6": 41, "gre": 47,
    "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "ospf": 89, "pim": 103,
    "vrrp": 112, "l2tp": 115, "sctp": 132,
}
PROTOCOL_NAMES = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6", 47: "GRE", 50: "ESP",
                  51: "AH", 132: "SCTP"}
cdef object _U64 = (1 << 64) - 1


def parse_protocol(protocol, name="protocol"):
    """An IP protocol number (0..255) from an int or a name such as ``"tcp"``."""
    if isinstance(protocol, str):
        number = PROTOCOLS.get(protocol.lower())
        if number is None:
            raise ValueError(f"{name}: unknown protocol name {protocol!r}")
        return number
    if isinstance(protocol, bool) or not hasattr(protocol, "__index__"):
        raise TypeError(f"{name} must be an int or a protocol name, got {type(protocol).__name__}")
    protocol = protocol.__index__()
    if not 0 <= protocol <= 255:
        raise ValueError(f"{name} must be in 0..255, got {protocol}")
    return protocol


def parse_address(address, name):
    """(is_ipv6, 128-bit int) from a str, an ``ipaddress`` object or an int.

    An int below 2**32 is IPv4; pass ``ipaddress.IPv6Address(n)`` for a small
    IPv6 address.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return False, int(address)
    if isinstance(address, ipaddress.IPv6Address):
        return True, int(address)
    if isinstance(address, str):
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"{name}: {address!r} is not an IPv4 or IPv6 address") from None
        return parsed.version == 6, int(parsed)
    if isinstance(address, bool) or not hasattr(address, "__index__"):
        raise TypeError(f"{name} must be a str, ipaddress object or int, "
                        f"got {type(address).__name__}")
    value = address.__index__()
    if not 0 <= value < (1 << 128):
        raise ValueError(f"{name} must be in [0, 2**128), got {value}")
    return value >= (1 << 32), value


def _deprecated_field(old, new):
    warnings.warn(f"Flow.{old} is deprecated; use Flow.{new}", DeprecationWarning,
                  stacklevel=3)


cdef inline object _field(object v, str name, object top):
    """One kernel field of ``Flow.from_fields``: an int in 0..top (an exact int takes the
    short path; bool is refused)."""
    if type(v) is not int:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        v = v.__index__()
    if not 0 <= v <= top:
        raise ValueError(f"{name} must be in 0..{top}, got {v}")
    return v


def _parse_port(port, name):
    if isinstance(port, bool) or not hasattr(port, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(port).__name__}")
    port = port.__index__()
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} must be in 0..65535, got {port}")
    return port


@cython.embedsignature(False)
cdef class Flow:
    """Flow(protocol, src, dst, src_port=0, dst_port=0, seq=None)
--

One flow: protocol, source/destination address and port, optional TCP ISN.

    ``protocol`` is an IP protocol number (TCP=6, UDP=17, any 0..255) or a
    name (``"tcp"``, ``"udp"``, ``"icmp"``, ...). Addresses are IPv4 or IPv6,
    from ``str``, ``ipaddress`` objects or ints (both the same family).
    ``seq`` is the TCP initial sequence number: AWS NLB hashes it, so each TCP
    connection is placed independently. Immutable and hashable.
    """

    def __init__(self, protocol, src, dst, src_port=0, dst_port=0, seq=None):
        cdef object p = parse_protocol(protocol)
        src_v6, s = parse_address(src, "src")
        dst_v6, d = parse_address(dst, "dst")
        if src_v6 != dst_v6:
            raise ValueError(f"src and dst must be the same address family, got {src!r} and {dst!r}")
        self.protocol = p
        self.src_port = _parse_port(src_port, "src_port")
        self.dst_port = _parse_port(dst_port, "dst_port")
        self.src_hi = s >> 64
        self.src_lo = s & _U64
        self.dst_hi = d >> 64
        self.dst_lo = d & _U64
        self.flags = LB_FLOW_IPV6 if src_v6 else 0
        if seq is not None:
            if p != 6:
                raise ValueError(f"seq: only TCP flows carry an initial sequence number, "
                                 f"protocol is {p}")
            if isinstance(seq, bool) or not hasattr(seq, "__index__"):
                raise TypeError(f"seq must be an int or None, got {type(seq).__name__}")
            seq = seq.__index__()
            if not 0 <= seq <= 0xFFFFFFFF:
                raise ValueError(f"seq must be in 0..2**32-1, got {seq}")
            self.seq = seq
            self.flags |= LB_FLOW_HAS_SEQ

    @staticmethod
    def from_fields(protocol, flags, src_hi, src_lo, dst_hi, dst_lo, src_port, dst_port, seq):
        """The flow whose kernel fields are these numbers, as ``lbcore.Flows`` columns
        and ``FlowTable`` entries hold them: ``flags`` is a mask of ``LB_FLOW_IPV6`` (1)
        and ``LB_FLOW_HAS_SEQ`` (2); an IPv4 address is ``hi = 0`` and ``lo`` < 2**32.
        Each value is range-checked (TypeError/ValueError naming it)."""
        cdef int p = _field(protocol, "protocol", 0xFF)
        cdef int fl = _field(flags, "flags", 3)
        sh, sl = _field(src_hi, "src_hi", _U64), _field(src_lo, "src_lo", _U64)
        dh, dl = _field(dst_hi, "dst_hi", _U64), _field(dst_lo, "dst_lo", _U64)
        if not fl & LB_FLOW_IPV6 and (sh or dh or sl >> 32 or dl >> 32):
            raise ValueError("an IPv4 flow (flags without LB_FLOW_IPV6) has src_hi = dst_hi = 0 "
                             "and src_lo, dst_lo < 2**32")
        return Flow._from_fields(p, fl, sh, sl, dh, dl, _field(src_port, "src_port", 0xFFFF),
                                 _field(dst_port, "dst_port", 0xFFFF),
                                 _field(seq, "seq", 0xFFFFFFFF))

    @staticmethod
    def _from_fields(int proto, int flags, src_hi, src_lo, dst_hi, dst_lo,
                     int sport, int dport, seq):
        """Build from already-validated numbers (this module's fast path; pickles)."""
        cdef Flow f = Flow.__new__(Flow)
        f.protocol = proto
        f.flags = flags
        f.src_hi = src_hi
        f.src_lo = src_lo
        f.dst_hi = dst_hi
        f.dst_lo = dst_lo
        f.src_port = sport
        f.dst_port = dport
        f.seq = seq
        return f

    @property
    def proto(self):
        """Deprecated spelling of :attr:`protocol`."""
        _deprecated_field("proto", "protocol")
        return self.protocol

    @property
    def is_ipv6(self):
        return bool(self.flags & LB_FLOW_IPV6)

    @property
    def src(self):
        return self._address(self.src_hi, self.src_lo)

    @property
    def dst(self):
        return self._address(self.dst_hi, self.dst_lo)

    @property
    def sport(self):
        """Deprecated spelling of :attr:`src_port`."""
        _deprecated_field("sport", "src_port")
        return self.src_port

    @property
    def dport(self):
        """Deprecated spelling of :attr:`dst_port`."""
        _deprecated_field("dport", "dst_port")
        return self.dst_port

    @property
    def sequence(self):
        """The TCP initial sequence number, or None."""
        return self.seq if self.flags & LB_FLOW_HAS_SEQ else None

    def _address(self, hi, lo):
        value = (hi << 64) | lo
        if self.flags & LB_FLOW_IPV6:
            return ipaddress.IPv6Address(value)
        return ipaddress.IPv4Address(value)

    def reversed(self):
        """The same flow seen in the other direction (addresses and ports swapped).

        The sequence number is kept: it names the connection, and lbcore's
        symmetric hash ignores it.
        """
        return Flow._from_fields(self.protocol, self.flags, self.dst_hi, self.dst_lo,
                                 self.src_hi, self.src_lo, self.dst_port, self.src_port, self.seq)

    def _key(self):
        return (self.protocol, self.flags, self.src_hi, self.src_lo, self.dst_hi, self.dst_lo,
                self.src_port, self.dst_port, self.seq)

    def __eq__(self, other):
        if type(other) is not Flow:
            return NotImplemented
        return self._key() == (<Flow>other)._key()

    @property
    def listener_key(self):
        """``(protocol << 16) | dst_port``: protocol and destination port in one int,
        the key an NLB's listener table is looked up by (one read instead of two
        attributes and a tuple per routed flow)."""
        return (<uint32_t>self.protocol << 16) | self.dst_port

    def __hash__(self):
        return hash(self._key())

    def __reduce__(self):
        return (Flow._from_fields, self._key())

    def __repr__(self):
        name = PROTOCOL_NAMES.get(self.protocol, str(self.protocol))
        seq = f", seq={self.seq}" if self.flags & LB_FLOW_HAS_SEQ else ""
        return (f"Flow({name!r}, {str(self.src)!r}, {str(self.dst)!r}, "
                f"{self.src_port}, {self.dst_port}{seq})")
