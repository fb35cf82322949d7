// mla4j: helper kernels of the UNFUSED cuBLAS baseline (and the GPU bench's random fill). Not part of
// the decode path: the fused kernels never call these. Built into its own image, mla4j_baseline.fatbin,
// by scripts/gpu-build-kernels.sh; driven from io.mla4j.cuda.CublasBaseline.
//
// Baseline decode, per sequence s (padded to max_sk keys):
//   1. mla4j_baseline_gather : K_s = the s_k paged cache rows of s, contiguous [max_sk, 576], zero past s_k
//   2. cuBLAS               : S_s = Q_s K_s^T  (fp32, [rows, max_sk])
//   3. mla4j_baseline_softmax: P_s = softmax(scale * S_s) over the keys the row sees (bottom-right causal),
//                              0 elsewhere, in the input dtype; lse in [b, h_q, s_q]
//   4. cuBLAS               : O_s = P_s V_s  (V = first 512 columns of K_s)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <math.h>
#include <stdint.h>
#include "mla4j/params.h"

#include "baseline_args.h"

// The baseline takes 64-token pages only (the GPU bench times it at the default geometry).
constexpr int kPage = 64;

// grid (max_sk / 64, b), 256 threads: one 64-token block of one sequence, 16-byte copies.
extern "C" __global__ void __launch_bounds__(256) mla4j_baseline_gather(const __grid_constant__ BaselineArgs a) {
    const int s = blockIdx.y, j = blockIdx.x;
    const int sk = a.seqlens[s];
    constexpr int VEC_PER_ROW = MLA4J_D_QK * 2 / 16; // 72 uint4 per 576-element row
    uint4* dst = reinterpret_cast<uint4*>(a.k_gathered) + ((size_t)s * a.max_sk + (size_t)j * kPage) * VEC_PER_ROW;
    const bool inside = j * kPage < sk;
    const uint4* src = nullptr;
    if (inside) {
        const int blk = a.block_table[(size_t)s * a.max_blocks + j];
        src = reinterpret_cast<const uint4*>(a.k_cache) + (size_t)blk * kPage * VEC_PER_ROW;
    }
    for (int i = threadIdx.x; i < kPage * VEC_PER_ROW; i += blockDim.x) {
        const int tok = j * kPage + i / VEC_PER_ROW;
        dst[i] = (inside && tok < sk) ? src[i] : make_uint4(0, 0, 0, 0); // zero padding: 0 * V must stay finite
    }
}

__device__ __forceinline__ float block_reduce(float v, bool is_max, float* red) {
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads(); // red may still be read by the previous reduction
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float r = is_max ? -INFINITY : 0.f;
    for (int i = 0; i < nw; i++) r = is_max ? fmaxf(r, red[i]) : r + red[i];
    return r;
}

// grid (rows, b), 256 threads: one query row. Row r = i_q * h_q + head sees keys [0, visible).
extern "C" __global__ void __launch_bounds__(256) mla4j_baseline_softmax(const __grid_constant__ BaselineArgs a) {
    __shared__ float red[32];
    const int r = blockIdx.x, s = blockIdx.y;
    const int iq = r / a.h_q, head = r % a.h_q;
    const int sk = a.seqlens[s];
    int visible = sk;
    if (a.causal) visible = max(0, min(sk, sk - a.s_q + iq + 1));
    const float* row = a.s + ((size_t)s * a.rows + r) * a.max_sk;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) m = fmaxf(m, row[j] * a.scale);
    m = block_reduce(m, true, red);
    float sum = 0.f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) sum += expf(row[j] * a.scale - m);
    sum = block_reduce(sum, false, red);
    const float inv = visible > 0 ? 1.f / sum : 0.f;
    const size_t base = ((size_t)s * a.rows + r) * a.max_sk;
    for (int j = threadIdx.x; j < a.max_sk; j += blockDim.x) {
        float pv = j < visible ? expf(row[j] * a.scale - m) * inv : 0.f;
        if (a.dtype == MLA4J_BF16) reinterpret_cast<__nv_bfloat16*>(a.p)[base + j] = __float2bfloat16(pv);
        else reinterpret_cast<__half*>(a.p)[base + j] = __float2half(pv);
    }
    if (threadIdx.x == 0) {
        a.lse[((size_t)s * a.h_q + head) * a.s_q + iq] = visible > 0 ? m + logf(sum) : INFINITY;
    }
}

__device__ __forceinline__ uint64_t mix64(uint64_t x) { // splitmix64 finaliser
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

constexpr int32_t kFillE4m3 = 2;  // FillArgs.dtype of an fp8_e4m3 buffer (an fp8 cache; MlaDType has no such value)
// Grid-stride fill with N(0, stddev) values (Box-Muller over a counter hash), never exactly zero.
extern "C" __global__ void mla4j_fill_random(const __grid_constant__ FillArgs a) {
    for (uint64_t i = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; i < a.n; i += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t h = mix64(a.seed ^ mix64(i));
        float u1 = ((h >> 40) + 1) * (1.0f / 16777217.0f); // (0, 1]
        float u2 = ((h & 0xffffffull)) * (1.0f / 16777216.0f);
        float v = sqrtf(-2.f * logf(u1)) * __cosf(6.2831853f * u2) * a.stddev;
        if (fabsf(v) < 1e-6f) v = 0.5f * a.stddev;
        if (a.dtype == MLA4J_BF16) reinterpret_cast<__nv_bfloat16*>(a.dst)[i] = __float2bfloat16(v);
        else if (a.dtype == kFillE4m3) reinterpret_cast<__nv_fp8_e4m3*>(a.dst)[i] = __nv_fp8_e4m3(v);  // saturating
        else reinterpret_cast<__half*>(a.dst)[i] = __float2half(v);
    }
}
