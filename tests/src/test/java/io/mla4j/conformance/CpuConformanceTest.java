package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.cpu.CpuKernel;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The cpu backend's Vector API kernel (plain rescaling, all cores) through the whole matrix against the fp64
 * reference; pinned to {@link CpuKernel#VECTOR} so it stays tested on machines where auto would pick the
 * native kernel (that one has {@link NativeCpuConformanceTest}).
 */
class CpuConformanceTest {
    private static final MlaBackend BACKEND = new CpuBackend(CpuBackend.Rescale.PLAIN,
            Runtime.getRuntime().availableProcessors(), CpuKernel.VECTOR);

    @TestFactory
    Stream<DynamicTest> cpuMatchesReference() {
        return BackendSuite.cases(() -> BACKEND, Oracle.REFERENCE)
                .map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() { BACKEND.close(); }
}
