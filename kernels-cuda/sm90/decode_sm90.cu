// mla4j dense MLA decode for Hopper (sm_90a): a TMA producer and two wgmma consumer warpgroups.
//
// One CTA = one (split-KV part, 64-row query tile); 384 threads in three warpgroups:
//   producer (threads 256..383, producer.cuh): warp 8 TMA-loads the part's 64 x 576 KV tiles, 9 boxes of
//        64 tokens x 64 columns each (128-byte swizzle; one page's rows per load below 64-token pages), into a
//        2-stage ring; pages below 16 tokens are gathered by all 128 threads with cp.async instead; an fp8 cache's
//        e4m3 bytes are TMA-loaded and widened in place by all 128 threads.
//   consumers (threads 0..255, consumer.cuh): the 64 x 512 fp32 output is split by columns, warpgroup 0 owns V
//        columns 0..255 and warpgroup 1 256..511 (128 accumulator registers per thread each); per block,
//        warpgroup 0 computes S and the softmax and hands P to warpgroup 1 (the relay schedule).
// Files: config.h (sizes, roles), smem_plan.cuh (shared memory), barriers.cuh (who waits for what), split.cuh
// (the part's splits: Q tile, partial or direct write), sm90_ptx.cuh / sm90_wgmma.cuh (instruction wrappers).
// Softmax is in base 2: scores are scaled by scale*log2(e), LSE converted back to natural log.
// Variants and probes of this kernel (other schedules, timing probes, A/B switches) live in lab/kernels-cuda/sm90.
#include <cuda.h>
#include <stdint.h>

#include "config.h"
#include "smem_plan.cuh"
#include "barriers.cuh"
#include "split.cuh"
#include "producer.cuh"
#include "consumer.cuh"

using namespace mla4j_sm90;

// Grid: (num_parts, ceil(rows / 64)); block 384; dynamic shared memory MLA4J_SM90_SMEM_BYTES (sm90_launch.h).
// tm_kv: the whole cache as a 2-D tensor [num_blocks * page, 576] of 16-bit elements, box 64 columns x
// min(page, 64) rows, 128-byte swizzle (see kernels-cuda/sm90/README.md for the exact encode arguments); an fp8 cache:
// [num_blocks * page, 576] bytes, box 64 bytes x min(page, 64) rows, no swizzle.
// Launched in 2-CTA clusters when ceil(rows / 64) is even: that only places the two tile CTAs of a part in one GPC,
// where the second CTA's loads of each KV block hit what the first brought into L2 sooner; the kernel code does
// not depend on it (each CTA loads its own boxes).
// kFp8: the instantiation for an fp8_e4m3 cache (mla4j_decode_sm90_fp8): its producer widens the bytes; a separate
// entry so that the 16-bit kernel's code and registers stay exactly its own.
template <bool kFp8>
__device__ __forceinline__ void decode_sm90(const MlaParams& p, const CUtensorMap& tm_kv) {
    extern __shared__ uint8_t smem_raw[];
    // Aligned by pointer arithmetic on the __shared__ array (not through an integer cast), so the compiler
    // keeps the shared state space: ld/st.shared instead of generic accesses for P, maxima and sums.
    uint8_t* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
    // Programmatic dependent launch: let the combine kernel get scheduled now (it waits for this
    // grid's completion itself), and wait for a preceding scheduler kernel if launched as dependent.
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    const PartWork w = read_part(p, blockIdx.x);
    if (w.end_idx < w.begin_idx) return;  // an empty part (all CTAs of a cluster leave here together)
    // The first tile's physical page, read before the barrier set-up so that the first TMA load does not
    // wait for it afterwards (the first TMA ~0.2 us earlier at b = 1). In bounds whenever the part's first
    // split has a tile; otherwise it is never used.
    int first_phys = 0;
    const int first_page = (w.begin_block * MLA4J_TILE) >> p.page_shift;
    if (threadIdx.x == kConsumerThreads && first_page < p.max_blocks)
        first_phys = p.block_table[static_cast<size_t>(w.begin_idx) * p.max_blocks + first_page];
    // A full 64-row Q tile (h_q * s_q >= 64) is started here too, ahead of the KV bytes (b = 2..8, s_k = 4096,
    // h_q = 128 steps 5-7% faster). A tile with padding rows is not: issuing its zero-fill copies here delays
    // the barrier set-up more than it saves (h_q = 16: 2-4% slower).
    if (threadIdx.x < kConsumerThreads && q_tile_is_full(p, blockIdx.y * kRowsPerTile))
        load_q_tile(p, w.begin_idx, blockIdx.y * kRowsPerTile, threadIdx.x, smem);

    const bool gather = !kFp8 && p.page_shift < kTmaMinPageShift;  // the host takes fp8 at pages of >= 16 tokens only
    if (threadIdx.x == 0) {
        init_barriers(smem, gather || kFp8, kFp8);
        tma_prefetch_desc(&tm_kv);
    }
    __syncthreads();

    if (threadIdx.x >= kConsumerThreads) {
        regs_dealloc<kFp8 ? kFp8ProducerRegs : kProducerRegs>();
        if constexpr (kFp8) {
            if (p.dtype == MLA4J_FP16)
                produce_fp8<Fp16>(p, &tm_kv, w, smem, threadIdx.x - kConsumerThreads);
            else
                produce_fp8<Bf16>(p, &tm_kv, w, smem, threadIdx.x - kConsumerThreads);
        } else if (gather)
            produce_gather(p, w, smem, threadIdx.x - kConsumerThreads);
        else if (threadIdx.x < kConsumerThreads + 32)
            produce_tma(p, &tm_kv, w, smem, first_phys, threadIdx.x & 31);
    } else {
        regs_alloc<kFp8 ? kFp8ConsumerRegs : kConsumerRegs>();
        const Ctx c = make_ctx(smem, blockIdx.y);
        if (p.dtype == MLA4J_FP16)
            consume_relay<Fp16, kFp8>(p, w, c);
        else
            consume_relay<Bf16, kFp8>(p, w, c);
    }
}

extern "C" __global__ void __launch_bounds__(kThreads, 1)
    mla4j_decode_sm90(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    decode_sm90<false>(p, tm_kv);
}

// The same kernel over an fp8_e4m3 cache (MlaParams.cache_format; tm_kv over its bytes).
extern "C" __global__ void __launch_bounds__(kThreads, 1)
    mla4j_decode_sm90_fp8(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    decode_sm90<true>(p, tm_kv);
}
