package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.DType;
import io.mla4j.Half;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The vector bf16/fp16 conversions agree with the scalar ones on every one of the 65536 bit patterns. */
class ConvertTest {

    private static void checkAll(DType dt) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2 * 65536, 64);
            for (int i = 0; i < 65536; i++) seg.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) i);
            float[] got = new float[65536];
            short[] raw = new short[65536];
            MemorySegment.copy(seg, ValueLayout.JAVA_SHORT, 0, raw, 0, 65536);
            Convert.fromRaw(dt, raw, 65536, got);
            for (int i = 0; i < 65536; i++) {
                float want = dt == DType.BF16 ? Half.bf16ToFloat((short) i) : Float.float16ToFloat((short) i);
                if (Float.isNaN(want)) assertTrue(Float.isNaN(got[i]), dt + " bits " + Integer.toHexString(i));
                else assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i]), dt + " bits " + Integer.toHexString(i));
            }
            // a count that is not a whole number of vectors exercises the scalar tail
            short[] part = java.util.Arrays.copyOfRange(raw, 1001, 1001 + Convert.L + 3);
            float[] tail = new float[part.length + 1];
            tail[part.length] = 42f;
            Convert.fromRaw(dt, part, part.length, tail);
            for (int i = 0; i < part.length; i++) assertEquals(got[1001 + i], tail[i], 0f);
            assertEquals(42f, tail[part.length]); // nothing written past n
        }
    }

    @Test void fp16AllBitPatterns() { checkAll(DType.FP16); }

    @Test void bf16AllBitPatterns() { checkAll(DType.BF16); }
}
