// The greedy walk of the split schedule (schedule.h states it; io.mla4j.SplitSchedule is the one definition): the parts'
// metadata and each sequence's split count, from the sequences' tile counts. Plain C++ so that a host test can run
// it against the Java definition (ScheduleWalkTest); the GPU scheduler runs it on every lane of one warp.
//
// Why not the loop of schedule.h as written: one GPU thread runs a dependent chain of ~50 instructions per part, and at
// b = 1 the 132 parts cost ~30 us (mla4j_step under ncu on the H200; docs/PERF.md, issue 26). Every part but the last
// that starts inside a sequence it cannot finish takes exactly per_part - F tiles of it, so a run of m such parts is one
// division, and their metadata are independent: lane j of nlanes writes every nlanes-th of them. Every lane runs the
// same walk on the same values (SIMT: no slower than one), and only lane 0 stores the rest.
#pragma once
#include <stdint.h>

#include "params.h"

#ifdef __CUDACC__
#define MLA4J_HD __host__ __device__ __forceinline__
#else
#define MLA4J_HD inline
#endif

// tiles(s): sequence s's tile count; meta: [parts][MLA4J_SCHED_INTS]; counts: [b], each sequence's split count (written
// once the walk finishes the sequence; every sequence is finished, the last part having no budget limit).
template <class Tiles>
MLA4J_HD void mla4j_walk(int lane, int nlanes, int b, int parts, int F, long long per_part, Tiles tiles, int* meta,
                         int* counts) {
    int s = 0, blk = 0, cnt = 0;  // the walk's position: sequence s, tile blk of it, its splits so far
    for (int part = 0; part < parts;) {
        const bool last = part == parts - 1;
        if (!last && s < b) {
            const long long rest = tiles(s) - blk, step = per_part - F;  // per_part >= 2F: step >= F >= 1
            if (rest + F > per_part) {  // this part cannot finish s: nor can the m - 1 after it
                long long m = (rest + step - 1) / step - 1;
                if (m > parts - 1 - part) m = parts - 1 - part;
                for (long long j = lane; j < m; j += nlanes) {
                    int* o = meta + (part + j) * MLA4J_SCHED_INTS;
                    o[0] = s; o[1] = blk + static_cast<int>(j * step); o[2] = s; o[3] = blk + static_cast<int>((j + 1) * step);
                    o[4] = cnt + static_cast<int>(j); o[5] = 0; o[6] = 0; o[7] = 0;
                }
                blk += static_cast<int>(m * step);
                cnt += static_cast<int>(m);
                part += static_cast<int>(m);
                continue;
            }
        }
        const int begin_idx = s, begin_blk = blk, begin_split = s < b ? cnt : 0;
        int end_idx = s - 1, end_blk = 0;
        long long remain = last ? (1LL << 62) : per_part;
        while (s < b) {
            const int nb = tiles(s);
            const long long rest = nb - blk;
            if (remain >= rest + F) {
                remain -= rest + F;
                end_idx = s;
                end_blk = nb;
                if (lane == 0) counts[s] = cnt + 1;
                ++s;
                blk = 0;
                cnt = 0;
            } else {
                const long long take = remain - F;
                if (take > 0) {
                    blk += static_cast<int>(take);
                    ++cnt;
                    end_idx = s;
                    end_blk = blk;
                }
                break;
            }
        }
        if (lane == 0) {
            int* o = meta + part * MLA4J_SCHED_INTS;
            o[0] = begin_idx; o[1] = begin_blk; o[2] = end_idx; o[3] = end_blk; o[4] = begin_split;
            o[5] = 0; o[6] = 0; o[7] = 0;
        }
        ++part;
    }
}
