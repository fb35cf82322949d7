package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.mla4j_acl_emu_h;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;

/**
 * One decode on a backend against the fp64 oracle: fresh random inputs (N(0,1), never zeros), a
 * shuffled block table, outputs poisoned with NaN before the run, two layers through one plan; checks
 * every output written, relative L2 / max error of o, lse (+inf where no key), and emulated device
 * memory back to where it was once the step's tensors and plan are closed.
 */
final class OracleCheck {
    private OracleCheck() {}

    static void run(MlaBackend be, String label, DType dtype, String lens, int hq, int sq, boolean causal) {
        run(be, label, dtype, lens, hq, sq, causal, io.mla4j.Geometry.DEEPSEEK);
    }

    /** As above on a cache of geometry {@code g} (pages of g.pageSize() tokens, d_c + d_r wide). */
    static void run(MlaBackend be, String label, DType dtype, String lens, int hq, int sq, boolean causal, io.mla4j.Geometry g) {
        int[] seqlens = java.util.Arrays.stream(lens.split(";")).mapToInt(Integer::parseInt).toArray();
        long baseline = mla4j_acl_emu_h.mla4j_acl_emu_live_allocations();
        try (Arena arena = Arena.ofConfined()) {
            Random r = new Random();
            int b = seqlens.length, maxBlocks = 1;
            for (int s : seqlens) maxBlocks = Math.max(maxBlocks, g.blocksFor(s));
            int numBlocks = b * maxBlocks + 3;
            int[] perm = new Random(r.nextLong()).ints(0, numBlocks).distinct().limit(numBlocks).toArray();
            int[] table = new int[b * maxBlocks];
            for (int i = 0; i < table.length; i++) table[i] = perm[i];
            Tensor q = Tensor.allocate(arena, dtype, g.queryShape(b, sq, hq));
            Tensor cache = Tensor.allocate(arena, dtype, g.cacheShape(numBlocks));
            fillRandom(q, r);
            fillRandom(cache, r);
            PlanSpec spec = new PlanSpec(Tensor.ofInts(arena, seqlens, b), Tensor.ofInts(arena, table, b, maxBlocks), numBlocks, hq, sq,
                    dtype, causal, g.defaultScale(), g);
            Tensor hostO = Tensor.allocate(arena, dtype, g.outShape(b, sq, hq));
            Tensor hostLse = Tensor.allocate(arena, DType.FP32, b, hq, sq);
            hostO.fill(Float.NaN);
            hostLse.fill(Float.NaN);
            ReferenceBackend.Result want;
            try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan refPlan = ref.plan(spec)) {
                want = ReferenceBackend.compute(refPlan, q, cache);
            }
            try (Tensor dq = be.allocate(dtype, q.shape()); Tensor dc = be.allocate(dtype, cache.shape());
                 Tensor dO = be.allocate(dtype, hostO.shape()); Tensor dl = be.allocate(DType.FP32, hostLse.shape());
                 MlaPlan plan = be.plan(spec)) {
                be.copy(q, dq);
                be.copy(cache, dc);
                be.copy(hostO, dO);
                be.copy(hostLse, dl);
                be.decode(plan, dq, dc, dO, dl);
                be.decode(plan, dq, dc, dO, dl);  // a second layer reusing the plan
                be.synchronize();
                be.copy(dO, hostO);
                be.copy(dl, hostLse);
            }
            float[] o = hostO.toFloatArray(), lse = hostLse.toFloatArray();
            double num = 0, den = 0, maxErr = 0, lseErr = 0;
            for (int i = 0; i < o.length; i++) {
                assertTrue(!Float.isNaN(o[i]), "o[" + i + "] was not written");
                double d = o[i] - want.o()[i];
                num += d * d;
                den += want.o()[i] * want.o()[i];
                maxErr = Math.max(maxErr, Math.abs(d));
            }
            for (int i = 0; i < lse.length; i++) {
                double w = want.lse()[i];
                if (Double.isInfinite(w)) {
                    assertEquals(Float.POSITIVE_INFINITY, lse[i], "lse[" + i + "] of a row that sees no key");
                } else {
                    assertTrue(Float.isFinite(lse[i]), "lse[" + i + "] = " + lse[i]);
                    lseErr = Math.max(lseErr, Math.abs(lse[i] - w));
                }
            }
            double rel = den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
            System.out.printf("%s %s %s seqlens=%s h_q=%d s_q=%d causal=%b: o rel L2 %.3e, max abs %.3e; lse max abs %.3e%n", label, g, dtype, lens,
                    hq, sq, causal, rel, maxErr, lseErr);
            double tol = dtype == DType.BF16 ? 8e-3 : 1e-3;  // a few times the dtype's rounding of o
            assertTrue(rel < tol, "relative L2 " + rel + " (max abs " + maxErr + ")");
            assertTrue(lseErr < 2e-3, "lse max abs " + lseErr);
        }
        assertEquals(baseline, mla4j_acl_emu_h.mla4j_acl_emu_live_allocations(), "device memory back to baseline");
    }

    static void fillRandom(Tensor t, Random r) {
        float[] v = new float[Math.toIntExact(t.numel())];
        for (int i = 0; i < v.length; i++) {
            float x = (float) r.nextGaussian();
            v[i] = x == 0f ? 0.5f : x;
        }
        t.copyFrom(v);
    }
}
