package io.mla4j;

/**
 * 16-bit float conversions. The JDK converts fp16 ({@link Float#float16ToFloat}) but has no bfloat16
 * helper, so bf16 lives here: the top 16 bits of an fp32, rounded to nearest even on the way down.
 */
public final class Half {
    private Half() {}

    /** bf16 bits to float: exact (bf16 is a truncated fp32). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float to bf16 bits, round to nearest even; NaN stays a (quiet) NaN, infinities stay infinite. */
    public static short floatToBf16(float v) {
        int x = Float.floatToRawIntBits(v);
        if ((x & 0x7F800000) == 0x7F800000 && (x & 0x007FFFFF) != 0) {
            return (short) ((x >>> 16) | 0x0040); // keep NaN a NaN even if its payload sits in the low bits
        }
        int lsb = (x >>> 16) & 1;
        int rounded = x + 0x7FFF + lsb; // ties go to the even neighbour; carries into the exponent are correct
        return (short) (rounded >>> 16);
    }

    public static float fp16ToFloat(short bits) { return Float.float16ToFloat(bits); }

    public static short floatToFp16(float v) { return Float.floatToFloat16(v); }

    /** Converts 16-bit storage of the given dtype to float. */
    public static float toFloat(DType t, short bits) {
        return t == DType.BF16 ? bf16ToFloat(bits) : fp16ToFloat(bits);
    }

    /** Converts a float to 16-bit storage of the given dtype (BF16 or FP16). */
    public static short fromFloat(DType t, float v) {
        return switch (t) {
            case BF16 -> floatToBf16(v);
            case FP16 -> floatToFp16(v);
            default -> throw new IllegalArgumentException("not a 16-bit float dtype: " + t);
        };
    }
}
