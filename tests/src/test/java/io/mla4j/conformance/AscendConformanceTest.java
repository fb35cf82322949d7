package io.mla4j.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The standard matrix on the "ascend" backend: Java -> FFM -> ACL (the mla4j emulator here, unless a
 * CANN library is found) -> the Ascend C kernel (its CPU build under the emulator). Skipped, saying
 * why, when the backend cannot run (e.g. kernels-ascend was not built).
 */
class AscendConformanceTest {
    private static MlaBackend backend;

    @BeforeAll
    static void open() {
        MlaBackends.Status s = MlaBackends.list().stream().filter(x -> x.name().equals("ascend")).findFirst().orElse(null);
        assumeTrue(s != null, "the ascend backend (mla4j-ascend) is not on the test class path");
        assumeTrue(s.available(), () -> "ascend backend unavailable: " + s.unavailableReason().orElse(""));
        backend = MlaBackends.open("ascend");
    }

    @TestFactory
    Stream<DynamicTest> ascendMatchesTheOracle() {
        return BackendSuite.cases(() -> backend, Oracle.REFERENCE)
                .map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() {
        if (backend != null) backend.close();
    }
}
