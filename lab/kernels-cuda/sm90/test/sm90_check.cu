// Standalone check + benchmark of mla4j_decode_sm90 (no Java): host port of the split schedule,
// TMA tensor-map encode, fp64 CPU reference, a simple GPU combine kernel (test-only), CUDA-event
// timings. Build: lab/scripts/cuda-sm90-build.sh (run: lab/scripts/cuda-sm90-check.sh). Usage:
//   sm90_check check            correctness matrix (bf16/fp16, h_q x s_q, ragged, NaN-poisoned outputs)
//   sm90_check bench [gemm_tflops]   timing table (b=128 varlen and small batch)
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mla4j/params.h"
#include "mla4j/schedule.h"
#include "../sm90_launch.h"

extern "C" __global__ void mla4j_decode_sm90(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv);
#ifdef MLA4J_HAVE_SHARED_COMBINE
// The project's combine kernel (kernels-cuda/common/combine.cu), linked in when it exists.
extern "C" __global__ void mla4j_combine(const __grid_constant__ MlaParams p);
static bool g_shared_combine = true;  // SM90_TEST_COMBINE=1 switches to the test-only one below
#else
static bool g_shared_combine = false;
#endif

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(e_), __FILE__, __LINE__, \
                    cudaGetErrorString(e_));                                                   \
            exit(2);                                                                           \
        }                                                                                      \
    } while (0)

// ------------------------------------------------------------------ host split schedule (port of SplitSchedule.java)
struct Schedule {
    int parts;
    std::vector<int> meta;     // [parts * 8]
    std::vector<int> offsets;  // [b + 1]
};
static int g_F = MLA4J_FIXED_OVERHEAD_BLOCKS;  // split overhead F of the schedule (SM90_F=..., sweep mode varies it)
static bool g_pdl = false;                     // SM90_PDL=1: the shared combine launched with programmatic dependent launch
static Schedule make_schedule(const std::vector<int>& seqlens, int parts) {
    const int b = (int)seqlens.size(), f = g_F;
    std::vector<int> blocks(b);
    long long total = 0;
    for (int s = 0; s < b; ++s) blocks[s] = (seqlens[s] + 63) / 64, total += blocks[s] + f;
    long long per = std::max((total + parts - 1) / parts + f, 2LL * f);
    Schedule r{parts, std::vector<int>(parts * MLA4J_SCHED_INTS, 0), std::vector<int>(b + 1, 0)};
    std::vector<int> splits(b, 0);
    int s = 0, blk = 0;
    for (int p = 0; p < parts; ++p) {
        int bi = s, bb = blk, bs = s < b ? splits[s] : 0, ei = s - 1, eb = 0;
        long long remain = p == parts - 1 ? (1LL << 60) : per;
        while (s < b) {
            long long rest = blocks[s] - blk;
            if (remain >= rest + f) {
                remain -= rest + f; splits[s]++; ei = s; eb = blocks[s]; s++; blk = 0;
            } else {
                long long take = remain - f;
                if (take > 0) { blk += (int)take; splits[s]++; ei = s; eb = blk; }
                break;
            }
        }
        int* m = &r.meta[p * MLA4J_SCHED_INTS];
        m[0] = bi; m[1] = bb; m[2] = ei; m[3] = eb; m[4] = bs;
    }
    for (int i = 0; i < b; ++i) r.offsets[i + 1] = r.offsets[i] + splits[i];
    return r;
}

// ------------------------------------------------------------------ TMA tensor map (documented in sm90/README.md)
static PFN_cuTensorMapEncodeTiled_v12000 get_encode() {
    static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
    if (!fn) {
        cudaDriverEntryPointQueryResult q;
        CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", (void**)&fn, 12000, cudaEnableDefault, &q));
        if (q != cudaDriverEntryPointSuccess || !fn) { fprintf(stderr, "no cuTensorMapEncodeTiled\n"); exit(2); }
    }
    return fn;
}
static CUtensorMap make_kv_map(const void* cache, long long num_blocks) {
    CUtensorMap m;
    cuuint64_t dims[2] = {MLA4J_D_QK, (cuuint64_t)num_blocks * MLA4J_TILE};
    cuuint64_t strides[1] = {MLA4J_D_QK * 2};
    cuuint32_t box[2] = {64, 64};
    cuuint32_t estr[2] = {1, 1};
    CUresult r = get_encode()(&m, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<void*>(cache), dims, strides, box, estr,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                              CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) { fprintf(stderr, "cuTensorMapEncodeTiled failed: %d\n", (int)r); exit(2); }
    return m;
}

// ------------------------------------------------------------------ device helpers (test-only)
__device__ __forceinline__ uint32_t hash32(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return (uint32_t)x;
}
// Uniform in [-amp, amp), rounded to the 16-bit dtype.
__global__ void fill_random(uint16_t* dst, size_t n, uint64_t seed, float amp, int dtype) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float u = (hash32(seed * 0x9E3779B97F4A7C15ULL + i) >> 8) * (1.0f / 16777216.0f);
        float v = (2.f * u - 1.f) * amp;
        dst[i] = dtype == MLA4J_BF16 ? __bfloat16_as_ushort(__float2bfloat16_rn(v)) : __half_as_ushort(__float2half_rn(v));
    }
}

// Test-only combine: merges the partials of every sequence with more than one split.
// Grid (rows, b), 128 threads x 4 columns. The split weights are computed once per row in shared
// memory, then each thread streams its 4 columns of all partials (independent loads, unrolled).
// Launched with programmatic dependent launch: it waits for the decode grid here.
constexpr int kCombineMaxSplits = 1024;
template <class T>
__global__ void combine_kernel(const MlaParams p) {
    __shared__ float wts[kCombineMaxSplits];
    __shared__ float red[2][4];
    cudaGridDependencySynchronize();
    const int s = blockIdx.y, r = blockIdx.x, t = threadIdx.x;
    const int j0 = p.split_offsets[s], n = p.split_offsets[s + 1] - j0;
    if (n <= 1) return;  // a single split wrote o/lse itself
    float mx = -INFINITY;
    for (int j = t; j < n; j += 128) mx = fmaxf(mx, p.lse_accum[(size_t)(j0 + j) * p.rows + r]);
    for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((t & 31) == 0) red[0][t >> 5] = mx;
    __syncthreads();
    mx = fmaxf(fmaxf(red[0][0], red[0][1]), fmaxf(red[0][2], red[0][3]));
    float sum = 0.f;
    for (int j = t; j < n; j += 128) {
        const float e = mx == -INFINITY ? 0.f : expf(p.lse_accum[(size_t)(j0 + j) * p.rows + r] - mx);
        wts[j] = e;
        sum += e;
    }
    for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if ((t & 31) == 0) red[1][t >> 5] = sum;
    __syncthreads();
    sum = red[1][0] + red[1][1] + red[1][2] + red[1][3];
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    float acc[4] = {0, 0, 0, 0};
    const float4* src = reinterpret_cast<const float4*>(p.o_accum + ((size_t)j0 * p.rows + r) * 512) + t;
    const size_t step = (size_t)p.rows * 128;  // float4s between consecutive splits of this row
#pragma unroll 8
    for (int j = 0; j < n; ++j) {
        const float w = wts[j] * inv;
        if (w == 0.f) continue;  // also skips empty splits, whose partial is 0
        const float4 v = src[j * step];
        acc[0] += w * v.x; acc[1] += w * v.y; acc[2] += w * v.z; acc[3] += w * v.w;
    }
    T* o = reinterpret_cast<T*>(p.o) + ((size_t)s * p.rows + r) * 512 + t * 4;
    for (int c = 0; c < 4; ++c) o[c] = T(acc[c]);
    if (t == 0) {
        const int head = r % p.h_q, iq = r / p.h_q;
        p.lse[(size_t)s * p.rows + head * p.s_q + iq] = sum > 0.f ? mx + logf(sum) : INFINITY;
    }
}

// ------------------------------------------------------------------ one problem on the device
static int g_sms = 132;
// Launch the two tiles of a part as a 2-CTA cluster when the tile count is even, as Java does (r13: placement
// in one GPC; the kernel shares loads by multicast only when built with -DMLA4J_SM90_MULTICAST=1).
// On by default; SM90_CLUSTER=0 launches plainly.
static bool g_cluster = true;
static int g_max_pairs = 66;   // co-resident 2-CTA clusters (cudaOccupancyMaxActiveClusters)

struct Problem {
    int b, s_q, h_q, dtype, causal, parts;
    std::vector<int> seqlens;
    int max_blocks = 0;
    long long num_blocks = 0;
    std::vector<int> block_table;
    Schedule sched;
    // device
    void *q = nullptr, *o = nullptr;
    const void* cache = nullptr;
    int *bt = nullptr, *sl = nullptr, *meta = nullptr, *offs = nullptr;
    float *lse = nullptr, *oacc = nullptr, *lacc = nullptr;
    MlaParams prm{};
    CUtensorMap tm{};
    int rows() const { return s_q * h_q; }
    int tiles() const { return (rows() + 63) / 64; }
    bool clustered() const { return g_cluster && tiles() % 2 == 0; }
};

// One wave: all CTAs co-resident (pairs of SMs in one GPC when clustered).
static int default_parts(int tiles) {
    if (g_cluster && tiles % 2 == 0) return std::max(1, 2 * g_max_pairs / tiles);
    return std::max(1, g_sms / tiles);
}

// Device buffers (except the cache, owned by the caller) and params for p.
static void setup(Problem& P, const void* cache, long long num_blocks, uint64_t seed) {
    const int b = P.b, rows = P.rows();
    P.cache = cache;
    P.num_blocks = num_blocks;
    P.sched = make_schedule(P.seqlens, P.parts);
    const int max_splits = b + P.parts;
    CK(cudaMalloc(&P.q, (size_t)b * rows * 576 * 2));
    CK(cudaMalloc(&P.o, (size_t)b * rows * 512 * 2));
    CK(cudaMalloc(&P.lse, (size_t)b * rows * 4));
    CK(cudaMalloc(&P.oacc, (size_t)max_splits * rows * 512 * 4));
    CK(cudaMalloc(&P.lacc, (size_t)max_splits * rows * 4));
    CK(cudaMalloc(&P.bt, (size_t)P.block_table.size() * 4));
    CK(cudaMalloc(&P.sl, (size_t)b * 4));
    CK(cudaMalloc(&P.meta, (size_t)P.sched.meta.size() * 4));
    CK(cudaMalloc(&P.offs, (size_t)(b + 1) * 4));
    CK(cudaMemcpy(P.bt, P.block_table.data(), P.block_table.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(P.sl, P.seqlens.data(), b * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(P.meta, P.sched.meta.data(), P.sched.meta.size() * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(P.offs, P.sched.offsets.data(), (b + 1) * 4, cudaMemcpyHostToDevice));
    fill_random<<<1024, 256>>>((uint16_t*)P.q, (size_t)b * rows * 576, seed, 2.0f, P.dtype);
    CK(cudaGetLastError());
    MlaParams& m = P.prm;
    m.q = P.q; m.k_cache = cache; m.block_table = P.bt; m.seqlens = P.sl; m.o = P.o; m.lse = P.lse;
    m.o_accum = P.oacc; m.lse_accum = P.lacc; m.sched = P.meta; m.split_offsets = P.offs;
    m.b = b; m.s_q = P.s_q; m.h_q = P.h_q; m.rows = rows; m.max_blocks = P.max_blocks;
    m.num_blocks = (int)num_blocks; m.num_parts = P.parts; m.max_splits = max_splits;
    m.causal = P.causal && P.s_q > 1; m.dtype = P.dtype;
    m.scale = 1.0f / std::sqrt(576.0f);
    m.scale_log2 = m.scale * 1.4426950408889634f;
    m.split_overhead = g_F;
    m.page_shift = 6;  // 64-token pages
    m.d_qk = MLA4J_D_QK;  // DeepSeek widths (the combine reads d_v)
    m.d_v = MLA4J_D_V;
    P.tm = make_kv_map(cache, num_blocks);
}
static void release(Problem& P) {
    cudaFree(P.q); cudaFree(P.o); cudaFree(P.lse); cudaFree(P.oacc); cudaFree(P.lacc);
    cudaFree(P.bt); cudaFree(P.sl); cudaFree(P.meta); cudaFree(P.offs);
}

static void launch_decode(const Problem& P, cudaStream_t st) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(P.parts, P.tiles());
    cfg.blockDim = dim3(MLA4J_SM90_THREADS);
    cfg.dynamicSmemBytes = MLA4J_SM90_SMEM_BYTES;
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = 1;
    attr[0].val.clusterDim.y = 2;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = P.clustered() ? 1 : 0;
    CK(cudaLaunchKernelEx(&cfg, mla4j_decode_sm90, P.prm, P.tm));
}
static int max_active_pairs() {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(132, 2);
    cfg.blockDim = dim3(MLA4J_SM90_THREADS);
    cfg.dynamicSmemBytes = MLA4J_SM90_SMEM_BYTES;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = 1;
    attr[0].val.clusterDim.y = 2;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    int n = 0;
    CK(cudaOccupancyMaxActiveClusters(&n, mla4j_decode_sm90, &cfg));
    return n;
}
static void launch_combine(const Problem& P, cudaStream_t st, bool pdl) {
#ifdef MLA4J_HAVE_SHARED_COMBINE
    if (g_shared_combine) {  // grid (b, ceil(rows / rpc), 4), block 256 (combine.cu); PDL only with SM90_PDL=1
        int most = 1;
        for (int s = 0; s < P.b; ++s) most = std::max(most, P.sched.offsets[s + 1] - P.sched.offsets[s]);
        const int rpc = mla4j_combine_rows_per_cta(most);
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(P.b, (P.rows() + rpc - 1) / rpc, 4);
        cfg.blockDim = dim3(256);
        cfg.stream = st;
        cudaLaunchAttribute attr[1];
        attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        attr[0].val.programmaticStreamSerializationAllowed = 1;
        cfg.attrs = attr;
        cfg.numAttrs = g_pdl ? 1 : 0;
        CK(cudaLaunchKernelEx(&cfg, mla4j_combine, P.prm));
        return;
    }
#endif
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(P.rows(), P.b);
    cfg.blockDim = dim3(128);
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    if (P.dtype == MLA4J_BF16)
        CK(cudaLaunchKernelEx(&cfg, combine_kernel<__nv_bfloat16>, P.prm));
    else
        CK(cudaLaunchKernelEx(&cfg, combine_kernel<__half>, P.prm));
}

// ------------------------------------------------------------------ fp64 reference
static double to_double(uint16_t v, int dtype) {
    if (dtype == MLA4J_BF16) { uint32_t u = (uint32_t)v << 16; float f; memcpy(&f, &u, 4); return f; }
    __half_raw h; h.x = v; return (double)__half2float(__half(h));
}
struct RefOut { std::vector<double> o, lse; };
static RefOut reference(const Problem& P, const std::vector<uint16_t>& q, const std::vector<uint16_t>& cache) {
    const int rows = P.rows();
    RefOut R{std::vector<double>((size_t)P.b * rows * 512), std::vector<double>((size_t)P.b * rows)};
    const double scale = 1.0 / std::sqrt(576.0);
    auto work = [&](int tid, int nt) {
        std::vector<double> qd(576), sc, o(512);
        for (int job = tid; job < P.b * rows; job += nt) {
            const int s = job / rows, r = job % rows, iq = r / P.h_q, head = r % P.h_q;
            const int sk = P.seqlens[s];
            const int last = (P.causal && P.s_q > 1) ? sk - P.s_q + iq : sk - 1;
            for (int c = 0; c < 576; ++c) qd[c] = to_double(q[((size_t)s * rows + r) * 576 + c], P.dtype);
            const int n = std::max(0, std::min(last, sk - 1) + 1);
            sc.assign(n, 0.0);
            double mx = -INFINITY;
            for (int k = 0; k < n; ++k) {
                const uint16_t* kv = &cache[((size_t)P.block_table[(size_t)s * P.max_blocks + k / 64] * 64 + k % 64) * 576];
                double d = 0;
                for (int c = 0; c < 576; ++c) d += qd[c] * to_double(kv[c], P.dtype);
                sc[k] = d * scale;
                mx = std::max(mx, sc[k]);
            }
            std::fill(o.begin(), o.end(), 0.0);
            double sum = 0;
            for (int k = 0; k < n; ++k) {
                const double w = std::exp(sc[k] - mx);
                sum += w;
                const uint16_t* kv = &cache[((size_t)P.block_table[(size_t)s * P.max_blocks + k / 64] * 64 + k % 64) * 576];
                for (int c = 0; c < 512; ++c) o[c] += w * to_double(kv[c], P.dtype);
            }
            for (int c = 0; c < 512; ++c) R.o[((size_t)s * rows + r) * 512 + c] = n ? o[c] / sum : 0.0;
            R.lse[(size_t)s * rows + head * P.s_q + iq] = n ? mx + std::log(sum) : INFINITY;
        }
    };
    const int nt = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> th;
    for (int t = 0; t < nt; ++t) th.emplace_back(work, t, nt);
    for (auto& t : th) t.join();
    return R;
}

// ------------------------------------------------------------------ check mode
static bool run_check_case(int dtype, int h_q, int s_q, int parts_mode, std::mt19937_64& rng, int case_id) {
    Problem P;
    P.dtype = dtype; P.h_q = h_q; P.s_q = s_q; P.causal = 1;
    static const int pick[] = {0, 1, 2, 3, 63, 64, 65, 127, 129, 300, 640, 1000, 1777, 2500};
    P.b = 3 + (int)(rng() % 4);
    for (int s = 0; s < P.b; ++s) P.seqlens.push_back(pick[rng() % (sizeof(pick) / sizeof(int))]);
    P.seqlens[rng() % P.b] = 1000 + (int)(rng() % 1500);  // at least one long, ragged sequence
    int total = 0;
    for (int l : P.seqlens) P.max_blocks = std::max(P.max_blocks, (l + 63) / 64), total += (l + 63) / 64;
    P.max_blocks += 1;
    const long long nblk = total + 7;
    std::vector<int> perm(nblk);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    P.block_table.assign((size_t)P.b * P.max_blocks, 0);
    int next = 0;
    for (int s = 0; s < P.b; ++s)
        for (int k = 0; k < P.max_blocks; ++k)
            P.block_table[(size_t)s * P.max_blocks + k] = k < (P.seqlens[s] + 63) / 64 ? perm[next++] : perm[nblk - 1 - (k % 7)];
    P.parts = parts_mode == 0 ? default_parts((P.rows() + 63) / 64) : 1 + (int)(rng() % 7);

    uint16_t* cache;
    CK(cudaMalloc(&cache, (size_t)nblk * 64 * 576 * 2));
    fill_random<<<1024, 256>>>(cache, (size_t)nblk * 64 * 576, rng(), 1.0f, dtype);
    CK(cudaGetLastError());
    // Stale tail of each partly used last block: NaN, which the kernel must never let through.
    for (int s = 0; s < P.b; ++s) {
        const int l = P.seqlens[s];
        if (l % 64 == 0) continue;
        const int phys = P.block_table[(size_t)s * P.max_blocks + l / 64];
        CK(cudaMemset(cache + ((size_t)phys * 64 + l % 64) * 576, 0xFF, (size_t)(64 - l % 64) * 576 * 2));
    }
    setup(P, cache, nblk, rng());
    const int rows = P.rows();
    CK(cudaMemset(P.o, 0xFF, (size_t)P.b * rows * 512 * 2));
    CK(cudaMemset(P.lse, 0xFF, (size_t)P.b * rows * 4));
    CK(cudaMemset(P.oacc, 0xFF, (size_t)(P.b + P.parts) * rows * 512 * 4));
    CK(cudaMemset(P.lacc, 0xFF, (size_t)(P.b + P.parts) * rows * 4));
    launch_decode(P, 0);
    CK(cudaGetLastError());
    launch_combine(P, 0, true);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());

    std::vector<uint16_t> hq((size_t)P.b * rows * 576), hc((size_t)nblk * 64 * 576), ho((size_t)P.b * rows * 512);
    std::vector<float> hl((size_t)P.b * rows);
    CK(cudaMemcpy(hq.data(), P.q, hq.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hc.data(), cache, hc.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(ho.data(), P.o, ho.size() * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(hl.data(), P.lse, hl.size() * 4, cudaMemcpyDeviceToHost));
    RefOut R = reference(P, hq, hc);

    double num = 0, den = 0, maxerr = 0, lse_max = 0;
    long bad = 0;
    for (size_t i = 0; i < ho.size(); ++i) {
        const double g = to_double(ho[i], dtype), r = R.o[i];
        if (!std::isfinite(g)) { ++bad; continue; }
        num += (g - r) * (g - r); den += r * r;
        maxerr = std::max(maxerr, std::fabs(g - r));
    }
    for (size_t i = 0; i < hl.size(); ++i) {
        const double g = hl[i], r = R.lse[i];
        if (std::isinf(r)) { if (!(std::isinf(g) && g > 0)) ++bad; continue; }
        if (!std::isfinite(g)) { ++bad; continue; }
        lse_max = std::max(lse_max, std::fabs(g - r));
    }
    const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    const double tol = dtype == MLA4J_BF16 ? 1e-2 : 3e-3;
    const bool ok = bad == 0 && rel < tol && lse_max < 2e-3;
    std::string lens;
    for (int l : P.seqlens) lens += std::to_string(l) + ",";
    printf("case %3d %s h_q=%3d s_q=%d b=%d parts=%3d splits=%3d lens=[%s] relL2=%.3e maxabs=%.3e lse_maxabs=%.3e nonfinite=%ld %s\n",
           case_id, dtype == MLA4J_BF16 ? "bf16" : "fp16", h_q, s_q, P.b, P.parts, P.sched.offsets[P.b], lens.c_str(), rel,
           maxerr, lse_max, bad, ok ? "PASS" : "FAIL");
    release(P);
    cudaFree(cache);
    return ok;
}

// quick: a few cases covering both schedules, for slow tools (compute-sanitizer).
static int check_mode(bool quick) {
    std::mt19937_64 rng(20261123);
    int fails = 0, n = 0;
    if (quick) {
        for (int pm : {0, 1}) {
            fails += !run_check_case(MLA4J_BF16, 16, 1, pm, rng, n++);
            fails += !run_check_case(MLA4J_BF16, 128, 2, pm, rng, n++);
            fails += !run_check_case(MLA4J_FP16, 3, 4, pm, rng, n++);
        }
        printf("CHECK %s: %d of %d cases failed\n", fails ? "FAILED" : "PASSED", fails, n);
        return fails ? 1 : 0;
    }
    for (int dtype : {MLA4J_BF16, MLA4J_FP16})
        for (int h_q : {1, 3, 16, 64, 128})
            for (int s_q : {1, 2, 4})
                for (int pm : {0, 1}) fails += !run_check_case(dtype, h_q, s_q, pm, rng, n++);
    printf("CHECK %s: %d of %d cases failed\n", fails ? "FAILED" : "PASSED", fails, n);
    return fails ? 1 : 0;
}

// ------------------------------------------------------------------ bench mode
static float median(std::vector<float> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }

static double copy_bandwidth() {
    const size_t n = 1ull << 31;  // 2 GiB each way
    void *a, *b;
    CK(cudaMalloc(&a, n)); CK(cudaMalloc(&b, n));
    CK(cudaMemset(a, 1, n));
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    std::vector<float> t;
    for (int i = 0; i < 7; ++i) {
        cudaEventRecord(e0); CK(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice)); cudaEventRecord(e1);
        cudaEventSynchronize(e1); float ms; cudaEventElapsedTime(&ms, e0, e1); if (i) t.push_back(ms);
    }
    cudaFree(a); cudaFree(b);
    return 2.0 * n / (median(t) * 1e-3);
}

struct BenchCfg { int b, mean, h_q, s_q; bool varlen; };

static std::vector<int> draw_lens(const BenchCfg& c, std::mt19937_64& rng) {
    std::vector<int> l(c.b, c.mean);
    if (c.varlen) {
        std::normal_distribution<double> nd(c.mean, c.mean / 2.0);
        for (int& x : l) x = std::max(c.s_q, (int)std::llround(nd(rng)));
    }
    return l;
}

static int bench_cfgs(const std::vector<BenchCfg>& cfgs, double gemm_tflops, const std::vector<int>& fs);
static int bench_mode(double gemm_tflops) {
    std::vector<BenchCfg> cfgs;
    for (int mean : {4096, 8192, 16384, 32768})
        for (int h_q : {16, 64, 128})
            for (int s_q : {1, 2}) cfgs.push_back({128, mean, h_q, s_q, true});
    cfgs.push_back({1, 4096, 16, 1, false});
    cfgs.push_back({1, 4096, 128, 1, false});
    cfgs.push_back({1, 32768, 16, 1, false});
    cfgs.push_back({1, 32768, 128, 1, false});
    cfgs.push_back({4, 32768, 128, 1, false});
    return bench_cfgs(cfgs, gemm_tflops, {g_F});
}
// Small-batch split policy sweep: the same configs under several split overheads F.
static int sweep_mode(double gemm_tflops) {
    std::vector<BenchCfg> cfgs;
    for (int b : {1, 2, 4, 8})
        for (int mean : {4096, 32768})
            for (int h_q : {16, 128}) cfgs.push_back({b, mean, h_q, 1, false});
    cfgs.push_back({1, 65536, 16, 1, false});
    cfgs.push_back({16, 8192, 16, 1, false});
    cfgs.push_back({32, 4096, 128, 1, false});
    cfgs.push_back({128, 4096, 16, 1, true});
    cfgs.push_back({128, 4096, 64, 2, true});
    cfgs.push_back({128, 32768, 16, 1, true});
    if (getenv("SM90_SWEEP_F")) return bench_cfgs(cfgs, gemm_tflops, {atoi(getenv("SM90_SWEEP_F"))});
    return bench_cfgs(cfgs, gemm_tflops, {5, 3, 2, 1});
}
static int bench_cfgs(const std::vector<BenchCfg>& cfgs, double gemm_tflops, const std::vector<int>& fs) {
    CK(cudaFuncSetAttribute(mla4j_decode_sm90, cudaFuncAttributeMaxDynamicSharedMemorySize, MLA4J_SM90_SMEM_BYTES));
    const double bw = copy_bandwidth();
    printf("device copy bandwidth (read+write): %.3f TB/s; GEMM peak used: %.0f TFLOP/s; combine PDL %s\n", bw / 1e12,
           gemm_tflops, g_pdl ? "on" : "off");

    std::mt19937_64 rng(7);
    std::vector<std::vector<int>> lens;
    long long max_blocks_needed = 0;
    for (auto& c : cfgs) {
        lens.push_back(draw_lens(c, rng));
        long long t = 0;
        for (int l : lens.back()) t += (l + 63) / 64;
        max_blocks_needed = std::max(max_blocks_needed, t);
    }
    // One cache for all configs, large enough to rotate small problems out of L2.
    const long long nblk = std::max(max_blocks_needed + 64, 16LL * 512 * 4 + 64);
    uint16_t* cache;
    CK(cudaMalloc(&cache, (size_t)nblk * 64 * 576 * 2));
    fill_random<<<4096, 256>>>(cache, (size_t)nblk * 64 * 576, 99, 1.0f, MLA4J_BF16);
    CK(cudaDeviceSynchronize());

    printf("\n| b | s_k mean | h_q | s_q | varlen | F | parts | splits | us (decode+combine) | us (decode) | TB/s | TFLOP/s | floor us | fraction of floor |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    cudaStream_t st; CK(cudaStreamCreate(&st));
    cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
    for (size_t ci = 0; ci < cfgs.size(); ++ci)
      for (int F : fs) {
        g_F = F;
        const BenchCfg& c = cfgs[ci];
        long long sumk = 0;
        for (int l : lens[ci]) sumk += l;
        // Small problems (< 160 MB of KV): rotate 16 block tables so the cache is not L2-resident.
        const int rot = sumk * 1152 < (160ll << 20) ? 16 : 1;
        std::vector<Problem> Ps(rot);
        std::vector<int> perm(nblk);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        int next = 0;
        for (int r = 0; r < rot; ++r) {
            Problem& P = Ps[r];
            P.b = c.b; P.s_q = c.s_q; P.h_q = c.h_q; P.dtype = MLA4J_BF16; P.causal = 1;
            P.seqlens = lens[ci];
            for (int l : P.seqlens) P.max_blocks = std::max(P.max_blocks, (l + 63) / 64);
            P.block_table.assign((size_t)P.b * P.max_blocks, 0);
            for (int s = 0; s < P.b; ++s)
                for (int k = 0; k < (P.seqlens[s] + 63) / 64; ++k) P.block_table[(size_t)s * P.max_blocks + k] = perm[next++ % nblk];
            P.parts = default_parts(P.tiles());
            setup(P, cache, nblk, 1000 + r);
        }
        auto run_all = [&](bool with_combine) {
            for (int r = 0; r < rot; ++r) {
                launch_decode(Ps[r], st);
                if (with_combine) launch_combine(Ps[r], st, true);
            }
        };
        auto time_it = [&](bool with_combine) {
            const int reps = c.b <= 4 ? 30 : 12;
            cudaGraph_t g; cudaGraphExec_t ge;
            CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
            run_all(with_combine);
            CK(cudaStreamEndCapture(st, &g));
            CK(cudaGraphInstantiate(&ge, g, 0));
            // Warm-up: at least 3 replays and ~30 ms of work, so clocks and caches settle first.
            cudaEventRecord(e0, st);
            for (int i = 0; i < 3; ++i) CK(cudaGraphLaunch(ge, st));
            cudaEventRecord(e1, st);
            CK(cudaEventSynchronize(e1));
            float warm_ms;
            cudaEventElapsedTime(&warm_ms, e0, e1);
            for (int i = 0, n = (int)std::min(2000.f, 30.f / std::max(warm_ms / 3, 1e-3f)); i < n; ++i) CK(cudaGraphLaunch(ge, st));
            std::vector<float> t;
            for (int i = 0; i < reps; ++i) {
                cudaEventRecord(e0, st); CK(cudaGraphLaunch(ge, st)); cudaEventRecord(e1, st);
                CK(cudaEventSynchronize(e1)); float ms; cudaEventElapsedTime(&ms, e0, e1); t.push_back(ms * 1000.f / rot);
            }
            CK(cudaGetLastError());
            cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
            return median(t);
        };
        const float us_all = time_it(true), us_dec = time_it(false);
        const double flops = 2.0 * c.s_q * (double)sumk * c.h_q * (576 + 512);
        const double bytes = 2.0 * ((double)sumk * 576 + (double)c.b * c.s_q * c.h_q * (576 + 512));
        const double floor_us = std::max(bytes / bw, flops / (gemm_tflops * 1e12)) * 1e6;
        printf("| %d | %d | %d | %d | %s | %d | %d | %d | %.1f | %.1f | %.2f | %.0f | %.1f | %.3f |\n", c.b, c.mean, c.h_q, c.s_q,
               c.varlen ? "N(m,m/2)" : "fixed", F, Ps[0].parts, Ps[0].sched.offsets[c.b], us_all, us_dec, bytes / (us_all * 1e-6) / 1e12,
               flops / (us_all * 1e-6) / 1e12, floor_us, floor_us / us_all);
        fflush(stdout);
        for (auto& P : Ps) release(P);
    }
    cudaFree(cache);
    return 0;
}

// For the single-config modes: a random bf16 cache with 64 spare blocks and P.block_table filled from a
// shuffled block order (P.seqlens set); returns the cache's block count.
static long long alloc_shuffled_cache(Problem& P, std::mt19937_64& rng, uint16_t*& cache) {
    long long total = 0;
    for (int l : P.seqlens) P.max_blocks = std::max(P.max_blocks, (l + 63) / 64), total += (l + 63) / 64;
    const long long nblk = total + 64;
    CK(cudaMalloc(&cache, (size_t)nblk * 64 * 576 * 2));
    fill_random<<<4096, 256>>>(cache, (size_t)nblk * 64 * 576, 5, 1.0f, MLA4J_BF16);
    std::vector<int> perm(nblk);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    P.block_table.assign((size_t)P.b * P.max_blocks, 0);
    int next = 0;
    for (int s = 0; s < P.b; ++s)
        for (int k = 0; k < (P.seqlens[s] + 63) / 64; ++k) P.block_table[(size_t)s * P.max_blocks + k] = perm[next++];
    return nblk;
}

// One config, decode launched 3 times (for ncu: --launch-skip 2 --launch-count 1).
static int one_mode(int b, int mean, int h_q, int s_q) {
    std::mt19937_64 rng(11);
    BenchCfg c{b, mean, h_q, s_q, b > 4};
    Problem P;
    P.b = b; P.s_q = s_q; P.h_q = h_q; P.dtype = MLA4J_BF16; P.causal = 1;
    P.seqlens = draw_lens(c, rng);
    uint16_t* cache;
    const long long nblk = alloc_shuffled_cache(P, rng, cache);
    P.parts = default_parts(P.tiles());
    setup(P, cache, nblk, 3);
    for (int i = 0; i < 3; ++i) launch_decode(P, 0);
    CK(cudaGetLastError());
    CK(cudaDeviceSynchronize());
    printf("one: b=%d mean=%d h_q=%d s_q=%d parts=%d done\n", b, mean, h_q, s_q, P.parts);
    return 0;
}

#if MLA4J_SM90_PROBE
extern "C" void mla4j_sm90_probe_read(unsigned long long* host);
extern "C" void mla4j_sm90_probe_clear();
__global__ void empty_kernel(int x) {
    if (x == 12345) printf("never\n");
}
#if MLA4J_SM90_PROBE == 2
extern "C" void mla4j_sm90_blkprobe_read(long long* host);
// Per-block timeline (PROBE=2): medians over CTAs and blocks 8..63 (steady state) of the intervals between
// the probe points, in SM cycles.
static void print_block_probe(int ctas) {
    static long long t[264][64][12];
    mla4j_sm90_blkprobe_read(&t[0][0][0]);
    struct Iv { const char* name; int a, b; };  // t[b] - t[a] of the same block
    const Iv iv[] = {{"load: issued -> last box seen landed", 0, 3},
                     {"lead: issued -> consumer ready", 0, 2},
                     {"wait: ready -> box 0 seen landed", 2, 1},
                     {"S: ready -> S done", 2, 4},
                     {"softmax + handoff: S done -> P published", 4, 5},
                     {"  mask + row max", 4, 8},
                     {"  lazy max + exp2 + pack", 8, 9},
                     {"  barrier B", 9, 10},
                     {"  zero tail + store P + fence", 10, 11},
                     {"  barrier A", 11, 5},
                     {"P V (WG0): P published -> released", 5, 6},
                     {"hold: last box seen -> WG0 released", 3, 6},
                     {"WG1 after WG0: WG0 released -> WG1 done", 6, 7}};
    printf("  per-block timeline (SM cycles; medians / p10 / p90 over CTAs x blocks 8..63):\n");
    for (const Iv& v : iv) {
        std::vector<long long> d;
        for (int c = 0; c < ctas && c < 264; ++c)
            for (int i = 8; i < 64; ++i)
                if (t[c][i][v.a] && t[c][i][v.b]) d.push_back(t[c][i][v.b] - t[c][i][v.a]);
        if (d.empty()) continue;
        std::sort(d.begin(), d.end());
        printf("    %-44s %7lld  [%lld, %lld]  n=%zu\n", v.name, d[d.size() / 2], d[d.size() / 10], d[d.size() * 9 / 10], d.size());
    }
    for (int k : {0, 2, 6}) {  // period of the producer's issues, the consumer's starts and releases
        std::vector<long long> d;
        for (int c = 0; c < ctas && c < 264; ++c)
            for (int i = 8; i < 63; ++i)
                if (t[c][i][k] && t[c][i + 1][k]) d.push_back(t[c][i + 1][k] - t[c][i][k]);
        if (d.empty()) continue;
        std::sort(d.begin(), d.end());
        printf("    period of %-34s %7lld  [%lld, %lld]\n", k == 0 ? "issues" : k == 2 ? "consumer starts" : "releases", d[d.size() / 2],
               d[d.size() / 10], d[d.size() * 9 / 10]);
    }
}
#endif
// Timeline of one decode (the last of 20 back-to-back launches) per CTA, from %globaltimer stamps:
// 0 entry, 1 barriers ready, 2 producer has block 0's address, 3 Q tile loaded, 4 first S, 5 first
// block done, 6 last block done, 7 outputs written. Then the cost of an empty kernel of the same shape
// in a graph, i.e. the launch floor.
static int probe_mode(int b, int mean, int h_q, int s_q) {
    std::mt19937_64 rng(11);
    Problem P;
    P.b = b; P.s_q = s_q; P.h_q = h_q; P.dtype = MLA4J_BF16; P.causal = 1;
    P.seqlens.assign(b, mean);
    uint16_t* cache;
    const long long nblk = alloc_shuffled_cache(P, rng, cache);
    P.parts = default_parts(P.tiles());
    setup(P, cache, nblk, 3);
    CK(cudaDeviceSynchronize());
    mla4j_sm90_probe_clear();
    for (int i = 0; i < 20; ++i) launch_decode(P, 0);
    CK(cudaDeviceSynchronize());
    static unsigned long long t[264][12];
    mla4j_sm90_probe_read(&t[0][0]);
    const int ctas = P.parts * P.tiles();
    unsigned long long t0 = ~0ull;
    for (int i = 0; i < ctas && i < 264; ++i) if (t[i][0]) t0 = std::min(t0, t[i][0]);
    printf("probe b=%d s_k=%d h_q=%d F=%d parts=%d splits=%d (times in ns from the first CTA's entry)\n", b, mean, h_q, g_F,
           P.parts, P.sched.offsets[b]);
    std::vector<std::vector<long long>> col(12);
    for (int i = 0; i < ctas && i < 264; ++i) {
        if (!t[i][7]) continue;  // a CTA without work
        for (int k = 0; k < 12; ++k) col[k].push_back(t[i][k] ? (long long)(t[i][k] - t0) : -1);
        if (i < 4 || i % 32 == 0) {
            printf("  cta %3d:", i);
            for (int k = 0; k < 8; ++k) printf(" %7lld", t[i][k] ? (long long)(t[i][k] - t0) : -1);
            printf("\n");
        }
    }
    const char* names[12] = {"entry", "barriers", "prod.addr", "Q loaded", "first S", "first blk", "last blk", "written",
                             "cons.regs", "Q issued", "Q landed", "-"};
    for (int k = 0; k < 11; ++k) {
        auto v = col[k];
        if (v.empty()) continue;
        std::sort(v.begin(), v.end());
        printf("  %-10s min %7lld  median %7lld  max %7lld\n", names[k], v.front(), v[v.size() / 2], v.back());
    }
#if MLA4J_SM90_PROBE == 2
    print_block_probe(ctas);
#endif
    // launch floor: 16 empty kernels of the decode's shape in a graph
    cudaStream_t st; CK(cudaStreamCreate(&st));
    CK(cudaFuncSetAttribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, MLA4J_SM90_SMEM_BYTES));
    for (int smem : {0, MLA4J_SM90_SMEM_BYTES}) {
        cudaGraph_t g; cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        for (int i = 0; i < 16; ++i) empty_kernel<<<ctas, MLA4J_SM90_THREADS, smem, st>>>(i);
        CK(cudaStreamEndCapture(st, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
        cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
        std::vector<float> ts;
        for (int r = 0; r < 30; ++r) {
            cudaEventRecord(e0, st); CK(cudaGraphLaunch(ge, st)); cudaEventRecord(e1, st);
            CK(cudaEventSynchronize(e1)); float ms; cudaEventElapsedTime(&ms, e0, e1); if (r >= 5) ts.push_back(ms * 1000.f / 16);
        }
        printf("  empty kernel <<<%d, %d, %d B smem>>> in a graph: %.2f us per launch\n", ctas, MLA4J_SM90_THREADS, smem, median(ts));
        cudaGraphExecDestroy(ge); cudaGraphDestroy(g);
    }
    release(P);
    cudaFree(cache);
    return 0;
}
#endif

int main(int argc, char** argv) {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    g_sms = prop.multiProcessorCount;
    printf("device: %s, %d SMs, smem/block optin %zu\n", prop.name, g_sms, prop.sharedMemPerBlockOptin);
    CK(cudaFuncSetAttribute(mla4j_decode_sm90, cudaFuncAttributeMaxDynamicSharedMemorySize, MLA4J_SM90_SMEM_BYTES));
    g_max_pairs = max_active_pairs();
    if (getenv("SM90_CLUSTER")) g_cluster = atoi(getenv("SM90_CLUSTER")) != 0;
    if (getenv("SM90_TEST_COMBINE")) g_shared_combine = false;
    if (getenv("SM90_F")) g_F = atoi(getenv("SM90_F"));
    if (getenv("SM90_PDL")) g_pdl = atoi(getenv("SM90_PDL")) != 0;
    if (getenv("SM90_CARVEOUT")) CK(cudaFuncSetAttribute(mla4j_combine, cudaFuncAttributePreferredSharedMemoryCarveout, 100));
    printf("split overhead F = %d (SM90_F)\n", g_F);
    printf("combine kernel: %s\n", g_shared_combine ? "kernels-cuda/common/combine.cu (mla4j_combine)" : "test-only (sm90_check.cu)");
    printf("co-resident 2-CTA clusters: %d; clusters %s\n", g_max_pairs, g_cluster ? "on (even tile counts)" : "off");
    // Same shared-memory carveout for the combine as for the decode: no SM reconfiguration between them.
    CK(cudaFuncSetAttribute(combine_kernel<__nv_bfloat16>, cudaFuncAttributePreferredSharedMemoryCarveout, 100));
    CK(cudaFuncSetAttribute(combine_kernel<__half>, cudaFuncAttributePreferredSharedMemoryCarveout, 100));
    const std::string mode = argc > 1 ? argv[1] : "check";
    if (mode == "check") return check_mode(false);
    if (mode == "quick") return check_mode(true);
    if (mode == "bench") return bench_mode(argc > 2 ? atof(argv[2]) : 790.0);
    if (mode == "sweep") return sweep_mode(argc > 2 ? atof(argv[2]) : 790.0);
#if MLA4J_SM90_PROBE
    if (mode == "probe" && argc > 4) return probe_mode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 1);
#endif
    if (mode == "one" && argc > 5) return one_mode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: sm90_check check | quick | bench [gemm_tflops] | sweep [gemm_tflops] | one b mean h_q s_q"
                    " | probe b mean h_q [s_q] (probe builds)\n");
    return 2;
}
