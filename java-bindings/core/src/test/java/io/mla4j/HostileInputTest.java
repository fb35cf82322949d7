package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import io.mla4j.spi.AbstractMlaBackend;
import io.mla4j.spi.HostBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The defects of issue 17 (a hostile-user fuzz campaign), one test per class, on both host backends.
 * Each failed before its fix (docs/RELIABILITY.md lists what each one did).
 */
class HostileInputTest {
    private final Arena arena = Arena.ofShared();
    private final List<Supplier<HostBackend>> backends = List.of(ReferenceBackend::new, () -> new CpuBackend(CpuBackend.Rescale.PLAIN, 2));

    @AfterEach
    void close() {
        arena.close();
    }

    static IllegalArgumentException rejects(String argument, String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument + ":"), "message should name " + argument + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
        return e;
    }

    static void closedState(String fragment, Executable call) {
        IllegalStateException e = assertThrows(IllegalStateException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }

    private Tensor ints(int[] v, long... shape) { return Tensor.ofInts(arena, v, shape); }

    // 1. a seqlen in [2^31 - 63, 2^31 - 1] overflowed the block count, so no block id was checked
    @Test
    void defect1_seqlenNearIntMaxIsRejected() {
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                for (int len : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 62, Mla.MAX_SEQLEN + 1}) {
                    PlanSpec spec = PlanSpec.of(ints(new int[] {len}, 1), ints(new int[] {0, 1}, 1, 2), 4, 16, 1, DType.BF16);
                    rejects("seqlens", "Mla.MAX_SEQLEN", () -> be.plan(spec));
                }
                // at the limit: the block count is exact, so it fails on the table width, not silently
                PlanSpec atLimit = PlanSpec.of(ints(new int[] {Mla.MAX_SEQLEN}, 1), ints(new int[] {0, 1}, 1, 2), 4, 16, 1, DType.BF16);
                rejects("seqlens", "needs " + Mla.MAX_BLOCKS_PER_SEQUENCE + " blocks", () -> be.plan(atLimit));
            }
        }
        assertEquals(Mla.MAX_BLOCKS_PER_SEQUENCE, Mla.blocksFor(Mla.MAX_SEQLEN));
        assertEquals(33_554_432, Mla.blocksFor(Integer.MAX_VALUE)); // long math: no wrap to a negative count
    }

    // 2. byte sizes overflowed silently: a [2^62] shape over a 1- or 16-byte buffer
    @Test
    void defect2_byteSizeOverflowIsRejected() {
        MemorySegment small = arena.allocate(16);
        rejects("shape", "2^63 - 1 bytes", () -> Tensor.wrap(small, DType.BF16, 1L << 62));
        rejects("shape", "2^63 - 1 bytes", () -> Tensor.wrap(small, DType.FP32, 1L << 62));
        rejects("shape", "2^63 - 1 bytes", () -> Tensor.allocate(arena, DType.BF16, 1L << 62));
        rejects("shape", "2^63 - 1 bytes", () -> Tensor.allocate(DType.INT32, 1L << 62));
        rejects("shape", "2^63 - 1 elements", () -> Tensor.allocate(arena, DType.BF16, 1L << 40, 1L << 40));
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                rejects("shape", "2^63 - 1 bytes", () -> be.allocate(DType.BF16, 1L << 62));
                rejects("shape", "2^63 - 1 elements", () -> be.allocate(DType.BF16, Long.MAX_VALUE, 2));
            }
        }
        assertEquals(16, Tensor.byteSize(DType.FP32, 2, 2));
        assertEquals(0, Tensor.byteSize(DType.FP32, 0, Long.MAX_VALUE));
    }

    // 3. h_q * s_q overflowed int: NegativeArraySizeException on cpu, a 0-row plan, h_q = MAX_VALUE accepted
    @Test
    void defect3_rowsOverflowIsRejected() {
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                Tensor sl = ints(new int[] {10}, 1), bt = ints(new int[] {0}, 1, 1);
                rejects("numHeads", "Mla.MAX_ROWS", () -> be.plan(PlanSpec.of(sl, bt, 2, Integer.MAX_VALUE, 1, DType.BF16)));
                rejects("numHeads", "Mla.MAX_ROWS", () -> be.plan(PlanSpec.of(sl, bt, 2, 65536, 65536, DType.BF16)));
                rejects("queryLen", "Mla.MAX_ROWS", () -> be.plan(PlanSpec.of(sl, bt, 2, 2, 1 << 30, DType.BF16)));
                rejects("numHeads", "Mla.MAX_ROWS", () -> be.checkSupported(1 << 16, 1 << 16, DType.BF16));
            }
        }
    }

    // 4. closing a tensor from backend.allocate freed nothing until the backend closed
    @Test
    void defect4_closingAnAllocatedTensorFreesIt() throws Exception {
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                Tensor t = be.allocate(DType.BF16, 64, 576);
                assertEquals(1, be.liveTensors());
                t.close();
                assertFalse(t.segment().scope().isAlive(), "the tensor's memory is freed by its close()");
                assertEquals(0, be.liveTensors());
                Tensor kept = be.allocate(DType.FP32, 8);
                be.close();
                assertTrue(kept.isClosed(), "closing the backend frees (and closes) what is still open");
            }
        }
        // 10,000 allocate/close cycles of 72 KiB: RSS stays flat (it grew by 707 MiB before the fix)
        try (HostBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 1)) {
            for (int i = 0; i < 500; i++) be.allocate(DType.BF16, 64, 576).close(); // warm up
            long before = rssKiB();
            for (int i = 0; i < 10_000; i++) {
                Tensor t = be.allocate(DType.BF16, 64, 576);
                t.setFloat(i % t.numel(), 1f); // touch it
                t.close();
            }
            long growth = rssKiB() - before;
            System.out.println("defect4: RSS growth over 10,000 allocate/close cycles of 72 KiB: " + growth + " KiB");
            if (before > 0) assertTrue(growth < 64 * 1024, "RSS grew by " + growth + " KiB");
            assertEquals(0, be.liveTensors());
        }
    }

    static long rssKiB() throws Exception {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) return 0;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return 0;
    }

    // 6. unexpected exception types or no argument named
    @Test
    void defect6_everyMisuseIsANamedArgumentError() {
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                rejects("dtype", "is null", () -> be.allocate(null, 4));
                rejects("shape", "is null", () -> be.allocate(DType.BF16, (long[]) null));
                rejects("shape", "negative", () -> be.allocate(DType.BF16, 4, -1));
                rejects("shape", "2^63 - 1", () -> be.allocate(DType.BF16, Long.MAX_VALUE, Long.MAX_VALUE));
                rejects("dtype", "is null", () -> be.checkSupported(16, 1, null));
                rejects("src", "is null", () -> be.copy(null, Tensor.allocate(arena, DType.BF16, 4)));

                // read-only outputs: refused before the decode starts, not the JDK's message midway
                Tensor sl = ints(new int[] {70}, 1), bt = ints(new int[] {1, 0}, 1, 2);
                try (MlaPlan plan = be.plan(PlanSpec.of(sl, bt, 2, 4, 1, DType.BF16))) {
                    Tensor q = random(DType.BF16, 1, 1, 4, Mla.D_QK), cache = random(DType.BF16, 2, 64, 1, Mla.D_QK);
                    Tensor out = Tensor.allocate(arena, DType.BF16, 1, 1, 4, Mla.D_V), lse = Tensor.allocate(arena, DType.FP32, 1, 4, 1);
                    Tensor roOut = Tensor.wrap(out.segment().asReadOnly(), DType.BF16, 1, 1, 4, Mla.D_V);
                    Tensor roLse = Tensor.wrap(lse.segment().asReadOnly(), DType.FP32, 1, 4, 1);
                    rejects("out", "read-only", () -> be.decode(plan, q, cache, roOut, lse));
                    rejects("lse", "read-only", () -> be.decode(plan, q, cache, out, roLse));
                    rejects("dst", "read-only", () -> be.copy(q, Tensor.wrap(q.segment().asReadOnly(), DType.BF16, q.shape())));
                    be.decode(plan, q, cache, out, lse); // state intact after the misuse
                    assertTrue(Float.isFinite(lse.getFloat(0)));
                }

                // copy from a closed host tensor: IllegalStateException naming it, not the JDK's "Already closed"
                Tensor closed = Tensor.allocate(DType.BF16, 4);
                closed.close();
                closedState("src: is closed", () -> be.copy(closed, Tensor.allocate(arena, DType.BF16, 4)));
                closedState("dst: is closed", () -> be.copy(Tensor.allocate(arena, DType.BF16, 4), closed));
            }
        }
        Tensor t = Tensor.allocate(arena, DType.FP32, 4);
        rejects("i", "out of range [0, 4)", () -> t.getFloat(4));
        rejects("i", "out of range [0, 4)", () -> t.setFloat(-1, 0f));
        rejects("i", "out of range [0, 1)", () -> t.dim(1));
        rejects("values", "is null", () -> Tensor.ofInts(arena, null, 1));
        rejects("arena", "is null", () -> Tensor.allocate(null, DType.FP32, 1));
        rejects("segment", "is null", () -> Tensor.wrap(null, DType.FP32, 1));
        Tensor gone = Tensor.allocate(DType.FP32, 4);
        gone.close();
        closedState("closed tensor", () -> gone.getFloat(0));
    }

    // 7. scale = Float.MAX_VALUE passed validation: NaN on cpu, lse = +inf on the others
    @Test
    void defect7_hugeScaleIsRejected() {
        for (var mk : backends) {
            try (HostBackend be = mk.get()) {
                PlanSpec spec = PlanSpec.of(ints(new int[] {70}, 1), ints(new int[] {1, 0}, 1, 2), 2, 4, 1, DType.BF16);
                for (float s : new float[] {Float.MAX_VALUE, Mla.MAX_SCALE * 2, Float.MIN_VALUE}) {
                    rejects("scale", "Mla.MAX_SCALE", () -> be.plan(spec.withScale(s)));
                }
                be.plan(spec.withScale(Mla.MAX_SCALE)).close();
            }
        }
    }

    // 8 (the core half): a device tensor of a closed backend reads as closed, so another backend refuses it
    @Test
    void defect8_tensorOfAClosedBackendIsClosed() {
        DeviceLike owner = new DeviceLike();
        Tensor t = owner.allocate(DType.BF16, 4);
        assertFalse(t.isClosed());
        owner.close();
        assertTrue(t.isClosed(), "a tensor whose backend closed is closed");
        try (DeviceLike other = new DeviceLike()) {
            closedState("src: is closed", () -> other.copy(t, other.allocate(DType.BF16, 4)));
        }
    }

    // 9. Tensor.onDevice("host", ...) passed a host backend's memory check, then failed inside a worker
    @Test
    void defect9_onDeviceCannotClaimHostMemory() {
        rejects("device", "not a device name", () -> Tensor.onDevice("host", 0x1000, DType.BF16, new long[] {4}, null));
        rejects("device", "not a device name", () -> Tensor.onDevice(" ", 0x1000, DType.BF16, new long[] {4}, null));
        rejects("device", "is null", () -> Tensor.onDevice(null, 0x1000, DType.BF16, new long[] {4}, null));
    }

    // 10. synchronize() after close threw on ascend but not on cpu or reference
    @Test
    void defect10_synchronizeAfterCloseThrows() {
        for (var mk : backends) {
            HostBackend be = mk.get();
            be.synchronize();
            be.close();
            closedState("backend is closed", be::synchronize);
            closedState("backend is closed", () -> be.allocate(DType.BF16, 4));
            closedState("backend is closed", () -> be.copy(null, null));
            be.close(); // idempotent
        }
    }

    // closed plans and tensors are IllegalStateException naming them
    @Test
    void closedPlanAndTensorAreStateErrors() {
        try (HostBackend be = new ReferenceBackend()) {
            Tensor sl = ints(new int[] {70}, 1), bt = ints(new int[] {1, 0}, 1, 2);
            MlaPlan plan = be.plan(PlanSpec.of(sl, bt, 2, 4, 1, DType.BF16));
            Tensor q = random(DType.BF16, 1, 1, 4, Mla.D_QK), cache = be.allocate(DType.BF16, 2, 64, 1, Mla.D_QK);
            Tensor out = Tensor.allocate(arena, DType.BF16, 1, 1, 4, Mla.D_V), lse = Tensor.allocate(arena, DType.FP32, 1, 4, 1);
            cache.close();
            closedState("kCache: is closed", () -> be.decode(plan, q, cache, out, lse));
            plan.close();
            closedState("plan: is closed", () -> be.decode(plan, q, cache, out, lse));
            Tensor closedSeqlens = Tensor.allocate(DType.INT32, 1);
            closedSeqlens.close();
            closedState("seqlens: is closed", () -> be.plan(PlanSpec.of(closedSeqlens, bt, 2, 4, 1, DType.BF16)));
        }
    }

    private Tensor random(DType dt, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        java.util.Random r = new java.util.Random(7);
        for (long i = 0; i < t.numel(); i++) t.setFloat(i, (float) r.nextGaussian() + 0.01f);
        return t;
    }

    /** A device backend in miniature: tensors carry the backend's openness, as AscendBackend's do. */
    private static final class DeviceLike extends AbstractMlaBackend {
        private final Arena mem = Arena.ofShared();
        @Override public String name() { return "devicelike"; }
        @Override public String description() { return "test"; }
        @Override public String memory() { return "dev:0"; }
        @Override protected int parallelism(PlanSpec s) { return 1; }
        @Override protected void doDecode(MlaPlan p, Tensor q, Tensor k, float s, Tensor o, Tensor l) { throw new AssertionError(); }
        @Override protected void release() { mem.close(); }
        @Override public void synchronize() { ensureOpen(); }
        @Override
        public Tensor allocate(DType dtype, long... shape) {
            ensureOpen();
            long bytes = io.mla4j.spi.Checks.allocation(dtype, shape);
            return Tensor.onDevice(memory(), mem.allocate(Math.max(1, bytes)).address(), dtype, shape, null, openness());
        }
        @Override
        public void copy(Tensor src, Tensor dst) {
            ensureOpen();
            io.mla4j.spi.Checks.copyArgs(src, dst, memory());
        }
    }
}
