// The two consumer warpgroups: the relay schedule over a split's KV blocks, and the softmax pieces it uses.
#pragma once
#include <math.h>
#include <stdint.h>

#include "producer.cuh"
#include "split.cuh"

namespace mla4j_sm90 {

// Zeroes V rows (boxes [box0, box0 + nbox)) of tokens past the sequence end, so that stale cache
// contents (possibly NaN/Inf) times a zero probability cannot reach the output. 128 threads.
__device__ __forceinline__ void zero_v_tail(uint8_t* stage, int box0, int nbox, int valid, int tw) {
    const int rows = kRowsPerTile - valid;
    for (int idx = tw; idx < rows * nbox * 8; idx += 128) {
        const int box = box0 + idx % nbox;
        const int chunk = (idx / nbox) & 7;
        const int r = valid + idx / (nbox * 8);
        *reinterpret_cast<uint4*>(stage + box * kBoxBytes + r * 128 + chunk * 16) = make_uint4(0, 0, 0, 0);
    }
}

// Queues S = Q K^T (64 keys, K = 576: 36 m64n64k16 steps) as one wgmma group for the block in stage st,
// waiting for each 64-column box (its full barrier, this parity) before its first step, so that Q K^T starts on
// the first box while the rest still arrive. The price: a wait between two wgmmas of the chain puts a
// WARPGROUP.ARRIVE there, and the tensor pipe drains once per box (docs/KERNEL-SM90.md). Waiting for all nine
// first (the lab's WAITALL=1) measured 2-3% faster on multi-tile rows but 1-2% slower at small batch.
template <class T>
__device__ __forceinline__ void issue_qk(float (&sc)[32], uint64_t dq, uint64_t dk, int st, uint32_t full, uint32_t parity) {
#pragma unroll
    for (int k = 0; k < 36; ++k) {
        if ((k & 3) == 0) {
            mbar_wait(full + (st * kBoxes + (k >> 2)) * 8, parity);
            __syncwarp();   // the wait loop may leave the lanes diverged; wgmma is .sync.aligned
            wgmma_fence();  // after the (divergent) wait loop, so ptxas need not serialise the wgmmas
        }
        const uint32_t kofs = (k >> 2) * kBoxBytes + (k & 3) * 32;
        T::qk64(sc, dq + (kofs >> 4), dk + ((st * kTileBytes + kofs) >> 4), k > 0);
    }
    wgmma_commit();
}

// This consumer thread is done with stage st (its wgmma reads retired): one of the 256 arrivals the
// producer waits for before refilling it.
__device__ __forceinline__ void release_stage(const Ctx& c, int st) { mbar_arrive(c.empty + st * 8); }

// Lazy running max: moves only when the candidate exceeds it by more than kLazyMax (log2 units), so
// p <= 2^8 and most blocks skip the accumulator rescale. Exact: l and O share the stale max.
__device__ __forceinline__ float lazy_max(float m, float cand) {
    return cand - m > kLazyMax ? cand : m;  // -inf - -inf is NaN: a row with no key stays at -inf
}
__device__ __forceinline__ float exp_base(float m) { return m == -INFINITY ? 0.f : m; }

__device__ __forceinline__ void rescale(float (&o)[128], const float (&f)[2], bool moved) {
    if (__any_sync(0xffffffffu, moved)) {
#pragma unroll
        for (int i = 0; i < 128; ++i) o[i] *= f[(i >> 1) & 1];
    }
}

// Writes the 16-bit P fragments of 64 keys (pa[kk] = k-step kk, wgmma A-register layout) into the shared P tile
// (K-major, 128B swizzle), where the other warpgroup's wgmma reads them. One stmatrix per k step stores the
// thread's four 8x8 fragments: lane l addresses row l % 8 of fragment l / 8 (rows +8 for odd fragments, the next
// 16-byte chunk for fragments 2 and 3).
__device__ __forceinline__ void store_p64(uint8_t* sp, const Ctx& c, const uint32_t (&pa)[4][4]) {
    const int frag = c.lane >> 3, i = c.lane & 7;
    const uint32_t row = smem_addr(sp) + (16 * c.warp + i + 8 * (frag & 1)) * 128;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
        stmatrix_x4(row + (((2 * kk + (frag >> 1)) ^ i) << 4), pa[kk][0], pa[kk][1], pa[kk][2], pa[kk][3]);
}

// Maximum of row H's 16 values of the thread (sc[4j + 2H], sc[4j + 2H + 1]) as a tree (a short dependency chain:
// the softmax sits between S and P V on the critical path).
template <int H>
__device__ __forceinline__ float row_max16(const float (&sc)[32]) {
    float a[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) a[j] = fmaxf(sc[4 * j + 2 * H], sc[4 * j + 2 * H + 1]);
    const float b0 = fmaxf(a[0], a[1]), b1 = fmaxf(a[2], a[3]), b2 = fmaxf(a[4], a[5]), b3 = fmaxf(a[6], a[7]);
    return fmaxf(fmaxf(b0, b1), fmaxf(b2, b3));
}
// Row maxima of the raw (unscaled) scores of 64 keys. Masks only when the block reaches past a row's last visible
// key (a warp-uniform test, so whole blocks skip the compares); the maxima come back in scaled (log2) units:
// scale > 0 (validated on the host), so max and scaling commute.
__device__ __forceinline__ void mask_max64_raw(float (&sc)[32], const Ctx& c, int blk, const int (&lim)[2], float scale_log2,
                                               float (&mx)[2]) {
    if (!__all_sync(0xffffffffu, blk * 64 + 63 <= min(lim[0], lim[1]))) {
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = blk * 64 + 8 * j + c.cq + (e & 1);
                if (key > lim[e >> 1]) sc[4 * j + e] = -INFINITY;
            }
    }
    mx[0] = row_max16<0>(sc);
    mx[1] = row_max16<1>(sc);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
        mx[h] *= scale_log2;
    }
}
// exp2 without the denormal handling exp2f adds (3 instructions per call): p only feeds 16-bit P and fp32 sums,
// where a result below 2^-126 counts as 0 anyway.
__device__ __forceinline__ float ex2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
// p = exp2(s * scale - base) for 64 raw scores (the scale folded into one FFMA per score), packed to the wgmma
// A-register layout; row sums into rs.
template <class T>
__device__ __forceinline__ void exp_pack64(const float (&sc)[32], const float (&base)[2], float scale, uint32_t (&pa)[4][4],
                                           float (&rs)[2]) {
    rs[0] = rs[1] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int h = q & 1;
            const int i = 8 * kk + 4 * (q >> 1) + 2 * h;
            const float a = ex2_ftz(fmaf(sc[i], scale, -base[h])), b = ex2_ftz(fmaf(sc[i + 1], scale, -base[h]));
            rs[h] += a + b;
            pa[kk][q] = T::pack(a, b);
        }
}

// The relay schedule. One block at a time, in a fixed order per block i:
//   WG0: S = Q K_i^T (m64n64, whole block), mask, m_i = max(m, rowmax S) (lazy), P_i; publish m_i, P_i;
//        O_L *= e(m - m_i); O_L += P_i V_i,L (P from registers)
//   WG1: (waits for the publication) O_R *= e(m - m_i); O_R += P_i V_i,R (P from shared memory)
// Why: with two KV stages, a stage is refilled only after its block's last P V; the next block to need a
// new stage must come at least one load latency later. Keeping each block's use compact (its S, softmax
// and both P V halves back to back) gives the load of block i+2 the whole of block i+1's work as lead
// time (two blocks in flight at once, as the lab's seesaw schedule does, leave ~0 for the second). The price:
// the tensor core idles during the softmax (docs/KERNEL-SM90.md).
// Two handoffs per block, both full 256-thread barrier syncs:
//   kBarB: WG1 meets it before each block, so its previous P V (the only reader of P and sm_m) has retired;
//        WG0 meets it after its S and softmax, before it overwrites P and sm_m. It also means all four of
//        WG0's warps finished reading the stage for S (each wgmma.wait_group covers only its own warp), so
//        the stale V rows past the sequence end can be zeroed right after it.
//   kBarA: m_i and P_i published (WG0 after its stores and the async-proxy fence, WG1 before reading).
// Not arrive/sync: the waiting side has nothing else to do, and racecheck flagged the arrive form. Not a
// WG0-only barrier for the zeroing either: racecheck then reports false hazards.
// The protocol is model-checked on the CPU: test/relay_protocol_model.py.
// kFp8: the fp8 kernel's instantiation (tiles arrive widened and zero-filled; o scaled by the cache's scale in split_end).
template <class T, bool kFp8>
__device__ void consume_relay(const MlaParams& p, const PartWork& w, const Ctx& c) {
    constexpr int kRing = kFp8 ? kFp8WideStages : kStages;  // stages the consumers read (config.h, the fp8 ring)
    int it = 0;
    float* sm_m = c.smax;  // running max per row, published by WG0 for the block in flight
    uint8_t* sp = c.smem + kOffP;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int first = split_first_block(w, s), end = split_end_block(p, w, s);
        int lim[2];
        const SplitOut so = split_begin(p, w, c, s, lim);
        float m[2], lsum[2], o[128];
        reset_split_state(m, lsum, o);

        // The two warpgroups run separate block loops (same blocks, same stage order), so that ptxas sees no
        // wgmma of one warpgroup in flight in the other's code.
        if (c.wg == 0) {
            for (int blk = first, j = it; blk < end; ++blk, ++j) {
                const int st = j % kRing;
                float sc[32], mx[2];
                issue_qk<T>(sc, c.dq, c.dkv, st, c.full, (j / kRing) & 1);
                wgmma_wait<0>();
                fence_regs(sc);
                mask_max64_raw(sc, c, blk, lim, p.scale_log2, mx);
                float mn[2], base[2], f[2], rs[2];
                bool moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    mn[h] = lazy_max(m[h], fmaxf(m[h], mx[h]));
                    moved |= mn[h] != m[h];
                    base[h] = exp_base(mn[h]);
                    f[h] = exp2f(m[h] - base[h]);
                }
                uint32_t pa[4][4];
                exp_pack64<T>(sc, base, p.scale_log2, pa, rs);
                // This warpgroup's O_L += P V (P from registers), after the running state moved to m_i.
                auto pv_left = [&]() {
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        lsum[h] = lsum[h] * f[h] + rs[h];
                        m[h] = mn[h];
                    }
                    rescale(o, f, moved);
                    wgmma_fence();
#pragma unroll
                    for (int k = 0; k < 4; ++k) T::pv_rs(o, pa[k], c.dv + ((st * kTileBytes + k * 2048) >> 4));
                    wgmma_commit();
                };
                const int valid = seqlen - blk * 64;
                // Hands m_i and P_i to WG1 (it runs O_R += P V from shared memory after kBarA).
                auto handoff = [&]() {
                    named_barrier(kBarB, kConsumerThreads);  // WG1's previous P V retired; all of WG0's S reads too
                    // stale V rows -> 0; gathered pages (below 16 tokens) and fp8 tiles arrive zero-filled past the end,
                    // and a second writer of the stage would only race the producer's next copies in racecheck's eyes
                    if (!kFp8 && valid < 64 && p.page_shift >= kTmaMinPageShift)
                        zero_v_tail(c.smem + kOffKV + st * kTileBytes, 0, 8, valid, c.tw);
                    if ((c.lane & 3) == 0) {
                        sm_m[c.r0] = mn[0];
                        sm_m[c.r0 + 8] = mn[1];
                    }
                    store_p64(sp, c, pa);
                    fence_proxy_async();
                    named_barrier(kBarA, kConsumerThreads);
                };
                // A whole block's V needs no zeroing, so WG0's P V goes to the tensor core before the handoff, which
                // then runs under it (the multi-tile rows' period -7% in cycles). Two branches rather than two
                // tests of one flag, so that ptxas sees no path that reads O while that P V runs.
                if (valid >= 64) {
                    pv_left();
                    handoff();
                } else {
                    handoff();
                    pv_left();
                }
                wgmma_wait<0>();
                fence_regs(o);
                release_stage(c, st);
            }
        } else {
            for (int blk = first, j = it; blk < end; ++blk, ++j) {
                const int st = j % kRing;
                if constexpr (kFp8) {  // rows 32..63 of this tile's widening (produce_fp8)
                    const uint32_t wide = smem_addr(c.smem + kOffKV), raw = c.empty + kStages * 8;
                    const int u = kProducerThreads + c.tw;
                    mbar_wait(raw + (j & 1) * 8, (j >> 1) & 1);
                    mbar_wait(c.empty, (j & 1) ^ 1);
                    fp8_widen<T>(wide, wide + kTileBytes + (j & 1) * kRawTileBytes, c.full, raw + (2 + (j & 1)) * 8, u,
                                 blk * 64 + (u >> 2) < seqlen);
                }
                named_barrier(kBarB, kConsumerThreads);  // P and sm_m free (this warpgroup's previous reads retired)
                named_barrier(kBarA, kConsumerThreads);  // m_i and P_i published
                float f[2];
                bool moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const float mn = sm_m[c.r0 + 8 * h];
                    moved |= mn != m[h];
                    f[h] = exp2f(m[h] - exp_base(mn));
                    lsum[h] *= f[h];
                    m[h] = mn;
                }
                rescale(o, f, moved);
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 4; ++k) T::pv(o, c.dp + ((k * 32) >> 4), c.dv + ((st * kTileBytes + k * 2048) >> 4));
                wgmma_commit();
                wgmma_wait<0>();
                fence_regs(o);
                release_stage(c, st);
            }
        }
        it += max(end - first, 0);
        split_end<T, kFp8>(p, so, c, s, o, m, lsum);
    }
}

}  // namespace mla4j_sm90
