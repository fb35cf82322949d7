package io.mla4j.cpu;

import io.mla4j.Mla;

/**
 * One worker's buffers, sized once by the plan for its padded row count and reused for every split and
 * every call: the current cache block in fp32, the transposed query, the score/probability tile, the
 * output accumulator and the per-row softmax state.
 */
final class Scratch {
    /** Rows padded to whole vectors (padding rows get a zero query and are never written out). */
    final int rowsPadded;
    /** One 64-token cache block in fp32, token-major [64][576]; V is the first 512 of each token. */
    final float[] kv = new float[Mla.BLOCK_SIZE * Mla.D_QK];
    /** The query, scaled by the softmax scale and transposed: [576][rowsPadded], so rows are vector lanes. */
    final float[] qt;
    /** Scores, then probabilities, of the current block, token-major: [64][rowsPadded]. */
    final float[] st;
    /** Unnormalised output accumulator [rowsPadded][512]. */
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
    /** Raw 16-bit values of one block, on their way to {@link #kv}. */
    final short[] raw = new short[Mla.BLOCK_SIZE * Mla.D_QK];
    /** One 512-wide row for the LSE combine. */
    final float[] row = new float[Mla.D_V];

    Scratch(int rowsPadded) {
        this.rowsPadded = rowsPadded;
        qt = new float[Mla.D_QK * rowsPadded];
        st = new float[Mla.BLOCK_SIZE * rowsPadded];
        o = new float[rowsPadded * Mla.D_V];
        max = new float[rowsPadded];
        sum = new float[rowsPadded];
        blockMax = new float[rowsPadded];
        ref = new float[rowsPadded];
        alpha = new float[rowsPadded];
        shift = new int[rowsPadded];
        k = new int[rowsPadded];
    }
}
