"""hash_key(int) and JumpHash.select per call against their peers in one process
(xxhash's xxh3/xxh64 of the key's 8 bytes, jump-consistent-hash's jump.hash), the loop
`lbcore bench`'s per-call tables use, interleaved, min of 7 runs of 200,000 calls.
    python benchmarks/hash_jump_peers.py"""
import timeit

import jump
import xxhash

import lbcore

keys = list(range(200_000))
bkeys = [k.to_bytes(8, "little") for k in keys]
hashes = [lbcore.hash_key(k) for k in keys]
jh = lbcore.JumpHash(list(range(100)))


def loop(fn, ks):
    def run():
        for k in ks:
            fn(k)
    return run


def loop2(fn, ks):
    def run():
        for k in ks:
            fn(k, 100)
    return run


cases = {"lbcore.hash_key(int)": loop(lbcore.hash_key, keys),
         "xxhash.xxh3_64_intdigest(8 bytes)": loop(xxhash.xxh3_64_intdigest, bkeys),
         "xxhash.xxh64_intdigest(8 bytes)": loop(xxhash.xxh64_intdigest, bkeys),
         "lbcore.JumpHash.select(hash)": loop(jh.select, hashes),
         "jump.hash(hash, 100)": loop2(jump.hash, hashes),
         "loop over a no-op lambda": loop(lambda k: None, keys)}
times = {k: [] for k in cases}
for _ in range(7):
    for name, fn in cases.items():
        times[name].append(timeit.timeit(fn, number=1) / len(keys) * 1e9)
for name, v in times.items():
    print(f"{name:36s} min {min(v):6.1f} ns")
