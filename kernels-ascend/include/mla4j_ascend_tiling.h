/*
 * Host tiling for the mla4j_mla_decode Ascend kernel. Plain C, the same code a real Ascend host runs:
 * the host computes block counts, the split-KV schedule across AI cores and the workspace size, and
 * hands the kernel a tiling blob (a GM_ADDR argument), as CANN operators do.
 */
#ifndef MLA4J_ASCEND_TILING_H_
#define MLA4J_ASCEND_TILING_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLA4J_DT_BF16 0
#define MLA4J_DT_FP16 1

/* The cache geometry is data (page_size, d_c, d_r below); these are the kernel's own tile units. */
#define MLA4J_SCHED_TILE 64      /* tokens per schedule unit whatever the page: io.mla4j.SplitSchedule.TILE_TOKENS */
#define MLA4J_TILE_M 64          /* packed query rows per Cube task */
#define MLA4J_TILE_N 128         /* KV tokens per pipeline step (two schedule units) */
#define MLA4J_FIXED_OVERHEAD 5   /* split cost in schedule units: io.mla4j.SplitSchedule.FIXED_OVERHEAD_BLOCKS */
#define MLA4J_MAX_PAGE 256       /* page_size: a power of two in [1, MLA4J_MAX_PAGE] */
#define MLA4J_WIDTH_UNIT 16      /* d_c and d_r: multiples of one 16 x 16 fractal side */
#define MLA4J_META_INTS 8

typedef struct {
    int32_t batch;            /* b */
    int32_t q_len;            /* s_q */
    int32_t num_heads;        /* h_q */
    int32_t max_blocks;       /* block_table's second dim */
    int32_t num_cache_blocks; /* cache's first dim */
    int32_t dtype;            /* MLA4J_DT_BF16 or MLA4J_DT_FP16 */
    int32_t causal;           /* bottom-right causal mask when q_len > 1 */
    int32_t core_num;         /* AI cores (AIC) to use = block_dim; each has 2 AIV */
    int32_t page_size;        /* tokens per cache block: a power of two in [1, 256] */
    int32_t d_c;              /* latent width = value / output dims (a multiple of 16) */
    int32_t d_r;              /* RoPE width; a cached token and a query row are d_c + d_r dims (a multiple of 16) */
    float scale;              /* softmax scale, finite and > 0 */
    const int32_t *seqlens;   /* host copy, [batch] */
} MlaTilingInput;

/*
 * The tiling blob: this header followed by int32 arrays at the given int32 offsets from the start
 * of the blob:  sched[block_dim][8] (SplitSchedule metadata), split_offsets[batch + 1].
 * Workspace layout (byte offsets into the workspace argument) is also fixed here.
 */
typedef struct {
    uint32_t tiling_bytes;    /* size of the whole blob */
    uint32_t block_dim;       /* blocks to launch (AIC cores); AIV cores = 2 * block_dim */
    int32_t batch, q_len, num_heads, max_blocks, num_cache_blocks, dtype, causal;
    int32_t page_size, d_c, d_r; /* the cache geometry, as given */
    int32_t d_qk;             /* d_c + d_r: dims of a cached token and of a query row */
    int32_t rows;             /* packed query rows per sequence = q_len * num_heads */
    int32_t row_tiles;        /* ceil(rows / MLA4J_TILE_M) */
    int32_t total_splits;     /* partial slots (split_offsets[batch]) */
    float scale;
    float scale_log2;         /* scale * log2(e): scores in base-2 units */
    uint32_t sched_off;       /* int32 offset of sched[] in the blob */
    uint32_t split_off;       /* int32 offset of split_offsets[] in the blob */
    /* workspace, per AIC core: S (fp32 [2][TILE_M][TILE_N]), P (dtype [2][TILE_M][TILE_N]),
       O accumulator (fp32 [TILE_M][d_c]); then the partial outputs of split sequences. */
    uint64_t ws_s_off, ws_p_off, ws_o_off;      /* bases of the per-core areas */
    uint64_t ws_s_core, ws_p_core, ws_o_core;   /* stride between cores, bytes */
    uint64_t ws_part_o_off;   /* fp32 [total_splits][rows][d_c] */
    uint64_t ws_part_lse_off; /* fp32 [total_splits][rows] (natural log, -inf = empty) */
    uint64_t workspace_bytes;
} MlaTiling;

/* 0 when the kernel takes this cache geometry, else nonzero with the reason in err (a buffer it would overflow,
   or a field out of range). mla4j_mla_tiling checks the same. */
int32_t mla4j_mla_check_geometry(int32_t page_size, int32_t d_c, int32_t d_r, char *err, size_t err_len);

/* Bytes of the tiling blob for this input (0 when the input is invalid). */
size_t mla4j_mla_tiling_size(const MlaTilingInput *in);

/* Fills the blob; returns 0, or nonzero with a message in err. */
int32_t mla4j_mla_tiling(const MlaTilingInput *in, MlaTiling *out, size_t out_bytes, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* MLA4J_ASCEND_TILING_H_ */
