// Native (no Java) check and benchmark of the portable decode path: mla4j_schedule -> mla4j_decode_sm80 ->
// mla4j_combine, in one translation unit with the kernels' sources. Build and run: scripts/cuda-native-check.sh.
//   native_check check   GPU schedule vs host port of schedule.h; decode vs fp64 CPU reference over a shape
//                        matrix (bf16/fp16, h_q x s_q, ragged lengths 0/1/63/64/65/thousands, causal,
//                        shuffled block tables with -1 past each sequence, outputs NaN-poisoned)
//   native_check small   one small multi-split shape (for compute-sanitizer)
//   native_check bench   CUDA-event timings (median, rotated caches) and D2D copy bandwidth
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/scheduler.cu"
#include "common/combine.cu"
#include "sm80/decode_sm80.cu"

#define CK(x)                                                                                              \
    do {                                                                                                   \
        cudaError_t e_ = (x);                                                                              \
        if (e_ != cudaSuccess) {                                                                           \
            fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__,     \
                    cudaGetErrorString(e_));                                                               \
            exit(2);                                                                                       \
        }                                                                                                  \
    } while (0)

// ---------------------------------------------------------------- host helpers
static uint16_t f2b(float f, int dtype) {  // round-to-nearest-even into bf16 / fp16 bits
    if (dtype == MLA4J_BF16) {
        uint32_t u; memcpy(&u, &f, 4);
        u += 0x7fff + ((u >> 16) & 1);
        return (uint16_t)(u >> 16);
    }
    __half h = __float2half_rn(f);
    uint16_t r; memcpy(&r, &h, 2);
    return r;
}
static double b2d(uint16_t v, int dtype) {
    if (dtype == MLA4J_BF16) { uint32_t u = (uint32_t)v << 16; float f; memcpy(&f, &u, 4); return f; }
    __half h; memcpy(&h, &v, 2);
    return (double)__half2float(h);
}

// Host port of schedule.h (the definition is io.mla4j.SplitSchedule): compared with the GPU scheduler.
struct HostSchedule { std::vector<int> meta, offsets; };
static HostSchedule host_schedule(const std::vector<int>& seqlens, int parts, int F) {
    const int b = (int)seqlens.size();
    std::vector<long long> blocks(b);
    long long total = 0;
    for (int s = 0; s < b; ++s) { blocks[s] = (seqlens[s] + 63) / 64; total += blocks[s] + F; }
    const long long per = std::max((total + parts - 1) / parts + F, 2LL * F);
    HostSchedule h{std::vector<int>(parts * MLA4J_SCHED_INTS, 0), std::vector<int>(b + 1, 0)};
    std::vector<int> splits(b, 0);
    int s = 0; long long blk = 0;
    for (int pt = 0; pt < parts; ++pt) {
        const int bi = s, bb = (int)blk, bs = s < b ? splits[s] : 0;
        int ei = s - 1, eb = 0;
        long long remain = pt == parts - 1 ? (1LL << 62) : per;
        while (s < b) {
            const long long rest = blocks[s] - blk;
            if (remain >= rest + F) { remain -= rest + F; splits[s]++; ei = s; eb = (int)blocks[s]; s++; blk = 0; }
            else {
                const long long take = remain - F;
                if (take > 0) { blk += take; splits[s]++; ei = s; eb = (int)blk; }
                break;
            }
        }
        int* m = &h.meta[pt * MLA4J_SCHED_INTS];
        m[0] = bi; m[1] = bb; m[2] = ei; m[3] = eb; m[4] = bs;
    }
    for (int i = 0; i < b; ++i) h.offsets[i + 1] = h.offsets[i] + splits[i];
    return h;
}

// The stage size of the image this binary runs: cuda-native-check.sh builds SASS for the device's own
// architecture, so it is stage_tokens of the device's compute capability.
static int sm80_kt() {
    int d, major, minor;
    CK(cudaGetDevice(&d));
    CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, d));
    CK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, d));
    return mla4j_sm80::stage_tokens(100 * major + 10 * minor);
}

// K stages of mla4j_decode_sm80: the deepest that fits the device's opt-in shared memory (so the deep pipeline
// is checked too), or MLA4J_SM80_STAGES from the environment (2 is what io.mla4j.cuda launches); the kernel
// reads the count back from the smem size.
static int sm80_stages() {
    if (const char* e = getenv("MLA4J_SM80_STAGES")) return atoi(e);
    int d, optin; CK(cudaGetDevice(&d)); CK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, d));
    int st = mla4j_sm80::kMaxStages;
    while (st > 2 && MLA4J_SM80_SMEM_BYTES(sm80_kt(), st) > optin) --st;
    return st;
}
static int sm80_smem() {
    static const int bytes = [] {
        const int b = MLA4J_SM80_SMEM_BYTES(sm80_kt(), sm80_stages());
        CK(cudaFuncSetAttribute(mla4j_decode_sm80, cudaFuncAttributeMaxDynamicSharedMemorySize, b));
        return b;
    }();
    return bytes;
}

static int sm_count() { int d, n; CK(cudaGetDevice(&d)); CK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d)); return n; }
static int default_parts(int rows) { return std::max(1, sm_count() / ((rows + 63) / 64)); }  // FlashMLA's num_sm_parts

// ---------------------------------------------------------------- one problem on the device
struct Problem {
    int b, s_q, h_q, rows, dtype, causal, parts, max_blocks, num_blocks, copies = 1;
    int split_overhead = MLA4J_FIXED_OVERHEAD_BLOCKS;  // F of the schedule
    std::vector<int> seqlens, table;
    std::vector<uint16_t> q, cache;  // host copies (check only)
    size_t q_elems, cache_elems;     // one copy
    void *d_q = nullptr, *d_cache = nullptr, *d_o = nullptr;
    int32_t *d_table = nullptr, *d_seqlens = nullptr, *d_sched = nullptr, *d_offsets = nullptr;
    float *d_lse = nullptr, *d_oacc = nullptr, *d_lacc = nullptr;
    MlaParams p{};
};

static void setup(Problem& pr, std::mt19937& rng, bool keep_host) {
    pr.rows = pr.s_q * pr.h_q;
    int maxlen = 0; long long sum_blocks = 0;
    for (int L : pr.seqlens) { maxlen = std::max(maxlen, L); sum_blocks += (L + 63) / 64; }
    pr.max_blocks = std::max(1, (maxlen + 63) / 64 + 1);  // one spare column: stays -1
    pr.num_blocks = (int)sum_blocks + 3;                  // spare pages nobody owns
    // shuffled page assignment; entries past a sequence's blocks are -1
    std::vector<int> pages(pr.num_blocks);
    for (int i = 0; i < pr.num_blocks; ++i) pages[i] = i;
    std::shuffle(pages.begin(), pages.end(), rng);
    pr.table.assign((size_t)pr.b * pr.max_blocks, -1);
    int next = 0;
    for (int s = 0; s < pr.b; ++s)
        for (int j = 0; j < (pr.seqlens[s] + 63) / 64; ++j) pr.table[(size_t)s * pr.max_blocks + j] = pages[next++];
    pr.q_elems = (size_t)pr.b * pr.rows * MLA4J_D_QK;
    pr.cache_elems = (size_t)pr.num_blocks * 64 * MLA4J_D_QK;
    const size_t cache_bytes = pr.cache_elems * 2;
    CK(cudaMalloc(&pr.d_q, pr.q_elems * 2 * pr.copies));
    CK(cudaMalloc(&pr.d_cache, cache_bytes * pr.copies));
    // random inputs, never zeros: U(-1, 1) for q and cache (so scores vary); garbage NaN in unowned tail tokens
    std::uniform_real_distribution<float> U(-1.f, 1.f);
    if (keep_host) {
        pr.q.resize(pr.q_elems);
        for (auto& v : pr.q) v = f2b(U(rng), pr.dtype);
        pr.cache.resize(pr.cache_elems);
        for (auto& v : pr.cache) v = f2b(U(rng), pr.dtype);
        // poison tokens past each sequence's length inside its last page: the kernel must never use them
        const uint16_t nan = pr.dtype == MLA4J_BF16 ? 0x7fc0 : 0x7e00;
        for (int s = 0; s < pr.b; ++s) {
            const int L = pr.seqlens[s];
            if (L % 64 == 0) continue;
            const int page = pr.table[(size_t)s * pr.max_blocks + L / 64];
            for (int tk = L % 64; tk < 64; ++tk)
                for (int d = 0; d < MLA4J_D_QK; ++d) pr.cache[((size_t)page * 64 + tk) * MLA4J_D_QK + d] = nan;
        }
        CK(cudaMemcpy(pr.d_q, pr.q.data(), pr.q_elems * 2, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(pr.d_cache, pr.cache.data(), cache_bytes, cudaMemcpyHostToDevice));
    } else {  // bench: a random host pattern of 16 MiB tiled over the device buffers
        std::vector<uint16_t> pat(8 << 20);
        for (auto& v : pat) v = f2b(U(rng), pr.dtype);
        auto fill = [&](void* d, size_t elems) {
            for (size_t o = 0; o < elems; o += pat.size())
                CK(cudaMemcpy((uint16_t*)d + o, pat.data(), std::min(pat.size(), elems - o) * 2, cudaMemcpyHostToDevice));
        };
        fill(pr.d_q, pr.q_elems * pr.copies);
        fill(pr.d_cache, pr.cache_elems * pr.copies);
    }
    CK(cudaMalloc(&pr.d_table, pr.table.size() * 4));
    CK(cudaMemcpy(pr.d_table, pr.table.data(), pr.table.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMalloc(&pr.d_seqlens, pr.b * 4));
    CK(cudaMemcpy(pr.d_seqlens, pr.seqlens.data(), pr.b * 4, cudaMemcpyHostToDevice));
    const int max_splits = pr.b + pr.parts;
    CK(cudaMalloc(&pr.d_o, (size_t)pr.b * pr.rows * MLA4J_D_V * 2));
    CK(cudaMalloc(&pr.d_lse, (size_t)pr.b * pr.rows * 4));
    CK(cudaMalloc(&pr.d_oacc, (size_t)max_splits * pr.rows * MLA4J_D_V * 4));
    CK(cudaMalloc(&pr.d_lacc, (size_t)max_splits * pr.rows * 4));
    CK(cudaMalloc(&pr.d_sched, (size_t)pr.parts * MLA4J_SCHED_INTS * 4));
    CK(cudaMalloc(&pr.d_offsets, (size_t)(pr.b + 1) * 4));
    MlaParams& p = pr.p;
    p.q = pr.d_q; p.k_cache = pr.d_cache; p.block_table = pr.d_table; p.seqlens = pr.d_seqlens;
    p.o = pr.d_o; p.lse = pr.d_lse; p.o_accum = pr.d_oacc; p.lse_accum = pr.d_lacc;
    p.sched = pr.d_sched; p.split_offsets = pr.d_offsets;
    p.b = pr.b; p.s_q = pr.s_q; p.h_q = pr.h_q; p.rows = pr.rows; p.max_blocks = pr.max_blocks;
    p.num_blocks = pr.num_blocks; p.num_parts = pr.parts; p.max_splits = max_splits;
    p.split_overhead = pr.split_overhead;
    p.page_shift = 6;  // this harness pages 64 tokens (the Java conformance covers the other page sizes)
    p.d_qk = MLA4J_D_QK;  // and DeepSeek's widths (likewise)
    p.d_v = MLA4J_D_V;
    p.causal = pr.causal; p.dtype = pr.dtype;
    p.scale = 1.f / sqrtf((float)MLA4J_D_QK);
    p.scale_log2 = p.scale * 1.4426950408889634f;
}

static void release(Problem& pr) {
    for (void* d : {(void*)pr.d_q, (void*)pr.d_cache, (void*)pr.d_o, (void*)pr.d_table, (void*)pr.d_seqlens,
                    (void*)pr.d_sched, (void*)pr.d_offsets, (void*)pr.d_lse, (void*)pr.d_oacc, (void*)pr.d_lacc})
        CK(cudaFree(d));
}

// Combine rows per CTA (combine.cu) from the largest split count of any sequence: about 4 splits per warp.
static int combine_rows_per_cta(const std::vector<int>& seqlens, int parts, int F) {
    std::vector<int> offs = host_schedule(seqlens, parts, F).offsets;
    int most = 1;
    for (size_t s = 0; s + 1 < offs.size(); ++s) most = std::max(most, offs[s + 1] - offs[s]);
    return mla4j_combine_rows_per_cta(most);
}

// The decode step as io.mla4j.cuda.DecodeKernels launches it: schedule, decode, combine.
// ev (optional): events recorded around the decode kernel alone. rpc: combine rows per CTA.
static void launch_step(const MlaParams& p, int rpc, cudaStream_t st, cudaEvent_t* ev = nullptr) {
    mla4j_schedule<<<1, MLA4J_SCHEDULE_THREADS, 0, st>>>(p);
    dim3 grid(p.num_parts, (p.rows + 63) / 64);
    if (ev) CK(cudaEventRecord(ev[0], st));
    mla4j_decode_sm80<<<grid, mla4j_sm80::kThreads, sm80_smem(), st>>>(p);
    if (ev) CK(cudaEventRecord(ev[1], st));
    mla4j_combine<<<dim3(p.b, (p.rows + rpc - 1) / rpc, MLA4J_D_V / MLA4J_COMBINE_COLUMNS), MLA4J_COMBINE_THREADS, 0, st>>>(p);
}

// ---------------------------------------------------------------- fp64 reference and comparison
struct Err { double rel_l2 = 0, max_abs = 0; long nan = 0; };

static bool check_one(Problem& pr, std::mt19937& rng, const char* label) {
    setup(pr, rng, true);
    const MlaParams& p = pr.p;
    const size_t o_elems = (size_t)pr.b * pr.rows * MLA4J_D_V;
    // poison every output and scratch buffer with NaN (0xFF bytes)
    CK(cudaMemset(pr.d_o, 0xff, o_elems * 2));
    CK(cudaMemset(pr.d_lse, 0xff, (size_t)pr.b * pr.rows * 4));
    CK(cudaMemset(pr.d_oacc, 0xff, (size_t)p.max_splits * pr.rows * MLA4J_D_V * 4));
    CK(cudaMemset(pr.d_lacc, 0xff, (size_t)p.max_splits * pr.rows * 4));
    CK(cudaMemset(pr.d_sched, 0xff, (size_t)pr.parts * MLA4J_SCHED_INTS * 4));
    CK(cudaMemset(pr.d_offsets, 0xff, (size_t)(pr.b + 1) * 4));
    launch_step(p, combine_rows_per_cta(pr.seqlens, pr.parts, pr.split_overhead), 0);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());

    // GPU schedule vs host port
    HostSchedule hs = host_schedule(pr.seqlens, pr.parts, pr.split_overhead);
    std::vector<int> gm(hs.meta.size()), go(hs.offsets.size());
    CK(cudaMemcpy(gm.data(), pr.d_sched, gm.size() * 4, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(go.data(), pr.d_offsets, go.size() * 4, cudaMemcpyDeviceToHost));
    const bool sched_ok = gm == hs.meta && go == hs.offsets;

    std::vector<uint16_t> o(o_elems);
    std::vector<float> lse((size_t)pr.b * pr.rows);
    CK(cudaMemcpy(o.data(), pr.d_o, o_elems * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(lse.data(), pr.d_lse, lse.size() * 4, cudaMemcpyDeviceToHost));

    double num = 0, den = 0, max_abs = 0, lse_max = 0;
    long nan = 0, inf_bad = 0;
    const double scale = p.scale;
    #pragma omp parallel for collapse(2) schedule(dynamic) reduction(+ : num, den, nan, inf_bad) reduction(max : max_abs, lse_max)
    for (int s = 0; s < pr.b; ++s)
        for (int r = 0; r < pr.rows; ++r) {
            const int L = pr.seqlens[s], iq = r / pr.h_q, h = r % pr.h_q;
            const int last = pr.causal ? std::min(L - 1, L - pr.s_q + iq) : L - 1;
            const uint16_t* qv = &pr.q[((size_t)s * pr.rows + r) * MLA4J_D_QK];
            std::vector<double> sc(std::max(0, last + 1)), acc(MLA4J_D_V, 0.0);
            double mx = -INFINITY;
            for (int j = 0; j <= last; ++j) {
                const int page = pr.table[(size_t)s * pr.max_blocks + j / 64];
                const uint16_t* kv = &pr.cache[((size_t)page * 64 + j % 64) * MLA4J_D_QK];
                double d = 0;
                for (int c = 0; c < MLA4J_D_QK; ++c) d += b2d(qv[c], pr.dtype) * b2d(kv[c], pr.dtype);
                sc[j] = d * scale;
                mx = std::max(mx, sc[j]);
            }
            double sum = 0;
            for (int j = 0; j <= last; ++j) {
                const double e = exp(sc[j] - mx);
                sum += e;
                const int page = pr.table[(size_t)s * pr.max_blocks + j / 64];
                const uint16_t* kv = &pr.cache[((size_t)page * 64 + j % 64) * MLA4J_D_QK];
                for (int c = 0; c < MLA4J_D_V; ++c) acc[c] += e * b2d(kv[c], pr.dtype);
            }
            const double ref_lse = last < 0 ? INFINITY : mx + log(sum);
            for (int c = 0; c < MLA4J_D_V; ++c) {
                const double ref = last < 0 ? 0.0 : acc[c] / sum;
                const double got = b2d(o[((size_t)s * pr.rows + r) * MLA4J_D_V + c], pr.dtype);
                if (std::isnan(got)) { ++nan; continue; }
                num += (got - ref) * (got - ref);
                den += ref * ref;
                max_abs = std::max(max_abs, fabs(got - ref));
            }
            const float gl = lse[((size_t)s * pr.h_q + h) * pr.s_q + iq];
            if (std::isnan(gl)) ++nan;
            else if (std::isinf(ref_lse)) { if (!(std::isinf(gl) && gl > 0)) ++inf_bad; }
            else lse_max = std::max(lse_max, fabs((double)gl - ref_lse));
        }
    const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    // bf16 P and output rounding: 2^-8 relative steps; fp16 has 3 more mantissa bits
    const double tol = pr.dtype == MLA4J_BF16 ? 1e-2 : 2e-3;
    const bool ok = sched_ok && nan == 0 && inf_bad == 0 && rel < tol && lse_max < 1e-3 * 8;
    int multi = 0;
    for (int s = 0; s < pr.b; ++s) multi += go[s + 1] - go[s] > 1;
    std::string lens;
    for (int s = 0; s < std::min(pr.b, 6); ++s) lens += std::to_string(pr.seqlens[s]) + (s + 1 < pr.b ? "," : "");
    if (pr.b > 6) lens += "...";
    printf("%-4s %s b=%-3d s_q=%d h_q=%-3d causal=%d parts=%-3d splits=%-4d multi=%-3d lens=[%s]  relL2=%.2e maxabs=%.2e lse_maxabs=%.2e nan=%ld inf_bad=%ld sched=%s\n",
           ok ? "PASS" : "FAIL", pr.dtype == MLA4J_BF16 ? "bf16" : "fp16", pr.b, pr.s_q, pr.h_q, pr.causal, pr.parts,
           go[pr.b], multi, lens.c_str(), rel, max_abs, lse_max, nan, inf_bad, sched_ok ? "ok" : "MISMATCH");
    (void)label;
    release(pr);
    return ok;
}

static int run_checks(bool small_only) {
    std::mt19937 rng(1234);
    int fails = 0, n = 0;
    auto one = [&](int dtype, int b, int s_q, int h_q, std::vector<int> lens, int parts) {
        Problem pr;
        pr.b = b; pr.s_q = s_q; pr.h_q = h_q; pr.dtype = dtype; pr.causal = s_q > 1; pr.seqlens = lens;
        pr.parts = parts > 0 ? parts : default_parts(s_q * h_q);
        pr.split_overhead = (n & 1) ? 1 : MLA4J_FIXED_OVERHEAD_BLOCKS;  // both the default F and the smallest
        fails += !check_one(pr, rng, "");
        ++n;
    };
    if (small_only) {  // multi-split + direct + empty sequence, small enough for the sanitizers
        one(MLA4J_BF16, 3, 2, 3, {0, 65, 300}, 4);
        return fails;
    }
    const std::vector<int> ragged = {0, 1, 63, 64, 65, 2050};
    for (int dtype : {MLA4J_BF16, MLA4J_FP16})
        for (int h_q : {1, 3, 16, 64, 128})
            for (int s_q : {1, 2, 4}) {
                one(dtype, (int)ragged.size(), s_q, h_q, ragged, 0);  // default parts: mostly multi-split
                if (h_q == 16 || h_q == 3) one(dtype, (int)ragged.size(), s_q, h_q, ragged, 2);  // long splits
            }
    // thousands of keys, b = 1 (every split is a partial) and a varlen batch; causal with s_q > s_k
    one(MLA4J_BF16, 1, 1, 128, {5000}, 0);
    one(MLA4J_FP16, 1, 2, 64, {4097}, 0);
    one(MLA4J_BF16, 2, 4, 16, {2, 3}, 0);  // s_q > s_k: causal rows that see no key
    {
        std::vector<int> lens(16);
        std::uniform_int_distribution<int> L(1, 3000);
        for (auto& v : lens) v = L(rng);
        one(MLA4J_BF16, 16, 2, 16, lens, 0);
        one(MLA4J_FP16, 16, 1, 64, lens, 7);
    }
    printf("checks: %d run, %d failed\n", n, fails);
    return fails;
}

// ---------------------------------------------------------------- timings
static float median(std::vector<float> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }

static double copy_bandwidth() {  // D2D cudaMemcpy of 1 GiB, counting read + write
    const size_t bytes = 1ull << 30;
    void *a, *b;
    CK(cudaMalloc(&a, bytes)); CK(cudaMalloc(&b, bytes));
    CK(cudaMemset(a, 1, bytes));
    cudaEvent_t e0, e1; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    std::vector<float> ts;
    for (int i = 0; i < 12; ++i) {
        CK(cudaEventRecord(e0));
        CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
        CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1));
        float ms; CK(cudaEventElapsedTime(&ms, e0, e1)); if (i >= 2) ts.push_back(ms);
    }
    CK(cudaFree(a)); CK(cudaFree(b));
    return 2.0 * bytes / (median(ts) * 1e-3) / 1e9;
}

static void bench_one(int b, int mean, int h_q, int s_q, bool varlen, double copy_gbs, std::mt19937& rng) {
    Problem pr;
    pr.b = b; pr.s_q = s_q; pr.h_q = h_q; pr.dtype = MLA4J_BF16; pr.causal = s_q > 1;
    pr.parts = default_parts(s_q * h_q);
    std::normal_distribution<double> N(mean, mean / 2.0);
    for (int s = 0; s < b; ++s) pr.seqlens.push_back(varlen ? std::max(s_q, (int)N(rng)) : mean);
    long long sum_k = 0;
    for (int L : pr.seqlens) sum_k += L;
    // rotate over enough cache copies that one step's data is not still in the 50 MB L2
    const double one_copy = (double)sum_k * MLA4J_D_QK * 2;
    pr.copies = (int)std::min(8.0, std::max(1.0, std::ceil(256e6 / one_copy)));
    setup(pr, rng, false);
    cudaEvent_t e0, e1, ed[2]; CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    CK(cudaEventCreate(&ed[0])); CK(cudaEventCreate(&ed[1]));
    std::vector<float> ts, td;
    const int iters = 30;
    for (int i = 0; i < iters + 3; ++i) {
        MlaParams p = pr.p;
        const int c = i % pr.copies;
        p.k_cache = (const uint16_t*)pr.d_cache + (size_t)c * pr.cache_elems;
        p.q = (const uint16_t*)pr.d_q + (size_t)c * pr.q_elems;
        CK(cudaEventRecord(e0));
        launch_step(p, combine_rows_per_cta(pr.seqlens, pr.parts, pr.split_overhead), 0, ed);
        CK(cudaEventRecord(e1)); CK(cudaEventSynchronize(e1));
        float ms, md; CK(cudaEventElapsedTime(&ms, e0, e1)); CK(cudaEventElapsedTime(&md, ed[0], ed[1]));
        if (i >= 3) { ts.push_back(ms); td.push_back(md); }
    }
    CK(cudaGetLastError());
    const double us = median(ts) * 1e3;
    // FlashMLA's counting
    const double bytes = 2.0 * ((double)sum_k * MLA4J_D_QK + (double)b * s_q * h_q * (MLA4J_D_QK + MLA4J_D_V));
    const double flops = 2.0 * s_q * (double)sum_k * h_q * (MLA4J_D_QK + MLA4J_D_V);
    const double gbs = bytes / (us * 1e-6) / 1e9, us_dec = median(td) * 1e3;
    printf("bench bf16 b=%-3d s_k=%-5d%s h_q=%-3d s_q=%d parts=%-3d copies=%d  step %8.1f us  %5.0f GB/s (%.2f of copy)  %6.1f TFLOP/s | decode alone %8.1f us (%.2f of copy)\n",
           b, mean, varlen ? "(varlen)" : "        ", h_q, s_q, pr.parts, pr.copies, us, gbs, gbs / copy_gbs,
           flops / (us * 1e-6) / 1e12, us_dec, bytes / (us_dec * 1e-6) / 1e9 / copy_gbs);
    for (auto e : {e0, e1, ed[0], ed[1]}) CK(cudaEventDestroy(e));
    release(pr);
}

static void run_bench() {
    cudaDeviceProp prop; CK(cudaGetDeviceProperties(&prop, 0));
    const double copy = copy_bandwidth();
    printf("device %s, %d SMs; D2D copy bandwidth (read+write) %.0f GB/s; mla4j_decode_sm80: KT=%d, %d stages, smem %d B\n",
           prop.name, prop.multiProcessorCount, copy, sm80_kt(), sm80_stages(), sm80_smem());
    std::mt19937 rng(99);
    for (int sk : {4096, 8192})
        for (int h_q : {16, 64, 128})
            for (int s_q : {1, 2}) bench_one(128, sk, h_q, s_q, true, copy, rng);
    for (int h_q : {16, 128}) bench_one(1, 32768, h_q, 1, false, copy, rng);
}

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "check";
    if (mode == "bench") { run_bench(); return 0; }
    printf("mla4j_decode_sm80: KT=%d, %d stages, smem %d B\n", sm80_kt(), sm80_stages(), sm80_smem());
    const int fails = run_checks(mode == "small");
    return fails ? 1 : 0;
}
