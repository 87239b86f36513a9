# cython: language_level=3
"""Longest-prefix match: the kernels (see _lpm.pxd for the design) and PrefixTable."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t

cimport cython
from libc.string cimport memchr
from cpython.unicode cimport PyUnicode_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH

cdef extern from "arpa/inet.h" nogil:
    int inet_pton(int af, const char* src, void* dst)

cdef extern from "sys/socket.h":
    int AF_INET
    int AF_INET6

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)

import ipaddress
import socket
import warnings

import numpy as np

cdef object _M64 = (1 << 64) - 1


cdef int32_t lb_lpm_lookup4(int64_t n, const uint32_t* starts, const int32_t* values,
                            uint32_t addr) noexcept nogil:
    # branchless binary search (the comparison selects, it does not branch): the last
    # start <= addr lies in [lo, lo + count)
    cdef int64_t lo = 0, count = n, half
    while count > 1:
        half = count >> 1
        lo = lo + half if starts[lo + half] <= addr else lo
        count -= half
    return values[lo]


cdef int32_t lb_lpm_lookup6(int64_t n, const uint64_t* starts_hi, const uint64_t* starts_lo,
                            const int32_t* values, uint64_t hi, uint64_t lo) noexcept nogil:
    cdef int64_t base = 0, count = n, half, k
    cdef bint le
    while count > 1:
        half = count >> 1
        k = base + half
        le = (starts_hi[k] < hi) | ((starts_hi[k] == hi) & (starts_lo[k] <= lo))
        base = k if le else base
        count -= half
    return values[base]


cdef void lb_lpm_lookup4_many(int64_t m, const uint32_t* addrs, int64_t n,
                              const uint32_t* starts, const int32_t* values,
                              int32_t* out) noexcept nogil:
    cdef int64_t i
    for i in range(m):
        out[i] = lb_lpm_lookup4(n, starts, values, addrs[i])


cdef void lb_lpm_lookup6_many(int64_t m, const uint64_t* hi, const uint64_t* lo, int64_t n,
                              const uint64_t* starts_hi, const uint64_t* starts_lo,
                              const int32_t* values, int32_t* out) noexcept nogil:
    cdef int64_t i
    for i in range(m):
        out[i] = lb_lpm_lookup6(n, starts_hi, starts_lo, values, hi[i], lo[i])


cdef void lb_lpm_lookup_mixed_many(int64_t m, const uint8_t* flags, const uint64_t* hi,
                                   const uint64_t* lo, int64_t n4, const uint32_t* starts4,
                                   const int32_t* values4, int64_t n6,
                                   const uint64_t* starts6_hi, const uint64_t* starts6_lo,
                                   const int32_t* values6, int32_t* out) noexcept nogil:
    cdef int64_t i
    for i in range(m):
        if flags[i] & 1:
            out[i] = lb_lpm_lookup6(n6, starts6_hi, starts6_lo, values6, hi[i], lo[i])
        else:
            out[i] = lb_lpm_lookup4(n4, starts4, values4, <uint32_t>lo[i])


# ---------------------------------------------------------------- building

@cython.wraparound(True)
def _intervals(blocks, bits, default):
    """Elementary intervals of nested-or-disjoint blocks [(start, end, value)], sorted.

    Returns (starts, values): value of the longest block covering [starts[i],
    starts[i+1]) -- ``default`` where none does.
    """
    out_s = [0]
    out_v = [default]
    stack = []          # (end, value) of the open enclosing blocks
    emit = _Emitter(out_s, out_v)
    top = (<object>1) << bits
    # parents before children: by start, then by size (largest first)
    for start, end, value in sorted(blocks, key=lambda b: (b[0], -b[1])):
        while stack and stack[-1][0] < start:
            end_closed = stack.pop()[0]
            emit(end_closed + 1, stack[-1][1] if stack else default)
        emit(start, value)
        stack.append((end, value))
    while stack:
        end_closed = stack.pop()[0]
        if end_closed + 1 < top:
            emit(end_closed + 1, stack[-1][1] if stack else default)
    # merge neighbours with equal values
    starts, values = [out_s[0]], [out_v[0]]
    for s, v in zip(out_s[1:], out_v[1:]):
        if v != values[-1]:
            starts.append(s)
            values.append(v)
    return starts, values


class _Emitter:
    def __init__(self, starts, values):
        self.starts, self.values = starts, values

    @cython.wraparound(True)
    def __call__(self, pos, val):
        if self.starts[-1] == pos:
            self.values[-1] = val
        else:
            self.starts.append(pos)
            self.values.append(val)


cdef inline int _parse_ascii(str address, uint64_t* hi, uint64_t* lo) noexcept:
    # An ASCII str parsed by the C library's inet_pton, the function socket.inet_pton
    # calls: 4 or 6 (the version, *hi/*lo set), or 0 when the fast path does not apply
    # (non-ASCII text, an embedded NUL, or text inet_pton refuses) and the caller falls
    # back to parse_address for its exact answer or error.
    cdef Py_ssize_t n
    cdef const char* c
    cdef unsigned char buf[16]
    cdef int k
    if not PyUnicode_IS_ASCII(address):
        return 0
    n = PyUnicode_GET_LENGTH(address)
    c = <const char*>PyUnicode_DATA(address)     # compact ASCII: NUL-terminated
    if memchr(c, 0, n) != NULL:
        return 0
    if memchr(c, 58, n) == NULL:                  # no ':': IPv4
        if inet_pton(AF_INET, c, buf) != 1:
            return 0
        hi[0] = 0
        lo[0] = (<uint64_t>buf[0] << 24) | (<uint64_t>buf[1] << 16) | \
            (<uint64_t>buf[2] << 8) | buf[3]
        return 4
    if inet_pton(AF_INET6, c, buf) != 1:
        return 0
    hi[0] = lo[0] = 0
    for k in range(8):
        hi[0] = (hi[0] << 8) | buf[k]
        lo[0] = (lo[0] << 8) | buf[8 + k]
    return 6


def parse_address(address):
    """(version, integer) of an IPv4/IPv6 address given as str, bytes or ipaddress object."""
    if isinstance(address, str):
        try:
            if ":" in address:
                return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
        except (OSError, ValueError):
            raise ValueError(f"address {address!r} is not a valid IPv4 or IPv6 address") from None
    if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return address.version, int(address)
    raise TypeError(f"address must be a str or ipaddress address, got {type(address).__name__}")


@cython.embedsignature(False)
cdef class PrefixTable:
    """PrefixTable(prefixes, values=None, default=-1)
--

Longest-prefix match over IPv4 and IPv6 CIDR blocks, built once.

    ``PrefixTable(prefixes, values=None, default=-1)``: ``prefixes`` are CIDR
    strings or ``ipaddress`` networks (host bits must be zero; duplicates are
    rejected), ``values`` one int32 >= 0 per prefix (default: the prefix's
    index). ``lookup(address)`` gives the value of the longest prefix containing
    ``address`` or ``default``; IPv4 and IPv6 prefixes never match each other's
    addresses (an IPv4-mapped IPv6 address is looked up as IPv6).
    """
    cdef readonly object starts4, values4, starts6_hi, starts6_lo, values6
    cdef const uint32_t* _s4
    cdef const int32_t* _v4
    cdef const uint64_t* _s6h
    cdef const uint64_t* _s6l
    cdef const int32_t* _v6
    cdef readonly int64_t n4, n6
    cdef readonly int32_t default
    cdef readonly tuple prefixes
    cdef tuple _vals                # the values as given (for pickling)

    def __cinit__(self, *args, **kwargs):
        # An empty table (every lookup answers -1) before __init__ runs: an object made
        # with __new__ alone, or whose __init__ raised, never reads a NULL array.
        PrefixTable.__init__(self, ())

    def __init__(self, prefixes, values=None, default=-1):
        if isinstance(prefixes, (str, bytes)):
            raise TypeError("prefixes must be an iterable of CIDR blocks, not a single string")
        nets = []
        for p in prefixes:
            if isinstance(p, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                nets.append(p)
            elif isinstance(p, str):
                try:
                    nets.append(ipaddress.ip_network(p, strict=True))
                except ValueError as exc:
                    raise ValueError(f"prefixes: {p!r} is not a valid CIDR block ({exc})") from None
            else:
                raise TypeError(f"prefixes must hold CIDR strings or ipaddress networks, "
                                f"got {type(p).__name__}")
        if values is None:
            vals = list(range(len(nets)))
        else:
            vals = list(values)
            if len(vals) != len(nets):
                raise ValueError(f"values has {len(vals)} items, prefixes has {len(nets)}")
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise TypeError(f"values must be integers, got {type(v).__name__}")
                if not 0 <= v < 2**31:
                    raise ValueError(f"values must be in [0, 2**31), got {v}")
        if isinstance(default, bool) or not isinstance(default, (int, np.integer)) \
                or not -1 <= default < 2**31:
            raise ValueError(f"default must be an int in [-1, 2**31), got {default!r}")
        if len(nets) > 2**30:
            raise ValueError("prefixes: too many prefixes")
        seen = set()
        blocks4, blocks6 = [], []
        for net, v in zip(nets, vals):
            if net in seen:
                raise ValueError(f"prefixes: duplicate CIDR block {net}")
            seen.add(net)
            start = int(net.network_address)
            end = start + net.num_addresses - 1
            (blocks4 if net.version == 4 else blocks6).append((start, end, int(v)))
        self.prefixes = tuple(nets)
        self._vals = tuple(int(v) for v in vals)
        self.default = default
        s4, v4 = _intervals(blocks4, 32, default)
        s6, v6 = _intervals(blocks6, 128, default)
        self.starts4 = np.array(s4, dtype=np.uint32)
        self.values4 = np.array(v4, dtype=np.int32)
        self.starts6_hi = np.array([s >> 64 for s in s6], dtype=np.uint64)
        self.starts6_lo = np.array([s & _M64 for s in s6], dtype=np.uint64)
        self.values6 = np.array(v6, dtype=np.int32)
        for arr in (self.starts4, self.values4, self.starts6_hi, self.starts6_lo, self.values6):
            arr.setflags(write=False)
        cdef const uint32_t[::1] a = self.starts4
        cdef const int32_t[::1] b = self.values4
        cdef const uint64_t[::1] c = self.starts6_hi
        cdef const uint64_t[::1] d = self.starts6_lo
        cdef const int32_t[::1] e = self.values6
        self._s4, self._v4, self._s6h, self._s6l, self._v6 = &a[0], &b[0], &c[0], &d[0], &e[0]
        self.n4 = a.shape[0]
        self.n6 = c.shape[0]

    def __len__(self):
        return len(self.prefixes)

    def __reduce__(self):
        # rebuilt from the prefixes and values as given (the build is deterministic)
        return (type(self), (self.prefixes, self._vals, self.default))

    def lookup(self, address, *, version=None):
        """Value of the longest prefix containing one ``address``, or ``default``.

        ``address`` is a str or an ``ipaddress`` address; with ``version=4`` or
        ``version=6`` it is the address as an int (in [0, 2**32) or [0, 2**128)).
        """
        cdef uint64_t hi, lo
        cdef int v
        if version is None:
            if type(address) is str:                # parsed in C: no int objects
                v = _parse_ascii(<str>address, &hi, &lo)
                if v == 4:
                    return lb_lpm_lookup4(self.n4, self._s4, self._v4, <uint32_t>lo)
                if v == 6:
                    return lb_lpm_lookup6(self.n6, self._s6h, self._s6l, self._v6, hi, lo)
            version, value = parse_address(address)
        elif version == 4:
            value = _int_address(address, 32)
        elif version == 6:
            value = _int_address(address, 128)
        else:
            raise ValueError(f"version must be None, 4 or 6, got {version!r}")
        if version == 4:
            return lb_lpm_lookup4(self.n4, self._s4, self._v4, <uint32_t>value)
        return lb_lpm_lookup6(self.n6, self._s6h, self._s6l, self._v6,
                              <uint64_t>(value >> 64), <uint64_t>(value & _M64))

    def lookup_many(self, addresses, *, version=None, field="src"):
        """``int32`` values for a batch of addresses (one nogil call over the batch):

        * ``lbcore.Flows``: the source (``field="src"``) or destination addresses;
        * ``version=4``: an integer array of IPv4 addresses in [0, 2**32);
        * ``version=6``: a pair ``(hi, lo)`` of uint64 arrays, the halves of IPv6 addresses;
        * a tuple ``(flags, hi, lo)`` of arrays, the address layout of ``lbcore.Flows``
          (``flags & 1`` marks IPv6 = hi:lo, else IPv4 in lo's low 32 bits);
        * otherwise a sequence of str / ``ipaddress`` addresses (ASCII text is parsed
          in C by inet_pton, as ``socket.inet_pton`` does; the lookups are one nogil
          call).
        """
        if field not in ("src", "dst"):
            raise ValueError(f"field must be 'src' or 'dst', got {field!r}")
        if version == 4:
            return self._many4(addresses)
        if version == 6:
            if not isinstance(addresses, tuple) or len(addresses) != 2:
                raise TypeError("addresses must be a (hi, lo) pair of uint64 arrays with "
                                "version=6")
            return self._many6(addresses[0], addresses[1])
        if version is not None:
            raise ValueError(f"version must be None, 4 or 6, got {version!r}")
        if getattr(addresses, "__lbcore_columns__", None) is not None:
            return self._mixed(addresses.flags, getattr(addresses, field + "_hi"),
                               getattr(addresses, field + "_lo"))
        if (isinstance(addresses, tuple) and len(addresses) == 3
                and all(isinstance(a, np.ndarray) for a in addresses)):
            return self._mixed(addresses[0], addresses[1], addresses[2])
        if isinstance(addresses, np.ndarray) and addresses.dtype.kind in "ui":
            raise TypeError("addresses: an integer array needs version=4 (IPv4) or a "
                            "(hi, lo) pair with version=6")
        n = len(addresses)
        flags = np.zeros(n, dtype=np.uint8)
        hi = np.zeros(n, dtype=np.uint64)
        lo = np.zeros(n, dtype=np.uint64)
        cdef uint8_t[::1] fv = flags
        cdef uint64_t[::1] hv = hi
        cdef uint64_t[::1] lv = lo
        cdef uint64_t h, l
        cdef int v
        cdef Py_ssize_t i
        for i, a in enumerate(addresses):
            if i >= n:
                raise ValueError("addresses changed length while being read")
            v = _parse_ascii(<str>a, &h, &l) if type(a) is str else 0
            if v == 0:
                v, value = parse_address(a)
                h, l = (value >> 64, value & _M64) if v == 6 else (0, value)
            fv[i] = v == 6
            hv[i] = h
            lv[i] = l
        return self._mixed(flags, hi, lo)

    def _many4(self, addresses):
        arr = np.asarray(addresses)
        if arr.dtype.kind not in "ui":
            raise TypeError(f"addresses must be an integer array, got {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError("addresses must be one-dimensional")
        if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
            raise ValueError("addresses must be in [0, 2**32)")
        arr = np.ascontiguousarray(arr, dtype=np.uint32)
        out = np.empty(arr.shape[0], dtype=np.int32)
        if arr.shape[0] == 0:
            return out
        cdef const uint32_t[::1] av = arr
        cdef int32_t[::1] ov = out
        with nogil:
            lb_lpm_lookup4_many(av.shape[0], &av[0], self.n4, self._s4, self._v4, &ov[0])
        return out

    def _many6(self, hi, lo):
        h = np.ascontiguousarray(hi, dtype=np.uint64)
        l = np.ascontiguousarray(lo, dtype=np.uint64)
        if h.ndim != 1 or h.shape != l.shape:
            raise ValueError("hi and lo must be one-dimensional and of equal length")
        out = np.empty(h.shape[0], dtype=np.int32)
        if h.shape[0] == 0:
            return out
        cdef const uint64_t[::1] hv = h
        cdef const uint64_t[::1] lv = l
        cdef int32_t[::1] ov = out
        with nogil:
            lb_lpm_lookup6_many(hv.shape[0], &hv[0], &lv[0], self.n6, self._s6h, self._s6l,
                                self._v6, &ov[0])
        return out

    def _mixed(self, flags, hi, lo):
        f = np.ascontiguousarray(flags, dtype=np.uint8)
        h = np.ascontiguousarray(hi, dtype=np.uint64)
        l = np.ascontiguousarray(lo, dtype=np.uint64)
        if f.ndim != 1 or h.shape != f.shape or l.shape != f.shape:
            raise ValueError("flags, hi and lo must be one-dimensional and of equal length")
        out = np.empty(f.shape[0], dtype=np.int32)
        if f.shape[0] == 0:
            return out
        cdef const uint8_t[::1] fv = f
        cdef const uint64_t[::1] hv = h
        cdef const uint64_t[::1] lv = l
        cdef int32_t[::1] ov = out
        with nogil:
            lb_lpm_lookup_mixed_many(fv.shape[0], &fv[0], &hv[0], &lv[0], self.n4, self._s4,
                                     self._v4, self.n6, self._s6h, self._s6l, self._v6, &ov[0])
        return out

    # ---- deprecated spellings (kept for one release)

    def lookup_v4(self, address):
        """Deprecated: ``lookup(address, version=4)``."""
        _deprecated("lookup_v4(address)", "lookup(address, version=4)")
        return self.lookup(address, version=4)

    def lookup_v6(self, address):
        """Deprecated: ``lookup(address, version=6)``."""
        _deprecated("lookup_v6(address)", "lookup(address, version=6)")
        return self.lookup(address, version=6)

    def lookup_many_v4(self, addresses):
        """Deprecated: ``lookup_many(addresses, version=4)``."""
        _deprecated("lookup_many_v4(addresses)", "lookup_many(addresses, version=4)")
        return self._many4(addresses)

    def lookup_many_v6(self, hi, lo):
        """Deprecated: ``lookup_many((hi, lo), version=6)``."""
        _deprecated("lookup_many_v6(hi, lo)", "lookup_many((hi, lo), version=6)")
        return self._many6(hi, lo)

    def lookup_columns(self, flags, hi, lo):
        """Deprecated: ``lookup_many((flags, hi, lo))``."""
        _deprecated("lookup_columns(flags, hi, lo)", "lookup_many((flags, hi, lo))")
        return self._mixed(flags, hi, lo)

    def lookup_flows(self, flows, field="src"):
        """Deprecated: ``lookup_many(flows, field=field)``."""
        _deprecated("lookup_flows(flows, field)", "lookup_many(flows, field=field)")
        if getattr(flows, "__lbcore_columns__", None) is None:
            raise TypeError(f"flows must be lbcore.Flows, got {type(flows).__name__}")
        return self.lookup_many(flows, field=field)


def _deprecated(old, new):
    warnings.warn(f"PrefixTable.{old} is deprecated; use PrefixTable.{new}",
                  DeprecationWarning, stacklevel=3)


def _int_address(address, bits):
    if isinstance(address, bool) or not isinstance(address, (int, np.integer)) \
            or not 0 <= address < (1 << bits):
        raise ValueError(f"address must be an int in [0, 2**{bits}), got {address!r}")
    return int(address)
