package io.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.MlaBackend;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.cpu.CpuKernel;
import io.mla4j.ref.ReferenceBackend;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The geometry axis (issue 22) on the backends that take every geometry: page sizes 1 to 256 crossed with
 * the width pairs, ragged, causal, bf16 and fp16, fresh inputs, NaN-poisoned outputs. The reference is
 * judged by the second (gathered, two-pass) formulation, the cpu backend (Vector API, plain and AMLA
 * rescaling; the native kernel serves only DeepSeek's geometry) by the reference.
 */
class GeometryConformanceTest {
    private static final int CORES = Runtime.getRuntime().availableProcessors();
    private static final MlaBackend REF = new ReferenceBackend();
    private static final MlaBackend CPU = new CpuBackend(CpuBackend.Rescale.PLAIN, CORES, CpuKernel.VECTOR);
    private static final MlaBackend CPU_AMLA = new CpuBackend(CpuBackend.Rescale.AMLA, CORES, CpuKernel.VECTOR);
    // auto: the native kernel where this machine has one; plans of other geometries must still run (on the Vector API)
    private static final MlaBackend CPU_AUTO = new CpuBackend(CpuBackend.Rescale.PLAIN, CORES, CpuKernel.AUTO);

    @Test
    void everyPageSizeAndWidthPairIsInTheMatrix() {
        var cases = Conformance.geometryCases();
        for (int page : Conformance.GEOMETRY_PAGES)
            for (int[] w : Conformance.GEOMETRY_WIDTHS) {
                boolean deepseek = page == 64 && w[0] == 512 && w[1] == 64; // the standard matrix's
                assertTrue(deepseek || cases.stream().anyMatch(c -> c.geometry().pageSize() == page
                        && c.geometry().dC() == w[0] && c.geometry().dR() == w[1]), "page " + page + ", " + w[0] + "+" + w[1]);
            }
    }

    @TestFactory
    Stream<DynamicTest> referenceMatchesGatheredFormulation() {
        return dynamic(BackendSuite.geometryCases(() -> REF, Oracle.GATHERED));
    }

    @TestFactory
    Stream<DynamicTest> cpuMatchesReference() {
        return dynamic(BackendSuite.geometryCases(() -> CPU, Oracle.REFERENCE));
    }

    @TestFactory
    Stream<DynamicTest> cpuAmlaMatchesReference() {
        return dynamic(BackendSuite.geometryCases(() -> CPU_AMLA, Oracle.REFERENCE));
    }

    @TestFactory
    Stream<DynamicTest> cpuAutoKernelMatchesReference() {
        return dynamic(BackendSuite.geometryCases(() -> CPU_AUTO, Oracle.REFERENCE));
    }

    private static Stream<DynamicTest> dynamic(Stream<BackendSuite.Named> cases) {
        return cases.map(n -> DynamicTest.dynamicTest(n.name(), n.check()::run));
    }

    @AfterAll
    static void close() {
        REF.close();
        CPU.close();
        CPU_AMLA.close();
        CPU_AUTO.close();
    }
}
