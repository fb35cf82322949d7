package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.ascend.acl.mla4j_acl_emu_h;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Issue 17's defects on the ascend backend (5, 8, 10) and the shared ones through its own allocate/copy. */
class AscendHostileInputTest {

    @BeforeAll
    static void loadAcl() { AclLibrary.load(TestLibs.emulator()); }

    /** The shipped AMLA kernel through the provider (what users get). */
    static AscendBackend open() {
        AscendBackendProvider p = new AscendBackendProvider();
        assumeTrue(p.unavailableReason().isEmpty(), () -> "ascend backend unavailable: " + p.unavailableReason().orElse(""));
        return (AscendBackend) p.create();
    }

    static void rejects(String argument, String fragment, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(argument + ":"), "message should name " + argument + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message should say '" + fragment + "': " + e.getMessage());
    }

    // 5. the tiling's own reason is shown; checkSupported says it; a 0-column table with all-zero seqlens runs
    @Test
    void defect5_unsupportedStepsSayWhyAndEmptyTablesRun() {
        try (AscendBackend be = open(); Arena arena = Arena.ofConfined()) {
            rejects("numHeads", "h_q in [1, 128]", () -> be.checkSupported(129, 1, DType.BF16));
            Tensor sl = Tensor.ofInts(arena, new int[] {10}, 1), bt = Tensor.ofInts(arena, new int[] {0}, 1, 1);
            rejects("numHeads", "h_q in [1, 128]", () -> be.plan(PlanSpec.of(sl, bt, 1, 129, 1, DType.BF16)));
            // geometry (issue 22): the widths whose tiles fit are taken at every page size; wider ones are refused at
            // checkSupported and at plan with the tiling's reason (the buffer they would overflow)
            for (int page : new int[] {1, 2, 16, 32, 64, 128, 256})
                for (int[] w : new int[][] {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}, {80, 16}, {768, 16}})
                    assertDoesNotThrow(() -> be.checkSupported(io.mla4j.Geometry.of(page, w[0], w[1])), page + " " + w[0]);
            rejects("geometry", "bytes of L1", () -> be.checkSupported(io.mla4j.Geometry.of(16, 768, 32)));
            rejects("geometry", "bytes of UB", () -> be.checkSupported(io.mla4j.Geometry.of(64, 1024, 64)));
            rejects("geometry", "page 64, 768+32; the Ascend kernel's tiling refuses it: d_c + d_r = 800 needs",
                    () -> be.plan(PlanSpec.of(sl, bt, 1, 16, 1, DType.BF16, io.mla4j.Geometry.of(64, 768, 32))));
            rejects("geometry", "bf16/fp16 caches only",
                    () -> be.checkSupported(io.mla4j.Geometry.DEEPSEEK.withFormat(io.mla4j.CacheFormat.FP8_E4M3)));
            // the C tiling's own words reach the caller when it refuses (here: called directly, past the Java checks)
            rejects("numHeads", "num_heads must be in [1, 128]", () -> new MlaKernel(TestLibs.tiling())
                    .tiling(PlanSpec.of(sl, bt, 1, 200, 1, DType.BF16), new int[] {10}, 4));

            // 0 columns, all seqlens 0: accepted by cpu and reference, so by ascend too: o = 0, lse = +inf
            int b = 2, hq = 4;
            Tensor zeros = Tensor.ofInts(arena, new int[] {0, 0}, b);
            Tensor empty = Tensor.ofInts(arena, new int[0], b, 0);
            try (MlaPlan plan = be.plan(PlanSpec.of(zeros, empty, 1, hq, 1, DType.BF16));
                 Tensor q = be.allocate(DType.BF16, b, 1, hq, Mla.D_QK);
                 Tensor cache = be.allocate(DType.BF16, 1, Mla.BLOCK_SIZE, 1, Mla.D_QK);
                 Tensor o = be.allocate(DType.BF16, b, 1, hq, Mla.D_V);
                 Tensor lse = be.allocate(DType.FP32, b, hq, 1)) {
                Tensor hq0 = Tensor.allocate(arena, DType.BF16, q.shape());
                hq0.fill(0.5f);
                be.copy(hq0, q);
                Tensor ho = Tensor.allocate(arena, DType.BF16, o.shape()), hl = Tensor.allocate(arena, DType.FP32, lse.shape());
                ho.fill(Float.NaN);
                hl.fill(Float.NaN);
                be.copy(ho, o);
                be.copy(hl, lse);
                be.decode(plan, q, cache, o, lse);
                be.synchronize();
                be.copy(o, ho);
                be.copy(lse, hl);
                for (float v : ho.toFloatArray()) assertEquals(0f, v);
                for (float v : hl.toFloatArray()) assertEquals(Float.POSITIVE_INFINITY, v);
            }
        }
    }

    // 8. a device tensor of a closed backend is closed: another backend refuses it before ACL sees it
    @Test
    void defect8_deviceTensorOfAClosedBackendIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            AscendBackend first = open();
            Tensor stale = first.allocate(DType.BF16, 1, 1, 4, Mla.D_QK);
            first.close();
            assertTrue(stale.isClosed(), "closing the backend closes its tensors");
            try (AscendBackend second = open()) {
                Tensor host = Tensor.allocate(arena, DType.BF16, stale.shape());
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> second.copy(host, stale));
                assertTrue(e.getMessage().startsWith("dst: is closed"), e.getMessage());
                Tensor sl = Tensor.ofInts(arena, new int[] {10}, 1), bt = Tensor.ofInts(arena, new int[] {0}, 1, 1);
                try (MlaPlan plan = second.plan(PlanSpec.of(sl, bt, 1, 4, 1, DType.BF16));
                     Tensor cache = second.allocate(DType.BF16, 1, 64, 1, Mla.D_QK);
                     Tensor o = second.allocate(DType.BF16, 1, 1, 4, Mla.D_V);
                     Tensor lse = second.allocate(DType.FP32, 1, 4, 1)) {
                    IllegalStateException d = assertThrows(IllegalStateException.class, () -> second.decode(plan, stale, cache, o, lse));
                    assertTrue(d.getMessage().startsWith("q: is closed"), d.getMessage());
                }
            }
        }
    }

    // 10 and the shared classes through ascend's own allocate/copy
    @Test
    void sharedClassesOnAscend() {
        long baseline = mla4j_acl_emu_h.mla4j_acl_emu_live_allocations();
        AscendBackend be = open();
        try (Arena arena = Arena.ofConfined()) {
            rejects("dtype", "is null", () -> be.allocate(null, 4));
            rejects("shape", "2^63 - 1 bytes", () -> be.allocate(DType.BF16, 1L << 62));
            rejects("shape", "negative", () -> be.allocate(DType.BF16, -1));
            Tensor d = be.allocate(DType.BF16, 4);
            Tensor ro = Tensor.wrap(arena.allocate(8).asReadOnly(), DType.BF16, 4);
            rejects("dst", "read-only", () -> be.copy(d, ro));
            Tensor gone = Tensor.allocate(DType.BF16, 4);
            gone.close();
            assertThrows(IllegalStateException.class, () -> be.copy(gone, d));
            Tensor sl = Tensor.ofInts(arena, new int[] {Integer.MAX_VALUE}, 1), bt = Tensor.ofInts(arena, new int[] {0, 0}, 1, 2);
            rejects("seqlens", "Mla.MAX_SEQLEN", () -> be.plan(PlanSpec.of(sl, bt, 1, 4, 1, DType.BF16)));
            d.close();
        }
        be.close();
        assertEquals(baseline, mla4j_acl_emu_h.mla4j_acl_emu_live_allocations());
        assertThrows(IllegalStateException.class, be::synchronize);
    }
}
