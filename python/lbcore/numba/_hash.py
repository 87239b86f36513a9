"""numba bindings of the hash kernel family (lbcore._hash)."""
import numba as _numba
import numpy as _np
from llvmlite import ir as _ir
from numba import types as _t
from numba.extending import intrinsic as _intrinsic

from lbcore.numba._bind import bind, u8p, u16p, u32p, u64p

__all__ = ["FIELDS_5", "FIELDS_3", "FIELDS_2", "flow_hash", "flow_hash_seeded", "flow_hash_k",
           "hash_keys", "flow_hash_many", "hash_u64", "hash_bytes", "hash_flows"]

FIELDS_5, FIELDS_3, FIELDS_2 = 0, 1, 2

# lb_flow_hash itself: expands the seed's eight key words on every call.
flow_hash_seeded = bind("_hash", "lb_flow_hash", _t.uint64(
    _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint16, _t.uint16, _t.uint32, _t.intc, _t.intc, _t.uint64))
# lb_flow_hash_k: the same hash, given the eight key words.
flow_hash_k = bind("_hash", "lb_flow_hash_k", _t.uint64(
    _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint8, _t.uint8, _t.uint64, _t.uint64, _t.uint64, _t.uint64,
    _t.uint16, _t.uint16, _t.uint32, _t.intc, _t.intc))
flow_hash_many = bind("_hash", "lb_flow_hash_many", _t.void(
    _t.size_t, u8p, u8p, u64p, u64p, u64p, u64p, u16p, u16p, u32p,
    _t.intc, _t.intc, _t.uint64, u64p))
hash_u64 = bind("_hash", "lb_hash_u64", _t.uint64(_t.uint64, _t.uint64))
hash_bytes = bind("_hash", "lb_hash_bytes", _t.uint64(u8p, _t.size_t, _t.uint64))

_GOLDEN = _np.uint64(0x9E3779B97F4A7C15)
_M1 = _np.uint64(0xBF58476D1CE4E5B9)
_M2 = _np.uint64(0x94D049BB133111EB)


@_numba.njit(inline="always", cache=True)
def _mix64(z):
    # lb_mix64: SplitMix64's output function
    z = (z ^ (z >> _np.uint64(30))) * _M1
    z = (z ^ (z >> _np.uint64(27))) * _M2
    return z ^ (z >> _np.uint64(31))


@_numba.njit(inline="always", cache=True)
def _key_word(seed, i):
    # SplitMix64's i-th output (1-based) from state ``seed``: mix64(seed + i * golden)
    return _mix64(_np.uint64(seed) + _np.uint64(i) * _GOLDEN)


@_numba.njit(inline="always", cache=True)
def hash_keys(seed):
    """The eight key words of ``seed`` (lb_hash_keys_init), as a tuple of uint64."""
    return (_key_word(seed, 1), _key_word(seed, 2), _key_word(seed, 3), _key_word(seed, 4),
            _key_word(seed, 5), _key_word(seed, 6), _key_word(seed, 7), _key_word(seed, 8))


_U32 = _np.uint64(0xFFFFFFFF)


@_intrinsic
def _mum(typingctx, a, b):
    """lb_mum: the 64x64 -> 128-bit product folded to 64 bits (low xor high), as one
    LLVM i128 multiply (one ``mul``/``mulx`` on x86-64, as the C kernel compiles to)."""
    if not (isinstance(a, _t.Integer) and isinstance(b, _t.Integer)):
        return None
    sig = _t.uint64(_t.uint64, _t.uint64)

    def codegen(context, builder, signature, args):
        i64, i128 = _ir.IntType(64), _ir.IntType(128)
        x, y = (context.cast(builder, v, t, _t.uint64) for v, t in zip(args, signature.args))
        r = builder.mul(builder.zext(x, i128), builder.zext(y, i128))
        lo = builder.trunc(r, i64)
        hi = builder.trunc(builder.lshr(r, _ir.Constant(i128, 64)), i64)
        return builder.xor(lo, hi)
    return sig, codegen


@_numba.njit(inline="always", cache=True)
def _flow_hash_keyed(k, proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
                     fields, symmetric):
    # lb_flow_hash_keyed (src/lbcore/_hash.pxd) step by step, in numba: inlined into the
    # caller's loop there is no call per flow, and the IPv4 sequence-number step is
    # computed always and selected (no branch on the flow's "has an ISN" flag).
    u = _np.uint64
    fl = u(flags)
    v6 = (fl & u(1)) != u(0)
    use_seq = (fl & u(2)) != u(0) and fields == 0 and symmetric == 0
    pr, sp, dp, sq = u(proto), u(sport), u(dport), u(seq)
    sh, sl, dh, dl = u(src_hi), u(src_lo), u(dst_hi), u(dst_lo)
    if not v6:
        sh = u(0)
        dh = u(0)
        sl &= _U32
        dl &= _U32
    if fields != 0:
        sp = u(0)
        dp = u(0)
    if fields == 2:
        pr = u(0)
    if symmetric != 0:
        if sh > dh or (sh == dh and (sl > dl or (sl == dl and sp > dp))):
            sh, dh = dh, sh
            sl, dl = dl, sl
            sp, dp = dp, sp
    t = pr | ((fl & u(1)) << u(8)) | (u(fields) << u(9)) | (u(symmetric != 0) << u(11))
    b = (((sp << u(16)) | dp) << u(32)) | t
    if v6:
        a = _mum(sh ^ k[0], sl ^ k[1])
        b = _mum(dh ^ k[2], dl ^ k[3]) ^ b
        h = _mum(a ^ k[4], b ^ k[5]) ^ a ^ b
    else:
        a = (sl << u(32)) | dl
        h = _mum(a ^ k[0], b ^ k[1]) ^ a ^ b
    hs = _mum(h ^ k[6], sq ^ k[7]) ^ h ^ sq
    return _mix64(hs if use_seq else h)


@_numba.njit(inline="always", cache=True)
def flow_hash(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq, fields,
              symmetric, seed):
    """``lbcore.flow_hash`` of one flow's fields: the C kernel's arithmetic written in
    numba (bit-identical, tested), inline in the caller.

    The seed's key words are computed here too, as plain arithmetic on ``seed``: in a loop
    over flows with one seed LLVM hoists them out of the loop, so each flow costs its
    hash alone (no call, no key expansion)."""
    return _flow_hash_keyed(hash_keys(seed), proto, flags, src_hi, src_lo, dst_hi, dst_lo,
                            sport, dport, seq, fields, symmetric)


@_numba.njit(cache=True)
def hash_flows(proto, flags, src_hi, src_lo, dst_hi, dst_lo, sport, dport, seq,
               fields, symmetric, seed):
    """Hash a batch given as ``*flows.columns()`` of an ``lbcore.Flows`` (C-contiguous arrays)."""
    n = proto.shape[0]
    out = _np.empty(n, dtype=_np.uint64)
    if n:
        flow_hash_many(n, proto.ctypes, flags.ctypes, src_hi.ctypes, src_lo.ctypes,
                       dst_hi.ctypes, dst_lo.ctypes, sport.ctypes, dport.ctypes, seq.ctypes,
                       fields, symmetric, seed, out.ctypes)
    return out
