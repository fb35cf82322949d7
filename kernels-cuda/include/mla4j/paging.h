// Where a token's cache row lives: the one statement of the paging rule for every decode kernel.
//
// The cache is [num_blocks, page, 1, 576] with page = 1 << p.page_shift (1 .. 256 tokens, the plan's
// io.mla4j.Geometry); token t of sequence s is row (t & (page - 1)) of page block_table[s][t >> page_shift].
// The split schedule counts 64-token tiles (MLA4J_TILE) whatever the page size: a tile spans 64 / page
// pages below 64 and part of one page above.
#pragma once
#include <stddef.h>

#include "params.h"

#ifdef __CUDACC__
// Row of the cache viewed as [num_blocks * page, 576] that holds token t (< seqlen) of sequence s.
__device__ __forceinline__ size_t mla4j_cache_row(const MlaParams& p, int s, int t) {
    const int page = p.block_table[static_cast<size_t>(s) * p.max_blocks + (t >> p.page_shift)];
    return (static_cast<size_t>(page) << p.page_shift) + (t & ((1 << p.page_shift) - 1));
}
// 64-token tiles of a sequence of seqlen tokens: the schedule's unit.
__device__ __forceinline__ int mla4j_tiles(int seqlen) { return (seqlen + MLA4J_TILE - 1) / MLA4J_TILE; }
#endif
