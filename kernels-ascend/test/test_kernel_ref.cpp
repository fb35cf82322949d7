// The AMLA kernel through the emulator, loaded exactly as the ACL emulation loads it (dlopen of
// libmla4j_ascend_kernel.so + libmla4j_ascend_tiling.so), against an fp64 reference.
// Fresh random inputs per case, outputs and workspace poisoned with NaN, guard bytes after every
// buffer. Pass rule (the project's, tests/.../Report.java): o rel-L2 <= 3 x the rel-L2 of merely
// rounding the reference to the dtype; lse max abs <= 2e-3 on finite entries, +inf exactly where
// the reference has +inf; no NaN left.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "mla4j_ascend_tiling.h"

namespace {

typedef int32_t (*LaunchFn)(const char *, uint32_t, void *const *, uint32_t, char *, size_t);
typedef int32_t (*HasFn)(const char *);
typedef size_t (*TilingSizeFn)(const MlaTilingInput *);
typedef int32_t (*TilingFn)(const MlaTilingInput *, MlaTiling *, size_t, char *, size_t);
typedef int32_t (*GeometryFn)(int32_t, int32_t, int32_t, char *, size_t);
LaunchFn g_launch;
LaunchFn g_launch_mul;  // optional: the build that rescales by multiply (MLA4J_RESCALE_BY_MULTIPLY)
HasFn g_has;
TilingSizeFn g_tsize;
TilingFn g_tiling;
GeometryFn g_geometry;

uint16_t F2Bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float Bf2F(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
uint16_t F2H(float f) {
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
}
float H2F(uint16_t b) {
    _Float16 h;
    memcpy(&h, &b, 2);
    return (float)h;
}

// A device-like buffer with 4 KiB of guard bytes after it.
struct Buf {
    std::vector<uint8_t> mem;
    size_t n;
    static constexpr size_t kGuard = 4096;
    explicit Buf(size_t bytes, uint8_t fill) : mem(bytes + kGuard, 0xA5), n(bytes) { memset(mem.data(), fill, bytes); }
    void *p() { return mem.data(); }
    bool GuardOk() const {
        for (size_t i = n; i < mem.size(); i++)
            if (mem[i] != 0xA5) return false;
        return true;
    }
};

struct Case {
    std::string name;
    int dtype;
    int hq, sq;
    std::vector<int> seqlens;
    bool causal;
    int cores;
    float qmul;  // scales q: larger scores, a max that keeps moving (exercises the rescale)
    bool zeroCols = false;  // latent columns 7 and 300 are 0 in every cache row: exact zeros in O
    int page = 64, dc = 512, dr = 64;  // cache geometry
};

bool g_bench = false;  // time the launch only, no reference

bool RunCase(const Case &c, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int b = (int)c.seqlens.size(), rows = c.sq * c.hq;
    const bool bf = c.dtype == MLA4J_DT_BF16;
    auto toT = [&](float f) { return bf ? F2Bf(f) : F2H(f); };
    auto fromT = [&](uint16_t v) { return bf ? Bf2F(v) : H2F(v); };

    const int P = c.page, DQK = c.dc + c.dr, DV = c.dc;
    int max_blocks = 1, total_blocks = 0;
    for (int l : c.seqlens) {
        max_blocks = std::max(max_blocks, (l + P - 1) / P + 1);
        total_blocks += (l + P - 1) / P;
    }
    int nblocks = total_blocks + 3;
    std::vector<int> perm(nblocks);
    for (int i = 0; i < nblocks; i++) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);  // shuffled block table
    std::vector<int32_t> bt((size_t)b * max_blocks, 1 << 28);  // unused entries: far out of range
    int next = 0;
    for (int s = 0; s < b; s++)
        for (int j = 0; j < (c.seqlens[s] + P - 1) / P; j++) bt[(size_t)s * max_blocks + j] = perm[next++];

    Buf q((size_t)b * rows * DQK * 2, 0), kv((size_t)nblocks * P * DQK * 2, 0);
    uint16_t *qh = (uint16_t *)q.p(), *kvh = (uint16_t *)kv.p();
    for (size_t i = 0; i < (size_t)b * rows * DQK; i++) qh[i] = toT(nd(rng) * c.qmul);
    for (size_t i = 0; i < (size_t)nblocks * P * DQK; i++) kvh[i] = toT(nd(rng));
    if (c.zeroCols)
        for (size_t r = 0; r < (size_t)nblocks * P; r++) kvh[r * DQK + 7 % DV] = kvh[r * DQK + 300 % DV] = toT(0.0f);
    Buf btb(bt.size() * 4, 0), sl((size_t)b * 4, 0);
    memcpy(btb.p(), bt.data(), bt.size() * 4);
    memcpy(sl.p(), c.seqlens.data(), (size_t)b * 4);
    Buf o((size_t)b * rows * DV * 2, 0xFF), lse((size_t)b * rows * 4, 0xFF);  // NaN poison

    MlaTilingInput in = {b, c.sq, c.hq, max_blocks, nblocks, c.dtype, c.causal ? 1 : 0, c.cores, P, c.dc, c.dr,
                         1.0f / sqrtf((float)DQK), c.seqlens.data()};
    size_t tb = g_tsize(&in);
    std::vector<uint8_t> tiling(tb);
    char err[1024] = {0};
    if (!tb || g_tiling(&in, (MlaTiling *)tiling.data(), tb, err, sizeof err)) {
        printf("FAIL %s: tiling: %s\n", c.name.c_str(), err);
        return false;
    }
    const MlaTiling *t = (const MlaTiling *)tiling.data();
    Buf tdev(tb, 0), ws(t->workspace_bytes, 0xFF);
    memcpy(tdev.p(), tiling.data(), tb);
    void *args[8] = {q.p(), kv.p(), btb.p(), sl.p(), o.p(), lse.p(), ws.p(), tdev.p()};
    auto t0 = std::chrono::steady_clock::now();
    int rc = g_launch("mla4j_mla_decode", t->block_dim, args, 8, err, sizeof err);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc) {
        printf("FAIL %s: launch rc %d: %s\n", c.name.c_str(), rc, err);
        return false;
    }
    if (g_bench) {
        long tok = 0;
        for (int l : c.seqlens) tok += l;
        double flops = 2.0 * rows * tok * (DQK + DV);
        printf("bench %-28s %s b=%d hq=%d sq=%d cores=%d: %.3f s per launch, %.2f GFLOP/s emulated\n", c.name.c_str(),
               bf ? "bf16" : "fp16", b, c.hq, c.sq, c.cores, secs, flops / secs * 1e-9);
        return true;
    }
    int bitwise = -1;  // 1: identical to the multiply-rescale build, 0: differs, -1: not compared
    if (g_launch_mul) {
        Buf o2(o.n, 0xFF), lse2(lse.n, 0xFF), ws2(t->workspace_bytes, 0xFF);
        void *args2[8] = {q.p(), kv.p(), btb.p(), sl.p(), o2.p(), lse2.p(), ws2.p(), tdev.p()};
        if (g_launch_mul("mla4j_mla_decode", t->block_dim, args2, 8, err, sizeof err)) {
            printf("FAIL %s: multiply build: %s\n", c.name.c_str(), err);
            return false;
        }
        bitwise = memcmp(o.p(), o2.p(), o.n) == 0 && memcmp(lse.p(), lse2.p(), lse.n) == 0;
    }

    // fp64 reference on the rounded inputs.
    double num = 0, den = 0, rnum = 0, maxAbs = 0, lseMax = 0;
    int nan = 0, infMismatch = 0, zeroMismatch = 0;
    const double scale = 1.0 / sqrt((double)DQK);
    std::vector<double> sc, acc(DV);
    for (int s = 0; s < b; s++) {
        int sk = c.seqlens[s];
        for (int r = 0; r < rows; r++) {
            int iq = r / c.hq, head = r % c.hq;
            int limit = (c.causal && c.sq > 1) ? sk - c.sq + iq + 1 : sk;
            limit = std::max(0, std::min(limit, sk));
            const uint16_t *qr = qh + ((size_t)s * rows + r) * DQK;
            sc.assign(limit, 0.0);
            double m = -INFINITY;
            for (int j = 0; j < limit; j++) {
                const uint16_t *kr = kvh + ((size_t)bt[(size_t)s * max_blocks + j / P] * P + j % P) * DQK;
                double d = 0;
                for (int x = 0; x < DQK; x++) d += (double)fromT(qr[x]) * fromT(kr[x]);
                sc[j] = d * scale;
                m = std::max(m, sc[j]);
            }
            double sum = 0;
            for (int j = 0; j < limit; j++) sum += exp(sc[j] - m);
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int j = 0; j < limit; j++) {
                const uint16_t *kr = kvh + ((size_t)bt[(size_t)s * max_blocks + j / P] * P + j % P) * DQK;
                double w = exp(sc[j] - m) / sum;
                for (int x = 0; x < DV; x++) acc[x] += w * fromT(kr[x]);
            }
            double ref_lse = limit ? m + log(sum) : INFINITY;
            const uint16_t *orow = (const uint16_t *)o.p() + ((size_t)s * rows + r) * DV;
            for (int x = 0; x < DV; x++) {
                double got = fromT(orow[x]);
                if (std::isnan(got)) nan++;
                double rounded = fromT(toT((float)acc[x]));
                num += (got - acc[x]) * (got - acc[x]);
                rnum += (rounded - acc[x]) * (rounded - acc[x]);
                den += acc[x] * acc[x];
                maxAbs = std::max(maxAbs, fabs(got - acc[x]));
                if (!limit && orow[x] != 0 && orow[x] != 0x8000) zeroMismatch++;
            }
            float gl = ((const float *)lse.p())[((size_t)s * c.hq + head) * c.sq + iq];
            if (std::isnan(gl)) nan++;
            else if (std::isinf(ref_lse) || std::isinf(gl)) infMismatch += !(std::isinf(gl) && gl > 0 && std::isinf(ref_lse));
            else lseMax = std::max(lseMax, fabs(gl - ref_lse));
        }
    }
    double rel = den ? sqrt(num / den) : sqrt(num), rrel = den ? sqrt(rnum / den) : 0;
    bool guards = q.GuardOk() && kv.GuardOk() && o.GuardOk() && lse.GuardOk() && ws.GuardOk() && btb.GuardOk();
    bool pass = bitwise != 0 && !nan && !infMismatch && !zeroMismatch && guards && rel <= 3 * rrel + 1e-12 && lseMax <= 2e-3;
    printf("%s %-34s %s page %3d %3d+%-2d b=%d hq=%3d sq=%d cores=%2d splits=%d  o relL2 %.3e (3x rounding %.3e) "
           "maxAbs %.3e  lse maxAbs %.3e  nan %d inf-mismatch %d %.2fs\n",
           pass ? "ok  " : "FAIL", c.name.c_str(), bf ? "bf16" : "fp16", P, c.dc, c.dr, b, c.hq, c.sq, c.cores, t->total_splits,
           rel, 3 * rrel, maxAbs, lseMax, nan, infMismatch + zeroMismatch, secs);
    if (!guards) printf("      guard bytes overwritten\n");
    if (bitwise == 1) printf("      o and lse bit-identical to the multiply-rescale build\n");
    if (bitwise == 0) printf("      o or lse DIFFER from the multiply-rescale build\n");
    return pass;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s libmla4j_ascend_kernel.so libmla4j_ascend_tiling.so [filter]\n", argv[0]);
        return 2;
    }
    void *k = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL), *tl = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!k || !tl) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    g_launch = (LaunchFn)dlsym(k, "ascendc_emu_launch");
    g_has = (HasFn)dlsym(k, "ascendc_emu_has_kernel");
    g_tsize = (TilingSizeFn)dlsym(tl, "mla4j_mla_tiling_size");
    g_tiling = (TilingFn)dlsym(tl, "mla4j_mla_tiling");
    g_geometry = (GeometryFn)dlsym(tl, "mla4j_mla_check_geometry");
    if (!g_launch || !g_has || !g_tsize || !g_tiling || !g_geometry) {
        fprintf(stderr, "missing export\n");
        return 2;
    }
    if (getenv("MLA4J_MUL_KERNEL")) {
        void *m = dlopen(getenv("MLA4J_MUL_KERNEL"), RTLD_NOW | RTLD_LOCAL);
        if (!m || !(g_launch_mul = (LaunchFn)dlsym(m, "ascendc_emu_launch"))) {
            fprintf(stderr, "MLA4J_MUL_KERNEL: %s\n", dlerror());
            return 2;
        }
    }
    int fails = 0;
    if (g_has("mla4j_mla_decode") != 1 || g_has("nope") != 0) { printf("FAIL has_kernel\n"); fails++; }
    char err[256];
    void *none[1] = {nullptr};
    if (g_launch("mla4j_mla_decode", 1, none, 1, err, sizeof err) == 0) { printf("FAIL wrong arg count accepted\n"); fails++; }
    else printf("ok   bad launch refused: %s\n", err);

    const int BF = MLA4J_DT_BF16, FP = MLA4J_DT_FP16;
    std::vector<Case> cases = {
        {"single token", BF, 16, 1, {1}, true, 1, 1.0f},
        {"ragged 0/1/63/64/65", BF, 16, 1, {0, 1, 63, 64, 65}, true, 2, 1.0f},
        {"ragged fp16", FP, 16, 1, {0, 1, 63, 64, 65}, true, 3, 1.0f},
        {"h_q=1 long, split over 8 cores", FP, 1, 1, {2500}, true, 8, 1.0f},
        {"h_q=3 causal s_q=2", FP, 3, 2, {65, 2, 130}, true, 2, 1.0f},
        {"h_q=64 thousands, split", BF, 64, 1, {1000, 3000}, true, 4, 1.0f},
        {"h_q=128 s_q=4 causal", BF, 128, 4, {300, 5}, true, 3, 1.0f},
        {"s_q=4 > s_k: rows see no key", BF, 16, 4, {2, 0, 3}, true, 2, 1.0f},
        {"s_q=2 not causal", FP, 16, 2, {129, 77}, false, 2, 1.0f},
        {"peaky scores (rescales)", BF, 16, 1, {2000, 640}, true, 3, 6.0f},
        {"peaky fp16 s_q=2", FP, 3, 2, {1500}, true, 2, 8.0f},
        {"h_q=1 bf16 8192 tokens + short", BF, 1, 1, {8192, 64, 1}, true, 6, 2.0f},
        {"h_q=128 fp16 s_q=2 ragged", FP, 128, 2, {1, 200, 64}, true, 4, 1.0f},
        {"h_q=3 bf16 s_q=4 causal", BF, 3, 4, {4, 700, 0, 129}, true, 5, 3.0f},
        {"h_q=64 fp16 s_q=1 many seqs", FP, 64, 1, {33, 1000, 5, 64, 65, 127, 128, 129}, true, 4, 1.0f},
        {"zero cache columns under rescales", BF, 16, 1, {1500, 300}, true, 2, 6.0f, true},
    };
    // The geometry axis: every page size with the width pairs of tests/.../Conformance.GEOMETRY_WIDTHS (and 80 + 16:
    // d_v no multiple of 64, d_qk no multiple of 64), ragged lengths at page and step edges, shuffled pages.
    {
        const int pages[] = {1, 2, 16, 32, 64, 128, 256};
        const int widths[][2] = {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}, {80, 16}};
        int i = 0;
        for (int pg : pages)
            for (const auto &w : widths) {
                if (pg == 64 && w[0] == 512) continue;  // the cases above
                if (pg == 2 && w[0] != 512) continue;   // one tiny-page case is enough beyond the list
                Case g{"geometry", i % 2 ? FP : BF, (int[]){16, 3, 40, 1}[i % 4], 1 + (i / 2) % 2,
                       {pg + 1, 0, 3 * pg - 1, 1, 301, 133}, i % 3 != 0, 1 + i % 4, i % 5 == 0 ? 6.0f : 1.0f, i % 7 == 0};
                g.page = pg;
                g.dc = w[0];
                g.dr = w[1];
                g.name = "geometry page " + std::to_string(pg) + " " + std::to_string(w[0]) + "+" + std::to_string(w[1]);
                cases.push_back(g);
                i++;
            }
        Case big{"geometry page 16 256+32 h_q=128 split", BF, 128, 2, {3000, 17}, true, 4, 4.0f};
        big.page = 16;
        big.dc = 256;
        big.dr = 32;
        cases.push_back(big);
        // d_v 80: the rescale's mask over a padded row, under rescales and exact zeros; and the widest widths that fit
        Case pad{"geometry page 16 80+16 peaky, zero columns", FP, 16, 1, {900, 250}, true, 2, 8.0f, true};
        pad.page = 16;
        pad.dc = 80;
        pad.dr = 16;
        cases.push_back(pad);
        Case wide{"geometry page 128 768+16 (widest that fits)", BF, 40, 2, {300, 129}, true, 3, 4.0f};
        wide.page = 128;
        wide.dc = 768;
        wide.dr = 16;
        cases.push_back(wide);
    }
    // Geometries the tiling refuses, with the reason (a buffer that would overflow, a field out of range).
    struct Refusal { int page, dc, dr; const char *why; };
    const Refusal refusals[] = {{64, 768, 32, "bytes of L1"}, {64, 1024, 64, "bytes of UB"}, {48, 512, 64, "page_size"},
                                {512, 512, 64, "page_size"}, {64, 520, 64, "d_c must"}, {64, 512, 0, "d_r must"}};
    for (const Refusal &r : refusals) {
        char why[512] = {0};
        int32_t one = 0;
        MlaTilingInput in = {1, 1, 16, 1, 1, BF, 0, 1, r.page, r.dc, r.dr, 0.05f, &one};
        bool refused = g_geometry(r.page, r.dc, r.dr, why, sizeof why) != 0 && strstr(why, r.why);
        char why2[512] = {0};
        refused = refused && g_tsize(&in) == 0 && g_tiling(&in, nullptr, 0, why2, sizeof why2) != 0 && strcmp(why, why2) == 0;
        printf("%s geometry page %d %d+%d refused: %s\n", refused ? "ok  " : "FAIL", r.page, r.dc, r.dr, why);
        fails += !refused;
    }
    const char *filter = argc > 3 ? argv[3] : nullptr;
    if (filter && strcmp(filter, "--bench") == 0) {
        g_bench = true;
        std::vector<Case> bench = {
            {"decode b=16 h=128 s_k=4096", BF, 128, 1, std::vector<int>(16, 4096), true, 24, 1.0f},
            {"decode b=4 h=16 s_k=1024", BF, 16, 1, std::vector<int>(4, 1024), true, 8, 1.0f},
            {"MTP b=4 h=128 s_q=2 s_k=2048", FP, 128, 2, std::vector<int>(4, 2048), true, 24, 1.0f},
        };
        for (const Case &c : bench) RunCase(c, 1);
        return 0;
    }
    uint64_t seed = 0x5eed;
    for (const Case &c : cases) {
        if (filter && c.name.find(filter) == std::string::npos) continue;
        fails += !RunCase(c, seed++);
    }
    printf(fails ? "%d FAILED\n" : "all kernel cases passed\n", fails);
    return fails ? 1 : 0;
}
