package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackends;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Backend-level checks the conformance matrix does not make: any worker count gives the oracle's answer,
 * AMLA rescaling agrees with plain rescaling, a plan is reusable, discovery and shutdown.
 */
class CpuBackendTest {

    /** A ragged causal MTP case with long sequences (so every worker count splits them differently). */
    private record Run(float[] o, float[] lse) {}

    private static Run run(CpuBackend be, DType dt, long seed, ReferenceBackend.Result[] refOut) {
        int[] lens = {1500, 0, 3, 700, 64};
        int hq = 5, sq = 3, b = lens.length;
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            int maxBlocks = 0, total = 0;
            for (int l : lens) {
                maxBlocks = Math.max(maxBlocks, Mla.blocksFor(l));
                total += Mla.blocksFor(l);
            }
            int[] table = new int[b * maxBlocks];
            java.util.Arrays.fill(table, -1);
            int next = total - 1;
            for (int s = 0; s < b; s++) for (int j = 0; j < Mla.blocksFor(lens[s]); j++) table[s * maxBlocks + j] = next--; // reversed order
            Tensor seqlens = Tensor.ofInts(arena, lens, b), bt = Tensor.ofInts(arena, table, b, maxBlocks);
            Tensor q = be.allocate(dt, b, sq, hq, Mla.D_QK), cache = be.allocate(dt, total, Mla.BLOCK_SIZE, 1, Mla.D_QK);
            for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) rnd.nextGaussian() * 2);
            for (long i = 0; i < cache.numel(); i++) cache.setFloat(i, (float) rnd.nextGaussian());
            Tensor o = be.allocate(dt, b, sq, hq, Mla.D_V), lse = be.allocate(DType.FP32, b, hq, sq);
            try (MlaPlan plan = be.plan(PlanSpec.of(seqlens, bt, total, hq, sq, dt))) {
                for (int rep = 0; rep < 2; rep++) { // the plan and its workspace are reused
                    o.fill(Float.NaN);
                    lse.fill(Float.NaN);
                    be.decode(plan, q, cache, o, lse);
                }
                if (refOut != null) refOut[0] = ReferenceBackend.compute(plan, q, cache);
            }
            return new Run(o.toFloatArray(), lse.toFloatArray());
        }
    }

    private static double relL2(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void anyWorkerCountMatchesTheOracle() {
        for (int threads : new int[] {1, 2, 7}) {
            for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
                try (CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, threads)) {
                    ReferenceBackend.Result[] ref = new ReferenceBackend.Result[1];
                    Run r = run(be, dt, 11, ref);
                    double rel = relL2(r.o, ref[0].o());
                    assertTrue(rel < (dt == DType.BF16 ? 6e-3 : 8e-4), threads + " threads " + dt + ": o rel L2 " + rel);
                    for (int i = 0; i < r.lse.length; i++) {
                        double want = ref[0].lse()[i];
                        if (Double.isInfinite(want)) assertEquals(Float.POSITIVE_INFINITY, r.lse[i], "lse " + i);
                        else assertEquals(want, r.lse[i], 1e-4, "lse " + i);
                    }
                }
            }
        }
    }

    @Test
    void amlaRescalingAgreesWithPlainRescaling() {
        try (CpuBackend plain = new CpuBackend(CpuBackend.Rescale.PLAIN, 2);
             CpuBackend amla = new CpuBackend(CpuBackend.Rescale.AMLA, 2)) {
            Run a = run(plain, DType.FP16, 5, null), b = run(amla, DType.FP16, 5, null);
            double num = 0, den = 0;
            for (int i = 0; i < a.o.length; i++) {
                num += (a.o[i] - b.o[i]) * (a.o[i] - b.o[i]);
                den += a.o[i] * a.o[i];
            }
            // both are fp32 computations of the same softmax; they differ by little more than fp16 output rounding
            assertTrue(Math.sqrt(num / den) < 1e-3, "plain vs amla rel L2 " + Math.sqrt(num / den));
            for (int i = 0; i < a.lse.length; i++) assertEquals(a.lse[i], b.lse[i], 1e-5, "lse " + i);
        }
    }

    @Test
    void providerIsAvailableWithPriority50() {
        var status = MlaBackends.list().stream().filter(s -> s.name().equals("cpu")).findFirst().orElseThrow();
        assertTrue(status.available(), status.unavailableReason().toString());
        assertEquals(50, status.priority());
        try (var be = MlaBackends.open("cpu")) {
            assertTrue(be.description().contains("threads"), be.description());
        }
    }

    @Test
    void closeStopsTheWorkerThreads() throws InterruptedException {
        CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 3);
        WorkerPool pool = be.pool();
        be.close();
        assertTrue(pool.awaitStopped(5_000), "worker threads still running after close()");
        assertThrows(IllegalStateException.class, () -> be.allocate(DType.BF16, 1));
    }

    @Test
    void rescalePropertyIsParsed() {
        String old = System.getProperty(CpuBackend.RESCALE_PROPERTY);
        try {
            System.setProperty(CpuBackend.RESCALE_PROPERTY, "amla");
            assertEquals(CpuBackend.Rescale.AMLA, CpuBackend.defaultRescale());
            System.setProperty(CpuBackend.RESCALE_PROPERTY, "fast");
            assertThrows(IllegalArgumentException.class, CpuBackend::defaultRescale);
        } finally {
            if (old == null) System.clearProperty(CpuBackend.RESCALE_PROPERTY); else System.setProperty(CpuBackend.RESCALE_PROPERTY, old);
        }
    }
}
