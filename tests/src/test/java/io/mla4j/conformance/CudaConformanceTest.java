package io.mla4j.conformance;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

/**
 * The whole conformance matrix on the CUDA backend. Found by name through ServiceLoader (mla4j-cuda is a
 * test dependency of this module), so this class compiles without it; where no GPU is present it skips
 * with the backend's own one-line reason. On the GPU machine scripts/gpu-test.sh runs the same matrix
 * through ConformanceMain, once per kernel variant.
 */
@Tag("gpu")
class CudaConformanceTest {
    private static MlaBackend backend;

    @TestFactory
    Stream<DynamicTest> cudaMatchesOracle() {
        Optional<MlaBackends.Status> st = MlaBackends.list().stream().filter(s -> s.name().equals("cuda")).findFirst();
        String why = st.isEmpty() ? "cuda backend not on the test class path (mla4j-cuda)"
                : st.get().unavailableReason().map(r -> "cuda backend unavailable: " + r).orElse(null);
        if (why != null) {
            // one visible skipped test carrying the reason, rather than a silently empty factory
            System.out.println("CudaConformanceTest skipped: " + why);
            return Stream.of(DynamicTest.dynamicTest("cuda conformance matrix", () -> assumeTrue(false, why)));
        }
        backend = MlaBackends.open("cuda");
        return BackendSuite.cases(() -> backend, Oracle.REFERENCE).map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() {
        if (backend != null) backend.close();
    }
}
