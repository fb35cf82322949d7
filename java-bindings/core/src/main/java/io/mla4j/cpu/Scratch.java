package io.mla4j.cpu;

import io.mla4j.Geometry;
import io.mla4j.SplitSchedule;

/**
 * One worker's buffers, sized once by the plan for its padded row count and reused for every split and
 * every call: the current 64-token tile of the cache in fp32 (gathered from as many pages as it spans),
 * the transposed query, the score/probability tile, the
 * output accumulator and the per-row softmax state.
 */
final class Scratch {
    /** Rows padded to whole vectors (padding rows get a zero query and are never written out). */
    final int rowsPadded;
    /** The plan's d_qk and d_v: the strides of {@link #kv}, {@link #qt} and {@link #o}. */
    final int dQk, dV;
    /** One 64-token tile of the cache in fp32, token-major [64][d_qk]; V is the first d_v of each token. */
    final float[] kv;
    /** The query, scaled by the softmax scale and transposed: [d_qk][rowsPadded], so rows are vector lanes. */
    final float[] qt;
    /** Scores, then probabilities, of the current tile, token-major: [64][rowsPadded]. */
    final float[] st;
    /** Unnormalised output accumulator [rowsPadded][d_v]. */
    final float[] o;
    /** Running max (plain) per row; the AMLA exponent k lives in {@link #k}. */
    final float[] max;
    final float[] sum;
    /** Per block: the block's row max, then the value scores are measured from. */
    final float[] blockMax;
    final float[] ref;
    /** Per block: the output rescale factor (plain; 1 in AMLA mode) and the power-of-two shift (AMLA). */
    final float[] alpha;
    final int[] shift;
    final int[] k;
    /** Raw 16-bit values of one tile of a plain cache on their way to {@link #kv}, and of a query row. */
    final short[] raw;
    /** Raw bytes of one tile of an FP8 cache, on their way to {@link #kv} (empty for a plain cache). */
    final byte[] raw8;
    /** One d_v-wide row for the LSE combine. */
    final float[] row;

    Scratch(int rowsPadded, Geometry g) {
        this.rowsPadded = rowsPadded;
        dQk = g.dQk();
        dV = g.dV();
        int tile = SplitSchedule.TILE_TOKENS;
        kv = new float[tile * dQk];
        boolean fp8 = g.format().isFp8();
        raw = new short[fp8 ? dQk : tile * dQk]; // a query row passes through it too
        raw8 = new byte[fp8 ? tile * g.tokenBytes() : 0];
        row = new float[dV];
        qt = new float[dQk * rowsPadded];
        st = new float[tile * rowsPadded];
        o = new float[rowsPadded * dV];
        max = new float[rowsPadded];
        sum = new float[rowsPadded];
        blockMax = new float[rowsPadded];
        ref = new float[rowsPadded];
        alpha = new float[rowsPadded];
        shift = new int[rowsPadded];
        k = new int[rowsPadded];
    }
}
