// The CTA's synchronisation: which barrier orders what.
//
// mbarriers (in SmemPlan; producer thread <-> consumers):
//   full[st][box]  count 1 + the box's TMA bytes: the producer arms it (arrive.expect_tx), TMA completes it. One
//                  per 64-column box, so Q K^T starts on the first box while the other eight still arrive.
//                  Pages below 16 tokens (gathered, producer.cuh): count 128, each producer thread arrives once its
//                  cp.async copies of the stage landed and were fenced for the async proxy. An fp8 cache: count 128 too,
//                  each producer thread arrives once it widened its part of the box (produce_fp8).
//   raw[st]        fp8 caches only: count 1 + the tile's 36 KiB of TMA bytes, armed by producer thread 0; the whole
//                  producer warpgroup waits on it before widening the tile.
//   empty[st]      count 256: every consumer thread arrives once its wgmma reads of stage st retired
//                  (release_stage); the producer waits on it before refilling the stage.
//   Phase parity of use u of a stage is u & 1 (the producer's first wait on empty passes at once).
// Named barriers (barrier.sync among the 256 consumer threads only; the producer warpgroup never meets one): below.
#pragma once
#include <stdint.h>

#include "smem_plan.cuh"
#include "sm90_ptx.cuh"

namespace mla4j_sm90 {

// Named barrier ids. Every consumer one is met by all 256 consumer threads: a barrier met by one warpgroup alone made
// compute-sanitizer racecheck report false hazards on later exchanges (docs/KERNEL-SM90.md). Any id 1..15 would
// do (0 is __syncthreads); these are the ids of the build verified on the GPU, kept so that its SASS stays the same.
enum : uint32_t {
    kBarQ = 1,    // split_begin: the Q tile copied (every thread's cp.async) before any wgmma reads it
    kBarSum = 4,  // split_end: both warpgroups' row sums published
    kBarA = 5,    // relay: warpgroup 0 published m_i and P_i
    kBarB = 6,    // relay: warpgroup 1's previous P V retired (P and the row max free), warpgroup 0's S reads too
};

// Thread 0, before the CTA-wide __syncthreads that publishes them.
// all_threads: the whole producer warpgroup fills the stages (a gathered or fp8 cache), not one TMA thread.
// fp8: the raw barriers too.
__device__ __forceinline__ void init_barriers(uint8_t* smem, bool all_threads, bool fp8) {
    const uint32_t bars = smem_addr(smem + kOffBar);
    const int fills = fp8 ? kFp8Wideners : all_threads ? kProducerThreads : 1;
    for (int i = 0; i < kStages * kBoxes; ++i) mbar_init(bars + i * 8, fills);  // full
    for (int st = 0; st < kStages; ++st)                                   // empty: see release_stage
        mbar_init(bars + (kStages * kBoxes + st) * 8, kConsumerThreads);
    if (fp8)
        for (int st = 0; st < kStages; ++st) {
            mbar_init(bars + (kStages * kBoxes + kStages + st) * 8, 1);                          // raw
            mbar_init(bars + (kStages * kBoxes + 2 * kStages + st) * 8, kFp8Wideners);            // raw_free
        }
    fence_barrier_init();
}

}  // namespace mla4j_sm90
