package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mla4j.DType;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import io.mla4j.ascend.tiling.MlaTiling;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The host tiling function of kernels-ascend (C, as a CANN operator's tiling is) ports the split-KV
 * schedule; the one definition is io.mla4j.SplitSchedule. Like the GPU scheduler on the CUDA side, the
 * port must give exactly the same numbers, at every page size (the schedule counts 64-token tiles whatever the
 * page). The blob's geometry fields read back through the generated layout, whose size is the C struct's.
 */
class TilingScheduleParityTest {
    @Test
    void tilingScheduleEqualsSplitSchedule() {
        MlaKernel kernel = new MlaKernel(TestLibs.tiling());
        SplittableRandom r = new SplittableRandom(17);
        try (Arena arena = Arena.ofConfined()) {
            for (int iter = 0; iter < 200; iter++) {
                int b = 1 + r.nextInt(20), cores = 1 + r.nextInt(24);
                int[][] widths = {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}, {80, 16}};
                int[] w = widths[r.nextInt(widths.length)];
                io.mla4j.Geometry g = io.mla4j.Geometry.of(1 << r.nextInt(9), w[0], w[1]);
                int[] lens = new int[b];
                int maxBlocks = 1;
                for (int i = 0; i < b; i++) {
                    lens[i] = r.nextInt(8) == 0 ? 0 : r.nextInt(r.nextBoolean() ? 200 : 9000);
                    maxBlocks = Math.max(maxBlocks, g.blocksFor(lens[i]));
                }
                int[] table = new int[b * maxBlocks];
                Arrays.fill(table, 0);
                PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, lens, b), Tensor.ofInts(arena, table, b, maxBlocks), 1, 16, 1,
                        DType.BF16, g);
                byte[] bytes = kernel.tiling(spec, lens, cores).blob();
                MemorySegment blob = arena.allocate(bytes.length, 8).copyFrom(MemorySegment.ofArray(bytes)); // aligned, as the generated accessors need
                SplitSchedule expect = SplitSchedule.compute(lens, cores);
                int schedAt = MlaTiling.sched_off(blob), splitAt = MlaTiling.split_off(blob);
                int[] meta = new int[cores * SplitSchedule.META_INTS], offs = new int[b + 1];
                for (int i = 0; i < meta.length; i++) meta[i] = blob.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, schedAt + i);
                for (int i = 0; i < offs.length; i++) offs[i] = blob.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, splitAt + i);
                String where = "seqlens " + Arrays.toString(lens) + ", " + cores + " cores, " + g;
                // C's sched_off is sizeof(MlaTiling) / 4: the generated layout has the C struct's size
                assertEquals(MlaTiling.sizeof(), 4L * schedAt, where);
                assertEquals(g.pageSize(), MlaTiling.page_size(blob), where);
                assertEquals(g.dC(), MlaTiling.d_c(blob), where);
                assertEquals(g.dR(), MlaTiling.d_r(blob), where);
                assertEquals(g.dQk(), MlaTiling.d_qk(blob), where);
                assertArrayEquals(expect.metadata(), meta, where);
                assertArrayEquals(expect.splitOffsets(), offs, where);
                assertEquals(expect.totalSplits(), MlaTiling.total_splits(blob), where);
            }
        }
    }
}
