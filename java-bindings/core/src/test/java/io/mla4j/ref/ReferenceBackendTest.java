package io.mla4j.ref;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.spi.LseCombine;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The oracle proven on cases whose answer is known by hand. */
class ReferenceBackendTest {
    private final Arena arena = Arena.ofConfined();
    private final ReferenceBackend ref = new ReferenceBackend();

    @AfterEach
    void close() {
        ref.close();
        arena.close();
    }

    /** A one-sequence problem: s_k tokens in consecutive blocks, FP16 (exact for the small values used). */
    private final class Problem {
        final int sk, sq, hq;
        final Tensor q, cache, out, lse;
        final PlanSpec spec;

        Problem(int sk, int sq, int hq, boolean causal, float scale) {
            this.sk = sk; this.sq = sq; this.hq = hq;
            int blocks = Math.max(1, Mla.blocksFor(sk));
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            q = Tensor.allocate(arena, DType.FP16, 1, sq, hq, Mla.D_QK);
            cache = Tensor.allocate(arena, DType.FP16, blocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
            out = Tensor.allocate(arena, DType.FP16, 1, sq, hq, Mla.D_V);
            lse = Tensor.allocate(arena, DType.FP32, 1, hq, sq);
            out.fill(Float.NaN);
            lse.fill(Float.NaN);
            spec = PlanSpec.of(Tensor.ofInts(arena, new int[] {sk}, 1), Tensor.ofInts(arena, table, 1, blocks),
                    blocks, hq, sq, DType.FP16).withCausal(causal).withScale(scale);
        }

        void key(int token, int dim, float v) { cache.setFloat((long) token * Mla.D_QK + dim, v); }
        void query(int t, int h, int dim, float v) { q.setFloat(((long) t * hq + h) * Mla.D_QK + dim, v); }
        float o(int t, int h, int dim) { return out.getFloat(((long) t * hq + h) * Mla.D_V + dim); }
        float lse(int t, int h) { return lse.getFloat((long) h * sq + t); }

        void run() {
            try (MlaPlan plan = ref.plan(spec)) {
                ref.decode(plan, q, cache, out, lse);
            }
        }
    }

    @Test
    void equalScoresGiveTheMeanOfValues() {
        // q is zero on the latent dims, so only the RoPE dims (identical for every key) score:
        // all scores are equal and o is the plain mean of the values (the latent dims, which differ).
        Problem p = new Problem(5, 1, 1, false, 0.5f);
        for (int t = 0; t < 5; t++) {
            for (int d = 0; d < Mla.D_V; d++) p.key(t, d, (t + 1) * 0.25f * ((d % 7) - 3));
            for (int d = Mla.D_V; d < Mla.D_QK; d++) p.key(t, d, 0.5f);
        }
        for (int d = Mla.D_V; d < Mla.D_QK; d++) p.query(0, 0, d, 1f);
        p.run();
        for (int d = 0; d < Mla.D_V; d++) {
            double mean = (0.25 + 0.5 + 0.75 + 1.0 + 1.25) / 5 * ((d % 7) - 3);
            assertEquals(mean, p.o(0, 0, d), 1e-3, "dim " + d);
        }
        // lse = score + ln(n): score = 0.5 * 64 * 0.5 = 16
        assertEquals(16 + Math.log(5), p.lse(0, 0), 1e-5);
    }

    @Test
    void oneDominantKeyWins() {
        Problem p = new Problem(70, 1, 2, false, 1f);
        Random r = new Random(3);
        for (int t = 0; t < 70; t++) for (int d = 0; d < Mla.D_QK; d++) p.key(t, d, (float) r.nextGaussian() * 0.01f);
        for (int d = 0; d < Mla.D_QK; d++) p.key(66, d, 0.5f); // token 66 (second block) aligns with q
        for (int h = 0; h < 2; h++) for (int d = 0; d < Mla.D_QK; d++) p.query(0, h, d, 0.25f);
        p.run();
        for (int h = 0; h < 2; h++) {
            for (int d = 0; d < Mla.D_V; d++) assertEquals(0.5f, p.o(0, h, d), 1e-3);
            assertEquals(0.25 * 0.5 * Mla.D_QK, p.lse(0, h), 1e-3); // lse ~ the dominant score
        }
    }

    @Test
    void twoKeysMatchTheSoftmaxFormulaWithScale() {
        Problem p = new Problem(2, 1, 1, false, 0.125f);
        for (int d = 0; d < Mla.D_QK; d++) {
            p.key(0, d, d % 2 == 0 ? 1f : 0f);
            p.key(1, d, d % 3 == 0 ? 1f : -0.5f);
            p.query(0, 0, d, d % 5 == 0 ? 0.5f : 0.125f);
        }
        p.run();
        double s0 = 0, s1 = 0;
        for (int d = 0; d < Mla.D_QK; d++) {
            double qd = d % 5 == 0 ? 0.5 : 0.125;
            s0 += qd * (d % 2 == 0 ? 1 : 0);
            s1 += qd * (d % 3 == 0 ? 1 : -0.5);
        }
        s0 *= 0.125; s1 *= 0.125;
        double m = Math.max(s0, s1), w0 = Math.exp(s0 - m), w1 = Math.exp(s1 - m), z = w0 + w1;
        for (int d = 0; d < Mla.D_V; d++) {
            double expect = (w0 * (d % 2 == 0 ? 1 : 0) + w1 * (d % 3 == 0 ? 1 : -0.5)) / z;
            assertEquals(DType.FP16.round((float) expect), p.o(0, 0, d), 1e-6, "dim " + d);
        }
        assertEquals(m + Math.log(z), p.lse(0, 0), 1e-5);
    }

    @Test
    void causalMaskIsBottomRightAligned() {
        // equal scores: row t of s_q = 2 over s_k = 3 sees keys 0 .. 3 - 2 + t, so its output is the
        // mean of the first 2 + t values and its lse is score + ln(2 + t).
        Problem p = new Problem(3, 2, 1, true, 1f);
        for (int t = 0; t < 3; t++) for (int d = 0; d < Mla.D_V; d++) p.key(t, d, t + 1);
        for (int t = 0; t < 2; t++) p.query(t, 0, 0, 0); // all-zero queries: every score is 0
        p.run();
        assertEquals(1.5f, p.o(0, 0, 0), 1e-3);  // mean of 1, 2
        assertEquals(2.0f, p.o(1, 0, 7), 1e-3);  // mean of 1, 2, 3
        assertEquals(Math.log(2), p.lse(0, 0), 1e-6);
        assertEquals(Math.log(3), p.lse(1, 0), 1e-6);
    }

    @Test
    void rowsThatSeeNoKeyGiveZeroAndInfinity() {
        Problem p = new Problem(2, 4, 1, true, 1f); // rows 0, 1 see 2 - 4 + t + 1 <= 0 keys
        for (int t = 0; t < 2; t++) for (int d = 0; d < Mla.D_QK; d++) p.key(t, d, 1f);
        p.run();
        for (int t = 0; t < 2; t++) {
            assertEquals(Float.POSITIVE_INFINITY, p.lse(t, 0));
            for (int d = 0; d < Mla.D_V; d++) assertEquals(0f, p.o(t, 0, d));
        }
        assertTrue(Float.isFinite(p.lse(2, 0)));
        Problem empty = new Problem(0, 1, 3, false, 1f);
        empty.run();
        for (int h = 0; h < 3; h++) {
            assertEquals(Float.POSITIVE_INFINITY, empty.lse(0, h));
            assertEquals(0f, empty.o(0, h, 100));
        }
    }

    @Test
    void invariantUnderPermutingTheBlockTable() {
        Random r = new Random(5);
        int sk = 200, blocks = Mla.blocksFor(sk), total = blocks + 2, hq = 3;
        Tensor q = Tensor.allocate(arena, DType.BF16, 1, 1, hq, Mla.D_QK);
        Tensor a = Tensor.allocate(arena, DType.BF16, total, Mla.BLOCK_SIZE, 1, Mla.D_QK);
        Tensor b = Tensor.allocate(arena, DType.BF16, total, Mla.BLOCK_SIZE, 1, Mla.D_QK);
        for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) r.nextGaussian());
        for (long i = 0; i < a.numel(); i++) a.setFloat(i, (float) r.nextGaussian());
        int[] ident = {0, 1, 2, 3};
        int[] perm = {5, 2, 0, 4};
        long blockElems = (long) Mla.BLOCK_SIZE * Mla.D_QK;
        for (int j = 0; j < blocks; j++) {
            for (long e = 0; e < blockElems; e++) b.setFloat(perm[j] * blockElems + e, a.getFloat(ident[j] * blockElems + e));
        }
        float[] oa = run(q, a, ident, sk, hq, total), ob = run(q, b, perm, sk, hq, total);
        assertArrayEquals(oa, ob);
    }

    private float[] run(Tensor q, Tensor cache, int[] table, int sk, int hq, int total) {
        Tensor out = Tensor.allocate(arena, DType.BF16, 1, 1, hq, Mla.D_V);
        Tensor lse = Tensor.allocate(arena, DType.FP32, 1, hq, 1);
        PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, new int[] {sk}, 1), Tensor.ofInts(arena, table, 1, table.length),
                total, hq, 1, DType.BF16);
        try (MlaPlan plan = ref.plan(spec)) {
            ref.decode(plan, q, cache, out, lse);
        }
        float[] o = out.toFloatArray(), l = lse.toFloatArray();
        float[] all = java.util.Arrays.copyOf(o, o.length + l.length);
        System.arraycopy(l, 0, all, o.length, l.length);
        return all;
    }

    @Test
    void splittingAnywhereAndCombiningByLseGivesTheSameResult() {
        Random r = new Random(9);
        int sk = 300, blocks = Mla.blocksFor(sk);
        int[] table = {3, 0, 4, 1, 2};
        Tensor cache = Tensor.allocate(arena, DType.BF16, blocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
        for (long i = 0; i < cache.numel(); i++) cache.setFloat(i, (float) r.nextGaussian());
        float[] cf = cache.toFloatArray();
        PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, new int[] {sk}, 1), Tensor.ofInts(arena, table, 1, blocks),
                blocks, 1, 1, DType.BF16);
        double[] qrow = new double[Mla.D_QK];
        for (int d = 0; d < Mla.D_QK; d++) qrow[d] = r.nextGaussian();
        try (MlaPlan plan = ref.plan(spec)) {
            double[] whole = new double[Mla.D_V];
            double lseWhole = ReferenceBackend.attendPartial(plan, 0, qrow, 0, sk, spec.scale(), cf, whole);
            for (int cut : new int[] {0, 1, 63, 64, 65, 150, 299, 300}) {
                for (int cut2 : new int[] {cut, Math.min(sk, cut + 37)}) {
                    double[][] parts = new double[3][Mla.D_V];
                    double[] lses = {
                        ReferenceBackend.attendPartial(plan, 0, qrow, 0, cut, spec.scale(), cf, parts[0]),
                        ReferenceBackend.attendPartial(plan, 0, qrow, cut, cut2, spec.scale(), cf, parts[1]),
                        ReferenceBackend.attendPartial(plan, 0, qrow, cut2, sk, spec.scale(), cf, parts[2])};
                    double[] merged = new double[Mla.D_V];
                    double lse = LseCombine.merge(3, lses, parts, merged);
                    assertEquals(lseWhole, lse, 1e-9, "cut " + cut + "/" + cut2);
                    for (int d = 0; d < Mla.D_V; d++) assertEquals(whole[d], merged[d], 1e-9);
                }
            }
        }
    }

    @Test
    void floatCombineMatchesDoubleCombine() {
        float[] lse = {1.5f, Float.NEGATIVE_INFINITY, -0.25f};
        float[] acc = new float[3 * 4];
        for (int i = 0; i < acc.length; i++) acc[i] = i * 0.1f;
        float[] out = new float[4];
        float l = LseCombine.merge(3, lse, 0, 1, acc, 0, 4, 4, out, 0);
        double[] merged = new double[4];
        double[][] parts = new double[3][4];
        for (int j = 0; j < 3; j++) for (int d = 0; d < 4; d++) parts[j][d] = acc[j * 4 + d];
        double ld = LseCombine.merge(3, new double[] {1.5, Double.NEGATIVE_INFINITY, -0.25}, parts, merged);
        assertEquals(ld, l, 1e-6);
        for (int d = 0; d < 4; d++) assertEquals(merged[d], out[d], 1e-6);
        assertEquals(Float.POSITIVE_INFINITY, LseCombine.merge(1, new float[] {Float.NEGATIVE_INFINITY}, 0, 1, acc, 0, 4, 4, out, 0));
        assertEquals(0f, out[2]);
    }
}
