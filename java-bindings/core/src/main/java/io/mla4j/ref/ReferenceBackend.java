package io.mla4j.ref;

import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.spi.HostBackend;

/**
 * The oracle: MLA decode in plain Java with fp64 accumulation, written to be obviously right rather
 * than fast. One query row at a time: gather the visible keys through the block table, scores in
 * double, a max-subtracted softmax, the weighted sum of values. Every other backend is judged by it.
 */
public final class ReferenceBackend extends HostBackend {

    /** fp64 results of one decode: o [b, s_q, h_q, d_v] and lse [b, h_q, s_q], before rounding. */
    public record Result(double[] o, double[] lse) {}

    @Override public String name() { return "reference"; }
    @Override public String description() { return "pure-Java fp64 oracle (slow; for checking)"; }
    @Override protected int parallelism(PlanSpec spec) { return 1; }

    /** Every valid geometry: any page size a power of two up to 256, d_c and d_r any multiples of 16. */
    @Override
    public void checkSupported(Geometry geometry) {
        if (geometry == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
    }

    /** The oracle reads only the plan's own fields: any plan may be updated. */
    @Override
    protected io.mla4j.MlaPlan createUpdatablePlan(PlanSpec spec, io.mla4j.SplitSchedule schedule, int[] seqlens,
                                                   int[] blockTable) {
        return updatableBackendPlan(spec, schedule, seqlens, blockTable);
    }

    /** One thread, the caller's: confined host memory is fine from its owner thread. */
    @Override protected boolean decodesOnCallerThread() { return true; }

    /** The oracle holds the cache, q and o as Java arrays: at most 2^31 - 9 elements each. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    @Override
    protected void checkPlan(PlanSpec spec) {
        Geometry g = spec.geometry();
        long cacheElems = (long) spec.numCacheBlocks() * g.pageSize() * g.dQk();
        if (cacheElems > MAX_ARRAY) {
            throw io.mla4j.spi.Checks.bad("numCacheBlocks", "is " + spec.numCacheBlocks()
                    + "; the reference backend holds the cache as one"
                    + " Java array, at most " + MAX_ARRAY / ((long) g.pageSize() * g.dQk()) + " blocks");
        }
        long qElems = (long) spec.batch() * spec.queryLen() * spec.numHeads() * g.dQk();
        if (qElems > MAX_ARRAY) {
            throw io.mla4j.spi.Checks.bad("numHeads", "b * s_q * h_q * d_qk = " + qElems
                    + " query elements; the reference backend"
                    + " holds q as one Java array, at most " + MAX_ARRAY);
        }
    }

    @Override
    protected void doDecode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        Result r;
        synchronized (plan) { r = compute(plan, q, kCache, kvScale); } // one step whole (MlaPlan.update holds it too)
        int b = plan.batch(), sq = plan.spec().queryLen(), hq = plan.spec().numHeads();
        for (int i = 0; i < r.o.length; i++) out.setFloat(i, (float) r.o[i]);
        for (int s = 0; s < b; s++)
            for (int h = 0; h < hq; h++)
                for (int t = 0; t < sq; t++) {
                    int idx = (s * hq + h) * sq + t;
                    lse.setFloat(idx, (float) r.lse[idx]);
                }
    }

    /** The decode in fp64, without rounding the outputs: what the conformance harness compares against. */
    public static Result compute(MlaPlan plan, Tensor q, Tensor kCache) { return compute(plan, q, kCache, 1f); }

    /** {@link #compute(MlaPlan, Tensor, Tensor)} of an FP8 cache: the oracle runs on its dequantised values. */
    public static Result compute(MlaPlan plan, Tensor q, Tensor kCache, float kvScale) {
        PlanSpec spec = plan.spec();
        int b = plan.batch(), sq = spec.queryLen(), hq = spec.numHeads();
        Geometry g = spec.geometry();
        int dqk = g.dQk(), dv = g.dV();
        float[] cache = values(kCache, g, spec.dtype(), kvScale); // one conversion pass; the math below is all fp64
        float[] qs = q.toFloatArray();
        double[] o = new double[b * sq * hq * dv];
        double[] lse = new double[b * hq * sq];
        double[] qrow = new double[dqk];
        double[] orow = new double[dv];
        for (int s = 0; s < b; s++) {
            int sk = plan.seqlen(s);
            for (int t = 0; t < sq; t++) {
                int visible = Mla.visibleKeys(sk, sq, t, spec.effectiveCausal());
                for (int h = 0; h < hq; h++) {
                    int qBase = ((s * sq + t) * hq + h) * dqk;
                    for (int d = 0; d < dqk; d++) qrow[d] = qs[qBase + d];
                    double l = attendPartial(plan, s, qrow, 0, visible, spec.scale(), cache, orow);
                    if (l == Double.NEGATIVE_INFINITY) l = Double.POSITIVE_INFINITY; // a row with no key: o = 0, lse = +inf
                    System.arraycopy(orow, 0, o, ((s * sq + t) * hq + h) * dv, dv);
                    lse[(s * hq + h) * sq + t] = l;
                }
            }
        }
        return new Result(o, lse);
    }

    /** The cache as floats, d_qk per token in page order: a plain cache as stored, an FP8 one dequantised. */
    private static float[] values(Tensor kCache, Geometry g, io.mla4j.DType dtype, float kvScale) {
        if (!g.format().isFp8()) return kCache.toFloatArray();
        long tokens = kCache.dim(0) * g.pageSize();
        float[] out = new float[Math.toIntExact(tokens * g.dQk())];
        java.lang.foreign.MemorySegment seg = kCache.segment();
        for (long t = 0; t < tokens; t++) {
            g.format().dequantize(seg, t * g.tokenBytes(), g.dC(), g.dR(), dtype, kvScale, out, (int) (t * g.dQk()));
        }
        return out;
    }

    /**
     * Attention of one query row over keys [from, to) of sequence {@code s} ({@code cache} is the paged
     * cache as floats, in the plan's geometry): writes the softmax-weighted mean of their values (the first
     * d_v dims) to {@code out} and returns the
     * natural-log sum of exp(scores). With no keys: out = 0 and -inf (the partial convention; a whole row
     * with no key reports +inf).
     */
    public static double attendPartial(MlaPlan plan, int s, double[] qrow, int from, int to, float scale,
                                       float[] cache, double[] out) {
        java.util.Arrays.fill(out, 0.0);
        Geometry g = plan.spec().geometry();
        int dqk = g.dQk(), dv = g.dV();
        int n = to - from;
        if (n <= 0) return Double.NEGATIVE_INFINITY;
        double[] scores = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            int base = (int) tokenOffset(plan, s, from + j);
            double dot = 0;
            for (int d = 0; d < dqk; d++) dot += qrow[d] * cache[base + d];
            scores[j] = dot * scale;
            max = Math.max(max, scores[j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            double p = Math.exp(scores[j] - max);
            sum += p;
            int base = (int) tokenOffset(plan, s, from + j);
            for (int d = 0; d < dv; d++) out[d] += p * cache[base + d];
        }
        for (int d = 0; d < dv; d++) out[d] /= sum;
        return max + Math.log(sum);
    }

    /** Element offset of token {@code pos} of sequence {@code s} in the paged cache of the plan's geometry. */
    public static long tokenOffset(MlaPlan plan, int s, int pos) {
        Geometry g = plan.spec().geometry();
        int page = g.pageSize();
        int block = plan.block(s, pos / page);
        return ((long) block * page + pos % page) * g.dQk();
    }

    /** Registers the oracle for ServiceLoader. */
    public static final class Provider implements io.mla4j.spi.MlaBackendProvider {
        @Override public String name() { return "reference"; }
        @Override public int priority() { return 1; }
        @Override public java.util.Optional<String> unavailableReason() { return java.util.Optional.empty(); }
        @Override public io.mla4j.MlaBackend create() { return new ReferenceBackend(); }
        @Override public String summary() { return "fp64 oracle, by name only"; }
    }
}
