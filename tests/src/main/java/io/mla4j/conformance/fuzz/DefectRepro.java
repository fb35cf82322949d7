package io.mla4j.conformance.fuzz;

import io.mla4j.*;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.ref.ReferenceBackend;
import io.mla4j.spi.HostBackend;
import java.lang.foreign.Arena;
import java.util.function.Supplier;

/**
 * Issue 17's defects 1-4, 6, 7, 9 and 10, as plain calls on the host backends, printing what each does:
 * run it against any build of mla4j-core to see the behaviour before and after the fixes (docs/RELIABILITY.md
 * has both outputs). {@code java --add-modules jdk.incubator.vector -cp CORE:TESTS io.mla4j.conformance.fuzz.DefectRepro}
 */
public final class DefectRepro {
    private DefectRepro() {}

    static void show(String what, Runnable r) {
        try { r.run(); System.out.println(what + " -> ACCEPTED (no error)"); }
        catch (Throwable t) { System.out.println(what + " -> " + t.getClass().getSimpleName() + ": " + t.getMessage()); }
    }
    public static void main(String[] a) throws Exception {
        Arena arena = Arena.ofShared();
        for (Supplier<HostBackend> mk : java.util.List.<Supplier<HostBackend>>of(() -> new CpuBackend(CpuBackend.Rescale.PLAIN, 2), ReferenceBackend::new)) {
            HostBackend be = mk.get();
            String n = be.name();
            show(n + " d1 seqlen 2^31-1, 2-col table", () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {Integer.MAX_VALUE}, 1), Tensor.ofInts(arena, new int[] {0, 1}, 1, 2), 4, 16, 1, DType.BF16)));
            show(n + " d2 backend.allocate([2^62])", () -> System.out.print("byteSize=" + be.allocate(DType.BF16, 1L << 62).byteSize() + " "));
            show(n + " d3 h_q = MAX_VALUE", () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {10}, 1), Tensor.ofInts(arena, new int[] {0}, 1, 1), 2, Integer.MAX_VALUE, 1, DType.BF16)));
            show(n + " d3 h_q*s_q = 65536*65536", () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {10}, 1), Tensor.ofInts(arena, new int[] {0}, 1, 1), 2, 65536, 65536, DType.BF16)));
            show(n + " d6 allocate(null, 4)", () -> be.allocate(null, 4));
            show(n + " d6 allocate(BF16, MAX, MAX)", () -> be.allocate(DType.BF16, Long.MAX_VALUE, Long.MAX_VALUE));
            Tensor closed = Tensor.allocate(DType.BF16, 4); closed.close();
            show(n + " d6 copy from a closed host tensor", () -> be.copy(closed, Tensor.allocate(arena, DType.BF16, 4)));
            show(n + " d7 scale = Float.MAX_VALUE", () -> be.plan(PlanSpec.of(Tensor.ofInts(arena, new int[] {10}, 1), Tensor.ofInts(arena, new int[] {0}, 1, 1), 2, 4, 1, DType.BF16).withScale(Float.MAX_VALUE)));
            show(n + " d9 Tensor.onDevice(\"host\", ...)", () -> Tensor.onDevice("host", 4096, DType.BF16, new long[] {4}, null));
            long before = rss();
            for (int i = 0; i < 10_000; i++) { Tensor t = be.allocate(DType.BF16, 64, 576); t.setFloat(0, 1f); t.close(); }
            System.out.println(n + " d4 RSS growth over 10,000 allocate/close of 72 KiB: " + (rss() - before) / 1024 + " MiB");
            be.close();
            show(n + " d10 synchronize() after close", be::synchronize);
        }
        show("d2 Tensor.wrap(16 bytes, BF16, [2^62])", () -> System.out.print("byteSize=" + Tensor.wrap(arena.allocate(16), DType.BF16, 1L << 62).byteSize() + " "));
    }
    static long rss() throws Exception {
        for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        return 0;
    }
}
