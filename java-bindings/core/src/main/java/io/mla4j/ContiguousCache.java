package io.mla4j;

import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;

/**
 * A contiguous per-sequence cache {@code [b, max_len, 1, d_qk]} (FlashMLA issue #126: row s holds sequence
 * s's tokens in order) seen as the paged cache every backend takes, without copying: the same memory viewed
 * as {@code [b * max_len / page, page, 1, d_qk]} ({@link Tensor#reshape}) and the identity block table
 * (sequence s's block j is page {@code s * (max_len / page) + j}).
 *
 * <p>The page size, unless given: the largest power of two that divides max_len, at most 64. 64 is
 * DeepSeek's page, the one every backend takes, so a cache whose max_len is a multiple of 64 runs on all of
 * them, with a table of max_len / 64 entries per row (larger pages would save table entries but nothing
 * else: the cpu backend gathers 64-token tiles whatever the page); any
 * other max_len needs a page that divides it so no page straddles two rows, down to 1 for an odd max_len
 * (reference and cpu backends).
 *
 * <pre>{@code
 * ContiguousCache cc = ContiguousCache.of(cache, 512, 64);     // cache: [b, max_len, 1, 576] in the backend's memory
 * try (MlaPlan plan = backend.plan(cc.spec(seqlens, hq, sq, DType.BF16))) {
 *     backend.decode(plan, q, cc.paged(), out, lse);
 * }
 * }</pre>
 */
public final class ContiguousCache {
    private final Tensor paged;
    private final Tensor blockTable;
    private final Geometry geometry;
    private final int batch, maxLen;

    private ContiguousCache(Tensor paged, Tensor blockTable, Geometry geometry, int batch, int maxLen) {
        this.paged = paged;
        this.blockTable = blockTable;
        this.geometry = geometry;
        this.batch = batch;
        this.maxLen = maxLen;
    }

    /** A DeepSeek-width (512 + 64) contiguous cache, page size chosen as the class comment says. */
    public static ContiguousCache of(Tensor kCache) {
        return of(kCache, Geometry.DEEPSEEK.dC(), Geometry.DEEPSEEK.dR());
    }

    /** A contiguous cache of d_c + d_r dims per token, page size chosen as the class comment says. */
    public static ContiguousCache of(Tensor kCache, int dC, int dR) {
        Checks.rank("kCache", kCache, 4, "[b, max_len, 1, d_qk] (a contiguous cache)");
        return of(kCache, new Geometry(pageSizeFor(kCache.dim(1)), dC, dR));
    }

    /** A contiguous cache viewed with {@code geometry}'s page size, which must divide max_len. */
    public static ContiguousCache of(Tensor kCache, Geometry geometry) {
        if (geometry == null) throw Checks.bad("geometry", "is null");
        Checks.rank("kCache", kCache, 4, "[b, max_len, 1, d_qk] (a contiguous cache)");
        Checks.open("kCache", kCache);
        long b = kCache.dim(0), len = kCache.dim(1);
        String shape = java.util.Arrays.toString(kCache.shape());
        if (kCache.dim(2) != Mla.H_KV || kCache.dim(3) != geometry.dQk()) {
            throw Checks.bad("kCache", "shape is " + shape + ", expected [b, max_len, 1, " + geometry.dQk() + "] (d_c + d_r = "
                    + geometry.dC() + " + " + geometry.dR() + ")");
        }
        if (b < 1 || len < 1) throw Checks.bad("kCache", "shape is " + shape + ", expected b >= 1 and max_len >= 1");
        if (len > Mla.MAX_SEQLEN) {
            throw Checks.bad("kCache", "max_len is " + len + ", at most Mla.MAX_SEQLEN = " + Mla.MAX_SEQLEN);
        }
        int page = geometry.pageSize();
        if (len % page != 0) {
            throw Checks.bad("kCache", "max_len " + len + " is not a multiple of the page size " + page
                    + " (a page may not straddle two sequences; ContiguousCache.pageSizeFor(max_len) = "
                    + pageSizeFor(len) + " fits)");
        }
        long perRow = len / page;
        long blocks = b * perRow; // b, perRow < 2^31: fits a long
        if (blocks > Integer.MAX_VALUE || blocks > Mla.MAX_BLOCK_TABLE_ENTRIES) {
            throw Checks.bad("kCache", "shape " + shape + " makes " + blocks + " pages of " + page
                    + " tokens, at most " + Mla.MAX_BLOCK_TABLE_ENTRIES + " (a larger page size makes fewer)");
        }
        int[] table = new int[(int) blocks];
        for (int i = 0; i < table.length; i++) table[i] = i; // row s, column j: page s * perRow + j
        Tensor bt = Tensor.ofInts(Arena.ofAuto(), table, b, perRow);
        Tensor view = kCache.reshape(geometry.cacheShape(blocks));
        return new ContiguousCache(view, bt, geometry, (int) b, (int) len);
    }

    /** The default page size for a row of {@code maxLen} tokens: the largest power of two dividing it, at most 64. */
    public static int pageSizeFor(long maxLen) {
        if (maxLen < 1) throw Checks.bad("maxLen", "is " + maxLen + ", expected >= 1");
        return (int) Math.min(Long.lowestOneBit(maxLen), Mla.BLOCK_SIZE);
    }

    /** The cache as pages, [b * max_len / page, page, 1, d_qk], the same memory: pass it to {@link MlaBackend#decode}. */
    public Tensor paged() { return paged; }

    /** The identity block table, host INT32 [b, max_len / page]. */
    public Tensor blockTable() { return blockTable; }

    public Geometry geometry() { return geometry; }

    /** Pages in the view: b * max_len / page (the spec's numCacheBlocks). */
    public int numBlocks() { return (int) paged.dim(0); }

    public int batch() { return batch; }

    public int maxLen() { return maxLen; }

    /**
     * The plan spec of a step over this cache: {@code seqlens} host INT32 [b] (each at most max_len), this
     * geometry and its default scale d_qk^-0.5, causal on (it only matters when s_q > 1).
     */
    public PlanSpec spec(Tensor seqlens, int numHeads, int queryLen, DType dtype) {
        return PlanSpec.of(seqlens, blockTable, numBlocks(), numHeads, queryLen, dtype, geometry);
    }
}
