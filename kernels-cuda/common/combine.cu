// mla4j_combine: merges the split-KV partials of every sequence that has more than one split.
//   lse = log(sum_j exp(lse_j)),  o = sum_j exp(lse_j - lse) * o_j   (o_j already normalised by its split)
// All lse_j = -inf (no visible key in any split) -> o = 0, lse = +inf.
// Sequences with one split were written directly by the decode kernel and are skipped here.
//
// Launch: grid (b, rows, 4), block 128. One CTA per (sequence, packed query row, 128-column quarter),
// one output column per thread. Why so fine: at b = 1 a long sequence has ~130 splits and only a few
// rows, and the combine must still spread over many SMs (a warp per row walking 130 splits serially
// cost 33 us against a 22 us decode). Each thread loops over the splits with independent loads in flight;
// the lse values are read by every thread of the CTA from the same address (a broadcast).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/schedule.h"

namespace {
constexpr int kColsPerCta = 128;

template <typename T> __device__ __forceinline__ T to_out(float x);
template <> __device__ __forceinline__ __nv_bfloat16 to_out<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half to_out<__half>(float x) { return __float2half_rn(x); }

template <typename T>
__device__ __forceinline__ void combine_column(const MlaParams& p, int s, int r, int first, int n) {
    const float* lse_acc = p.lse_accum + (size_t)first * p.rows + r;
    float m = -INFINITY;
    for (int j = 0; j < n; ++j) m = fmaxf(m, lse_acc[(size_t)j * p.rows]);
    const int d = blockIdx.z * kColsPerCta + threadIdx.x;
    T* out = reinterpret_cast<T*>(p.o) + ((size_t)s * p.rows + r) * MLA4J_D_V;
    const int iq = r / p.h_q, h = r % p.h_q;
    float* lse_out = p.lse + ((size_t)s * p.h_q + h) * p.s_q + iq;
    if (m == -INFINITY) {  // the row saw no key in any split
        out[d] = to_out<T>(0.f);
        if (threadIdx.x == 0 && blockIdx.z == 0) *lse_out = INFINITY;
        return;
    }
    float sum = 0.f, acc = 0.f;
    const float* col = p.o_accum + ((size_t)first * p.rows + r) * MLA4J_D_V + d;
    const size_t split_stride = (size_t)p.rows * MLA4J_D_V;
#pragma unroll 8
    for (int j = 0; j < n; ++j) {
        const float e = __expf(lse_acc[(size_t)j * p.rows] - m);  // 0 for an empty split (-inf)
        sum += e;
        acc += e * col[j * split_stride];
    }
    out[d] = to_out<T>(acc / sum);
    if (threadIdx.x == 0 && blockIdx.z == 0) *lse_out = m + __logf(sum);
}
}  // namespace

extern "C" __global__ void __launch_bounds__(kColsPerCta) mla4j_combine(const __grid_constant__ MlaParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    // On Hopper the host launches this with programmatic dependent launch right behind the decode kernel,
    // so its launch and ramp-up overlap the decode's tail: wait here until the decode grid has finished and
    // its partials are visible. A no-op for a normal launch.
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    const int s = blockIdx.x, r = blockIdx.y;
    const int first = p.split_offsets[s], n = p.split_offsets[s + 1] - first;
    if (n <= 1 || r >= p.rows) return;
    if (p.dtype == MLA4J_BF16) combine_column<__nv_bfloat16>(p, s, r, first, n);
    else combine_column<__half>(p, s, r, first, n);
}
