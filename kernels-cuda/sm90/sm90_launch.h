// Launch constants of mla4j_decode_sm90, for any host: the C++ harnesses include it, and the build reads the two
// #define lines below into mla4j_kernels.properties for Java (scripts/gpu-launch-props.sh; keep their form).
// The kernel static_asserts both against its own layout (config.h, smem_plan.cuh), so they cannot drift.
#pragma once
#define MLA4J_SM90_THREADS 384          // 2 consumer warpgroups + 1 producer warpgroup
#define MLA4J_SM90_ROWS_PER_CTA 64      // gridDim.y = ceil(rows / 64), gridDim.x = num_parts
#define MLA4J_SM90_SMEM_BYTES 231616    // dynamic shared memory per CTA (one CTA per SM): sizeof(SmemPlan) + 1024
