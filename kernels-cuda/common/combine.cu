// mla4j_combine: merges the split-KV partials of every sequence that has more than one split.
//   lse = log(sum_j exp(lse_j)),  o = sum_j exp(lse_j - lse) * o_j   (o_j already normalised by its split)
// All lse_j = -inf (no visible key in any split) -> o = 0, lse = +inf.
// Sequences with one split were written directly by the decode kernel and are skipped here.
// Launch: grid (b, ceil(rows / 8)), block 256: one warp per packed query row, each lane owns 16 of the
// 512 output columns (four float4 loads per partial), so reads of o_accum are fully coalesced.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/schedule.h"

namespace {
constexpr int kRowsPerBlock = 8;

template <typename T> __device__ __forceinline__ T to_out(float x);
template <> __device__ __forceinline__ __nv_bfloat16 to_out<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half to_out<__half>(float x) { return __float2half_rn(x); }

template <typename T>
__device__ void combine_row(const MlaParams& p, int s, int r, int first, int n) {
    const int lane = threadIdx.x & 31;
    const float* lse_acc = p.lse_accum + (size_t)first * p.rows + r;
    float m = -INFINITY;
    for (int j = lane; j < n; j += 32) m = fmaxf(m, lse_acc[(size_t)j * p.rows]);
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    const int iq = r / p.h_q, h = r % p.h_q;
    T* out = reinterpret_cast<T*>(p.o) + ((size_t)s * p.rows + r) * MLA4J_D_V;
    float* lse_out = p.lse + ((size_t)s * p.h_q + h) * p.s_q + iq;
    if (m == -INFINITY) {  // the row saw no key in any split
        for (int d = lane; d < MLA4J_D_V; d += 32) out[d] = to_out<T>(0.f);
        if (lane == 0) *lse_out = INFINITY;
        return;
    }
    float sum = 0.f;
    for (int j = lane; j < n; j += 32) sum += __expf(lse_acc[(size_t)j * p.rows] - m);
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const float lse = m + __logf(sum);
    float acc[16];
#pragma unroll
    for (int i = 0; i < 16; ++i) acc[i] = 0.f;
    for (int j = 0; j < n; ++j) {
        const float w = __expf(lse_acc[(size_t)j * p.rows] - lse);  // 0 for an empty split (-inf)
        const float4* src = reinterpret_cast<const float4*>(p.o_accum + ((size_t)(first + j) * p.rows + r) * MLA4J_D_V);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const float4 v = src[lane + 32 * k];
            acc[4 * k + 0] += w * v.x; acc[4 * k + 1] += w * v.y;
            acc[4 * k + 2] += w * v.z; acc[4 * k + 3] += w * v.w;
        }
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const int d = 4 * (lane + 32 * k);
#pragma unroll
        for (int e = 0; e < 4; ++e) out[d + e] = to_out<T>(acc[4 * k + e]);
    }
    if (lane == 0) *lse_out = lse;
}
}  // namespace

extern "C" __global__ void __launch_bounds__(256) mla4j_combine(const __grid_constant__ MlaParams p) {
    const int s = blockIdx.x;
    const int first = p.split_offsets[s], n = p.split_offsets[s + 1] - first;
    if (n <= 1) return;
    const int r = blockIdx.y * kRowsPerBlock + (threadIdx.x >> 5);
    if (r >= p.rows) return;
    if (p.dtype == MLA4J_BF16) combine_row<__nv_bfloat16>(p, s, r, first, n);
    else combine_row<__half>(p, s, r, first, n);
}
