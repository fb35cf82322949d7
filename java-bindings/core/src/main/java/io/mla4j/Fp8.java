package io.mla4j;

/**
 * FP8 E4M3 ("e4m3fn", OCP FP8): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, NaN is
 * S.1111.111, the largest finite value 448, the smallest subnormal 2^-9. The one place this codec lives:
 * the reference backend, the tensors and the cache conversion use it; the cpu kernel's vector decoding
 * is tested against {@link #toFloat}.
 */
public final class Fp8 {
    private Fp8() {}

    /** Largest finite E4M3 value: 1.75 * 2^8. Conversions saturate to it. */
    public static final float E4M3_MAX = 448f;

    private static final float[] DECODE = new float[256];
    static {
        for (int b = 0; b < 256; b++) DECODE[b] = decodeSlow(b);
    }

    private static float decodeSlow(int b) {
        int e = (b >> 3) & 0xF, m = b & 7;
        float sign = (b & 0x80) != 0 ? -1f : 1f;
        if (e == 0xF && m == 7) return Float.NaN;
        float mag = e == 0 ? m * 0x1p-9f : Math.scalb(1f + m / 8f, e - 7);
        return sign * mag;
    }

    /** The value of an E4M3 byte (NaN for the two NaN codes). */
    public static float toFloat(byte e4m3) { return DECODE[e4m3 & 0xFF]; }

    /**
     * {@code v} rounded to E4M3, to nearest with ties to even, saturating: |v| above 448 (infinities
     * included) gives ±448, as the engines' casts do; NaN gives NaN (0x7F, with v's sign).
     */
    public static byte fromFloat(float v) {
        int sign = (Float.floatToRawIntBits(v) >>> 24) & 0x80;
        if (Float.isNaN(v)) return (byte) (sign | 0x7F);
        float a = Math.abs(v);
        int code;
        if (a >= E4M3_MAX) {
            code = 0x7E;
        } else if (a < 0x1p-6f) { // subnormal range: multiples of 2^-9 (8 of them reach the first normal, code 8)
            code = (int) Math.rint(a * 0x1p9f);
        } else {
            int e = Math.getExponent(a); // -6 .. 8
            int m = (int) Math.rint((Math.scalb(a, -e) - 1f) * 8f); // exact in float: a has 24 bits, scaled by powers of two
            code = ((e + 7) << 3) + m; // m == 8 carries into the exponent, as it should
            if (code > 0x7E) code = 0x7E;
        }
        return (byte) (sign | code);
    }
}
