package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.ascend.acl.mla4j_acl_emu_h;
import java.lang.foreign.Arena;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The Ascend backend's own plumbing (FFM, ACL emulator, tiling library, argument order, device
 * buffers, streams, close), with a plain-C stand-in kernel binary of the same ABI instead of the
 * Ascend C kernel: a failure here is the backend's, not the kernel's. Judged against the fp64 oracle
 * on fresh random inputs, outputs poisoned with NaN first.
 */
class StandInKernelBackendTest {

    @org.junit.jupiter.api.BeforeAll
    static void loadAcl() { AclLibrary.load(TestLibs.emulator()); }

    static AscendBackend open() {
        return new AscendBackend(TestLibs.emulator(), TestLibs.standInKernel(), TestLibs.tiling());
    }

    @ParameterizedTest(name = "{0} seqlens={1} h_q={2} s_q={3} causal={4}")
    @CsvSource({
        "BF16, 65;0;130;1, 16, 1, false",
        "FP16, 65;0;130;1, 16, 1, false",
        "BF16, 2;3;0;70, 8, 4, true",
        "FP16, 129;64;5, 3, 2, true",
        "BF16, 300, 128, 1, false",
    })
    void matchesTheOracle(DType dtype, String lens, int hq, int sq, boolean causal) {
        try (AscendBackend be = open()) {
            OracleCheck.run(be, "stand-in kernel", dtype, lens, hq, sq, causal);
        }
    }

    // the geometry reaches the kernel through the tiling blob (page_size, d_c, d_r, d_qk)
    @ParameterizedTest(name = "{0} seqlens={1} page {2}, {3}+{4}")
    @CsvSource({"BF16, 65;0;130, 16, 256, 32", "FP16, 3;200, 1, 128, 64", "BF16, 300, 256, 80, 16"})
    void takesTheGeometryFromTheTiling(DType dtype, String lens, int page, int dC, int dR) {
        try (AscendBackend be = open()) {
            OracleCheck.run(be, "stand-in kernel", dtype, lens, 8, 2, true, io.mla4j.Geometry.of(page, dC, dR));
        }
    }

    @Test
    void closeFreesWhatCallersLeaked() {
        long baseline = mla4j_acl_emu_h.mla4j_acl_emu_live_allocations();
        AscendBackend be = open();
        be.allocate(DType.BF16, 4, 576);  // never closed
        try (Arena arena = Arena.ofConfined()) {
            be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {5}, 1), Tensor.ofInts(arena, new int[] {0}, 1, 1), 1, 1, 1, DType.BF16));
        }
        assertTrue(mla4j_acl_emu_h.mla4j_acl_emu_live_allocations() >= baseline + 5);
        be.close();
        be.close();  // idempotent
        assertEquals(baseline, mla4j_acl_emu_h.mla4j_acl_emu_live_allocations());
        assertThrows(IllegalStateException.class, () -> be.allocate(DType.BF16, 1));
    }

    @Test
    void rejectsForeignMemoryAndUnsupportedSteps() {
        try (AscendBackend be = open(); Arena arena = Arena.ofConfined(); Tensor d = be.allocate(DType.FP16, 4)) {
            Tensor host = Tensor.allocate(arena, DType.FP16, 4);
            Tensor other = Tensor.onDevice("cuda:0", 4096, DType.FP16, new long[] {4}, null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.copy(other, d));
            assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> be.copy(host, be.allocate(DType.BF16, 4)));
            be.copy(host, d);
            assertEquals("ascend:0", d.location());
        }
    }

    @Test
    void staleDevicePointerIsCaughtByTheEmulator() {
        // Java cannot tell a dangling device address from a live one; the ACL emulator can.
        try (AscendBackend be = open(); Arena arena = Arena.ofConfined()) {
            Tensor dq = be.allocate(DType.BF16, 1, 1, 1, Mla.D_QK);
            long stale = dq.address();
            dq.close();  // aclrtFree
            Tensor dangling = Tensor.onDevice(AscendBackend.MEMORY, stale, DType.BF16, new long[] {1, 1, 1, Mla.D_QK}, null);
            try (Tensor cache = be.allocate(DType.BF16, 1, Mla.BLOCK_SIZE, 1, Mla.D_QK); Tensor o = be.allocate(DType.BF16, 1, 1, 1, Mla.D_V);
                 Tensor lse = be.allocate(DType.FP32, 1, 1, 1);
                 MlaPlan plan = be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {5}, 1), Tensor.ofInts(arena, new int[] {0}, 1, 1), 1, 1, 1, DType.BF16))) {
                AclException e = assertThrows(AclException.class, () -> be.decode(plan, dangling, cache, o, lse));
                assertTrue(e.getMessage().startsWith("aclrtLaunchKernelWithHostArgs(mla4j_mla_decode"), e.getMessage());
                assertTrue(e.getMessage().contains("kernel argument 0") && e.getMessage().contains("freed by aclrtFree"), e.getMessage());
                assertEquals(ACL_ERROR_INVALID_PARAM, e.code());
            }
        }
    }

    private static final int ACL_ERROR_INVALID_PARAM = 100000;

    @Test
    void worksFromAnotherThread() throws Exception {
        // ACL contexts are per thread: the backend must make its context current wherever it is called
        try (AscendBackend be = open(); Arena arena = Arena.ofShared(); Tensor d = be.allocate(DType.FP32, 8)) {
            Tensor host = Tensor.allocate(arena, DType.FP32, 8);
            host.copyFrom(new float[] {1, 2, 3, 4, 5, 6, 7, 8});
            Thread t = new Thread(() -> be.copy(host, d));
            Throwable[] failure = new Throwable[1];
            t.setUncaughtExceptionHandler((th, e) -> failure[0] = e);
            t.start();
            t.join();
            if (failure[0] != null) throw new AssertionError("copy on another thread failed", failure[0]);
            Tensor back = Tensor.allocate(arena, DType.FP32, 8);
            be.copy(d, back);
            assertEquals(8f, back.getFloat(7));
        }
    }

    @Test
    void descriptionSaysEmulator() {
        try (AscendBackend be = open()) {
            assertTrue(be.description().contains("emulator"), be.description());
            assertTrue(AclLibrary.isEmulator());
        }
    }

}
