package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.cpu.CpuBackend;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The cpu backend (plain rescaling, all cores) through the whole matrix against the fp64 reference. */
class CpuConformanceTest {
    private static final MlaBackend BACKEND = new CpuBackend(CpuBackend.Rescale.PLAIN);

    @TestFactory
    Stream<DynamicTest> cpuMatchesReference() {
        return BackendSuite.cases(() -> BACKEND, Oracle.REFERENCE)
                .map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() { BACKEND.close(); }
}
