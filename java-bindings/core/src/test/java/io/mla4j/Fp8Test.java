package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The E4M3 codec, the FP8 cache formats and their conversion, and the validation of FP8 decodes. */
class Fp8Test {

    @Test
    void decodesTheCodesOfTheFormat() {
        assertEquals(0f, Fp8.toFloat((byte) 0));
        assertEquals(0x1p-9f, Fp8.toFloat((byte) 0x01), "smallest subnormal");
        assertEquals(7 * 0x1p-9f, Fp8.toFloat((byte) 0x07), "largest subnormal");
        assertEquals(0x1p-6f, Fp8.toFloat((byte) 0x08), "smallest normal");
        assertEquals(1f, Fp8.toFloat((byte) 0x38));
        assertEquals(448f, Fp8.toFloat((byte) 0x7E), "largest finite");
        assertTrue(Float.isNaN(Fp8.toFloat((byte) 0x7F)));
        assertTrue(Float.isNaN(Fp8.toFloat((byte) 0xFF)));
        assertEquals(-448f, Fp8.toFloat((byte) 0xFE));
        for (int b = 0; b < 256; b++) {
            float v = Fp8.toFloat((byte) b);
            if (Float.isNaN(v)) continue;
            assertEquals((byte) b, Fp8.fromFloat(v), "code " + b + " round-trips"); // -0 keeps its sign bit
        }
    }

    /** Round to nearest, ties to even, saturating: against a brute-force search over all finite codes. */
    @Test
    void roundsToNearestEvenAndSaturates() {
        Random rnd = new Random(5);
        for (int i = 0; i < 200_000; i++) {
            float v = switch (i % 4) {
                case 0 -> (float) rnd.nextGaussian() * 100;
                case 1 -> (float) rnd.nextGaussian() * 0.01f;
                case 2 -> midpoint(rnd.nextInt(0x7E)); // exactly between two codes
                default -> Float.intBitsToFloat(rnd.nextInt()) ; // any bits, infinities and NaN included
            };
            byte got = Fp8.fromFloat(v);
            if (Float.isNaN(v)) {
                assertTrue(Float.isNaN(Fp8.toFloat(got)));
                continue;
            }
            assertEquals(bruteForce(v), got & 0x7F, "magnitude code of " + v);
            if (v != 0) assertEquals(v < 0, (got & 0x80) != 0, "sign of " + v);
        }
        assertEquals((byte) 0x7E, Fp8.fromFloat(1e9f));
        assertEquals((byte) 0xFE, Fp8.fromFloat(Float.NEGATIVE_INFINITY));
        assertEquals((byte) 0x7E, Fp8.fromFloat(470f), "above 448 saturates, never reaches the NaN code");
        assertEquals((byte) 0x00, Fp8.fromFloat(0x1p-10f), "a tie with zero goes to the even code 0");
        assertEquals((byte) 0x02, Fp8.fromFloat(3 * 0x1p-10f), "1.5 subnormal steps: tie to even 2");
    }

    private static float midpoint(int code) {
        return (Fp8.toFloat((byte) code) + Fp8.toFloat((byte) (code + 1))) / 2;
    }

    private static int bruteForce(float v) {
        double a = Math.min(Math.abs((double) v), 448);
        int best = 0;
        double bestErr = Double.MAX_VALUE;
        for (int c = 0; c <= 0x7E; c++) {
            double err = Math.abs(Fp8.toFloat((byte) c) - a);
            if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
                best = c;
                bestErr = err;
            }
        }
        return best;
    }

    @Test
    void formatsCountTheirBytes() {
        Geometry ds = Geometry.DEEPSEEK;
        assertEquals(1152, ds.tokenBytes());
        assertEquals(576, ds.withFormat(CacheFormat.FP8_E4M3).tokenBytes());
        assertEquals(656, ds.withFormat(CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16).tokenBytes(), "DeepSeek-V3.2's layout");
        assertArrayEquals(new long[] {3, 64, 1, 656}, ds.withFormat(CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16).cacheShape(3));
        assertEquals(80 + 4 + 32, new Geometry(16, 80, 16, CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16).tokenBytes(),
                "a latent under 128 values has one scale");
        double plain = ds.bytes(1000, 1, 16, 1), fp8 = ds.withFormat(CacheFormat.FP8_E4M3).bytes(1000, 1, 16, 1);
        assertEquals(1000 * 576.0, plain - fp8, 1e-9, "the cache's bytes halve; q and o stay 16-bit");
        assertEquals(CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16, CacheFormat.parse("fp8ds"));
        assertEquals(CacheFormat.PLAIN, CacheFormat.parse("bf16"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CacheFormat.parse("int4"));
        assertTrue(e.getMessage().startsWith("cache format"), e.getMessage());
    }

    /** Quantised caches decode to within E4M3's half-ulp (2^-4 relative) of the source; scales are amax / 448. */
    @Test
    void quantisesAsTheEnginesDo() {
        try (Arena arena = Arena.ofConfined()) {
            Geometry g = new Geometry(16, 256, 32);
            Tensor plain = Tensor.allocate(arena, DType.BF16, g.cacheShape(3));
            Random rnd = new Random(9);
            for (long i = 0; i < plain.numel(); i++) plain.setFloat(i, (float) rnd.nextGaussian() * (1 + i % 7));
            float[] src = plain.toFloatArray();
            for (CacheFormat f : new CacheFormat[] {CacheFormat.FP8_E4M3, CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16}) {
                Geometry gf = g.withFormat(f);
                Fp8Cache.Quantized fq = Fp8Cache.quantize(plain, gf, arena);
                assertEquals(DType.FP8_E4M3, fq.cache().dtype());
                float[] back = Fp8Cache.dequantize(fq.cache(), gf, fq.kvScale(), DType.FP16, arena).toFloatArray();
                float amax = 0;
                for (float v : src) amax = Math.max(amax, Math.abs(v));
                if (f == CacheFormat.FP8_E4M3) assertEquals(amax / 448f, fq.kvScale(), 0f);
                else assertEquals(1f, fq.kvScale());
                for (int i = 0; i < src.length; i++) {
                    int d = i % g.dQk();
                    boolean rope = f == CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16 && d >= g.dC();
                    // e4m3 half-ulp relative, plus the subnormal floor of its scale; bf16 RoPE is exact; fp16 rounding
                    double tol = rope ? Math.abs(src[i]) * 0x1p-10 : Math.abs(src[i]) * 0x1p-4 + amax / 448 * 0x1p-9;
                    assertEquals(src[i], back[i], tol + 1e-6, "element " + i + " (" + f.id() + ")");
                }
                if (f == CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16) { // token 5, group 1: its scale is its own amax / 448
                    int t = 5;
                    float ga = 0;
                    for (int d = 128; d < 256; d++) ga = Math.max(ga, Math.abs(src[t * g.dQk() + d]));
                    float s = fq.cache().segment().get(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) t * gf.tokenBytes() + 256 + 4);
                    assertEquals(ga / 448f, s, 0f);
                }
            }
        }
    }

    /** Decode of an FP8 cache: validated (the cache's dtype and width, kvScale), and equal to a decode of its values. */
    @Test
    void decodesAnFp8CacheAsItsValues() {
        try (Arena arena = Arena.ofConfined(); ReferenceBackend ref = new ReferenceBackend()) {
            Geometry g = new Geometry(64, 128, 32);
            int b = 2, hq = 4, sq = 1, blocks = 3;
            Tensor seqlens = Tensor.ofInts(arena, new int[] {70, 5}, b);
            Tensor table = Tensor.ofInts(arena, new int[] {2, 0, 1, -1}, b, 2);
            Tensor q = Tensor.allocate(arena, DType.BF16, g.queryShape(b, sq, hq));
            Tensor plain = Tensor.allocate(arena, DType.BF16, g.cacheShape(blocks));
            Random rnd = new Random(3);
            for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) rnd.nextGaussian());
            for (long i = 0; i < plain.numel(); i++) plain.setFloat(i, (float) rnd.nextGaussian());
            Geometry gf = g.withFormat(CacheFormat.FP8_E4M3);
            Fp8Cache.Quantized fq = Fp8Cache.quantize(plain, gf, arena);
            Tensor values = Fp8Cache.dequantize(fq.cache(), gf, fq.kvScale(), DType.BF16, arena);
            Tensor o1 = Tensor.allocate(arena, DType.BF16, g.outShape(b, sq, hq));
            Tensor o2 = Tensor.allocate(arena, DType.BF16, g.outShape(b, sq, hq));
            Tensor l1 = Tensor.allocate(arena, DType.FP32, b, hq, sq), l2 = Tensor.allocate(arena, DType.FP32, b, hq, sq);
            PlanSpec spec = PlanSpec.of(seqlens, table, blocks, hq, sq, DType.BF16, gf);
            try (MlaPlan p8 = ref.plan(spec); MlaPlan p16 = ref.plan(spec.withGeometry(g))) {
                ref.decode(p8, q, fq.cache(), fq.kvScale(), o1, l1);
                ref.decode(p16, q, values, o2, l2);
                // the bf16 copy of the values differs from them by bf16 rounding (e4m3 * scale needs more bits): the
                // outputs agree to about bf16 precision, where a wrong scale or layout is off by 100%
                float[] a = o1.toFloatArray(), c = o2.toFloatArray();
                double num = 0, den = 0;
                for (int i = 0; i < a.length; i++) {
                    num += (a[i] - c[i]) * (a[i] - c[i]);
                    den += c[i] * c[i];
                }
                assertTrue(Math.sqrt(num / den) < 1.5e-2, "rel-L2 " + Math.sqrt(num / den));
                ref.decode(p8, q, fq.cache(), o1, l1); // the five-argument call is kvScale 1: valid, another scale
                for (float v : o1.toFloatArray()) assertTrue(Float.isFinite(v));
            }
            try (MlaPlan p8 = ref.plan(PlanSpec.of(seqlens, table, blocks, hq, sq, DType.BF16, gf))) {
                assertNames("kvScale", () -> ref.decode(p8, q, fq.cache(), Float.NaN, o1, l1));
                assertNames("kvScale", () -> ref.decode(p8, q, fq.cache(), 0f, o1, l1));
                assertNames("kCache", () -> ref.decode(p8, q, plain, fq.kvScale(), o1, l1)); // a bf16 cache for an fp8 plan
            }
            try (MlaPlan p16 = ref.plan(PlanSpec.of(seqlens, table, blocks, hq, sq, DType.BF16, g))) {
                assertNames("kvScale", () -> ref.decode(p16, q, plain, 0.5f, o1, l1)); // a plain cache has no scale
                assertNames("kCache", () -> ref.decode(p16, q, fq.cache(), o1, l1));
            }
            Geometry ds = g.withFormat(CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16);
            Fp8Cache.Quantized dq = Fp8Cache.quantize(plain, ds, arena);
            try (MlaPlan pd = ref.plan(PlanSpec.of(seqlens, table, blocks, hq, sq, DType.BF16, ds))) {
                assertNames("kvScale", () -> ref.decode(pd, q, dq.cache(), 2f, o1, l1)); // its scales are in the cache
                ref.decode(pd, q, dq.cache(), o1, l1);
                for (float v : o1.toFloatArray()) assertTrue(Float.isFinite(v));
            }
            assertNames("target", () -> Fp8Cache.quantize(plain, g, arena));
            assertNames("plain", () -> Fp8Cache.quantize(fq.cache(), gf, arena));
        }
    }

    private static void assertNames(String arg, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(arg + ":"), "expected a message naming " + arg + ": " + e.getMessage());
    }
}
