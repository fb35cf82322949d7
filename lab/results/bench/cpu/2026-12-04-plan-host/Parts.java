import io.mla4j.*;
import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;
public class Parts {
    interface R { void run(); }
    static double best(R r) { long b = Long.MAX_VALUE; for (int i = 0; i < 400; i++) { long t0 = System.nanoTime(); r.run(); long t = System.nanoTime() - t0; if (i > 100) b = Math.min(b, t); } return b / 1e3; }
    public static void main(String[] a) {
        int b = 128, sk = 32768, maxBlocks = (sk * 3 + 63) / 64 + 1;
        java.util.Random r = new java.util.Random(1);
        int[] lens = new int[b]; for (int i = 0; i < b; i++) lens[i] = (int) Math.min(3L * sk, Math.max(1, sk + r.nextGaussian() * sk / 2));
        int nb = 0; for (int l : lens) nb += (l + 63) / 64;
        int[] table = new int[b * maxBlocks]; java.util.Arrays.fill(table, -1);
        int next = 0; for (int s = 0; s < b; s++) for (int j = 0; j < (lens[s] + 63) / 64; j++) table[s * maxBlocks + j] = next++;
        Arena ar = Arena.ofConfined();
        Tensor tl = Tensor.ofInts(ar, lens, b), tt = Tensor.ofInts(ar, table, b, maxBlocks);
        PlanSpec spec = PlanSpec.of(tl, tt, nb, 16, 1, DType.BF16);
        int[][] keep = new int[1][];
        System.out.printf("toIntArray %.1f us%n", best(() -> keep[0] = tt.toIntArray()));
        System.out.printf("stepContents %.1f us%n", best(() -> Checks.stepContents(spec, lens, table)));
        System.out.printf("planSpec %.1f us%n", best(() -> Checks.planSpec(spec)));
        System.out.printf("SplitSchedule %.1f us%n", best(() -> SplitSchedule.compute(lens, 132, 1)));
    }
}
