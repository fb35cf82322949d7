package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.ref.ReferenceBackend;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/** The oracle itself, through the whole harness, judged by the second (gathered, two-pass) formulation. */
class ReferenceConformanceTest {
    private static final MlaBackend BACKEND = new ReferenceBackend();

    @TestFactory
    Stream<DynamicTest> referenceMatchesGatheredFormulation() {
        return BackendSuite.cases(() -> BACKEND, Oracle.GATHERED)
                .map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() { BACKEND.close(); }
}
