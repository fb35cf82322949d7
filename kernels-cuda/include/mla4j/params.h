// mla4j CUDA kernels: the one parameter block every decode-path kernel takes.
//
// Java builds this struct once per plan (byte-for-byte, see io.mla4j.cuda) and passes it by value as
// the kernel's only argument (`const __grid_constant__ MlaParams p`), so a launch needs no per-call
// argument marshalling. Keep it plain C: fixed-width fields, natural alignment, no padding surprises.
// If you change it, change the Java writer (io.mla4j.cuda.KernelParams) and bump MLA4J_PARAMS_VERSION.
#pragma once
#include <stdint.h>

#define MLA4J_PARAMS_VERSION 6
#define MLA4J_D_QK 576      // DeepSeek's widths (latent 512 + rope 64), those of the sm90 kernels; others: p.d_qk, p.d_v
#define MLA4J_D_V 512       // V = first 512 dims of the cached vector
#define MLA4J_TILE 64       // tokens per schedule tile (the split schedule's unit, one sm90 stage), whatever the page size
#define MLA4J_MAX_PAGE_SHIFT 8  // pages of 1 .. 256 tokens (io.mla4j.Geometry.MAX_PAGE_SIZE)
#define MLA4J_SCHED_INTS 8  // ints per part in the tile-scheduler metadata
#define MLA4J_FIXED_OVERHEAD_BLOCKS 5  // the default F of the split schedule (FlashMLA's); a plan may pick another

enum MlaDType : int32_t { MLA4J_BF16 = 0, MLA4J_FP16 = 1 };
// How a cached token is stored (io.mla4j.CacheFormat): in q's dtype, or as 576 e4m3 bytes times one per-tensor scale.
enum MlaCacheFormat : int32_t { MLA4J_CACHE_PLAIN = 0, MLA4J_CACHE_FP8_E4M3 = 1 };

struct MlaParams {
    // ---- tensors (device pointers) ----
    const void* q;            // [b, s_q, h_q, d_qk], dtype
    // [num_blocks, page, 1, d_qk], dtype (fp8_e4m3 bytes: cache_format); V = first d_v columns; page = 1 << page_shift
    const void* k_cache;
    const int32_t* block_table; // [b, max_blocks]
    const int32_t* seqlens;   // [b]
    void* o;                  // [b, s_q, h_q, d_v], dtype
    float* lse;               // [b, h_q, s_q], natural log; +inf for a row that sees no key
    float* o_accum;           // [max_splits, rows, d_v] fp32 partial outputs (normalised by their own sum)
    float* lse_accum;         // [max_splits, rows] fp32 partial LSE, natural log; -inf for an empty split
    int32_t* sched;           // [num_parts, 8] tile-scheduler metadata (see schedule.h)
    int32_t* split_offsets;   // [b + 1] running total of splits per sequence, starts at 0
    // an updatable plan's step words, else null: [0] its status (MlaPlan.STATUS_*), [1] the bits being gathered,
    // [2] the CTAs of mla4j_step done (schedule.h)
    int32_t* status;
    // an updatable plan's staged step in mapped pinned host memory (b seqlens, then the b x max_blocks table) that
    // mla4j_step copies into seqlens / block_table; null when the host copied them (an eager update)
    const int32_t* staged;
    // ---- sizes ----
    int32_t b, s_q, h_q;
    int32_t rows;             // s_q * h_q: query rows of one sequence, packed row r = i_q * h_q + head
    int32_t max_blocks;       // block_table row stride (pages)
    int32_t num_blocks;       // cache capacity in pages (validated on the host before launch)
    int32_t num_parts;        // workers of the split-KV grid
    int32_t max_splits;       // capacity of o_accum/lse_accum in splits (b + num_parts)
    int32_t causal;           // 1: bottom-right mask, row i_q sees keys 0 .. s_k - s_q + i_q
    int32_t dtype;            // MlaDType
    float scale;              // softmax scale (default 576^-0.5)
    float scale_log2;         // scale * log2(e) (times v_scale for an fp8 cache, set per decode call), for exp2-based softmax
    int32_t split_overhead;   // F of the split schedule (cost of a split, in 64-token tiles): what p.sched was built with
    int32_t page_shift;       // log2 of the page size (0 .. MLA4J_MAX_PAGE_SHIFT): the plan's geometry
    int32_t cache_format;     // MlaCacheFormat (fp8: sm90 only, pages of >= 16 tokens)
    // the fp8 cache's per-tensor scale, applied to o (its share of the scores is in scale_log2); 1 if plain
    float v_scale;
    // the plan's widths (io.mla4j.Geometry): d_qk = d_c + d_r values a cached token and a query row hold, d_v = d_c of
    // them are its value. The decode kernels are instantiated per width pair (the sm80 entries check theirs);
    // the combine reads d_v.
    int32_t d_qk;
    int32_t d_v;
};
