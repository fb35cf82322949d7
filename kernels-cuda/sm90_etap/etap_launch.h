// Launch constants of mla4j_decode_sm90_etap, for any host: the build reads the #define lines below into
// mla4j_kernels.properties for Java (scripts/gpu-launch-props.sh; keep their form), and the kernel static_asserts
// them against its own layout (decode_sm90_etap.cu).
#pragma once
#define MLA4J_ETAP_THREADS 384       // 2 consumer warpgroups + 1 producer warpgroup; grid (num_parts, 1)
#define MLA4J_ETAP_MAX_ROWS 16       // h_q * s_q it serves: the query rows are wgmma's N = 16
#define MLA4J_ETAP_MIN_PAGE_SHIFT 4  // pages of >= 16 tokens (TMA per page's rows); smaller pages go to mla4j_decode_sm90
#define MLA4J_ETAP_SMEM_BYTES 232448 // the whole opt-in shared memory of an H100/H200 block: the box ring takes what is left
