// Argument structs of the baseline/helper kernels (baseline_softmax.cu), passed by value. Plain C so
// the Java writer (io.mla4j.cuda.HelperKernels) can be checked against offsetof by a host compiler.
#pragma once
#include <stdint.h>

struct BaselineArgs {
    const void* k_cache;        // [num_blocks, 64, 1, 576]
    const int32_t* block_table; // [b, max_blocks]
    const int32_t* seqlens;     // [b]
    void* k_gathered;           // [b, max_sk, 576]
    const float* s;             // [b, rows, max_sk]
    void* p;                    // [b, rows, max_sk]
    float* lse;                 // [b, h_q, s_q]
    int32_t b, s_q, h_q, rows, max_blocks, max_sk, causal, dtype;
    float scale;
    int32_t unused;
};

struct FillArgs {
    void* dst;
    uint64_t n;      // elements
    uint64_t seed;
    int32_t dtype;   // MlaDType, or 2: fp8_e4m3 (kFillE4m3)
    float stddev;
};

