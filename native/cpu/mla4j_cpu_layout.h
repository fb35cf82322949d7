/*
 * mla4j native CPU kernel: data layouts, conversions and packing shared by every path (AMX, AVX512-BF16,
 * the scalar emulation) and by the CPUID-independent unit test (mla4j_cpu_test.c). Plain C only: each
 * path includes this under its own target options, so the same source is vectorised for that path.
 *
 * Layouts of one worker's chunk of T <= MLA4J_CHUNK tokens (T a multiple of 64, padding tokens zero):
 *   qt  [288 pairs][rp]    uint32: query rows transposed in pairs, qt[p][r] = (Q[r][2p], Q[r][2p+1]) as
 *                          two bf16 (low half first). This is the VNNI "B" operand of S^T = K * Q^T: a
 *                          16x16 dword block of it is one AMX B tile, a 16-dword row one VDPBF16PS operand.
 *   st  [CHUNK][rp]        float: scores S^T[j][r], then probabilities, token-major (rows are lanes).
 *   p   [rp][CHUNK]        bf16: probabilities row-major, the "A" operand of O = P * V (pairs of tokens).
 *   vp  [CHUNK/2][512]     uint32: V in pairs of tokens, vp[jp][d] = (V[2jp][d], V[2jp+1][d]): the VNNI
 *                          "B" operand of P * V.
 *   K itself is not packed: S^T = K * Q^T reads 16-token x 32-dim "A" tiles straight from the cache rows
 *   (bf16), or from a converted copy for fp16 (hi/lo split, below).
 * fp16 inputs are split exactly into two bf16 (hi + lo: an fp16 significand has 11 bits, hi keeps 8, the
 * rest fits lo); products are hi*hi + hi*lo + lo*hi, so fp16 keeps fp16 accuracy on bf16 hardware.
 */
#ifndef MLA4J_CPU_LAYOUT_H
#define MLA4J_CPU_LAYOUT_H

#include <stdint.h>
#include <string.h>

#define MLA4J_DQK 576
#define MLA4J_DV 512
#define MLA4J_BLOCK 64
#define MLA4J_PAIRS (MLA4J_DQK / 2)
/* Tokens per online-softmax step: four cache blocks, so the P*V accumulator round trip (tile store and
 * rescale) is paid once per 256 tokens rather than per block. */
#define MLA4J_CHUNK 256

#define MLA4J_INLINE static inline __attribute__((always_inline))

MLA4J_INLINE float mla4j_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
MLA4J_INLINE uint32_t mla4j_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

MLA4J_INLINE float mla4j_bf2f(uint16_t h) { return mla4j_u2f((uint32_t) h << 16); }

/* fp32 -> bf16, round to nearest even (inputs here are finite). */
MLA4J_INLINE uint16_t mla4j_f2bf(float f) {
    uint32_t u = mla4j_f2u(f);
    return (uint16_t) ((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* fp16 -> fp32, exact, branch-free so loops over it vectorise (subnormals via an exact int->float). */
MLA4J_INLINE float mla4j_h2f(uint16_t h) {
    uint32_t sign = (uint32_t) (h & 0x8000u) << 16, em = h & 0x7FFFu;
    uint32_t norm = (em << 13) + 0x38000000u;            /* rebias 15 -> 127 */
    norm += em >= 0x7C00u ? 0x38000000u : 0u;              /* inf/nan: exponent all ones */
    uint32_t sub = mla4j_f2u((float) em * 5.9604644775390625e-8f); /* em * 2^-24 */
    return mla4j_u2f((em < 0x0400u ? sub : norm) | sign);
}

/* fp32 -> fp16, round to nearest even, overflow to inf, nan stays nan. */
MLA4J_INLINE uint16_t mla4j_f2h(float f) {
    uint32_t u = mla4j_f2u(f), sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    uint32_t r;
    if (a >= 0x7F800000u) r = a > 0x7F800000u ? 0x7E00u : 0x7C00u;
    else if (a >= 0x477FF000u) r = 0x7C00u;                 /* >= 65520 rounds to inf */
    else if (a < 0x38800000u) {                             /* below 2^-14: subnormal or zero */
        /* adding 0.5 puts the ulp at 2^-24, so the FPU's own rounding (nearest even) picks the integer */
        r = mla4j_f2u(mla4j_u2f(a) + 0.5f) - 0x3F000000u;
    } else {
        r = (a + 0xC8000FFFu + ((a >> 13) & 1u)) >> 13;     /* rebias 127 -> 15 (mod 2^32), round */
    }
    return (uint16_t) (r | sign);
}

/* One fp32 as bf16 hi + bf16 lo (hi + lo = x to 16 significant bits; exact for fp16 inputs). */
MLA4J_INLINE void mla4j_split(float x, uint16_t *hi, uint16_t *lo) {
    uint16_t h = mla4j_f2bf(x);
    *hi = h;
    *lo = mla4j_f2bf(x - mla4j_bf2f(h));
}

MLA4J_INLINE uint32_t mla4j_pair(uint16_t lo_half, uint16_t hi_half) {
    return (uint32_t) lo_half | (uint32_t) hi_half << 16;
}

/*
 * qt[p][r] for rows r < rows from row-major 16-bit query rows q (row stride 576), zero for rows
 * rows..rp-1. bf16: the raw pairs (qtl unused, may be NULL). fp16: hi pairs into qt, lo pairs into qtl.
 */
MLA4J_INLINE void mla4j_pack_qt(const uint16_t *q, int rows, int rp, int fp16, uint32_t *qt, uint32_t *qtl) {
    for (int r = 0; r < rp; r++) {
        const uint16_t *src = q + (long) r * MLA4J_DQK;
        for (int p = 0; p < MLA4J_PAIRS; p++) {
            uint32_t h = 0, l = 0;
            if (r < rows) {
                if (!fp16) {
                    h = mla4j_pair(src[2 * p], src[2 * p + 1]);
                } else {
                    uint16_t h0, l0, h1, l1;
                    mla4j_split(mla4j_h2f(src[2 * p]), &h0, &l0);
                    mla4j_split(mla4j_h2f(src[2 * p + 1]), &h1, &l1);
                    h = mla4j_pair(h0, h1);
                    l = mla4j_pair(l0, l1);
                }
            }
            qt[(long) p * rp + r] = h;
            if (fp16) qtl[(long) p * rp + r] = l;
        }
    }
}

/* fp16 token rows (576 wide) to bf16 hi and lo rows: the "K" of the fp16 paths (and its first 512 = V). */
MLA4J_INLINE void mla4j_split_rows(const uint16_t *src, int n, uint16_t *hi, uint16_t *lo) {
    for (long i = 0; i < (long) n * MLA4J_DQK; i++) {
        uint16_t h, l;
        mla4j_split(mla4j_h2f(src[i]), &h, &l);
        hi[i] = h;
        lo[i] = l;
    }
}

/*
 * e4m3 token rows (576 bytes) to bf16 rows, exactly (every e4m3 value is a bf16 value): the 7 magnitude bits
 * placed at fp32's exponent/mantissa position read as the value times 2^-120 (subnormal codes as fp32
 * denormals), one multiply by 2^120, the top half. The NaN codes (S.1111.111) give a bf16 NaN. Branch-free, so
 * the loop vectorises with the path's target options.
 */
MLA4J_INLINE uint16_t mla4j_e4m3_to_bf16(uint32_t c) {
    uint32_t mag = c & 0x7Fu, sign = (c & 0x80u) << 8, u = mag << 20, b;
    float f;
    memcpy(&f, &u, 4);
    f *= 0x1p120f;
    memcpy(&b, &f, 4);
    uint32_t v = (b >> 16) | sign;
    return (uint16_t) (mag == 0x7Fu ? (0x7FC0u | sign) : v);
}

/* n e4m3 bytes to bf16: the portable loop; the real paths use a table lookup instead (W_WIDEN, mla4j_cpu_kernel.c). */
MLA4J_INLINE void mla4j_e4m3_to_bf16_n(const uint8_t *src, long n, uint16_t *dst) {
    for (long i = 0; i < n; i++) dst[i] = mla4j_e4m3_to_bf16(src[i]);
}

/*
 * DeepSeek-V3.2's block-scaled token (656 bytes): 512 e4m3 latent values, 4 fp32 scales (one per 128 of them),
 * 64 bf16 RoPE values. e4m3 times an arbitrary fp32 scale is not a bf16 value, so the rows are widened without
 * their scales (exact, as above, the RoPE copied as it is) and the scales go to sc[group][token] (row stride
 * MLA4J_CHUNK): the kernel applies them per group to the fp32 partial scores and to P (see mla4j_scale_p).
 * This function does the RoPE and the scales; the caller widens the latent bytes (W_WIDEN).
 */
#define MLA4J_DS_TOKEN 656
#define MLA4J_DS_SCALES 512
#define MLA4J_DS_ROPE 528
#define MLA4J_GROUPS 4
#define MLA4J_GROUP 128

MLA4J_INLINE void mla4j_e4m3ds_tails(const uint8_t *src, int n, uint16_t *dst, float *sc) {
    for (int j = 0; j < n; j++) {
        const uint8_t *t = src + (long) j * MLA4J_DS_TOKEN;
        uint16_t *d = dst + (long) j * MLA4J_DQK;
        memcpy(d + MLA4J_DV, t + MLA4J_DS_ROPE, (MLA4J_DQK - MLA4J_DV) * 2);
        for (int g = 0; g < MLA4J_GROUPS; g++) memcpy(sc + (long) g * MLA4J_CHUNK + j, t + MLA4J_DS_SCALES + 4 * g, 4);
    }
}

/*
 * vp[jp][d] = (V[2jp][d], V[2jp+1][d]) for jp < t/2 from token rows tok[j] (16-bit, the first 512 of a
 * 576-wide row); tokens j >= n are zero (their probabilities are zero too, and 0 * garbage could be nan).
 */
MLA4J_INLINE void mla4j_pack_v(const uint16_t *const *tok, int n, int t, uint32_t *vp) {
    for (int jp = 0; jp < t / 2; jp++) {
        int j0 = 2 * jp, j1 = 2 * jp + 1;
        uint32_t *dst = vp + (long) jp * MLA4J_DV;
        if (j1 < n) {
            const uint16_t *a = tok[j0], *b = tok[j1];
            for (int d = 0; d < MLA4J_DV; d++) dst[d] = mla4j_pair(a[d], b[d]);
        } else if (j0 < n) {
            const uint16_t *a = tok[j0];
            for (int d = 0; d < MLA4J_DV; d++) dst[d] = a[d];
        } else {
            memset(dst, 0, MLA4J_DV * sizeof(uint32_t));
        }
    }
}

/*
 * Probabilities st[j][r] (token-major, row stride rp) to row-major bf16 p[r][j] (row stride CHUNK), for
 * j < t, r < rp; fp16 mode also writes the lo parts to pl. In 16x16 blocks so both sides stay in L1.
 */
MLA4J_INLINE void mla4j_transpose_p(const float *st, int rp, int t, int fp16, uint16_t *p, uint16_t *pl) {
    for (int r0 = 0; r0 < rp; r0 += 16) {
        for (int j0 = 0; j0 < t; j0 += 16) {
            for (int r = r0; r < r0 + 16; r++) {
                for (int j = j0; j < j0 + 16; j++) {
                    float x = st[(long) j * rp + r];
                    if (!fp16) {
                        p[(long) r * MLA4J_CHUNK + j] = mla4j_f2bf(x);
                    } else {
                        uint16_t h, l;
                        mla4j_split(x, &h, &l);
                        p[(long) r * MLA4J_CHUNK + j] = h;
                        pl[(long) r * MLA4J_CHUNK + j] = l;
                    }
                }
            }
        }
    }
}

/*
 * The block-scaled format's P: probabilities st[j][r] transposed to fp32 pf[r][j] (row stride CHUNK), then per
 * latent group g pg[g][r][j] = bf16(pf[r][j] * sc[g][j]): V's per-token scale enters P * V through P, rounded to
 * bf16 once, as the plain path rounds P. The scaling pass is contiguous in j, so it vectorises.
 */
MLA4J_INLINE void mla4j_transpose_pf(const float *st, int rp, int t, float *pf) {
    for (int r0 = 0; r0 < rp; r0 += 16)
        for (int j0 = 0; j0 < t; j0 += 16)
            for (int r = r0; r < r0 + 16; r++)
                for (int j = j0; j < j0 + 16; j++) pf[(long) r * MLA4J_CHUNK + j] = st[(long) j * rp + r];
}

MLA4J_INLINE void mla4j_scale_p(const float *pf, int rp, int t, const float *sc, uint16_t *pg) {
    for (int g = 0; g < MLA4J_GROUPS; g++) {
        const float *s = sc + (long) g * MLA4J_CHUNK;
        uint16_t *dst = pg + (long) g * rp * MLA4J_CHUNK;
        for (int r = 0; r < rp; r++)
            for (int j = 0; j < t; j++) dst[(long) r * MLA4J_CHUNK + j] = mla4j_f2bf(pf[(long) r * MLA4J_CHUNK + j] * s[j]);
    }
}

/* exp(x) for x <= 0 only (scores minus their max), ~2 ulp, no libm call so loops vectorise. */
MLA4J_INLINE float mla4j_exp(float x) {
    x = x < -87.0f ? -87.0f : x;                 /* below: flushed by the caller's -inf test or negligible */
    float t = x * 1.44269504088896341f;          /* x / ln 2 = n + f, |f| <= 1/2 */
    float n = (float) (int32_t) (t - 0.5f);      /* t <= 0: truncation of t - 1/2 rounds to nearest */
    float f = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f; /* x - n ln 2, two parts */
    /* e^f on |f| <= ln2/2, Taylor to degree 7: error < 2e-8 relative */
    float y = 1.0f / 5040.0f;
    y = y * f + 1.0f / 720.0f;
    y = y * f + 1.0f / 120.0f;
    y = y * f + 1.0f / 24.0f;
    y = y * f + 1.0f / 6.0f;
    y = y * f + 0.5f;
    y = y * f + 1.0f;
    y = y * f + 1.0f;
    int32_t e = (int32_t) n + 127;
    return y * mla4j_u2f((uint32_t) e << 23);
}

#endif
