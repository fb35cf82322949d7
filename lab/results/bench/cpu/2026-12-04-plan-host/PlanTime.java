import io.mla4j.*;
import java.lang.foreign.Arena;
public class PlanTime {
    public static void main(String[] a) throws Exception {
        int b = Integer.parseInt(a[0]), sk = Integer.parseInt(a[1]);
        int maxBlocks = (sk * 3 + 63) / 64 + 1;
        java.util.Random r = new java.util.Random(1);
        int[] lens = new int[b]; for (int i = 0; i < b; i++) lens[i] = (int) Math.min(3L * sk, Math.max(1, sk + r.nextGaussian() * sk / 2));
        int nb = 0; for (int l : lens) nb += (l + 63) / 64;
        int[] table = new int[b * maxBlocks]; java.util.Arrays.fill(table, -1);
        int next = 0; for (int s = 0; s < b; s++) for (int j = 0; j < (lens[s] + 63) / 64; j++) table[s * maxBlocks + j] = next++;
        try (Arena ar = Arena.ofConfined(); MlaBackend be = MlaBackends.open(a.length > 2 ? a[2] : "reference")) {
            Tensor tl = Tensor.ofInts(ar, lens, b), tt = Tensor.ofInts(ar, table, b, maxBlocks);
            PlanSpec spec = PlanSpec.of(tl, tt, nb, 16, 1, DType.BF16);
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 300; i++) {
                long t0 = System.nanoTime();
                MlaPlan p = be.plan(spec);
                long t1 = System.nanoTime();
                p.close();
                if (i > 100) best = Math.min(best, t1 - t0);
            }
            System.out.printf("%s b=%d sk=%d table %dx%d: plan() best %.1f us%n", be.name(), b, sk, b, maxBlocks, best / 1e3);
        }
    }
}
