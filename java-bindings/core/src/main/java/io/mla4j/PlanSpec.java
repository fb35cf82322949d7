package io.mla4j;

import java.util.Objects;

/**
 * What a decode step looks like: everything {@link MlaBackend#plan} needs, fixed for all layers of
 * one step.
 *
 * @param seqlens        host INT32 [b]: tokens cached per sequence (s_k), including this step's s_q
 * @param blockTable     host INT32 [b, max_blocks]: cache block (page) ids of each sequence, in order;
 *                       sequence s uses its first ceil(s_k / page size) entries
 * @param numCacheBlocks blocks (pages) in the paged cache (its first dim); every used block id must be below it
 * @param numHeads       h_q, query heads
 * @param queryLen       s_q, query tokens per sequence this step (1 for plain decode, more for MTP)
 * @param dtype          BF16 or FP16: the dtype of q, the cache and o
 * @param causal         bottom-right causal mask when s_q > 1 (no effect when s_q == 1)
 * @param scale          softmax scale, finite and positive; default {@link Geometry#defaultScale()} = d_qk^-0.5
 * @param geometry       page size, d_c and d_r of the cache, q and o ({@link Geometry#DEEPSEEK} unless given)
 */
public record PlanSpec(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen,
                       DType dtype, boolean causal, float scale, Geometry geometry) {

    public PlanSpec {
        Objects.requireNonNull(seqlens, "seqlens");
        Objects.requireNonNull(blockTable, "blockTable");
        Objects.requireNonNull(dtype, "dtype");
        if (geometry == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
    }

    /** A spec of the DeepSeek geometry ({@link Geometry#DEEPSEEK}). */
    public PlanSpec(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen,
                    DType dtype, boolean causal, float scale) {
        this(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, causal, scale, Geometry.DEEPSEEK);
    }

    /** A DeepSeek-geometry spec with the default scale 576^-0.5, causal on (it only matters when s_q > 1). */
    public static PlanSpec of(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen, DType dtype) {
        return of(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, Geometry.DEEPSEEK);
    }

    /** A spec of {@code geometry} with its default scale d_qk^-0.5, causal on (it only matters when s_q > 1). */
    public static PlanSpec of(Tensor seqlens, Tensor blockTable, int numCacheBlocks, int numHeads, int queryLen, DType dtype,
                              Geometry geometry) {
        if (geometry == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, true, geometry.defaultScale(),
                geometry);
    }

    public PlanSpec withCausal(boolean c) {
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, c, scale, geometry);
    }

    public PlanSpec withScale(float s) {
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, causal, s, geometry);
    }

    /**
     * This spec with another geometry. A scale that was this geometry's default becomes the new one's
     * default (d_qk^-0.5); a scale set otherwise is kept.
     */
    public PlanSpec withGeometry(Geometry g) {
        if (g == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
        float s = Float.floatToIntBits(scale) == Float.floatToIntBits(geometry.defaultScale()) ? g.defaultScale() : scale;
        return new PlanSpec(seqlens, blockTable, numCacheBlocks, numHeads, queryLen, dtype, causal, s, g);
    }

    /** Batch size b. */
    public int batch() { return (int) seqlens.dim(0); }

    /** Packed query rows per sequence: s_q * h_q. */
    public int rows() { return queryLen * numHeads; }

    /** The mask in effect: causal only matters with more than one query token. */
    public boolean effectiveCausal() { return causal && queryLen > 1; }
}
