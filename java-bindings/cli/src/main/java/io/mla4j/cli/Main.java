package io.mla4j.cli;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import io.mla4j.MlaPlan;
import io.mla4j.Tensor;
import io.mla4j.conformance.Case;
import io.mla4j.conformance.ConformanceMain;
import io.mla4j.conformance.Report;
import io.mla4j.conformance.Workload;
import io.mla4j.ref.ReferenceBackend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** The main job: time MLA decode on the best backend here and check it against the fp64 oracle. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (Options.UsageException e) {
            System.err.println("mla4j: " + e.getMessage());
            System.err.println("run 'mla4j --help' for the options");
            code = 2;
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("mla4j: " + e.getMessage());
            code = 1;
        }
        System.exit(code);
    }

    static int run(String[] args) {
        Options o = Options.parse(args);
        if (o.help) {
            System.out.print(Options.USAGE);
            return 0;
        }
        if (o.listBackends) {
            for (MlaBackends.Status s : MlaBackends.list()) {
                System.out.printf("%-10s priority %3d  %s%n", s.name(), s.priority(),
                        s.available() ? "available" : "unavailable: " + s.unavailableReason().get());
            }
            return 0;
        }
        if (o.conformance) {
            List<String> a = new ArrayList<>();
            if (o.backend != null) a.addAll(List.of("--backend", o.backend));
            ConformanceMain.main(a.toArray(String[]::new));
            return 0;
        }
        List<Row> rows = new ArrayList<>();
        try (MlaBackend be = o.backend == null ? MlaBackends.open() : MlaBackends.open(o.backend)) {
            List<int[]> grid = new ArrayList<>();
            for (DType dt : o.dtypes)
                for (int b : o.batch)
                    for (int sk : o.seqlen)
                        for (int hq : o.heads)
                            for (int sq : o.queryLen) grid.add(new int[] {dt.ordinal(), b, sk, hq, sq});
            System.err.printf("mla4j: backend %s (%s); %d config(s), seed %d%n", be.name(), be.description(), grid.size(), o.seed);
            int i = 0;
            for (int[] g : grid) {
                i++;
                rows.add(runOne(be, o, DType.values()[g[0]], g[1], g[2], g[3], g[4], i, grid.size()));
            }
        }
        Output.print(o.format, rows);
        return rows.stream().allMatch(r -> r.pass() || !r.checked()) ? 0 : 3;
    }

    /** One measured configuration. */
    record Row(String backend, DType dtype, int b, int meanSk, int hq, int sq, boolean causal, double medianUs,
               double gbps, double tflops, boolean checked, double relL2, double roundingRelL2, double lseMaxAbs, boolean pass) {}

    private static Row runOne(MlaBackend be, Options o, DType dt, int b, int sk, int hq, int sq, int idx, int n) {
        String tag = String.format("[%d/%d] %s b=%d s_k=%d%s h_q=%d s_q=%d", idx, n, dt, b, sk, o.varlen ? "(varlen)" : "", hq, sq);
        Progress p = new Progress(tag);
        be.checkSupported(hq, sq, dt);
        Random rnd = new Random(o.seed + idx);
        int[] lens = new int[b];
        for (int s = 0; s < b; s++) {
            lens[s] = o.varlen ? (int) Math.max(sq, Math.min(3L * sk, Math.round(sk + rnd.nextGaussian() * sk / 2))) : sk;
        }
        p.say("generating inputs");
        try (Workload w = new Workload(new Case(lens, hq, sq, dt, o.causal), o.seed + idx);
             Tensor q = be.allocate(dt, w.q.shape());
             Tensor cache = be.allocate(dt, w.kCache.shape());
             Tensor out = be.allocate(dt, b, sq, hq, Mla.D_V);
             Tensor lse = be.allocate(DType.FP32, b, hq, sq);
             MlaPlan plan = be.plan(w.spec())) {
            be.copy(w.q, q);
            be.copy(w.kCache, cache);
            Tensor hostO = w.poisoned(dt, b, sq, hq, Mla.D_V), hostL = w.poisoned(DType.FP32, b, hq, sq);
            be.copy(hostO, out);
            be.copy(hostL, lse);
            // Warm up for the asked number of calls and at least 2 s (at most 1000 calls), so the JIT
            // has compiled the hot loops of a CPU backend before timing even a tiny config.
            long warmStart = System.nanoTime();
            for (int i = 0; i < o.warmup || (o.warmup > 0 && i < 1000 && System.nanoTime() - warmStart < 2_000_000_000L); i++) {
                p.say("warm-up " + (i + 1));
                be.decode(plan, q, cache, out, lse);
                be.synchronize();
            }
            long[] ns = new long[o.iters];
            for (int i = 0; i < o.iters; i++) {
                p.say("timing " + (i + 1) + "/" + o.iters);
                long t0 = System.nanoTime();
                be.decode(plan, q, cache, out, lse);
                be.synchronize();
                ns[i] = System.nanoTime() - t0;
            }
            Arrays.sort(ns);
            double us = ns[ns.length / 2] / 1e3;
            long sum = plan.totalSeqlen();
            double gbps = Mla.bytes(sum, b, hq, sq) / (us * 1e3);
            double tflops = Mla.flops(sum, hq, sq) / (us * 1e6);
            be.copy(out, hostO);
            be.copy(lse, hostL);
            Check c = o.checkSeqs > 0 ? check(w, hostO, hostL, o.checkSeqs, rnd, p) : null;
            p.done();
            int mean = (int) (sum / b);
            return new Row(be.name(), dt, b, mean, hq, sq, o.causal && sq > 1, us, gbps, tflops, c != null,
                    c == null ? Double.NaN : c.rel, c == null ? Double.NaN : c.round, c == null ? Double.NaN : c.lse,
                    c != null && c.pass);
        }
    }

    private record Check(double rel, double round, double lse, boolean pass) {}

    /** Compares whole sequences (all their rows) with the fp64 oracle; the first and last plus random ones. */
    private static Check check(Workload w, Tensor o, Tensor lse, int nSeqs, Random rnd, Progress p) {
        int b = w.c.batch(), sq = w.c.queryLen(), hq = w.c.numHeads();
        List<Integer> seqs = new ArrayList<>(List.of(0, b - 1));
        while (seqs.size() < Math.min(nSeqs, b)) {
            int s = rnd.nextInt(b);
            if (!seqs.contains(s)) seqs.add(s);
        }
        seqs = seqs.stream().distinct().limit(Math.min(nSeqs, b)).toList();
        float[] cache = w.kCache.toFloatArray();
        double num = 0, den = 0, rnum = 0, lseMax = 0;
        boolean written = true;
        try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan plan = ref.plan(w.spec())) {
            double[] qrow = new double[Mla.D_QK], orow = new double[Mla.D_V];
            for (int s : seqs) {
                p.say("checking sequence " + s + " against the fp64 oracle");
                for (int t = 0; t < sq; t++) {
                    int visible = Mla.visibleKeys(plan.seqlen(s), sq, t, plan.spec().effectiveCausal());
                    for (int h = 0; h < hq; h++) {
                        long qb = (((long) s * sq + t) * hq + h) * Mla.D_QK;
                        for (int d = 0; d < Mla.D_QK; d++) qrow[d] = w.q.getFloat(qb + d);
                        double l = ReferenceBackend.attendPartial(plan, s, qrow, 0, visible, plan.spec().scale(), cache, orow);
                        if (l == Double.NEGATIVE_INFINITY) l = Double.POSITIVE_INFINITY;
                        long ob = (((long) s * sq + t) * hq + h) * Mla.D_V;
                        for (int d = 0; d < Mla.D_V; d++) {
                            float got = o.getFloat(ob + d);
                            if (Float.isNaN(got)) written = false;
                            num += (got - orow[d]) * (got - orow[d]);
                            den += orow[d] * orow[d];
                            double rd = w.c.dtype().round((float) orow[d]) - orow[d];
                            rnum += rd * rd;
                        }
                        float gl = lse.getFloat(((long) s * hq + h) * sq + t);
                        if (Double.isInfinite(l) || Float.isInfinite(gl)) {
                            if (l != gl) written = false;
                        } else {
                            lseMax = Math.max(lseMax, Math.abs(gl - l));
                        }
                    }
                }
            }
        }
        double rel = den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
        double round = den == 0 ? 0 : Math.sqrt(rnum / den);
        boolean pass = written && rel <= Report.O_FACTOR * round && lseMax <= Report.LSE_ABS_TOL;
        return new Check(rel, round, lseMax, pass);
    }

    /** Progress on stderr for anything slower than a moment; silent for quick configs. */
    private static final class Progress {
        private final String tag;
        private final long start = System.nanoTime();
        private long last;
        private boolean shown;

        Progress(String tag) { this.tag = tag; }

        void say(String what) {
            long now = System.nanoTime();
            if (now - start < 1_000_000_000L || now - last < 500_000_000L) return;
            last = now;
            shown = true;
            System.err.printf("%s: %s (%.1f s)%n", tag, what, (now - start) / 1e9);
        }

        void done() {
            if (shown) System.err.printf("%s: done (%.1f s)%n", tag, (System.nanoTime() - start) / 1e9);
        }
    }
}
