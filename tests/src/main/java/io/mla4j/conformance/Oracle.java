package io.mla4j.conformance;

import io.mla4j.MlaPlan;
import io.mla4j.ref.ReferenceBackend;

/** An fp64 answer to a case: o [b, s_q, h_q, d_v] and lse [b, h_q, s_q], unrounded. */
public interface Oracle {
    ReferenceBackend.Result compute(Workload w);

    /** The reference backend's formulation (paged walk, max-subtracted softmax). */
    Oracle REFERENCE = w -> {
        try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan plan = ref.plan(w.spec())) {
            return ReferenceBackend.compute(plan, w.q, w.kCache, w.kvScale);
        }
    };

    /**
     * A second, deliberately different formulation: gather each sequence's K/V into contiguous arrays
     * first (no block table in the math), then a two-pass softmax per row (pass 1: max and sum; pass 2:
     * weights times values), with the causal limit computed directly from the row's absolute position.
     */
    Oracle GATHERED = w -> {
        int b = w.c.batch(), sq = w.c.queryLen(), hq = w.c.numHeads();
        int page = w.c.geometry().pageSize(), dqk = w.c.geometry().dQk(), dv = w.c.geometry().dV();
        float[] cache = w.cacheValues(); // its own dequantisation of an FP8 cache (Workload's, not the reference's)
        float[] q = w.q.toFloatArray();
        int[] table = w.blockTable.toIntArray();
        double[] o = new double[b * sq * hq * dv];
        double[] lse = new double[b * hq * sq];
        double scale = w.spec().scale();
        for (int s = 0; s < b; s++) {
            int sk = w.c.seqlens()[s];
            double[][] keys = new double[sk][dqk];
            for (int pos = 0; pos < sk; pos++) {
                int blk = table[s * w.maxBlocks + pos / page];
                int base = (blk * page + pos % page) * dqk;
                for (int d = 0; d < dqk; d++) keys[pos][d] = cache[base + d];
            }
            for (int t = 0; t < sq; t++) {
                // absolute position of query token t is sk - sq + t; causal lets it see keys at positions <= it
                int limit = (w.c.causal() && sq > 1) ? Math.max(0, Math.min(sk, sk - sq + t + 1)) : sk;
                for (int h = 0; h < hq; h++) {
                    int qb = ((s * sq + t) * hq + h) * dqk;
                    int ob = ((s * sq + t) * hq + h) * dv;
                    int li = (s * hq + h) * sq + t;
                    if (limit == 0) {
                        lse[li] = Double.POSITIVE_INFINITY;
                        continue;
                    }
                    double[] sc = new double[limit];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < limit; j++) {
                        double dot = 0;
                        for (int d = 0; d < dqk; d++) dot += q[qb + d] * keys[j][d];
                        sc[j] = dot * scale;
                        if (sc[j] > m) m = sc[j];
                    }
                    double sum = 0;
                    for (int j = 0; j < limit; j++) sum += Math.exp(sc[j] - m);
                    for (int j = 0; j < limit; j++) {
                        double wgt = Math.exp(sc[j] - m) / sum;
                        for (int d = 0; d < dv; d++) o[ob + d] += wgt * keys[j][d];
                    }
                    lse[li] = m + Math.log(sum);
                }
            }
        }
        return new ReferenceBackend.Result(o, lse);
    };
}
