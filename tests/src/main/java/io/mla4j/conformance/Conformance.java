package io.mla4j.conformance;

import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.Tensor;
import io.mla4j.ref.ReferenceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The conformance harness: runs a case on any backend (through its own memory: inputs copied in,
 * NaN-poisoned outputs copied in, results copied back) and compares with an fp64 oracle.
 */
public final class Conformance {
    private Conformance() {}

    private static final long BASE_SEED = Long.getLong("mla4j.seed", System.nanoTime());

    /** Base seed of this JVM: -Dmla4j.seed=N replays a failure; otherwise fresh every run. */
    public static long baseSeed() { return BASE_SEED; }

    /** The seed of case number {@code i}: a fixed function of the base seed, printed with every report. */
    public static long seedOf(int i) { return BASE_SEED * 1_000_003L + i; }

    /** The standard matrix every backend must pass. */
    public static List<Case> standardCases() {
        List<Case> cases = new ArrayList<>();
        int[] ragged = {65, 0, 2049, 1, 63, 64};       // empty, single, block edges, a few thousand
        int[] small = {1, 64, 130, 7};
        for (DType dt : new DType[] {DType.BF16, DType.FP16})
            for (boolean causal : new boolean[] {false, true})
                for (int sq : new int[] {1, 2, 4})
                    for (int hq : new int[] {1, 3, 16, 64, 128}) {
                        // the widest shapes on the smaller batch keep the fp64 oracle within CI's time
                        cases.add(new Case(hq * sq >= 256 ? small : ragged, hq, sq, dt, causal));
                    }
        // s_q larger than some s_k: causal rows that see no key at all
        cases.add(new Case(new int[] {2, 3, 0, 70}, 16, 4, DType.BF16, true));
        // one long sequence, split across many workers
        cases.add(new Case(new int[] {3001}, 16, 1, DType.FP16, false));
        // few-row shapes the transposed GPU kernel serves (issue 19): a head count no power of two with s_q = 3, causal,
        // fp16, a ragged batch with an empty sequence; and a very long sequence beside an empty and a short one
        cases.add(new Case(new int[] {1, 190, 0, 77, 4097}, 5, 3, DType.FP16, true));
        cases.add(new Case(new int[] {12000, 0, 17}, 16, 1, DType.BF16, true));
        return cases;
    }

    /** A ragged batch for pages of {@code page} tokens: just over a page, empty, one short of three pages, one token,
     *  and two lengths that are no page multiple. */
    private static int[] raggedFor(int page) { return new int[] {page + 1, 0, 3 * page - 1, 1, 301, 2 * 64 + 5}; }

    /** Page sizes of the geometry matrix (1 to 256) and the width pairs (d_c, d_r) it crosses them with. */
    public static final int[] GEOMETRY_PAGES = {1, 16, 32, 64, 128, 256};
    public static final int[][] GEOMETRY_WIDTHS = {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}};

    /**
     * The geometry axis (issue 22): every page size of {@link #GEOMETRY_PAGES} with every width pair of
     * {@link #GEOMETRY_WIDTHS} (plus 80 + 16, a d_v that is no multiple of 32 or 64: the cpu kernel's tails),
     * on ragged batches (odd lengths, page and tile edges, an empty sequence), s_q 1 and 2, causal and not,
     * bf16 and fp16 alternating; DeepSeek's own geometry is the standard matrix. Then 512 + 64 at pages 2, 4, 8 and 1
     * again with h_q * s_q of 64, 64, 256 and 32: the GPU's gathered pages with full and several query tiles; the other
     * width pairs with full tiles too; then the FP8 formats.
     */
    public static List<Case> geometryCases() {
        List<Case> cases = new ArrayList<>();
        int i = 0;
        List<int[]> widths = new ArrayList<>(List.of(GEOMETRY_WIDTHS));
        widths.add(new int[] {80, 16});
        for (int page : GEOMETRY_PAGES)
            for (int[] w : widths) {
                io.mla4j.Geometry g = new io.mla4j.Geometry(page, w[0], w[1]);
                if (g.equals(io.mla4j.Geometry.DEEPSEEK)) continue;
                DType dt = i % 2 == 0 ? DType.BF16 : DType.FP16;
                int sq = 1 + (i / 2) % 2;
                boolean causal = i % 3 != 0;
                int hq = new int[] {16, 3, 40, 1}[i % 4];
                int[] lens = raggedFor(page);
                cases.add(new Case(lens, hq, sq, dt, causal, g));
                i++;
            }
        // full 64-row query tiles and more (h_q * s_q = 64, 64, 256), and 32: the GPU's gathered pages at every tile shape
        int[][] heads = {{2, 64, 1}, {4, 16, 4}, {8, 128, 2}, {1, 16, 2}};
        for (int[] h : heads) {
            int page = h[0];
            int[] lens = raggedFor(page);
            cases.add(new Case(lens, h[1], h[2], page == 4 ? DType.FP16 : DType.BF16, page != 2,
                    new io.mla4j.Geometry(page, 512, 64)));
        }
        // the other width pairs with full and several query tiles (h_q * s_q = 256, 64, 64, 64) at gathered, whole and
        // split pages: the GPU's per-width kernels at every tile shape
        int[][] wide = {{256, 32, 16, 128, 2}, {128, 64, 64, 64, 1}, {256, 64, 1, 32, 2}, {128, 32, 128, 16, 4}};
        for (int j = 0; j < wide.length; j++) {
            int[] w = wide[j];
            int[] lens = raggedFor(w[2]);
            cases.add(new Case(lens, w[3], w[4], j % 2 == 0 ? DType.BF16 : DType.FP16, j != 1,
                    new io.mla4j.Geometry(w[2], w[0], w[1])));
        }
        cases.addAll(fp8Cases());
        return cases;
    }

    /**
     * The cache-format axis (issue 23): both FP8 formats on DeepSeek's geometry (the standard pages, and
     * pages of 1 and 16), on widths whose latent is no multiple of 128 (256 + 32 is; 80 + 16 and 192 + 64 are not: a
     * short last scale group), with causal s_q 2, h_q up to 128, bf16 and fp16. The oracle decodes the dequantised
     * cache; {@link Report#e2eRelL2()} reports the error against the 16-bit cache it came from. Then fp8_e4m3 at
     * 512 + 64 on pages of 16 to 256 tokens with 64, 256, 32 and 1 query rows (what the sm90 kernel takes).
     */
    public static List<Case> fp8Cases() {
        List<Case> cases = new ArrayList<>();
        io.mla4j.Geometry[] geos = {io.mla4j.Geometry.DEEPSEEK, new io.mla4j.Geometry(1, 512, 64),
                new io.mla4j.Geometry(16, 512, 64), new io.mla4j.Geometry(64, 256, 32), new io.mla4j.Geometry(32, 80, 16),
                new io.mla4j.Geometry(128, 192, 64)};
        int i = 0;
        for (io.mla4j.CacheFormat f : new io.mla4j.CacheFormat[] {io.mla4j.CacheFormat.FP8_E4M3,
                io.mla4j.CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16})
            for (io.mla4j.Geometry g : geos) {
                int page = g.pageSize();
                int[] lens = raggedFor(page);
                int hq = new int[] {16, 128, 3, 64}[i % 4];
                int sq = 1 + i % 2;
                cases.add(new Case(lens, hq, sq, i % 3 == 1 ? DType.FP16 : DType.BF16, i % 2 == 1, g.withFormat(f)));
                i++;
            }
        // fp8_e4m3 at 512 + 64 on the GPU's page sizes (16 .. 256) with full, several and single query tiles, and
        // tiles of few rows (32, 1 and 15, bf16 and fp16), and DeepSeek's page with 256 bf16 rows (what the native cpu
        // kernel widens itself); {page, h_q, s_q, fp16}
        int[][] gpu = {{16, 64, 1, 0}, {32, 128, 2, 1}, {128, 16, 2, 0}, {256, 1, 1, 0}, {64, 5, 3, 1}, {64, 128, 2, 0}};
        for (int[] h : gpu) {
            int page = h[0];
            int[] lens = {page + 1, 0, 3 * page - 1, 1, 301, 2 * 64 + 5, 1000};
            cases.add(new Case(lens, h[1], h[2], h[3] == 1 ? DType.FP16 : DType.BF16, h[2] > 1,
                    new io.mla4j.Geometry(page, 512, 64, io.mla4j.CacheFormat.FP8_E4M3)));
        }
        return cases;
    }

    private static final Map<String, ReferenceBackend.Result> MEMO = new ConcurrentHashMap<>();

    /** Runs one case on {@code backend} against {@code oracle} with inputs drawn from {@code seed}. */
    public static Report run(MlaBackend backend, Case c, long seed, Oracle oracle) {
        try (Workload w = new Workload(c, seed)) {
            ReferenceBackend.Result ref = MEMO.computeIfAbsent(oracle.hashCode() + "/" + seed + "/" + c,
                    k -> oracle.compute(w));
            int b = c.batch(), sq = c.queryLen(), hq = c.numHeads();
            Tensor hostO = w.poisoned(c.dtype(), c.geometry().outShape(b, sq, hq));
            Tensor hostLse = w.poisoned(DType.FP32, b, hq, sq);
            try (Tensor q = backend.allocate(c.dtype(), w.q.shape());
                 Tensor cache = backend.allocate(w.kCache.dtype(), w.kCache.shape());
                 Tensor o = backend.allocate(c.dtype(), hostO.shape());
                 Tensor lse = backend.allocate(DType.FP32, hostLse.shape());
                 MlaPlan plan = backend.plan(w.spec())) {
                backend.copy(w.q, q);
                backend.copy(w.kCache, cache);
                backend.copy(hostO, o);     // NaN poison in the backend's own memory
                backend.copy(hostLse, lse);
                backend.decode(plan, q, cache, w.kvScale, o, lse);
                backend.synchronize();
                backend.copy(o, hostO);
                backend.copy(lse, hostLse);
            }
            Report r = compare(c, seed, ref, hostO.toFloatArray(), hostLse.toFloatArray());
            if (w.plainCache == null) return r;
            // what FP8 costs: the same output against the oracle on the 16-bit cache it was quantised from
            ReferenceBackend.Result plain = MEMO.computeIfAbsent("plain/" + oracle.hashCode() + "/" + seed + "/" + c,
                    k -> plainOracle(w));
            return r.withEndToEnd(relL2(hostO.toFloatArray(), plain.o()));
        }
    }

    private static ReferenceBackend.Result plainOracle(Workload w) {
        try (ReferenceBackend ref = new ReferenceBackend();
             MlaPlan plan = ref.plan(w.spec().withGeometry(w.c.geometry().withFormat(io.mla4j.CacheFormat.PLAIN)))) {
            return ReferenceBackend.compute(plan, w.q, w.plainCache);
        }
    }

    private static double relL2(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** Compares outputs with the oracle under the rule in {@link Report}. */
    public static Report compare(Case c, long seed, ReferenceBackend.Result ref, float[] o, float[] lse) {
        double num = 0, den = 0, rnum = 0, maxAbs = 0;
        long unwrittenO = 0;
        for (int i = 0; i < o.length; i++) {
            double r = ref.o()[i];
            if (Float.isNaN(o[i])) { unwrittenO++; continue; }
            double d = o[i] - r;
            num += d * d;
            den += r * r;
            double rd = c.dtype().round((float) r) - r;
            rnum += rd * rd;
            maxAbs = Math.max(maxAbs, Math.abs(d));
        }
        double lseMax = 0;
        long unwrittenLse = 0, infMismatch = 0;
        for (int i = 0; i < lse.length; i++) {
            double r = ref.lse()[i];
            if (Float.isNaN(lse[i])) { unwrittenLse++; continue; }
            boolean refInf = Double.isInfinite(r), gotInf = Float.isInfinite(lse[i]);
            if (refInf || gotInf) {
                if (!(refInf && gotInf && r > 0 && lse[i] > 0)) infMismatch++;
                continue;
            }
            lseMax = Math.max(lseMax, Math.abs(lse[i] - r));
        }
        double rel = den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
        double roundRel = den == 0 ? 0 : Math.sqrt(rnum / den);
        return new Report(c, seed, rel, maxAbs, roundRel, lseMax, unwrittenO, unwrittenLse, infMismatch, Double.NaN);
    }
}
