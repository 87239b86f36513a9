# cython: language_level=3
"""Flow hashing: the compiled kernels and their Python entry points.

The hash (documented in docs/hashing.md, modelled in tests/reference/hash_ref.py):

* a seed expands to eight secret words k0..k7 (SplitMix64 outputs);
* a flow is normalised for its field set (3-tuple drops ports, 2-tuple also the
  protocol; the sequence number only counts for a 5-tuple, non-symmetric hash)
  and, when symmetric, put in canonical direction;
* IPv4: one 128-bit multiply of (src<<32 | dst) and (ports<<32 | tag) under
  k0, k1; IPv6: two such multiplies (one per address) combined by a third;
  the sequence number, when it counts, by one more;
* SplitMix64's bijective finalizer on the result.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, INT64_MAX
from libc.string cimport memset

import numpy as np

from lbcore._flow cimport Flow


cdef uint64_t lb_flow_hash(
        uint8_t proto, uint8_t flags, uint64_t src_hi, uint64_t src_lo,
        uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport,
        uint32_t seq, int fields, int symmetric, uint64_t seed) noexcept nogil:
    cdef lb_hash_keys keys
    lb_hash_keys_init(&keys, seed)
    return lb_flow_hash_keyed(&keys, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                              sport, dport, seq, fields, symmetric)


cdef void lb_flow_hash_many(
        size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo,
        const uint64_t* dst_hi, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t seed, uint64_t* out) noexcept nogil:
    cdef lb_hash_keys keys
    cdef size_t i
    lb_hash_keys_init(&keys, seed)
    for i in range(n):
        out[i] = lb_flow_hash_keyed(&keys, proto[i], flags[i], src_hi[i], src_lo[i],
                                    dst_hi[i], dst_lo[i], sport[i], dport[i], seq[i],
                                    fields, symmetric)


cdef uint64_t lb_hash_u64(uint64_t key, uint64_t seed) noexcept nogil:
    # Two bijections: distinct keys never collide under one seed.
    cdef uint64_t state = seed
    cdef uint64_t k0 = lb_splitmix64(&state)
    cdef uint64_t k1 = lb_splitmix64(&state)
    return lb_mix64(lb_mix64(key ^ k0) + k1)


cdef uint64_t lb_hash_bytes(const uint8_t* data, size_t n, uint64_t seed) noexcept nogil:
    cdef uint64_t state = seed
    cdef uint64_t k0 = lb_splitmix64(&state)
    cdef uint64_t k1 = lb_splitmix64(&state)
    cdef uint64_t k2 = lb_splitmix64(&state)
    cdef uint64_t h = k0, w
    cdef size_t i = 0, j
    while i < n:
        # little-endian word of the next (up to) 8 bytes, zero padded
        w = 0
        j = 0
        while j < 8 and i + j < n:
            w |= (<uint64_t>data[i + j]) << (8 * j)
            j += 1
        h = lb_mum(w ^ k1, h ^ k2) ^ w
        i += 8
    return lb_mix64(h ^ <uint64_t>n)


# ---------------------------------------------------------------- Python API

cdef dict _FIELDS = {"5-tuple": LB_FIELDS_5, "3-tuple": LB_FIELDS_3, "2-tuple": LB_FIELDS_2}
cdef object _MAX_U64 = (1 << 64) - 1


cdef int _parse_fields(object fields) except -1:
    cdef object code = _FIELDS.get(fields) if isinstance(fields, str) else None
    if code is None:
        raise ValueError(f"fields must be one of '5-tuple', '3-tuple', '2-tuple', got {fields!r}")
    return code


cdef uint64_t _parse_seed(object seed) except? 0xFFFFFFFFFFFFFFFF:
    if type(seed) is int:
        if 0 <= seed <= INT64_MAX:
            return <uint64_t>(<long long>seed)
    elif isinstance(seed, (bool, np.bool_)) or not hasattr(seed, "__index__"):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    seed = seed.__index__()
    if not 0 <= seed <= _MAX_U64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return <uint64_t>seed


def parse_seed(seed):
    """Validate a seed (an integer in [0, 2**64)) and return it as an int."""
    return _parse_seed(seed)


def flow_hash(flow, *, fields="5-tuple", symmetric=False, seed=0):
    """Hash one flow (→ ``int``) or a batch of flows (→ ``numpy.uint64`` array).

    ``fields``: ``"5-tuple"`` (protocol, addresses, ports, and the TCP initial
    sequence number when the flow has one), ``"3-tuple"`` (protocol and
    addresses) or ``"2-tuple"`` (addresses). ``symmetric=True`` gives a flow and
    its reverse the same hash (the sequence number is then ignored: the two
    directions of a TCP connection carry different ones). Different seeds give
    independent hashes.
    """
    cdef int f = _parse_fields(fields)
    cdef uint64_t s = _parse_seed(seed)
    if symmetric is not True and symmetric is not False:
        raise TypeError(f"symmetric must be a bool, got {type(symmetric).__name__}")
    cdef bint sym = symmetric
    cdef Flow fl
    if type(flow) is Flow:
        fl = <Flow>flow
        return lb_flow_hash(fl.proto, fl.flags, fl.src_hi, fl.src_lo, fl.dst_hi, fl.dst_lo,
                            fl.sport, fl.dport, fl.seq, f, sym, s)
    columns = getattr(flow, "_hash_columns", None)
    if columns is None:
        raise TypeError(f"flow must be a lbcore.Flow or lbcore.Flows, got {type(flow).__name__}")
    c = columns()
    return _flow_hash_columns(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], f, sym, s)


cdef object _flow_hash_columns(
        const uint8_t[::1] proto, const uint8_t[::1] flags,
        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
        const uint16_t[::1] sport, const uint16_t[::1] dport, const uint32_t[::1] seq,
        int fields, bint symmetric, uint64_t seed):
    cdef Py_ssize_t n = proto.shape[0]
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    if n:
        with nogil:
            lb_flow_hash_many(n, &proto[0], &flags[0], &src_hi[0], &src_lo[0], &dst_hi[0],
                              &dst_lo[0], &sport[0], &dport[0], &seq[0], fields, symmetric,
                              seed, &o[0])
    return out


def flow_hash_fields(int protocol, src, dst, int src_port, int dst_port, seq=None, *,
                     bint ipv6=False, fields="5-tuple", bint symmetric=False, seed=0):
    """Hash pre-parsed values: addresses as ints (IPv4 < 2**32 unless ``ipv6``).

    The same hash as :func:`flow_hash` of the equivalent :class:`Flow`, without
    building one; for callers that already hold a flow's numbers.
    """
    cdef int f = _parse_fields(fields)
    cdef uint64_t s = _parse_seed(seed)
    if not 0 <= protocol <= 255:
        raise ValueError(f"protocol must be in 0..255, got {protocol}")
    if not 0 <= src_port <= 65535:
        raise ValueError(f"src_port must be in 0..65535, got {src_port}")
    if not 0 <= dst_port <= 65535:
        raise ValueError(f"dst_port must be in 0..65535, got {dst_port}")
    cdef object limit = (1 << 128) if ipv6 else (1 << 32)
    if not (isinstance(src, int) and 0 <= src < limit):
        raise ValueError(f"src must be an int in [0, 2**{128 if ipv6 else 32}), got {src!r}")
    if not (isinstance(dst, int) and 0 <= dst < limit):
        raise ValueError(f"dst must be an int in [0, 2**{128 if ipv6 else 32}), got {dst!r}")
    cdef uint8_t flags = LB_FLOW_IPV6 if ipv6 else 0
    cdef uint32_t sq = 0
    if seq is not None:
        if not (isinstance(seq, int) and 0 <= seq <= 0xFFFFFFFF):
            raise ValueError(f"seq must be an int in 0..2**32-1 or None, got {seq!r}")
        sq = seq
        flags |= LB_FLOW_HAS_SEQ
    return lb_flow_hash(protocol, flags, <uint64_t>(src >> 64), <uint64_t>(src & _MAX_U64),
                        <uint64_t>(dst >> 64), <uint64_t>(dst & _MAX_U64),
                        src_port, dst_port, sq, f, symmetric, s)


def hash_key(key, *, seed=0):
    """Seeded 64-bit hash of a target identity: an int in [0, 2**64), str or bytes.

    Ints go through a bijection (distinct ints never collide under one seed);
    str is hashed as its UTF-8 bytes.
    """
    cdef uint64_t s = _parse_seed(seed)
    cdef const uint8_t[::1] view
    if isinstance(key, str):
        key = (<str>key).encode("utf-8")
    if isinstance(key, (bytes, bytearray)):
        if len(key) == 0:
            return lb_hash_bytes(NULL, 0, s)
        view = key
        return lb_hash_bytes(&view[0], view.shape[0], s)
    if isinstance(key, (bool, np.bool_)) or not hasattr(key, "__index__"):
        raise TypeError(f"key must be an int, str or bytes, got {type(key).__name__}")
    key = key.__index__()
    if not 0 <= key <= _MAX_U64:
        raise ValueError(f"key must be in [0, 2**64), got {key}")
    return lb_hash_u64(<uint64_t>key, s)


def hash_u64_many(keys, *, seed=0):
    """Vectorised :func:`hash_key` for an array of unsigned 64-bit ints."""
    cdef uint64_t s = _parse_seed(seed)
    arr = np.asarray(keys)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"keys must be an integer array, got dtype {arr.dtype}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError("keys must be non-negative")
    cdef const uint64_t[::1] k = np.ascontiguousarray(arr, dtype=np.uint64).ravel()
    out = np.empty(k.shape[0], dtype=np.uint64)
    cdef uint64_t[::1] o = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(k.shape[0]):
            o[i] = lb_hash_u64(k[i], s)
    return out.reshape(arr.shape)
