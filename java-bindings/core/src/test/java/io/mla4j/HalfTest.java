package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HalfTest {
    @Test
    void bf16KnownValues() {
        assertEquals((short) 0x3F80, Half.floatToBf16(1.0f));
        assertEquals((short) 0xC000, Half.floatToBf16(-2.0f));
        assertEquals(1.0f, Half.bf16ToFloat((short) 0x3F80));
        // exact ties go to the even mantissa
        assertEquals((short) 0x3F80, Half.floatToBf16(Float.intBitsToFloat(0x3F808000)));
        assertEquals((short) 0x3F82, Half.floatToBf16(Float.intBitsToFloat(0x3F818000)));
        // just above a tie rounds up
        assertEquals((short) 0x3F81, Half.floatToBf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0x7F80, Half.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0x7F80, Half.floatToBf16(Float.MAX_VALUE)); // overflows to +inf when rounding
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
        assertEquals((short) 0x8000, Half.floatToBf16(-0.0f));
    }

    @Test
    void bf16RoundsToNearestOnRandomFloats() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            if (!Float.isFinite(x)) continue;
            float y = Half.bf16ToFloat(Half.floatToBf16(x));
            int bits = Float.floatToRawIntBits(x);
            float down = Float.intBitsToFloat(bits & 0xFFFF0000);
            float up = Float.intBitsToFloat((bits & 0xFFFF0000) + 0x10000);
            if (Float.isInfinite(up)) continue; // the top binade's rounding to infinity is checked in bf16KnownValues
            double dd = Math.abs((double) x - down), du = Math.abs((double) x - up);
            float expect = dd < du ? down : du < dd ? up : (((bits >>> 16) & 1) == 0 ? down : up);
            assertEquals(expect, y, "x=" + x);
        }
    }

    @Test
    void fp16MatchesJdk() {
        assertEquals(Float.floatToFloat16(0.1f), Half.fromFloat(DType.FP16, 0.1f));
        assertEquals(0.099975586f, Half.toFloat(DType.FP16, Half.fromFloat(DType.FP16, 0.1f)));
        assertEquals(DType.BF16.round(3.14159f), Half.bf16ToFloat(Half.floatToBf16(3.14159f)));
    }
}
