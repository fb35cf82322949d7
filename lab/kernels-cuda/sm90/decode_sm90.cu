// LAB COPY of the sm90 decode kernel: every schedule, probe and A/B switch tried (MLA4J_SM90_*), built only by
// lab/scripts/cuda-sm90-build.sh. What ships is kernels-cuda/sm90/ (split by role); with every switch at its
// default this file compiles to the shipped .text byte for byte (lab/scripts/sm90-text-identity.sh checks it).
//
// mla4j dense MLA decode for Hopper (sm_90a): TMA producer + two wgmma consumer warpgroups.
//
// One CTA = one (split-KV part, 64-row query tile). 384 threads in three warpgroups:
//   threads 256..383, producer: one thread walks the part's KV blocks and TMA-loads each 64x576 block
//        (9 boxes of 64 tokens x 64 columns, 128-byte swizzle) into a 2-stage ring. mbarriers: one
//        "full" per box (Q K^T starts on the first box while the rest still arrive), one "empty" per stage.
//   threads 0..255, two consumer warpgroups: the 64x512 fp32 output is split by columns, WG0 owns V
//        columns 0..255 and WG1 256..511 (128 accumulator registers per thread each).
// Consumer schedule (shipped since r9, every row count): relay (consume_relay): per block WG0 computes
//   S for the whole block (m64n64, K = 576), the softmax and P, publishes them, and both warpgroups run
//   P V for their columns (m64n256). Kept for A/B builds (-DMLA4J_SM90_RELAY=0), the r5 kernel's two:
//   key-split (rows <= 64): per block each warpgroup computes S for 32 of the 64 keys (m64n32), they
//        exchange row maxima and P through shared memory, then each runs P V for its columns.
//   seesaw (rows > 64): blocks in pairs; each warpgroup computes S for a whole block, then the two are
//        staggered so one's softmax overlaps the other's P V (see consume_seesaw).
// Shared memory: Q tile 72 KiB + 2 KV stages 144 KiB + P 8 KiB + row max/sum exchange 1 KiB.
// Softmax is in base 2: scores are scaled by scale*log2(e), LSE converted back to natural log.
// Outputs follow include/mla4j/schedule.h: a sequence with one split writes o/lse directly, otherwise
// this split writes o_accum/lse_accum (normalised by its own sum) for the combine kernel.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/params.h"
#include "mla4j/schedule.h"
#include "sm90_launch.h"
#include "sm90_ptx.cuh"      // kernels-cuda/sm90 (on the include path: lab/scripts/cuda-sm90-build.sh)
#include "sm90_ptx_lab.cuh"
#include "sm90_wgmma.cuh"

#ifndef MLA4J_SM90_SEESAW
#define MLA4J_SM90_SEESAW 1  // 0: key-split for every row count, 2: seesaw for every row count (A/B)
#endif
#ifndef MLA4J_SM90_RELAY
#define MLA4J_SM90_RELAY 2  // 2: relay for every row count (shipped, r9); 1: relay for rows > 64 only; 0: key-split/seesaw
#endif
#ifndef MLA4J_SM90_QFIRST
#define MLA4J_SM90_QFIRST 0  // A/B: the producer holds KV block 0 (1) or block 1 (2) until the first Q tile landed
#endif
#ifndef MLA4J_SM90_MULTICAST
#define MLA4J_SM90_MULTICAST 0  // A/B (v6): in a 2-CTA cluster, share KV boxes by multicast (measured slower)
#endif
#ifndef MLA4J_SM90_WAITALL
// A/B (r15): relay blocks whose Q K^T waits for all nine boxes before its first wgmma (issue_qk). 0: none (shipped);
// 1: every block (measured: multi-tile rows 2-3% faster, small batch 1-2% slower); 2: only multi-tile rows, past a
// split's first kStages blocks (at a part's start those are requested together and have no lead): not yet run on a GPU.
#define MLA4J_SM90_WAITALL 0
#endif
#ifndef MLA4J_SM90_HALFREL
// A/B (r15, written, not yet run on a GPU): the relay with each KV stage released in two halves, warpgroup 0's (its
// V boxes 0..3 and the RoPE box 8) when its own P V retired, warpgroup 1's (boxes 4..7) when its P V retired, so
// the producer refills the first half ~700 cycles sooner (every row count); on multi-tile rows past a split's first
// kStages blocks Q K^T then waits for the block in those two groups (two pipe drains instead of nine, issue_qk).
// Needs MLA4J_SM90_SMEM_BYTES=231608.
// 2 (r16, written without a GPU, not yet run): the same, plus a one-way handoff: warpgroup 0 writes P_i into the
// RoPE box of block i's stage (free once S_i is done) and m_i into a per-stage slot, and signals warpgroup 1 with an
// mbarrier, so it no longer waits for warpgroup 1's previous P V (the r15 probe's "barrier B", ~275 cycles per block).
// The RoPE box then belongs to warpgroup 1's half (boxes 4..8, freed by warpgroup 1). Needs MLA4J_SM90_SMEM_BYTES=231624.
#define MLA4J_SM90_HALFREL 0
#endif
#ifndef MLA4J_SM90_ABLATE
#define MLA4J_SM90_ABLATE 0  // timing-only ablation (wrong results; r13): 1 skips the relay's S wgmmas, 2 its P V, 3 both
#endif
#ifndef MLA4J_SM90_VDESC_SWAP
#define MLA4J_SM90_VDESC_SWAP 0  // test-only: swaps LBO/SBO of the V descriptor (layout diagnosis)
#endif

// Test-only timeline probe (-DMLA4J_SM90_PROBE=1, built by lab/scripts/cuda-sm90-build.sh as sm90_check_probe):
// %globaltimer at fixed points of each CTA's life, read back by the harness's `probe` mode.
#if MLA4J_SM90_PROBE
__device__ unsigned long long mla4j_sm90_probe[264][12];
#define PROBE(i)                                                                                         \
    do {                                                                                                 \
        unsigned long long t_;                                                                           \
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_));                                           \
        mla4j_sm90_probe[(blockIdx.y * gridDim.x + blockIdx.x) % 264][i] = t_;                           \
    } while (0)
#else
#define PROBE(i) \
    do {         \
    } while (0)
#endif
// -DMLA4J_SM90_PROBE=2 adds a per-block timeline (test-only, r14): %clock64 of one thread at fixed points of
// the first 64 blocks of each CTA (producer issue, box 0 / the last box seen landed, S done, softmax steps, P published,
// P V done).
#if MLA4J_SM90_PROBE == 2
__device__ long long mla4j_sm90_blkprobe[264][64][12];
#define BPROBE(it, k)                                                                                    \
    do {                                                                                                 \
        if ((it) >= 0 && (it) < 64 && (threadIdx.x & 127) == 0) {                                                                  \
            long long t_;                                                                                \
            asm volatile("mov.u64 %0, %%clock64;" : "=l"(t_));                                           \
            mla4j_sm90_blkprobe[(blockIdx.y * gridDim.x + blockIdx.x) % 264][it][k] = t_;                \
        }                                                                                                \
    } while (0)
#else
#define BPROBE(it, k) \
    do {              \
    } while (0)
#endif

namespace mla4j_sm90 {

constexpr int kRowsPerTile = 64;
constexpr int kBoxBytes = 64 * 128;             // one TMA box: 64 rows x 64 16-bit columns
constexpr int kBoxes = MLA4J_D_QK / 64;         // 9 boxes per 576-wide row block
constexpr int kTileBytes = kBoxes * kBoxBytes;  // 73728: a Q tile or one KV block
#ifndef MLA4J_SM90_STAGES
#define MLA4J_SM90_STAGES 2  // KV ring depth; 1, or 3 with MLA4J_SM90_NOQ, only as a diagnosis (r13)
#endif
#ifndef MLA4J_SM90_NOQ
#define MLA4J_SM90_NOQ 0  // diagnosis (r13): no Q tile in shared memory (only with ABLATE & 1: S is skipped)
#endif
static_assert(!MLA4J_SM90_NOQ || (MLA4J_SM90_ABLATE & 1), "NOQ needs the S wgmmas skipped");
constexpr int kStages = MLA4J_SM90_STAGES;
constexpr int kThreads = 384;  // 2 consumer warpgroups (threads 0..255) + 1 producer warpgroup
constexpr int kConsumerThreads = 256;

constexpr int kOffQ = 0;
constexpr int kOffKV = kOffQ + (MLA4J_SM90_NOQ ? 0 : kTileBytes);
constexpr int kOffP = kOffKV + kStages * kTileBytes;
constexpr int kOffMax = kOffP + kRowsPerTile * 128;  // float [2][64]
constexpr int kOffSum = kOffMax + 2 * 64 * 4;        // float [2][64]
constexpr int kEmptyPerStage = MLA4J_SM90_HALFREL ? 2 : 1;  // HALFREL: one per stage half
constexpr bool kOneWay = MLA4J_SM90_HALFREL == 2;          // P_i and m_i published per stage (consume_relay)
constexpr int kPReadyPerStage = kOneWay ? 1 : 0;
static_assert(!kOneWay || kStages == 2, "HALFREL=2 keeps m_i per stage in the two 64-float rows at kOffMax");
// u64 full[kStages][kBoxes], empty[kStages][kEmptyPerStage], pready[kStages][kPReadyPerStage], qready
constexpr int kOffBar = kOffSum + 2 * 64 * 4;
constexpr int kOffQReady = kOffBar + (kBoxes + kEmptyPerStage + kPReadyPerStage) * kStages * 8;
constexpr int kSmemUsed = kOffQReady + 8;
constexpr int kSmemBytes = kSmemUsed + 1024;  // slack to align the base to 1024 (swizzle atoms)
static_assert(kSmemBytes == MLA4J_SM90_SMEM_BYTES ||
                  ((MLA4J_SM90_STAGES != 2 || MLA4J_SM90_NOQ || MLA4J_SM90_HALFREL) && kSmemBytes <= MLA4J_SM90_SMEM_BYTES),
              "update sm90_launch.h");
static_assert(kThreads == MLA4J_SM90_THREADS, "update sm90_launch.h");

static_assert(!MLA4J_SM90_HALFREL || (MLA4J_SM90_RELAY == 2 && !MLA4J_SM90_MULTICAST), "HALFREL: relay only, one CTA per ring");
// Box (64 columns) that Q K^T takes, and the producer loads, n-th: with HALFREL=1 warpgroup 0's half first (V boxes
// 0..3, then the RoPE box), then warpgroup 1's V boxes 4..7; otherwise (HALFREL=2: the RoPE box is in warpgroup 1's
// half) in column order.
__device__ __forceinline__ constexpr int box_at(int n) { return MLA4J_SM90_HALFREL != 1 || n < 4 ? n : n == 4 ? 8 : n - 1; }
constexpr int kFirstHalfBoxes = MLA4J_SM90_HALFREL == 2 ? 4 : 5;  // HALFREL: boxes box_at(0..kFirstHalfBoxes-1) are warpgroup 0's half

constexpr float kLazyMax = 8.f;  // running max moves only past this (log2 units): p <= 256

// Named barrier ids, each met by all 256 consumer threads (A/B: the seesaw's one-way handoffs). None is met
// by one warpgroup alone: compute-sanitizer racecheck then reports false hazards on later exchanges (r13). The
// exception is HALFREL=2 (A/B): kBarW0 for warpgroup 0 and kBarW1 for warpgroup 1, met equally often (consume_relay).
enum : uint32_t { kBarQ = 1, kBarMax = 2, kBarP = 3, kBarSum = 4, kBarA = 5, kBarB = 6, kBarW0 = 7, kBarW1 = 8 };

struct Bf16 {
    __device__ static void qk(float (&d)[16], uint64_t a, uint64_t b, int acc) { wgmma_m64n32k16_bf16<0>(d, a, b, acc); }
    __device__ static void qk64(float (&d)[32], uint64_t a, uint64_t b, int acc) { wgmma_m64n64k16_bf16<0>(d, a, b, acc); }
    __device__ static void pv(float (&d)[128], uint64_t a, uint64_t b) { wgmma_m64n256k16_bf16<1>(d, a, b, 1); }
    __device__ static void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { wgmma_m64n256k16_rs_bf16<1>(d, a, b, 1); }
    __device__ static uint32_t pack(float x, float y) {
        __nv_bfloat162 v = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
};
struct Fp16 {
    __device__ static void qk(float (&d)[16], uint64_t a, uint64_t b, int acc) { wgmma_m64n32k16_f16<0>(d, a, b, acc); }
    __device__ static void qk64(float (&d)[32], uint64_t a, uint64_t b, int acc) { wgmma_m64n64k16_f16<0>(d, a, b, acc); }
    __device__ static void pv(float (&d)[128], uint64_t a, uint64_t b) { wgmma_m64n256k16_f16<1>(d, a, b, 1); }
    __device__ static void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { wgmma_m64n256k16_rs_f16<1>(d, a, b, 1); }
    __device__ static uint32_t pack(float x, float y) {
        __half2 v = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
};

// The part's work, read once from the scheduler metadata.
struct PartWork {
    int begin_idx, begin_block, end_idx, end_block, begin_split;
};
__device__ __forceinline__ PartWork read_part(const MlaParams& p, int part) {
    const int* m = p.sched + part * MLA4J_SCHED_INTS;
    return PartWork{m[0], m[1], m[2], m[3], m[4]};
}
__device__ __forceinline__ int blocks_of(const MlaParams& p, int s) {
    return (p.seqlens[s] + MLA4J_TILE - 1) / MLA4J_TILE;
}
__device__ __forceinline__ int split_first_block(const PartWork& w, int s) { return s == w.begin_idx ? w.begin_block : 0; }
__device__ __forceinline__ int split_end_block(const MlaParams& p, const PartWork& w, int s) {
    return s == w.end_idx ? w.end_block : blocks_of(p, s);
}

// ---------------------------------------------------------------- producer
// With -DMLA4J_SM90_MULTICAST=1 (A/B), in a 2-CTA cluster (the two query tiles of one part) each CTA loads
// every other box and multicasts it to both: each KV block crosses L2 -> SM once per pair instead of once per CTA.
// first_phys: the physical id of the part's first block, read at kernel entry (before the barrier set-up)
// so the first TMA load need not wait for a block-table read.
__device__ void produce(const MlaParams& p, const CUtensorMap* tm, const PartWork& w, uint8_t* smem, uint32_t ncta,
                        uint32_t rank, int first_phys) {
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
            mbar_wait(empty + st * kEmptyPerStage * 8, (use & 1) ^ 1);  // first use of a stage passes at once
            // first_phys belongs to the part's first split; when that split is empty (a zero-length
            // sequence) the first block loaded is another sequence's
            const bool first = s == w.begin_idx && blk == w.begin_block;
            const int row = (first ? first_phys : bt[blk]) * MLA4J_TILE;
            if (it == 0) PROBE(2);  // producer has the first block's address
            BPROBE(it, 0);          // loads issued
#if MLA4J_SM90_QFIRST
            // The Q tile's bytes would otherwise queue behind up to 144 KiB of KV on the way into the SM.
            if (it == MLA4J_SM90_QFIRST - 1) mbar_wait(smem_addr(smem + kOffQReady), 0);
#endif
            // One barrier per box: Q K^T starts on the first 64 columns while the rest still arrive.
#pragma unroll
            for (int n = 0; n < kBoxes; ++n) {
                const int j = box_at(n);
                if (MLA4J_SM90_HALFREL && n == kFirstHalfBoxes) mbar_wait(empty + (st * 2 + 1) * 8, (use & 1) ^ 1);
                const uint32_t bar = full + (st * kBoxes + j) * 8;
                mbar_arrive_expect_tx(bar, kBoxBytes);  // bytes may come from the peer's multicast
                if (ncta == 1)
                    tma_load_2d(kv + st * kTileBytes + j * kBoxBytes, tm, j * 64, row, bar);
                else if ((j & 1) == static_cast<int>(rank))
                    tma_load_2d_multicast(kv + st * kTileBytes + j * kBoxBytes, tm, j * 64, row, bar, 0x3);
            }
        }
    }
}

// ---------------------------------------------------------------- consumers
// Starts copying the sequence's 64-row query tile into the K-major 128B-swizzled layout wgmma reads
// (rows past the sequence's query rows are zero-filled). All 256 consumer threads take part, each
// issuing its 18 16-byte cp.async copies at once: one memory round trip (the register-staged copy it
// replaced took two, ~1.4 us more at the start of every split; docs/PERF.md r9). Completed by
// cp_async_wait_all() in split_begin.
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

// Queues S = Q K^T (K = 576) as one group for N keys of the block in stage st: N = 32 is one warpgroup's
// half in the key-split schedule (dk points at its keys), N = 64 the whole block. Waits for the block's
// 64-column boxes (full barriers of stage st, this parity) either each as it lands, so that Q K^T starts on
// the first box while the rest still arrive, or in groups (kWait, A/B: all nine first, or HALFREL's two stage
// halves). Why groups: a wait between two
// wgmmas of the chain puts a WARPGROUP.ARRIVE there (ptxas inserts one even without our fence), and the box's
// last HGMMA before it carries a scoreboard (gsb0) that arrive appears to wait on: the tensor pipe drains once
// per box, ~50 cycles per m64n64k16 step against ~35 unbroken (r15 SASS and probe, docs/PERF.md). Waiting
// for a group first pays its last box's arrival instead, which is cheaper once the loads run ahead.
enum QkWait { kWaitEachBox, kWaitAllBoxes, kWaitTwoHalves };
template <class T, int N, QkWait kWait = kWaitEachBox>
__device__ __forceinline__ void issue_qk(float (&sc)[N / 2], uint64_t dq, uint64_t dk, int st, uint32_t full, uint32_t parity,
                                         int probe_it = -1) {
    BPROBE(probe_it, 2);  // consumer ready for the block
    if (MLA4J_SM90_ABLATE & 1)
        for (int i = 0; i < N / 2; ++i) sc[i] = 0.f;
#pragma unroll
    for (int k = 0; k < 36; ++k) {
        // Before step k, wait for boxes box_at(n0 .. n1-1), if any: each box before its first step (kWaitEachBox), all
        // nine before step 0 (kWaitAllBoxes), or the first kFirstHalfBoxes before step 0 and the rest before the
        // step that first needs them (kWaitTwoHalves).
        const int n0 = k >> 2;
        const int n1 = (k & 3) != 0 ? n0
                       : kWait == kWaitEachBox ? n0 + 1
                       : kWait == kWaitAllBoxes ? (k == 0 ? kBoxes : n0)
                       : k == 0 ? kFirstHalfBoxes : k == 4 * kFirstHalfBoxes ? kBoxes : n0;
        if (n1 > n0) {
#pragma unroll
            for (int n = n0; n < n1; ++n) {
                mbar_wait(full + (st * kBoxes + box_at(n)) * 8, parity);
                if (n == 0) BPROBE(probe_it, 1);           // box 0 seen landed
                if (n == kBoxes - 1) BPROBE(probe_it, 3);  // last box seen landed
            }
            __syncwarp();   // the wait loop may leave the lanes diverged; wgmma is .sync.aligned
            wgmma_fence();  // after the (divergent) wait loop, so ptxas need not serialise the wgmmas
        }
        const uint32_t kofs = box_at(k >> 2) * kBoxBytes + (k & 3) * 32;
        if constexpr (N == 32) T::qk(sc, dq + (kofs >> 4), dk + ((st * kTileBytes + kofs) >> 4), k > 0);
        else if (!(MLA4J_SM90_ABLATE & 1)) T::qk64(sc, dq + (kofs >> 4), dk + ((st * kTileBytes + kofs) >> 4), k > 0);
    }
    wgmma_commit();
}

// Per-thread constants shared by both consumer schedules.
struct Ctx {
    int t, wg, tw, warp, lane, r0, cq, tile_row0;
    uint32_t ncta, peer;  // CTAs in the cluster (1 or 2) and the other one's rank
    uint8_t* smem;
    float *smax, *ssum;
    uint32_t full, empty, pready;  // pready: HALFREL=2 only
    uint64_t dq, dp, dkv, dv;  // dkv: KV stage 0 base (K-major); dv: this warpgroup's V columns (MN-major)
};
__device__ __forceinline__ Ctx make_ctx(uint8_t* smem, int tile, uint32_t ncta, uint32_t rank) {
    Ctx c;
    c.ncta = ncta;
    c.peer = rank ^ 1;
    c.t = threadIdx.x;  // consumers are threads 0..255
    c.wg = c.t >> 7;    // 0: V columns 0..255, 1: 256..511
    c.tw = c.t & 127;
    c.warp = c.tw >> 5;
    c.lane = c.tw & 31;
    c.r0 = 16 * c.warp + (c.lane >> 2);  // accumulator rows r0, r0 + 8
    c.cq = 2 * (c.lane & 3);             // accumulator columns 8j + cq, 8j + cq + 1
    c.tile_row0 = tile * kRowsPerTile;
    c.smem = smem;
    c.smax = reinterpret_cast<float*>(smem + kOffMax);
    c.ssum = reinterpret_cast<float*>(smem + kOffSum);
    c.full = smem_addr(smem + kOffBar);
    c.empty = c.full + kStages * kBoxes * 8;
    c.pready = c.empty + kStages * kEmptyPerStage * 8;
    // K-major operands (Q, K, P) advance 32 B per 16-deep k step inside a 128 B row and one box
    // (64 columns, 8 KiB) every 4 steps; V is MN-major (feature contiguous): LBO = box stride.
    c.dq = make_desc_sw128(smem_addr(smem + kOffQ), 16, 1024);
    c.dp = make_desc_sw128(smem_addr(smem + kOffP), 16, 1024);
    c.dkv = make_desc_sw128(smem_addr(smem + kOffKV), 16, 1024);
#if MLA4J_SM90_VDESC_SWAP
    c.dv = make_desc_sw128(smem_addr(smem + kOffKV) + c.wg * 4 * kBoxBytes, 1024, kBoxBytes);
#else
    c.dv = make_desc_sw128(smem_addr(smem + kOffKV) + c.wg * 4 * kBoxBytes, kBoxBytes, 1024);
#endif
    return c;
}

// This consumer is done with stage st (its wgmma reads retired). Alone: every thread arrives
// (count 256). In a cluster the peer's producer also writes this CTA's stage, so each warp's lane 0
// arrives on both CTAs' barriers (count 2 x 8 warps).
__device__ __forceinline__ void release_stage(const Ctx& c, int st) {
    if (MLA4J_SM90_HALFREL) {  // the relay: each warpgroup frees its half of the stage (count 128 each)
        mbar_arrive(c.empty + (st * 2 + c.wg) * 8);
        return;
    }
    const uint32_t bar = c.empty + st * 8;
    if (c.ncta == 1) {
        mbar_arrive(bar);
        return;
    }
    __syncwarp();
    if (c.lane == 0) {
        mbar_arrive(bar);
        mbar_arrive_cluster(map_to_cta(bar, c.peer));
    }
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
    if (!MLA4J_SM90_NOQ && (s != w.begin_idx || !q_tile_is_full(p, c.tile_row0))) load_q_tile(p, s, c.tile_row0, c.t, c.smem);
    const int seqlen = p.seqlens[s];
    const int off0 = p.split_offsets[s], off1 = p.split_offsets[s + 1];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int iq = (c.tile_row0 + c.r0 + 8 * h) / p.h_q;
        const int l = p.causal ? seqlen - p.s_q + iq : seqlen - 1;
        lim[h] = min(l, seqlen - 1);
    }
    if (c.t == 0 && s == w.begin_idx) PROBE(9);  // Q copies issued
    cp_async_wait_all();
    if (c.t == 0 && s == w.begin_idx) PROBE(10);  // this thread's Q copies landed
#if MLA4J_SM90_QFIRST
    if (s == w.begin_idx) mbar_arrive(smem_addr(c.smem + kOffQReady));  // the producer may go on
#endif
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
template <class T>
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
        const float inv = l > 0.f ? 1.f / l : 0.f;
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
// (K-major, 128B swizzle), where the other warpgroup's wgmma reads them. One stmatrix per k step (r14: was 16
// 32-bit stores) stores the thread's four 8x8 fragments: lane l addresses row l % 8 of fragment l / 8 (rows +8 for
// odd fragments, the next 16-byte chunk for fragments 2 and 3).
__device__ __forceinline__ void store_p64(uint8_t* sp, const Ctx& c, const uint32_t (&pa)[4][4]) {
    const int frag = c.lane >> 3, i = c.lane & 7;
    const uint32_t row = smem_addr(sp) + (16 * c.warp + i + 8 * (frag & 1)) * 128;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
        stmatrix_x4(row + (((2 * kk + (frag >> 1)) ^ i) << 4), pa[kk][0], pa[kk][1], pa[kk][2], pa[kk][3]);
}

// The softmax of 64 keys (r14: the relay's per-block cost from 1067 to ~810 cycles, tensor-bound rows 1-4% faster;
// docs/PERF.md).
// Maximum of row H's 16 values of the thread (sc[4j + 2H], sc[4j + 2H + 1]) as a tree.
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

// ---------------------------------------------------------------- key-split schedule (rows <= 64)
// Bandwidth-bound regime: both warpgroups work on the same block (32 keys each for Q K^T), so each
// stage is released as early as possible and two loads stay in flight.
template <class T>
__device__ void consume_keysplit(const MlaParams& p, const PartWork& w, const Ctx& c) {
    const uint64_t dk = c.dkv + ((c.wg * 32 * 128) >> 4);
    int it = 0;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int first = split_first_block(w, s), end = split_end_block(p, w, s);
        int lim[2];
        const SplitOut so = split_begin(p, w, c, s, lim);
        if (c.t == 0 && s == w.begin_idx) PROBE(3);  // Q tile in shared memory
        float m[2], lsum[2], o[128];
        reset_split_state(m, lsum, o);

        for (int blk = first; blk < end; ++blk, ++it) {
            const int st = it % kStages;
            float sc[16];
            issue_qk<T, 32>(sc, c.dq, dk, st, c.full, (it / kStages) & 1);
            wgmma_wait<0>();
            fence_regs(sc);
            if (c.t == 0 && it == 0) PROBE(4);  // first block's S

            const int key0 = blk * 64 + c.wg * 32 + c.cq;
            float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int h = e >> 1;
                    const int key = key0 + 8 * i + (e & 1);
                    const float v = key <= lim[h] ? sc[4 * i + e] * p.scale_log2 : -INFINITY;
                    sc[4 * i + e] = v;
                    mx[h] = fmaxf(mx[h], v);
                }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            }
            if ((c.lane & 3) == 0) {
                c.smax[c.wg * 64 + c.r0] = mx[0];
                c.smax[c.wg * 64 + c.r0 + 8] = mx[1];
            }
            named_barrier(kBarMax, kConsumerThreads);

            // One running max per row shared by both halves: identical decisions and factors.
            float alpha[2], base[2];
            bool moved = false;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const float mnew = lazy_max(m[h], fmaxf(mx[h], c.smax[(c.wg ^ 1) * 64 + c.r0 + 8 * h]));
                moved |= mnew != m[h];
                base[h] = exp_base(mnew);
                alpha[h] = exp2f(m[h] - base[h]);
                m[h] = mnew;
            }
            float rs[2] = {0.f, 0.f};
#pragma unroll
            for (int i = 0; i < 16; ++i) {
                const int h = (i >> 1) & 1;
                sc[i] = exp2f(sc[i] - base[h]);
                rs[h] += sc[i];
            }
#pragma unroll
            for (int h = 0; h < 2; ++h) lsum[h] = lsum[h] * alpha[h] + rs[h];
            rescale(o, alpha, moved);

            uint8_t* stage = c.smem + kOffKV + st * kTileBytes;
            const int valid = seqlen - blk * 64;
            if (valid < 64) zero_v_tail(stage, 4 * c.wg, 4, valid, c.tw);

            // P half -> shared memory, then the whole P feeds P V.
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int key = c.wg * 32 + 8 * i + c.cq;
                const int chunk = key >> 3, within = (key & 7) * 2;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int r = c.r0 + 8 * h;
                    const int off = r * 128 + ((chunk ^ (r & 7)) << 4) + within;
                    *reinterpret_cast<uint32_t*>(c.smem + kOffP + off) = T::pack(sc[4 * i + 2 * h], sc[4 * i + 2 * h + 1]);
                }
            }
            fence_proxy_async();
            named_barrier(kBarP, kConsumerThreads);

            wgmma_fence();
#pragma unroll
            for (int k = 0; k < 4; ++k) T::pv(o, c.dp + ((k * 32) >> 4), c.dv + ((st * kTileBytes + k * 2048) >> 4));
            wgmma_commit();
            wgmma_wait<0>();
            fence_regs(o);
            release_stage(c, st);
            if (c.t == 0 && it == 0) PROBE(5);  // first block done
        }
        if (c.t == 0 && s == w.end_idx) PROBE(6);  // last block done
        split_end<T>(p, so, c, s, o, m, lsum);
        if (c.t == 0 && s == w.end_idx) PROBE(7);  // outputs written
    }
}

// ---------------------------------------------------------------- seesaw schedule (rows > 64)
// Tensor-bound regime. Blocks go in pairs (A, B): WG0 computes S_A = Q K_A^T and WG1 S_B (each a
// whole block, m64n64, so operand traffic matches the math), at the same time. Then, staggered:
//   WG0: m_A = max(m, rowmax S_A); P_A; O_L *= e(m - m_A); publish m_A, P_A; O_L += P_A V_A,L (P from registers)
//   WG1: O_R *= e(m - m_A); O_R += P_A V_A,R (P_A from smem); m_B = max(m_A, rowmax S_B); P_B;
//        O_R *= e(m_A - m_B); publish m_B, P_B; O_R += P_B V_B,R (registers)
//   WG0: O_L *= e(m_A - m_B); O_L += P_B V_B,L (P_B from smem)
// so one warpgroup's softmax overlaps the other's tensor work. One P buffer: WG1 overwrites P_A
// with P_B only after its P_A V wgmma completed; WG0 writes the next P_A only after its P_B V.
// Row sums: WG0 sums P_A's, WG1 P_B's, both kept relative to the common max and added at the end.
template <class T>
__device__ void consume_seesaw(const MlaParams& p, const PartWork& w, const Ctx& c) {
    int it = 0;
    float* sm_a = c.smax;       // m_A per row, written by WG0
    float* sm_b = c.smax + 64;  // m_B per row, written by WG1
    uint8_t* sp = c.smem + kOffP;
    for (int s = w.begin_idx; s <= w.end_idx; ++s) {
        const int seqlen = p.seqlens[s];
        const int first = split_first_block(w, s), end = split_end_block(p, w, s);
        int lim[2];
        const SplitOut so = split_begin(p, w, c, s, lim);
        float m[2], lsum[2], o[128];
        reset_split_state(m, lsum, o);

        for (int blk = first; blk < end; blk += 2) {
            const bool has_b = blk + 1 < end;
            const int st_a = it % kStages, st_b = (it + 1) % kStages;
            const bool mine = c.wg == 0 || has_b;  // WG1 has no block in a split's odd tail
            const int my_blk = blk + c.wg, my_st = c.wg == 0 ? st_a : st_b, my_it = it + c.wg;

            float sc[32];
            float mx[2] = {-INFINITY, -INFINITY};
            if (mine) {
                issue_qk<T, 64>(sc, c.dq, c.dkv, my_st, c.full, (my_it / kStages) & 1);
                wgmma_wait<0>();
                fence_regs(sc);
                mask_max64_raw(sc, c, my_blk, lim, p.scale_log2, mx);
                const int valid = seqlen - my_blk * 64;  // stale tail rows of V -> 0 (both halves)
                if (valid < 64) zero_v_tail(c.smem + kOffKV + my_st * kTileBytes, 0, 8, valid, c.tw);
            }
            uint32_t pa[4][4];
            float rs[2] = {0.f, 0.f};
            if (c.wg == 0) {
                float ma[2], base_a[2], f[2];
                bool moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    ma[h] = lazy_max(m[h], fmaxf(m[h], mx[h]));
                    moved |= ma[h] != m[h];
                    base_a[h] = exp_base(ma[h]);
                    f[h] = exp2f(m[h] - base_a[h]);
                }
                exp_pack64<T>(sc, base_a, p.scale_log2, pa, rs);
                if ((c.lane & 3) == 0) {
                    sm_a[c.r0] = ma[0];
                    sm_a[c.r0 + 8] = ma[1];
                }
                store_p64(sp, c, pa);
                fence_proxy_async();
                named_barrier_arrive(kBarA, kConsumerThreads);
#pragma unroll
                for (int h = 0; h < 2; ++h) lsum[h] = lsum[h] * f[h] + rs[h];
                rescale(o, f, moved);
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 4; ++k) T::pv_rs(o, pa[k], c.dv + ((st_a * kTileBytes + k * 2048) >> 4));
                wgmma_commit();

                named_barrier(kBarB, kConsumerThreads);  // m_B and P_B published
                wgmma_wait<0>();
                fence_regs(o);
                release_stage(c, st_a);
                moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const float mb = sm_b[c.r0 + 8 * h];
                    moved |= mb != ma[h];
                    f[h] = exp2f(ma[h] - exp_base(mb));
                    lsum[h] *= f[h];
                    m[h] = mb;
                }
                rescale(o, f, moved);
                if (has_b) {
                    wgmma_fence();
#pragma unroll
                    for (int k = 0; k < 4; ++k) T::pv(o, c.dp + ((k * 32) >> 4), c.dv + ((st_b * kTileBytes + k * 2048) >> 4));
                    wgmma_commit();
                    wgmma_wait<0>();
                    fence_regs(o);
                    release_stage(c, st_b);
                }
            } else {
                named_barrier(kBarA, kConsumerThreads);  // m_A and P_A published
                float ma[2], f[2];
                bool moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    ma[h] = sm_a[c.r0 + 8 * h];
                    moved |= ma[h] != m[h];
                    f[h] = exp2f(m[h] - exp_base(ma[h]));
                    lsum[h] *= f[h];
                }
                rescale(o, f, moved);
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 4; ++k) T::pv(o, c.dp + ((k * 32) >> 4), c.dv + ((st_a * kTileBytes + k * 2048) >> 4));
                wgmma_commit();

                float mb[2], base_b[2];
                moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    mb[h] = lazy_max(ma[h], fmaxf(ma[h], mx[h]));
                    moved |= mb[h] != ma[h];
                    base_b[h] = exp_base(mb[h]);
                    f[h] = exp2f(ma[h] - base_b[h]);
                }
                if (has_b) exp_pack64<T>(sc, base_b, p.scale_log2, pa, rs);
                wgmma_wait<0>();  // P_A V done: P tile free, O_R settled, stage A released
                fence_regs(o);
                release_stage(c, st_a);
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    lsum[h] = lsum[h] * f[h] + rs[h];
                    m[h] = mb[h];
                }
                rescale(o, f, moved);
                if ((c.lane & 3) == 0) {
                    sm_b[c.r0] = mb[0];
                    sm_b[c.r0 + 8] = mb[1];
                }
                if (has_b) store_p64(sp, c, pa);
                fence_proxy_async();
                named_barrier_arrive(kBarB, kConsumerThreads);
                if (has_b) {
                    wgmma_fence();
#pragma unroll
                    for (int k = 0; k < 4; ++k) T::pv_rs(o, pa[k], c.dv + ((st_b * kTileBytes + k * 2048) >> 4));
                    wgmma_commit();
                    wgmma_wait<0>();
                    fence_regs(o);
                    release_stage(c, st_b);
                }
            }
            it += has_b ? 2 : 1;
        }
        wgmma_wait<0>();  // nothing is in flight here; tells ptxas so
        fence_regs(o);
        split_end<T>(p, so, c, s, o, m, lsum);
    }
}

// ---------------------------------------------------------------- relay schedule (shipped; MLA4J_SM90_RELAY)
// One block at a time, in a fixed order per block i:
//   WG0: S = Q K_i^T (m64n64, whole block), mask, m_i = max(m, rowmax S) (lazy), P_i; publish m_i, P_i;
//        O_L *= e(m - m_i); O_L += P_i V_i,L (P from registers)
//   WG1: (waits for the publication) O_R *= e(m - m_i); O_R += P_i V_i,R (P from shared memory)
// Why: with two KV stages, a stage is refilled only after its block's last P V; the next block to need a
// new stage must come at least one load latency later. Keeping each block's use compact (its S, softmax
// and both P V halves back to back) gives the load of block i+2 the whole of block i+1's work as lead
// time, where the seesaw (two blocks in flight at once) left ~0 for its second block. The price: the
// tensor core idles during the softmax (~15% by the cycle count in docs/KERNEL-SM90.md).
// Two handoffs per block, both full 256-thread barrier syncs:
//   kBarB: WG1 meets it before each block, so its previous P V (the only reader of P and sm_m) has retired;
//        WG0 meets it after its S and softmax, before it overwrites P and sm_m. It also means all four of
//        WG0's warps finished reading the stage for S (each wgmma.wait_group covers only its own warp), so
//        the stale V rows past the sequence end can be zeroed right after it.
//   kBarA: m_i and P_i published (WG0 after its stores and the async-proxy fence, WG1 before reading).
// Not arrive/sync: the waiting side has nothing else to do, and racecheck flagged the arrive form. Not a
// WG0-only barrier for the zeroing either (r12 had one): racecheck then reports false hazards (r13).
// HALFREL=2 (kOneWay, A/B) replaces both with a one-way handoff: P_i goes into the RoPE box of block i's stage and
// m_i into slot st of sm_m, so nothing WG0 writes for block i can be what WG1 still reads for block i-1 (that is
// in the other stage), and a stage is refilled only after WG1 released its half (boxes 4..8) of block i. WG0 then
// needs only its own four warps' S reads retired before it writes into the stage (kBarW0, 128 threads), and arrives
// on pready[st]; WG1 waits on pready[st]. On a partly used block WG0 meets kBarW0 a second time, after zeroing the
// stale V rows, because its own P V then follows. WG1 meets a 128-thread barrier of its own (kBarW1) as often: it
// orders nothing, but keeps both warpgroups' named-barrier counts equal, which keeps racecheck from pairing them
// wrongly (r13).
template <class T>
__device__ void consume_relay(const MlaParams& p, const PartWork& w, const Ctx& c) {
    const bool multi_tile = p.rows > kRowsPerTile;  // several tile CTAs per part: tensor-bound
    const bool wait_all_rows = MLA4J_SM90_WAITALL == 1 || (MLA4J_SM90_WAITALL == 2 && multi_tile);
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
                const int st = j % kStages;
                float sc[32], mx[2];
                // MLA4J_SM90_HALFREL / WAITALL (A/B, see issue_qk): which blocks wait for their boxes in groups.
                if (MLA4J_SM90_HALFREL && multi_tile && blk - first >= kStages)
                    issue_qk<T, 64, kWaitTwoHalves>(sc, c.dq, c.dkv, st, c.full, (j / kStages) & 1, j);
                else if (wait_all_rows && (MLA4J_SM90_WAITALL == 1 || blk - first >= kStages))
                    issue_qk<T, 64, kWaitAllBoxes>(sc, c.dq, c.dkv, st, c.full, (j / kStages) & 1, j);
                else
                    issue_qk<T, 64>(sc, c.dq, c.dkv, st, c.full, (j / kStages) & 1, j);
                wgmma_wait<0>();
                fence_regs(sc);
                BPROBE(j, 4);                      // S done
                if (c.t == 0 && j == 0) PROBE(4);  // first block's S
                mask_max64_raw(sc, c, blk, lim, p.scale_log2, mx);
                BPROBE(j, 8);  // masked, row maxima
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
                BPROBE(j, 9);  // P in registers
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
                    for (int k = 0; k < 4 && !(MLA4J_SM90_ABLATE & 2); ++k) T::pv_rs(o, pa[k], c.dv + ((st * kTileBytes + k * 2048) >> 4));
                    wgmma_commit();
                };
                const int valid = seqlen - blk * 64;
                // Hands m_i and P_i to WG1 (it runs O_R += P V from shared memory after kBarA).
                auto handoff = [&]() {
                    if constexpr (kOneWay) {
                        named_barrier(kBarW0, kConsumerThreads / 2);  // all four warps' S reads of the stage retired
                        BPROBE(j, 10);
                        if (valid < 64) zero_v_tail(c.smem + kOffKV + st * kTileBytes, 0, 8, valid, c.tw);
                        if ((c.lane & 3) == 0) {
                            sm_m[st * 64 + c.r0] = mn[0];
                            sm_m[st * 64 + c.r0 + 8] = mn[1];
                        }
                        store_p64(c.smem + kOffKV + st * kTileBytes + 8 * kBoxBytes, c, pa);  // the RoPE box
                        fence_proxy_async();
                        // A partly used block: every warp's zeroed rows, before this warpgroup's own P V reads them (each
                        // warp's part of that wgmma reads all 64 V rows). WG1 meets kBarW1 once more for it (below).
                        if (valid < 64) named_barrier(kBarW0, kConsumerThreads / 2);
                        BPROBE(j, 11);  // P stored
                        mbar_arrive(c.pready + st * 8);
                        BPROBE(j, 5);  // P published
                        return;
                    }
                    named_barrier(kBarB, kConsumerThreads);  // WG1's previous P V retired; all of WG0's S reads too
                    BPROBE(j, 10);
                    if (valid < 64) zero_v_tail(c.smem + kOffKV + st * kTileBytes, 0, 8, valid, c.tw);  // stale V rows -> 0
                    if ((c.lane & 3) == 0) {
                        sm_m[c.r0] = mn[0];
                        sm_m[c.r0 + 8] = mn[1];
                    }
                    store_p64(sp, c, pa);
                    fence_proxy_async();
                    BPROBE(j, 11);  // P stored
                    named_barrier(kBarA, kConsumerThreads);
                    BPROBE(j, 5);  // P published
                };
                // A whole block's V needs no zeroing, so WG0's P V goes to the tensor core before the handoff, which
                // then runs under it (r14: period -7% in cycles on the multi-tile rows). Two branches rather than two
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
                BPROBE(j, 6);  // P V done, stage released
                if (c.t == 0 && j == 0) PROBE(5);  // first block done
            }
        } else {
            for (int blk = first, j = it; blk < end; ++blk, ++j) {
                const int st = j % kStages;
                if constexpr (kOneWay) {
                    mbar_wait(c.pready + st * 8, (j / kStages) & 1);  // m_i and P_i published in stage st
                    named_barrier(kBarW1, kConsumerThreads / 2);      // pairs kBarW0 for racecheck only (above)
                    if (seqlen - blk * 64 < 64) named_barrier(kBarW1, kConsumerThreads / 2);  // pairs the second kBarW0
                } else {
                    named_barrier(kBarB, kConsumerThreads);  // P and sm_m free (this warpgroup's previous reads retired)
                    named_barrier(kBarA, kConsumerThreads);  // m_i and P_i published
                }
                const int mslot = kOneWay ? st * 64 : 0;
                const uint64_t dp = kOneWay ? c.dkv + ((st * kTileBytes + 8 * kBoxBytes) >> 4) : c.dp;
                float f[2];
                bool moved = false;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const float mn = sm_m[mslot + c.r0 + 8 * h];
                    moved |= mn != m[h];
                    f[h] = exp2f(m[h] - exp_base(mn));
                    lsum[h] *= f[h];
                    m[h] = mn;
                }
                rescale(o, f, moved);
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 4 && !(MLA4J_SM90_ABLATE & 2); ++k) T::pv(o, dp + ((k * 32) >> 4), c.dv + ((st * kTileBytes + k * 2048) >> 4));
                wgmma_commit();
                wgmma_wait<0>();
                fence_regs(o);
                release_stage(c, st);
                BPROBE(j, 7);  // WG1's P V done
            }
        }
        it += max(end - first, 0);
        if (c.t == 0 && s == w.end_idx) PROBE(6);  // last block done
        split_end<T>(p, so, c, s, o, m, lsum);
        if (c.t == 0 && s == w.end_idx) PROBE(7);  // outputs written
    }
}

}  // namespace mla4j_sm90

using namespace mla4j_sm90;

// Grid: (num_parts, ceil(rows / 64)); block 384; dynamic shared memory MLA4J_SM90_SMEM_BYTES (sm90_launch.h).
// tm_kv: the whole cache as a 2-D tensor [num_blocks * 64, 576] of 16-bit elements, box 64 x 64,
// 128-byte swizzle (see kernels-cuda/sm90/README.md for the exact encode arguments).
extern "C" __global__ void __launch_bounds__(kThreads, 1)
    mla4j_decode_sm90(const __grid_constant__ MlaParams p, const __grid_constant__ CUtensorMap tm_kv) {
    extern __shared__ uint8_t smem_raw[];
    // Aligned by pointer arithmetic on the __shared__ array (not through an integer cast), so the compiler
    // keeps the shared state space: ld/st.shared instead of generic accesses for P, maxima and sums (r12).
    uint8_t* smem = smem_raw + ((1024u - (smem_addr(smem_raw) & 1023u)) & 1023u);
    // Programmatic dependent launch: let the combine kernel get scheduled now (it waits for this
    // grid's completion itself), and wait for a preceding scheduler kernel if launched as dependent.
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
    if (threadIdx.x == 0) PROBE(0);
    const PartWork w = read_part(p, blockIdx.x);
    if (w.end_idx < w.begin_idx) return;  // an empty part: both CTAs of a cluster leave here together
#if MLA4J_SM90_MULTICAST
    const uint32_t ncta = cluster_nctarank(), rank = cluster_ctarank();
#else
    // A 2-CTA cluster (two tile CTAs of one part) only places the pair in one GPC, where the second CTA's
    // loads of each KV block hit what the first brought into L2 sooner (r13: two-tile rows 3-12% faster);
    // each CTA still loads its own boxes, so the pair does not advance in lock-step.
    const uint32_t ncta = 1, rank = 0;
#endif
    // The first block's physical id, read before the barrier set-up so that the first TMA load does not
    // wait for it afterwards (the first TMA ~0.2 us earlier at b = 1; end to end within noise). In bounds
    // whenever begin_block < max_blocks; otherwise the part's first split is empty and it is never used.
    int first_phys = 0;
    if (threadIdx.x == kConsumerThreads && w.begin_block < p.max_blocks)
        first_phys = p.block_table[static_cast<size_t>(w.begin_idx) * p.max_blocks + w.begin_block];
    // A full 64-row Q tile (h_q * s_q >= 64) is started here too, ahead of the KV bytes (measured r10:
    // b = 2..8, s_k = 4096, h_q = 128 steps 5-7% faster). A tile with padding rows is not: issuing its
    // zero-fill copies here delays the barrier set-up more than it saves (h_q = 16: 2-4% slower).
    if (!MLA4J_SM90_NOQ && threadIdx.x < kConsumerThreads && q_tile_is_full(p, blockIdx.y * kRowsPerTile))
        load_q_tile(p, w.begin_idx, blockIdx.y * kRowsPerTile, threadIdx.x, smem);

    if (threadIdx.x == 0) {
        const uint32_t bars = smem_addr(smem + kOffBar);
        for (int i = 0; i < kStages * kBoxes; ++i) mbar_init(bars + i * 8, 1);  // full: producer + tx bytes
        for (int st = 0; st < kStages * kEmptyPerStage; ++st)  // empty: see release_stage
            mbar_init(bars + (kStages * kBoxes + st) * 8,
                      MLA4J_SM90_HALFREL ? kConsumerThreads / 2 : ncta == 1 ? kConsumerThreads : 2 * kConsumerThreads / 32);
        for (int st = 0; st < kStages * kPReadyPerStage; ++st)  // pready: warpgroup 0 published P_i, m_i (consume_relay)
            mbar_init(bars + (kStages * (kBoxes + kEmptyPerStage) + st) * 8, kConsumerThreads / 2);
#if MLA4J_SM90_QFIRST
        mbar_init(smem_addr(smem + kOffQReady), kConsumerThreads);  // first Q tile copied
#endif
        fence_barrier_init();
        tma_prefetch_desc(&tm_kv);
    }
    if (ncta > 1)
        cluster_sync();  // the peer's barriers exist before any multicast or remote arrive
    else
        __syncthreads();
    if (threadIdx.x == 0) PROBE(1);

    if (threadIdx.x >= kConsumerThreads) {  // warpgroup 2: the producer, one thread issues TMA
        regs_dealloc<24>();
        if (threadIdx.x == kConsumerThreads) produce(p, &tm_kv, w, smem, ncta, rank, first_phys);
    } else {
        regs_alloc<240>();  // consumers: 128 accumulators + S + P fragments
        if (threadIdx.x == 0) PROBE(8);
        const Ctx c = make_ctx(smem, blockIdx.y, ncta, rank);
        const bool seesaw = MLA4J_SM90_SEESAW == 2 || (MLA4J_SM90_SEESAW && p.rows > kRowsPerTile);  // tensor-bound
        const bool relay = MLA4J_SM90_RELAY == 2 || (MLA4J_SM90_RELAY == 1 && p.rows > kRowsPerTile);
        if (p.dtype == MLA4J_FP16) {
            if (relay) consume_relay<Fp16>(p, w, c);
            else if (seesaw) consume_seesaw<Fp16>(p, w, c);
            else consume_keysplit<Fp16>(p, w, c);
        } else {
            if (relay) consume_relay<Bf16>(p, w, c);
            else if (seesaw) consume_seesaw<Bf16>(p, w, c);
            else consume_keysplit<Bf16>(p, w, c);
        }
    }
    if (ncta > 1) cluster_sync();  // no CTA leaves while its peer may still write into it
}

#if MLA4J_SM90_PROBE
// Test-only: copies the probe timeline ([264][8] globaltimer stamps) to the host, or clears it.
extern "C" void mla4j_sm90_probe_read(unsigned long long* host) {
    cudaMemcpyFromSymbol(host, mla4j_sm90_probe, sizeof(mla4j_sm90_probe));
}
#if MLA4J_SM90_PROBE == 2
extern "C" void mla4j_sm90_blkprobe_read(long long* host) {
    cudaMemcpyFromSymbol(host, mla4j_sm90_blkprobe, sizeof(mla4j_sm90_blkprobe));
}
#endif
extern "C" void mla4j_sm90_probe_clear() {
    static unsigned long long zero[264][12];
    cudaMemcpyToSymbol(mla4j_sm90_probe, zero, sizeof(zero));
}
#endif
