package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.cpu.CpuBackend;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The cpu backend with AMLA rescaling (power-of-two factors applied by integer adds) through the whole
 * matrix, with 3 workers so the split/combine path differs from the plain suite's on a 2-core machine.
 */
class CpuAmlaConformanceTest {
    private static final MlaBackend BACKEND = new CpuBackend(CpuBackend.Rescale.AMLA, 3);

    @TestFactory
    Stream<DynamicTest> cpuAmlaMatchesReference() {
        return BackendSuite.cases(() -> BACKEND, Oracle.REFERENCE)
                .map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() { BACKEND.close(); }
}
