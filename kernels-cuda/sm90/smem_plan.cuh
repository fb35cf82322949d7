// The shared-memory plan of one CTA: what lives where, and the launch size it implies.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "config.h"

namespace mla4j_sm90 {

// Laid out from a 1024-byte-aligned base (the kernel aligns the dynamic shared memory itself): the 128-byte
// swizzle that TMA writes and wgmma reads repeats every 8 rows x 128 B, so every tile starts on a 1024 B boundary.
struct SmemPlan {
    uint8_t q[kTileBytes];                  // the split's 64 x 576 query tile, 9 swizzled boxes (K-major)
    uint8_t kv[kStages][kTileBytes];        // KV ring: one 64-token block per stage, as TMA lands it
    uint8_t p[kRowsPerTile * 128];          // P (64 rows x 64 keys, 16-bit, swizzled): warpgroup 0 -> warpgroup 1
    float row_max[2][kRowsPerTile];         // running max warpgroup 0 publishes for the block in flight
    float row_sum[2][kRowsPerTile];         // each warpgroup's row sums, exchanged at a split's end
    uint64_t full[kStages][kBoxes];         // mbarriers: box landed (barriers.cuh)
    uint64_t empty[kStages];                // mbarriers: stage free again
    uint64_t raw[kStages];                  // mbarriers: an fp8 tile's bytes landed (producer.cuh, produce_fp8)
    uint64_t raw_free[kStages];             // mbarriers: every widener read that raw buffer
};

constexpr int kOffQ = offsetof(SmemPlan, q);
constexpr int kOffKV = offsetof(SmemPlan, kv);
constexpr int kOffP = offsetof(SmemPlan, p);
constexpr int kOffMax = offsetof(SmemPlan, row_max);
constexpr int kOffSum = offsetof(SmemPlan, row_sum);
constexpr int kOffBar = offsetof(SmemPlan, full);  // full[stage][box], then empty[stage]
static_assert(offsetof(SmemPlan, empty) == kOffBar + kStages * kBoxes * 8, "empty barriers follow the full ones");
static_assert(offsetof(SmemPlan, raw) == kOffBar + (kStages * kBoxes + kStages) * 8, "raw barriers follow the empty ones");
static_assert(offsetof(SmemPlan, raw_free) == offsetof(SmemPlan, raw) + kStages * 8, "then the raw-free ones");
static_assert(kOffQ % 1024 == 0 && kOffKV % 1024 == 0 && kTileBytes % 1024 == 0 && kOffP % 1024 == 0,
              "swizzled tiles on 1024-byte boundaries");

// Launch size: the plan plus the worst-case slack of aligning the base to 1024 bytes.
constexpr int kSmemBytes = sizeof(SmemPlan) + 1024;
static_assert(kSmemBytes == MLA4J_SM90_SMEM_BYTES, "MLA4J_SM90_SMEM_BYTES in sm90_launch.h must be sizeof(SmemPlan) + 1024");

}  // namespace mla4j_sm90
