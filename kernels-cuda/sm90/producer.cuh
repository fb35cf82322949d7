// The producer warpgroup walks the part's 64-token tiles in order and fills the next ring stage with each
// 64 x 576 tile, as 9 swizzled column boxes, once the consumers have freed it. Paging (mla4j/paging.h):
//   pages >= 16 tokens (produce_tma, warp 8): TMA. A tile lies in one page when pages hold >= 64 tokens (one load
//     per box, at the tile's row in the page); below that it spans 64 / page pages and each box lands as that many
//     loads of `page` rows (the TMA box height, KvTensorMap), spread over the warp's lanes.
//   pages < 16 tokens (produce_gather, all 128 threads; config.h says why): cp.async, 16 bytes a copy, each thread
//     4 rows x 9 boxes, written in the swizzle TMA would have used; keys past the sequence are zero-filled.
//   an fp8_e4m3 cache (produce_fp8, pages >= 16 tokens): thread 0 TMA-loads the tile's e4m3 bytes into the upper half
//     of the stage (config.h, kRawOffset), then all 128 threads widen them in place to the q dtype, exactly, in the
//     same swizzled layout; the per-tensor scale is folded into the softmax scale and o (MlaParams.v_scale).
#pragma once
#include <cuda.h>
#include <stdint.h>

#include "split.cuh"

namespace mla4j_sm90 {

// first_phys: the physical page of the part's first tile, read at kernel entry (before the barrier set-up)
// so the first TMA load need not wait for a block-table read. lane: this thread's lane in warp 8.
__device__ void produce_tma(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, int first_phys,
                            int lane) {
    const uint32_t kv = smem_addr(smem + kOffKV);
    const uint32_t full = smem_addr(smem + kOffBar);
    const uint32_t empty = full + kStages * kBoxes * 8;
    const int shift = p.page_shift;
    const int loads = shift < 6 ? MLA4J_TILE >> shift : 1;          // pages per tile: loads per box
    const uint32_t load_bytes = shift < 6 ? 128u << shift : kBoxBytes;  // one load's rows x 128 B
    const int in_page_mask = (1 << shift) - 1;
    int it = 0;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int* bt = p.block_table + static_cast<size_t>(s) * p.max_blocks;
        // Pages past the sequence's last (a tile's tail, small pages) load its last page again: never used,
        // the consumers zero V rows past the sequence end and mask their scores.
        const int last_page = (p.seqlens[s] - 1) >> shift;
        const int end = split_end_block(p, w, s);
        for (int blk = split_first_block(w, s); blk < end; ++blk, ++it) {
            const int st = it % kStages;
            const uint32_t use = it / kStages;
            mbar_wait(empty + st * 8, (use & 1) ^ 1);  // first use of a stage passes at once
            // One barrier per box: Q K^T starts on the first 64 columns while the rest still arrive. Armed for
            // the whole box before any lane's load can land.
            if (lane == 0) {
#pragma unroll
                for (int j = 0; j < kBoxes; ++j) mbar_arrive_expect_tx(full + (st * kBoxes + j) * 8, kBoxBytes);
            }
            __syncwarp();
            const int tok0 = blk * MLA4J_TILE;
            for (int k = lane; k < loads; k += 32) {
                // first_phys belongs to the part's first split; when that split is empty (a zero-length
                // sequence) the first tile loaded is another sequence's
                const bool first = k == 0 && s == w.begin_idx && blk == w.begin_block;
                const int page = first ? first_phys : bt[min((tok0 >> shift) + k, last_page)];
                const int row = (page << shift) + (tok0 & in_page_mask);
                const uint32_t dst = kv + st * kTileBytes + k * load_bytes;
#pragma unroll
                for (int j = 0; j < kBoxes; ++j)
                    tma_load_2d(dst + j * kBoxBytes, tm, j * 64, row, full + (st * kBoxes + j) * 8);
            }
        }
    }
}

// tp: this thread's index in the producer warpgroup (0..127). Thread tp copies 16-byte chunk tp % 8 of rows
// tp / 8 + 16 i (i = 0..3) of every box: one block-table read per row and tile, 36 copies in flight.
__device__ void produce_gather(const MlaParams& p, const PartWork& w, uint8_t* smem, int tp) {
    const uint32_t kv = smem_addr(smem + kOffKV);
    const uint32_t full = smem_addr(smem + kOffBar);
    const uint32_t empty = full + kStages * kBoxes * 8;
    const uint8_t* cache = static_cast<const uint8_t*>(p.k_cache);
    const int c8 = tp & 7, r0 = tp >> 3;
    // the swizzled offset of this thread's chunk in its rows (r & 7 == r0 & 7 for all four) and boxes
    const uint32_t dst0 = r0 * 128 + ((c8 ^ (r0 & 7)) << 4);
    int it = 0;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int end = split_end_block(p, w, s);
        for (int blk = split_first_block(w, s); blk < end; ++blk, ++it) {
            const int st = it % kStages;
            const uint32_t use = it / kStages;
            const uint8_t* src[4];
            uint32_t bytes[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {  // table reads before the wait: they overlap the consumers' work
                const int t = blk * MLA4J_TILE + r0 + 16 * i;
                bytes[i] = t < seqlen ? 16 : 0;
                src[i] = cache + (t < seqlen ? mla4j_cache_row(p, s, t) : 0) * (MLA4J_D_QK * 2) + c8 * 16;
            }
            mbar_wait(empty + st * 8, (use & 1) ^ 1);  // first use of a stage passes at once
            const uint32_t dst = kv + st * kTileBytes + dst0;
#pragma unroll
            for (int j = 0; j < kBoxes; ++j)
#pragma unroll
                for (int i = 0; i < 4; ++i) cp_async_16_zfill(dst + j * kBoxBytes + i * 16 * 128, src[i] + j * 128, bytes[i]);
            // commit first: wait_group waits for committed groups only (without it the arrive below ran ahead of
            // the copies: wrong results at h_q * s_q >= 64, found by conformance with every tile gathered)
            cp_async_commit();
            cp_async_wait_all();
            fence_proxy_async();  // the copies' writes, before the consumers' wgmma (async proxy) reads them
#pragma unroll
            for (int j = 0; j < kBoxes; ++j) mbar_arrive(full + (st * kBoxes + j) * 8);
        }
    }
}

// One 16-byte chunk of a 16-bit row from 8 e4m3 bytes (zeros past the sequence end). 8 bytes at a time: the
// producer has 24 registers (config.h), and wider pieces spilled.
template <class T>
__device__ __forceinline__ uint4 widen8(const uint2& a, bool live) {
    if (!live) return make_uint4(0, 0, 0, 0);
    return make_uint4(T::from_e4m3x2(a.x & 0xFFFF), T::from_e4m3x2(a.x >> 16), T::from_e4m3x2(a.y & 0xFFFF),
                      T::from_e4m3x2(a.y >> 16));
}

// tp: this thread's index in the producer warpgroup (0..127). Thread 0 waits for the stage, arms raw[st] and issues
// the tile's loads: 9 boxes of 64 bytes x min(page, 64) rows per page the tile spans (tm: the cache as
// [num_blocks * page, 576] bytes, unswizzled). Then every thread widens row tp / 2, bytes 32 (tp & 1) .. + 31 of each
// box, box by box (kBarWiden orders the reads and writes of the in-place widening: see the loop and config.h).
template <class T>
__device__ void produce_fp8(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, int tp) {
    const uint32_t full = smem_addr(smem + kOffBar);
    const uint32_t empty = full + kStages * kBoxes * 8;
    const uint32_t raw = empty + kStages * 8;
    const int shift = p.page_shift;
    const int loads = shift < 6 ? MLA4J_TILE >> shift : 1;  // pages per tile
    const int in_page_mask = (1 << shift) - 1;
    const int row = tp >> 1, half = tp & 1;
    int it = 0;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int* bt = p.block_table + static_cast<size_t>(s) * p.max_blocks;
        const int seqlen = p.seqlens[s];
        const int last_page = (seqlen - 1) >> shift;  // pages past it: its last again, never used (rows zeroed)
        const int end = split_end_block(p, w, s);
        for (int blk = split_first_block(w, s); blk < end; ++blk, ++it) {
            const int st = it % kStages;
            const uint32_t use = it / kStages;
            uint8_t* stage = smem + kOffKV + st * kTileBytes;
            if (tp == 0) {
                mbar_wait(empty + st * 8, (use & 1) ^ 1);  // first use of a stage passes at once
                mbar_arrive_expect_tx(raw + st * 8, kBoxes * kRawBoxBytes);
                const int tok0 = blk * MLA4J_TILE;
                for (int k = 0; k < loads; ++k) {
                    const int r = (bt[min((tok0 >> shift) + k, last_page)] << shift) + (tok0 & in_page_mask);
#pragma unroll
                    for (int j = 0; j < kBoxes; ++j)
                        tma_load_2d(smem_addr(stage + kRawOffset + j * kRawBoxBytes + (k << (shift + 6))), tm, j * 64, r,
                                    raw + st * 8);
                }
            }
            mbar_wait(raw + st * 8, use & 1);
            const bool live = blk * MLA4J_TILE + row < seqlen;
            const uint8_t* src = stage + kRawOffset + row * 64 + half * 32;
            // Box j's widened bytes overwrite raw boxes 2j - 9 and 2j - 8 (config.h): for j < 8 boxes read before this
            // iteration's barrier, which every thread passes only after its reads of box j - 1; box 8 overwrites its own
            // raw bytes too, so its reads come before one more barrier.
            const int rsw = row & 7;
#pragma unroll 1
            for (int j = 0; j < kBoxes - 1; ++j) {
                named_barrier(kBarWiden, kProducerThreads);
                const uint2* in = reinterpret_cast<const uint2*>(src + j * kRawBoxBytes);
                uint8_t* dst = stage + j * kBoxBytes + row * 128;
#pragma unroll 1
                for (int c = 0; c < 4; ++c)
                    *reinterpret_cast<uint4*>(dst + (((4 * half + c) ^ rsw) << 4)) = widen8<T>(in[c], live);
                fence_proxy_async();  // the widened box, before the consumers' wgmma (async proxy) reads it
                mbar_arrive(full + (st * kBoxes + j) * 8);
            }
            {
                constexpr int j = kBoxes - 1;
                const uint2* in = reinterpret_cast<const uint2*>(src + j * kRawBoxBytes);
                uint2 a[4];
#pragma unroll
                for (int c = 0; c < 4; ++c) a[c] = in[c];
                named_barrier(kBarWiden, kProducerThreads);  // every thread's reads of boxes 0..8 done
                uint8_t* dst = stage + j * kBoxBytes + row * 128;
#pragma unroll
                for (int c = 0; c < 4; ++c) *reinterpret_cast<uint4*>(dst + (((4 * half + c) ^ rsw) << 4)) = widen8<T>(a[c], live);
                fence_proxy_async();
                mbar_arrive(full + (st * kBoxes + j) * 8);
            }
        }
    }
}

}  // namespace mla4j_sm90
