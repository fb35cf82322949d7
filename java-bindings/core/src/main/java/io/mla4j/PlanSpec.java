package io.mla4j;

import java.util.Objects;

/**
 * What a decode step looks like: everything {@link MlaBackend#plan} needs, fixed for all layers of
 * one step.
 *
 * @param seqlens        host INT32 [b]: tokens cached per sequence (s_k), including this step's s_q
 * @param blockTable     host INT32 [b, max_blocks]: cache block ids of each sequence, in order
 * @param numCacheBlocks blocks in the paged cache (its first dim); every used block id must be below it
 * @param numHeads       h_q, query heads
 * @param queryLen       s_q, query tokens per sequence this step (1 for plain decode, more for MTP)
 * @param dtype          BF16 or FP16: the dtype of q, the cache and o
 * @param causal         bottom-right causal mask when s_q > 1 (no effect when s_q == 1)
 * @param scale          softmax scale, finite and positive; {@link Mla#defaultScale()} = 576^-0.5
 */
public record PlanSpec(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen,
                       DType dtype, boolean causal, float scale) {

    public PlanSpec {
        Objects.requireNonNull(seqlens, "seqlens");
        Objects.requireNonNull(blockTable, "blockTable");
        Objects.requireNonNull(dtype, "dtype");
    }

    /** A spec with the default scale, causal on (it only matters when s_q > 1). */
    public static PlanSpec of(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen, DType dtype) {
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, true, Mla.defaultScale());
    }

    public PlanSpec withCausal(boolean c) {
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, c, scale);
    }

    public PlanSpec withScale(float s) {
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, causal, s);
    }

    /** Batch size b. */
    public int batch() { return (int) seqlens.dim(0); }

    /** Packed query rows per sequence: s_q * h_q. */
    public int rows() { return queryLen * numHeads; }

    /** The mask in effect: causal only matters with more than one query token. */
    public boolean effectiveCausal() { return causal && queryLen > 1; }
}
