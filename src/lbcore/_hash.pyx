# cython: language_level=3, embedsignature=True, embedsignature.format=clinic
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
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_AsLongLongAndOverflow

cimport cython
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


cdef extern from "_hash_simd.h" nogil:
    # The branch-free IPv4 batch loop, compiled per instruction set (baseline, AVX2,
    # AVX-512) and chosen at run time: see the header's comment.
    int LB_SIMD_DEFAULT, LB_SIMD_AVX2, LB_SIMD_AVX512
    int lb_simd_v4_level
    int lb_simd_best() noexcept
    int lb_simd_select(int level) noexcept
    void lb_simd_v4(const uint64_t* keys, size_t n, const uint8_t* proto, const uint8_t* flags,
                    const uint64_t* src_lo, const uint64_t* dst_lo, const uint16_t* sport,
                    const uint16_t* dport, const uint32_t* seq, int fields, int symmetric,
                    uint64_t* out) noexcept
    uint64_t lb_simd_v4_one(uint64_t k0, uint64_t k1, uint64_t k6, uint64_t k7, uint8_t proto,
                            uint8_t flags, uint64_t src_lo, uint64_t dst_lo, uint16_t sport,
                            uint16_t dport, uint32_t seq, int fields, int symmetric) noexcept


cdef uint64_t lb_flow_hash_k(
        uint64_t k0, uint64_t k1, uint64_t k2, uint64_t k3, uint64_t k4, uint64_t k5,
        uint64_t k6, uint64_t k7, uint8_t proto, uint8_t flags, uint64_t src_hi,
        uint64_t src_lo, uint64_t dst_hi, uint64_t dst_lo, uint16_t sport, uint16_t dport,
        uint32_t seq, int fields, int symmetric) noexcept nogil:
    # lb_flow_hash with the seed's eight words given (numba's flow_hash computes them
    # inline, so LLVM hoists them out of the caller's loop). IPv4 with one of the three
    # field sets takes the branch-free single-flow form of the batch loop: no
    # mispredicted "has an ISN" branch on mixed TCP/UDP traffic.
    cdef lb_hash_keys keys
    if not (flags & LB_FLOW_IPV6) and (fields == LB_FIELDS_5 or fields == LB_FIELDS_3
                                       or fields == LB_FIELDS_2):
        return lb_simd_v4_one(k0, k1, k6, k7, proto, flags, src_lo, dst_lo, sport, dport, seq,
                              fields, symmetric)
    keys.k[0] = k0
    keys.k[1] = k1
    keys.k[2] = k2
    keys.k[3] = k3
    keys.k[4] = k4
    keys.k[5] = k5
    keys.k[6] = k6
    keys.k[7] = k7
    return lb_flow_hash_keyed(&keys, proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                              sport, dport, seq, fields, symmetric)


cdef inline void _many_ipv6(
        const lb_hash_keys* keys, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo,
        const uint64_t* dst_hi, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t* out) noexcept nogil:
    """lb_flow_hash_keyed over a run of IPv6 flows; the sequence-number round is
    selected by mask as in the IPv4 loop (_hash_simd.h). Bit-identical to the general loop."""
    cdef size_t i
    cdef uint64_t b, h, h2, m, sh, sl, dh, dl, sp, dp, t, sq, x, y
    cdef uint64_t tag = (<uint64_t>LB_FLOW_IPV6 << 8) | (<uint64_t>fields << 9) | (
        <uint64_t>(symmetric != 0) << 11)
    for i in range(n):
        sh = src_hi[i]
        sl = src_lo[i]
        dh = dst_hi[i]
        dl = dst_lo[i]
        if fields == LB_FIELDS_5:
            sp = sport[i]
            dp = dport[i]
        else:
            sp = 0
            dp = 0
        if symmetric:
            m = 0 - <uint64_t>((sh > dh) | ((sh == dh) & ((sl > dl) | ((sl == dl) & (sp > dp)))))
            t = (sh ^ dh) & m
            sh ^= t
            dh ^= t
            t = (sl ^ dl) & m
            sl ^= t
            dl ^= t
            t = (sp ^ dp) & m
            sp ^= t
            dp ^= t
        t = tag if fields == LB_FIELDS_2 else (tag | proto[i])
        x = lb_mum(sh ^ keys.k[0], sl ^ keys.k[1])
        y = lb_mum(dh ^ keys.k[2], dl ^ keys.k[3])
        b = y ^ ((((sp << 16) | dp) << 32) | t)
        h = lb_mum(x ^ keys.k[4], b ^ keys.k[5]) ^ x ^ b
        if fields == LB_FIELDS_5 and not symmetric:
            sq = seq[i]
            h2 = lb_mum(h ^ keys.k[6], sq ^ keys.k[7]) ^ h ^ sq
            m = 0 - <uint64_t>((flags[i] >> 1) & 1)      # LB_FLOW_HAS_SEQ
            h = (h2 & m) | (h & ~m)
        out[i] = lb_mix64(h)


cdef void _many_ipv6_dispatch(
        const lb_hash_keys* keys, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo,
        const uint64_t* dst_hi, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t* out) noexcept nogil:
    if symmetric != 0:
        _many_ipv6(keys, n, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                   fields, 1, out)
    elif fields == LB_FIELDS_5:
        _many_ipv6(keys, n, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                   LB_FIELDS_5, 0, out)
    else:
        _many_ipv6(keys, n, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                   fields, 0, out)


cdef inline void _many_ipv4_dispatch(
        const lb_hash_keys* keys, size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_lo, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t* out) noexcept nogil:
    # lb_flow_hash_keyed over a run of IPv4 flows (fields one of the three codes), free
    # of data-dependent branches and bit-identical to the general loop, on the
    # instruction set chosen at import (_hash_simd.h).
    lb_simd_v4(keys.k, n, proto, flags, src_lo, dst_lo, sport, dport, seq, fields,
               symmetric != 0, out)


cdef enum:
    _CHUNK = 2048      # flows per IPv4-run check in lb_flow_hash_many

cdef void lb_flow_hash_many(
        size_t n, const uint8_t* proto, const uint8_t* flags,
        const uint64_t* src_hi, const uint64_t* src_lo,
        const uint64_t* dst_hi, const uint64_t* dst_lo,
        const uint16_t* sport, const uint16_t* dport, const uint32_t* seq,
        int fields, int symmetric, uint64_t seed, uint64_t* out) noexcept nogil:
    cdef lb_hash_keys keys
    cdef size_t start, stop, i
    cdef uint8_t any_flags, all_flags
    cdef uint64_t m
    cdef uint64_t tmp[_CHUNK]
    # (a `fields` outside the three codes is hashed by the general loop, exactly
    # as lb_flow_hash would hash it, so scalar and batch agree on any input)
    cdef bint fast = fields == LB_FIELDS_5 or fields == LB_FIELDS_3 or fields == LB_FIELDS_2
    lb_hash_keys_init(&keys, seed)
    start = 0
    while start < n:
        stop = start + _CHUNK if n - start > _CHUNK else n
        # A run of only IPv4 (the common case) or only IPv6 flows takes a
        # branch-free loop; the OR/AND over one byte per flow vectorises and costs
        # ~0.1 ns/flow. Mixed runs take the general loop.
        any_flags = 0
        all_flags = 0xFF
        for i in range(start, stop):
            any_flags |= flags[i]
            all_flags &= flags[i]
        if fast and not (any_flags & LB_FLOW_IPV6):
            _many_ipv4_dispatch(&keys, stop - start, proto + start, flags + start,
                                src_lo + start, dst_lo + start, sport + start, dport + start,
                                seq + start, fields, symmetric, out + start)
        elif fast and (all_flags & LB_FLOW_IPV6):
            _many_ipv6_dispatch(&keys, stop - start, proto + start, flags + start,
                                src_hi + start, src_lo + start, dst_hi + start, dst_lo + start,
                                sport + start, dport + start, seq + start, fields, symmetric,
                                out + start)
        elif fast:
            # Mixed run: hash every flow both ways and keep the right one per flow.
            # Twice the arithmetic, but no unpredictable family branch (~2x faster
            # than the general loop on a 30 % IPv6 mix).
            _many_ipv4_dispatch(&keys, stop - start, proto + start, flags + start,
                                src_lo + start, dst_lo + start, sport + start, dport + start,
                                seq + start, fields, symmetric, out + start)
            _many_ipv6_dispatch(&keys, stop - start, proto + start, flags + start,
                                src_hi + start, src_lo + start, dst_hi + start, dst_lo + start,
                                sport + start, dport + start, seq + start, fields, symmetric,
                                tmp)
            for i in range(start, stop):
                m = 0 - <uint64_t>(flags[i] & LB_FLOW_IPV6)
                out[i] = (tmp[i - start] & m) | (out[i] & ~m)
        else:
            for i in range(start, stop):
                out[i] = lb_flow_hash_keyed(&keys, proto[i], flags[i], src_hi[i], src_lo[i],
                                            dst_hi[i], dst_lo[i], sport[i], dport[i], seq[i],
                                            fields, symmetric)
        start = stop


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

from lbcore._flow import parse_protocol

cdef object _MAX_U64 = (1 << 64) - 1
cdef object _np_bool = np.bool_

# The expanded keys of the last seed used by a scalar call (seed 0 at import),
# so a scalar hash does no key expansion in the common case of a fixed seed.
# Only touched with the GIL held (scalar entry points never release it).
cdef lb_hash_keys _cached_keys
cdef uint64_t _cached_seed = 0
lb_hash_keys_init(&_cached_keys, 0)


cdef inline const lb_hash_keys* _keys_for(uint64_t seed) noexcept:
    global _cached_seed
    if seed != _cached_seed:
        lb_hash_keys_init(&_cached_keys, seed)
        _cached_seed = seed
    return &_cached_keys


# ---- the instruction-set path of the IPv4 batch loop (_hash_simd.h)

SIMD_PATHS = ("default", "avx2", "avx512")


def simd_paths():
    """The instruction-set paths of the IPv4 batch hash this CPU can run, lowest first
    (a subset of ``SIMD_PATHS``; every path gives bit-identical hashes)."""
    return SIMD_PATHS[:lb_simd_best() + 1]


def simd_path():
    """The path the IPv4 batch hash uses now (the best one this CPU has, unless the
    ``LBCORE_HASH_ISA`` environment variable or :func:`use_simd_path` chose a lower one)."""
    return SIMD_PATHS[lb_simd_v4_level]


def use_simd_path(name):
    """Make the IPv4 batch hash use path ``name`` (one of :func:`simd_paths`) and return
    the previous path's name: for tests and benchmarks that compare the paths. Not
    thread-safe against a batch hash running meanwhile in another thread (that batch
    finishes on whichever path it started with, with the same results)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in SIMD_PATHS:
        raise ValueError(f"name must be one of {SIMD_PATHS}, got {name!r}")
    previous = simd_path()
    if lb_simd_select(SIMD_PATHS.index(name)) != 0:
        raise ValueError(f"name: this CPU cannot run the {name!r} path "
                         f"(available: {simd_paths()})")
    return previous


def _init_simd_path():
    import os
    wanted = os.environ.get("LBCORE_HASH_ISA", "")
    best = lb_simd_best()
    level = best
    if wanted in SIMD_PATHS:
        level = min(SIMD_PATHS.index(wanted), best)
    elif wanted:
        import warnings
        warnings.warn(f"LBCORE_HASH_ISA must be one of {SIMD_PATHS}, got {wanted!r}: "
                      f"using {SIMD_PATHS[best]!r}", RuntimeWarning, stacklevel=2)
    lb_simd_select(level)


_init_simd_path()


def _noop(x):
    """Does nothing: the cost of calling a (default, cyfunction) extension ``def``."""
    return x


@cython.binding(False)
def _noop_builtin(x):
    """Does nothing: the cheapest extension call there is (a METH_O builtin)."""
    return x


cdef inline int _parse_fields(object fields) except -1:
    # The interned defaults first (identity), then equality, then the error.
    if fields is "5-tuple":
        return LB_FIELDS_5
    if fields is "3-tuple":
        return LB_FIELDS_3
    if fields is "2-tuple":
        return LB_FIELDS_2
    if not isinstance(fields, str):
        raise TypeError(f"fields must be a str ('5-tuple', '3-tuple' or '2-tuple'), "
                        f"got {type(fields).__name__}")
    if fields == "5-tuple":
        return LB_FIELDS_5
    if fields == "3-tuple":
        return LB_FIELDS_3
    if fields == "2-tuple":
        return LB_FIELDS_2
    raise ValueError(f"fields must be one of '5-tuple', '3-tuple', '2-tuple', got {fields!r}")


cdef inline uint64_t _parse_seed(object seed) except? 0xFFFFFFFFFFFFFFFF:
    cdef int overflow = 0
    cdef long long x
    if type(seed) is int:
        # fast path: an int that fits in int64 (no exception machinery)
        x = PyLong_AsLongLongAndOverflow(seed, &overflow)
        if overflow == 0 and x >= 0:
            return <uint64_t>x
    return _parse_seed_slow(seed)


cdef uint64_t _parse_seed_slow(object seed) except? 0xFFFFFFFFFFFFFFFF:
    if type(seed) is not int:
        if isinstance(seed, (bool, _np_bool)) or not hasattr(seed, "__index__"):
            raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
        seed = seed.__index__()
    try:
        return <uint64_t>seed          # OverflowError when negative or >= 2**64
    except OverflowError:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}") from None


cdef inline int _parse_bool(object value, str name) except -1:
    if value is False:
        return 0
    if value is True:
        return 1
    if isinstance(value, _np_bool):
        return 1 if value else 0
    raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


cdef inline long _parse_uint(object value, long hi, str name) except -1:
    """An int in [0, hi] (ints and integer-likes only; bool is not an int here)."""
    cdef int overflow = 0
    cdef long x
    if type(value) is int:
        x = PyLong_AsLongAndOverflow(value, &overflow)
        if overflow == 0 and 0 <= x <= hi:
            return x
    return _parse_uint_slow(value, hi, name)


cdef long _parse_uint_slow(object value, long hi, str name) except -1:
    cdef int overflow = 0
    cdef long x
    if type(value) is not int:
        if isinstance(value, (bool, _np_bool)) or not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        value = value.__index__()
    x = PyLong_AsLongAndOverflow(value, &overflow)
    if overflow != 0 or x < 0 or x > hi:
        raise ValueError(f"{name} must be in 0..{hi}, got {value}")
    return x


def parse_seed(seed):
    """Validate a seed (an integer in [0, 2**64)) and return it as an int."""
    return _parse_seed(seed)


# binding(False): a plain builtin function, whose vectorcall is ~10 ns cheaper than a
# cyfunction's; these are the per-flow entry points a proxy calls.
@cython.binding(False)
def flow_hash(flow, *, fields="5-tuple", symmetric=False, seed=0, out=None):
    """Hash one flow (→ ``int``) or a batch of flows (→ ``numpy.uint64`` array).

    ``fields``: ``"5-tuple"`` (protocol, addresses, ports, and the TCP initial
    sequence number when the flow has one), ``"3-tuple"`` (protocol and
    addresses) or ``"2-tuple"`` (addresses). ``symmetric=True`` gives a flow and
    its reverse the same hash (the sequence number is then ignored: the two
    directions of a TCP connection carry different ones). Different seeds give
    independent hashes. See docs/hashing.md.

    ``out`` (batches only): a C-contiguous, writable ``uint64`` array of one
    entry per flow to write the hashes into (and return), so a simulation can
    reuse one buffer instead of allocating per call.
    """
    cdef int f = _parse_fields(fields)
    cdef int sym = _parse_bool(symmetric, "symmetric")
    cdef uint64_t s = _parse_seed(seed)
    cdef Flow fl
    if type(flow) is Flow:
        if out is not None:
            raise ValueError("out: only a batch (lbcore.Flows) writes into an output array")
        fl = <Flow>flow
        return lb_flow_hash_keyed(_keys_for(s), fl.protocol, fl.flags, fl.src_hi, fl.src_lo,
                                  fl.dst_hi, fl.dst_lo, fl.src_port, fl.dst_port, fl.seq, f, sym)
    return _flow_hash_batch(flow, f, sym, s, out)


cdef object _flow_hash_batch(object flows, int fields, int symmetric, uint64_t seed,
                             object out):
    # Kept out of flow_hash: the nine memoryview temporaries of the call below
    # would otherwise be zero-initialised (~2 KB) on every scalar call.
    columns = getattr(flows, "__lbcore_columns__", None)
    if columns is None:
        raise TypeError(f"flow must be a lbcore.Flow or lbcore.Flows, got {type(flows).__name__}")
    c = columns()
    cdef Py_ssize_t n = len(c[0])
    if out is None:
        out = np.empty(n, dtype=np.uint64)
    elif not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    elif out.dtype != np.uint64 or out.ndim != 1 or out.shape[0] != n:
        raise ValueError(f"out must be a 1-D uint64 array of length {n}, got "
                         f"{out.dtype} array of shape {out.shape}")
    elif not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("out must be C-contiguous and writeable")
    _flow_hash_columns(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
                       fields, symmetric, seed, out)
    return out


cdef void _flow_hash_columns(
        const uint8_t[::1] proto, const uint8_t[::1] flags,
        const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
        const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
        const uint16_t[::1] sport, const uint16_t[::1] dport, const uint32_t[::1] seq,
        int fields, int symmetric, uint64_t seed, uint64_t[::1] o) except *:
    cdef Py_ssize_t n = proto.shape[0]
    # Flows guarantees equal lengths; a duck-typed batch must not make the kernel
    # read past a shorter column.
    if (flags.shape[0] != n or src_hi.shape[0] != n or src_lo.shape[0] != n
            or dst_hi.shape[0] != n or dst_lo.shape[0] != n or sport.shape[0] != n
            or dport.shape[0] != n or seq.shape[0] != n or o.shape[0] != n):
        raise ValueError("flow: the batch's columns must all have the same length")
    if n:
        with nogil:
            lb_flow_hash_many(n, &proto[0], &flags[0], &src_hi[0], &src_lo[0], &dst_hi[0],
                              &dst_lo[0], &sport[0], &dport[0], &seq[0], fields, symmetric,
                              seed, &o[0])


@cython.binding(False)
def flow_hash_fields(protocol, src, dst, src_port, dst_port, seq=None, *,
                     ipv6=False, fields="5-tuple", symmetric=False, seed=0):
    """Hash pre-parsed values: addresses as ints (IPv4 < 2**32 unless ``ipv6``).

    The same hash as :func:`flow_hash` of the equivalent :class:`Flow`, without
    building one; for callers that already hold a flow's numbers. ``protocol``
    is a number 0..255 or a name; ``seq`` (TCP only) an int 0..2**32-1 or None.
    """
    cdef int f = _parse_fields(fields)
    cdef int sym = _parse_bool(symmetric, "symmetric")
    cdef int v6 = _parse_bool(ipv6, "ipv6")
    cdef uint64_t s = _parse_seed(seed)
    cdef long proto
    if isinstance(protocol, str):
        proto = parse_protocol(protocol)
    else:
        proto = _parse_uint(protocol, 255, "protocol")
    cdef long sport = _parse_uint(src_port, 65535, "src_port")
    cdef long dport = _parse_uint(dst_port, 65535, "dst_port")
    cdef uint64_t src_hi = 0, src_lo, dst_hi = 0, dst_lo
    if v6:
        src_hi, src_lo = _split128(src, "src")
        dst_hi, dst_lo = _split128(dst, "dst")
    else:
        src_lo = _parse_uint(src, 0xFFFFFFFF, "src")
        dst_lo = _parse_uint(dst, 0xFFFFFFFF, "dst")
    cdef uint8_t flags = LB_FLOW_IPV6 if v6 else 0
    cdef uint32_t sq = 0
    if seq is not None:
        sq = _parse_uint(seq, 0xFFFFFFFF, "seq")
        if proto != 6:
            raise ValueError(f"seq: only TCP flows carry an initial sequence number, "
                             f"protocol is {proto}")
        flags |= LB_FLOW_HAS_SEQ
    return lb_flow_hash_keyed(_keys_for(s), <uint8_t>proto, flags, src_hi, src_lo,
                              dst_hi, dst_lo, <uint16_t>sport, <uint16_t>dport, sq, f, sym)


cdef tuple _split128(object value, str name):
    if isinstance(value, (bool, _np_bool)) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = value.__index__()
    if not 0 <= value < (1 << 128):
        raise ValueError(f"{name} must be in [0, 2**128), got {value}")
    return (<uint64_t>(value >> 64), <uint64_t>(value & _MAX_U64))


@cython.binding(False)
def hash_key(key, *, seed=0):
    """Seeded 64-bit hash of a target identity: an int in [0, 2**64), str or bytes.

    Ints go through a bijection (distinct ints never collide under one seed);
    str is hashed as its UTF-8 bytes.
    """
    cdef uint64_t s = _parse_seed(seed)
    cdef const lb_hash_keys* ks
    cdef uint64_t k
    if type(key) is int:
        # the common case first: an exact int, converted by Cython's inlined digit
        # reader (OverflowError when negative or >= 2**64), hashed with the cached keys
        # of the seed (the first two words are lb_hash_u64's k0, k1)
        try:
            k = key
        except OverflowError:
            raise ValueError(f"key must be in [0, 2**64), got {key}") from None
        ks = _keys_for(s)
        return lb_mix64(lb_mix64(k ^ ks.k[0]) + ks.k[1])
    return _hash_key_other(key, s)


cdef object _hash_key_other(object key, uint64_t s):
    cdef const uint8_t[::1] view
    if isinstance(key, str):
        key = (<str>key).encode("utf-8")
    if isinstance(key, bytes):
        return lb_hash_bytes(<const uint8_t*><char*>key, len(<bytes>key), s)
    if isinstance(key, bytearray):
        if len(key) == 0:
            return lb_hash_bytes(NULL, 0, s)
        view = key
        return lb_hash_bytes(&view[0], view.shape[0], s)
    if isinstance(key, (bool, _np_bool)) or not hasattr(key, "__index__"):
        raise TypeError(f"key must be an int, str or bytes, got {type(key).__name__}")
    key = key.__index__()
    cdef uint64_t k
    try:
        k = key
    except OverflowError:
        raise ValueError(f"key must be in [0, 2**64), got {key}") from None
    return lb_hash_u64(k, s)


def hash_u64_many(keys, *, seed=0):
    """Vectorised :func:`hash_key` for an array of non-negative integers."""
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
