"""Pure-Python model of lbcore's hash kernel family (src/lbcore/_hash.pxd/.pyx).

Written from the description in docs/hashing.md with Python's unbounded ints:
every 64-bit operation is made explicit with ``& M64``, addresses are plain
128-bit ints and flows are plain tuples, so nothing here shares code or
data layout with the compiled kernel.
"""
from __future__ import annotations

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

FIELDS = {"5-tuple": 0, "3-tuple": 1, "2-tuple": 2}


def splitmix64(seed: int, count: int) -> list[int]:
    """The first ``count`` outputs of SplitMix64 started from ``seed``."""
    out = []
    state = seed
    for _ in range(count):
        state = (state + GOLDEN) & M64
        out.append(mix64(state))
    return out


def mix64(z: int) -> int:
    """SplitMix64's finalizer (Steele, Lea & Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mum(a: int, b: int) -> int:
    """Full 128-bit product of two 64-bit words, folded: low word xor high word."""
    product = a * b
    return (product & M64) ^ (product >> 64)


def hash_keys(seed: int) -> list[int]:
    """The eight secret words of a seed."""
    return splitmix64(seed, 8)


def flow_hash(protocol: int, ipv6: bool, src: int, dst: int, src_port: int,
              dst_port: int, seq: int | None = None, fields: str = "5-tuple",
              symmetric: bool = False, seed: int = 0) -> int:
    """The 64-bit hash of one flow, as lbcore.flow_hash computes it."""
    k = hash_keys(seed)
    code = FIELDS[fields]
    use_seq = seq is not None and code == 0 and not symmetric
    if code != 0:                       # 3-tuple and 2-tuple: no ports
        src_port = dst_port = 0
    if code == 2:                       # 2-tuple: no protocol either
        protocol = 0
    if symmetric and (src, src_port) > (dst, dst_port):
        src, dst = dst, src
        src_port, dst_port = dst_port, src_port
    tag = protocol | (int(ipv6) << 8) | (code << 9) | (int(symmetric) << 11)
    ports = (src_port << 48) | (dst_port << 32) | tag
    if ipv6:
        x = mum((src >> 64) ^ k[0], (src & M64) ^ k[1])
        y = mum((dst >> 64) ^ k[2], (dst & M64) ^ k[3])
        b = y ^ ports
        h = mum(x ^ k[4], b ^ k[5]) ^ x ^ b
    else:
        a = (src << 32) | dst
        h = mum(a ^ k[0], ports ^ k[1]) ^ a ^ ports
    if use_seq:
        h = mum(h ^ k[6], seq ^ k[7]) ^ h ^ seq
    return mix64(h)


def hash_u64(key: int, seed: int = 0) -> int:
    """lbcore.hash_key of an int: two SplitMix64 finalizer rounds under the seed."""
    k0, k1 = splitmix64(seed, 2)
    return mix64((mix64(key ^ k0) + k1) & M64)


def hash_bytes(data: bytes, seed: int = 0) -> int:
    """lbcore.hash_key of bytes: little-endian 8-byte words, zero padded, folded."""
    k0, k1, k2 = splitmix64(seed, 3)
    h = k0
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little")
        h = mum(w ^ k1, h ^ k2) ^ w
    return mix64(h ^ len(data))


def hash_key(key, seed: int = 0) -> int:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key, (bytes, bytearray)):
        return hash_bytes(bytes(key), seed)
    return hash_u64(int(key), seed)
