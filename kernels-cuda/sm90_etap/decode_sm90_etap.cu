// mla4j dense MLA decode for Hopper (sm_90a) in the ETAP style, for few query rows (h_q * s_q <= 16): the
// products are transposed (the idea: arXiv 2506.01969; this code is written here), per KV block of 64 keys
//     S^T = K Q^T      wgmma M = the 64 keys, N = 16 query rows, K = d_qk (DeepSeek: 576, 36 m64n16k16)
//     P^T = softmax along the keys (M: the accumulator's rows, spread over the warpgroup's 4 warps)
//     O^T += V^T P^T   wgmma M = d_v in d_v / 64 m64 tiles, N = 16 query rows, K = the 64 keys (DeepSeek: 32 m64n16k16)
// so the 16 rows cost no tensor work or shared-memory operand reads on padding, where the row-major relay kernel
// (kernels-cuda/sm90) pads them to M = 64. Design, measurements and what each piece bought: README.md beside this.
//
// CTA = one split-KV part of the shared schedule (include/mla4j/schedule.h), one 16-row query tile.
// Threads: two consumer warpgroups (0..255) take alternate KV blocks of the part, each its own online softmax over
// all 16 rows (block-parallel); their states (m, l, O^T) merge at each split's end. The producer warpgroup's first
// thread (256) issues every TMA load (an fp8 cache: the whole producer warpgroup widens, produce_fp8).
// One source for every width pair (Geo<DC, DR>: entries for 512 + 64 and include/mla4j/widths.h's pairs) and the fp8
// entry; the numbers below are DeepSeek's 512 + 64.
//
// Shared memory (base aligned to 1024; offsets below):
//   Q      9 boxes of 16 rows x 128 B (64 features each, 128B swizzle): the K-major B operand of S^T; at a split's
//          end also the merge scratch (both warpgroups are past their S^T then)
//   P^T    per warpgroup, 16 rows (query) x 64 keys, 16-bit, 128B swizzle: the K-major B operand of O^T
//   red    per warpgroup [max, sum][4 warps][16]: column maxima / sums exchanged among the 4 warps
//   ring   R boxes of 64 keys x 64 features (8 KiB, 128B swizzle), filled in block order (9 boxes per block; box j =
//          features 64j..64j+63, V = boxes 0..7): all the rest of the budget, R = 25 (2.8 blocks in flight)
//   bars   full[R] (producer arrive + tx bytes), empty[R] (lane 0 of each of the 4 warps that read the box)
// A box is released as soon as its readers retired: the RoPE box after S^T, V box t after the t-th m64 tile of O^T
// (one commit group per tile), so the producer refills the ring box by box, not block by block.
// Softmax in base 2 with a lazy running max (moves only when a block max exceeds it by > 8), LSE in natural log.
// Outputs follow schedule.h: a sequence with one split writes o/lse directly, otherwise o_accum/lse_accum (normalised by
// the split's own sum; lse -inf for a split that saw no key), merged by the shared mla4j_combine.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/paging.h"
#include "mla4j/params.h"
#include "mla4j/schedule.h"
#include "mla4j/widths.h"
#include "sm90/producer.cuh"  // the fp8 widening (widen16) and the part's tile walk
#include "sm90/split.cuh"
#include "sm90/sm90_ptx.cuh"
#include "sm90/sm90_wgmma.cuh"
#include "sm90_etap/etap_launch.h"

namespace mla4j_etap {
using namespace mla4j_sm90;  // the PTX wrappers and the part's work (split.cuh) are the relay kernel's

constexpr int kBoxBytes = 64 * 128;
constexpr int kN = MLA4J_ETAP_MAX_ROWS;  // query columns of the tile: wgmma N
constexpr int kNQ = kN / 4;              // query columns per thread in an accumulator fragment
constexpr int kAcc = kN / 2;             // accumulator registers per m64 tile
constexpr int kSChains = 3;              // independent S^T accumulator chains (box b -> chain b % 3; >= 3 boxes)
constexpr int kThreads = MLA4J_ETAP_THREADS, kConsumers = 256;
constexpr float kLazyMax = 8.f;
constexpr int kQBox = kN * 128;  // one 64-feature box of the Q tile
static_assert(kThreads == kConsumers + 128, "update etap_launch.h");
// merge scratch: warpgroup 1's m and l (2 kNQ words per thread) and two O^T tiles (2 kAcc) per round, all distinct
// words (a word reused across rounds made racecheck report a WAR hazard the barriers rule out: lab/etap run 3)
constexpr int kScratchBytes = (2 * kNQ + 2 * kAcc) * 128 * 4;

// The shared-memory plan and the box counts of one width pair (d_c latent + d_r RoPE values a token): a token's
// d_qk values are ceil(d_qk / 64) boxes of 64, the last one partly past d_qk when d_r is 32 (TMA and the Q copy fill
// those columns with zeros, so S^T is exact); V is the first d_c / 64 boxes.
// An fp8_e4m3 cache (kFp8, DeepSeek's widths): the ring the consumers read holds widened 16-bit boxes (W = two blocks'
// worth: both warpgroups' blocks widened at once), and a second ring of raw e4m3 boxes (64 keys x 64 bytes, TMA,
// unswizzled) takes the rest of the budget: the bytes in flight from memory.
template <int DC, int DR, bool kFp8 = false>
struct Geo {
    static constexpr int kDQk = DC + DR, kDV = DC;
    static constexpr int kBoxes = (kDQk + 63) / 64;  // 9 for DeepSeek's 512 + 64
    static constexpr int kVBoxes = DC / 64;           // O^T's m64 tiles
    static constexpr int kRounds = kVBoxes / 2;       // merge rounds of two O^T tiles
    static constexpr int kOffQ = 0;                   // the Q tile, and the merge scratch at a split's end
    static constexpr int kQBytes = kBoxes * kQBox > kScratchBytes ? kBoxes * kQBox : kScratchBytes;
    static constexpr int kOffP = (kOffQ + kQBytes + 1023) / 1024 * 1024;  // [2 warpgroups][16 rows x 128 B]
    static constexpr int kOffRed = kOffP + 2 * kN * 128;  // float [2 warpgroups][max, sum][4 warps][16]
    static constexpr int kOffRing = (kOffRed + 2 * 2 * 4 * kN * 4 + 1023) / 1024 * 1024;
    static constexpr bool kFp8Cache = kFp8;
    static constexpr int kRawBoxBytes = 64 * 64;
    static constexpr int R = kFp8 ? 2 * kBoxes : (MLA4J_ETAP_SMEM_BYTES - 1024 - kOffRing) / (kBoxBytes + 16);
    static constexpr int kOffRaw = kOffRing + R * kBoxBytes;  // fp8: the raw ring
    static constexpr int kRaw = kFp8 ? (MLA4J_ETAP_SMEM_BYTES - 1024 - kOffRaw - 16 * R) / (kRawBoxBytes + 8) : 0;
    static constexpr int kOffBar = kOffRaw + kRaw * kRawBoxBytes;  // u64 full[R], empty[R], then fp8: raw_full[kRaw]
    static_assert(!kFp8 || (DC == 512 && DR == 64), "fp8: DeepSeek's widths");
    static_assert(!kFp8 || kRaw >= kBoxes, "fp8: the raw ring holds a block");
    static_assert(DC % 128 == 0 && DR % 16 == 0 && DR <= 64, "widths: d_c a multiple of 128, d_r of 16 up to 64");
    static_assert(kBoxes == kVBoxes + 1, "one RoPE box (full or part)");
    static_assert(kOffBar + (2 * R + kRaw) * 8 + 1024 <= MLA4J_ETAP_SMEM_BYTES, "shared memory budget (1024: base alignment)");
    static_assert(kOffP % 1024 == 0 && kOffRing % 1024 == 0 && (kN * 128) % 1024 == 0, "swizzled tiles on 1024-byte boundaries");
    static_assert(R >= kBoxes + 1, "the ring holds more than a block");
    static_assert(kBoxes >= kSChains, "every S^T chain gets a box");
};

enum : uint32_t {
    kBarQ = 3,     // all 256 consumers: the Q tile copied (both halves), and the split-end merge rounds
    kBarWg = 1,    // + warpgroup: its own 128 threads (max exchange, P^T published, stale V rows zeroed)
    kBarProd = 4,  // fp8: the producer warpgroup, every thread done reading a raw box (thread 0 may reload it)
};

template <bool BF>
__device__ __forceinline__ void mma(float (&d)[kAcc], uint64_t a, uint64_t b, int acc, bool trans_a) {
    if (trans_a) {
        if constexpr (BF) wgmma_m64n16k16_bf16<1, 0>(d, a, b, acc);
        else wgmma_m64n16k16_f16<1, 0>(d, a, b, acc);
    } else {
        if constexpr (BF) wgmma_m64n16k16_bf16<0, 0>(d, a, b, acc);
        else wgmma_m64n16k16_f16<0, 0>(d, a, b, acc);
    }
}
template <bool BF>
__device__ __forceinline__ uint32_t pack2(float x, float y) {
    if constexpr (BF) {
        __nv_bfloat162 v = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    } else {
        __half2 v = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
}
template <bool BF>
__device__ __forceinline__ uint16_t to16(float x) {
    if constexpr (BF) return __bfloat16_as_ushort(__float2bfloat16_rn(x));
    else return __half_as_ushort(__float2half_rn(x));
}
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// ------------------------------------------------------------------------------------------------ producer
// One thread walks the part's blocks (all its splits, in order) and TMA-loads each block's boxes into the next
// ring slots, one load per page's rows (64 / page of them below 64-token pages). The next block's pages are read
// before the current block's waits, so the table reads hide under them.
template <class G>
__device__ void produce(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem) {
    constexpr int R = G::R;
    const uint32_t ring = smem_addr(smem + G::kOffRing);
    const uint32_t full = smem_addr(smem + G::kOffBar), empty = full + R * 8;
    const uint64_t pol = policy_evict_first();  // the KV stream is read once (lab/etap run 1: +2.7%)
    const int shift = p.page_shift;
    const int loads = shift < 6 ? MLA4J_TILE >> shift : 1;
    const uint32_t load_bytes = shift < 6 ? 128u << shift : kBoxBytes;
    const int in_page = shift < 6 ? 0 : (1 << shift) - 1;  // below 64-token pages a block starts its pages
    int s = w.begin_idx, blk = split_first_block(w, s);
    auto settle = [&](int& ss, int& bb) {  // skips splits with no block left
        while (ss <= w.end_idx && bb >= split_end_block(p, w, ss)) {
            ++ss;
            bb = 0;
        }
    };
    settle(s, blk);
    int pg[4] = {0, 0, 0, 0};
    if (s <= w.end_idx) tile_pages(p, s, blk, pg);
    uint32_t slot = 0, phase = 0;
    while (s <= w.end_idx) {
        int ns = s, nb = blk + 1;
        settle(ns, nb);
        int npg[4] = {0, 0, 0, 0};
        if (ns <= w.end_idx) tile_pages(p, ns, nb, npg);
        const int tok0 = blk * MLA4J_TILE;
#pragma unroll 1
        for (int b = 0; b < G::kBoxes; ++b) {
            mbar_wait(empty + slot * 8, phase ^ 1);  // the first use of a slot passes at once
            mbar_arrive_expect_tx(full + slot * 8, kBoxBytes);
#pragma unroll
            for (int k = 0; k < 4; ++k)
                if (k < loads)
                    tma_load_2d_hint(ring + slot * kBoxBytes + k * load_bytes, tm, b * 64, (pg[k] << shift) + (tok0 & in_page),
                                     full + slot * 8, pol);
            if (++slot == R) {
                slot = 0;
                phase ^= 1;
            }
        }
        s = ns;
        blk = nb;
#pragma unroll
        for (int k = 0; k < 4; ++k) pg[k] = npg[k];
    }
}

// The fp8 producer: all 128 threads of the producer warpgroup widen each raw box, exactly, into the next 16-bit ring
// slot (thread u: row u / 2, raw bytes 32 (u & 1) .. + 31; rows past the sequence end widen to zeros, so the consumers
// zero nothing), arriving on the slot's full barrier per warp; thread 0 keeps the raw ring loading (box g + kRaw into
// the slot box g leaves, once every thread read it: a warpgroup barrier). The per-tensor scale is folded into the
// softmax scale and applied to o (MlaParams.v_scale).
template <class G, class T>
__device__ void produce_fp8(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, int u) {
    constexpr int R = G::R, NR = G::kRaw;
    const uint32_t wide = smem_addr(smem + G::kOffRing), raw = smem_addr(smem + G::kOffRaw);
    const uint32_t full = smem_addr(smem + G::kOffBar), empty = full + R * 8, raw_full = empty + R * 8;
    const uint64_t pol = policy_evict_first();
    const int shift = p.page_shift;
    const int loads = shift < 6 ? MLA4J_TILE >> shift : 1;
    const int in_page = shift < 6 ? 0 : (1 << shift) - 1;
    const int lane = u & 31, row = u >> 1, half = u & 1;
    // thread 0's load cursor: the box it loads next (block walk + box), its block's pages, the boxes issued
    TileWalk ld;
    bool ld_more = tile_first(p, w, ld);
    int ld_box = 0, pg[4] = {0, 0, 0, 0};
    uint32_t issued = 0;
    if (ld_more) tile_pages(p, ld.s, ld.blk, pg);
    auto load_one = [&]() {  // thread 0: the cursor's box into raw slot issued % NR
        const uint32_t sl = issued % NR;
        mbar_arrive_expect_tx(raw_full + sl * 8, G::kRawBoxBytes);
        const int tok0 = ld.blk * MLA4J_TILE;
#pragma unroll
        for (int k = 0; k < 4; ++k)
            if (k < loads)
                tma_load_2d_hint(raw + sl * G::kRawBoxBytes + (k << (shift + 6)), tm, ld_box * 64,
                                 (pg[k] << shift) + (tok0 & in_page), raw_full + sl * 8, pol);
        ++issued;
        if (++ld_box == G::kBoxes) {
            ld_box = 0;
            ld_more = tile_next(p, w, ld);
            if (ld_more) tile_pages(p, ld.s, ld.blk, pg);
        }
    };
    if (u == 0)
        for (int i = 0; i < NR && ld_more; ++i) load_one();
    TileWalk wk;
    uint32_t g = 0;  // boxes widened
    for (bool more = tile_first(p, w, wk); more; more = tile_next(p, w, wk)) {
        const uint32_t keep = wk.blk * 64 + row < p.seqlens[wk.s] ? ~0u : 0u;
        for (int b = 0; b < G::kBoxes; ++b, ++g) {
            const uint32_t rs = g % NR, ws = g % R;
            mbar_wait(raw_full + rs * 8, (g / NR) & 1);
            mbar_wait(empty + ws * 8, ((g / R) & 1) ^ 1);  // the first use of a slot passes at once
            const uint32_t src = raw + rs * G::kRawBoxBytes + row * 64 + half * 32;
            const uint4 a0 = lds128(src), a1 = lds128(src + 16);
            const uint32_t dst = wide + ws * kBoxBytes + row * 128;
            widen16<T>(dst, 4 * half, row & 7, a0, keep);
            widen16<T>(dst, 4 * half + 2, row & 7, a1, keep);
            fence_proxy_async();  // the widened box, before the consumers' wgmma (async proxy) reads it
            __syncwarp();
            if (lane == 0) mbar_arrive(full + ws * 8);
            named_barrier(kBarProd, 128);  // every thread has read raw slot rs
            if (u == 0 && ld_more) load_one();
        }
    }
}

// ------------------------------------------------------------------------------------------------ consumers
// Sequence s's query rows into the K-major 128B-swizzled Q tile (rows past p.rows zero-filled), by all 256 consumer
// threads with cp.async (completed by cp_async_wait_all).
// Columns past d_qk in the last box (d_r = 32) are zero-filled too.
template <class G>
__device__ __forceinline__ void load_q(const MlaParams& p, int s, int t, uint8_t* smem) {
    constexpr int kChunks = G::kDQk / 8;      // 16-byte chunks of a row in memory (72 for 576)
    constexpr int kTileChunks = G::kBoxes * 8;  // and in the tile
    const uint4* q = reinterpret_cast<const uint4*>(p.q) + static_cast<size_t>(s) * p.rows * kChunks;
    const uint32_t base = smem_addr(smem + G::kOffQ);
#pragma unroll 1
    for (int idx = t; idx < kN * kTileChunks; idx += kConsumers) {
        const int r = idx / kTileChunks, c = idx % kTileChunks;
        const bool real = r < p.rows && c < kChunks;
        const uint4* src = real ? q + static_cast<size_t>(r) * kChunks + c : q;
        cp_async_16_zfill(base + (c >> 3) * kQBox + r * 128 + (((c & 7) ^ (r & 7)) << 4), src, real ? 16 : 0);
    }
    cp_async_commit();
}

// Releases V boxes T.. of the block at ring position g0 as their O^T commit groups retire (one group per box, N of
// them in flight): box T once at most N - 1 - T groups are pending.
template <int T, int N, int R>
__device__ __forceinline__ void release_v(uint32_t empty, uint32_t g0, int lane) {
    wgmma_wait<N - 1 - T>();
    __syncwarp();
    if (lane == 0) mbar_arrive(empty + ((g0 + T) % R) * 8);
    if constexpr (T + 1 < N) release_v<T + 1, N, R>(empty, g0, lane);
}

// Warpgroup wg (thread tw of it) over the part: its blocks are every other one of the CTA's (it & 1 == wg).
template <class G, bool BF>
__device__ void consume(const MlaParams& p, const PartWork& w, uint8_t* smem, int wg, int tw) {
    constexpr int R = G::R, kBoxes = G::kBoxes, kV = G::kVBoxes;
    const int warp = tw >> 5, lane = tw & 31;
    const uint32_t barw = kBarWg + wg;
    const uint32_t ring = smem_addr(smem + G::kOffRing);
    const uint32_t full = smem_addr(smem + G::kOffBar), empty = full + R * 8;
    float* red_max = reinterpret_cast<float*>(smem + G::kOffRed) + wg * 2 * 4 * kN;
    float* red_sum = red_max + 4 * kN;
    const uint32_t pt = smem_addr(smem + G::kOffP) + wg * kN * 128;  // this warpgroup's P^T tile
    const uint64_t dq = make_desc_sw128(smem_addr(smem + G::kOffQ), 16, 1024);
    const uint64_t dp = make_desc_sw128(pt, 16, 1024);
    const uint64_t dring = make_desc_sw128(ring, 16, 1024);           // a K-major K box; + slot * 512 (16-byte units)
    const uint64_t dvring = make_desc_sw128(ring, kBoxBytes, 1024);   // an MN-major V^T box (one m64 tile)
    const int key_in = 16 * warp + (lane >> 2);  // accumulator rows key_in, key_in + 8 (keys; dims for O^T)
    const int cq = 2 * (lane & 3);               // accumulator columns 8j + cq, 8j + cq + 1 (query rows)

    // stmatrix.trans row addresses: fragment f = 2j + h (8 query columns 8j.., 8 keys 16*warp + 8h ..); lane 8i + b
    // addresses memory row (query) 8j + b of matrix i.
    uint32_t st_addr;
    {
        const int f = lane >> 3, b = lane & 7;
        const int j = f >> 1, h = f & 1;
        st_addr = pt + (8 * j + b) * 128 + (((2 * warp + h) ^ b) << 4);
    }

    int it = 0;  // blocks of the CTA so far (ring position kBoxes * it)
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int first = split_first_block(w, s), end = split_end_block(p, w, s);
        const int off0 = p.split_offsets[s], off1 = p.split_offsets[s + 1];
        const int slot_out = off0 + (s == w.begin_idx ? w.begin_split : 0);
        const bool direct = off1 - off0 == 1;
        if (s != w.begin_idx) load_q<G>(p, s, wg * 128 + tw, smem);  // the first split's copy went out at entry
        int lim[kNQ];
#pragma unroll
        for (int q = 0; q < kNQ; ++q) {
            const int col = 8 * (q >> 1) + cq + (q & 1);
            const int l = (p.causal && col < p.rows) ? seqlen - p.s_q + col / p.h_q : seqlen - 1;
            lim[q] = min(l, seqlen - 1);
        }
        int lim_min = lim[0];
#pragma unroll
        for (int q = 1; q < kNQ; ++q) lim_min = min(lim_min, lim[q]);
        float m[kNQ], ls[kNQ], o[kV][kAcc];
#pragma unroll
        for (int q = 0; q < kNQ; ++q) m[q] = -INFINITY, ls[q] = 0.f;
#pragma unroll
        for (int t = 0; t < kV; ++t)
#pragma unroll
            for (int i = 0; i < kAcc; ++i) o[t][i] = 0.f;
        cp_async_wait_all();
        fence_proxy_async();               // the copies' writes before wgmma (async proxy) reads them
        named_barrier(kBarQ, kConsumers);  // both warpgroups' copies of the Q tile

        for (int blk = first; blk < end; ++blk, ++it) {
            if ((it & 1) != wg) continue;  // the other warpgroup's block
            const uint32_t g0 = static_cast<uint32_t>(kBoxes) * it;
            // ---- S^T = K Q^T, waiting for each box as it lands; three independent accumulator chains (box b into
            // chain b % 3): one chain of 36 dependent small-N wgmmas runs at the wgmma latency, not its issue rate
            float sc[kAcc], sc1[kAcc], sc2[kAcc];
#pragma unroll
            for (int b = 0; b < kBoxes; ++b) {
                const uint32_t g = g0 + b, sl = g % R;
                mbar_wait(full + sl * 8, (g / R) & 1);
                __syncwarp();
                wgmma_fence();
                const int ch = b % kSChains;
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
                    const uint64_t da = dring + ((sl * kBoxBytes + kk * 32) >> 4), db = dq + ((b * kQBox + kk * 32) >> 4);
                    const int acc = (b >= kSChains) || kk != 0;
                    if (ch == 0) mma<BF>(sc, da, db, acc, false);
                    else if (ch == 1) mma<BF>(sc1, da, db, acc, false);
                    else mma<BF>(sc2, da, db, acc, false);
                }
            }
            wgmma_commit();
            wgmma_wait<0>();
            fence_regs(sc);
            fence_regs(sc1);
            fence_regs(sc2);
#pragma unroll
            for (int i = 0; i < kAcc; ++i) sc[i] += sc1[i] + sc2[i];
            __syncwarp();
            if (lane == 0) mbar_arrive(empty + ((g0 + kV) % R) * 8);  // the RoPE box: S^T was its only reader

            // ---- a partly used last block: stale V rows (possibly NaN) -> 0 once all 4 warps' S^T retired (only
            // this warpgroup reads the block)
            const int valid = seqlen - blk * 64;
            if (!G::kFp8Cache && valid < 64) {  // fp8: the widening wrote zeros past the end
                named_barrier(barw, 128);
                for (int idx = tw; idx < (64 - valid) * kV * 8; idx += 128) {
                    const int r = valid + idx / (kV * 8), box = (idx >> 3) % kV, ch = idx & 7;
                    const uint32_t sl = (g0 + box) % R;
                    *reinterpret_cast<uint4*>(smem + G::kOffRing + sl * kBoxBytes + r * 128 + ch * 16) = make_uint4(0, 0, 0, 0);
                }
                fence_proxy_async();
                named_barrier(barw, 128);
            }

            // ---- column (query row) maxima over the 64 keys: in-thread (2 keys), 8 lanes, then the 4 warps
            if (!__all_sync(0xffffffffu, blk * 64 + 63 <= lim_min)) {
#pragma unroll
                for (int q = 0; q < kNQ; ++q)
#pragma unroll
                    for (int h = 0; h < 2; ++h)
                        if (blk * 64 + key_in + 8 * h > lim[q]) sc[4 * (q >> 1) + 2 * h + (q & 1)] = -INFINITY;
            }
            float mx[kNQ];
#pragma unroll
            for (int q = 0; q < kNQ; ++q) {
                const int i = 4 * (q >> 1) + (q & 1);
                mx[q] = fmaxf(sc[i], sc[i + 2]);
            }
#pragma unroll
            for (int q = 0; q < kNQ; ++q) {
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 4));
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 8));
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 16));
            }
            if (lane < 4) {
#pragma unroll
                for (int j = 0; j < kNQ / 2; ++j)
                    *reinterpret_cast<float2*>(red_max + warp * kN + 8 * j + cq) = make_float2(mx[2 * j], mx[2 * j + 1]);
            }
            named_barrier(barw, 128);  // also: every warp's O^T of this warpgroup's previous block retired (P^T free)
#pragma unroll
            for (int j = 0; j < kNQ / 2; ++j) {
#pragma unroll
                for (int ww = 0; ww < 4; ++ww) {
                    const float2 v = *reinterpret_cast<const float2*>(red_max + ww * kN + 8 * j + cq);
                    mx[2 * j] = fmaxf(mx[2 * j], v.x);
                    mx[2 * j + 1] = fmaxf(mx[2 * j + 1], v.y);
                }
            }
            // ---- lazy running max, p = 2^(s*scale - base), P^T -> shared memory
            float base[kNQ], f[kNQ];
            bool moved = false;
#pragma unroll
            for (int q = 0; q < kNQ; ++q) {
                const float cand = mx[q] * p.scale_log2;
                const float mn = cand - m[q] > kLazyMax ? cand : m[q];  // -inf - -inf = NaN: stays -inf
                moved |= mn != m[q];
                base[q] = mn == -INFINITY ? 0.f : mn;
                f[q] = ex2(m[q] - base[q]);
                m[q] = mn;
            }
            uint32_t ph[kNQ];  // fragment f = 2j + h: keys key_in + 8h, columns 8j + cq, +1
            float rs[kNQ];
#pragma unroll
            for (int q = 0; q < kNQ; ++q) rs[q] = 0.f;
#pragma unroll
            for (int j = 0; j < kNQ / 2; ++j)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const float a = ex2(fmaf(sc[4 * j + 2 * h], p.scale_log2, -base[2 * j]));
                    const float b = ex2(fmaf(sc[4 * j + 2 * h + 1], p.scale_log2, -base[2 * j + 1]));
                    rs[2 * j] += a;
                    rs[2 * j + 1] += b;
                    ph[2 * j + h] = pack2<BF>(a, b);
                }
#pragma unroll
            for (int q = 0; q < kNQ; ++q) ls[q] = ls[q] * f[q] + rs[q];
            if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
                for (int t = 0; t < kV; ++t)
#pragma unroll
                    for (int i = 0; i < kAcc; ++i) o[t][i] *= f[2 * (i >> 2) + (i & 1)];
            }
            stmatrix_x4_trans(st_addr, ph[0], ph[1], ph[2], ph[3]);
            fence_proxy_async();
            named_barrier(barw, 128);  // P^T complete (every warp's part) before the wgmmas read it

            // ---- O^T += V^T P^T: one commit group per m64 tile (= V box t), each box released when its group retired
            wgmma_fence();
#pragma unroll
            for (int t = 0; t < kV; ++t) {
                const uint32_t sl = (g0 + t) % R;
#pragma unroll
                for (int kk = 0; kk < 4; ++kk)
                    mma<BF>(o[t], dvring + ((sl * kBoxBytes + kk * 2048) >> 4), dp + ((kk * 32) >> 4), 1, true);
                wgmma_commit();
            }
            release_v<0, kV, R>(empty, g0, lane);
#pragma unroll
            for (int t = 0; t < kV; ++t) fence_regs(o[t]);
        }

        // ---- split epilogue: column sums over the 64 keys (lanes, then warps)
#pragma unroll
        for (int q = 0; q < kNQ; ++q) {
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 4);
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 8);
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 16);
        }
        if (lane < 4) {
#pragma unroll
            for (int j = 0; j < kNQ / 2; ++j)
                *reinterpret_cast<float2*>(red_sum + warp * kN + 8 * j + cq) = make_float2(ls[2 * j], ls[2 * j + 1]);
        }
        named_barrier(barw, 128);
        float lt[kNQ];
#pragma unroll
        for (int j = 0; j < kNQ / 2; ++j) {
            lt[2 * j] = lt[2 * j + 1] = 0.f;
#pragma unroll
            for (int ww = 0; ww < 4; ++ww) {
                const float2 v = *reinterpret_cast<const float2*>(red_sum + ww * kN + 8 * j + cq);
                lt[2 * j] += v.x;
                lt[2 * j + 1] += v.y;
            }
        }
        // ---- warpgroup 1's state (m, l, O^T) joins warpgroup 0's through the Q tile (free: both are past their
        // S^T), in 4 rounds of 2 O^T tiles; thread tw of both holds the same (dim, column) positions, so the scratch
        // is [value][128 threads]. m and l have their own words (never reused by a later round).
        {
            float* scr = reinterpret_cast<float*>(smem + G::kOffQ);
            float a0[kNQ], a1[kNQ];
            named_barrier(kBarQ, kConsumers);
#pragma unroll
            for (int r = 0; r < G::kRounds; ++r) {
                constexpr int kOfs = 2 * kNQ;
                if (wg == 1) {
                    if (r == 0) {
#pragma unroll
                        for (int q = 0; q < kNQ; ++q) scr[q * 128 + tw] = m[q], scr[(kNQ + q) * 128 + tw] = lt[q];
                    }
#pragma unroll
                    for (int t = 0; t < 2; ++t)
#pragma unroll
                        for (int i = 0; i < kAcc; ++i) scr[(kOfs + t * kAcc + i) * 128 + tw] = o[2 * r + t][i];
                }
                named_barrier(kBarQ, kConsumers);
                if (wg == 0) {
                    if (r == 0) {
#pragma unroll
                        for (int q = 0; q < kNQ; ++q) {
                            const float m1 = scr[q * 128 + tw], l1 = scr[(kNQ + q) * 128 + tw];
                            const float mx = fmaxf(m[q], m1), base = mx == -INFINITY ? 0.f : mx;
                            a0[q] = ex2(m[q] - base);
                            a1[q] = ex2(m1 - base);
                            lt[q] = lt[q] * a0[q] + l1 * a1[q];
                            m[q] = mx;
                        }
                    }
#pragma unroll
                    for (int t = 0; t < 2; ++t)
#pragma unroll
                        for (int i = 0; i < kAcc; ++i) {
                            const int q = 2 * (i >> 2) + (i & 1);
                            o[2 * r + t][i] = o[2 * r + t][i] * a0[q] + scr[(kOfs + t * kAcc + i) * 128 + tw] * a1[q];
                        }
                }
                named_barrier(kBarQ, kConsumers);  // the last round's: the Q tile is free for the next split's copy
            }
        }
        if (wg == 0) {
            float inv[kNQ], lse[kNQ];
#pragma unroll
            for (int q = 0; q < kNQ; ++q) {
                inv[q] = lt[q] > 0.f ? (G::kFp8Cache ? p.v_scale : 1.f) / lt[q] : 0.f;  // v_scale: the fp8 cache's scale of V
                lse[q] = lt[q] > 0.f ? (m[q] + __log2f(lt[q])) * 0.69314718055994531f : (direct ? INFINITY : -INFINITY);
            }
#pragma unroll
            for (int q = 0; q < kNQ; ++q) {
                const int col = 8 * (q >> 1) + cq + (q & 1);
                if (col >= p.rows) continue;
                if (direct) {
                    uint16_t* orow = static_cast<uint16_t*>(p.o) + (static_cast<size_t>(s) * p.rows + col) * G::kDV;
#pragma unroll
                    for (int t = 0; t < kV; ++t)
#pragma unroll
                        for (int h = 0; h < 2; ++h)
                            orow[64 * t + key_in + 8 * h] = to16<BF>(o[t][4 * (q >> 1) + 2 * h + (q & 1)] * inv[q]);
                    if (warp == 0 && lane < 4) {
                        const int head = col % p.h_q, iq = col / p.h_q;
                        p.lse[static_cast<size_t>(s) * p.rows + head * p.s_q + iq] = lse[q];
                    }
                } else {
                    float* arow = p.o_accum + (static_cast<size_t>(slot_out) * p.rows + col) * G::kDV;
#pragma unroll
                    for (int t = 0; t < kV; ++t)
#pragma unroll
                        for (int h = 0; h < 2; ++h) arow[64 * t + key_in + 8 * h] = o[t][4 * (q >> 1) + 2 * h + (q & 1)] * inv[q];
                    if (warp == 0 && lane < 4) p.lse_accum[static_cast<size_t>(slot_out) * p.rows + col] = lse[q];
                }
            }
        }
        // No barrier here: the next split's Q copy may start at once, the merge's last barrier has every read of the
        // scratch behind it, and red_max / red_sum are each warpgroup's own (test/etap_protocol_model.py checks it).
    }
}

// The whole CTA (the entry point's body; in this namespace its names hide the relay kernel's).
template <int DC, int DR, bool kFp8 = false>
__device__ __forceinline__ void run(const MlaParams& p, const CUtensorMap& tm_kv) {
    using G = Geo<DC, DR, kFp8>;
    extern __shared__ uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (p.rows < 1 || p.rows > kN || p.page_shift < MLA4J_ETAP_MIN_PAGE_SHIFT ||
        p.cache_format != (kFp8 ? MLA4J_CACHE_FP8_E4M3 : MLA4J_CACHE_PLAIN) ||
        p.d_qk != G::kDQk || p.d_v != G::kDV || blockDim.x != kThreads)
        return;
    const PartWork w = read_part(p, blockIdx.x);
    if (w.end_idx < w.begin_idx) return;  // an empty part
    const int t = threadIdx.x;
    if (t < kConsumers) load_q<G>(p, w.begin_idx, t, smem);  // the first split's Q, ahead of the barrier set-up
    if (t == 0) {
        const uint32_t full = smem_addr(smem + G::kOffBar);
        // full: the TMA thread's arrive + tx bytes (fp8: lane 0 of each of the 4 widening warps)
        for (int i = 0; i < G::R; ++i) mbar_init(full + i * 8, kFp8 ? 4 : 1);
        for (int i = 0; i < G::R; ++i) mbar_init(full + (G::R + i) * 8, 4);  // empty: lane 0 of each of the 4 reading warps
        for (int i = 0; i < G::kRaw; ++i) mbar_init(full + (2 * G::R + i) * 8, 1);  // fp8 raw_full: arrive + tx bytes
        fence_barrier_init();
    }
    if (t == kConsumers) tma_prefetch_desc(&tm_kv);
    __syncthreads();
    if (t >= kConsumers) {
        regs_dealloc<40>();
        if constexpr (kFp8) {
            if (p.dtype == MLA4J_FP16) produce_fp8<G, Fp16>(p, &tm_kv, w, smem, t - kConsumers);
            else produce_fp8<G, Bf16>(p, &tm_kv, w, smem, t - kConsumers);
        } else if (t == kConsumers) {
            produce<G>(p, &tm_kv, w, smem);
        }
    } else {
        regs_alloc<232>();
        if (p.dtype == MLA4J_FP16) consume<G, false>(p, w, smem, t >> 7, t & 127);
        else consume<G, true>(p, w, smem, t >> 7, t & 127);
    }
}

}  // namespace mla4j_etap

// Grid (num_parts, 1); block MLA4J_ETAP_THREADS; dynamic shared memory MLA4J_ETAP_SMEM_BYTES (etap_launch.h).
// tm_kv: the tensor map of mla4j_decode_sm90 (the cache as [num_blocks * page, 576] 16-bit, box 64 columns x
// min(page, 64) rows, 128-byte swizzle). The host launches it only for 1 <= rows <= 16, a 16-bit cache of
// DeepSeek's widths and pages of >= 16 tokens (io.mla4j.cuda.DecodeKernels); anything else returns at once.
extern "C" __global__ void __launch_bounds__(MLA4J_ETAP_THREADS, 1)
    mla4j_decode_sm90_etap(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    mla4j_etap::run<MLA4J_D_V, MLA4J_D_QK - MLA4J_D_V>(p, tm_kv);
}

// The same over an fp8_e4m3 cache (MlaParams.cache_format; tm_kv over its bytes: [num_blocks * page, 576], box 64
// bytes x min(page, 64) rows, unswizzled, the relay kernel's fp8 map).
extern "C" __global__ void __launch_bounds__(MLA4J_ETAP_THREADS, 1)
    mla4j_decode_sm90_etap_fp8(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    mla4j_etap::run<MLA4J_D_V, MLA4J_D_QK - MLA4J_D_V, true>(p, tm_kv);
}

// The other width pairs (the portable kernel's list, include/mla4j/widths.h): mla4j_decode_sm90_etap_<d_c>x<d_r>, the
// tensor map over [num_blocks * page, d_c + d_r] 16-bit values (box 64 columns, the last one partly past the row).
#define MLA4J_ETAP_ENTRY(DC, DR)                                                                                           \
    extern "C" __global__ void __launch_bounds__(MLA4J_ETAP_THREADS, 1)                                                    \
        mla4j_decode_sm90_etap_##DC##x##DR(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) { \
        mla4j_etap::run<DC, DR>(p, tm_kv);                                                                                \
    }
MLA4J_OTHER_WIDTHS(MLA4J_ETAP_ENTRY)
#undef MLA4J_ETAP_ENTRY
