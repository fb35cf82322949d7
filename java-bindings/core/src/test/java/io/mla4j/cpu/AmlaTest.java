package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The AMLA pieces: the bit-add is multiplication by 2^n, its underflow guard, and the rounded max. */
class AmlaTest {
    private final Random rnd = new Random(20261123);

    private float randomNormal() {
        // spread over many binades, both signs
        return (float) ((rnd.nextBoolean() ? 1 : -1) * Math.exp(rnd.nextGaussian() * 10));
    }

    @Test
    void bitAddEqualsMultiplyByPowerOfTwoForNormalResults() {
        for (int i = 0; i < 200_000; i++) {
            float f = randomNormal();
            int n = -rnd.nextInt(40);
            float want = f * (float) Math.scalb(1.0, n);
            if (Math.abs(want) < Float.MIN_NORMAL) continue; // covered by the underflow test
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(Amla.scaleByPow2(f, n)), f + " * 2^" + n);
        }
    }

    @Test
    void resultsBelowTheNormalRangeBecomeZero() {
        assertEquals(0f, Amla.scaleByPow2(Float.MIN_NORMAL, -1));
        assertEquals(0f, Amla.scaleByPow2(0f, -3));
        assertEquals(0f, Amla.scaleByPow2(-0f, -3));
        assertEquals(0f, Amla.scaleByPow2(Float.MIN_VALUE, 0)); // a subnormal is flushed even by 2^0
        assertEquals(0f, Amla.scaleByPow2(1e30f, Amla.ZERO_SHIFT));
        assertEquals(2 * Float.MIN_NORMAL, Amla.scaleByPow2(4 * Float.MIN_NORMAL, -1));
        assertEquals(-0.75f, Amla.scaleByPow2(-1.5f, -1));
        assertEquals(3f, Amla.scaleByPow2(3f, 0));
    }

    @Test
    void vectorFormMatchesScalarForm() {
        int lanes = Convert.L;
        float[] in = new float[lanes], out = new float[lanes];
        for (int rep = 0; rep < 5_000; rep++) {
            for (int i = 0; i < lanes; i++) in[i] = rep % 7 == 0 && i % 3 == 0 ? 0f : randomNormal() * (float) Math.scalb(1.0, -100 * (i % 2));
            int n = rep % 11 == 0 ? Amla.ZERO_SHIFT : -rnd.nextInt(60);
            Amla.scaleByPow2(FloatVector.fromArray(Convert.F, in, 0), n).intoArray(out, 0);
            for (int i = 0; i < lanes; i++) {
                assertEquals(Float.floatToRawIntBits(Amla.scaleByPow2(in[i], n)), Float.floatToRawIntBits(out[i]), in[i] + " * 2^" + n);
            }
        }
    }

    @Test
    void roundedMaxIsAPowerOfTwoAboveTheMax() {
        for (int i = 0; i < 100_000; i++) {
            float m = (float) (rnd.nextGaussian() * 50);
            int k = Amla.exponentFor(m);
            float ref = Amla.roundedMax(k);
            double p = Math.exp(m - ref); // the largest probability of the block
            assertTrue(p <= 1.0 + 1e-6 && p > 0.5 - 1e-6, "m=" + m + " k=" + k + " p=" + p);
            // two rounded maxes differ by a whole power of two
            int k2 = Amla.exponentFor(m + 3.3f);
            assertEquals(Math.scalb(1.0, k - k2), Math.exp(Amla.roundedMax(k) - Amla.roundedMax(k2)), 1e-5 * Math.scalb(1.0, k - k2));
        }
    }
}
