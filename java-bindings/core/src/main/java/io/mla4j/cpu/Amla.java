package io.mla4j.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The AMLA rescaling trick (arXiv 2509.25224): for an fp32 value F, F * 2^n has the bit pattern of
 * int(F) + n * 2^23, as long as the result is still a normal number. If the running softmax max is
 * rounded up to a multiple of ln 2 (M = k ln 2), the factor between blocks, exp(M_old - M_new), is
 * exactly 2^(k_old - k_new), so the output accumulator can be rescaled by an integer add instead of a
 * multiply.
 *
 * <p>Here n is never positive (the max only grows). Where the result would fall below the smallest
 * normal (or the value is already zero or subnormal) we write 0: such a term is at least 2^-126 times
 * smaller than the largest it is summed with, far below fp32 resolution. The paper clamps n instead;
 * the guard makes any n safe, including the "no previous max" case.
 */
public final class Amla {
    private Amla() {}

    /** log2(e), to turn a natural-log max into a power-of-two exponent. */
    static final double LOG2E = 1.4426950408889634;
    static final double LN2 = 0.6931471805599453;
    /** A shift that zeroes everything (used when there was no previous max). */
    public static final int ZERO_SHIFT = -255;

    /** k = ceil(m / ln 2): the smallest power-of-two exponent with k ln 2 &gt;= m, so exp(s - k ln 2) &lt;= 1. */
    public static int exponentFor(float max) {
        return (int) Math.ceil(max * LOG2E);
    }

    /** The rounded max k ln 2, the value scores are measured from in AMLA mode. */
    public static float roundedMax(int k) {
        return (float) (k * LN2);
    }

    /** f * 2^n for n &lt;= 0 through an integer add on the bit pattern; 0 where the result would not be normal. */
    public static float scaleByPow2(float f, int n) {
        int bits = Float.floatToRawIntBits(f);
        int exp = (bits >>> 23) & 0xFF;
        return exp > -n ? Float.intBitsToFloat(bits + (n << 23)) : 0f;
    }

    /** The vector form of {@link #scaleByPow2}: every lane times 2^n, n &lt;= 0. */
    public static FloatVector scaleByPow2(FloatVector v, int n) {
        IntVector bits = v.reinterpretAsInts();
        IntVector exp = bits.lanewise(VectorOperators.LSHR, 23).and(0xFF);
        VectorMask<Integer> normal = exp.compare(VectorOperators.GT, -n);
        return bits.add(n << 23).blend(0, normal.not()).reinterpretAsFloats();
    }
}
