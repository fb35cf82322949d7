package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Updatable plans (issue 26) on the host backends: one plan updated step after step (sequences growing over page
 * boundaries, new pages, a sequence emptied and restarted) decodes exactly what a fresh plan of each step decodes; a
 * bad step is refused by name and leaves the plan as it was; plain plans and closed plans refuse updates. The CUDA
 * half (one graph replayed over 1,000 steps, the device-side check) is GpuChecks.graphSteps, on the GPU.
 */
class UpdatablePlanTest {
    private static final int B = 3, HQ = 4, SQ = 2, MAX_BLOCKS = 5, BLOCKS = 16;

    private static Tensor filled(Arena arena, DType dt, long seed, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        Random r = new Random(seed);
        for (long i = 0; i < t.numel(); i++) t.setFloat(i, (float) r.nextGaussian());
        return t;
    }

    private static PlanSpec spec(Arena a, int[] lens, int[] table) {
        return PlanSpec.of(Tensor.ofInts(a, lens, B), Tensor.ofInts(a, table, B, MAX_BLOCKS), BLOCKS, HQ, SQ, DType.BF16);
    }

    @Test
    void updatedPlanDecodesAsAFreshPlanEveryStep() {
        for (MlaBackend be : new MlaBackend[] {new ReferenceBackend(), new CpuBackend(CpuBackend.Rescale.PLAIN, 2)}) {
            try (be; Arena a = Arena.ofShared()) {
                Tensor q = filled(a, DType.BF16, 1, B, SQ, HQ, Mla.D_QK);
                Tensor cache = filled(a, DType.BF16, 2, BLOCKS, Mla.BLOCK_SIZE, 1, Mla.D_QK);
                Tensor o1 = Tensor.allocate(a, DType.BF16, B, SQ, HQ, Mla.D_V);
                Tensor o2 = Tensor.allocate(a, DType.BF16, B, SQ, HQ, Mla.D_V);
                Tensor l1 = Tensor.allocate(a, DType.FP32, B, HQ, SQ), l2 = Tensor.allocate(a, DType.FP32, B, HQ, SQ);
                int[] lens = {60, 0, 130};
                int[] table = {3, -1, -1, -1, -1, -1, -1, -1, -1, -1, 7, 1, 9, -1, -1};
                int[] free = {0, 2, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15};
                int nextFree = 0;
                try (MlaPlan plan = be.updatablePlan(spec(a, lens, table))) {
                    assertTrue(plan.isUpdatable());
                    for (int step = 0; step < 12; step++) {
                        for (int s = 0; s < B; s++) {
                            int grow = 1 + 13 * s, have = Mla.blocksFor(lens[s]);
                            if (lens[s] + grow > MAX_BLOCKS * Mla.BLOCK_SIZE) { // restart: pages stay allocated here
                                lens[s] = 0;
                                continue;
                            }
                            lens[s] += grow;
                            for (int j = have; j < Mla.blocksFor(lens[s]); j++) {
                                if (table[s * MAX_BLOCKS + j] < 0) table[s * MAX_BLOCKS + j] = free[nextFree++ % free.length];
                            }
                        }
                        plan.update(lens, table);
                        assertArrayEquals(lens, plan.seqlens());
                        o1.fill(Float.NaN);
                        be.decode(plan, q, cache, o1, l1);
                        try (MlaPlan fresh = be.plan(spec(a, lens, table))) {
                            assertEquals(fresh.schedule().toString(), plan.schedule().toString(), "schedule of step " + step);
                            be.decode(fresh, q, cache, o2, l2);
                        }
                        assertEquals(-1, o1.segment().mismatch(o2.segment()), be.name() + ": o of step " + step);
                        assertEquals(-1, l1.segment().mismatch(l2.segment()), be.name() + ": lse of step " + step);
                    }
                }
            }
        }
    }

    @Test
    void badStepsAreRefusedByNameAndChangeNothing() {
        try (MlaBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 2); Arena a = Arena.ofShared()) {
            int[] lens = {60, 0, 130}, table = {3, -1, -1, -1, -1, -1, -1, -1, -1, -1, 7, 1, 9, -1, -1};
            try (MlaPlan plan = be.updatablePlan(spec(a, lens, table)); MlaPlan plain = be.plan(spec(a, lens, table))) {
                String before = plan.schedule().toString();
                IllegalArgumentException e =
                        assertThrows(IllegalArgumentException.class, () -> plan.update(new int[] {1, 2}, table));
                assertTrue(e.getMessage().startsWith("seqlens:"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> plan.update(lens, Arrays.copyOf(table, 14)));
                assertTrue(e.getMessage().startsWith("blockTable:"), e.getMessage());
                int[] badId = table.clone();
                badId[11] = BLOCKS; // sequence 2's second page
                e = assertThrows(IllegalArgumentException.class, () -> plan.update(lens, badId));
                assertTrue(e.getMessage().startsWith("blockTable:") && e.getMessage().contains("blockTable[2][1]"),
                        e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> plan.stage(new int[] {60, 0, MAX_BLOCKS * 64 + 1}, table));
                assertTrue(e.getMessage().startsWith("seqlens:") && e.getMessage().contains("seqlens[2]"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> plan.update(null, table));
                assertTrue(e.getMessage().startsWith("seqlens:"), e.getMessage());
                assertArrayEquals(lens, plan.seqlens());
                assertArrayEquals(table, plan.blockTable());
                assertEquals(before, plan.schedule().toString());
                assertEquals(0, plan.status());

                assertFalse(plain.isUpdatable());
                IllegalStateException s = assertThrows(IllegalStateException.class, () -> plain.update(lens, table));
                assertTrue(s.getMessage().contains("updatablePlan"), s.getMessage());
                plan.close();
                assertThrows(IllegalStateException.class, () -> plan.update(lens, table));
            }
        }
    }

    /**
     * Threads (README, "Thread-safety"): two threads decoding one updatable plan while a third updates it between two
     * steps: every decode sees one step whole, its o bitwise one of the two steps' results, never a mix.
     */
    @Test
    void concurrentDecodesSeeOneStepWhole() throws Exception {
        try (MlaBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 2); Arena a = Arena.ofShared()) {
            int[] lensA = {60, 0, 130}, lensB = {64, 200, 7};
            int[] table = {3, 4, 5, -1, -1, 6, 8, 10, 11, -1, 7, 1, 9, -1, -1};
            Tensor q = filled(a, DType.BF16, 3, B, SQ, HQ, Mla.D_QK);
            Tensor cache = filled(a, DType.BF16, 4, BLOCKS, Mla.BLOCK_SIZE, 1, Mla.D_QK);
            float[][] want = new float[2][];
            int[][] steps = {lensA, lensB};
            for (int i = 0; i < 2; i++) {
                try (MlaPlan p = be.plan(spec(a, steps[i], table))) {
                    Tensor o = Tensor.allocate(a, DType.BF16, B, SQ, HQ, Mla.D_V), l = Tensor.allocate(a, DType.FP32, B, HQ, SQ);
                    be.decode(p, q, cache, o, l);
                    want[i] = o.toFloatArray();
                }
            }
            try (MlaPlan plan = be.updatablePlan(spec(a, lensA, table))) {
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                java.util.concurrent.atomic.AtomicInteger mixed = new java.util.concurrent.atomic.AtomicInteger();
                java.util.concurrent.atomic.AtomicInteger decodes = new java.util.concurrent.atomic.AtomicInteger();
                Thread updater = new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) plan.update(steps[i & 1], table);
                });
                Runnable decoder = () -> {
                    Tensor o = Tensor.allocate(a, DType.BF16, B, SQ, HQ, Mla.D_V), l = Tensor.allocate(a, DType.FP32, B, HQ, SQ);
                    for (int i = 0; i < 60; i++) {
                        be.decode(plan, q, cache, o, l);
                        float[] got = o.toFloatArray();
                        if (!Arrays.equals(got, want[0]) && !Arrays.equals(got, want[1])) mixed.incrementAndGet();
                        decodes.incrementAndGet();
                    }
                };
                Thread d1 = new Thread(decoder), d2 = new Thread(decoder);
                updater.start();
                d1.start();
                d2.start();
                d1.join();
                d2.join();
                stop.set(true);
                updater.join();
                assertEquals(120, decodes.get());
                assertEquals(0, mixed.get(), "decodes that saw a mix of two steps");
            }
        }
    }
}
