/*
 * Local-memory budget of mla4j_mla_decode as a function of the cache geometry: the one statement of
 * what the kernel allocates. The kernel sizes its L1 and UB buffers with these functions and the host
 * tiling refuses a geometry whose buffers would not fit an Atlas A2 (910B) core, naming the buffer.
 * L0A / L0B / L0C do not depend on the geometry (fixed 64-row x 64-deep / 256-column tiles).
 * Plain C (the host tiling includes it too); not part of the FFM bindings.
 */
#ifndef MLA4J_ASCEND_BUDGET_H_
#define MLA4J_ASCEND_BUDGET_H_

#include <stdint.h>

#include "mla4j_ascend_tiling.h"

#define MLA4J_L1_CAPACITY 524288u /* bytes per AIC (the emulator's constant; README, Emulator) */
#define MLA4J_UB_CAPACITY 196608u /* bytes per AIV */
#define MLA4J_K_STEP 64           /* contraction depth of one L0 Mmad (both matmuls; the last S step may be shorter) */
#define MLA4J_V_PASS 256          /* output columns per P V pass (L0C: 64 x 256 fp32 per buffer) */
#define MLA4J_ROWS_AIV (MLA4J_TILE_M / 2)

static inline uint32_t mla4j_max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* d_v rounded up to 64: CompareScalar works on 256-byte multiples, so the rescale's mask covers d_v padded. */
static inline uint32_t mla4j_dv_pad(uint32_t d_v) { return (d_v + 63u) / 64u * 64u; }

/* L1 (AIC), 16-bit elements: Q tile [64 x d_qk], two K tiles [128 x d_qk] (ping-pong), P tile [64 x 128]. */
static inline uint32_t mla4j_l1_q_bytes(uint32_t d_qk) { return MLA4J_TILE_M * d_qk * 2u; }
static inline uint32_t mla4j_l1_k_bytes(uint32_t d_qk) { return MLA4J_TILE_N * d_qk * 2u; }
static inline uint32_t mla4j_l1_p_bytes(void) { return MLA4J_TILE_M * MLA4J_TILE_N * 2u; }
static inline uint64_t mla4j_l1_bytes(uint32_t d_qk) {
    return (uint64_t)mla4j_l1_q_bytes(d_qk) + 2ull * mla4j_l1_k_bytes(d_qk) + mla4j_l1_p_bytes();
}

/* UB (each AIV holds 32 rows), 16-bit T. Scratch (tmp) serves S -> P (32 x 128 fp32) and the rescale's
   multiply + |x| rows (2 x d_v padded); work serves ReduceMax over 128 keys and ReduceSum over up to 256 splits. */
static inline uint32_t mla4j_ub_o_in_bytes(uint32_t d_v) { return MLA4J_ROWS_AIV * d_v * 4u; }
static inline uint32_t mla4j_ub_o_out_bytes(uint32_t d_v) { return MLA4J_ROWS_AIV * d_v * 2u; }
static inline uint32_t mla4j_ub_tmp_bytes(uint32_t d_v) {
    return mla4j_max_u32(MLA4J_ROWS_AIV * MLA4J_TILE_N, 2u * mla4j_dv_pad(d_v)) * 4u;
}
static inline uint32_t mla4j_ub_mask_bytes(uint32_t d_v) {
    return mla4j_max_u32(256u, (mla4j_dv_pad(d_v) / 8u + 31u) / 32u * 32u);  /* one bit per element, 32-byte blocks */
}
static inline uint32_t mla4j_ub_work_bytes(uint32_t d_v) { return mla4j_max_u32(d_v, 256u) * 4u; }
static inline uint64_t mla4j_ub_bytes(uint32_t d_v) {
    return (uint64_t)MLA4J_ROWS_AIV * MLA4J_TILE_N * 4u   /* S in */
           + MLA4J_ROWS_AIV * MLA4J_TILE_N * 2u           /* P out */
           + mla4j_ub_o_in_bytes(d_v) + mla4j_ub_o_out_bytes(d_v) + mla4j_ub_tmp_bytes(d_v)
           + MLA4J_TILE_N * 4u                            /* key index 0..127 */
           + mla4j_ub_mask_bytes(d_v)
           + 3u * MLA4J_ROWS_AIV * 8u * 4u                /* row slots, exact sums, lse staging */
           + mla4j_ub_work_bytes(d_v)
           + 256u * 4u;                                   /* per-row / per-split scalars */
}

#endif /* MLA4J_ASCEND_BUDGET_H_ */
