package io.mla4j.conformance;

/**
 * How one backend's outputs compare with the oracle on one case, and whether that passes.
 *
 * <p>The tolerance rule (the one place it lives):
 * <ul>
 *   <li>o: relative L2 error &lt;= 3 x the relative L2 error of merely rounding the oracle's fp64 output
 *       to the output dtype (bf16/fp16). A correct kernel adds a little error of its own (P cast to the
 *       input dtype for P·V, fp32 accumulation), which the factor 3 allows; a wrong mask, scale or
 *       index is off by orders of magnitude.</li>
 *   <li>lse: max |lse - ref| &lt;= {@link #LSE_ABS_TOL} on finite entries, and +inf exactly where the
 *       oracle has +inf. LSE is fp32, so "3 x the rounding error" would demand fp32-exact softmax sums
 *       (~1e-7); fp32 accumulation over thousands of keys and exp2-based softmax legitimately cost ~1e-5,
 *       so we use an absolute bound, still far below what any real bug moves (a missed key or wrong
 *       scale shifts lse by &gt; 1e-2).</li>
 *   <li>every output element written: no NaN survives in o (outputs are poisoned with NaN before the
 *       run), no NaN in lse.</li>
 * </ul>
 * An FP8 cache is judged the same way against the oracle on its dequantised values; {@code e2eRelL2} (NaN for
 * a 16-bit cache) is the rel-L2 of o against the oracle on the bf16/fp16 cache it was quantised from: what
 * the format costs in accuracy, reported, not judged.
 */
public record Report(Case c, long seed, double oRelL2, double oMaxAbs, double oRoundingRelL2,
                     double lseMaxAbs, long unwrittenO, long unwrittenLse, long infMismatches, double e2eRelL2) {

    /** This report with the end-to-end error of an FP8 case. */
    public Report withEndToEnd(double e2e) {
        return new Report(c, seed, oRelL2, oMaxAbs, oRoundingRelL2, lseMaxAbs, unwrittenO, unwrittenLse, infMismatches, e2e);
    }

    /** Allowed lse max abs error (natural log units). */
    public static final double LSE_ABS_TOL = 2e-3;
    /** Allowed factor over the dtype's own rounding error for o. */
    public static final double O_FACTOR = 3.0;

    public boolean passed() {
        return unwrittenO == 0 && unwrittenLse == 0 && infMismatches == 0
                && oRelL2 <= O_FACTOR * oRoundingRelL2 && lseMaxAbs <= LSE_ABS_TOL;
    }

    public String verdict() {
        if (passed()) return "ok";
        StringBuilder sb = new StringBuilder();
        if (unwrittenO > 0) sb.append(unwrittenO).append(" o elements NaN/unwritten; ");
        if (unwrittenLse > 0) sb.append(unwrittenLse).append(" lse elements NaN/unwritten; ");
        if (infMismatches > 0) sb.append(infMismatches).append(" lse +inf mismatches; ");
        if (oRelL2 > O_FACTOR * oRoundingRelL2) sb.append(String.format("o rel-L2 %.3g > %.1f x rounding %.3g; ", oRelL2, O_FACTOR, oRoundingRelL2));
        if (lseMaxAbs > LSE_ABS_TOL) sb.append(String.format("lse max abs %.3g > %.1g; ", lseMaxAbs, LSE_ABS_TOL));
        return sb.toString();
    }

    @Override
    public String toString() {
        return String.format("%-60s o relL2=%.3e (round %.3e, ratio %.2f) maxAbs=%.3e | lse maxAbs=%.3e%s | %s [seed %d]",
                c, oRelL2, oRoundingRelL2, oRoundingRelL2 > 0 ? oRelL2 / oRoundingRelL2 : 0, oMaxAbs, lseMaxAbs,
                Double.isNaN(e2eRelL2) ? "" : String.format(" | vs 16-bit cache relL2=%.3e", e2eRelL2), verdict(), seed);
    }
}
