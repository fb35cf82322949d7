package io.mla4j.conformance;

import io.mla4j.DType;
import io.mla4j.Geometry;
import java.util.Arrays;

/** One conformance case: a batch of ragged sequences, the decode shape and the cache geometry. */
public record Case(int[] seqlens, int numHeads, int queryLen, DType dtype, boolean causal, Geometry geometry) {
    /** A case of the DeepSeek geometry (64-token pages, 512 + 64). */
    public Case(int[] seqlens, int numHeads, int queryLen, DType dtype, boolean causal) {
        this(seqlens, numHeads, queryLen, dtype, causal, Geometry.DEEPSEEK);
    }

    public int batch() { return seqlens.length; }

    @Override
    public String toString() {
        return dtype + " h_q=" + numHeads + " s_q=" + queryLen + (causal ? " causal" : "") + " s_k=" + Arrays.toString(seqlens)
                + (geometry.equals(Geometry.DEEPSEEK) ? "" : " [" + geometry + "]");
    }
}
