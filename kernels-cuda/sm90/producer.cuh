// The producer warpgroup walks the part's 64-token tiles in order and fills the next ring stage with each
// 64 x 576 tile, as 9 swizzled column boxes, once the consumers have freed it. Paging (mla4j/paging.h):
//   pages >= 16 tokens (produce_tma, warp 8): TMA. A tile lies in one page when pages hold >= 64 tokens (one load
//     per box, at the tile's row in the page); below that it spans 64 / page pages and each box lands as that many
//     loads of `page` rows (the TMA box height, KvTensorMap), spread over the warp's lanes.
//   pages < 16 tokens (produce_gather, all 128 threads; config.h says why): cp.async, 16 bytes a copy, each thread
//     4 rows x 9 boxes, written in the swizzle TMA would have used; keys past the sequence are zero-filled.
//   an fp8_e4m3 cache (produce_fp8, pages >= 16 tokens): thread 0 TMA-loads tiles' e4m3 bytes into two raw buffers
//     (config.h, the fp8 ring), all 128 threads widen each to the q dtype, exactly, into the one swizzled 16-bit stage
//     the consumers read; the per-tensor scale is folded into the softmax scale and o (MlaParams.v_scale).
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

// The walk over a part's 64-token tiles (sequence s, tile blk) that every role makes in the same order.
struct TileWalk {
    int s, blk, end;
};
__device__ __forceinline__ bool tile_settle(const MlaParams& p, const PartWork& w, TileWalk& t) {
    while (t.blk >= t.end) {  // past this sequence's tiles (or it has none): the next sequence's first
        if (++t.s > w.end_idx) return false;
        t.blk = 0;
        t.end = split_end_block(p, w, t.s);
    }
    return true;
}
__device__ __forceinline__ bool tile_first(const MlaParams& p, const PartWork& w, TileWalk& t) {
    t.s = w.begin_idx;
    t.blk = split_first_block(w, t.s);
    t.end = split_end_block(p, w, t.s);
    return tile_settle(p, w, t);
}
__device__ __forceinline__ bool tile_next(const MlaParams& p, const PartWork& w, TileWalk& t) {
    ++t.blk;
    return tile_settle(p, w, t);
}

// Thread 0: arms raw barrier `bar` and loads tile blk's e4m3 bytes into raw buffer `dst`: 9 boxes of 64 bytes x
// min(page, 64) rows per page (tm: the cache as [num_blocks * page, 576] bytes, unswizzled).
__device__ __forceinline__ void fp8_issue(const MlaParams& p, const CUtensorMap* tm, uint32_t dst, uint32_t bar, int blk,
                                          const int (&pg)[4]) {
    mbar_arrive_expect_tx(bar, kRawTileBytes);
    const int shift = p.page_shift, in_page = (blk * MLA4J_TILE) & ((1 << shift) - 1);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        if ((k << shift) >= MLA4J_TILE) break;
#pragma unroll
        for (int j = 0; j < kBoxes; ++j)
            tma_load_2d(dst + j * kRawBoxBytes + (k << (shift + 6)), tm, j * 64, (pg[k] << shift) + in_page, bar);
    }
}
// 16 e4m3 bytes to chunks c0 and c0 + 1 of a widened row; keep = 0 (rows past the sequence end) writes zeros.
template <class T>
__device__ __forceinline__ void widen16(uint32_t dst, int c0, int rsw, const uint4& a, uint32_t keep) {
    uint4 o;
    T::from_e4m3x4(a.x & keep, o.x, o.y);
    T::from_e4m3x4(a.y & keep, o.z, o.w);
    sts128(dst + ((c0 ^ rsw) << 4), o);
    T::from_e4m3x4(a.z & keep, o.x, o.y);
    T::from_e4m3x4(a.w & keep, o.z, o.w);
    sts128(dst + (((c0 + 1) ^ rsw) << 4), o);
}
// Widening thread u (kFp8Wideners of them: the producer warpgroup, then consumer warpgroup 1) widens row u / 4,
// bytes 16 (u & 3) .. + 15, of each box of the raw tile at `raw_tile` into the wide stage, arriving on each box's
// full barrier as it goes (Q K^T starts on box 0 while the rest is widened). Box j + 1's bytes are read before box
// j is written, so the shared-memory latency hides under the conversion. live: the row is inside the sequence.
// Then it arrives on `raw_free`: an mbarrier, not a named barrier, so that no widener waits for the others (and
// racecheck, which pairs the two consumer warpgroups' named-barrier counts, sees none met by warpgroup 1 alone).
template <class T>
__device__ __forceinline__ void fp8_widen(uint32_t wide, uint32_t raw_tile, uint32_t full, uint32_t raw_free, int u,
                                          bool live) {
    const int row = u >> 2, q = u & 3;
    const uint32_t src = raw_tile + row * 64 + q * 16, dst = wide + row * 128;
    const uint32_t keep = live ? ~0u : 0u;
    uint4 a = lds128(src);
#pragma unroll
    for (int j = 0; j < kBoxes; ++j) {
        uint4 nx = a;
        if (j + 1 < kBoxes) nx = lds128(src + (j + 1) * kRawBoxBytes);
        widen16<T>(dst + j * kBoxBytes, 2 * q, row & 7, a, keep);
        fence_proxy_async();  // the widened box, before the consumers' wgmma (async proxy) reads it
        mbar_arrive(full + j * 8);
        a = nx;
    }
    mbar_arrive(raw_free);
}

// Thread 0's loads of an fp8 part: the next tile to load, whether there is one, its pages, and how many went out.
struct Fp8Loads {
    TileWalk nxt;
    int pg[4];
    int issued;
    bool more;
};
// Loads the next tile into raw buffer (issued & 1), which its reader has released.
__device__ __forceinline__ void fp8_load_next(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, Fp8Loads& l,
                                              uint32_t raw_bufs, uint32_t raw) {
    if (!l.more) return;
    const int b = l.issued & 1;
    fp8_issue(p, tm, raw_bufs + b * kRawTileBytes, raw + b * 8, l.nxt.blk, l.pg);
    ++l.issued;
    l.more = tile_next(p, w, l.nxt);
    if (l.more) tile_pages(p, l.nxt.s, l.nxt.blk, l.pg);
}

// tp: this thread's index in the producer warpgroup (0..127). The fp8 ring (config.h): stage 0 holds the widened
// tile the consumers read, stage 1 two raw buffers, so two tiles' bytes stream while one is consumed. Thread 0 keeps
// both raw buffers loading; tile i is widened out of its raw buffer into stage 0, once the consumers freed it, by
// this warpgroup (rows 0..31) and consumer warpgroup 1 (rows 32..63, consume_relay: it would otherwise wait for
// warpgroup 0's scores), then its raw buffer goes to tile i + 2 once all 256 wideners are done reading it.
template <class T>
__device__ void produce_fp8(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, int tp) {
    const uint32_t full = smem_addr(smem + kOffBar);
    const uint32_t empty = full + kStages * kBoxes * 8;
    const uint32_t raw = empty + kStages * 8, raw_free = raw + kStages * 8;
    const uint32_t wide = smem_addr(smem + kOffKV);
    const uint32_t raw_bufs = wide + kTileBytes;
    TileWalk cur;
    if (!tile_first(p, w, cur)) return;
    Fp8Loads l{cur, {0, 0, 0, 0}, 0, true};
    const bool loader = tp == 0;
    if (loader) {
        tile_pages(p, l.nxt.s, l.nxt.blk, l.pg);
        fp8_load_next(p, tm, w, l, raw_bufs, raw);
        fp8_load_next(p, tm, w, l, raw_bufs, raw);
    }
    for (int it = 0;; ++it) {
        const int b = it & 1;
        const bool live = cur.blk * MLA4J_TILE + (tp >> 2) < p.seqlens[cur.s];
        mbar_wait(raw + b * 8, (it >> 1) & 1);
        mbar_wait(empty, (it & 1) ^ 1);  // the consumers are done with tile it - 1 (the first use passes at once)
        fp8_widen<T>(wide, raw_bufs + b * kRawTileBytes, full, raw_free + b * 8, tp, live);
        if (!tile_next(p, w, cur)) break;
        if (loader && l.more) {  // tile it + 2 into buffer b, once every widener has read tile it out of it
            mbar_wait(raw_free + b * 8, (it >> 1) & 1);
            fp8_load_next(p, tm, w, l, raw_bufs, raw);
        }
    }
}

}  // namespace mla4j_sm90
