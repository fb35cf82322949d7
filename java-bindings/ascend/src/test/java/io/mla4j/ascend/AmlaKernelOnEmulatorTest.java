package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.ascend.acl.mla4j_acl_emu_h;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The shipped path as a user gets it: the "ascend" provider picks the emulator and the CPU build of
 * the kernels-ascend AMLA kernel packed in this jar, and a few shapes are checked against the fp64
 * oracle (the full matrix is tests/.../AscendConformanceTest). Skipped when kernels-ascend was not
 * built before this module.
 */
class AmlaKernelOnEmulatorTest {
    private static MlaBackend backend;

    @BeforeAll
    static void open() {
        AclLibrary.load(TestLibs.emulator());
        AscendBackendProvider p = new AscendBackendProvider();
        assumeTrue(p.unavailableReason().isEmpty(), () -> "ascend backend unavailable: " + p.unavailableReason().orElse(""));
        backend = p.create();
        assertTrue(((AscendBackend) backend).isEmulated());
    }

    @ParameterizedTest(name = "{0} seqlens={1} h_q={2} s_q={3} causal={4}")
    @CsvSource({
        "BF16, 65;0;2049;1, 16, 1, false",
        "FP16, 129;64;5;700, 3, 2, true",
        "BF16, 2;3;0;70, 16, 4, true",
        "FP16, 300, 128, 1, false",
    })
    void amlaKernelMatchesTheOracle(DType dtype, String lens, int hq, int sq, boolean causal) {
        OracleCheck.run(backend, "AMLA kernel (emulated)", dtype, lens, hq, sq, causal);
    }

    // the geometry as tiling data (issue 22): gathered small pages, split large ones, narrower widths, a d_v of 80
    @ParameterizedTest(name = "{0} seqlens={1} h_q={2} s_q={3} causal={4} page {5}, {6}+{7}")
    @CsvSource({
        "BF16, 17;0;301;1, 16, 2, true, 1, 256, 32",
        "FP16, 129;64;5;700, 3, 1, false, 16, 128, 64",
        "BF16, 300;2, 40, 2, true, 128, 512, 64",
        "FP16, 257;31, 16, 1, true, 256, 80, 16",
    })
    void amlaKernelTakesTheGeometry(DType dtype, String lens, int hq, int sq, boolean causal, int page, int dC, int dR) {
        OracleCheck.run(backend, "AMLA kernel (emulated)", dtype, lens, hq, sq, causal, io.mla4j.Geometry.of(page, dC, dR));
    }

    @AfterAll
    static void close() {
        if (backend == null) return;
        long leaks = mla4j_acl_emu_h.mla4j_acl_emu_leaks_reported();
        backend.close();
        assertTrue(mla4j_acl_emu_h.mla4j_acl_emu_live_allocations() == 0, "no device memory left after close");
        assertTrue(mla4j_acl_emu_h.mla4j_acl_emu_leaks_reported() == leaks, "the emulator reported leaks at aclFinalize");
    }
}
