/*
 * Host tiling for mla4j_mla_decode: validates the shape, computes the split-KV schedule over the AI
 * cores (the algorithm of io.mla4j.SplitSchedule, restated in kernels-cuda/include/mla4j/schedule.h)
 * and lays out the workspace. No device code here: a real Ascend host runs this unchanged.
 */
#include "mla4j_ascend_tiling.h"
#include "mla4j_ascend_budget.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* The largest multiple of 16 whose budget fits (for the refusal message). */
static uint32_t largest_l1_fit(void) {
    uint32_t d = MLA4J_WIDTH_UNIT;
    while (mla4j_l1_bytes(d + MLA4J_WIDTH_UNIT) <= MLA4J_L1_CAPACITY) d += MLA4J_WIDTH_UNIT;
    return d;
}
static uint32_t largest_ub_fit(void) {
    uint32_t d = MLA4J_WIDTH_UNIT;
    while (mla4j_ub_bytes(d + MLA4J_WIDTH_UNIT) <= MLA4J_UB_CAPACITY) d += MLA4J_WIDTH_UNIT;
    return d;
}

EXPORT int32_t mla4j_mla_check_geometry(int32_t page_size, int32_t d_c, int32_t d_r, char *err, size_t len) {
#define FAIL(...) do { if (err && len) snprintf(err, len, __VA_ARGS__); return 1; } while (0)
    if (page_size < 1 || page_size > MLA4J_MAX_PAGE || (page_size & (page_size - 1)))
        FAIL("page_size must be a power of two in [1, %d], got %d", MLA4J_MAX_PAGE, page_size);
    if (d_c < MLA4J_WIDTH_UNIT || d_c % MLA4J_WIDTH_UNIT || d_c > 4096)
        FAIL("d_c must be a positive multiple of %d (16-row fractals), got %d", MLA4J_WIDTH_UNIT, d_c);
    if (d_r < MLA4J_WIDTH_UNIT || d_r % MLA4J_WIDTH_UNIT || d_r > 4096)
        FAIL("d_r must be a positive multiple of %d (16-row fractals), got %d", MLA4J_WIDTH_UNIT, d_r);
    {
        /* What the widths cost in local memory (mla4j_ascend_budget.h); beyond a core's buffers the kernel
           would need its tiles re-cut (a d_qk-split K tile, fewer rows per AIV), which it does not do. */
        uint32_t d_qk = (uint32_t)(d_c + d_r);
        uint64_t l1 = mla4j_l1_bytes(d_qk), ub = mla4j_ub_bytes((uint32_t)d_c);
        if (ub > MLA4J_UB_CAPACITY)
            FAIL("d_c = %d needs %llu bytes of UB per Vector core (32 rows of the fp32 accumulator + their output), more"
                 " than the %u of an Atlas A2 core (largest d_c that fits: %u)",
                 d_c, (unsigned long long)ub, MLA4J_UB_CAPACITY, largest_ub_fit());
        if (l1 > MLA4J_L1_CAPACITY)
            FAIL("d_c + d_r = %u needs %llu bytes of L1 (Q 64 rows + 2 K tiles of 128 tokens + P, 16-bit), more than"
                 " the %u of an Atlas A2 core (largest d_c + d_r that fits: %u)",
                 d_qk, (unsigned long long)l1, MLA4J_L1_CAPACITY, largest_l1_fit());
    }
    return 0;
#undef FAIL
}

static int check_input(const MlaTilingInput *in, char *err, size_t len) {
#define FAIL(...) do { if (err && len) snprintf(err, len, __VA_ARGS__); return 1; } while (0)
    if (!in) FAIL("input is NULL");
    if (in->batch < 1) FAIL("batch must be >= 1, got %d", in->batch);
    if (in->q_len < 1) FAIL("q_len must be >= 1, got %d", in->q_len);
    if (in->num_heads < 1 || in->num_heads > 128) FAIL("num_heads must be in [1, 128], got %d", in->num_heads);
    if (in->max_blocks < 1) FAIL("max_blocks must be >= 1, got %d", in->max_blocks);
    if (in->num_cache_blocks < 1) FAIL("num_cache_blocks must be >= 1, got %d", in->num_cache_blocks);
    if (in->dtype != MLA4J_DT_BF16 && in->dtype != MLA4J_DT_FP16) FAIL("dtype must be BF16 (0) or FP16 (1), got %d", in->dtype);
    if (in->core_num < 1 || in->core_num > 256) FAIL("core_num must be in [1, 256], got %d", in->core_num);
    if (!(in->scale > 0.0f) || !isfinite(in->scale)) FAIL("scale must be finite and > 0, got %g", (double)in->scale);
    if (mla4j_mla_check_geometry(in->page_size, in->d_c, in->d_r, err, len)) return 1;
    if (!in->seqlens) FAIL("seqlens is NULL");
    for (int s = 0; s < in->batch; s++) {
        int32_t l = in->seqlens[s];
        if (l < 0) FAIL("seqlens[%d] = %d is negative", s, l);
        if ((int64_t)l > (int64_t)in->max_blocks * in->page_size)
            FAIL("seqlens[%d] = %d needs more than max_blocks = %d blocks of %d tokens", s, l, in->max_blocks, in->page_size);
    }
    if ((int64_t)in->q_len * in->num_heads > 1 << 20) FAIL("q_len * num_heads too large");
    return 0;
#undef FAIL
}

EXPORT size_t mla4j_mla_tiling_size(const MlaTilingInput *in) {
    if (check_input(in, NULL, 0)) return 0;
    return sizeof(MlaTiling) + sizeof(int32_t) * ((size_t)in->core_num * MLA4J_META_INTS + (size_t)in->batch + 1);
}

/* The split-KV schedule: parts = AI cores; each part gets a contiguous run of (sequence, 64-token tile).
   It counts 64-token tiles whatever the page size, as io.mla4j.SplitSchedule does. */
static void split_schedule(const int32_t *seqlens, int b, int parts, int32_t *meta, int32_t *offsets) {
    const int64_t f = MLA4J_FIXED_OVERHEAD;
    int64_t total = 0;
    for (int s = 0; s < b; s++) total += (seqlens[s] + MLA4J_SCHED_TILE - 1) / MLA4J_SCHED_TILE + f;
    int64_t per_part = (total + parts - 1) / parts + f;
    if (per_part < 2 * f) per_part = 2 * f;
    for (int s = 0; s <= b; s++) offsets[s] = 0;
    int32_t *splits = offsets + 1; /* counted in place, prefix-summed below */
    int s = 0, blk = 0;
    for (int p = 0; p < parts; p++) {
        int32_t *m = meta + p * MLA4J_META_INTS;
        int begin_idx = s, begin_blk = blk, begin_split = s < b ? splits[s] : 0;
        int end_idx = s - 1, end_blk = 0;
        int64_t remain = p == parts - 1 ? INT64_MAX / 4 : per_part;
        while (s < b) {
            int64_t blocks = (seqlens[s] + MLA4J_SCHED_TILE - 1) / MLA4J_SCHED_TILE;
            int64_t rest = blocks - blk;
            if (remain >= rest + f) {
                remain -= rest + f;
                splits[s]++;
                end_idx = s;
                end_blk = (int)blocks;
                s++;
                blk = 0;
            } else {
                int64_t take = remain - f;
                if (take > 0) {
                    blk += (int)take;
                    splits[s]++;
                    end_idx = s;
                    end_blk = blk;
                }
                break;
            }
        }
        m[0] = begin_idx; m[1] = begin_blk; m[2] = end_idx; m[3] = end_blk; m[4] = begin_split;
        m[5] = m[6] = m[7] = 0;
    }
    for (int i = 0; i < b; i++) offsets[i + 1] += offsets[i];
}

EXPORT int32_t mla4j_mla_tiling(const MlaTilingInput *in, MlaTiling *out, size_t out_bytes, char *err, size_t err_len) {
    if (check_input(in, err, err_len)) return 1;
    size_t need = mla4j_mla_tiling_size(in);
    if (!out || out_bytes < need) {
        if (err && err_len) snprintf(err, err_len, "tiling buffer of %zu bytes is smaller than the %zu needed", out_bytes, need);
        return 2;
    }
    memset(out, 0, need);
    out->tiling_bytes = (uint32_t)need;
    out->block_dim = (uint32_t)in->core_num;
    out->batch = in->batch;
    out->q_len = in->q_len;
    out->num_heads = in->num_heads;
    out->max_blocks = in->max_blocks;
    out->num_cache_blocks = in->num_cache_blocks;
    out->dtype = in->dtype;
    out->causal = in->causal && in->q_len > 1;
    out->page_size = in->page_size;
    out->d_c = in->d_c;
    out->d_r = in->d_r;
    out->d_qk = in->d_c + in->d_r;
    out->rows = in->q_len * in->num_heads;
    out->row_tiles = (out->rows + MLA4J_TILE_M - 1) / MLA4J_TILE_M;
    out->scale = in->scale;
    out->scale_log2 = (float)((double)in->scale * 1.4426950408889634);
    out->sched_off = sizeof(MlaTiling) / sizeof(int32_t);
    out->split_off = out->sched_off + (uint32_t)in->core_num * MLA4J_META_INTS;
    int32_t *base = (int32_t *)out;
    split_schedule(in->seqlens, in->batch, in->core_num, base + out->sched_off, base + out->split_off);
    out->total_splits = base[out->split_off + in->batch];

    /* Workspace: 512-byte aligned pieces (GM has no alignment rule; this keeps bursts aligned). */
    uint64_t off = 0;
    out->ws_s_core = align_up(2ull * MLA4J_TILE_M * MLA4J_TILE_N * 4, 512);
    out->ws_p_core = align_up(2ull * MLA4J_TILE_M * MLA4J_TILE_N * 2, 512);
    out->ws_o_core = align_up((uint64_t)MLA4J_TILE_M * in->d_c * 4, 512);
    out->ws_s_off = off; off += out->ws_s_core * in->core_num;
    out->ws_p_off = off; off += out->ws_p_core * in->core_num;
    out->ws_o_off = off; off += out->ws_o_core * in->core_num;
    out->ws_part_o_off = off; off += align_up((uint64_t)out->total_splits * out->rows * in->d_c * 4, 512);
    out->ws_part_lse_off = off; off += align_up((uint64_t)out->total_splits * out->rows * 4, 512);
    out->workspace_bytes = off;
    return 0;
}
