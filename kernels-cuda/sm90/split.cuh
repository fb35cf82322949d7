// A CTA's work is one part of the split-KV schedule (include/mla4j/schedule.h): a run of splits, each a range of
// one sequence's KV blocks. Per split the consumers load its Q tile (split_begin), run the schedule over its
// blocks (consumer.cuh), and write the result (split_end): o/lse directly when the sequence has one split,
// else the split's normalised partial and LSE for mla4j_combine.
#pragma once
#include <math.h>
#include <stdint.h>

#include "mla4j/paging.h"
#include "mla4j/params.h"
#include "mla4j/schedule.h"
#include "barriers.cuh"
#include "types.cuh"

namespace mla4j_sm90 {

// The part's work, read once from the scheduler metadata.
struct PartWork {
    int begin_idx, begin_block, end_idx, end_block, begin_split;
};
__device__ __forceinline__ PartWork read_part(const MlaParams& p, int part) {
    const int* m = p.sched + part * MLA4J_SCHED_INTS;
    return PartWork{m[0], m[1], m[2], m[3], m[4]};
}
__device__ __forceinline__ int blocks_of(const MlaParams& p, int s) {
    return mla4j_tiles(p.seqlens[s]);
}
__device__ __forceinline__ int split_first_block(const PartWork& w, int s) { return s == w.begin_idx ? w.begin_block : 0; }
__device__ __forceinline__ int split_end_block(const MlaParams& p, const PartWork& w, int s) {
    return s == w.end_idx ? w.end_block : blocks_of(p, s);
}

// The physical pages of tile blk of sequence s, for pages >= 16 tokens (at most 4 a tile), read one tile ahead of its
// loads (the fp8 producer here, the transposed kernel's). Pages past the sequence's last load its last again: never
// used (keys past the end are masked, their V rows zeroed or widened to zeros).
__device__ __forceinline__ void tile_pages(const MlaParams& p, int s, int blk, int (&pg)[4]) {
    const int shift = p.page_shift;
    const int* bt = p.block_table + static_cast<size_t>(s) * p.max_blocks;
    const int last = (p.seqlens[s] - 1) >> shift, first = (blk * MLA4J_TILE) >> shift;
#pragma unroll
    for (int k = 0; k < 4; ++k) pg[k] = (k << shift) < MLA4J_TILE ? bt[min(first + k, last)] : 0;
}

// Starts copying the sequence's 64-row query tile into the K-major 128B-swizzled layout wgmma reads
// (rows past the sequence's query rows are zero-filled). All 256 consumer threads take part, each
// issuing its 18 16-byte cp.async copies at once: one memory round trip (a register-staged copy
// takes two, ~1.4 us more at the start of every split). Completed by cp_async_wait_all() in split_begin.
__device__ __forceinline__ void load_q_tile(const MlaParams& p, int s, int tile_row0, int t, uint8_t* smem) {
    constexpr int kChunks = MLA4J_D_QK / 8;                               // 72 x 16 B per row
    constexpr int kPerThread = kRowsPerTile * kChunks / kConsumerThreads;  // 18
    const uint4* q = reinterpret_cast<const uint4*>(p.q) + static_cast<size_t>(s) * p.rows * kChunks;
    const uint32_t base = smem_addr(smem + kOffQ);
#pragma unroll 1  // copies in flight need no registers, so no unrolling (which raised the spills)
    for (int i = 0; i < kPerThread; ++i) {
        const int idx = t + i * kConsumerThreads;
        const int r = idx / kChunks, c = idx % kChunks;
        const int grow = tile_row0 + r;
        const bool real = grow < p.rows;
        const uint4* src = real ? q + static_cast<size_t>(grow) * kChunks + c : q;  // 0 bytes read when padding
        cp_async_16_zfill(base + (c >> 3) * kBoxBytes + r * 128 + (((c & 7) ^ (r & 7)) << 4), src, real ? 16 : 0);
    }
    cp_async_commit();
}

// What a split's epilogue needs, read at its start so the loads overlap the Q copy instead of sitting
// on the epilogue's critical path (~0.6 us at small batch).
struct SplitOut {
    int slot;     // partial slot (when not direct)
    bool direct;  // the sequence has one split: write o/lse
};

// Split prologue: Q tile into shared memory, and the last visible key of this thread's two rows
// (bottom-right causal mask; never past the sequence end, also for padding rows).
// A full tile's first Q copy was started at kernel entry (q_tile_is_full, mla4j_decode_sm90).
__device__ __forceinline__ bool q_tile_is_full(const MlaParams& p, int tile_row0) { return p.rows - tile_row0 >= kRowsPerTile; }
__device__ __forceinline__ SplitOut split_begin(const MlaParams& p, const PartWork& w, const Ctx& c, int s, int (&lim)[2]) {
    if (s != w.begin_idx || !q_tile_is_full(p, c.tile_row0)) load_q_tile(p, s, c.tile_row0, c.t, c.smem);
    const int seqlen = p.seqlens[s];
    const int off0 = p.split_offsets[s], off1 = p.split_offsets[s + 1];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int iq = (c.tile_row0 + c.r0 + 8 * h) / p.h_q;
        const int l = p.causal ? seqlen - p.s_q + iq : seqlen - 1;
        lim[h] = min(l, seqlen - 1);
    }
    cp_async_wait_all();
    fence_proxy_async();  // the copies' writes, before wgmma (async proxy) reads them
    named_barrier(kBarQ, kConsumerThreads);
    return SplitOut{off0 + (s == w.begin_idx ? w.begin_split : 0), off1 - off0 == 1};
}

// A split starts with no key seen: running max -inf, row sums and the output accumulator 0.
__device__ __forceinline__ void reset_split_state(float (&m)[2], float (&lsum)[2], float (&o)[128]) {
    m[0] = m[1] = -INFINITY;
    lsum[0] = lsum[1] = 0.f;
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
}

// Split epilogue: total row sums (this warpgroup's part + the other's), then o/lse directly for a
// sequence with one split, else the normalised partial and its LSE (-inf when no key was seen).
template <class T, bool kFp8>
__device__ __forceinline__ void split_end(const MlaParams& p, const SplitOut& so, const Ctx& c, int s,
                                          const float (&o)[128], const float (&m)[2], float (&lsum)[2]) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        lsum[h] += __shfl_xor_sync(0xffffffffu, lsum[h], 1);
        lsum[h] += __shfl_xor_sync(0xffffffffu, lsum[h], 2);
    }
    if ((c.lane & 3) == 0) {
        c.ssum[c.wg * 64 + c.r0] = lsum[0];
        c.ssum[c.wg * 64 + c.r0 + 8] = lsum[1];
    }
    named_barrier(kBarSum, kConsumerThreads);

    const int slot = so.slot;
    const bool direct = so.direct;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int r = c.r0 + 8 * h;
        const int grow = c.tile_row0 + r;
        if (grow >= p.rows) continue;
        const float l = lsum[h] + c.ssum[(c.wg ^ 1) * 64 + r];
        const float inv = l > 0.f ? (kFp8 ? p.v_scale : 1.f) / l : 0.f;  // v_scale: the fp8 cache's scale of V
        const float lse = l > 0.f ? (m[h] + log2f(l)) * 0.69314718055994531f : (direct ? INFINITY : -INFINITY);
        if (direct) {
            uint32_t* orow = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(p.o) +
                                                         (static_cast<size_t>(s) * p.rows + grow) * MLA4J_D_V * 2);
#pragma unroll
            for (int j = 0; j < 32; ++j)
                orow[(c.wg * 256 + 8 * j + c.cq) >> 1] = T::pack(o[4 * j + 2 * h] * inv, o[4 * j + 2 * h + 1] * inv);
            if (c.wg == 0 && (c.lane & 3) == 0) {
                const int head = grow % p.h_q, iq = grow / p.h_q;
                p.lse[static_cast<size_t>(s) * p.rows + head * p.s_q + iq] = lse;
            }
        } else {
            float2* arow = reinterpret_cast<float2*>(p.o_accum + (static_cast<size_t>(slot) * p.rows + grow) * MLA4J_D_V);
#pragma unroll
            for (int j = 0; j < 32; ++j)
                arow[(c.wg * 256 + 8 * j + c.cq) >> 1] = make_float2(o[4 * j + 2 * h] * inv, o[4 * j + 2 * h + 1] * inv);
            if (c.wg == 0 && (c.lane & 3) == 0) p.lse_accum[static_cast<size_t>(slot) * p.rows + grow] = lse;
        }
    }
}

}  // namespace mla4j_sm90
