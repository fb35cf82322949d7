// mla4j_combine: merges the split-KV partials of every sequence that has more than one split.
//   lse = log(sum_j exp(lse_j)),  o = sum_j exp(lse_j - lse) * o_j   (o_j already normalised by its split)
// All lse_j = -inf (no visible key in any split) -> o = 0, lse = +inf.
// Sequences with one split were written directly by the decode kernel and are skipped here.
//
// Launch: grid (b, ceil(rows / rpc), 4), block 256, rpc in {1, 2, 4, 8}. One CTA per (sequence, rpc
// packed query rows, 128-column quarter); the kernel derives rpc from gridDim.y (the smallest power of
// two >= ceil(rows / gridDim.y)). Each row gets 8 / rpc warps, which take its splits round-robin; each
// lane owns 4 columns (one 16-byte load per split); a row's warps meet in shared memory.
// Why adaptive: at small batch a sequence has ~130 splits and the combine is latency-bound, so many
// warps per row (rpc = 1) keep many loads in flight (b = 1, s_k = 32768: 36 -> 25 us per step); at b = 128
// a sequence has 1-3 splits and one warp per row (rpc = 8) avoids launching 8x idle warps (docs/PERF.md
// r8, r9). The host picks rpc from the schedule's largest split count (io.mla4j.cuda.DecodeKernels).
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

template <typename T>
__device__ __forceinline__ void combine_rows(const MlaParams& p, int s, int first, int n) {
    __shared__ float red_max[kCombineWarps];
    __shared__ float red_sum[kCombineWarps];
    __shared__ float4 red_acc[kCombineWarps][32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int need = (p.rows + gridDim.y - 1) / gridDim.y;
    int rpc = 1;
    while (rpc < need && rpc < kCombineWarps) rpc <<= 1;  // rows per CTA
    const int wpr = kCombineWarps / rpc;                 // warps per row
    const int sub = warp % wpr, lead = warp - sub;       // this warp's index among its row's, the row's first warp
    const int r = blockIdx.y * rpc + warp / wpr;
    const bool live = r < p.rows;  // no early return: every thread reaches both __syncthreads
    const float* lse_acc = p.lse_accum + static_cast<size_t>(first) * p.rows + r;

    float m = -INFINITY;
    if (live)
        for (int j = sub * 32 + lane; j < n; j += wpr * 32) m = fmaxf(m, lse_acc[static_cast<size_t>(j) * p.rows]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) red_max[warp] = m;
    __syncthreads();
    m = red_max[lead];
    for (int w = 1; w < wpr; ++w) m = fmaxf(m, red_max[lead + w]);

    // Each warp: its splits' weights e_j = exp(lse_j - m) (0 for an empty split) and sum_j e_j * o_j.
    const int col = blockIdx.z * kColsPerCta + 4 * lane;
    float sum = 0.f;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
    if (live && m != -INFINITY) {
        const size_t split_stride = static_cast<size_t>(p.rows) * MLA4J_D_V / 4;  // in float4
        const float4* part = reinterpret_cast<const float4*>(p.o_accum + (static_cast<size_t>(first) * p.rows + r) * MLA4J_D_V + col);
#ifndef MLA4J_COMBINE_BATCH
#define MLA4J_COMBINE_BATCH 4  // splits per warp whose loads are issued together (A/B knob)
#endif
        // Batches of MLA4J_COMBINE_BATCH splits: all their loads are issued before any is used, so a warp
        // waits for one memory round trip per batch, not per split.
        for (int j0 = sub; j0 < n; j0 += MLA4J_COMBINE_BATCH * wpr) {
            float l[MLA4J_COMBINE_BATCH];
            float4 v[MLA4J_COMBINE_BATCH];
#pragma unroll
            for (int b = 0; b < MLA4J_COMBINE_BATCH; ++b) {
                const int j = j0 + b * wpr;
                l[b] = j < n ? lse_acc[static_cast<size_t>(j) * p.rows] : -INFINITY;
                v[b] = j < n ? __ldg(part + j * split_stride) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
#pragma unroll
            for (int b = 0; b < MLA4J_COMBINE_BATCH; ++b) {
                const float e = __expf(l[b] - m);  // 0 past the end and for an empty split
                sum += e;
                acc.x += e * v[b].x; acc.y += e * v[b].y; acc.z += e * v[b].z; acc.w += e * v[b].w;
            }
        }
    }
    red_acc[warp][lane] = acc;
    if (lane == 0) red_sum[warp] = sum;
    __syncthreads();
    if (!live || sub != 0) return;
    float total = 0.f;
    acc = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int w = 0; w < wpr; ++w) {
        const float4 v = red_acc[lead + w][lane];
        total += red_sum[lead + w];
        acc.x += v.x; acc.y += v.y; acc.z += v.z; acc.w += v.w;
    }
    uint2* out = reinterpret_cast<uint2*>(static_cast<T*>(p.o) + (static_cast<size_t>(s) * p.rows + r) * MLA4J_D_V + col);
    const int iq = r / p.h_q, h = r % p.h_q;
    float* lse_out = p.lse + (static_cast<size_t>(s) * p.h_q + h) * p.s_q + iq;
    if (m == -INFINITY) {  // the row saw no key in any split
        *out = make_uint2(0u, 0u);
        if (lane == 0 && blockIdx.z == 0) *lse_out = INFINITY;
        return;
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
    const int s = blockIdx.x;
    const int first = p.split_offsets[s], n = p.split_offsets[s + 1] - first;
    if (n <= 1) return;  // uniform per CTA: no thread is left behind at a barrier
    if (p.dtype == MLA4J_BF16) combine_rows<__nv_bfloat16>(p, s, first, n);
    else combine_rows<__half>(p, s, first, n);
}
