/*
 * mla4j native CPU decode kernel (issue 24): MLA decode attention of one split (a range of one sequence's
 * cache blocks, every query row) with AMX-BF16 tiles or AVX512-BF16 dot products, fp32 online softmax,
 * and the LSE combine of a sequence's splits. The Java backend keeps the plan, the split schedule and
 * the worker pool; each worker calls mla4j_cpu_split for its splits (see io.mla4j.cpu.NativeKernel).
 *
 * The .so must load on any x86-64: only this file's path sections are compiled with AVX512/AMX target
 * options (GCC target pragmas), everything else for the baseline, and the Java side runs a path only
 * when mla4j_cpu_features says the CPU and the OS allow it.
 */
#define _GNU_SOURCE
#include "mla4j_cpu_kernel.h"
#include "mla4j_cpu_layout.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUFFIX)

/* ---------------------------------------------------------------- worker scratch ---------------- */

struct mla4j_ws {
    uint32_t *qt, *qtl;      /* [288][rp] */
    uint16_t *kh, *kl;       /* fp16 only: [256][576] split rows */
    float *st;               /* [256][rp] */
    uint16_t *p, *pl;        /* [rp][256] */
    uint32_t *vp, *vpl;      /* [128][512] */
    float *o;                /* [rp][512] */
    float *pf;               /* block-scaled only: [rp][256] fp32 P */
    uint16_t *pg;            /* block-scaled only: [4][rp][256] P times each latent group's scales */
    float *sc;               /* block-scaled only: [4][256] the chunk's scales, group-major */
    float *m, *l, *alpha, *ref, *bm, *rs;
    int32_t *lim;
    float *tmp;              /* [16][64] */
};

static int mla4j_rows_padded(int rows) { return (rows + 15) / 16 * 16; }

/* Carves the scratch (or, with base NULL, sizes it); every array starts on a 64-byte line. */
static size_t mla4j_carve(struct mla4j_ws *w, void *base, int rp) {
    size_t off = 0;
    char *b = (char *) base;
#define TAKE(field, bytes)                                                 \
    do {                                                                   \
        if (w) w->field = (void *) (b + off);                             \
        off += ((size_t) (bytes) + 63) / 64 * 64;                          \
    } while (0)
    TAKE(qt, (size_t) MLA4J_PAIRS * rp * 4);
    TAKE(qtl, (size_t) MLA4J_PAIRS * rp * 4);
    TAKE(kh, (size_t) MLA4J_CHUNK * MLA4J_DQK * 2);
    TAKE(kl, (size_t) MLA4J_CHUNK * MLA4J_DQK * 2);
    TAKE(st, (size_t) MLA4J_CHUNK * rp * 4);
    TAKE(p, (size_t) rp * MLA4J_CHUNK * 2);
    TAKE(pl, (size_t) rp * MLA4J_CHUNK * 2);
    TAKE(vp, (size_t) MLA4J_CHUNK / 2 * MLA4J_DV * 4);
    TAKE(vpl, (size_t) MLA4J_CHUNK / 2 * MLA4J_DV * 4);
    TAKE(o, (size_t) rp * MLA4J_DV * 4);
    TAKE(pf, (size_t) rp * MLA4J_CHUNK * 4);
    TAKE(pg, (size_t) MLA4J_GROUPS * rp * MLA4J_CHUNK * 2);
    TAKE(sc, (size_t) MLA4J_GROUPS * MLA4J_CHUNK * 4);
    TAKE(m, (size_t) rp * 4);
    TAKE(l, (size_t) rp * 4);
    TAKE(alpha, (size_t) rp * 4);
    TAKE(ref, (size_t) rp * 4);
    TAKE(bm, (size_t) rp * 4);
    TAKE(rs, (size_t) rp * 4);
    TAKE(lim, (size_t) rp * 4);
    TAKE(tmp, (size_t) 16 * 64 * 4);
#undef TAKE
    return off;
}

int64_t mla4j_cpu_scratch_bytes(int32_t rows) {
    if (rows < 1) return -1;
    return (int64_t) mla4j_carve(NULL, NULL, mla4j_rows_padded(rows)) + 64; /* + 64: the caller may align */
}

/* 2: the fp8 cache arguments of mla4j_cpu_split; 3: fp8 = 2, the block-scaled format (a library of ABI 2 would read
 * such a cache as 576-byte e4m3 rows, so the Java side must know the library takes it) */
int32_t mla4j_cpu_abi_version(void) { return 3; }

/* O row update shared by the tile paths: dst = dst * alpha + src over n floats. */
#define MLA4J_PV_ROW(dst, src, n, a)                                              \
    do {                                                                          \
        float *d_ = (dst);                                                        \
        const float *s_ = (src);                                                  \
        float a_ = (a);                                                           \
        for (int x_ = 0; x_ < (n); x_++) d_[x_] = d_[x_] * a_ + s_[x_];          \
    } while (0)

/* ------------------------------------------------ emulated instructions (any CPU, for tests) ----- */

/* One AMX tile register: 16 rows of 64 bytes. Per thread, as the real tile state is. */
static __thread unsigned char emu_tmm[8][16][64];

static void emu_tile_zero(int t) { memset(emu_tmm[t], 0, sizeof emu_tmm[t]); }
static void emu_tile_load(int t, const void *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy(emu_tmm[t][r], (const char *) base + r * stride, 64);
}
static void emu_tile_store(int t, void *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy((char *) base + r * stride, emu_tmm[t][r], 64);
}
/* TDPBF16PS as the Intel intrinsics guide states it: C[m][n] += sum_k A[m][2k] B[k][2n] + A[m][2k+1] B[k][2n+1]. */
static void emu_tile_dp(int c, int a, int b) {
    for (int m = 0; m < 16; m++) {
        float acc[16];
        memcpy(acc, emu_tmm[c][m], 64);
        for (int k = 0; k < 16; k++) {
            uint16_t a0, a1;
            memcpy(&a0, &emu_tmm[a][m][4 * k], 2);
            memcpy(&a1, &emu_tmm[a][m][4 * k + 2], 2);
            float x0 = mla4j_bf2f(a0), x1 = mla4j_bf2f(a1);
            for (int n = 0; n < 16; n++) {
                uint16_t b0, b1;
                memcpy(&b0, &emu_tmm[b][k][4 * n], 2);
                memcpy(&b1, &emu_tmm[b][k][4 * n + 2], 2);
                acc[n] += x0 * mla4j_bf2f(b0);
                acc[n] += x1 * mla4j_bf2f(b1);
            }
        }
        memcpy(emu_tmm[c][m], acc, 64);
    }
}

typedef struct { float f[16]; } emu_vf;
typedef struct { uint32_t u[16]; } emu_vi;
static inline emu_vf emu_zero(void) { emu_vf v; memset(&v, 0, sizeof v); return v; }
static inline emu_vi emu_loadi(const uint32_t *p) { emu_vi v; memcpy(&v, p, sizeof v); return v; }
static inline emu_vi emu_bcast(const uint16_t *p) {
    emu_vi v;
    uint32_t x;
    memcpy(&x, p, 4);
    for (int i = 0; i < 16; i++) v.u[i] = x;
    return v;
}
/* VDPBF16PS: lane i += a.bf16[2i+1] b.bf16[2i+1] + a.bf16[2i] b.bf16[2i] (the guide's order). */
static inline emu_vf emu_dp(emu_vf acc, emu_vi a, emu_vi b) {
    for (int i = 0; i < 16; i++) {
        acc.f[i] += mla4j_bf2f((uint16_t) (a.u[i] >> 16)) * mla4j_bf2f((uint16_t) (b.u[i] >> 16));
        acc.f[i] += mla4j_bf2f((uint16_t) a.u[i]) * mla4j_bf2f((uint16_t) b.u[i]);
    }
    return acc;
}
static inline void emu_store(float *p, emu_vf v) { memcpy(p, &v, sizeof v); }
static inline void emu_axpy(float *p, float a, emu_vf v) { for (int i = 0; i < 16; i++) p[i] = p[i] * a + v.f[i]; }
static inline emu_vf emu_fmas(emu_vf acc, emu_vf v, float s) { for (int i = 0; i < 16; i++) acc.f[i] += v.f[i] * s; return acc; }

/* amx-emu: the tile kernels with emulated tiles */
#define W_WIDEN(src, rows, n, sstride, dst, dstride)                                               \
    for (int r_ = 0; r_ < (rows); r_++) mla4j_e4m3_to_bf16_n((src) + r_ * (long) (sstride), n, (dst) + r_ * (long) (dstride))
#define SUFFIX amx_emu
#define T_BEGIN() ((void) 0)
#define T_END() ((void) 0)
#define T_ZERO(t) emu_tile_zero(t)
#define T_LOAD(t, base, stride) emu_tile_load(t, base, stride)
#define T_STORE(t, base, stride) emu_tile_store(t, base, stride)
#define T_DP(c, a, b) emu_tile_dp(c, a, b)
#include "mla4j_cpu_amx.inc"
#include "mla4j_cpu_driver.inc"
#undef SUFFIX
#undef T_BEGIN
#undef T_END
#undef T_ZERO
#undef T_LOAD
#undef T_STORE
#undef T_DP

/* avx512bf16-emu: the vector kernels with emulated vectors */
#define SUFFIX avx512bf16_emu
#define VF emu_vf
#define VI emu_vi
#define V_ZERO() emu_zero()
#define V_LOADI(p) emu_loadi(p)
#define V_BCAST(p) emu_bcast(p)
#define V_DP(acc, a, b) emu_dp(acc, a, b)
#define V_STORE(p, v) emu_store(p, v)
#define V_AXPY(p, a, v) emu_axpy(p, a, v)
#define V_FMAS(acc, v, s) emu_fmas(acc, v, s)
#include "mla4j_cpu_avx512.inc"
#include "mla4j_cpu_driver.inc"
#undef SUFFIX
#undef VF
#undef VI
#undef V_ZERO
#undef V_LOADI
#undef V_BCAST
#undef V_DP
#undef V_STORE
#undef V_AXPY
#undef V_FMAS
#undef W_WIDEN

/* ------------------------------------------------------------------ the real paths (x86-64) ----- */
#if defined(__x86_64__)

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")
/*
 * e4m3 -> bf16 for the real paths (both have AVX512-BW): a 128-entry table of the magnitudes' bf16 codes (the
 * portable function's results, so the same exact values and NaNs) in four registers, two VPERMT2W on the low 6
 * bits, bit 6 picks, the sign ORed in. 32 values per step, against 16 for the vectorised bit arithmetic.
 */
static void mla4j_widen_avx512(const uint8_t *src, int rows, long n, long sstride, uint16_t *dst, long dstride) {
    uint16_t tab[128] __attribute__((aligned(64)));
    for (int c = 0; c < 128; c++) tab[c] = mla4j_e4m3_to_bf16((uint32_t) c);
    __m512i t0 = _mm512_load_si512(tab), t1 = _mm512_load_si512(tab + 32);
    __m512i t2 = _mm512_load_si512(tab + 64), t3 = _mm512_load_si512(tab + 96);
    __m512i bit6 = _mm512_set1_epi16(0x40), sign = _mm512_set1_epi16((short) 0x8000);
    for (int r = 0; r < rows; r++) {
        const uint8_t *s = src + r * sstride;
        uint16_t *d = dst + r * dstride;
        for (long i = 0; i < n; i += 32) {
            __m512i c = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *) (s + i)));
            __m512i lo = _mm512_permutex2var_epi16(t0, c, t1), hi = _mm512_permutex2var_epi16(t2, c, t3);
            __m512i v = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(c, bit6), lo, hi);
            v = _mm512_or_si512(v, _mm512_and_si512(_mm512_slli_epi16(c, 8), sign));
            _mm512_storeu_si512((void *) (d + i), v);
        }
    }
}
#define W_WIDEN(src, rows, n, sstride, dst, dstride) mla4j_widen_avx512(src, rows, n, sstride, dst, dstride)
#define SUFFIX avx512bf16
#define VF __m512
#define VI __m512i
#define V_ZERO() _mm512_setzero_ps()
#define V_LOADI(p) _mm512_loadu_si512((const void *) (p))
static inline __m512i mla4j_bcast32(const uint16_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    return _mm512_set1_epi32((int) x);
}
#define V_BCAST(p) mla4j_bcast32(p)
#define V_DP(acc, a, b) _mm512_dpbf16_ps((acc), (__m512bh) (a), (__m512bh) (b))
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_AXPY(p, a, v) _mm512_storeu_ps((p), _mm512_fmadd_ps(_mm512_loadu_ps(p), _mm512_set1_ps(a), (v)))
#define V_FMAS(acc, v, s) _mm512_fmadd_ps((v), _mm512_set1_ps(s), (acc))
#include "mla4j_cpu_avx512.inc"
#include "mla4j_cpu_driver.inc"
#undef SUFFIX
#undef VF
#undef VI
#undef V_ZERO
#undef V_LOADI
#undef V_BCAST
#undef V_DP
#undef V_STORE
#undef V_AXPY
#undef V_FMAS

/* VDPBF16PS peak: 16 independent accumulators (latency x ports), operands in registers. */
static int64_t dp_loop_avx512bf16(int64_t iterations) {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float) i);
    __m512i a = _mm512_set1_epi32(0x3F803F80), b = _mm512_set1_epi32(0x3C003C00); /* 1.0, ~0.0078 */
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < 16; i++) acc[i] = _mm512_dpbf16_ps(acc[i], (__m512bh) a, (__m512bh) b);
        __asm__ volatile("" : "+v"(a)); /* keeps the loop from being folded */
    }
    __m512 s = acc[0];
    for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void) sink;
    return iterations * 16 * 16 * 4; /* 16 lanes x 2 pairs x (mul + add) per instruction */
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,f16c")
/* Palette 1, all eight tiles 16 rows x 64 bytes (the kernels' only shape). */
struct mla4j_tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};
static void mla4j_tile_config(void) {
    struct mla4j_tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) { c.colsb[i] = 64; c.rows[i] = 16; }
    _tile_loadconfig(&c);
}
#define SUFFIX amx
#define T_BEGIN() mla4j_tile_config() /* tile state is per thread: configured per split, released after */
#define T_END() _tile_release()
#define T_ZERO(t) _tile_zero(t)
#define T_LOAD(t, base, stride) _tile_loadd(t, (const void *) (base), (stride))
#define T_STORE(t, base, stride) _tile_stored(t, (void *) (base), (stride))
#define T_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#include "mla4j_cpu_amx.inc"
#include "mla4j_cpu_driver.inc"
#undef SUFFIX
#undef T_BEGIN
#undef T_END
#undef T_ZERO
#undef T_LOAD
#undef T_STORE
#undef T_DP
#undef W_WIDEN

/* TDPBF16PS peak: four independent C tiles, A and B resident. */
static int64_t dp_loop_amx(int64_t iterations) {
    static const uint16_t one[16 * 32] = {0};
    mla4j_tile_config();
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_loadd(4, one, 64);
    _tile_loadd(5, one, 64);
    for (int64_t it = 0; it < iterations; it++) {
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 5);
        _tile_dpbf16ps(2, 4, 5);
        _tile_dpbf16ps(3, 4, 5);
    }
    float out[16 * 16];
    _tile_stored(0, out, 64);
    _tile_release();
    volatile float sink = out[0];
    (void) sink;
    return iterations * 4 * 16 * 16 * 32 * 2; /* per TDPBF16PS: 16 x 16 outputs x 32 products x 2 */
}
#pragma GCC pop_options

#define XFEATURE_XTILEDATA 18
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t) hi << 32 | lo;
}

static int32_t features_now(void) {
    int32_t f = MLA4J_F_X86;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return f; /* no OSXSAVE: no xgetbv */
    if (__get_cpuid_max(0, NULL) < 7) return f;
    unsigned b7, c7, d7, a71, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    __cpuid_count(7, 1, a71, b71, c71, d71);
    uint64_t x = xcr0();
    int zmm_os = (x & 0xE6) == 0xE6;                   /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
    int avx512 = (b7 >> 16 & 1) && (b7 >> 30 & 1) && (b7 >> 31 & 1) && (b7 >> 17 & 1); /* F, BW, VL, DQ */
    if (zmm_os && avx512 && (a71 >> 5 & 1)) f |= MLA4J_F_AVX512BF16;
    if (zmm_os && avx512 && (d7 >> 23 & 1)) f |= MLA4J_F_AVX512FP16;
    int amx_cpu = (d7 >> 22 & 1) && (d7 >> 24 & 1);
    if (amx_cpu && (f & MLA4J_F_AVX512BF16)) {
        /* Linux enables tile state in XCR0 but traps its first use until the process asks for it
         * (Documentation/arch/x86/xstate.rst): request, then confirm the permission is there. */
        uint64_t perm = 0;
        if ((x & 0x60000) == 0x60000 && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0
            && syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) == 0 && (perm >> XFEATURE_XTILEDATA & 1)) {
            f |= MLA4J_F_AMX;
        } else {
            f |= MLA4J_F_AMX_DENIED;
        }
    }
    return f;
}
#else
static int32_t features_now(void) { return 0; }
#endif

int32_t mla4j_cpu_features(void) {
    static int32_t cached = -1; /* the permission request is process-wide: once is enough */
    int32_t f = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    if (f < 0) {
        f = features_now();
        __atomic_store_n(&cached, f, __ATOMIC_RELEASE);
    }
    return f;
}

static int path_allowed(int32_t path) {
    int32_t f = mla4j_cpu_features();
    switch (path) {
        case MLA4J_PATH_AMX: return (f & MLA4J_F_AMX) != 0;
        case MLA4J_PATH_AVX512BF16: return (f & MLA4J_F_AVX512BF16) != 0;
        case MLA4J_PATH_AMX_EMU:
        case MLA4J_PATH_AVX512BF16_EMU: return 1;
        default: return 0;
    }
}

int32_t mla4j_cpu_split(int32_t path, int32_t fp16, const uint16_t *q, const void *cache, int32_t fp8, float v_scale,
                        const int32_t *blocks, int32_t sk, int32_t hq, int32_t sq, int32_t causal, float scale,
                        int32_t block_begin, int32_t block_end, void *scratch, float *partial_o, float *partial_lse) {
    if (!path_allowed(path)) return -1; /* never execute an instruction the CPU or OS lacks */
    if (fp8 < 0 || fp8 > 2) return -2;
    if (fp8 && fp16) return -2; /* fp8 caches with bf16 q only: the fp16 path's hi/lo split is not written for them */
    if (hq < 1 || sq < 1 || sk < 0 || block_begin < 0 || block_end < block_begin
        || (long) block_end * MLA4J_BLOCK > (long) sk + MLA4J_BLOCK - 1) return -2;
    void *ws = (void *) (((uintptr_t) scratch + 63) & ~(uintptr_t) 63);
    switch (path) {
#if defined(__x86_64__)
        case MLA4J_PATH_AMX:
            return split_amx(fp16, q, cache, fp8, v_scale, blocks, sk, hq, sq, causal, scale, block_begin, block_end, ws, partial_o, partial_lse);
        case MLA4J_PATH_AVX512BF16:
            return split_avx512bf16(fp16, q, cache, fp8, v_scale, blocks, sk, hq, sq, causal, scale, block_begin, block_end, ws, partial_o, partial_lse);
#endif
        case MLA4J_PATH_AMX_EMU:
            return split_amx_emu(fp16, q, cache, fp8, v_scale, blocks, sk, hq, sq, causal, scale, block_begin, block_end, ws, partial_o, partial_lse);
        case MLA4J_PATH_AVX512BF16_EMU:
            return split_avx512bf16_emu(fp16, q, cache, fp8, v_scale, blocks, sk, hq, sq, causal, scale, block_begin, block_end, ws, partial_o, partial_lse);
        default:
            return -1;
    }
}

/*
 * The LSE combine of one sequence (the math of io.mla4j.spi.LseCombine.merge): nsplits partial slots of
 * [rows][512] outputs and [rows] lses, into out [rows][512] in the dtype and lse [h_q][s_q].
 */
void mla4j_cpu_combine(int32_t fp16, int32_t nsplits, const float *partial_lse, const float *partial_o, int32_t hq,
                       int32_t sq, uint16_t *out, float *lse) {
    int rows = hq * sq;
    float row[MLA4J_DV];
    for (int r = 0; r < rows; r++) {
        float max = -INFINITY, total = INFINITY;
        for (int j = 0; j < nsplits; j++) {
            float l = partial_lse[(long) j * rows + r];
            max = l > max ? l : max;
        }
        memset(row, 0, sizeof row);
        if (max != -INFINITY) {
            double sum = 0;
            for (int j = 0; j < nsplits; j++) sum += exp((double) (partial_lse[(long) j * rows + r] - max));
            total = (float) (max + log(sum));
            for (int j = 0; j < nsplits; j++) {
                float l = partial_lse[(long) j * rows + r];
                if (l == -INFINITY) continue;
                float wgt = (float) exp((double) (l - total));
                const float *src = partial_o + ((long) j * rows + r) * MLA4J_DV;
                for (int d = 0; d < MLA4J_DV; d++) row[d] += wgt * src[d];
            }
        }
        uint16_t *dst = out + (long) r * MLA4J_DV;
        if (fp16) for (int d = 0; d < MLA4J_DV; d++) dst[d] = mla4j_f2h(row[d]);
        else for (int d = 0; d < MLA4J_DV; d++) dst[d] = mla4j_f2bf(row[d]);
        int i = r / hq, h = r % hq; /* packed row r = i*h_q + h; lse is [h_q][s_q] */
        lse[(long) h * sq + i] = total;
    }
}

int64_t mla4j_cpu_dp_loop(int32_t path, int64_t iterations) {
    if (!path_allowed(path)) return -1;
#if defined(__x86_64__)
    if (path == MLA4J_PATH_AMX) return dp_loop_amx(iterations);
    if (path == MLA4J_PATH_AVX512BF16) return dp_loop_avx512bf16(iterations);
#endif
    return -1;
}
