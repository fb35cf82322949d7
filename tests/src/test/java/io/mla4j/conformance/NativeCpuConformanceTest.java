package io.mla4j.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.CacheFormat;
import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import io.mla4j.MlaBackend;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.cpu.CpuKernel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The cpu backend's native kernel (native/cpu, libmla4j_cpu.so) through the whole matrix against the fp64
 * reference: every real path this machine supports (amx, avx512bf16) and, on any machine, the same kernel
 * sources with their matrix instructions emulated in C (amx-emu, avx512bf16-emu), so the tile and vector
 * addressing is checked even where the instructions are missing. One line says which ran and which were
 * skipped and why. The library comes from {@value CpuKernel#LIBRARY_PROPERTY}, else native/cpu/build
 * (scripts/test.sh builds it first); without it everything here skips with that reason.
 */
class NativeCpuConformanceTest {
    private static final List<MlaBackend> OPENED = new ArrayList<>();

    static {
        if (System.getProperty(CpuKernel.LIBRARY_PROPERTY) == null) {
            for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
                Path so = d.resolve("native/cpu/build/libmla4j_cpu.so");
                if (Files.isRegularFile(so)) {
                    System.setProperty(CpuKernel.LIBRARY_PROPERTY, so.toString());
                    break;
                }
            }
        }
    }

    private static final CpuKernel[] NATIVE = {CpuKernel.AMX, CpuKernel.AVX512BF16, CpuKernel.AMX_EMU, CpuKernel.AVX512BF16_EMU};

    @TestFactory
    Stream<DynamicTest> nativeKernelsMatchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        List<String> ran = new ArrayList<>(), skipped = new ArrayList<>();
        for (CpuKernel k : NATIVE) {
            Optional<String> why = k.unavailableReason();
            if (why.isPresent()) {
                skipped.add(k.id() + " (" + why.get() + ")");
                continue;
            }
            CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 3, k); // 3 workers: more splits than cores
            assertEquals(k, be.kernel(), be.description());
            OPENED.add(be);
            ran.add(k.id());
            BackendSuite.cases(() -> be, Oracle.REFERENCE)
                    .forEach(n -> tests.add(DynamicTest.dynamicTest(k.id() + " " + n.name(), n.check()::run)));
            // fp8 caches: the kernel widens DeepSeek-geometry fp8_e4m3 with bf16 q itself; the other cases run on
            // the Vector API behind the same backend
            BackendSuite.cases(() -> be, Oracle.REFERENCE, Conformance.fp8Cases(), 900)
                    .forEach(n -> tests.add(DynamicTest.dynamicTest(k.id() + " fp8 " + n.name(), n.check()::run)));
            // DeepSeek-V3.2's block-scaled cache with bf16 q: on the native kernel itself (checked first)
            tests.add(DynamicTest.dynamicTest(k.id() + " runs the block-scaled format with bf16 q", () -> blockScaledIsNative(be)));
            BackendSuite.cases(() -> be, Oracle.REFERENCE, BLOCK_SCALED, 1900)
                    .forEach(n -> tests.add(DynamicTest.dynamicTest(k.id() + " fp8ds " + n.name(), n.check()::run)));
        }
        System.out.println("[native cpu] ran: " + (ran.isEmpty() ? "none" : String.join(", ", ran))
                + "; skipped: " + (skipped.isEmpty() ? "none" : String.join("; ", skipped)));
        Assumptions.assumeFalse(ran.isEmpty(), "no native cpu kernel can run here: " + skipped);
        return tests.stream();
    }

    private static final Geometry DS = Geometry.DEEPSEEK.withFormat(CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16);

    /**
     * The block-scaled format at DeepSeek's geometry with bf16 q (what the native kernel widens itself): ragged batches
     * (empty, single-token, block-edge and multi-chunk sequences), causal s_q 2..4 (rows that see no key), h_q 1 to 128.
     */
    private static final List<Case> BLOCK_SCALED = List.of(
            new Case(new int[] {65, 0, 2049, 1, 63, 64}, 16, 1, DType.BF16, false, DS),
            new Case(new int[] {2, 3, 0, 70}, 16, 4, DType.BF16, true, DS),
            new Case(new int[] {70, 3, 513}, 5, 3, DType.BF16, true, DS),
            new Case(new int[] {300, 1, 129}, 64, 2, DType.BF16, true, DS),
            new Case(new int[] {257, 1000}, 128, 2, DType.BF16, true, DS),
            new Case(new int[] {1, 255, 256, 257}, 1, 2, DType.BF16, false, DS));

    /** Plans of the block-scaled format run on the native kernel with bf16 q, on the Vector API with fp16 q. */
    private static void blockScaledIsNative(CpuBackend be) {
        try (Workload bf16 = new Workload(BLOCK_SCALED.get(1), 1);
             Workload fp16 = new Workload(new Case(new int[] {2, 3, 0, 70}, 16, 4, DType.FP16, true, DS), 1)) {
            assertEquals(be.kernel(), be.kernelFor(bf16.spec()), be.description());
            assertEquals(CpuKernel.VECTOR, be.kernelFor(fp16.spec()), "fp16 q with an fp8 cache: the Vector API");
        }
    }

    /** A forced kernel that cannot run falls back to the Vector API and says why, never throws. */
    @Test
    void unavailableKernelFallsBackToVector() {
        for (CpuKernel k : NATIVE) {
            Optional<String> why = k.unavailableReason();
            if (why.isEmpty()) continue;
            try (CpuBackend be = new CpuBackend(CpuBackend.Rescale.PLAIN, 1, k)) {
                assertEquals(CpuKernel.VECTOR, be.kernel());
                assertTrue(be.description().contains("unavailable"), be.description());
            }
        }
        try (CpuBackend amla = new CpuBackend(CpuBackend.Rescale.AMLA, 1, CpuKernel.AMX_EMU)) {
            assertEquals(CpuKernel.VECTOR, amla.kernel(), "AMLA rescaling is the Vector API kernel's alone");
        }
    }

    /** Tensors on the Java heap go through the Vector API kernel (the native code takes native memory only): bit-identical to it. */
    @Test
    void heapTensorsStillDecode() {
        Assumptions.assumeTrue(CpuKernel.AMX_EMU.unavailableReason().isEmpty(), "no native library");
        Case c = new Case(new int[] {70, 3}, 3, 2, DType.BF16, true);
        try (CpuBackend nat = new CpuBackend(CpuBackend.Rescale.PLAIN, 2, CpuKernel.AMX_EMU);
             CpuBackend vec = new CpuBackend(CpuBackend.Rescale.PLAIN, 2, CpuKernel.VECTOR);
             Workload w = new Workload(c, 7)) {
            short[] qh = w.q.segment().toArray(ValueLayout.JAVA_SHORT), kh = w.kCache.segment().toArray(ValueLayout.JAVA_SHORT);
            long[] oShape = {2, 2, 3, Mla.D_V}, lShape = {2, 3, 2};
            Tensor q = Tensor.wrap(MemorySegment.ofArray(qh), DType.BF16, w.q.shape());
            Tensor k = Tensor.wrap(MemorySegment.ofArray(kh), DType.BF16, w.kCache.shape());
            Tensor o1 = Tensor.wrap(MemorySegment.ofArray(new short[2 * 2 * 3 * Mla.D_V]), DType.BF16, oShape);
            Tensor l1 = Tensor.wrap(MemorySegment.ofArray(new float[12]), DType.FP32, lShape);
            Tensor o2 = w.poisoned(DType.BF16, oShape), l2 = w.poisoned(DType.FP32, lShape);
            try (MlaPlan p1 = nat.plan(w.spec()); MlaPlan p2 = vec.plan(w.spec())) {
                nat.decode(p1, q, k, o1, l1);
                vec.decode(p2, w.q, w.kCache, o2, l2);
            }
            assertArrayEquals(o2.segment().toArray(ValueLayout.JAVA_SHORT), o1.segment().toArray(ValueLayout.JAVA_SHORT));
            assertArrayEquals(l2.segment().toArray(ValueLayout.JAVA_FLOAT), l1.segment().toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @AfterAll
    static void close() { OPENED.forEach(MlaBackend::close); }
}
