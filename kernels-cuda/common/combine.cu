// mla4j_combine: merges the split-KV partials of every sequence that has more than one split (the
// arithmetic: include/mla4j/merge.cuh).
// Sequences with one split were written directly by the decode kernel and are skipped here.
//
// Launch (geometry in include/mla4j/schedule.h): grid (b, ceil(rows / rpc), d_v / MLA4J_COMBINE_COLUMNS),
// block MLA4J_COMBINE_THREADS = 256, rpc in {1, 2, 4, 8}. One CTA per (sequence, rpc packed query rows,
// 128 output columns: a quarter of DeepSeek's 512); the kernel derives rpc from gridDim.y (the smallest power of
// two >= ceil(rows / gridDim.y)). Each row gets 8 / rpc warps, which take its splits round-robin; each
// lane owns 4 columns (one 16-byte load per split); a row's warps meet in shared memory.
// Why adaptive: at small batch a sequence has ~130 splits and the combine is latency-bound, so many
// warps per row (rpc = 1) keep many loads in flight (b = 1, s_k = 32768: 36 -> 25 us per step); at b = 128
// a sequence has 1-3 splits and one warp per row (rpc = 8) avoids launching 8x idle warps (docs/PERF.md
// r8, r9). The host picks rpc from the schedule's largest split count (io.mla4j.cuda.DecodeKernels).
#include "mla4j/merge.cuh"
#include "mla4j/schedule.h"

namespace {
constexpr int kCombineWarps = MLA4J_COMBINE_THREADS / 32;
constexpr int kColsPerCta = MLA4J_COMBINE_COLUMNS;
static_assert(kColsPerCta == 32 * 4, "a warp covers a CTA's columns: 32 lanes x 4 columns");
#ifndef MLA4J_COMBINE_BATCH
#define MLA4J_COMBINE_BATCH 4  // splits per warp whose loads are issued together (A/B knob)
#endif

template <typename T>
__device__ __forceinline__ void combine_rows(const MlaParams& p, int s, int first, int n) {
    __shared__ mla4j::PartialSum red[kCombineWarps][32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int need = (p.rows + gridDim.y - 1) / gridDim.y;
    int rpc = 1;
    while (rpc < need && rpc < kCombineWarps) rpc <<= 1;  // rows per CTA
    const int wpr = kCombineWarps / rpc;                 // warps per row
    const int sub = warp % wpr, lead = warp - sub;       // this warp's index among its row's, the row's first warp
    const int r = blockIdx.y * rpc + warp / wpr;
    const bool live = r < p.rows;  // no early return: every thread reaches the __syncthreads
    const int col = blockIdx.z * kColsPerCta + 4 * lane;

    // One pass (r13: the max pass before it cost a memory round trip): batches of MLA4J_COMBINE_BATCH
    // splits whose loads are all issued before any is used, merged into a running state.
    mla4j::PartialSum acc;
    if (live) {
        const float* lse_acc = p.lse_accum + static_cast<size_t>(first) * p.rows + r;
        const size_t split_stride = static_cast<size_t>(p.rows) * p.d_v / 4;  // in float4
        const float4* part = reinterpret_cast<const float4*>(p.o_accum + (static_cast<size_t>(first) * p.rows + r) * p.d_v + col);
        for (int j0 = sub; j0 < n; j0 += MLA4J_COMBINE_BATCH * wpr) {
            float l[MLA4J_COMBINE_BATCH];
            float4 v[MLA4J_COMBINE_BATCH];
#pragma unroll
            for (int b = 0; b < MLA4J_COMBINE_BATCH; ++b) {
                const int j = j0 + b * wpr;
                l[b] = j < n ? __ldg(lse_acc + static_cast<size_t>(j) * p.rows) : -INFINITY;
                v[b] = j < n ? __ldg(part + j * split_stride) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
            acc.add(l, v);
        }
    }
    red[warp][lane] = acc;
    __syncthreads();
    if (!live || sub != 0) return;
    for (int w = 1; w < wpr; ++w) acc.merge(red[lead + w][lane]);
    mla4j::store_merged<T>(p, s, r, col, acc);
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
