package io.mla4j;

import io.mla4j.spi.Checks;

/**
 * The shape of an MLA cache, as data: tokens per page, latent width d_c and RoPE width d_r. A cached
 * token is d_qk = d_c + d_r values (the latent first, then its RoPE part); the value of a token is its
 * first d_v = d_c values. This is the one place the dims, the default scale and the FLOP/byte counting
 * live; {@link Mla}'s constants are {@link #DEEPSEEK}'s.
 *
 * <p>Valid (checked here, by {@link Checks#geometry}): the page size a power of two in [1, {@value #MAX_PAGE_SIZE}],
 * d_c and d_r positive multiples of {@value #WIDTH_MULTIPLE}, d_qk at most {@value #MAX_D_QK}. Backends
 * take some geometries ({@link MlaBackend#checkSupported(Geometry)}): the reference and cpu backends take
 * every valid one, cuda 512 + 64, 256 + 64, 256 + 32, 128 + 64 and 128 + 32 at every page size, ascend every page
 * size with d_c + d_r &lt;= 784 and d_c &lt;= 768.
 *
 * <p>The {@link CacheFormat} says how a token is stored (q's bf16/fp16, or one of the FP8 layouts); it
 * sets the cache tensor's dtype and last dim ({@link #cacheShape}) and the bytes a decode reads ({@link #bytes}).
 *
 * @param pageSize tokens per page of the paged cache [num_blocks, pageSize, 1, stored width]
 * @param dC       latent width: the value dims, d_v
 * @param dR       RoPE width: the extra key dims, d_qk - d_v
 * @param format   how a cached token is stored ({@link CacheFormat#PLAIN} unless given)
 */
public record Geometry(int pageSize, int dC, int dR, CacheFormat format) {
    /** Largest page size any backend may take. */
    public static final int MAX_PAGE_SIZE = 256;
    /** d_c and d_r are multiples of this (one 32-byte vector of 16-bit values; the widths models use). */
    public static final int WIDTH_MULTIPLE = 16;
    /** Largest d_qk = d_c + d_r. */
    public static final int MAX_D_QK = 4096;

    /** DeepSeek-V2/V3/R1 and FlashMLA: 64-token pages, 512 latent + 64 RoPE dims. Every backend takes it. */
    public static final Geometry DEEPSEEK = new Geometry(64, 512, 64);

    /** Validates the fields: an {@link IllegalArgumentException} naming pageSize, dC, dR or format. */
    public Geometry {
        Checks.geometry(pageSize, dC, dR);
        if (format == null) throw Checks.bad("format", "is null");
    }

    /** A geometry of a {@link CacheFormat#PLAIN} cache (bf16 or fp16, q's dtype). */
    public Geometry(int pageSize, int dC, int dR) { this(pageSize, dC, dR, CacheFormat.PLAIN); }

    /** The geometry of these fields (validated), {@link CacheFormat#PLAIN}. */
    public static Geometry of(int pageSize, int dC, int dR) { return new Geometry(pageSize, dC, dR); }

    /** This geometry with another page size (validated). */
    public Geometry withPageSize(int p) { return new Geometry(p, dC, dR, format); }

    /** This geometry with another cache format. */
    public Geometry withFormat(CacheFormat f) { return new Geometry(pageSize, dC, dR, f); }

    /** The cache tensor's last dim: d_qk, or the token's bytes for the block-scaled FP8 layout. */
    public int storedWidth() { return format.storedWidth(dC, dR); }

    /** Bytes of one cached token in this format (1152, 576 or 656 for DeepSeek's widths). */
    public int tokenBytes() { return format.tokenBytes(dC, dR); }

    /** Dims of a cached token and of a query row (Q·K^T depth): d_c + d_r. */
    public int dQk() { return dC + dR; }

    /** Dims of a value and of an output row: d_c. */
    public int dV() { return dC; }

    /** d_qk^-0.5, FlashMLA's default softmax scale (576^-0.5 for {@link #DEEPSEEK}). */
    public float defaultScale() { return (float) (1.0 / Math.sqrt(dQk())); }

    /** ceil(n / d) for n &gt;= 0, d &gt;= 1, in long math (never overflows): the one block-count formula. */
    public static int ceilDiv(int n, int d) {
        if (n < 0) throw new IllegalArgumentException("seqlen: " + n + " is negative");
        return (int) (((long) n + d - 1) / d);
    }

    /** Pages needed to hold {@code seqlen} tokens: ceil(seqlen / pageSize). */
    public int blocksFor(int seqlen) { return ceilDiv(seqlen, pageSize); }

    /** Most block-table columns a plan of this geometry accepts: the pages of {@link Mla#MAX_SEQLEN} tokens. */
    public int maxBlocksPerSequence() { return blocksFor(Mla.MAX_SEQLEN); }

    /** Shape of a paged cache of {@code numBlocks} pages: [numBlocks, pageSize, 1, {@link #storedWidth}]
     *  (d_qk unless block-scaled). */
    public long[] cacheShape(long numBlocks) { return new long[] {numBlocks, pageSize, Mla.H_KV, storedWidth()}; }

    /** Shape of q: [b, s_q, h_q, d_qk]. */
    public long[] queryShape(long b, long sq, long hq) { return new long[] {b, sq, hq, dQk()}; }

    /** Shape of o: [b, s_q, h_q, d_v]. */
    public long[] outShape(long b, long sq, long hq) { return new long[] {b, sq, hq, dV()}; }

    /** FLOPs = 2 * s_q * sum(s_k) * h_q * (d_qk + d_v) (FlashMLA's counting, so numbers compare). */
    public double flops(long sumSeqlen, int hq, int sq) {
        return 2.0 * sq * (double) sumSeqlen * hq * (dQk() + dV());
    }

    /**
     * Bytes = sum(s_k) * h_kv * token bytes + 2 * b * s_q * h_q * (d_qk + d_v): FlashMLA's counting (2 * d_qk
     * bytes a token for 16-bit caches), with an FP8 format's real bytes per token; q and o stay 16-bit.
     */
    public double bytes(long sumSeqlen, int b, int hq, int sq) {
        return (double) sumSeqlen * Mla.H_KV * tokenBytes() + 2.0 * b * sq * hq * (dQk() + dV());
    }

    /** "page 64, 512+64", then the format unless plain: "page 64, 512+64, fp8_e4m3". */
    @Override
    public String toString() {
        return "page " + pageSize + ", " + dC + "+" + dR + (format == CacheFormat.PLAIN ? "" : ", " + format.id());
    }
}
