// The lab's copy of kernels-cuda/sm90/sm90_launch.h, for the variants of lab/kernels-cuda/sm90/decode_sm90.cu: the
// same constants, except that a variant with another shared-memory layout may override MLA4J_SM90_SMEM_BYTES.
#pragma once
#define MLA4J_SM90_THREADS 384          // 2 consumer warpgroups + 1 producer warpgroup
#define MLA4J_SM90_ROWS_PER_CTA 64      // gridDim.y = ceil(rows / 64), gridDim.x = num_parts
#ifndef MLA4J_SM90_SMEM_BYTES  // overridden only by diagnosis builds with another layout (r13: STAGES=3 + NOQ)
#define MLA4J_SM90_SMEM_BYTES 231592    // dynamic shared memory per CTA (one CTA per SM)
#endif
