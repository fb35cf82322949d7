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

/* Naive fp64 attention of one sequence (the oracle's math) on the same 16-bit inputs. */
static void naive(int fp16, const uint16_t *q, const uint16_t *cache, const int32_t *blocks, int sk, int hq, int sq,
                  int causal, float scale, double *o, double *lse) {
    int rows = hq * sq;
    double *s = malloc((size_t) (sk > 0 ? sk : 1) * sizeof(double));
    for (int r = 0; r < rows; r++) {
        int i = r / hq, vis = causal ? sk - sq + i + 1 : sk;
        vis = vis < 0 ? 0 : vis > sk ? sk : vis;
        double mx = -INFINITY;
        for (int j = 0; j < vis; j++) {
            const uint16_t *k = cache + ((long) blocks[j / 64] * 64 + j % 64) * MLA4J_DQK;
            double acc = 0;
            for (int d = 0; d < MLA4J_DQK; d++) {
                double a = fp16 ? mla4j_h2f(q[r * MLA4J_DQK + d]) : mla4j_bf2f(q[r * MLA4J_DQK + d]);
                double b = fp16 ? mla4j_h2f(k[d]) : mla4j_bf2f(k[d]);
                acc += a * b;
            }
            s[j] = acc * scale;
            if (s[j] > mx) mx = s[j];
        }
        double sum = 0;
        for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] = 0;
        for (int j = 0; j < vis; j++) {
            double pj = exp(s[j] - mx);
            sum += pj;
            const uint16_t *v = cache + ((long) blocks[j / 64] * 64 + j % 64) * MLA4J_DQK;
            for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] += pj * (fp16 ? mla4j_h2f(v[d]) : mla4j_bf2f(v[d]));
        }
        for (int d = 0; d < MLA4J_DV; d++) o[(long) r * MLA4J_DV + d] = vis ? o[(long) r * MLA4J_DV + d] / sum : 0;
        lse[r] = vis ? mx + log(sum) : INFINITY;
    }
    free(s);
}

static const char *NAMES[] = {"amx", "avx512bf16", "amx-emu", "avx512bf16-emu"};

/* Splits [0,3) [3,end) of one sequence through path, combined, vs naive; returns the max abs error of o. */
static double run_case(int path, int fp16, int sk, int hq, int sq, int causal, float *out_o) {
    int rows = hq * sq, nblk = (sk + 63) / 64, numBlocks = nblk + 3;
    uint16_t *q = malloc((size_t) rows * MLA4J_DQK * 2), *cache = malloc((size_t) numBlocks * 64 * MLA4J_DQK * 2);
    uint64_t saved = rng;
    for (int i = 0; i < rows * MLA4J_DQK; i++) { float x = uniform(); q[i] = fp16 ? mla4j_f2h(x) : mla4j_f2bf(x); }
    for (long i = 0; i < (long) numBlocks * 64 * MLA4J_DQK; i++) {
        float x = uniform();
        cache[i] = fp16 ? mla4j_f2h(x) : mla4j_f2bf(x);
    }
    /* tokens past s_k hold nan: they must never reach a result */
    int32_t blocks[64];
    for (int b = 0; b < nblk; b++) blocks[b] = (b * 5 + 2) % numBlocks == 0 ? numBlocks - 1 : (b * 5 + 2) % numBlocks;
    if (nblk > 0 && sk % 64) {
        uint16_t *last = cache + (long) blocks[nblk - 1] * 64 * MLA4J_DQK;
        for (long i = (long) (sk % 64) * MLA4J_DQK; i < 64L * MLA4J_DQK; i++) last[i] = fp16 ? 0x7E00 : 0x7FC0;
    }
    rng = saved;
    float scale = 1.0f / sqrtf(576.0f);
    int64_t bytes = mla4j_cpu_scratch_bytes(rows);
    void *ws = malloc((size_t) bytes);
    int cut = nblk < 3 ? nblk : 3;
    float *po = malloc((size_t) 2 * rows * MLA4J_DV * 4), *pl = malloc((size_t) 2 * rows * 4);
    for (long i = 0; i < 2L * rows * MLA4J_DV; i++) po[i] = NAN;
    int rc1 = mla4j_cpu_split(path, fp16, q, cache, 0, 1.0f, blocks, sk, hq, sq, causal, scale, 0, cut, ws, po, pl);
    int rc2 = mla4j_cpu_split(path, fp16, q, cache, 0, 1.0f, blocks, sk, hq, sq, causal, scale, cut, nblk, ws,
                              po + (long) rows * MLA4J_DV, pl + rows);
    CHECK(rc1 == 0 && rc2 == 0, "%s split rc %d %d", NAMES[path], rc1, rc2);
    uint16_t *out = malloc((size_t) rows * MLA4J_DV * 2);
    float *lse = malloc((size_t) rows * 4);
    mla4j_cpu_combine(fp16, 2, pl, po, hq, sq, out, lse);
    double *ro = malloc((size_t) rows * MLA4J_DV * 8), *rl = malloc((size_t) rows * 8);
    naive(fp16, q, cache, blocks, sk, hq, sq, causal, scale, ro, rl);
    double worst = 0, worstLse = 0;
    for (int r = 0; r < rows; r++) {
        for (int d = 0; d < MLA4J_DV; d++) {
            float got = fp16 ? mla4j_h2f(out[r * MLA4J_DV + d]) : mla4j_bf2f(out[r * MLA4J_DV + d]);
            if (out_o) out_o[r * MLA4J_DV + d] = got;
            double e = fabs(got - ro[r * MLA4J_DV + d]);
            if (!(e <= worst)) worst = e; /* nan propagates into worst */
        }
        int i = r / hq, h = r % hq;
        float l = lse[h * sq + i];
        if (isinf(rl[r])) CHECK(isinf(l) && l > 0, "%s lse row %d = %g, want +inf", NAMES[path], r, l);
        else { double e = fabs(l - rl[r]); if (!(e <= worstLse)) worstLse = e; }
    }
    CHECK(worstLse < 2e-3, "%s lse error %g", NAMES[path], worstLse);
    free(q); free(cache); free(ws); free(po); free(pl); free(out); free(lse); free(ro); free(rl);
    return worst;
}

static void test_kernels(void) {
    int32_t f = mla4j_cpu_features();
    struct { int sk, hq, sq, causal; } shapes[] = {{130, 3, 2, 1}, {257, 16, 1, 0}, {63, 1, 4, 1}, {2, 16, 4, 1}, {0, 5, 1, 0}, {520, 20, 1, 1}};
    for (int fp16 = 0; fp16 < 2; fp16++) {
        for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int sk = shapes[s].sk, hq = shapes[s].hq, sq = shapes[s].sq, c = shapes[s].causal;
            /* bf16 output rounding is 2^-9 relative, fp16's 2^-12; values here are below 1 */
            double tol = fp16 ? 2e-3 : 1.6e-2;
            size_t n = (size_t) hq * sq * MLA4J_DV;
            float *emu = malloc(n * 4), *real = malloc(n * 4);
            for (int path = MLA4J_PATH_AMX_EMU; path <= MLA4J_PATH_AVX512BF16_EMU; path++) {
                double e = run_case(path, fp16, sk, hq, sq, c, emu);
                CHECK(e < tol, "%s %s sk=%d hq=%d sq=%d causal=%d: max |o - naive| = %g", NAMES[path], fp16 ? "fp16" : "bf16", sk, hq, sq, c, e);
                int realPath = path - 2;
                int have = realPath == MLA4J_PATH_AMX ? (f & MLA4J_F_AMX) : (f & MLA4J_F_AVX512BF16);
                if (have) {
                    double er = run_case(realPath, fp16, sk, hq, sq, c, real);
                    CHECK(er < tol, "%s: max |o - naive| = %g", NAMES[realPath], er);
                    double diff = 0;
                    for (size_t i = 0; i < n; i++) diff = fmax(diff, fabs(real[i] - emu[i]));
                    CHECK(diff < tol, "%s vs its emulation: %g", NAMES[realPath], diff);
                }
            }
            free(emu); free(real);
        }
    }
    printf("kernels: amx-emu, avx512bf16-emu checked against naive fp64 (bf16, fp16; causal, ragged, s_k = 0, nan past s_k)\n");
    printf("real paths: amx %s, avx512bf16 %s\n",
           f & MLA4J_F_AMX ? "checked" : f & MLA4J_F_AMX_DENIED ? "skipped (CPU has AMX, the OS refused tile data)" : "skipped (no AMX-BF16 on this CPU)",
           f & MLA4J_F_AVX512BF16 ? "checked" : "skipped (no AVX512-BF16 on this CPU)");
}

int main(void) {
    test_conversions();
    test_exp();
    test_packing();
    test_kernels();
    if (failures) { printf("mla4j_cpu_test: %d FAILED\n", failures); return 1; }
    printf("mla4j_cpu_test: all passed\n");
    return 0;
}
