import io.mla4j.*;
import io.mla4j.spi.*;
import java.lang.foreign.Arena;
/** The CPU cost of a decode call's shared checks (AbstractMlaBackend.decode) on a backend whose decode does nothing:
 * what the Java side adds to an eager CUDA decode besides its driver launches (docs/PERF.md, issue 21). Args: h_q. */
public class DecodeChecks {
    static final class Nop extends HostBackend {
        long calls;
        @Override protected int parallelism(PlanSpec s) { return 132; }
        @Override protected void doDecode(MlaPlan p, Tensor q, Tensor k, float sc, Tensor o, Tensor l) { calls++; }
        @Override protected void release() {}
        @Override public String name() { return "nop"; }
        @Override public String description() { return "nop"; }
    }
    public static void main(String[] a) throws Exception {
        int sk = 4096, hq = Integer.parseInt(a[0]), nb = sk / 64;
        int[] table = new int[nb]; for (int j = 0; j < nb; j++) table[j] = j;
        try (Arena ar = Arena.ofShared(); Nop be = new Nop()) {
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(ar, new int[] {sk}, 1), Tensor.ofInts(ar, table, 1, nb), nb, hq, 1, DType.BF16);
            MlaPlan plan = be.plan(spec);
            Tensor q = be.allocate(DType.BF16, 1, 1, hq, 576), k = be.allocate(DType.BF16, nb, 64, 1, 576);
            Tensor o = be.allocate(DType.BF16, 1, 1, hq, 512), l = be.allocate(DType.FP32, 1, hq, 1);
            for (int r = 0; r < 5; r++) {
                int n = 2_000_000;
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) be.decode(plan, q, k, o, l);
                System.out.printf("h_q %d: %.1f ns per decode call (checks only)%n", hq, (System.nanoTime() - t0) / (double) n);
            }
        }
    }
}
