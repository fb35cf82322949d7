package io.mla4j.cpu;

import io.mla4j.DType;
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
}
