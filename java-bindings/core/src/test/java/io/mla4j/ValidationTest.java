package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.ref.ReferenceBackend;
import io.mla4j.spi.Checks;
import io.mla4j.spi.HostBackend;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input gets an IllegalArgumentException naming the argument, before any work starts. One test per class. */
class ValidationTest {
    private final Arena arena = Arena.ofShared();
    private final ReferenceBackend be = new ReferenceBackend();
    private final int b = 2, hq = 4, sq = 2, blocks = 5;
    private final Tensor seqlens = Tensor.ofInts(arena, new int[] {70, 3}, b);
    private final Tensor table = Tensor.ofInts(arena, new int[] {4, 1, 0, -1}, b, 2);
    private final PlanSpec spec = PlanSpec.of(seqlens, table, blocks, hq, sq, DType.BF16);
    private final Tensor q = poisonFree(DType.BF16, b, sq, hq, Mla.D_QK);
    private final Tensor cache = poisonFree(DType.BF16, blocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
    private final Tensor out = Tensor.allocate(arena, DType.BF16, b, sq, hq, Mla.D_V);
    private final Tensor lse = Tensor.allocate(arena, DType.FP32, b, hq, sq);

    private Tensor poisonFree(DType dt, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        for (long i = 0; i < t.numel(); i++) t.setFloat(i, 0.01f * (i % 97) - 0.4f);
        return t;
    }

    @AfterEach
    void close() {
        be.close();
        if (arena.scope().isAlive()) arena.close();
    }

    private static void rejects(String argument, String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument + ":"), "message should name " + argument + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }

    private void decode(Tensor q2, Tensor cache2, Tensor out2, Tensor lse2) {
        try (MlaPlan plan = be.plan(spec)) {
            be.decode(plan, q2, cache2, out2, lse2);
        }
    }

    @Test
    void validInputRuns() {
        out.fill(Float.NaN);
        decode(q, cache, out, lse);
        for (float v : out.toFloatArray()) assertFalse(Float.isNaN(v));
    }

    @Test
    void wrongRank() {
        rejects("q", "rank is 3", () -> decode(Tensor.allocate(arena, DType.BF16, b, hq, Mla.D_QK), cache, out, lse));
        rejects("blockTable", "rank is 1", () -> be.plan(PlanSpec.of(seqlens, Tensor.ofInts(arena, new int[] {0, 1}, 2), blocks, hq, sq, DType.BF16)));
    }

    @Test
    void wrongDims() {
        rejects("q", "expected [2, 2, 4, 576]", () -> decode(Tensor.allocate(arena, DType.BF16, b, sq, hq, 512), cache, out, lse));
        rejects("kCache", "expected [5, 64, 1, 576]", () -> decode(q, Tensor.allocate(arena, DType.BF16, blocks, 32, 1, Mla.D_QK), out, lse));
        rejects("out", "expected [2, 2, 4, 512]", () -> decode(q, cache, Tensor.allocate(arena, DType.BF16, b, sq, hq, 576), lse));
        rejects("lse", "expected [2, 4, 2]", () -> decode(q, cache, out, Tensor.allocate(arena, DType.FP32, b, sq, hq)));
    }

    @Test
    void dtypeMismatch() {
        rejects("kCache", "dtype is FP16, expected BF16", () -> decode(q, Tensor.allocate(arena, DType.FP16, blocks, 64, 1, 576), out, lse));
        rejects("lse", "dtype is BF16, expected FP32", () -> decode(q, cache, out, Tensor.allocate(arena, DType.BF16, b, hq, sq)));
        rejects("dtype", "expected BF16 or FP16", () -> be.plan(PlanSpec.of(seqlens, table, blocks, hq, sq, DType.FP32)));
        rejects("seqlens", "dtype is FP32", () -> be.plan(PlanSpec.of(Tensor.allocate(arena, DType.FP32, b), table, blocks, hq, sq, DType.BF16)));
    }

    @Test
    void negativeSeqlen() {
        rejects("seqlens", "seqlens[1] = -1 is negative",
                () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {70, -1}, b), table, blocks, hq, sq, DType.BF16)));
    }

    @Test
    void seqlenBeyondTheBlocksGiven() {
        rejects("seqlens", "needs 3 blocks", () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {129, 3}, b), table, blocks, hq, sq, DType.BF16)));
    }

    @Test
    void blockIdOutOfRange() {
        rejects("blockTable", "blockTable[1][0] = 7 is out of range [0, 5)",
                () -> be.plan(PlanSpec.of(seqlens, Tensor.ofInts(arena, new int[] {4, 1, 7, 0}, b, 2), blocks, hq, sq, DType.BF16)));
        rejects("blockTable", "= -1 is out of range",
                () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {70, 65}, b), table, blocks, hq, sq, DType.BF16)));
    }

    @Test
    void segmentTooSmall() {
        var small = arena.allocate(100);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(small, DType.BF16, b, sq, hq, Mla.D_QK));
        assertTrue(e.getMessage().contains("too small"), e.getMessage());
    }

    @Test
    void segmentClosed() {
        Tensor t = Tensor.allocate(DType.BF16, b, sq, hq, Mla.D_QK);
        t.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> decode(t, cache, out, lse));
        assertTrue(e.getMessage().startsWith("q: is closed"), e.getMessage());
    }

    @Test
    void segmentMisaligned() {
        var raw = arena.allocate(b * sq * hq * Mla.D_QK * 2L + 8, 8);
        Tensor odd = Tensor.wrap(raw.asSlice(1), DType.BF16, b, sq, hq, Mla.D_QK);
        rejects("q", "not aligned to 2 bytes", () -> decode(odd, cache, out, lse));
    }

    @Test
    void wrongMemory() {
        Tensor dev = Tensor.onDevice("cuda:0", 0x10000, DType.BF16, new long[] {b, sq, hq, Mla.D_QK}, null);
        rejects("q", "is in cuda:0 memory, expected host memory", () -> decode(dev, cache, out, lse));
    }

    @Test
    void unsupportedShapeForABackend() {
        try (HostBackend limited = new LimitedBackend()) {
            rejects("numHeads", "supports h_q in {16, 128}", () -> limited.plan(spec));
            rejects("queryLen", "supports s_q <= 1", () -> limited.plan(PlanSpec.of(seqlens, table, blocks, 16, 2, DType.BF16)));
        }
    }

    @Test
    void scaleNotFinite() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, 0f, -1f}) {
            rejects("scale", "finite positive", () -> be.plan(spec.withScale(bad)));
        }
    }

    @Test
    void badCountsAndNulls() {
        rejects("numHeads", "h_q is 0", () -> be.plan(PlanSpec.of(seqlens, table, blocks, 0, sq, DType.BF16)));
        rejects("queryLen", "s_q is 0", () -> be.plan(PlanSpec.of(seqlens, table, blocks, hq, 0, DType.BF16)));
        rejects("numCacheBlocks", "expected >= 1", () -> be.plan(PlanSpec.of(seqlens, table, 0, hq, sq, DType.BF16)));
        rejects("spec", "is null", () -> be.plan(null));
        rejects("q", "is null", () -> decode(null, cache, out, lse));
        rejects("plan", "is null", () -> be.decode(null, q, cache, out, lse));
    }

    @Test
    void planFromAnotherBackendOrClosed() {
        MlaPlan plan = be.plan(spec);
        plan.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.decode(plan, q, cache, out, lse));
        assertTrue(e.getMessage().startsWith("plan: is closed"), e.getMessage());
        try (ReferenceBackend other = new ReferenceBackend(); MlaPlan foreign = other.plan(spec)) {
            rejects("plan", "another backend", () -> be.decode(foreign, q, cache, out, lse));
        }
    }

    @Test
    void closedBackend() {
        be.close();
        assertThrows(IllegalStateException.class, () -> be.plan(spec));
    }

    /** A backend that, like a specialised kernel, supports only some shapes. */
    private static final class LimitedBackend extends HostBackend {
        @Override public String name() { return "limited"; }
        @Override public String description() { return "test"; }
        @Override protected int parallelism(PlanSpec s) { return 1; }
        @Override protected void doDecode(MlaPlan p, Tensor q, Tensor k, float s, Tensor o, Tensor l) { throw new AssertionError("never reached"); }
        @Override
        public void checkSupported(int numHeads, int queryLen, DType dtype) {
            if (numHeads != 16 && numHeads != 128) throw Checks.bad("numHeads", "h_q is " + numHeads + ", limited supports h_q in {16, 128}");
            if (queryLen > 1) throw Checks.bad("queryLen", "s_q is " + queryLen + ", limited supports s_q <= 1");
        }
    }
}
