package io.mla4j.spi;

/**
 * Merging partial attention results by their log-sum-exp, the one place this math lives.
 *
 * <p>A split over keys K_j gives o_j = softmax-weighted mean of V over K_j and lse_j = log sum exp(s)
 * over K_j (-inf when K_j is empty). The whole is lse = log sum_j exp(lse_j) and
 * o = sum_j exp(lse_j - lse) o_j. When every split is empty the row sees no key: o = 0, lse = +inf.
 */
public final class LseCombine {
    private LseCombine() {}

    /**
     * Merges {@code n} partial rows of width {@code dv}: partial j's lse at {@code lse[lseOff + j*lseStride]},
     * its output at {@code acc[accOff + j*accStride ..]}. Writes the merged row to {@code out[outOff ..]}
     * and returns the merged lse.
     */
    public static float merge(int n, float[] lse, int lseOff, int lseStride, float[] acc, int accOff, int accStride,
                              int dv, float[] out, int outOff) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, lse[lseOff + j * lseStride]);
        if (max == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(out, outOff, outOff + dv, 0f);
            return Float.POSITIVE_INFINITY;
        }
        double sum = 0;
        for (int j = 0; j < n; j++) sum += Math.exp(lse[lseOff + j * lseStride] - max);
        float total = (float) (max + Math.log(sum));
        java.util.Arrays.fill(out, outOff, outOff + dv, 0f);
        for (int j = 0; j < n; j++) {
            float l = lse[lseOff + j * lseStride];
            if (l == Float.NEGATIVE_INFINITY) continue;
            float w = (float) Math.exp(l - total);
            int a = accOff + j * accStride;
            for (int d = 0; d < dv; d++) out[outOff + d] += w * acc[a + d];
        }
        return total;
    }

    /** The fp64 form, for the oracle and its tests: same contract as {@link #merge}. */
    public static double merge(int n, double[] lse, double[][] acc, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, lse[j]);
        java.util.Arrays.fill(out, 0.0);
        if (max == Double.NEGATIVE_INFINITY) return Double.POSITIVE_INFINITY;
        double sum = 0;
        for (int j = 0; j < n; j++) sum += Math.exp(lse[j] - max);
        double total = max + Math.log(sum);
        for (int j = 0; j < n; j++) {
            if (lse[j] == Double.NEGATIVE_INFINITY) continue;
            double w = Math.exp(lse[j] - total);
            for (int d = 0; d < out.length; d++) out[d] += w * acc[j][d];
        }
        return total;
    }
}
