package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.Fp8;
import org.junit.jupiter.api.Test;

/** The vector E4M3 decoder against the scalar codec, code by code, at every offset a tile can start at. */
class ConvertFp8Test {
    @Test
    void everyCodeAtEveryAlignment() {
        byte[] src = new byte[256 + 64];
        for (int i = 0; i < src.length; i++) src[i] = (byte) (i * 37 + 11); // each code, in an order that is not sorted
        for (float scale : new float[] {1f, 0.0123f, 3e-5f}) {
            for (int from = 0; from < 17; from++) {
                int n = 256 + (from % 5);
                float[] dst = new float[n + 3];
                Convert.fromE4m3(src, from, n, scale, dst, 3);
                for (int i = 0; i < n; i++) {
                    float want = Fp8.toFloat(src[from + i]) * scale;
                    float got = dst[3 + i];
                    if (Float.isNaN(want)) assertTrue(Float.isNaN(got), "code " + (src[from + i] & 0xFF));
                    else assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got),
                            "code " + (src[from + i] & 0xFF) + " scale " + scale + ": " + got + " vs " + want);
                }
            }
        }
    }

    /** The block-scaled layout's bf16 RoPE values (little-endian pairs in a byte[]) against the scalar decode. */
    @Test
    void littleEndianBf16AtEveryOffset() {
        byte[] src = new byte[2 * 200 + 40];
        java.util.Random r = new java.util.Random(3);
        r.nextBytes(src);
        for (int from = 0; from < 19; from++) {
            for (int n : new int[] {0, 1, 15, 16, 17, 64, 130}) {
                float[] dst = new float[n + 5];
                Convert.fromBf16Le(src, from, n, dst, 5);
                for (int i = 0; i < n; i++) {
                    int bits = ((src[from + 2 * i] & 0xFF) | (src[from + 2 * i + 1] & 0xFF) << 8) << 16;
                    assertEquals(bits, Float.floatToRawIntBits(dst[5 + i]), "value " + i + " from " + from + " n " + n);
                }
            }
        }
    }
}
