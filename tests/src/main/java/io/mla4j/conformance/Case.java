package io.mla4j.conformance;

import io.mla4j.DType;
import java.util.Arrays;

/** One conformance case: a batch of ragged sequences and the decode shape. */
public record Case(int[] seqlens, int numHeads, int queryLen, DType dtype, boolean causal) {
    public int batch() { return seqlens.length; }

    @Override
    public String toString() {
        return dtype + " h_q=" + numHeads + " s_q=" + queryLen + (causal ? " causal" : "") + " s_k=" + Arrays.toString(seqlens);
    }
}
