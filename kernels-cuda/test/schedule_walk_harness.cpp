// Host harness of mla4j/schedule_walk.h for ScheduleWalkTest (java-bindings/cuda): reads cases from stdin, each
// "b parts F" then b tile counts, and prints per case the parts' metadata then the split offsets, one line each.
// The walk runs as lane 0 of 1 (all of it) and, a second time, as lanes 0..31 of 32 into one buffer (the GPU's way),
// which must agree.
#include <cstdio>
#include <vector>

#include "mla4j/schedule_walk.h"

int main() {
    int b, parts, F;
    while (std::scanf("%d %d %d", &b, &parts, &F) == 3) {
        std::vector<int> tiles(b);
        long long total = 0;
        for (int& t : tiles) {
            if (std::scanf("%d", &t) != 1) return 2;
            total += t + F;
        }
        long long per_part = (total + parts - 1) / parts + F;
        if (per_part < 2LL * F) per_part = 2LL * F;
        auto tile = [&](int i) { return tiles[i]; };
        std::vector<int> meta(parts * MLA4J_SCHED_INTS, -7), counts(b, -7), meta32(meta), counts32(counts);
        mla4j_walk(0, 1, b, parts, F, per_part, tile, meta.data(), counts.data());
        for (int lane = 0; lane < 32; ++lane) mla4j_walk(lane, 32, b, parts, F, per_part, tile, meta32.data(), counts32.data());
        if (meta != meta32 || counts != counts32) {
            std::printf("LANES DISAGREE\n");
            return 3;
        }
        for (int v : meta) std::printf("%d ", v);
        std::printf("\n0");
        long long off = 0;
        for (int c : counts) std::printf(" %lld", off += c);
        std::printf("\n");
    }
    return 0;
}
