package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * Host memory from a confined arena (README, "Host memory and threads"): a cpu decode's tensors must be readable by
 * the backend's worker threads, so a confined q, kCache, out or lse is refused up front with an
 * IllegalArgumentException naming it (never a WrongThreadException from a worker); plan inputs and copies are
 * read on the caller's thread, so confined ones are fine there and refused, named, on any other thread.
 */
class HostMemoryTest {
    private final int b = 2, hq = 4, sq = 1, blocks = 3;

    private static void rejects(String argument, String fragment, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument + ":"), "message should name " + argument + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }

    private PlanSpec spec(Arena arena) {
        return PlanSpec.of(Tensor.ofInts(arena, new int[] {70, 3}, b), Tensor.ofInts(arena, new int[] {2, 0, 1, -1}, b, 2),
                blocks, hq, sq, DType.BF16);
    }

    private static Tensor filled(Arena arena, DType dt, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        for (long i = 0; i < t.numel(); i++) t.setFloat(i, 0.01f * (i % 89) - 0.3f);
        return t;
    }

    @Test
    void confinedDecodeTensorsAreRefusedByName() {
        for (MlaBackend be : new MlaBackend[] {new CpuBackend(CpuBackend.Rescale.PLAIN, 2)}) {
            try (be; Arena shared = Arena.ofShared(); Arena confined = Arena.ofConfined(); MlaPlan plan = be.plan(spec(shared))) {
                Tensor q = filled(shared, DType.BF16, b, sq, hq, Mla.D_QK);
                Tensor cache = filled(shared, DType.BF16, blocks, 64, 1, Mla.D_QK);
                Tensor out = Tensor.allocate(shared, DType.BF16, b, sq, hq, Mla.D_V);
                Tensor lse = Tensor.allocate(shared, DType.FP32, b, hq, sq);
                Tensor cq = filled(confined, DType.BF16, b, sq, hq, Mla.D_QK);
                Tensor cc = filled(confined, DType.BF16, blocks, 64, 1, Mla.D_QK);
                Tensor co = Tensor.allocate(confined, DType.BF16, b, sq, hq, Mla.D_V);
                Tensor cl = Tensor.allocate(confined, DType.FP32, b, hq, sq);
                String why = "confined-arena segment";
                rejects("q", why, () -> be.decode(plan, cq, cache, out, lse));
                rejects("kCache", why, () -> be.decode(plan, q, cc, out, lse));
                rejects("out", why, () -> be.decode(plan, q, cache, co, lse));
                rejects("lse", why, () -> be.decode(plan, q, cache, out, cl));
                out.fill(Float.NaN);
                be.decode(plan, q, cache, out, lse); // shared memory: fine, and nothing was written by the refused calls
                for (float v : out.toFloatArray()) assertFalse(Float.isNaN(v));
                assertEquals(0f, co.getFloat(0)); // never touched
            }
        }
    }

    @Test
    void theReferenceBackendDecodesConfinedMemoryOnItsOwnerThread() throws Exception {
        try (ReferenceBackend be = new ReferenceBackend(); Arena confined = Arena.ofConfined();
             MlaPlan plan = be.plan(spec(confined))) {
            Tensor q = filled(confined, DType.BF16, b, sq, hq, Mla.D_QK);
            Tensor cache = filled(confined, DType.BF16, blocks, 64, 1, Mla.D_QK);
            Tensor out = Tensor.allocate(confined, DType.BF16, b, sq, hq, Mla.D_V);
            Tensor lse = Tensor.allocate(confined, DType.FP32, b, hq, sq);
            be.decode(plan, q, cache, out, lse); // it runs on this thread: nothing to refuse
            CompletableFuture<Void> f = CompletableFuture.runAsync(() -> be.decode(plan, q, cache, out, lse),
                    r -> Thread.ofPlatform().start(r));
            ExecutionException e = assertThrows(ExecutionException.class, f::get);
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
            assertTrue(e.getCause().getMessage().startsWith("q:"), e.getCause().getMessage());
        }
    }

    @Test
    void confinedPlanInputsWorkOnTheirOwnersThread() {
        try (CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 2); Arena confined = Arena.ofConfined()) {
            PlanSpec spec = spec(confined);
            be.plan(spec).close();
            try (ReferenceBackend ref = new ReferenceBackend()) {
                ref.warmUp(spec); // the interface's default warm-up plans on this thread too
            }
            try (Tensor src = filled(confined, DType.BF16, 8); Tensor dst = be.allocate(DType.BF16, 8)) { // copies run here too
                be.copy(src, dst);
                assertEquals(src.getFloat(7), dst.getFloat(7));
            }
        }
    }

    @Test
    void confinedPlanInputsAreRefusedOnAnotherThread() throws Exception {
        try (CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 2); Arena confined = Arena.ofConfined();
             Arena shared = Arena.ofShared()) {
            PlanSpec mine = spec(confined);
            PlanSpec mixed = PlanSpec.of(spec(shared).seqlens(), mine.blockTable(), blocks, hq, sq, DType.BF16);
            Tensor src = filled(confined, DType.BF16, 8), dst = Tensor.allocate(shared, DType.BF16, 8);
            record Call(String arg, Runnable run) {}
            for (Call call : new Call[] {
                    new Call("seqlens", () -> be.plan(mine).close()),
                    new Call("blockTable", () -> be.plan(mixed).close()),
                    new Call("seqlens", () -> be.warmUp(mine)),
                    new Call("src", () -> be.copy(src, dst))}) {
                String arg = call.arg();
                Runnable r = call.run();
                CompletableFuture<Void> f = CompletableFuture.runAsync(r, runnable -> Thread.ofPlatform().start(runnable));
                ExecutionException e = assertThrows(ExecutionException.class, f::get);
                assertInstanceOf(IllegalArgumentException.class, e.getCause(), arg + ": " + e.getCause());
                assertTrue(e.getCause().getMessage().startsWith(arg + ":"), e.getCause().getMessage());
                assertTrue(e.getCause().getMessage().contains("owned by another thread"), e.getCause().getMessage());
            }
        }
    }
}
