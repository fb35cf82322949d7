package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link MlaBackend#warmUp}: validates its spec as {@link MlaBackend#plan} does, leaves nothing allocated and the
 * caller's tensors as they were, and changes no result. How much it saves is measured in docs/PERF.md
 * ("Start-up"), not here: the tests stop the cpu backend's warm-up after a fraction of a second.
 */
class WarmUpTest {
    private static final long SHORT = 300_000_000L; // ns: enough for the tests' points, not for the JIT
    private final int[] lens = {700, 1, 130};
    private final int hq = 16, sq = 2, b = lens.length, maxBlocks = Mla.blocksFor(700), blocks = b * maxBlocks;

    private Tensor table(Arena arena) {
        int[] t = new int[b * maxBlocks];
        for (int i = 0; i < t.length; i++) t[i] = t.length - 1 - i; // every slot a valid block, reversed
        return Tensor.ofInts(arena, t, b, maxBlocks);
    }

    private PlanSpec spec(Arena arena, DType dt, boolean causal) {
        return new PlanSpec(Tensor.ofInts(arena, lens, b), table(arena), blocks, hq, sq, dt, causal, Mla.defaultScale());
    }

    /** Both calls throw the same exception type with the same message. */
    private static void sameError(Executable plan, Executable warmUp) {
        Throwable want = assertThrows(RuntimeException.class, plan);
        Throwable got = assertThrows(RuntimeException.class, warmUp);
        assertEquals(want.getClass(), got.getClass(), "warmUp threw " + got);
        assertEquals(want.getMessage(), got.getMessage());
    }

    @Test
    void badSpecGetsThePlansNamedError() {
        try (Arena arena = Arena.ofConfined(); CpuBackend cpu = new CpuBackend(CpuBackend.Rescale.PLAIN, 2);
             ReferenceBackend ref = new ReferenceBackend()) {
            Tensor seqlens = Tensor.ofInts(arena, lens, b);
            PlanSpec[] bad = {
                new PlanSpec(Tensor.ofInts(arena, new int[] {700, 1, 64 * maxBlocks + 1}, b), table(arena), blocks, hq, sq,
                        DType.BF16, false, Mla.defaultScale()), // longer than its table row
                // a block id >= num_blocks
                new PlanSpec(seqlens, table(arena), blocks - 1, hq, sq, DType.BF16, false, Mla.defaultScale()),
                new PlanSpec(seqlens, table(arena), blocks, hq, sq, DType.FP32, false, Mla.defaultScale()),     // dtype
                new PlanSpec(seqlens, table(arena), blocks, 0, sq, DType.BF16, false, Mla.defaultScale()),      // h_q
            };
            for (MlaBackend be : new MlaBackend[] {cpu, ref}) { // the cpu override and the interface's default
                for (PlanSpec s : bad) sameError(() -> be.plan(s), () -> be.warmUp(s));
                sameError(() -> be.plan(null), () -> be.warmUp(null));
                assertTrue(assertThrows(IllegalArgumentException.class, () -> be.warmUp(null)).getMessage().startsWith("spec:"));
            }
            cpu.close();
            sameError(() -> cpu.plan(spec(arena, DType.BF16, false)), () -> cpu.warmUp(spec(arena, DType.BF16, false)));
        }
    }

    @Test
    void leavesNothingAllocatedAndTheSpecUnchanged() {
        try (Arena arena = Arena.ofConfined(); CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 2);
             ReferenceBackend ref = new ReferenceBackend()) {
            PlanSpec spec = spec(arena, DType.FP16, true);
            int[] seqlensBefore = spec.seqlens().toIntArray(), tableBefore = spec.blockTable().toIntArray();
            be.warmUp(spec, SHORT);
            assertEquals(0, be.liveTensors(), "scratch tensors left open by warmUp");
            ref.warmUp(spec);
            assertEquals(0, ref.liveTensors());
            assertArrayEquals(seqlensBefore, spec.seqlens().toIntArray());
            assertArrayEquals(tableBefore, spec.blockTable().toIntArray());
            be.warmUp(spec, SHORT); // again: allowed, and still nothing left
            assertEquals(0, be.liveTensors());
        }
    }

    private record Result(float[] o, float[] lse) {}

    private static Result decode(CpuBackend be, PlanSpec spec, long seed) {
        DType dt = spec.dtype();
        try (Tensor q = be.allocate(dt, spec.batch(), spec.queryLen(), spec.numHeads(), Mla.D_QK);
             Tensor cache = be.allocate(dt, spec.numCacheBlocks(), Mla.BLOCK_SIZE, Mla.H_KV, Mla.D_QK);
             Tensor o = be.allocate(dt, spec.batch(), spec.queryLen(), spec.numHeads(), Mla.D_V);
             Tensor lse = be.allocate(DType.FP32, spec.batch(), spec.numHeads(), spec.queryLen());
             MlaPlan plan = be.plan(spec)) {
            Random rnd = new Random(seed);
            for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) rnd.nextGaussian());
            for (long i = 0; i < cache.numel(); i++) cache.setFloat(i, (float) rnd.nextGaussian());
            o.fill(Float.NaN);
            lse.fill(Float.NaN);
            be.decode(plan, q, cache, o, lse);
            return new Result(o.toFloatArray(), lse.toFloatArray());
        }
    }

    /**
     * Warm-up leaves no state that changes a result: after it, a warmed backend and a never-warmed one give the same
     * bits. Against a decode run before the warm-up the bits may differ in the last place (seen: lse, bf16), because
     * that one may have run partly interpreted (and a pair of decodes may straddle a tier change, so up to five
     * pairs are tried): the Vector API's compiled lanewise exp and lane reductions need not
     * round as its Java fallback does. That is the JIT's, not warmUp's, and stays within a few ulps.
     */
    @Test
    void resultsAreTheSameWithAndWithoutWarmUp() {
        for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
            try (Arena arena = Arena.ofConfined(); CpuBackend cold = new CpuBackend(CpuBackend.Rescale.PLAIN, 2);
                 CpuBackend warm = new CpuBackend(CpuBackend.Rescale.PLAIN, 2)) {
                PlanSpec spec = spec(arena, dt, true);
                Result before = decode(cold, spec, 7);
                warm.warmUp(spec, SHORT);
                Result after = null, coldAgain = null;
                for (int pair = 0; pair < 5; pair++) { // a pair straddling a tier change may differ; the next one may not
                    after = decode(warm, spec, 7);
                    coldAgain = decode(cold, spec, 7);
                    if (Arrays.equals(coldAgain.o(), after.o()) && Arrays.equals(coldAgain.lse(), after.lse())) break;
                }
                assertTrue(Arrays.equals(coldAgain.o(), after.o()), dt + ": o differs between warmed and unwarmed backends");
                assertTrue(Arrays.equals(coldAgain.lse(), after.lse()), dt + ": lse differs, warmed vs unwarmed backend");
                double ulp = dt == DType.BF16 ? 0x1p-7 : 0x1p-10;
                for (int i = 0; i < after.o().length; i++) {
                    assertFalse(Float.isNaN(after.o()[i]), "o left unwritten");
                    assertEquals(before.o()[i], after.o()[i], 2 * ulp * Math.abs(before.o()[i]) + 1e-6, dt + " o " + i);
                }
                for (int i = 0; i < after.lse().length; i++) {
                    assertEquals(before.lse()[i], after.lse()[i], 1e-5 * Math.max(1, Math.abs(before.lse()[i])),
                            dt + " lse " + i);
                }
            }
        }
    }
}
