// The producer: one thread of warpgroup 2 walks the part's KV blocks in order and TMA-loads each 64 x 576
// block as 9 boxes into the next ring stage, once the consumers have freed it.
#pragma once
#include <cuda.h>
#include <stdint.h>

#include "split.cuh"

namespace mla4j_sm90 {

// first_phys: the physical id of the part's first block, read at kernel entry (before the barrier set-up)
// so the first TMA load need not wait for a block-table read.
__device__ void produce(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, int first_phys) {
    const uint32_t kv = smem_addr(smem + kOffKV);
    const uint32_t full = smem_addr(smem + kOffBar);
    const uint32_t empty = full + kStages * kBoxes * 8;
    int it = 0;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int* bt = p.block_table + static_cast<size_t>(s) * p.max_blocks;
        const int end = split_end_block(p, w, s);
        for (int blk = split_first_block(w, s); blk < end; ++blk, ++it) {
            const int st = it % kStages;
            const uint32_t use = it / kStages;
            mbar_wait(empty + st * 8, (use & 1) ^ 1);  // first use of a stage passes at once
            // first_phys belongs to the part's first split; when that split is empty (a zero-length
            // sequence) the first block loaded is another sequence's
            const bool first = s == w.begin_idx && blk == w.begin_block;
            const int row = (first ? first_phys : bt[blk]) * MLA4J_BLOCK;
            // One barrier per box: Q K^T starts on the first 64 columns while the rest still arrive.
#pragma unroll
            for (int j = 0; j < kBoxes; ++j) {
                const uint32_t bar = full + (st * kBoxes + j) * 8;
                mbar_arrive_expect_tx(bar, kBoxBytes);
                tma_load_2d(kv + st * kTileBytes + j * kBoxBytes, tm, j * 64, row, bar);
            }
        }
    }
}

}  // namespace mla4j_sm90
