package io.mla4j.cpu;

import io.mla4j.DType;
import io.mla4j.Fp8;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * bf16/fp16 to fp32 while streaming the cache. The float species is chosen once for the process
 * ({@link FloatVector#SPECIES_PREFERRED}); the short species has the same lane count at half the width.
 *
 * <p>The raw values are first bulk-copied from the cache into a short[] (see Attention.loadBlock); then
 * each dtype takes its fastest path on this JDK (measured on Zen 5, JDK 25, per element):
 * <ul>
 *   <li>bf16 is the top half of an fp32: Vector API load, widen, shift left 16 (0.05 ns; a plain loop is
 *       not vectorised by C2 and costs 0.5 ns);</li>
 *   <li>fp16: the Vector API has no fp16 conversion (bit manipulation with it cost 0.9 ns), but C2 turns a
 *       plain {@link Float#float16ToFloat} loop over a short[] into vcvtph2ps (0.07 ns).</li>
 * </ul>
 */
final class Convert {
    private Convert() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final int L = F.length();
    /** Bytes of L lanes, for the E4M3 path; null where that is narrower than the API's smallest shape (64 bits). */
    static final VectorSpecies<Byte> B = F.vectorBitSize() >= 256
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    /** Bytes of L shorts, for 16-bit values stored in a byte[] (the block-scaled layout's bf16 RoPE part). */
    static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, S.vectorShape());

    /**
     * bf16 values stored little-endian at src[from, from + 2n) into dst[at, at + n): a reinterpreting load (the
     * Vector API reinterprets lanes in little-endian byte order), widen, shift left 16. Vectorised because a
     * scalar loop over the 64 RoPE values of each token of the block-scaled layout cost as much as decoding its
     * 512 e4m3 values (the layout ran 8-13% behind bf16 at h_q 16, docs/PERF.md).
     */
    static void fromBf16Le(byte[] src, int from, int n, float[] dst, int at) {
        int i = 0;
        for (; i <= n - L; i += L) {
            ShortVector s = ByteVector.fromArray(B2, src, from + 2 * i).reinterpretAsShorts();
            IntVector w = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
            w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, at + i);
        }
        for (; i < n; i++) {
            int b = from + 2 * i;
            dst[at + i] = Float.intBitsToFloat(((src[b] & 0xFF) | (src[b + 1] & 0xFF) << 8) << 16);
        }
    }

    /** Converts raw[0..n) (16-bit values already copied from the cache) into dst[0..n). */
    static void fromRaw(DType dt, short[] raw, int n, float[] dst) {
        if (dt == DType.BF16) {
            int i = 0;
            for (; i <= n - L; i += L) {
                IntVector w = (IntVector) ShortVector.fromArray(S, raw, i).convertShape(VectorOperators.S2I, I, 0);
                w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, i);
            }
            for (; i < n; i++) dst[i] = Float.intBitsToFloat((raw[i] & 0xFFFF) << 16);
        } else {
            for (int i = 0; i < n; i++) dst[i] = Float.float16ToFloat(raw[i]);
        }
    }

    /**
     * E4M3 bytes src[from, from + n) times {@code scale} into dst[at, at + n). Bit arithmetic, no table: the 7
     * magnitude bits shifted to fp32's exponent/mantissa position are the value * 2^-120 for normal codes (so
     * add 120 to the exponent field), subnormal codes (exponent 0) are m * 2^-9, the code S.1111.111 is NaN.
     * Checked code by code against {@link Fp8#toFloat}.
     */
    static void fromE4m3(byte[] src, int from, int n, float scale, float[] dst, int at) {
        int i = 0;
        if (B != null) {
            FloatVector sc = FloatVector.broadcast(F, scale);
            for (; i <= n - L; i += L) {
                IntVector x = (IntVector) ByteVector.fromArray(B, src, from + i).convertShape(VectorOperators.B2I, I, 0);
                IntVector mag = x.and(0x7F), sign = x.and(0x80).lanewise(VectorOperators.LSHL, 24);
                IntVector normal = mag.lanewise(VectorOperators.LSHL, 20).add(120 << 23);
                IntVector sub = ((FloatVector) mag.convert(VectorOperators.I2F, 0)).mul(0x1p-9f).reinterpretAsInts();
                IntVector bits = normal.blend(sub, mag.lt(8)).blend(0x7FC00000, mag.eq(0x7F)).or(sign);
                bits.reinterpretAsFloats().mul(sc).intoArray(dst, at + i);
            }
        }
        for (; i < n; i++) dst[at + i] = Fp8.toFloat(src[from + i]) * scale;
    }
}
