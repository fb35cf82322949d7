package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Why ascend's o error is larger than cpu's (issue 17: bf16 rel-L2 2.8e-3 vs 1.83e-3; fp16 3.2e-4 vs
 * 2.2e-4), measured rather than argued. On the same inputs it compares, against the fp64 oracle:
 * the two backends, and four models of the softmax-weighted sum computed in fp64 except for one step each:
 * <ul>
 *   <li>A, P exact (fp32/fp64): only o's final rounding to the dtype; what cpu does (P stays fp32);</li>
 *   <li>B, P rounded to the dtype, o normalised by the sum of the rounded P: ascend's method (the Cube
 *       multiplies P in bf16/fp16; the AMLA "compensation" normalises by exactly what it multiplied);</li>
 *   <li>C, as B but normalised by the fp32 sum of the unrounded P (no compensation);</li>
 *   <li>D, as B but P = 2^(t - M) without AMLA's factor c = 2^(M - N) (a plain online softmax with P in
 *       the dtype, as FlashMLA's P V on tensor cores).</li>
 * </ul>
 * Result (2026-12-03, docs/RELIABILITY.md): ascend equals B to three digits (so the tiling and the fp32
 * split combine add nothing measurable), cpu equals A, C is 4% worse than B (the compensation helps) and
 * D is 5-8% better than B (AMLA's c puts the largest weights near 1.0 from above, where a bf16/fp16 ulp is
 * relatively largest; without c the largest weight is exactly 1). The gap to cpu is P's rounding to the
 * input dtype, which a matrix unit taking bf16/fp16 operands cannot avoid: the method's bound, not a defect.
 */
class Bf16ErrorBudgetTest {

    @Test
    void ascendErrorIsTheRoundingOfP() {
        AclLibrary.load(TestLibs.emulator());
        AscendBackendProvider provider = new AscendBackendProvider();
        assumeTrue(provider.unavailableReason().isEmpty(), () -> "ascend unavailable: " + provider.unavailableReason().orElse(""));
        for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
            double[][] acc = new double[6][2]; // ascend, cpu, A, B, C, D: sum of squared error, sum of squared truth
            try (MlaBackend ascend = provider.create(); MlaBackend cpu = new CpuBackend(CpuBackend.Rescale.PLAIN, 2)) {
                for (int seed = 0; seed < 3; seed++) accumulate(dt, seed, ascend, cpu, acc);
            }
            double[] rel = new double[6];
            for (int i = 0; i < 6; i++) rel[i] = Math.sqrt(acc[i][0] / acc[i][1]);
            System.out.printf("bf16/fp16 error budget %s: ascend %.3e  cpu %.3e | A (P exact) %.3e  B (P rounded, compensated) %.3e"
                    + "  C (P rounded, fp32 sum) %.3e  D (P rounded, no c) %.3e%n", dt, rel[0], rel[1], rel[2], rel[3], rel[4], rel[5]);
            assertTrue(Math.abs(rel[0] - rel[3]) < 0.15 * rel[3], "ascend follows model B (P rounded to " + dt + ")");
            assertTrue(Math.abs(rel[1] - rel[2]) < 0.15 * rel[2], "cpu follows model A (P exact)");
            assertTrue(rel[3] > 1.2 * rel[2], "rounding P is what separates them");
            assertTrue(rel[5] <= rel[3] && rel[5] > 0.85 * rel[3], "AMLA's factor c costs a little (under 15%), no more");
            assertTrue(rel[4] >= rel[3] * 0.98, "the compensation does not make it worse");
        }
    }

    private static void accumulate(DType dt, int seed, MlaBackend ascend, MlaBackend cpu, double[][] acc) {
        int[] lens = {700, 65, 300};
        int b = lens.length, hq = 16, sq = 1, maxBlocks = Mla.blocksFor(700), numBlocks = b * maxBlocks;
        try (Arena arena = Arena.ofConfined()) {
            Random r = new Random(1234 + seed);
            int[] table = new int[b * maxBlocks];
            for (int i = 0; i < table.length; i++) table[i] = i;
            Tensor q = Tensor.allocate(arena, dt, b, sq, hq, Mla.D_QK), cache = Tensor.allocate(arena, dt, numBlocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
            for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) r.nextGaussian());
            for (long i = 0; i < cache.numel(); i++) cache.setFloat(i, (float) r.nextGaussian());
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, lens, b), Tensor.ofInts(arena, table, b, maxBlocks), numBlocks, hq, sq, dt);
            ReferenceBackend.Result want;
            try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan p = ref.plan(spec)) {
                want = ReferenceBackend.compute(p, q, cache);
            }
            add(acc[0], run(ascend, spec, q, cache, dt), want.o());
            add(acc[1], run(cpu, spec, q, cache, dt), want.o());
            float[] qf = q.toFloatArray(), cf = cache.toFloatArray();
            for (int model = 0; model < 4; model++) {
                double[] o = new double[want.o().length];
                for (int s = 0; s < b; s++)
                    for (int h = 0; h < hq; h++)
                        row(model, dt, qf, cf, table, s * maxBlocks, lens[s], (s * hq + h) * Mla.D_QK, o, (s * hq + h) * Mla.D_V);
                float[] rounded = new float[o.length];
                for (int i = 0; i < o.length; i++) rounded[i] = dt.round((float) o[i]);
                add(acc[2 + model], rounded, want.o());
            }
        }
    }

    /** One query row of one model (see the class comment), fp64 except for the step the model is about. */
    private static void row(int model, DType dt, float[] q, float[] cache, int[] table, int tableBase, int sk, int qBase,
                            double[] o, int oBase) {
        double scaleLog2 = Mla.defaultScale() / Math.log(2);
        double[] t = new double[sk];
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < sk; j++) {
            int base = (table[tableBase + j / Mla.BLOCK_SIZE] * Mla.BLOCK_SIZE + j % Mla.BLOCK_SIZE) * Mla.D_QK;
            double dot = 0;
            for (int d = 0; d < Mla.D_QK; d++) dot += (double) q[qBase + d] * cache[base + d];
            t[j] = dot * scaleLog2; // base-2 units, as the kernel
            m = Math.max(m, t[j]);
        }
        double n = Math.rint(m); // AMLA: the max rounded to an integer; P = 2^(t - M) * 2^(M - N) = 2^(t - N)
        double sumRounded = 0, sumExact = 0;
        double[] acc = new double[Mla.D_V];
        for (int j = 0; j < sk; j++) {
            double exact = Math.pow(2, t[j] - (model == 3 ? m : n));
            double p = model == 0 ? exact : dt.round((float) exact);
            sumRounded += p;
            sumExact += exact;
            int base = (table[tableBase + j / Mla.BLOCK_SIZE] * Mla.BLOCK_SIZE + j % Mla.BLOCK_SIZE) * Mla.D_QK;
            for (int d = 0; d < Mla.D_V; d++) acc[d] += p * cache[base + d];
        }
        double norm = model == 2 ? sumExact : sumRounded;
        for (int d = 0; d < Mla.D_V; d++) o[oBase + d] = acc[d] / norm;
    }

    private static float[] run(MlaBackend be, PlanSpec spec, Tensor q, Tensor cache, DType dt) {
        try (Arena arena = Arena.ofConfined();
             Tensor dq = be.allocate(dt, q.shape()); Tensor dc = be.allocate(dt, cache.shape());
             Tensor dO = be.allocate(dt, spec.batch(), 1, spec.numHeads(), Mla.D_V);
             Tensor dl = be.allocate(DType.FP32, spec.batch(), spec.numHeads(), 1);
             MlaPlan plan = be.plan(spec)) {
            be.copy(q, dq);
            be.copy(cache, dc);
            be.decode(plan, dq, dc, dO, dl);
            be.synchronize();
            Tensor ho = Tensor.allocate(arena, dt, dO.shape());
            be.copy(dO, ho);
            return ho.toFloatArray();
        }
    }

    private static void add(double[] acc, float[] got, double[] want) {
        for (int i = 0; i < got.length; i++) {
            double d = got[i] - want[i];
            acc[0] += d * d;
            acc[1] += want[i] * want[i];
        }
    }
}
