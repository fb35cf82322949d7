/*
 * CPUID-independent unit test of the native CPU kernel's layouts (make -C native/cpu test): conversions,
 * the exact fp16 hi/lo split, packing round trips, the exp, and both kernels' source run on emulated
 * instructions against a naive fp64 attention. Where this CPU has AMX or AVX512-BF16 the real path is
 * compared with the emulation too; otherwise that line says it was skipped and why.
 */
#include "mla4j_cpu_kernel.c"

#include <stdio.h>
#include <stdlib.h>

static int failures;
#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            failures++;                                            \
            if (failures < 20) { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
        }                                                          \
    } while (0)

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t) (rng >> 16); }
static float uniform(void) { return (float) (next() & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f; }

static void test_conversions(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t h16 = (uint16_t) h;
        _Float16 hf;
        memcpy(&hf, &h16, 2);
        float f = mla4j_h2f(h16), g = (float) hf;
        int fn = f != f, gn = g != g;
        CHECK(fn == gn && (fn || mla4j_f2u(f) == mla4j_f2u(g)), "h2f(%04x) = %a, want %a", h, f, g);
        if (!fn && (h & 0x7C00) != 0x7C00) {
            uint16_t hi, lo;
            mla4j_split(f, &hi, &lo);
            CHECK(mla4j_bf2f(hi) + mla4j_bf2f(lo) == f, "split(%a) not exact", f);
            CHECK(mla4j_f2h(f) == h, "f2h(h2f(%04x)) = %04x", h, mla4j_f2h(f));
        }
    }
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = next() << 16 ^ next();
        float f = mla4j_u2f(u);
        if (f != f) continue;
        _Float16 want = (_Float16) f;
        uint16_t w;
        memcpy(&w, &want, 2);
        CHECK(mla4j_f2h(f) == w, "f2h(%a) = %04x, want %04x", f, mla4j_f2h(f), w);
        /* bf16: nearest even by definition, checked against a double computation */
        uint16_t b = mla4j_f2bf(f);
        double lo = mla4j_bf2f(b), err = fabs((double) f - lo);
        uint16_t other = (uint16_t) (b + (((double) f > lo) == (lo >= 0) ? 1 : -1));
        if (isfinite(mla4j_bf2f(other)) && isfinite(lo)) CHECK(err <= fabs((double) f - mla4j_bf2f(other)), "f2bf(%a)", f);
    }
}

static void test_exp(void) {
    double worst = 0;
    for (int i = 0; i <= 1000000; i++) {
        float x = -87.0f * (float) i / 1000000.0f;
        double e = exp((double) x), rel = fabs(mla4j_exp(x) - e) / e;
        if (rel > worst) worst = rel;
    }
    CHECK(worst < 4e-7, "mla4j_exp worst relative error %g", worst);
    printf("exp: worst relative error %.2g on [-87, 0]\n", worst);
}

static void test_packing(void) {
    enum { ROWS = 21 };
    int rp = mla4j_rows_padded(ROWS);
    CHECK(rp == 32, "rows padded %d", rp);
    static uint16_t q[ROWS * MLA4J_DQK];
    for (int i = 0; i < ROWS * MLA4J_DQK; i++) q[i] = (uint16_t) next();
    uint32_t *qt = malloc((size_t) MLA4J_PAIRS * rp * 4), *qtl = malloc((size_t) MLA4J_PAIRS * rp * 4);
    mla4j_pack_qt(q, ROWS, rp, 0, qt, NULL);
    for (int r = 0; r < rp; r++)
        for (int p = 0; p < MLA4J_PAIRS; p++) {
            uint32_t x = qt[p * rp + r];
            uint32_t want = r < ROWS ? mla4j_pair(q[r * MLA4J_DQK + 2 * p], q[r * MLA4J_DQK + 2 * p + 1]) : 0;
            CHECK(x == want, "qt[%d][%d]", p, r);
        }
    for (int i = 0; i < ROWS * MLA4J_DQK; i++) q[i] = (uint16_t) (next() & 0x7BFF); /* finite fp16 */
    mla4j_pack_qt(q, ROWS, rp, 1, qt, qtl);
    for (int r = 0; r < ROWS; r++)
        for (int d = 0; d < MLA4J_DQK; d++) {
            uint32_t h = qt[d / 2 * rp + r], l = qtl[d / 2 * rp + r];
            uint16_t hh = (uint16_t) (d & 1 ? h >> 16 : h), ll = (uint16_t) (d & 1 ? l >> 16 : l);
            CHECK(mla4j_bf2f(hh) + mla4j_bf2f(ll) == mla4j_h2f(q[r * MLA4J_DQK + d]), "fp16 qt hi+lo [%d][%d]", r, d);
        }
    /* V pairs: 100 valid tokens of a 128-token chunk, rows out of order as the block table makes them */
    enum { N = 100, T = 128 };
    static uint16_t rowsrc[T][MLA4J_DQK];
    const uint16_t *tok[T];
    for (int j = 0; j < T; j++) {
        for (int d = 0; d < MLA4J_DQK; d++) rowsrc[j][d] = (uint16_t) next();
        tok[j] = rowsrc[(j * 37) % T];
    }
    uint32_t *vp = malloc((size_t) T / 2 * MLA4J_DV * 4);
    mla4j_pack_v(tok, N, T, vp);
    for (int j = 0; j < T; j++)
        for (int d = 0; d < MLA4J_DV; d++) {
            uint32_t x = vp[j / 2 * MLA4J_DV + d];
            uint16_t got = (uint16_t) (j & 1 ? x >> 16 : x);
            CHECK(got == (j < N ? tok[j][d] : 0), "vp token %d dim %d", j, d);
        }
    /* P transpose */
    float *st = malloc((size_t) MLA4J_CHUNK * rp * 4);
    uint16_t *p = malloc((size_t) rp * MLA4J_CHUNK * 2), *pl = malloc((size_t) rp * MLA4J_CHUNK * 2);
    for (int i = 0; i < MLA4J_CHUNK * rp; i++) st[i] = uniform();
    mla4j_transpose_p(st, rp, T, 1, p, pl);
    for (int r = 0; r < rp; r++)
        for (int j = 0; j < T; j++) {
            float x = st[j * rp + r], y = mla4j_bf2f(p[r * MLA4J_CHUNK + j]) + mla4j_bf2f(pl[r * MLA4J_CHUNK + j]);
            CHECK(p[r * MLA4J_CHUNK + j] == mla4j_f2bf(x) && fabsf(x - y) <= fabsf(x) * 0x1p-16f, "p[%d][%d]", r, j);
        }
    free(qt); free(qtl); free(vp); free(st); free(p); free(pl);
}

/* Naive fp64 attention of one sequence (the oracle's math) on the token values kv[token][576] the cache stands for. */
static void naive(int fp16, const uint16_t *q, const double *kv, const int32_t *blocks, int sk, int hq, int sq,
                  int causal, double scale, double *o, double *lse) {
    int rows = hq * sq;
    double *s = malloc((size_t) (sk > 0 ? sk : 1) * sizeof(double));
    for (int r = 0; r < rows; r++) {
        int i = r / hq, vis = causal ? sk - sq + i + 1 : sk;
        vis = vis < 0 ? 0 : vis > sk ? sk : vis;
        double mx = -INFINITY;
        for (int j = 0; j < vis; j++) {
            const double *k = kv + ((long) blocks[j / 64] * 64 + j % 64) * MLA4J_DQK;
            double acc = 0;
            for (int d = 0; d < MLA4J_DQK; d++) {
                double a = fp16 ? mla4j_h2f(q[r * MLA4J_DQK + d]) : mla4j_bf2f(q[r * MLA4J_DQK + d]);
                acc += a * k[d];
            }
            s[j] = acc * scale;
            if (s[j] > mx) mx = s[j];
        }
        double sum = 0;
        for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] = 0;
        for (int j = 0; j < vis; j++) {
            double pj = exp(s[j] - mx);
            sum += pj;
            const double *v = kv + ((long) blocks[j / 64] * 64 + j % 64) * MLA4J_DQK;
            for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] += pj * v[d];
        }
        for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] = vis ? o[(long) r * MLA4J_DV + d] / sum : 0;
        lse[r] = vis ? mx + log(sum) : INFINITY;
    }
    free(s);
}

/* e4m3 by its definition (bias 7, subnormals below exponent 1), not by the kernel's bit trick; the NaN codes excluded. */
static double e4m3_value(uint8_t b) {
    int e = b >> 3 & 15, m = b & 7;
    double v = e == 0 ? m * 0x1p-9 : (1 + m / 8.0) * ldexp(1.0, e - 7);
    return b & 0x80 ? -v : v;
}

/* Every e4m3 code widens to the bf16 of its value exactly; the NaN codes to a NaN. */
static void test_e4m3(void) {
    for (int c = 0; c < 256; c++) {
        float got = mla4j_bf2f(mla4j_e4m3_to_bf16((uint32_t) c));
        if ((c & 0x7F) == 0x7F) CHECK(got != got, "e4m3 %02x: %g, want nan", c, got);
        else CHECK((double) got == e4m3_value((uint8_t) c) && !!signbit(got) == (c >> 7), "e4m3 %02x: %a", c, got);
    }
}

/* A random e4m3 code, never NaN (S.1111.111) */
static uint8_t random_e4m3(void) {
    uint8_t b = (uint8_t) next();
    return (b & 0x7F) == 0x7F ? (uint8_t) (b ^ 1) : b;
}

/* A group's scale as engines write it (amax / 448 of values in [-1, 1)): not a power of two, random per group */
static float random_scale(void) { return (0.25f + 0.75f * fabsf(uniform())) / 448.0f; }

static double worst_ratio[3]; /* per format: the largest rel-L2 / rounding rel-L2 seen, printed */
static const char *FORMATS[] = {"16-bit", "fp8_e4m3", "fp8 block-scaled"};
static const long TOKEN_BYTES[] = {2 * MLA4J_DQK, MLA4J_DQK, MLA4J_DS_TOKEN};

/*
 * A random cache of format fmt (MLA4J_CACHE_*) of tokens, and kv, the values it stands for. Tokens past s_k
 * (the last block's tail) hold NaN codes, NaN scales and NaN RoPE: they must never reach a result.
 */
static void make_cache(int fmt, int fp16, long tokens, long valid_from, long valid_to, float tensor_scale,
                       uint8_t *cache, double *kv) {
    for (long t = 0; t < tokens; t++) {
        uint8_t *row = cache + t * TOKEN_BYTES[fmt];
        double *v = kv + t * MLA4J_DQK;
        int garbage = t >= valid_from && t < valid_to;
        if (fmt == MLA4J_CACHE_16BIT) {
            for (int d = 0; d < MLA4J_DQK; d++) {
                float x = uniform();
                uint16_t h = garbage ? (fp16 ? 0x7E00 : 0x7FC0) : fp16 ? mla4j_f2h(x) : mla4j_f2bf(x);
                memcpy(row + 2 * d, &h, 2);
                v[d] = fp16 ? mla4j_h2f(h) : mla4j_bf2f(h);
            }
        } else if (fmt == MLA4J_CACHE_E4M3) {
            for (int d = 0; d < MLA4J_DQK; d++) {
                row[d] = garbage ? 0x7F : random_e4m3();
                v[d] = e4m3_value(row[d]) * tensor_scale;
            }
        } else {
            for (int gi = 0; gi < MLA4J_GROUPS; gi++) {
                float sc = garbage ? NAN : random_scale();
                memcpy(row + MLA4J_DS_SCALES + 4 * gi, &sc, 4);
                for (int d = gi * MLA4J_GROUP; d < (gi + 1) * MLA4J_GROUP; d++) {
                    row[d] = garbage ? 0xFF : random_e4m3();
                    v[d] = e4m3_value(row[d]) * (double) sc;
                }
            }
            for (int d = MLA4J_DV; d < MLA4J_DQK; d++) {
                uint16_t h = garbage ? 0x7FC0 : mla4j_f2bf(uniform());
                memcpy(row + MLA4J_DS_ROPE + 2 * (d - MLA4J_DV), &h, 2);
                v[d] = mla4j_bf2f(h);
            }
        }
    }
}

static const char *NAMES[] = {"amx", "avx512bf16", "amx-emu", "avx512bf16-emu"};

/* Splits [0,3) [3,end) of one sequence through path, combined, vs naive; returns the max abs error of o. */
static double run_case(int path, int fp16, int fmt, int sk, int hq, int sq, int causal, float *out_o) {
    int rows = hq * sq, nblk = (sk + 63) / 64, numBlocks = nblk + 3;
    long tokens = (long) numBlocks * 64;
    uint16_t *q = malloc((size_t) rows * MLA4J_DQK * 2);
    uint8_t *cache = malloc((size_t) (tokens * TOKEN_BYTES[fmt]));
    double *kv = malloc((size_t) tokens * MLA4J_DQK * sizeof(double));
    uint64_t saved = rng;
    for (int i = 0; i < rows * MLA4J_DQK; i++) { float x = uniform(); q[i] = fp16 ? mla4j_f2h(x) : mla4j_f2bf(x); }
    int32_t blocks[64];
    for (int b = 0; b < nblk; b++) blocks[b] = (b * 5 + 2) % numBlocks == 0 ? numBlocks - 1 : (b * 5 + 2) % numBlocks;
    long from = 0, to = 0; /* the last block's tokens past s_k */
    if (nblk > 0 && sk % 64) { from = (long) blocks[nblk - 1] * 64 + sk % 64; to = (long) blocks[nblk - 1] * 64 + 64; }
    float tensor_scale = fmt == MLA4J_CACHE_E4M3 ? random_scale() : 1.0f;
    make_cache(fmt, fp16, tokens, from, to, tensor_scale, cache, kv);
    rng = saved;
    float scale = 1.0f / sqrtf(576.0f), kscale = scale * tensor_scale; /* fp8_e4m3: its scale in the scores' */
    int64_t bytes = mla4j_cpu_scratch_bytes(rows);
    void *ws = malloc((size_t) bytes);
    int cut = nblk < 3 ? nblk : 3;
    float *po = malloc((size_t) 2 * rows * MLA4J_DV * 4), *pl = malloc((size_t) 2 * rows * 4);
    for (long i = 0; i < 2L * rows * MLA4J_DV; i++) po[i] = NAN;
    int rc1 = mla4j_cpu_split(path, fp16, q, cache, fmt, tensor_scale, blocks, sk, hq, sq, causal, kscale, 0, cut, ws, po, pl);
    int rc2 = mla4j_cpu_split(path, fp16, q, cache, fmt, tensor_scale, blocks, sk, hq, sq, causal, kscale, cut, nblk, ws,
                              po + (long) rows * MLA4J_DV, pl + rows);
    CHECK(rc1 == 0 && rc2 == 0, "%s %s split rc %d %d", NAMES[path], FORMATS[fmt], rc1, rc2);
    uint16_t *out = malloc((size_t) rows * MLA4J_DV * 2);
    float *lse = malloc((size_t) rows * 4);
    mla4j_cpu_combine(fp16, 2, pl, po, hq, sq, out, lse);
    double *ro = malloc((size_t) rows * MLA4J_DV * 8), *rl = malloc((size_t) rows * 8);
    naive(fp16, q, kv, blocks, sk, hq, sq, causal, scale, ro, rl);
    double worst = 0, worstLse = 0, num = 0, den = 0, rnum = 0;
    for (int r = 0; r < rows; r++) {
        for (int d = 0; d < MLA4J_DV; d++) {
            float got = fp16 ? mla4j_h2f(out[r * MLA4J_DV + d]) : mla4j_bf2f(out[r * MLA4J_DV + d]);
            if (out_o) out_o[r * MLA4J_DV + d] = got;
            double want = ro[r * MLA4J_DV + d], e = fabs(got - want);
            if (!(e <= worst)) worst = e; /* nan propagates into worst */
            double rounded = fp16 ? mla4j_h2f(mla4j_f2h((float) want)) : mla4j_bf2f(mla4j_f2bf((float) want));
            num += e * e;
            den += want * want;
            rnum += (rounded - want) * (rounded - want);
        }
        int i = r / hq, h = r % hq;
        float l = lse[h * sq + i];
        if (isinf(rl[r])) CHECK(isinf(l) && l > 0, "%s lse row %d = %g, want +inf", NAMES[path], r, l);
        else { double e = fabs(l - rl[r]); if (!(e <= worstLse)) worstLse = e; }
    }
    CHECK(worstLse < 2e-3, "%s %s lse error %g", NAMES[path], FORMATS[fmt], worstLse);
    /* the conformance rule (tests/.../Report): rel-L2 within 3x that of rounding the fp64 result to the dtype */
    if (den > 0) {
        CHECK(!(sqrt(num / den) > 3 * sqrt(rnum / den)), "%s %s %s sk=%d hq=%d sq=%d: rel-L2 %.3g > 3 x rounding %.3g",
              NAMES[path], FORMATS[fmt], fp16 ? "fp16" : "bf16", sk, hq, sq, sqrt(num / den), sqrt(rnum / den));
        double ratio = sqrt(num / rnum);
        if (ratio > worst_ratio[fmt]) worst_ratio[fmt] = ratio;
    }
    free(q); free(cache); free(kv); free(ws); free(po); free(pl); free(out); free(lse); free(ro); free(rl);
    return worst;
}

static void test_kernels(void) {
    int32_t f = mla4j_cpu_features();
    struct { int sk, hq, sq, causal; } shapes[] = {
        {130, 3, 2, 1}, {257, 16, 1, 0}, {63, 1, 4, 1}, {2, 16, 4, 1}, {0, 5, 1, 0}, {520, 20, 1, 1}};
    /* 16-bit caches with bf16 and fp16 q; the fp8 formats with bf16 q (the kernel refuses them with fp16) */
    struct { int fmt, fp16; } kinds[] = {{MLA4J_CACHE_16BIT, 0}, {MLA4J_CACHE_16BIT, 1}, {MLA4J_CACHE_E4M3, 0},
                                         {MLA4J_CACHE_E4M3_BLOCKSCALE, 0}};
    for (unsigned kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
        int fmt = kinds[kd].fmt, fp16 = kinds[kd].fp16;
        for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int sk = shapes[s].sk, hq = shapes[s].hq, sq = shapes[s].sq, c = shapes[s].causal;
            /* bf16 output rounding is 2^-9 relative, fp16's 2^-12; values here are below 1 */
            double tol = fp16 ? 2e-3 : 1.6e-2;
            size_t n = (size_t) hq * sq * MLA4J_DV;
            float *emu = malloc(n * 4), *real = malloc(n * 4);
            for (int path = MLA4J_PATH_AMX_EMU; path <= MLA4J_PATH_AVX512BF16_EMU; path++) {
                double e = run_case(path, fp16, fmt, sk, hq, sq, c, emu);
                CHECK(e < tol, "%s %s %s sk=%d hq=%d sq=%d causal=%d: max |o - naive| = %g", NAMES[path], FORMATS[fmt],
                      fp16 ? "fp16" : "bf16", sk, hq, sq, c, e);
                int realPath = path - 2;
                int have = realPath == MLA4J_PATH_AMX ? (f & MLA4J_F_AMX) : (f & MLA4J_F_AVX512BF16);
                if (have) {
                    double er = run_case(realPath, fp16, fmt, sk, hq, sq, c, real);
                    CHECK(er < tol, "%s %s: max |o - naive| = %g", NAMES[realPath], FORMATS[fmt], er);
                    double diff = 0;
                    for (size_t i = 0; i < n; i++) diff = fmax(diff, fabs(real[i] - emu[i]));
                    CHECK(diff < tol, "%s %s vs its emulation: %g", NAMES[realPath], FORMATS[fmt], diff);
                }
            }
            free(emu); free(real);
        }
    }
    /* fp16 q with an fp8 cache, and an unknown format: refused, nothing computed */
    static uint8_t none[MLA4J_DS_TOKEN * 64];
    static uint16_t q1[MLA4J_DQK];
    int32_t blk0 = 0;
    float po[MLA4J_DV], pl;
    void *ws = malloc((size_t) mla4j_cpu_scratch_bytes(1));
    for (int fmt = 1; fmt <= 3; fmt++) {
        int rc = mla4j_cpu_split(MLA4J_PATH_AVX512BF16_EMU, fmt < 3, q1, none, fmt, 1.0f, &blk0, 1, 1, 1, 0, 1.0f, 0, 1, ws,
                                 po, &pl);
        CHECK(rc == -2, "fp8 = %d, fp16 = %d: rc %d, want -2", fmt, fmt < 3, rc);
    }
    free(ws);
    printf("kernels: amx-emu, avx512bf16-emu checked against naive fp64 (16-bit bf16/fp16, fp8_e4m3 and block-scaled with "
           "bf16; causal, ragged, s_k = 0, nan past s_k); worst rel-L2 / rounding: 16-bit %.2f, fp8_e4m3 %.2f, "
           "block-scaled %.2f (limit 3)\n", worst_ratio[0], worst_ratio[1], worst_ratio[2]);
    printf("real paths: amx %s, avx512bf16 %s\n",
           f & MLA4J_F_AMX ? "checked" : f & MLA4J_F_AMX_DENIED ? "skipped (CPU has AMX, the OS refused tile data)"
                                                               : "skipped (no AMX-BF16 on this CPU)",
           f & MLA4J_F_AVX512BF16 ? "checked" : "skipped (no AVX512-BF16 on this CPU)");
}

int main(void) {
    test_conversions();
    test_exp();
    test_e4m3();
    test_packing();
    test_kernels();
    if (failures) { printf("mla4j_cpu_test: %d FAILED\n", failures); return 1; }
    printf("mla4j_cpu_test: all passed\n");
    return 0;
}
