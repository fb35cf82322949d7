package io.mla4j;

/**
 * Element types mla4j understands. BF16 and FP16 are the decode dtypes (q, cache, o);
 * FP32 is the LSE and accumulator type; INT32 is for block tables and sequence lengths; FP8_E4M3 is the
 * element of an FP8 cache ({@link CacheFormat}; {@link Fp8} is its codec; a tensor's float access reads and
 * writes the unscaled E4M3 value).
 */
public enum DType {
    BF16(2), FP16(2), FP32(4), INT32(4), FP8_E4M3(1);

    private final int byteSize;

    DType(int byteSize) { this.byteSize = byteSize; }

    public int byteSize() { return byteSize; }

    /** True for the two dtypes a decode accepts for q, the cache and the output. */
    public boolean isDecodeType() { return this == BF16 || this == FP16; }

    /** Rounds a float to this dtype and back (round to nearest even), the value a store would keep. */
    public float round(float v) {
        return switch (this) {
            case BF16 -> Half.bf16ToFloat(Half.floatToBf16(v));
            case FP16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            case FP32 -> v;
            case INT32 -> (float) Math.rint(v);
            case FP8_E4M3 -> Fp8.toFloat(Fp8.fromFloat(v));
        };
    }

    /** Parses "bf16", "fp16", "fp32", "int32", "fp8_e4m3" (any case). */
    public static DType parse(String s) {
        for (DType d : values()) if (d.name().equalsIgnoreCase(s)) return d;
        throw new IllegalArgumentException("unknown dtype '" + s + "': expected one of bf16, fp16, fp32, int32, fp8_e4m3");
    }
}
