package io.mla4j.gpubench;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.conformance.Report;
import io.mla4j.cuda.CudaBackend;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a large decode against the fp64 oracle on a sample: a few sequences and heads (every query
 * token of each), recomputed on the host by {@link ReferenceBackend} from the device's own inputs, and
 * every output element checked for having been written (outputs are NaN-poisoned before the run).
 */
final class Sampled {
    /** The oracle's answer for the sampled rows, reusable for every kernel run on the same inputs. */
    record Truth(int[] seqs, int[] heads, double[][] o, double[][] lse) {}

    /** Error of one run: rel-L2 and max-abs of o, the dtype's rounding rel-L2, lse max-abs, NaNs. */
    record Error(double oRelL2, double oMaxAbs, double roundRelL2, double lseMaxAbs, long unwritten) {
        boolean passed() {
            return unwritten == 0 && oRelL2 <= Report.O_FACTOR * roundRelL2 && lseMaxAbs <= Report.LSE_ABS_TOL;
        }

        @Override
        public String toString() {
            return String.format("relL2 %.2e (%.2fx rounding) lse %.1e%s %s", oRelL2, roundRelL2 > 0 ? oRelL2 / roundRelL2 : 0,
                    lseMaxAbs, unwritten > 0 ? " UNWRITTEN " + unwritten : "", passed() ? "ok" : "FAIL");
        }
    }

    private Sampled() {}

    /** Picks the shortest sequence and one more at random, heads 0 and h_q-1, and runs the oracle on them. */
    static Truth truth(CudaBackend be, MlaPlan plan, Tensor q, Tensor cache, float kvScale, long seed) {
        int b = plan.batch(), hq = plan.spec().numHeads(), sq = plan.spec().queryLen();
        int shortest = 0;
        for (int s = 1; s < b; s++) if (plan.seqlen(s) < plan.seqlen(shortest)) shortest = s;
        int other = (int) Math.floorMod(seed * 31 + 7, b);
        int[] seqs = other == shortest ? new int[] {shortest} : new int[] {shortest, other};
        int[] heads = hq == 1 ? new int[] {0} : new int[] {0, hq - 1};
        DType dt = plan.spec().dtype();
        double[][] o = new double[seqs.length][], lse = new double[seqs.length][];
        try (Arena arena = Arena.ofShared()) {
            Tensor qHost = Tensor.allocate(arena, dt, q.shape());
            be.copy(q, qHost);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < seqs.length; i++) {
                int s = seqs[i], idx = i;
                io.mla4j.Geometry g = plan.spec().geometry();
                int page = g.pageSize(), sk = plan.seqlen(s), nb = Math.max(1, g.blocksFor(sk));
                DType ct = cache.dtype(); // q's dtype, or FP8_E4M3
                Tensor kHost = Tensor.allocate(arena, ct, g.cacheShape(nb));
                long blockBytes = (long) page * g.tokenBytes();
                for (int j = 0; j < g.blocksFor(sk); j++) {
                    Tensor src = be.wrap(cache.address() + plan.block(s, j) * blockBytes, ct, page, g.storedWidth());
                    Tensor dst = Tensor.wrap(kHost.segment().asSlice(j * blockBytes, blockBytes), ct, page, g.storedWidth());
                    be.copy(src, dst);
                }
                int dqk = g.dQk();
                Tensor qSub = Tensor.allocate(arena, dt, 1, sq, heads.length, dqk);
                for (int t = 0; t < sq; t++)
                    for (int hi = 0; hi < heads.length; hi++)
                        for (int d = 0; d < dqk; d++)
                            qSub.setFloat(((long) t * heads.length + hi) * dqk + d,
                                    qHost.getFloat((((long) s * sq + t) * hq + heads[hi]) * dqk + d));
                int[] table = new int[nb];
                for (int j = 0; j < nb; j++) table[j] = j;
                PlanSpec spec = new PlanSpec(Tensor.ofInts(arena, new int[] {sk}, 1), Tensor.ofInts(arena, table, 1, nb), nb,
                        heads.length, sq, dt, plan.spec().causal(), plan.spec().scale()).withGeometry(g);
                Thread th = Thread.ofPlatform().start(() -> {
                    try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan rp = ref.plan(spec)) {
                        ReferenceBackend.Result r = ReferenceBackend.compute(rp, qSub, kHost, kvScale);
                        o[idx] = r.o();
                        lse[idx] = r.lse();
                    }
                });
                threads.add(th);
            }
            for (Thread t : threads) t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return new Truth(seqs, heads, o, lse);
    }

    /** Compares the device outputs with the truth; also counts NaNs (unwritten) over ALL of o and lse. */
    static Error compare(CudaBackend be, MlaPlan plan, Truth truth, Tensor o, Tensor lse) {
        int hq = plan.spec().numHeads(), sq = plan.spec().queryLen();
        DType dt = plan.spec().dtype();
        try (Arena arena = Arena.ofConfined()) {
            Tensor oh = Tensor.allocate(arena, dt, o.shape());
            Tensor lh = Tensor.allocate(arena, DType.FP32, lse.shape());
            be.copy(o, oh);
            be.copy(lse, lh);
            long unwritten = 0;
            for (long i = 0, n = oh.numel(); i < n; i++) if (Float.isNaN(oh.getFloat(i))) unwritten++;
            for (long i = 0, n = lh.numel(); i < n; i++) if (Float.isNaN(lh.getFloat(i))) unwritten++;
            double num = 0, den = 0, rnum = 0, maxAbs = 0, lseMax = 0;
            int dv = plan.spec().geometry().dV();
            for (int i = 0; i < truth.seqs().length; i++) {
                int s = truth.seqs()[i];
                int nh = truth.heads().length;
                for (int t = 0; t < sq; t++)
                    for (int hi = 0; hi < nh; hi++) {
                        int h = truth.heads()[hi];
                        for (int d = 0; d < dv; d++) {
                            double r = truth.o()[i][((t * nh) + hi) * dv + d];
                            double g = oh.getFloat((((long) s * sq + t) * hq + h) * dv + d);
                            double diff = g - r;
                            num += diff * diff;
                            den += r * r;
                            double rd = dt.round((float) r) - r;
                            rnum += rd * rd;
                            maxAbs = Math.max(maxAbs, Math.abs(diff));
                        }
                        double rl = truth.lse()[i][hi * sq + t];
                        double gl = lh.getFloat(((long) s * hq + h) * sq + t);
                        if (Double.isInfinite(rl) || Double.isInfinite(gl)) {
                            if (!(rl == gl)) lseMax = Double.POSITIVE_INFINITY;
                        } else {
                            lseMax = Math.max(lseMax, Math.abs(gl - rl));
                        }
                    }
            }
            double rel = den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
            double round = den == 0 ? 0 : Math.sqrt(rnum / den);
            return new Error(rel, maxAbs, round, lseMax, unwritten);
        }
    }

    static String describe(Truth t) {
        return "seqs " + Arrays.toString(t.seqs()) + " heads " + Arrays.toString(t.heads());
    }
}
