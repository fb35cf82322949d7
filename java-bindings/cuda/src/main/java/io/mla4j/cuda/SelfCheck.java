package io.mla4j.cuda;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;

/**
 * A quick sanity decode run when a backend opens with the Hopper kernel chosen automatically: one small
 * ragged, causal, multi-split case against the fp64 oracle. It only asks "is this kernel broken on this
 * machine?" (rel-L2 under 1e-2, lse within 1e-2, every element written); the conformance suite is the
 * real judge. A failure makes the backend fall back to the portable kernel, with the reason logged.
 */
final class SelfCheck {
    private SelfCheck() {}

    /**
     * Null when the decode looks right, else what is wrong. {@code sq} 2 (32 query rows) reaches the relay kernel,
     * 1 (16 rows) the transposed one where it is in use.
     */
    static String run(CudaBackend be, int sq) {
        int[] lens = {300, 70, 0, 1};
        int hq = 16, b = lens.length, maxBlocks = 6, numBlocks = 12;
        DType dt = DType.BF16;
        Random rnd = new Random(7);
        int[] table = new int[b * maxBlocks];
        java.util.Arrays.fill(table, -1);
        int next = 11;
        for (int s = 0; s < b; s++)
            for (int j = 0; j < Mla.blocksFor(lens[s]); j++) table[s * maxBlocks + j] = next--; // reversed: not contiguous
        try (Arena a = Arena.ofConfined()) {
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(a, lens, b), Tensor.ofInts(a, table, b, maxBlocks), numBlocks, hq, sq, dt);
            Tensor qh = Tensor.allocate(a, dt, b, sq, hq, Mla.D_QK), kh = Tensor.allocate(a, dt, numBlocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
            for (long i = 0; i < qh.numel(); i++) qh.setFloat(i, (float) rnd.nextGaussian());
            for (long i = 0; i < kh.numel(); i++) kh.setFloat(i, (float) rnd.nextGaussian());
            Tensor oh = Tensor.allocate(a, dt, b, sq, hq, Mla.D_V), lh = Tensor.allocate(a, DType.FP32, b, hq, sq);
            oh.fill(Float.NaN);
            lh.fill(Float.NaN);
            try (MlaPlan plan = be.plan(spec); Tensor q = be.allocate(dt, qh.shape()); Tensor k = be.allocate(dt, kh.shape());
                 Tensor o = be.allocate(dt, oh.shape()); Tensor l = be.allocate(DType.FP32, lh.shape())) {
                be.copy(qh, q);
                be.copy(kh, k);
                be.copy(oh, o);
                be.copy(lh, l);
                be.decode(plan, q, k, o, l);
                be.synchronize();
                be.copy(o, oh);
                be.copy(l, lh);
            }
            ReferenceBackend.Result ref;
            try (ReferenceBackend rb = new ReferenceBackend(); MlaPlan rp = rb.plan(spec)) {
                ref = ReferenceBackend.compute(rp, qh, kh);
            }
            double num = 0, den = 0, lseErr = 0;
            for (int i = 0; i < ref.o().length; i++) {
                float g = oh.getFloat(i);
                if (Float.isNaN(g)) return "o[" + i + "] not written";
                num += (g - ref.o()[i]) * (g - ref.o()[i]);
                den += ref.o()[i] * ref.o()[i];
            }
            for (int i = 0; i < ref.lse().length; i++) {
                float g = lh.getFloat(i);
                double r = ref.lse()[i];
                if (Double.isInfinite(r) || Float.isInfinite(g) || Float.isNaN(g)) {
                    if (g != r) return "lse[" + i + "] = " + g + ", expected " + r;
                } else {
                    lseErr = Math.max(lseErr, Math.abs(g - r));
                }
            }
            double rel = Math.sqrt(num / den);
            if (rel > 1e-2 || lseErr > 1e-2) return String.format("rel-L2 %.3g, lse error %.3g vs the fp64 oracle", rel, lseErr);
            return null;
        } catch (RuntimeException e) {
            return "self-check decode threw " + e;
        }
    }
}
