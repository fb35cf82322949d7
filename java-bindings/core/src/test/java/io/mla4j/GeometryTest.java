package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** Geometry's rules and formulas, the spec's default, and the checks that name the argument. */
class GeometryTest {
    private static void rejects(String arg, String text, Runnable r) {
        var e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith(arg + ": ") && e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void rulesAndFormulas() {
        for (int p : new int[] {1, 2, 16, 32, 64, 128, 256}) assertEquals(p, Geometry.of(p, 256, 32).pageSize());
        rejects("pageSize", "power of two in [1, 256]", () -> Geometry.of(0, 512, 64));
        rejects("pageSize", "power of two in [1, 256]", () -> Geometry.of(48, 512, 64));
        rejects("pageSize", "power of two in [1, 256]", () -> Geometry.of(512, 512, 64));
        rejects("dC", "multiple of 16", () -> Geometry.of(64, 500, 64));
        rejects("dR", "multiple of 16", () -> Geometry.of(64, 512, 0));
        rejects("dC", "at most 4096", () -> Geometry.of(64, 4096, 16));
        Geometry g = Geometry.of(16, 256, 32);
        assertEquals(288, g.dQk());
        assertEquals(256, g.dV());
        assertEquals((float) (1 / Math.sqrt(288)), g.defaultScale());
        assertEquals(0, g.blocksFor(0));
        assertEquals(7, g.blocksFor(97));
        assertEquals(2.0 * 2 * 1000 * 40 * (288 + 256), g.flops(1000, 40, 2));
        assertEquals(Mla.flops(1000, 16, 1), Geometry.DEEPSEEK.flops(1000, 16, 1));
        assertEquals(Mla.bytes(1000, 2, 16, 1), Geometry.DEEPSEEK.bytes(1000, 2, 16, 1));
        assertEquals(Mla.defaultScale(), Geometry.DEEPSEEK.defaultScale());
        assertEquals(Mla.D_QK, Geometry.DEEPSEEK.dQk());
    }

    @Test
    void specsDefaultToDeepSeekAndWithGeometryMovesTheDefaultScale() {
        try (Arena a = Arena.ofConfined()) {
            Tensor sl = Tensor.ofInts(a, new int[] {10}, 1), bt = Tensor.ofInts(a, new int[] {0}, 1, 1);
            PlanSpec s = PlanSpec.of(sl, bt, 1, 16, 1, DType.BF16);
            assertEquals(Geometry.DEEPSEEK, s.geometry());
            PlanSpec t = s.withGeometry(Geometry.of(16, 256, 32));
            assertEquals(Geometry.of(16, 256, 32).defaultScale(), t.scale());
            assertEquals(0.1f, s.withScale(0.1f).withGeometry(Geometry.of(16, 256, 32)).scale());
            rejects("geometry", "is null", () -> s.withGeometry(null));
        }
    }

    @Test
    void decodeNamesTheTensorAndTheGeometry() {
        Geometry g = Geometry.of(16, 128, 32);
        try (Arena a = Arena.ofShared(); ReferenceBackend ref = new ReferenceBackend(); CpuBackend cpu = new CpuBackend()) {
            Tensor sl = Tensor.ofInts(a, new int[] {20}, 1), bt = Tensor.ofInts(a, new int[] {1, 0}, 1, 2);
            for (MlaBackend be : new MlaBackend[] {ref, cpu}) {
                be.checkSupported(g);
                PlanSpec spec = PlanSpec.of(sl, bt, 2, 4, 1, DType.BF16, g);
                Tensor long40 = Tensor.ofInts(a, new int[] {40}, 1);
                rejects("seqlens", "needs 3 blocks of 16", () -> be.plan(PlanSpec.of(long40, bt, 2, 4, 1, DType.BF16, g)));
                try (MlaPlan plan = be.plan(spec)) {
                    Tensor q = Tensor.allocate(a, DType.BF16, 1, 1, 4, 160), o = Tensor.allocate(a, DType.BF16, 1, 1, 4, 128);
                    Tensor lse = Tensor.allocate(a, DType.FP32, 1, 4, 1);
                    Tensor cache = Tensor.allocate(a, DType.BF16, 2, 16, 1, 160);
                    rejects("kCache", "expected [2, 16, 1, 160] (the plan's geometry is page 16, 128+32",
                            () -> be.decode(plan, q, Tensor.allocate(a, DType.BF16, 1, 64, 1, 576), o, lse));
                    Tensor q576 = Tensor.allocate(a, DType.BF16, 1, 1, 4, 576);
                    Tensor o512 = Tensor.allocate(a, DType.BF16, 1, 1, 4, 512);
                    rejects("q", "expected [1, 1, 4, 160]", () -> be.decode(plan, q576, cache, o, lse));
                    rejects("out", "expected [1, 1, 4, 128]", () -> be.decode(plan, q, cache, o512, lse));
                    be.decode(plan, q, cache, o, lse);
                }
            }
        }
    }
}
