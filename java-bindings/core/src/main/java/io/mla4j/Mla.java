package io.mla4j;

/**
 * The fixed facts of MLA decode, in one place: head dims, page size, default scale, and the
 * FLOP/byte counting used by every benchmark (FlashMLA's counting, so numbers compare).
 */
public final class Mla {
    private Mla() {}

    /** Latent + RoPE dims of a cached token and of a query row (Q·K^T depth). */
    public static final int D_QK = 576;
    /** Value dims: the first 512 dims of the same cached vector. */
    public static final int D_V = 512;
    /** Tokens per page of the paged cache. */
    public static final int BLOCK_SIZE = 64;
    /** KV heads of the latent cache: MLA shares one latent across all query heads. */
    public static final int H_KV = 1;

    /** 576^-0.5, FlashMLA's default softmax scale. */
    public static float defaultScale() { return (float) (1.0 / Math.sqrt(D_QK)); }

    // ---- Limits: the one place every bound a caller can hit lives (docs/RELIABILITY.md lists them) ----

    /**
     * Longest sequence (s_k) a plan accepts: 2^31 - 64 tokens, the largest multiple of the block size
     * that fits an int, so a block count can never overflow.
     */
    public static final int MAX_SEQLEN = Integer.MAX_VALUE - (BLOCK_SIZE - 1);
    /** Most cache blocks one sequence can use: MAX_SEQLEN / 64 = 2^25 - 1. */
    public static final int MAX_BLOCKS_PER_SEQUENCE = MAX_SEQLEN / BLOCK_SIZE;
    /** Largest batch b of a plan. */
    public static final int MAX_BATCH = 1 << 20;
    /** Most block-table entries (b * max_blocks) of a plan: the plan keeps the table as one int array. */
    public static final int MAX_BLOCK_TABLE_ENTRIES = Integer.MAX_VALUE - 8;
    /** Most packed query rows per sequence, h_q * s_q. Backends may support fewer (checkSupported says so). */
    public static final int MAX_ROWS = 1 << 12;
    /**
     * Largest softmax scale a plan accepts. The default is 576^-0.5 (about 0.042); scaled models use up
     * to about 0.2. A larger scale turns fp32 scores into infinities (cpu: NaN; others: lse = +inf, the
     * no-key marker), so it is refused rather than computed wrong.
     */
    public static final float MAX_SCALE = 1024f;
    /** Alignment every device tensor's address must have (16 bytes: the widest load of a device kernel, and TMA's rule). */
    public static final int DEVICE_ALIGNMENT = 16;
    /** Smallest softmax scale a plan accepts (positive normal floats; subnormal scales are refused). */
    public static final float MIN_SCALE = Float.MIN_NORMAL;

    /** Number of 64-token blocks needed to hold {@code seqlen} tokens (long math: never overflows). */
    public static int blocksFor(int seqlen) {
        if (seqlen < 0) throw new IllegalArgumentException("seqlen: " + seqlen + " is negative");
        return (int) (((long) seqlen + BLOCK_SIZE - 1) / BLOCK_SIZE);
    }

    /**
     * Keys visible to query row {@code i} (0-based among s_q rows) of a sequence of s_k keys.
     * Bottom-right causal mask: row i sees keys 0 .. s_k - s_q + i. Without causal, all s_k.
     * FlashMLA forces causal off for s_q == 1, which this formula already gives.
     */
    public static int visibleKeys(int sk, int sq, int i, boolean causal) {
        if (!causal) return sk;
        return Math.max(0, Math.min(sk, sk - sq + i + 1));
    }

    /** FLOPs = 2 * s_q * sum(s_k) * h_q * (576 + 512). */
    public static double flops(long sumSeqlen, int hq, int sq) {
        return 2.0 * sq * (double) sumSeqlen * hq * (D_QK + D_V);
    }

    /** Bytes = 2 * (sum(s_k) * h_kv * 576 + b * s_q * h_q * (576 + 512)) for 16-bit dtypes. */
    public static double bytes(long sumSeqlen, int b, int hq, int sq) {
        return 2.0 * ((double) sumSeqlen * H_KV * D_QK + (double) b * sq * hq * (D_QK + D_V));
    }
}
