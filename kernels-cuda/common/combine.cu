// mla4j_combine: merges the split-KV partials of every sequence that has more than one split.
//   lse = log(sum_j exp(lse_j)),  o = sum_j exp(lse_j - lse) * o_j   (o_j already normalised by its split)
// All lse_j = -inf (no visible key in any split) -> o = 0, lse = +inf.
// Sequences with one split were written directly by the decode kernel and are skipped here.
//
// Launch: grid (b, rows, 4), block 256. One CTA per (sequence, packed query row, 128-column quarter).
// The 8 warps of a CTA take the splits round-robin (warp w: splits w, w+8, ...), each lane 4 columns
// (one 16-byte load per split), and their sums meet in shared memory. Why: at small batch the
// combine is latency-bound, not bandwidth-bound. b = 1, s_k = 32768 has ~130 splits per row; the
// previous version (one thread per column walking all splits) kept ~8 loads in flight per thread and
// took ~10 us for 4 MB of partials that sit in L2. Spreading the splits over warps puts ~8x more
// independent loads in flight per CTA (measured in docs/PERF.md, r8).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/schedule.h"

namespace {
constexpr int kCombineWarps = 8;
constexpr int kColsPerCta = 128;  // 32 lanes x 4 columns

template <typename T> struct Out;
template <> struct Out<__nv_bfloat16> {
    __device__ static uint2 pack4(float4 v) {
        __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), b = __floats2bfloat162_rn(v.z, v.w);
        return make_uint2(*reinterpret_cast<uint32_t*>(&a), *reinterpret_cast<uint32_t*>(&b));
    }
};
template <> struct Out<__half> {
    __device__ static uint2 pack4(float4 v) {
        __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
        return make_uint2(*reinterpret_cast<uint32_t*>(&a), *reinterpret_cast<uint32_t*>(&b));
    }
};

__device__ __forceinline__ float block_max(float v, float* red) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int warp = threadIdx.x >> 5;
    if ((threadIdx.x & 31) == 0) red[warp] = v;
    __syncthreads();
    float m = red[0];
#pragma unroll
    for (int w = 1; w < kCombineWarps; ++w) m = fmaxf(m, red[w]);
    return m;
}

template <typename T>
__device__ __forceinline__ void combine_row(const MlaParams& p, int s, int r, int first, int n) {
    __shared__ float red_max[kCombineWarps];
    __shared__ float red_sum[kCombineWarps];
    __shared__ float4 red_acc[kCombineWarps][32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const float* lse_acc = p.lse_accum + static_cast<size_t>(first) * p.rows + r;

    float m = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, lse_acc[static_cast<size_t>(j) * p.rows]);
    m = block_max(m, red_max);

    const int col = blockIdx.z * kColsPerCta + 4 * lane;
    uint2* out = reinterpret_cast<uint2*>(static_cast<T*>(p.o) + (static_cast<size_t>(s) * p.rows + r) * MLA4J_D_V + col);
    const int iq = r / p.h_q, h = r % p.h_q;
    float* lse_out = p.lse + (static_cast<size_t>(s) * p.h_q + h) * p.s_q + iq;
    if (m == -INFINITY) {  // the row saw no key in any split
        if (warp == 0) *out = make_uint2(0u, 0u);
        if (threadIdx.x == 0 && blockIdx.z == 0) *lse_out = INFINITY;
        return;
    }

    // Each warp: its splits' weights e_j = exp(lse_j - m) (0 for an empty split) and sum_j e_j * o_j.
    const size_t split_stride = static_cast<size_t>(p.rows) * MLA4J_D_V / 4;  // in float4
    const float4* part = reinterpret_cast<const float4*>(p.o_accum + (static_cast<size_t>(first) * p.rows + r) * MLA4J_D_V + col);
    float sum = 0.f;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int j = warp; j < n; j += kCombineWarps) {
        const float e = __expf(lse_acc[static_cast<size_t>(j) * p.rows] - m);
        const float4 v = __ldg(part + j * split_stride);
        sum += e;
        acc.x += e * v.x; acc.y += e * v.y; acc.z += e * v.z; acc.w += e * v.w;
    }
    red_acc[warp][lane] = acc;
    if (lane == 0) red_sum[warp] = sum;
    __syncthreads();
    if (warp != 0) return;
    float total = 0.f;
    acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int w = 0; w < kCombineWarps; ++w) {
        const float4 v = red_acc[w][lane];
        total += red_sum[w];
        acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
    }
    const float inv = 1.f / total;  // total >= 1: the split holding the max has weight 1
    *out = Out<T>::pack4(make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv));
    if (lane == 0 && blockIdx.z == 0) *lse_out = m + __logf(total);
}
}  // namespace

extern "C" __global__ void __launch_bounds__(kCombineWarps * 32) mla4j_combine(const __grid_constant__ MlaParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    // When launched with programmatic dependent launch behind the decode kernel, its launch and ramp-up
    // overlap the decode's tail: wait here until the decode grid has finished and its partials are
    // visible. A no-op for a normal launch.
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    const int s = blockIdx.x, r = blockIdx.y;
    const int first = p.split_offsets[s], n = p.split_offsets[s + 1] - first;
    if (n <= 1 || r >= p.rows) return;  // uniform per CTA: no thread is left behind at a barrier
    if (p.dtype == MLA4J_BF16) combine_row<__nv_bfloat16>(p, s, r, first, n);
    else combine_row<__half>(p, s, r, first, n);
}
