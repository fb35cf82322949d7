package io.mla4j;

import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Builds the FP8 caches of {@link CacheFormat} from a bf16/fp16 one (host tensors), the way serving engines
 * write them: values rounded to nearest even, saturated to ±448, scales amax / 448 (over the whole cache for
 * {@link CacheFormat#FP8_E4M3}, per 128-value latent group of each token for the block-scaled layout; a
 * group or cache of zeros gets scale 1). For tests, benches and engines that convert caches in Java.
 */
public final class Fp8Cache {
    private Fp8Cache() {}

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** An FP8 cache and the kvScale a decode of it takes (1 for the block-scaled layout, whose scales it stores). */
    public record Quantized(Tensor cache, float kvScale) {}

    /**
     * {@code plain} (a host bf16/fp16 cache [num_blocks, page, 1, d_qk] of {@code target}'s page size and widths)
     * converted to {@code target}'s FP8 format, in {@code arena}.
     */
    public static Quantized quantize(Tensor plain, Geometry target, Arena arena) {
        if (arena == null) throw Checks.bad("arena", "is null");
        checkSource(plain, target);
        long blocks = plain.dim(0);
        Tensor out = Tensor.allocate(arena, DType.FP8_E4M3, target.cacheShape(blocks));
        float scale = fill(plain, target, out.segment());
        return new Quantized(out, scale);
    }

    /** {@link #quantize(Tensor, Geometry, Arena)} into memory of its own, freed when the returned cache is closed. */
    public static Quantized quantize(Tensor plain, Geometry target) {
        checkSource(plain, target);
        Tensor out = Tensor.allocate(DType.FP8_E4M3, target.cacheShape(plain.dim(0)));
        try {
            return new Quantized(out, fill(plain, target, out.segment()));
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /**
     * The values an FP8 cache stands for, as a bf16/fp16 cache ({@code to}) of the same page size and widths, in
     * {@code arena}: what the FP8 decode computes on (rounded to {@code to}), for comparing with a 16-bit decode.
     */
    public static Tensor dequantize(Tensor fp8, Geometry g, float kvScale, DType to, Arena arena) {
        if (arena == null) throw Checks.bad("arena", "is null");
        if (g == null || !g.format().isFp8()) throw Checks.bad("geometry", "is " + g + ", expected an FP8 cache format");
        if (to == null || !to.isDecodeType()) throw Checks.bad("to", "is " + to + ", expected BF16 or FP16");
        Checks.tensor("fp8", fp8, "host", DType.FP8_E4M3, g.cacheShape(fp8.dim(0)));
        Checks.kvScale(kvScale, g.format());
        long tokens = fp8.dim(0) * g.pageSize();
        int dqk = g.dQk();
        Tensor out = Tensor.allocate(arena, to, g.withFormat(CacheFormat.PLAIN).cacheShape(fp8.dim(0)));
        float[] row = new float[dqk];
        MemorySegment src = fp8.segment(), dst = out.segment();
        for (long t = 0; t < tokens; t++) {
            g.format().dequantize(src, t * g.tokenBytes(), g.dC(), g.dR(), to, kvScale, row, 0);
            for (int d = 0; d < dqk; d++) dst.set(I16, (t * dqk + d) * 2, Half.fromFloat(to, row[d]));
        }
        return out;
    }

    private static void checkSource(Tensor plain, Geometry target) {
        if (target == null) throw Checks.bad("target", "is null");
        if (!target.format().isFp8()) {
            throw Checks.bad("target", "format is " + target.format().id() + ", expected an FP8 format");
        }
        if (plain == null) throw Checks.bad("plain", "is null");
        if (plain.rank() != 4 || !plain.dtype().isDecodeType()) {
            throw Checks.bad("plain", "is " + plain + ", expected a bf16/fp16 cache [num_blocks, page, 1, d_qk]");
        }
        Checks.tensor("plain", plain, "host", plain.dtype(), target.withFormat(CacheFormat.PLAIN).cacheShape(plain.dim(0)));
    }

    /** Writes the FP8 cache into {@code dst}; returns its kvScale. */
    private static float fill(Tensor plain, Geometry g, MemorySegment dst) {
        MemorySegment src = plain.segment();
        DType dt = plain.dtype();
        int dc = g.dC(), dr = g.dR(), dqk = g.dQk(), tb = g.tokenBytes();
        long tokens = plain.dim(0) * g.pageSize();
        float[] v = new float[dqk];
        if (g.format() == CacheFormat.FP8_E4M3) {
            float amax = 0;
            for (long i = 0, n = tokens * dqk; i < n; i++) amax = Math.max(amax, Math.abs(Half.toFloat(dt, src.get(I16, 2 * i))));
            float scale = scaleFor(amax);
            for (long i = 0, n = tokens * dqk; i < n; i++) {
                dst.set(ValueLayout.JAVA_BYTE, i, Fp8.fromFloat(Half.toFloat(dt, src.get(I16, 2 * i)) / scale));
            }
            return scale;
        }
        int groups = CacheFormat.scaleGroups(dc), scales = CacheFormat.scalesOffset(dc), rope = CacheFormat.ropeOffset(dc);
        for (long t = 0; t < tokens; t++) {
            for (int d = 0; d < dqk; d++) v[d] = Half.toFloat(dt, src.get(I16, (t * dqk + d) * 2));
            long at = t * tb;
            for (int gi = 0; gi < groups; gi++) {
                int from = gi * CacheFormat.SCALE_GROUP, to = Math.min(dc, from + CacheFormat.SCALE_GROUP);
                float amax = 0;
                for (int d = from; d < to; d++) amax = Math.max(amax, Math.abs(v[d]));
                float scale = scaleFor(amax);
                dst.set(F32, at + scales + 4L * gi, scale);
                for (int d = from; d < to; d++) dst.set(ValueLayout.JAVA_BYTE, at + d, Fp8.fromFloat(v[d] / scale));
            }
            for (int d = 0; d < dr; d++) dst.set(I16, at + rope + 2L * d, Half.floatToBf16(v[dc + d]));
        }
        return 1f;
    }

    /** amax / 448, or 1 where everything is zero (any scale then decodes to zeros; 1 keeps it finite and normal). */
    private static float scaleFor(float amax) {
        float s = amax / Fp8.E4M3_MAX;
        return s >= Float.MIN_NORMAL && Float.isFinite(s) ? s : 1f;
    }
}
