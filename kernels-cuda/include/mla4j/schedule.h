// The split-KV tile schedule, mla4j's get_mla_metadata. The single definition is the Java class
// io.mla4j.SplitSchedule (java-bindings/core); the GPU scheduler kernel must produce exactly the same
// numbers, and a test compares them. Restated here for kernel authors:
//
//   blocks[s] = ceil(seqlen[s] / 64); F = p.split_overhead (>= 1; MLA4J_FIXED_OVERHEAD_BLOCKS = 5 is FlashMLA's)
//   total = sum_s (blocks[s] + F); perPart = max(ceil(total / P) + F, 2F)
//   cursor (s, blk) = (0, 0); splits[s] = 0
//   for p in 0 .. P-1:
//     beginIdx = s; beginBlock = blk; beginSplit = s < b ? splits[s] : 0
//     endIdx = s - 1; endBlock = 0                 // stays so for an empty part
//     remain = (p == P-1) ? "infinite" : perPart
//     while s < b:
//       rest = blocks[s] - blk
//       if remain >= rest + F: remain -= rest + F; splits[s]++; endIdx = s; endBlock = blocks[s]; s++; blk = 0
//       else: take = remain - F
//             if take > 0: blk += take; splits[s]++; endIdx = s; endBlock = blk
//             break
//     sched[p] = {beginIdx, beginBlock, endIdx, endBlock, beginSplit, 0, 0, 0}
//   split_offsets[0] = 0; split_offsets[s+1] = split_offsets[s] + splits[s]
//
// Part p handles, for s in [beginIdx, endIdx], KV blocks [s==beginIdx ? beginBlock : 0,
// s==endIdx ? endBlock : blocks[s]) and writes partial slot split_offsets[s] + (s==beginIdx ? beginSplit : 0).
// A sequence with exactly one split may write o/lse directly; otherwise the combine kernel merges its
// partials: lse = log(sum_j exp(lse_j)), o = sum_j exp(lse_j - lse) * o_j; all lse_j = -inf -> o = 0, lse = +inf.
// A sequence of length 0 gets one empty split (o = 0, lse = +inf). Causal rows may see no key even when
// s_k > 0 (s_q > s_k): same rule.
#pragma once
#include "params.h"

// Launch geometry of the two common kernels: the one definition for their sources, the C harnesses and the
// Java host (scripts/gpu-launch-props.sh packages these values beside the fatbin; LaunchGeometryTest compares
// io.mla4j.cuda.DecodeKernels' defaults with them).
#define MLA4J_SCHEDULE_THREADS 32     // mla4j_schedule: grid 1, one warp
#define MLA4J_STEP_THREADS 128        // mla4j_step: grid b, one CTA a sequence (the last one schedules)
#define MLA4J_STATUS_SEQLEN 1         // p.status bits (io.mla4j.MlaPlan.STATUS_SEQLEN, STATUS_BLOCK)
#define MLA4J_STATUS_BLOCK 2
#define MLA4J_COMBINE_THREADS 256     // mla4j_combine: 8 warps per CTA
#define MLA4J_COMBINE_COLUMNS 128     // mla4j_combine: output columns per CTA (grid z = d_v / 128: 4 for DeepSeek)

// Rows per CTA of mla4j_combine (common/combine.cu) for a schedule whose busiest sequence has most_splits
// splits: about 4 splits per warp, from one row per CTA (all 8 warps on its splits) to 8. The Java host
// (io.mla4j.cuda.DecodeKernels.combineRowsPerCta) states the same rule.
#ifdef __CUDACC__
__host__ __device__
#endif
static inline int mla4j_combine_rows_per_cta(int most_splits) {
    const int warps = MLA4J_COMBINE_THREADS / 32;
    int warps_per_row = 1;
    while (warps_per_row < warps && warps_per_row * 4 < most_splits) warps_per_row <<= 1;
    return warps / warps_per_row;
}
