import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * Lab probe (not shipped): which backend operation grows the process RSS? Runs each operation alone N times
 * after a warm-up and prints the RSS growth per call. Used to localise the cuda fuzz's --cycles growth
 * (~11 KiB per cycle on the H200, 2026-12-03). usage: LeakProbe [backend] [N] [operation]
 */
public final class LeakProbe {
    static long rss() throws Exception {
        System.gc();
        for (String l : Files.readAllLines(Path.of("/proc/self/status")))
            if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
        return -1;
    }

    interface Op { void run() throws Exception; }

    static String only; // args[2]: run only the operation of this name

    static void measure(String name, int n, Op op) throws Exception {
        if (only != null && !only.equals(name)) return;
        for (int i = 0; i < 500; i++) op.run();
        long a = rss();
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) op.run();
        long dt = System.nanoTime() - t;
        long b = rss();
        System.out.printf("%-28s n=%d  rss %+8d KiB  = %7.3f KiB/call  %.1f us/call%n", name, n, b - a, (b - a) / (double) n, dt / 1e3 / n);
    }

    public static void main(String[] args) throws Exception {
        String be = args.length > 0 ? args[0] : "cuda";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 20000;
        only = args.length > 2 ? args[2] : null;
        Random r = new Random(1);
        try (MlaBackend b = MlaBackends.open(be); Arena arena = Arena.ofConfined()) {
            System.out.println("backend " + b.description());
            int hq = 16, blocks = 2;
            Tensor hq1 = Tensor.allocate(arena, DType.BF16, 1, 1, hq, 576), hc = Tensor.allocate(arena, DType.BF16, blocks, 64, 1, 576);
            for (Tensor t : new Tensor[] {hq1, hc}) for (long i = 0; i < t.byteSize() / 2; i++)
                t.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) (0x3c00 + r.nextInt(256)));
            Tensor sl = Tensor.ofInts(arena, new int[] {100}, 1), bt = Tensor.ofInts(arena, new int[] {0, 1}, 1, 2);
            PlanSpec spec = PlanSpec.of(sl, bt, blocks, hq, 1, DType.BF16);
            Tensor q = b.allocate(DType.BF16, 1, 1, hq, 576), c = b.allocate(DType.BF16, blocks, 64, 1, 576);
            Tensor o = b.allocate(DType.BF16, 1, 1, hq, 512), lse = b.allocate(DType.FP32, 1, hq, 1);
            Tensor ho = Tensor.allocate(arena, DType.BF16, 1, 1, hq, 512);
            b.copy(hq1, q);
            b.copy(hc, c);
            MlaPlan plan = b.plan(spec);
            measure("synchronize", n, b::synchronize);
            measure("allocate+close x1", n, () -> b.allocate(DType.BF16, 1, 1, hq, 576).close());
            measure("allocate+close x4", n, () -> {
                b.allocate(DType.BF16, 1, 1, hq, 576).close();
                b.allocate(DType.BF16, blocks, 64, 1, 576).close();
                b.allocate(DType.BF16, 1, 1, hq, 512).close();
                b.allocate(DType.FP32, 1, hq, 1).close();
            });
            measure("copy host->device", n, () -> b.copy(hc, c));
            measure("copy device->host", n, () -> b.copy(o, ho));
            measure("plan+close", n, () -> b.plan(spec).close());
            measure("decode+synchronize", n, () -> { b.decode(plan, q, c, o, lse); b.synchronize(); });
            measure("decode (no sync)", n, () -> b.decode(plan, q, c, o, lse));
            b.synchronize();
            measure("plan+decode+close+sync", n, () -> {
                try (MlaPlan p = b.plan(spec)) { b.decode(p, q, c, o, lse); }
                b.synchronize();
            });
            plan.close();
            for (Tensor t : new Tensor[] {q, c, o, lse}) t.close();
        }
    }
}
