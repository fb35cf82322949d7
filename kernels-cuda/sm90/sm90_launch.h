// Launch constants of mla4j_decode_sm90, for any host (C++ harness, Java via the README's numbers).
#pragma once
#define MLA4J_SM90_THREADS 384          // 2 consumer warpgroups + 1 producer warpgroup
#define MLA4J_SM90_ROWS_PER_CTA 64      // gridDim.y = ceil(rows / 64), gridDim.x = num_parts
#ifndef MLA4J_SM90_SMEM_BYTES  // overridden only by diagnosis builds with another layout (r13: STAGES=3 + NOQ)
#define MLA4J_SM90_SMEM_BYTES 231592    // dynamic shared memory per CTA (one CTA per SM)
#endif
