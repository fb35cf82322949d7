package io.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The standard matrix and the geometry matrix on the "ascend" backend: Java -> FFM -> ACL (the mla4j emulator
 * here, unless a CANN library is found) -> the Ascend C kernel (its CPU build under the emulator). Skipped, saying
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

    /**
     * Every page size and width pair of {@link Conformance#geometryCases()} with the same seeds as on the reference
     * and cpu backends; the matrix's FP8 caches are refused through checkSupported with the reason (the kernel reads
     * bf16/fp16 caches), which is what auto-selection skips on.
     */
    @TestFactory
    Stream<DynamicTest> ascendMatchesTheOracleOnEveryGeometry() {
        List<Case> all = Conformance.geometryCases();
        List<BackendSuite.Named> runs = BackendSuite.geometryCases(() -> backend, Oracle.REFERENCE).toList();
        return IntStream.range(0, all.size()).mapToObj(i -> {
            Case c = all.get(i);
            if (!c.geometry().format().isFp8()) return DynamicTest.dynamicTest(runs.get(i).name(), runs.get(i).check()::run);
            return DynamicTest.dynamicTest("refuses " + c, () -> {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> backend.checkSupported(c.geometry()));
                assertTrue(e.getMessage().startsWith("geometry:") && e.getMessage().contains("bf16/fp16 caches only"),
                        e.getMessage());
            });
        });
    }

    @AfterAll
    static void close() {
        if (backend != null) backend.close();
    }
}
