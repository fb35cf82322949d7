// mla4j_schedule: the split-KV tile schedule computed on the GPU from p.seqlens, so a decode step
// needs no host round trip. The algorithm is the one in include/mla4j/schedule.h (the single definition
// is io.mla4j.SplitSchedule in Java; a test compares the two). Launch: grid 1, block MLA4J_SCHEDULE_THREADS = 32 (schedule.h).
//
// Cost: a warp-parallel sum over b, then one lane walks the O(b + num_parts) greedy loop, which is
// inherently sequential (each part starts where the previous ended). At b = 128, num_parts = 132 this is
// a few microseconds, paid once per decode step (the plan), not per layer.
#include "mla4j/paging.h"
#include "mla4j/schedule.h"

static_assert(MLA4J_SCHEDULE_THREADS == 32, "the scheduler is one warp: its reductions are warp shuffles");

extern "C" __global__ void __launch_bounds__(MLA4J_SCHEDULE_THREADS) mla4j_schedule(const __grid_constant__ MlaParams p) {
    const int lane = threadIdx.x;
    const int b = p.b, parts = p.num_parts, F = p.split_overhead;
    long long total = 0;
    for (int s = lane; s < b; s += 32) total += mla4j_tiles(p.seqlens[s]) + F;
    for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
    for (int s = lane; s <= b; s += 32) p.split_offsets[s] = 0;  // per-sequence split counts, shifted by one
    __syncwarp();
    if (lane != 0) return;

    const long long per_part = max((total + parts - 1) / parts + F, 2LL * F);
    int s = 0, blk = 0;
    int* counts = p.split_offsets + 1;  // counts[s] = splits of sequence s, prefix-summed below
    for (int part = 0; part < parts; ++part) {
        const int begin_idx = s, begin_blk = blk, begin_split = s < b ? counts[s] : 0;
        int end_idx = s - 1, end_blk = 0;
        long long remain = part == parts - 1 ? (1LL << 62) : per_part;
        while (s < b) {
            const int nb = mla4j_tiles(p.seqlens[s]);
            const long long rest = nb - blk;
            if (remain >= rest + F) {
                remain -= rest + F;
                counts[s] += 1;
                end_idx = s;
                end_blk = nb;
                ++s;
                blk = 0;
            } else {
                const long long take = remain - F;
                if (take > 0) {
                    blk += (int)take;
                    counts[s] += 1;
                    end_idx = s;
                    end_blk = blk;
                }
                break;
            }
        }
        int* m = p.sched + part * MLA4J_SCHED_INTS;
        m[0] = begin_idx; m[1] = begin_blk; m[2] = end_idx; m[3] = end_blk; m[4] = begin_split;
        m[5] = 0; m[6] = 0; m[7] = 0;
    }
    for (int i = 0; i < b; ++i) p.split_offsets[i + 1] += p.split_offsets[i];
}
