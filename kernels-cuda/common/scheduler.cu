// mla4j_schedule: the split-KV tile schedule computed on the GPU from p.seqlens, so a decode step
// needs no host round trip. The algorithm is the one in include/mla4j/schedule.h (the single definition
// is io.mla4j.SplitSchedule in Java; a test compares the two). Launch: grid 1, block MLA4J_SCHEDULE_THREADS = 32 (schedule.h).
// mla4j_step: an updatable plan's whole update in one launch (grid b, block MLA4J_STEP_THREADS): each CTA copies its
// sequence's staged seqlen and table row from mapped pinned host memory, checks them, and the last CTA to finish
// publishes the status word and runs the same schedule (one node in a captured graph instead of five: copies,
// memset, check, scheduler).
//
// Cost: a warp-parallel sum over b, then the greedy walk (mla4j/schedule_walk.h), sequential over the sequences (each
// part starts where the previous ended) but not over the parts a long sequence spans: those are one division, their
// metadata written by the warp's lanes. Paid once per decode step (the plan), not per layer.
#include <limits.h>

#include "mla4j/paging.h"
#include "mla4j/schedule.h"
#include "mla4j/schedule_walk.h"

// Batches of up to this many sequences are scheduled in shared memory (their tile counts and split counts), so
// the greedy walk below (one lane, a step per sequence and part) and the prefix sum after it touch no global
// memory: at b = 128 the walk took ~300 us reading seqlens and counts from L2 one dependent access at a time
// (the GPU bench's plan line, 2026-12-04). Larger batches walk global memory as before.
constexpr int kSchedStaged = 4096;
// Schedules of up to this many parts are written to shared memory by the walking lane and copied out by the warp: one
// lane's 8 x num_parts global stores, one after another, cost more than the walk (mla4j_step took 33 us at b = 1 under
// ncu, docs/PERF.md, issue 26). More parts (no GPU has that many SMs today) store straight to global memory.
constexpr int kSchedParts = 256;

// The schedule, by one warp (lane = its lane). invalid: the step failed its device check: every sequence is
// scheduled empty, and p.seqlens is zeroed for the kernels after it.
__device__ void schedule_warp(const MlaParams& p, int lane, bool invalid, int* tiles_sh, int* counts_sh, int* sched_sh) {
    const int b = p.b, parts = p.num_parts, F = p.split_overhead;
    const bool staged = b <= kSchedStaged, sched_staged = parts <= kSchedParts;
    if (invalid)
        for (int s = lane; s < b; s += 32) const_cast<int32_t*>(p.seqlens)[s] = 0;
    int* offs = staged ? counts_sh : p.split_offsets;  // [b + 1]: per-sequence split counts shifted by one, then summed
    long long total = 0;
    for (int s = lane; s < b; s += 32) {
        // __ldcg: in mla4j_step other CTAs wrote them in this launch; L1 might hold an older line
        const int nb = invalid ? 0 : mla4j_tiles(__ldcg(p.seqlens + s));
        if (staged) tiles_sh[s] = nb;
        total += nb + F;
    }
    for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
    for (int s = lane; s <= b; s += 32) offs[s] = 0;
    __syncwarp();
    const long long per_part = max((total + parts - 1) / parts + F, 2LL * F);
    int* counts = offs + 1;  // counts[s] = splits of sequence s
    int* meta = sched_staged ? sched_sh : p.sched;
    if (staged) {
        mla4j_walk(lane, 32, b, parts, F, per_part, [&](int i) { return tiles_sh[i]; }, meta, counts);
    } else {
        mla4j_walk(lane, 32, b, parts, F, per_part,
                   [&](int i) { return invalid ? 0 : mla4j_tiles(__ldcg(p.seqlens + i)); }, meta, counts);
    }
    __syncwarp();
    if (lane == 0) {
        for (int i = 0; i < b; ++i) offs[i + 1] += offs[i];
    }
    __syncwarp();
    if (staged)
        for (int s = lane; s <= b; s += 32) p.split_offsets[s] = counts_sh[s];
    if (sched_staged)
        for (int i = lane; i < parts * MLA4J_SCHED_INTS; i += 32) p.sched[i] = sched_sh[i];
}

static_assert(MLA4J_SCHEDULE_THREADS == 32, "the scheduler is one warp: its reductions are warp shuffles");

extern "C" __global__ void __launch_bounds__(MLA4J_SCHEDULE_THREADS) mla4j_schedule(const __grid_constant__ MlaParams p) {
    __shared__ int tiles_sh[kSchedStaged];
    __shared__ int counts_sh[kSchedStaged + 1];
    __shared__ int sched_sh[kSchedParts * MLA4J_SCHED_INTS];
    schedule_warp(p, threadIdx.x, false, tiles_sh, counts_sh, sched_sh);
}

// An updatable plan's step (its buffers may have been written past the host's checks, e.g. straight into the
// staging memory by an engine): CTA s copies sequence s's seqlen and table row from p.staged (when the host did not
// copy them) and checks them: the seqlen in [0, max_blocks pages], every block id it uses in [0, num_blocks).
// Violations OR MLA4J_STATUS_* bits into p.status[1]; the last CTA to finish (p.status[2] counts them) moves the
// bits to p.status[0], resets both for the next step, and schedules: a bad step as if every sequence were empty,
// so no kernel after it reads the cache.
extern "C" __global__ void __launch_bounds__(MLA4J_STEP_THREADS) mla4j_step(const __grid_constant__ MlaParams p) {
    __shared__ int tiles_sh[kSchedStaged];
    __shared__ int counts_sh[kSchedStaged + 1];
    __shared__ int sched_sh[kSchedParts * MLA4J_SCHED_INTS];
    __shared__ bool last;
    __shared__ int len_sh;
    const int s = blockIdx.x;
    int32_t* row = const_cast<int32_t*>(p.block_table) + static_cast<size_t>(s) * p.max_blocks;
    // One pass over the row, its loads issued together with the seqlen's: each thread notes the first position holding
    // an id out of range, which is judged once the seqlen is known. Loads go out kStepBatch at a time before any store,
    // the seqlen's stored to shared memory only after the row's: a store waits for its load's data and the compiler
    // keeps a later load behind it (it cannot tell src from row), and each load from the mapped host memory is a PCIe
    // round trip of a few us, so a row of n ids costs n / (128 * kStepBatch) round trips, not n / 128 plus one (the
    // update measured 25 us at 66 ids a row and 40 at 514: docs/PERF.md, issue 26).
    const int32_t* src = p.staged != nullptr ? p.staged + p.b + static_cast<size_t>(s) * p.max_blocks : row;
    const int len0 = threadIdx.x == 0 ? (p.staged != nullptr ? p.staged[s] : p.seqlens[s]) : 0;
    int first_bad = INT_MAX;
    constexpr int kStepBatch = 8;
    for (int j0 = threadIdx.x; j0 < p.max_blocks; j0 += MLA4J_STEP_THREADS * kStepBatch) {
        int id[kStepBatch];
#pragma unroll
        for (int u = 0; u < kStepBatch; ++u) {
            const int j = j0 + u * MLA4J_STEP_THREADS;
            id[u] = j < p.max_blocks ? src[j] : 0;
        }
#pragma unroll
        for (int u = 0; u < kStepBatch; ++u) {
            const int j = j0 + u * MLA4J_STEP_THREADS;
            if (j >= p.max_blocks) break;
            if (p.staged != nullptr) row[j] = id[u];
            if ((id[u] < 0 || id[u] >= p.num_blocks) && j < first_bad) first_bad = j;
        }
    }
    if (threadIdx.x == 0) len_sh = len0;
    __syncthreads();
    const int len = len_sh;
    if (p.staged != nullptr && threadIdx.x == 0) const_cast<int32_t*>(p.seqlens)[s] = len;
    const long long cap = static_cast<long long>(p.max_blocks) << p.page_shift;
    const bool bad_len = len < 0 || len > cap;
    const int pages = bad_len ? 0 : (len + (1 << p.page_shift) - 1) >> p.page_shift;
    const bool bad_id = __syncthreads_or(first_bad < pages);  // also: every thread's copies are issued before thread 0 goes on
    if (threadIdx.x == 0) {
        if (bad_len || bad_id) atomicOr(p.status + 1, (bad_len ? MLA4J_STATUS_SEQLEN : 0) | (bad_id ? MLA4J_STATUS_BLOCK : 0));
        __threadfence();  // this CTA's copies and bits, before it is counted
        last = atomicAdd(p.status + 2, 1) == p.b - 1;
    }
    __syncthreads();
    if (!last || threadIdx.x >= 32) return;
    __threadfence();  // every other CTA's copies and bits are visible to this warp now
    const int bits = atomicAdd(p.status + 1, 0);
    if (threadIdx.x == 0) {
        p.status[0] = bits;
        p.status[1] = 0;
        p.status[2] = 0;
    }
    schedule_warp(p, threadIdx.x, bits != 0, tiles_sh, counts_sh, sched_sh);
}
