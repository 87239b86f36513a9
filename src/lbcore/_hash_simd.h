/* lbcore's IPv4 batch flow hash, compiled once per instruction set and chosen at run time.
 *
 * The loop below is lb_flow_hash_keyed (src/lbcore/_hash.pxd) for a run of IPv4 flows,
 * free of data-dependent branches (the sequence-number round is computed for every flow
 * and selected by mask; the symmetric endpoint order is a min/max of one 48-bit
 * (address, port) key). It is compiled three times:
 *
 *   "default": baseline x86-64 (or any other CPU): the 64x64->128 multiply is one
 *              `mul` through unsigned __int128;
 *   "avx2":    target("avx2"): the multiply is written as four 32x32->64 products, which
 *              the compiler vectorises four flows at a time (vpmuludq);
 *   "avx512":  target("avx512f,avx512dq,avx512vl,avx512bw"): the same, eight flows at a
 *              time (and vpmullq for the finaliser's 64-bit products).
 *
 * All three compute the same integer function (exact 64-bit arithmetic: the split
 * multiply produces the same 128-bit product), so every path is bit-identical; the tests
 * force each path this CPU supports and compare with the reference model. The path is
 * chosen once, at import, with __builtin_cpu_supports; the environment variable
 * LBCORE_HASH_ISA ("default", "avx2", "avx512") may ask for a lower one, and
 * lbcore._hash.use_simd_path() switches at run time (benchmarks and tests).
 * One wheel built for baseline x86-64 therefore uses AVX2/AVX-512 where present.
 */
#ifndef LBCORE_HASH_SIMD_H
#define LBCORE_HASH_SIMD_H

#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define LB_SIMD_DEFAULT 0
#define LB_SIMD_AVX2 1
#define LB_SIMD_AVX512 2

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LB_SIMD_X86 1
#else
#define LB_SIMD_X86 0
#endif

#define LB_ALWAYS_INLINE static inline __attribute__((always_inline))

LB_ALWAYS_INLINE uint64_t lb_simd_mum_wide(uint64_t a, uint64_t b) {
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The same fold from four 32x32->64 products (vectorisable). */
LB_ALWAYS_INLINE uint64_t lb_simd_mum_split(uint64_t a, uint64_t b) {
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;     /* < 3 * 2**32 */
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
}

LB_ALWAYS_INLINE uint64_t lb_simd_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* One IPv4 flow (fields: 0 = 5-tuple, 1 = 3-tuple, 2 = 2-tuple, lbcore._types). In the
   loops below fields/symmetric/split are constants, so each combination is its own
   specialised loop; lb_flow_hash_k calls it with run-time fields (a predictable branch). */
LB_ALWAYS_INLINE uint64_t lb_simd_v4_elem(
        uint64_t k0, uint64_t k1, uint64_t k6, uint64_t k7, uint8_t proto, uint8_t flags,
        uint64_t s, uint64_t d, uint64_t sp, uint64_t dp, uint64_t sq,
        int fields, int symmetric, int split) {
    const uint64_t tag = ((uint64_t)fields << 9) | ((uint64_t)(symmetric != 0) << 11);
    uint64_t t, a, b, h;
    s &= 0xFFFFFFFFULL;
    d &= 0xFFFFFFFFULL;
    if (fields != 0) {
        sp = 0;
        dp = 0;
    }
    if (symmetric) {
        uint64_t ks = (s << 16) | sp, kd = (d << 16) | dp;
        uint64_t lo = ks < kd ? ks : kd, hi = ks < kd ? kd : ks;     /* min / max */
        s = lo >> 16;
        sp = lo & 0xFFFF;
        d = hi >> 16;
        dp = hi & 0xFFFF;
    }
    t = fields == 2 ? tag : (tag | proto);
    a = (s << 32) | d;
    b = (((sp << 16) | dp) << 32) | t;
    h = (split ? lb_simd_mum_split(a ^ k0, b ^ k1) : lb_simd_mum_wide(a ^ k0, b ^ k1)) ^ a ^ b;
    if (fields == 0 && !symmetric) {
        uint64_t h2 = (split ? lb_simd_mum_split(h ^ k6, sq ^ k7)
                             : lb_simd_mum_wide(h ^ k6, sq ^ k7)) ^ h ^ sq;
        uint64_t m = 0 - (uint64_t)((flags >> 1) & 1);      /* LB_FLOW_HAS_SEQ */
        h = (h2 & m) | (h & ~m);
    }
    return lb_simd_mix64(h);
}

LB_ALWAYS_INLINE void lb_simd_v4_body(
        const uint64_t* restrict keys, size_t n, const uint8_t* restrict proto,
        const uint8_t* restrict flags, const uint64_t* restrict src_lo,
        const uint64_t* restrict dst_lo, const uint16_t* restrict sport,
        const uint16_t* restrict dport, const uint32_t* restrict seq,
        int fields, int symmetric, int split, uint64_t* restrict out) {
    const uint64_t k0 = keys[0], k1 = keys[1], k6 = keys[6], k7 = keys[7];
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = lb_simd_v4_elem(k0, k1, k6, k7, proto[i], flags[i], src_lo[i], dst_lo[i],
                                 fields == 0 ? sport[i] : 0, fields == 0 ? dport[i] : 0,
                                 fields == 0 && !symmetric ? seq[i] : 0,
                                 fields, symmetric, split);
}

/* One IPv4 flow with run-time fields (0..2) and symmetric: lb_flow_hash_k's IPv4 case. */
static inline uint64_t lb_simd_v4_one(
        uint64_t k0, uint64_t k1, uint64_t k6, uint64_t k7, uint8_t proto, uint8_t flags,
        uint64_t src_lo, uint64_t dst_lo, uint16_t sport, uint16_t dport, uint32_t seq,
        int fields, int symmetric) {
    return lb_simd_v4_elem(k0, k1, k6, k7, proto, flags, src_lo, dst_lo, sport, dport, seq,
                           fields, symmetric != 0, 0);
}

#define LB_SIMD_V4_ARGS \
    const uint64_t* keys, size_t n, const uint8_t* proto, const uint8_t* flags, \
    const uint64_t* src_lo, const uint64_t* dst_lo, const uint16_t* sport, \
    const uint16_t* dport, const uint32_t* seq, int fields, int symmetric, uint64_t* out

/* One function per instruction set; inside, one specialised loop per (fields, symmetric). */
#define LB_SIMD_V4_DEFINE(NAME, ATTR, SPLIT)                                                 \
    ATTR static void NAME(LB_SIMD_V4_ARGS) {                                                  \
        if (symmetric) {                                                                      \
            if (fields == 0)                                                                  \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                0, 1, SPLIT, out);                                            \
            else if (fields == 1)                                                             \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                1, 1, SPLIT, out);                                            \
            else                                                                              \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                2, 1, SPLIT, out);                                            \
        } else {                                                                              \
            if (fields == 0)                                                                  \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                0, 0, SPLIT, out);                                            \
            else if (fields == 1)                                                             \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                1, 0, SPLIT, out);                                            \
            else                                                                              \
                lb_simd_v4_body(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq,     \
                                2, 0, SPLIT, out);                                            \
        }                                                                                     \
    }

LB_SIMD_V4_DEFINE(lb_simd_v4_default, , 0)
#if LB_SIMD_X86
LB_SIMD_V4_DEFINE(lb_simd_v4_avx2, __attribute__((target("avx2"))), 1)
LB_SIMD_V4_DEFINE(lb_simd_v4_avx512,
                  __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,prefer-vector-width=512"))),
                  1)
#endif

typedef void (*lb_simd_v4_fn)(LB_SIMD_V4_ARGS);

/* The active path (written once at import and by use_simd_path, with the GIL held; a
   reader racing a switch sees the old or the new pointer, both correct). */
static lb_simd_v4_fn lb_simd_v4_active = lb_simd_v4_default;
static int lb_simd_v4_level = LB_SIMD_DEFAULT;

/* The best path this CPU supports (LB_SIMD_*). */
static int lb_simd_best(void) {
#if LB_SIMD_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return LB_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return LB_SIMD_AVX2;
#endif
    return LB_SIMD_DEFAULT;
}

/* Select a path: 0 on success, -1 if the CPU lacks it (nothing changes then). */
static int lb_simd_select(int level) {
    if (level < LB_SIMD_DEFAULT || level > lb_simd_best())
        return -1;
#if LB_SIMD_X86
    if (level == LB_SIMD_AVX512)
        lb_simd_v4_active = lb_simd_v4_avx512;
    else if (level == LB_SIMD_AVX2)
        lb_simd_v4_active = lb_simd_v4_avx2;
    else
#endif
        lb_simd_v4_active = lb_simd_v4_default;
    lb_simd_v4_level = level;
    return 0;
}

static inline void lb_simd_v4(LB_SIMD_V4_ARGS) {
    lb_simd_v4_active(keys, n, proto, flags, src_lo, dst_lo, sport, dport, seq, fields,
                      symmetric, out);
}

#endif
