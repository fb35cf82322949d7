package io.mla4j;

/**
 * The fixed facts of MLA decode: the limits every plan is held to, and the dims of the DeepSeek geometry
 * ({@link Geometry#DEEPSEEK}) as constants. The geometry itself (page size, d_c, d_r), its default scale
 * and the FLOP/byte counting live in {@link Geometry}; the methods here are {@code Geometry.DEEPSEEK}'s.
 */
public final class Mla {
    private Mla() {}

    /** Latent + RoPE dims of a DeepSeek cached token and query row ({@link Geometry#DEEPSEEK}'s d_qk). */
    public static final int D_QK = 576;
    /** Value dims of DeepSeek: the first 512 dims of the same cached vector ({@link Geometry#DEEPSEEK}'s d_v). */
    public static final int D_V = 512;
    /**
     * Tokens per page of the DeepSeek cache ({@link Geometry#DEEPSEEK}'s page size), and the work tile of
     * the split schedule for every geometry ({@link SplitSchedule#TILE_TOKENS}).
     */
    public static final int BLOCK_SIZE = 64;
    /** KV heads of the latent cache: MLA shares one latent across all query heads. */
    public static final int H_KV = 1;

    /** 576^-0.5, FlashMLA's default softmax scale for DeepSeek: {@code Geometry.DEEPSEEK.defaultScale()}. */
    public static float defaultScale() { return Geometry.DEEPSEEK.defaultScale(); }

    // ---- Limits: the one place every bound a caller can hit lives (docs/RELIABILITY.md lists them) ----

    /**
     * Longest sequence (s_k) a plan accepts: 2^31 - 64 tokens, the largest multiple of the block size
     * that fits an int, so a block count can never overflow.
     */
    public static final int MAX_SEQLEN = Integer.MAX_VALUE - (BLOCK_SIZE - 1);
    /** Most 64-token cache blocks one sequence can use: MAX_SEQLEN / 64 = 2^25 - 1 (other page sizes:
     *  {@link Geometry#maxBlocksPerSequence()}). */
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

    /**
     * Number of 64-token blocks (DeepSeek pages, and split-schedule tiles) needed to hold {@code seqlen}
     * tokens (long math: never overflows); other page sizes: {@link Geometry#blocksFor}.
     */
    public static int blocksFor(int seqlen) { return Geometry.ceilDiv(seqlen, BLOCK_SIZE); }

    /**
     * Keys visible to query row {@code i} (0-based among s_q rows) of a sequence of s_k keys.
     * Bottom-right causal mask: row i sees keys 0 .. s_k - s_q + i. Without causal, all s_k.
     * FlashMLA forces causal off for s_q == 1, which this formula already gives.
     */
    public static int visibleKeys(int sk, int sq, int i, boolean causal) {
        if (!causal) return sk;
        return Math.max(0, Math.min(sk, sk - sq + i + 1));
    }

    /** FLOPs of the DeepSeek geometry, 2 * s_q * sum(s_k) * h_q * (576 + 512): {@link Geometry#flops}. */
    public static double flops(long sumSeqlen, int hq, int sq) {
        return Geometry.DEEPSEEK.flops(sumSeqlen, hq, sq);
    }

    /** Bytes of the DeepSeek geometry, 2 * (sum(s_k) * 576 + b * s_q * h_q * (576 + 512)): {@link Geometry#bytes}. */
    public static double bytes(long sumSeqlen, int b, int hq, int sq) {
        return Geometry.DEEPSEEK.bytes(sumSeqlen, b, hq, sq);
    }
}
