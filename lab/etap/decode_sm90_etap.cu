// mla4j dense MLA decode for Hopper (sm_90a) in the ETAP style (transposed products; arXiv 2506.01969 for the
// idea only, this code is written here): for each KV block of 64 keys
//     S^T = K Q^T      (wgmma M = the 64 keys, N = the query rows of this warpgroup, K = 576)
//     P^T = softmax along the key axis (= M, the rows of the accumulator, spread over the 4 warps)
//     O^T += V^T P^T   (wgmma M = d_v in 8 m64 tiles, N = query rows, K = the 64 keys)
// so few query rows (h_q * s_q <= 64) cost no tensor work on padding rows: N can be 16 where the row-major form
// needs M = 64.
//
// CTA = one split-KV part (the shared schedule, include/mla4j/schedule.h), all rows (<= 64) of it.
// Threads: NWG consumer warpgroups (1 or 2) + 1 producer warpgroup whose first thread issues the TMA loads.
// Consumer warpgroup w owns query columns [w*NW, (w+1)*NW): its own S^T, softmax, P^T and O^T (all 512 dims);
// the two warpgroups share nothing but the KV ring (and meet only on a sequence's partly used last block).
//
// Shared memory (base aligned to 1024):
//   Q       9 boxes of N rows x 128 B (64 features, 128B swizzle): the B operand of S^T (K-major)
//   P^T     per warpgroup, NW rows (query) x 64 keys, 16-bit, 128B swizzle (K-major B operand of O^T); with
//           PSPLIT a second tile holds the low part p - bf16(p) (O^T then runs twice, see kPSplit)
//   red     per warpgroup [2][4 warps][NW] floats: column maxima / sums exchanged among the 4 warps
//   ring    R boxes of 64 keys x 64 features (8 KiB, 128B swizzle), filled by TMA in block order (9 boxes per
//           block; box j = features 64j..64j+63, V = boxes 0..7): as deep as the budget allows (R = 25 at N = 16)
//   bars    full[R] (producer arrive + tx bytes), empty[R] (lane 0 of every consumer warp: 4 * NWG)
// Consumers release a box as soon as their reads of it retired: the RoPE box after S^T, V box t after the t-th
// m64 tile of O^T (one commit group per tile), so the producer refills the ring box by box.
// Softmax in base 2 with a lazy running max (moves only when a block max exceeds it by > 8), LSE in natural log.
// Outputs follow schedule.h: a sequence with one split writes o/lse directly, otherwise o_accum/lse_accum
// (normalised by the split's own sum; lse -inf for a split that saw no key) for the shared combine kernel.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/params.h"
#include "mla4j/schedule.h"
#include "etap_launch.h"
#include "etap_ptx.cuh"
#include "etap_wgmma.cuh"

#ifndef ETAP_PSPLIT_MAX_N
#define ETAP_PSPLIT_MAX_N 32  // P^T in two 16-bit parts (hi + lo) for N <= this (0: never)
#endif
#ifndef ETAP_EVICT_FIRST
#define ETAP_EVICT_FIRST 1  // 1: KV boxes loaded with an L2 evict-first policy (run 1: +2.7% vs sm90 at 16/1)
#endif
#ifndef ETAP_VDESC_SWAP
#define ETAP_VDESC_SWAP 0  // test-only: swaps LBO/SBO of the V^T descriptor (layout diagnosis)
#endif

namespace etap {

constexpr int kBoxBytes = 64 * 128;
constexpr int kBoxes = MLA4J_D_QK / 64;  // 9
constexpr float kLazyMax = 8.f;

__host__ __device__ constexpr int align_up(int x, int a) { return (x + a - 1) / a * a; }

// BP_ (block-parallel, NWG = 2): both warpgroups cover all NW columns and take alternate KV blocks (two online
// softmax streams merged at the split's end); otherwise (column-split) warpgroup w owns columns [w*NW, w*NW + NW).
template <int NWG_, int NW_, bool BP_ = false>
struct Cfg {
    static constexpr int NWG = NWG_, NW = NW_;
    static constexpr bool BP = BP_;
    static constexpr int N = BP ? NW : NWG * NW;  // query columns of the CTA (Q tile rows)
    static constexpr int kEmptyCount = BP ? 4 : 4 * NWG;  // arrivals per ring slot: every warp that reads it
    static constexpr int kSChains = NW <= 16 ? 3 : NWG == 1 ? 1 : 2;  // independent S^T accumulator chains (box b -> b % kSChains; 1 where registers are short)
    static constexpr bool kPSplit = N <= ETAP_PSPLIT_MAX_N;
    static constexpr int kPTiles = kPSplit ? 2 : 1;
    static constexpr int kThreads = (NWG + 1) * 128;
    static constexpr int kQBox = N * 128;  // one 64-feature box of the Q tile
    static constexpr int kOffQ = 0;
    static constexpr int kOffP = kOffQ + kBoxes * kQBox;           // [NWG][kPTiles][NW rows x 128 B]
    static constexpr int kOffRed = kOffP + NWG * kPTiles * NW * 128;  // float [NWG][2][4][NW]
    static constexpr int kOffRing = align_up(kOffRed + NWG * 2 * 4 * NW * 4, 1024);
    static constexpr int R = (ETAP_SMEM_BYTES - 1024 - kOffRing) / (kBoxBytes + 16);
    static constexpr int kOffBar = kOffRing + R * kBoxBytes;  // u64 full[R], empty[R]
    static constexpr int kSmemUsed = kOffBar + 2 * R * 8;
    static_assert(kSmemUsed + 1024 <= ETAP_SMEM_BYTES, "shared memory budget");
    static_assert(NW % 8 == 0 && NW >= 8 && NW <= 32, "wgmma N");
    static_assert(R >= kBoxes + 1, "ring must hold more than a block");
    static_assert(!BP || NWG == 2, "block-parallel needs two warpgroups");
    static_assert(!BP || (2 * (NW / 4) + 2 * (NW / 2)) * 128 * 4 <= kBoxes * kQBox, "merge scratch (m, l, 2 O^T tiles) fits the Q tile");
};

// wgmma m64 n NW k16 for the dtype; TA = 1: A MN-major (V^T), 0: K-major (K).
template <int NW, bool BF, int TA>
__device__ __forceinline__ void mma(float (&d)[NW / 2], uint64_t a, uint64_t b, int acc) {
    if constexpr (NW == 8) { if constexpr (BF) wgmma_m64n8k16_bf16<TA, 0>(d, a, b, acc); else wgmma_m64n8k16_f16<TA, 0>(d, a, b, acc); }
    if constexpr (NW == 16) { if constexpr (BF) wgmma_m64n16k16_bf16<TA, 0>(d, a, b, acc); else wgmma_m64n16k16_f16<TA, 0>(d, a, b, acc); }
    if constexpr (NW == 24) { if constexpr (BF) wgmma_m64n24k16_bf16<TA, 0>(d, a, b, acc); else wgmma_m64n24k16_f16<TA, 0>(d, a, b, acc); }
    if constexpr (NW == 32) { if constexpr (BF) wgmma_m64n32k16_bf16<TA, 0>(d, a, b, acc); else wgmma_m64n32k16_f16<TA, 0>(d, a, b, acc); }
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
// The two 16-bit values of a packed pair, back in fp32.
template <bool BF>
__device__ __forceinline__ float2 unpack2(uint32_t u) {
    if constexpr (BF) {
        __nv_bfloat162 v = *reinterpret_cast<__nv_bfloat162*>(&u);
        return __bfloat1622float2(v);
    } else {
        __half2 v = *reinterpret_cast<__half2*>(&u);
        return __half22float2(v);
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

struct PartWork {
    int begin_idx, begin_block, end_idx, end_block, begin_split;
};
__device__ __forceinline__ PartWork read_part(const MlaParams& p, int part) {
    const int* m = p.sched + part * MLA4J_SCHED_INTS;
    return PartWork{m[0], m[1], m[2], m[3], m[4]};
}
__device__ __forceinline__ int blocks_of(const MlaParams& p, int s) { return (p.seqlens[s] + MLA4J_TILE - 1) / MLA4J_TILE; }
__device__ __forceinline__ int first_block(const PartWork& w, int s) { return s == w.begin_idx ? w.begin_block : 0; }
__device__ __forceinline__ int end_block(const MlaParams& p, const PartWork& w, int s) {
    return s == w.end_idx ? w.end_block : blocks_of(p, s);
}

// ------------------------------------------------------------------------------------------------ producer
// Walks the part's blocks (all its splits, in order) and TMA-loads each block's 9 boxes into consecutive ring
// slots. The block table entry of the next block is read before the current block's waits, so its latency hides.
template <class C>
__device__ void produce(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem) {
    const uint32_t ring = smem_addr(smem + C::kOffRing);
    const uint32_t full = smem_addr(smem + C::kOffBar), empty = full + C::R * 8;
#if ETAP_EVICT_FIRST
    const uint64_t pol = policy_evict_first();
#endif
    int s = w.begin_idx, blk = first_block(w, s);
    auto settle = [&](int& ss, int& bb) {  // skips splits with no block left
        while (ss <= w.end_idx && bb >= end_block(p, w, ss)) {
            ++ss;
            bb = 0;
        }
    };
    settle(s, blk);
    int phys = s <= w.end_idx ? p.block_table[static_cast<size_t>(s) * p.max_blocks + blk] : 0;
    uint32_t slot = 0, phase = 0;
    while (s <= w.end_idx) {
        int ns = s, nb = blk + 1;
        settle(ns, nb);
        const int nphys = ns <= w.end_idx ? p.block_table[static_cast<size_t>(ns) * p.max_blocks + nb] : 0;
        const int row = phys * MLA4J_TILE;
#pragma unroll 1
        for (int b = 0; b < kBoxes; ++b) {
            mbar_wait(empty + slot * 8, phase ^ 1);  // the first use of a slot passes at once
            mbar_arrive_expect_tx(full + slot * 8, kBoxBytes);
#if ETAP_EVICT_FIRST
            tma_load_2d_hint(ring + slot * kBoxBytes, tm, b * 64, row, full + slot * 8, pol);
#else
            tma_load_2d(ring + slot * kBoxBytes, tm, b * 64, row, full + slot * 8);
#endif
            if (++slot == C::R) {
                slot = 0;
                phase ^= 1;
            }
        }
        s = ns;
        blk = nb;
        phys = nphys;
    }
}

// ------------------------------------------------------------------------------------------------ consumers
// Q rows [wg*NW, wg*NW + NW) of sequence s into the K-major 128B-swizzled Q tile (rows past p.rows zero-filled),
// by the warpgroup's 128 threads with cp.async (completed by cp_async_wait_all).
template <class C>
__device__ __forceinline__ void load_q(const MlaParams& p, int s, int wg, int tw, uint8_t* smem) {
    constexpr int kChunks = MLA4J_D_QK / 8;  // 72 x 16 B per row
    const uint4* q = reinterpret_cast<const uint4*>(p.q) + static_cast<size_t>(s) * p.rows * kChunks;
    const uint32_t base = smem_addr(smem + C::kOffQ);
    const int t0 = C::BP ? wg * 128 + tw : tw, step = C::BP ? 256 : 128, row0 = C::BP ? 0 : wg * C::NW;
#pragma unroll 1
    for (int idx = t0; idx < C::NW * kChunks; idx += step) {
        const int r = row0 + idx / kChunks, c = idx % kChunks;
        const bool real = r < p.rows;
        const uint4* src = real ? q + static_cast<size_t>(r) * kChunks + c : q;
        cp_async_16_zfill(base + (c >> 3) * C::kQBox + r * 128 + (((c & 7) ^ (r & 7)) << 4), src, real ? 16 : 0);
    }
    cp_async_commit();
}

template <class C, bool BF>
__device__ void consume(const MlaParams& p, const PartWork& w, uint8_t* smem, int wg, int tw, bool q_issued) {
    constexpr int NW = C::NW, NQ = NW / 4, R = C::R;  // NQ: query columns per thread
    constexpr int kAcc = NW / 2;                       // accumulator registers per m64 tile
    const int warp = tw >> 5, lane = tw & 31;
    const uint32_t barw = 1 + wg;  // this warpgroup's named barrier (128 threads)
    const int nthr = C::BP ? 128 : 128 * C::NWG;  // threads that zero a partly used block's stale V rows
    const uint32_t ring = smem_addr(smem + C::kOffRing);
    const uint32_t full = smem_addr(smem + C::kOffBar), empty = full + R * 8;
    float* red_max = reinterpret_cast<float*>(smem + C::kOffRed) + wg * 2 * 4 * NW;
    float* red_sum = red_max + 4 * NW;
    const uint32_t pt = smem_addr(smem + C::kOffP) + wg * C::kPTiles * NW * 128;  // P^T tile(s) of this warpgroup
    const int colbase = C::BP ? 0 : wg * NW;  // this warpgroup's first query column
    const uint64_t dq = make_desc_sw128(smem_addr(smem + C::kOffQ) + colbase * 128, 16, 1024);
    const uint64_t dp = make_desc_sw128(pt, 16, 1024);
    const uint64_t dring = make_desc_sw128(ring, 16, 1024);  // K-major K box; + slot * 512 (16-byte units)
#if ETAP_VDESC_SWAP
    const uint64_t dvring = make_desc_sw128(ring, 1024, kBoxBytes);
#else
    const uint64_t dvring = make_desc_sw128(ring, kBoxBytes, 1024);  // MN-major V^T box (one m64 tile)
#endif
    const int key_in = 16 * warp + (lane >> 2);  // accumulator rows key_in, key_in + 8 (keys; dims for O^T)
    const int cq = 2 * (lane & 3);               // accumulator columns 8j + cq, 8j + cq + 1 (query rows)

    // stmatrix.trans row addresses: fragment f = 2j + h (8 query columns 8j.., 8 keys 16*warp + 8h ..); lane
    // 8i + b addresses memory row (query) 8j + b of matrix i of its group.
    uint32_t st_addr[(NQ + 3) / 4];
#pragma unroll
    for (int g = 0; g < (NQ + 3) / 4; ++g) {
        const int f = 4 * g + (lane >> 3), b = lane & 7;
        const int j = f >> 1, h = f & 1;
        st_addr[g] = pt + (8 * j + b) * 128 + (((2 * warp + h) ^ b) << 4);
    }

    int it = 0;  // blocks consumed by this CTA so far (ring position 9 * it)
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int first = first_block(w, s), end = end_block(p, w, s);
        const int off0 = p.split_offsets[s], off1 = p.split_offsets[s + 1];
        const int slot_out = off0 + (s == w.begin_idx ? w.begin_split : 0);
        const bool direct = off1 - off0 == 1;
        if (!(q_issued && s == w.begin_idx)) load_q<C>(p, s, wg, tw, smem);
        int lim[NQ];
#pragma unroll
        for (int q = 0; q < NQ; ++q) {
            const int col = colbase + 8 * (q >> 1) + cq + (q & 1);
            const int l = (p.causal && col < p.rows) ? seqlen - p.s_q + col / p.h_q : seqlen - 1;
            lim[q] = min(l, seqlen - 1);
        }
        int lim_min = lim[0];
#pragma unroll
        for (int q = 1; q < NQ; ++q) lim_min = min(lim_min, lim[q]);
        float m[NQ], ls[NQ], o[8][kAcc];
#pragma unroll
        for (int q = 0; q < NQ; ++q) m[q] = -INFINITY, ls[q] = 0.f;
#pragma unroll
        for (int t = 0; t < 8; ++t)
#pragma unroll
            for (int i = 0; i < kAcc; ++i) o[t][i] = 0.f;
        cp_async_wait_all();
        fence_proxy_async();  // the copies' writes before wgmma (async proxy) reads them
        named_barrier(C::BP ? 3 : barw, C::BP ? 256 : 128);  // BP: both warpgroups' halves of the Q tile

        for (int blk = first; blk < end; ++blk, ++it) {
            if (C::BP && (it & 1) != wg) continue;  // block-parallel: the other warpgroup's block
            const uint32_t g0 = 9u * it;
            // ---- S^T = K Q^T, waiting for each box as it lands
            // kSChains independent accumulators (box b into chain b % kSChains): a chain of 36 dependent small-N
            // wgmmas would run at the wgmma latency, not its issue rate.
            float sc[kAcc], sc1[kAcc], sc2[kAcc];
#pragma unroll
            for (int b = 0; b < kBoxes; ++b) {
                const uint32_t g = g0 + b, sl = g % R;
                mbar_wait(full + sl * 8, (g / R) & 1);
                __syncwarp();
                wgmma_fence();
                const int ch = b % C::kSChains;
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
                    const uint64_t da = dring + ((sl * kBoxBytes + kk * 32) >> 4), db = dq + ((b * C::kQBox + kk * 32) >> 4);
                    const int acc = (b >= C::kSChains) || kk != 0;
                    if (ch == 0) mma<NW, BF, 0>(sc, da, db, acc);
                    else if (ch == 1) mma<NW, BF, 0>(sc1, da, db, acc);
                    else mma<NW, BF, 0>(sc2, da, db, acc);
                }
            }
            wgmma_commit();
            wgmma_wait<0>();
            fence_regs(sc);
            if constexpr (C::kSChains >= 2) {
                fence_regs(sc1);
#pragma unroll
                for (int i = 0; i < kAcc; ++i) sc[i] += sc1[i];
            }
            if constexpr (C::kSChains == 3) {
                fence_regs(sc2);
#pragma unroll
                for (int i = 0; i < kAcc; ++i) sc[i] += sc2[i];
            }
            __syncwarp();
            if (lane == 0) mbar_arrive(empty + ((g0 + 8) % R) * 8);  // RoPE box: S^T was its only reader

            // ---- a partly used last block: stale V rows (possibly NaN) -> 0, once every warpgroup's S^T is done
            const int valid = seqlen - blk * 64;
            if (valid < 64) {
                // block-parallel: only this warpgroup reads the block (its own barrier); else every consumer
                const uint32_t zb = C::BP ? barw : 3;
                named_barrier(zb, nthr);
                const int ct = C::BP ? tw : wg * 128 + tw;
                for (int idx = ct; idx < (64 - valid) * 64; idx += nthr) {
                    const int r = valid + (idx >> 6), box = (idx >> 3) & 7, ch = idx & 7;
                    const uint32_t sl = (g0 + box) % R;
                    *reinterpret_cast<uint4*>(smem + C::kOffRing + sl * kBoxBytes + r * 128 + ch * 16) = make_uint4(0, 0, 0, 0);
                }
                fence_proxy_async();
                named_barrier(zb, nthr);
            }

            // ---- column (query row) maxima over the 64 keys: in-thread (2 keys), 8 lanes, then the 4 warps
            if (!__all_sync(0xffffffffu, blk * 64 + 63 <= lim_min)) {
#pragma unroll
                for (int q = 0; q < NQ; ++q)
#pragma unroll
                    for (int h = 0; h < 2; ++h)
                        if (blk * 64 + key_in + 8 * h > lim[q]) sc[4 * (q >> 1) + 2 * h + (q & 1)] = -INFINITY;
            }
            float mx[NQ];
#pragma unroll
            for (int q = 0; q < NQ; ++q) {
                const int i = 4 * (q >> 1) + (q & 1);
                mx[q] = fmaxf(sc[i], sc[i + 2]);
            }
#pragma unroll
            for (int q = 0; q < NQ; ++q) {
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 4));
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 8));
                mx[q] = fmaxf(mx[q], __shfl_xor_sync(0xffffffffu, mx[q], 16));
            }
            if (lane < 4) {
#pragma unroll
                for (int j = 0; j < NQ / 2; ++j)
                    *reinterpret_cast<float2*>(red_max + warp * NW + 8 * j + cq) = make_float2(mx[2 * j], mx[2 * j + 1]);
            }
            named_barrier(barw, 128);  // also: every warp's O^T of the previous block retired (P^T free)
#pragma unroll
            for (int j = 0; j < NQ / 2; ++j) {
#pragma unroll
                for (int ww = 0; ww < 4; ++ww) {
                    const float2 v = *reinterpret_cast<const float2*>(red_max + ww * NW + 8 * j + cq);
                    mx[2 * j] = fmaxf(mx[2 * j], v.x);
                    mx[2 * j + 1] = fmaxf(mx[2 * j + 1], v.y);
                }
            }
            // ---- lazy running max, p = 2^(s*scale - base), P^T (hi, and lo with PSPLIT) -> shared memory
            float base[NQ], f[NQ];
            bool moved = false;
#pragma unroll
            for (int q = 0; q < NQ; ++q) {
                const float cand = mx[q] * p.scale_log2;
                const float mn = cand - m[q] > kLazyMax ? cand : m[q];  // -inf - -inf = NaN: stays -inf
                moved |= mn != m[q];
                base[q] = mn == -INFINITY ? 0.f : mn;
                f[q] = ex2(m[q] - base[q]);
                m[q] = mn;
            }
            uint32_t phi[NQ], plo[NQ];  // fragment f = 2j + h: keys key_in + 8h, columns 8j + cq, +1
            float rs[NQ];
#pragma unroll
            for (int q = 0; q < NQ; ++q) rs[q] = 0.f;
#pragma unroll
            for (int j = 0; j < NQ / 2; ++j)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const float a = ex2(fmaf(sc[4 * j + 2 * h], p.scale_log2, -base[2 * j]));
                    const float b = ex2(fmaf(sc[4 * j + 2 * h + 1], p.scale_log2, -base[2 * j + 1]));
                    rs[2 * j] += a;
                    rs[2 * j + 1] += b;
                    phi[2 * j + h] = pack2<BF>(a, b);
                    if constexpr (C::kPSplit) {
                        const float2 r = unpack2<BF>(phi[2 * j + h]);
                        plo[2 * j + h] = pack2<BF>(a - r.x, b - r.y);
                    }
                }
#pragma unroll
            for (int q = 0; q < NQ; ++q) ls[q] = ls[q] * f[q] + rs[q];
            if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
                for (int t = 0; t < 8; ++t)
#pragma unroll
                    for (int i = 0; i < kAcc; ++i) o[t][i] *= f[2 * (i >> 2) + (i & 1)];
            }
#pragma unroll
            for (int g = 0; g < (NQ + 3) / 4; ++g) {
                if (4 * g + 4 <= NQ) {
                    stmatrix_x4_trans(st_addr[g], phi[4 * g], phi[4 * g + 1], phi[4 * g + 2], phi[4 * g + 3]);
                    if constexpr (C::kPSplit)
                        stmatrix_x4_trans(st_addr[g] + NW * 128, plo[4 * g], plo[4 * g + 1], plo[4 * g + 2], plo[4 * g + 3]);
                } else {
                    stmatrix_x2_trans(st_addr[g], phi[4 * g], phi[4 * g + 1]);
                    if constexpr (C::kPSplit) stmatrix_x2_trans(st_addr[g] + NW * 128, plo[4 * g], plo[4 * g + 1]);
                }
            }
            fence_proxy_async();
            named_barrier(barw, 128);  // P^T complete (every warp's part) before the wgmmas read it

            // ---- O^T += V^T P^T: one commit group per m64 tile (= V box t), each box released when its group retired
            wgmma_fence();
#pragma unroll
            for (int t = 0; t < 8; ++t) {
                const uint32_t sl = (g0 + t) % R;
#pragma unroll
                for (int kk = 0; kk < 4; ++kk) {
                    mma<NW, BF, 1>(o[t], dvring + ((sl * kBoxBytes + kk * 2048) >> 4), dp + ((kk * 32) >> 4), 1);
                    if constexpr (C::kPSplit) mma<NW, BF, 1>(o[t], dvring + ((sl * kBoxBytes + kk * 2048) >> 4), dp + ((NW * 128 + kk * 32) >> 4), 1);
                }
                wgmma_commit();
            }
#define ETAP_RELEASE(T)                                                  \
    wgmma_wait<7 - (T)>();                                               \
    __syncwarp();                                                        \
    if (lane == 0) mbar_arrive(empty + ((g0 + (T)) % R) * 8);
            ETAP_RELEASE(0) ETAP_RELEASE(1) ETAP_RELEASE(2) ETAP_RELEASE(3)
            ETAP_RELEASE(4) ETAP_RELEASE(5) ETAP_RELEASE(6) ETAP_RELEASE(7)
#undef ETAP_RELEASE
#pragma unroll
            for (int t = 0; t < 8; ++t) fence_regs(o[t]);
        }

        // ---- split epilogue: column sums over the 64 keys (lanes, then warps), then o/lse or the partial
#pragma unroll
        for (int q = 0; q < NQ; ++q) {
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 4);
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 8);
            ls[q] += __shfl_xor_sync(0xffffffffu, ls[q], 16);
        }
        if (lane < 4) {
#pragma unroll
            for (int j = 0; j < NQ / 2; ++j)
                *reinterpret_cast<float2*>(red_sum + warp * NW + 8 * j + cq) = make_float2(ls[2 * j], ls[2 * j + 1]);
        }
        named_barrier(barw, 128);
        float lt[NQ];
#pragma unroll
        for (int j = 0; j < NQ / 2; ++j) {
            lt[2 * j] = lt[2 * j + 1] = 0.f;
#pragma unroll
            for (int ww = 0; ww < 4; ++ww) {
                const float2 v = *reinterpret_cast<const float2*>(red_sum + ww * NW + 8 * j + cq);
                lt[2 * j] += v.x;
                lt[2 * j + 1] += v.y;
            }
        }
        if constexpr (C::BP) {
            // Block-parallel: warpgroup 1's state (m, l, O^T) joins warpgroup 0's through the Q tile (free once both
            // finished the split's S^T), in 4 rounds of 2 O^T tiles; thread tw of both holds the same (dim, column)
            // positions, so the scratch is [value][128 threads]. 9 barriers of the 256 consumers.
            float* scr = reinterpret_cast<float*>(smem + C::kOffQ);
            float a0[NQ], a1[NQ];
            named_barrier(3, 256);
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                const int ofs = r == 0 ? 2 * NQ : 0;
                if (wg == 1) {
                    if (r == 0) {
#pragma unroll
                        for (int q = 0; q < NQ; ++q) scr[q * 128 + tw] = m[q], scr[(NQ + q) * 128 + tw] = lt[q];
                    }
#pragma unroll
                    for (int t = 0; t < 2; ++t)
#pragma unroll
                        for (int i = 0; i < kAcc; ++i) scr[(ofs + t * kAcc + i) * 128 + tw] = o[2 * r + t][i];
                }
                named_barrier(3, 256);
                if (wg == 0) {
                    if (r == 0) {
#pragma unroll
                        for (int q = 0; q < NQ; ++q) {
                            const float m1 = scr[q * 128 + tw], l1 = scr[(NQ + q) * 128 + tw];
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
                            o[2 * r + t][i] = o[2 * r + t][i] * a0[q] + scr[(ofs + t * kAcc + i) * 128 + tw] * a1[q];
                        }
                }
                named_barrier(3, 256);
            }
        }
        float inv[NQ], lse[NQ];
#pragma unroll
        for (int q = 0; q < NQ; ++q) {
            inv[q] = lt[q] > 0.f ? 1.f / lt[q] : 0.f;
            lse[q] = lt[q] > 0.f ? (m[q] + __log2f(lt[q])) * 0.69314718055994531f : (direct ? INFINITY : -INFINITY);
        }
#pragma unroll
        for (int q = 0; q < NQ; ++q) {
            const int col = colbase + 8 * (q >> 1) + cq + (q & 1);
            if (col >= p.rows || (C::BP && wg == 1)) continue;
            if (direct) {
                uint16_t* orow = static_cast<uint16_t*>(p.o) + (static_cast<size_t>(s) * p.rows + col) * MLA4J_D_V;
#pragma unroll
                for (int t = 0; t < 8; ++t)
#pragma unroll
                    for (int h = 0; h < 2; ++h) orow[64 * t + key_in + 8 * h] = to16<BF>(o[t][4 * (q >> 1) + 2 * h + (q & 1)] * inv[q]);
                if (warp == 0 && lane < 4) {
                    const int head = col % p.h_q, iq = col / p.h_q;
                    p.lse[static_cast<size_t>(s) * p.rows + head * p.s_q + iq] = lse[q];
                }
            } else {
                float* arow = p.o_accum + (static_cast<size_t>(slot_out) * p.rows + col) * MLA4J_D_V;
#pragma unroll
                for (int t = 0; t < 8; ++t)
#pragma unroll
                    for (int h = 0; h < 2; ++h) arow[64 * t + key_in + 8 * h] = o[t][4 * (q >> 1) + 2 * h + (q & 1)] * inv[q];
                if (warp == 0 && lane < 4) p.lse_accum[static_cast<size_t>(slot_out) * p.rows + col] = lse[q];
            }
        }
        // The next split's Q copy overwrites the Q tile and its epilogue red_sum: every warp is past both here.
        named_barrier(barw, 128);
    }
}

// The whole CTA for configuration C: the first split's Q rows go out ahead of the barrier set-up, then one if/else
// for the two roles (measured with ptxas 13.0: this form gets the consumer code allocated against setmaxnreg's 232;
// a single role split with the configuration dispatched inside each role spilled).
template <class C>
__device__ __forceinline__ void run(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem) {
    const int t = threadIdx.x;
    if (t < C::NWG * 128) load_q<C>(p, w.begin_idx, t >> 7, t & 127, smem);
    if (t == 0) {
        const uint32_t full = smem_addr(smem + C::kOffBar);
        for (int i = 0; i < C::R; ++i) mbar_init(full + i * 8, 1);                   // full: producer + tx bytes
        for (int i = 0; i < C::R; ++i) mbar_init(full + (C::R + i) * 8, C::kEmptyCount);  // empty: lane 0 of each reading warp
        fence_barrier_init();
    }
    if (t == C::NWG * 128) tma_prefetch_desc(tm);
    __syncthreads();
    if (t >= C::NWG * 128) {
        regs_dealloc<40>();
        if (t == C::NWG * 128) produce<C>(p, tm, w, smem);
    } else {
        regs_alloc<232>();
        if (p.dtype == MLA4J_FP16) consume<C, false>(p, w, smem, t >> 7, t & 127, true);
        else consume<C, true>(p, w, smem, t >> 7, t & 127, true);
    }
}

}  // namespace etap

// Grid (num_parts, 1); block etap_threads(p.rows); dynamic shared memory ETAP_SMEM_BYTES (etap_launch.h).
// tm_kv: the same tensor map as mla4j_decode_sm90 (the cache as [num_blocks * 64, 576] 16-bit, box 64 x 64,
// 128-byte swizzle). rows = h_q * s_q must be in 1..64 (the host checks; the kernel returns otherwise).
#ifndef ETAP_KERNEL_NAME
#define ETAP_KERNEL_NAME mla4j_decode_sm90_etap
#endif
// Run 2 builds one symbol per configuration (-DETAP_ONLY=k -DETAP_KERNEL_NAME=mla4j_decode_sm90_etap_r16 ...):
// with all four configurations in one function ptxas 13.0 spilled 1.1 KB; each alone spills 0 (16 B at NW = 32).
extern "C" __global__ void __launch_bounds__(384, 1)
    ETAP_KERNEL_NAME(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    using namespace etap;
    extern __shared__ uint8_t smem_raw[];
    uint8_t* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (p.rows < 1 || p.rows > ETAP_MAX_ROWS || blockDim.x != static_cast<unsigned>(etap_threads(p.rows))) return;
    const PartWork w = read_part(p, blockIdx.x);
    if (w.end_idx < w.begin_idx) return;  // an empty part
#ifdef ETAP_ONLY  // diagnosis builds: one configuration only (ptxas report per configuration)
    if (ETAP_ONLY == 1) run<Cfg<2, 16, true>>(p, &tm_kv, w, smem);
    if (ETAP_ONLY == 2) run<Cfg<2, 32, true>>(p, &tm_kv, w, smem);
    if (ETAP_ONLY == 3) run<Cfg<2, 24>>(p, &tm_kv, w, smem);
    if (ETAP_ONLY == 4) run<Cfg<2, 32>>(p, &tm_kv, w, smem);
    if (ETAP_ONLY == 5) run<Cfg<1, 16>>(p, &tm_kv, w, smem);
    if (ETAP_ONLY == 6) run<Cfg<1, 32>>(p, &tm_kv, w, smem);
#else
    // etap_launch.h states the same table (threads per row count)
#if ETAP_BP_MAX_ROWS >= 16
    if (p.rows <= 16) run<Cfg<2, 16, true>>(p, &tm_kv, w, smem);
#else
    if (p.rows <= 16) run<Cfg<1, 16>>(p, &tm_kv, w, smem);
#endif
#if ETAP_BP_MAX_ROWS >= 32
    else if (p.rows <= 32) run<Cfg<2, 32, true>>(p, &tm_kv, w, smem);
#else
    else if (p.rows <= 32) run<Cfg<1, 32>>(p, &tm_kv, w, smem);
#endif
    else if (p.rows <= 48) run<Cfg<2, 24>>(p, &tm_kv, w, smem);
    else run<Cfg<2, 32>>(p, &tm_kv, w, smem);
#endif
}
