"""``lbcore.Flows``: a columnar batch of flows over numpy arrays."""
from __future__ import annotations

import ipaddress
import operator

import numpy as np

from lbcore._flow import Flow, parse_address, parse_protocol
from lbcore._hash import parse_seed

__all__ = ["Flows", "FLOW_IPV6", "FLOW_HAS_SEQ"]

FLOW_IPV6 = 1
FLOW_HAS_SEQ = 2
_U64 = (1 << 64) - 1

_COLUMNS = ("protocol", "flags", "src_hi", "src_lo", "dst_hi", "dst_lo",
            "src_port", "dst_port", "seq")
_DTYPES = {"protocol": np.uint8, "flags": np.uint8, "src_hi": np.uint64, "src_lo": np.uint64,
           "dst_hi": np.uint64, "dst_lo": np.uint64, "src_port": np.uint16,
           "dst_port": np.uint16, "seq": np.uint32}


def _int_array(values, name, lo, hi, n=None):
    """A 1-D integer array with every value in [lo, hi], or a clear error."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n} (all columns "
                         "must have the same length)")
    if arr.dtype.kind not in "ui":
        if arr.dtype == object and all(isinstance(v, int) and not isinstance(v, bool)
                                       for v in arr.tolist()):
            ints = arr.tolist()
            if ints and (min(ints) < lo or max(ints) > hi):
                bad = next(v for v in ints if v < lo or v > hi)
                raise ValueError(f"{name} must be in {lo}..{hi}, got {bad}")
            return np.array(ints, dtype=np.int64 if hi < (1 << 63) else np.uint64)
        if arr.size == 0 and arr.dtype.kind == "f":
            return arr.astype(np.int64)
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size:
        mn, mx = arr.min(), arr.max()
        if mn < lo or mx > hi:
            bad = mn if mn < lo else mx
            raise ValueError(f"{name} must be in {lo}..{hi}, got {int(bad)}")
    return arr


def _address_columns(values, name, n=None):
    """(is_ipv6 bool array, hi uint64 array, lo uint64 array) from array-like addresses.

    Accepted: an integer array (IPv4, values < 2**32), an (n, 2) unsigned array of
    (hi, lo) 128-bit words (IPv6), or a sequence of str / ipaddress objects / ints.
    """
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of addresses, not a single {type(values).__name__}")
    arr = values if isinstance(values, np.ndarray) else None
    if arr is None:
        seq = list(values)
        if seq and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in seq) \
                and all(0 <= int(v) < (1 << 32) for v in seq):
            arr = np.array([int(v) for v in seq], dtype=np.uint64)
        else:
            k = len(seq)
            v6 = np.zeros(k, dtype=bool)
            hi = np.zeros(k, dtype=np.uint64)
            lo = np.zeros(k, dtype=np.uint64)
            for i, v in enumerate(seq):
                is6, value = parse_address(v, f"{name}[{i}]")
                v6[i] = is6
                hi[i] = value >> 64
                lo[i] = value & _U64
            if n is not None and k != n:
                raise ValueError(f"{name} has length {k}, expected {n}")
            return v6, hi, lo
    if arr.ndim == 2 and arr.shape[1] == 2:
        if arr.dtype.kind not in "ui":
            raise TypeError(f"{name} as (n, 2) words must be an integer array, got {arr.dtype}")
        if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
            raise ValueError(f"{name} words must be non-negative")
        if n is not None and arr.shape[0] != n:
            raise ValueError(f"{name} has length {arr.shape[0]}, expected {n}")
        words = arr.astype(np.uint64)
        return np.ones(arr.shape[0], dtype=bool), words[:, 0].copy(), words[:, 1].copy()
    if arr.dtype.kind in "ui" or arr.ndim != 1:
        lo = _int_array(arr, name, 0, (1 << 32) - 1, n).astype(np.uint64)
        return np.zeros(lo.shape[0], dtype=bool), np.zeros(lo.shape[0], dtype=np.uint64), lo
    return _address_columns(arr.tolist(), name, n)


class Flows:
    """A batch of flows as columns: IPv4 and IPv6 may be mixed in one batch.

    Columns (read-only numpy arrays, one entry per flow): ``protocol`` (uint8),
    ``flags`` (uint8: 1 = IPv6, 2 = has a TCP sequence number), ``src_hi``,
    ``src_lo``, ``dst_hi``, ``dst_lo`` (uint64 words of the 128-bit addresses;
    IPv4 in ``*_lo``), ``src_port``, ``dst_port`` (uint16), ``seq`` (uint32).
    """

    __slots__ = _COLUMNS

    def __init__(self, protocol, src, dst, src_port, dst_port, seq=None):
        """Build a batch from per-flow arrays (or sequences).

        ``protocol``: ints 0..255 (or one int / name for every flow). ``src`` /
        ``dst``: an integer array of IPv4 addresses, an (n, 2) array of IPv6
        (hi, lo) words, or a sequence of str / ipaddress objects / ints.
        ``seq``: None, or TCP initial sequence numbers with -1 meaning none.
        """
        src_v6, src_hi, src_lo = _address_columns(src, "src")
        n = src_v6.shape[0]
        dst_v6, dst_hi, dst_lo = _address_columns(dst, "dst", n)
        if not np.array_equal(src_v6, dst_v6):
            i = int(np.flatnonzero(src_v6 != dst_v6)[0])
            raise ValueError(f"src and dst must be the same address family per flow "
                             f"(flow {i} mixes IPv4 and IPv6)")
        proto = _protocol_column(protocol, n)
        sport = (np.full(n, _check_scalar_port(src_port, "src_port"), dtype=np.uint16)
                 if np.ndim(src_port) == 0 else _int_array(src_port, "src_port", 0, 65535, n))
        dport = (np.full(n, _check_scalar_port(dst_port, "dst_port"), dtype=np.uint16)
                 if np.ndim(dst_port) == 0 else _int_array(dst_port, "dst_port", 0, 65535, n))
        flags = src_v6.astype(np.uint8)
        if seq is None:
            sq = np.zeros(n, dtype=np.uint32)
        else:
            s = _int_array(seq, "seq", -1, 0xFFFFFFFF, n)
            has = s >= 0
            if np.any(has & (np.asarray(proto) != 6)):
                i = int(np.flatnonzero(has & (np.asarray(proto) != 6))[0])
                raise ValueError(f"seq: only TCP flows carry a sequence number (flow {i})")
            flags |= has.astype(np.uint8) * FLOW_HAS_SEQ
            sq = np.where(has, s, 0).astype(np.uint32)
        self._set(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, sq)

    def _set(self, *columns):
        for name, col in zip(_COLUMNS, columns):
            col = np.ascontiguousarray(col, dtype=_DTYPES[name])
            col.flags.writeable = False
            object.__setattr__(self, name, col)

    @classmethod
    def _from_columns(cls, *columns):
        self = cls.__new__(cls)
        self._set(*columns)
        return self

    @classmethod
    def from_columns(cls, protocol, flags, src_hi, src_lo, dst_hi, dst_lo, src_port, dst_port,
                     seq):
        """A batch from the nine columns :meth:`columns` returns (e.g. a partition of a
        table stored column by column): integer arrays of one length, checked — each
        value in its column's range, ``flags`` only the bits 1 (IPv6) and 2 (has a
        sequence number), IPv4 addresses below 2**32 in the ``*_lo`` word with the
        ``*_hi`` word 0, a sequence number only on TCP flows (ValueError naming the
        column otherwise)."""
        given = (protocol, flags, src_hi, src_lo, dst_hi, dst_lo, src_port, dst_port, seq)
        n = None
        cols = []
        for name, values in zip(_COLUMNS, given):
            hi = int(np.iinfo(_DTYPES[name]).max)
            arr = _int_array(values, name, 0, hi, n)
            n = arr.shape[0]
            cols.append(arr.astype(_DTYPES[name], copy=False))
        proto, fl, shi, slo, dhi, dlo = cols[:6]
        if np.any(fl & ~np.uint8(FLOW_IPV6 | FLOW_HAS_SEQ)):
            i = int(np.flatnonzero(fl & ~np.uint8(FLOW_IPV6 | FLOW_HAS_SEQ))[0])
            raise ValueError(f"flags: only bits 1 (IPv6) and 2 (has seq) exist, flow {i} "
                             f"has {int(fl[i])}")
        v4 = (fl & FLOW_IPV6) == 0
        big = np.uint64(0xFFFFFFFF)
        for name, h, lo in (("src", shi, slo), ("dst", dhi, dlo)):
            bad = v4 & ((h != 0) | (lo > big))
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"{name}_hi/{name}_lo: flow {i} is IPv4 (flags bit 1 "
                                 f"clear) but its address does not fit in 32 bits")
        bad = ((fl & FLOW_HAS_SEQ) != 0) & (proto != 6)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"flags: only TCP flows carry a sequence number (flow {i})")
        return cls._from_columns(*cols)

    @classmethod
    def from_flows(cls, flows):
        """A batch from a sequence of :class:`lbcore.Flow`."""
        flows = list(flows)
        for i, f in enumerate(flows):
            if not isinstance(f, Flow):
                raise TypeError(f"flows[{i}] must be a lbcore.Flow, got {type(f).__name__}")
        cols = [np.array([getattr(f, a) for f in flows], dtype=_DTYPES[c])
                for c, a in zip(_COLUMNS, ("protocol", "flags", "src_hi", "src_lo", "dst_hi",
                                           "dst_lo", "src_port", "dst_port", "seq"))]
        return cls._from_columns(*cols)

    @classmethod
    def random(cls, n, *, seed=0, ipv6_fraction=0.0, protocols=(6, 17), tcp_seq=True):
        """``n`` random flows for simulations and benchmarks (deterministic for a seed).

        Addresses are uniform over the address space of their family, ports
        uniform, protocol uniform over ``protocols``; TCP flows get a random
        initial sequence number when ``tcp_seq``.
        """
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if isinstance(ipv6_fraction, bool) or not isinstance(ipv6_fraction, (int, float, np.number)):
            raise TypeError(f"ipv6_fraction must be a number, got {type(ipv6_fraction).__name__}")
        if not 0.0 <= float(ipv6_fraction) <= 1.0:
            raise ValueError(f"ipv6_fraction must be in [0, 1], got {ipv6_fraction}")
        protos = np.array([parse_protocol(p) for p in protocols], dtype=np.uint8)
        if protos.size == 0:
            raise ValueError("protocols must not be empty")
        rng = np.random.Generator(np.random.PCG64(parse_seed(seed)))
        v6 = rng.random(n) < ipv6_fraction
        words = rng.integers(0, 1 << 64, size=(4, n), dtype=np.uint64, endpoint=False)
        mask32 = np.uint64(0xFFFFFFFF)
        src_hi = np.where(v6, words[0], 0)
        dst_hi = np.where(v6, words[2], 0)
        src_lo = np.where(v6, words[1], words[1] & mask32)
        dst_lo = np.where(v6, words[3], words[3] & mask32)
        proto = protos[rng.integers(0, protos.size, size=n)]
        ports = rng.integers(0, 65536, size=(2, n), dtype=np.uint32)
        seq = rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32)
        flags = v6.astype(np.uint8)
        if tcp_seq:
            flags |= (proto == 6).astype(np.uint8) * FLOW_HAS_SEQ
        seq = np.where(flags & FLOW_HAS_SEQ, seq, 0)
        return cls._from_columns(proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                                 ports[0], ports[1], seq)

    def columns(self):
        """The nine columns in the order the C kernels take them: ``(protocol, flags,
        src_hi, src_lo, dst_hi, dst_lo, src_port, dst_port, seq)`` — e.g. the first
        arguments of ``lbcore.numba.hash_flows`` (read-only, C-contiguous)."""
        return (self.protocol, self.flags, self.src_hi, self.src_lo, self.dst_hi,
                self.dst_lo, self.src_port, self.dst_port, self.seq)

    # The batch protocol of the compiled kernels: an object with a callable
    # ``__lbcore_columns__`` returning these nine columns is taken as a batch of flows.
    __lbcore_columns__ = columns

    @property
    def is_ipv6(self):
        return (self.flags & FLOW_IPV6).astype(bool)

    def __setattr__(self, name, value):
        raise AttributeError("Flows is immutable")

    def __reduce__(self):
        return (_unpickle_flows, self.columns())

    def __len__(self):
        return self.protocol.shape[0]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            index = np.asarray(index)
            if index.size == 0:
                index = index.astype(np.intp)
        if isinstance(index, slice) or (isinstance(index, np.ndarray) and index.ndim == 1):
            if isinstance(index, np.ndarray) and index.dtype.kind not in "uib":
                raise TypeError(f"Flows index arrays must be integer or bool, got dtype {index.dtype}")
            return Flows._from_columns(*(c[index] for c in self.columns()))
        if isinstance(index, bool) or not hasattr(index, "__index__"):
            raise TypeError(f"Flows indices must be ints, slices or arrays, got {type(index).__name__}")
        i = operator.index(index)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"flow index {i} out of range for {n} flows")
        return Flow.from_fields(*(int(c[i]) for c in self.columns()))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def reversed(self):
        """Every flow seen in the other direction (addresses and ports swapped)."""
        return Flows._from_columns(self.protocol, self.flags, self.dst_hi, self.dst_lo,
                                   self.src_hi, self.src_lo, self.dst_port, self.src_port,
                                   self.seq)

    def __eq__(self, other):
        if not isinstance(other, Flows):
            return NotImplemented
        return all(np.array_equal(a, b) for a, b in zip(self.columns(), other.columns()))

    __hash__ = None

    def __repr__(self):
        n = len(self)
        v6 = int(np.count_nonzero(self.flags & FLOW_IPV6))
        return f"<Flows: {n} flows, {n - v6} IPv4, {v6} IPv6>"


def _protocol_column(protocol, n):
    """uint8 protocol numbers for n flows from one int/name or a per-flow sequence."""
    if isinstance(protocol, str) or np.ndim(protocol) == 0:
        return np.full(n, parse_protocol(protocol), dtype=np.uint8)
    items = protocol.tolist() if isinstance(protocol, np.ndarray) else list(protocol)
    if any(isinstance(p, str) for p in items):
        if len(items) != n:
            raise ValueError(f"protocol has length {len(items)}, expected {n} (all columns "
                             "must have the same length)")
        return np.array([parse_protocol(p, f"protocol[{i}]") for i, p in enumerate(items)],
                        dtype=np.uint8)
    arr = np.asarray(protocol)
    return _int_array(arr, "protocol", 0, 255, n)


def _check_scalar_port(port, name):
    if isinstance(port, bool) or not hasattr(port, "__index__"):
        raise TypeError(f"{name} must be an int or an integer array, got {type(port).__name__}")
    port = operator.index(port)
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} must be in 0..65535, got {port}")
    return port


del ipaddress


def _unpickle_flows(*columns):
    """Flows from the nine columns ``Flows.__reduce__`` saved (lengths checked)."""
    if len(columns) != len(_COLUMNS) or len({np.shape(c) for c in columns}) != 1 \
            or np.ndim(columns[0]) != 1:
        raise ValueError("Flows state: nine one-dimensional columns of one length expected")
    return Flows._from_columns(*columns)
