package io.mla4j;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How a cached token is stored: the cache's element type and byte layout, part of the {@link Geometry}.
 * A token's logical values are always d_qk = d_c + d_r (latent, then RoPE); the formats differ in bytes:
 * <ul>
 *   <li>{@link #PLAIN}: d_qk values in the decode dtype (bf16 or fp16, q's): 2 * d_qk bytes (1152 for DeepSeek);</li>
 *   <li>{@link #FP8_E4M3}: d_qk E4M3 values and one fp32 scale per cache tensor, passed to
 *       {@link MlaBackend#decode(MlaPlan, Tensor, Tensor, float, Tensor, Tensor)}: value = e4m3 * kvScale
 *       (vLLM's fp8 MLA cache): d_qk bytes (576);</li>
 *   <li>{@link #FP8_E4M3_BLOCKSCALE_ROPE_BF16}: DeepSeek-V3.2's layout: d_c E4M3 latent values, one fp32 scale per
 *       {@value #SCALE_GROUP} of them (the last group may be shorter), then the d_r RoPE values in bf16:
 *       d_c + 4 * ceil(d_c / 128) + 2 * d_r bytes (656 for DeepSeek).</li>
 * </ul>
 * The FP8 caches are tensors of {@link DType#FP8_E4M3} whose last dim is {@link #storedWidth}: d_qk for
 * {@code FP8_E4M3}, the token's bytes for the block-scaled layout (FlashMLA's convention: [num_blocks, page, 1, 656]).
 * {@link Fp8Cache} converts a bf16/fp16 cache into either.
 */
public enum CacheFormat {
    PLAIN("plain"), FP8_E4M3("fp8_e4m3"), FP8_E4M3_BLOCKSCALE_ROPE_BF16("fp8_e4m3_blockscale_rope_bf16");

    /** Latent values per fp32 scale in the block-scaled layout (DeepSeek-V3.2: 4 groups of 128 over 512). */
    public static final int SCALE_GROUP = 128;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final String id;

    CacheFormat(String id) { this.id = id; }

    /** The name the CLI, the bench and the docs use: "plain", "fp8_e4m3", "fp8_e4m3_blockscale_rope_bf16". */
    public String id() { return id; }

    /** True for the FP8 formats (the cache tensor is {@link DType#FP8_E4M3}). */
    public boolean isFp8() { return this != PLAIN; }

    /** True where the cache carries no scale of its own and decode takes one (kvScale). */
    public boolean takesTensorScale() { return this == FP8_E4M3; }

    /** The cache tensor's dtype when q and o are {@code decodeType}. */
    public DType cacheDType(DType decodeType) { return this == PLAIN ? decodeType : DType.FP8_E4M3; }

    /** fp32 scales of a block-scaled token: ceil(d_c / 128). */
    public static int scaleGroups(int dC) { return (dC + SCALE_GROUP - 1) / SCALE_GROUP; }

    /** Bytes of one cached token: 2 d_qk, d_qk, or d_c + 4 ceil(d_c / 128) + 2 d_r. */
    public int tokenBytes(int dC, int dR) {
        return switch (this) {
            case PLAIN -> 2 * (dC + dR);
            case FP8_E4M3 -> dC + dR;
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> dC + 4 * scaleGroups(dC) + 2 * dR;
        };
    }

    /** The cache tensor's last dim, in elements of {@link #cacheDType}: d_qk, except the block-scaled layout's token bytes. */
    public int storedWidth(int dC, int dR) {
        return this == FP8_E4M3_BLOCKSCALE_ROPE_BF16 ? tokenBytes(dC, dR) : dC + dR;
    }

    /** Byte offset of the fp32 scales in a block-scaled token (right after the latent). */
    public static int scalesOffset(int dC) { return dC; }

    /** Byte offset of the bf16 RoPE values in a block-scaled token. */
    public static int ropeOffset(int dC) { return dC + 4 * scaleGroups(dC); }

    /**
     * Token values, dequantised to fp32: the d_qk values of the token whose bytes start at {@code at} in
     * {@code cache}, into dst[off, off + d_qk). {@code decodeType} is the dtype of a {@link #PLAIN} cache;
     * {@code kvScale} multiplies an {@link #FP8_E4M3} one (1 otherwise). The scalar definition every backend
     * is judged by (the reference decodes with it).
     */
    public void dequantize(MemorySegment cache, long at, int dC, int dR, DType decodeType, float kvScale,
                           float[] dst, int off) {
        int dqk = dC + dR;
        switch (this) {
            case PLAIN -> {
                for (int d = 0; d < dqk; d++) dst[off + d] = Half.toFloat(decodeType, cache.get(I16, at + 2L * d));
            }
            case FP8_E4M3 -> {
                for (int d = 0; d < dqk; d++) dst[off + d] = Fp8.toFloat(cache.get(ValueLayout.JAVA_BYTE, at + d)) * kvScale;
            }
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> {
                for (int d = 0; d < dC; d++) {
                    float s = cache.get(F32, at + scalesOffset(dC) + 4L * (d / SCALE_GROUP));
                    dst[off + d] = Fp8.toFloat(cache.get(ValueLayout.JAVA_BYTE, at + d)) * s;
                }
                long rope = at + ropeOffset(dC);
                for (int d = 0; d < dR; d++) dst[off + dC + d] = Half.bf16ToFloat(cache.get(I16, rope + 2L * d));
            }
        }
    }

    /** Parses an id or a short name: "plain" (or "bf16", "fp16": the decode dtype), "fp8" / "fp8_e4m3", "fp8ds" / the long id. */
    public static CacheFormat parse(String s) {
        if (s == null) throw new IllegalArgumentException("cache format: is null");
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (t) {
            case "plain", "bf16", "fp16" -> PLAIN;
            case "fp8", "fp8_e4m3" -> FP8_E4M3;
            case "fp8ds", "fp8_e4m3_blockscale_rope_bf16" -> FP8_E4M3_BLOCKSCALE_ROPE_BF16;
            default -> throw new IllegalArgumentException("cache format: unknown '" + s
                    + "', expected plain (bf16/fp16), fp8 (fp8_e4m3) or fp8ds (fp8_e4m3_blockscale_rope_bf16)");
        };
    }
}
