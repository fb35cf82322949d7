package io.mla4j.cli;

import io.mla4j.BuildInfo;
import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import io.mla4j.MlaPlan;
import io.mla4j.Tensor;
import io.mla4j.conformance.BackendSuite;
import io.mla4j.conformance.Case;
import io.mla4j.conformance.Conformance;
import io.mla4j.conformance.Oracle;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.conformance.Report;
import io.mla4j.conformance.Workload;
import io.mla4j.ref.ReferenceBackend;
import io.mla4j.spi.BenchSchema;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        if (o.version) {
            System.out.println(BuildInfo.describe() + ", Java " + System.getProperty("java.runtime.version"));
            return 0;
        }
        if (o.listBackends) {
            List<String[]> recs = new ArrayList<>();
            for (MlaBackends.Status s : MlaBackends.list()) {
                recs.add(new String[] {s.name(), Integer.toString(s.priority()), s.available() ? "available" : "unavailable",
                        s.autoSelectable() ? "yes" : "no (by name only)", s.summary(), s.unavailableReason().orElse("")});
            }
            Output.records(o.format, List.of("backend", "priority", "status", "auto", "runs_on", "reason"), recs);
            return 0;
        }
        if (o.conformance) return conformance(o);
        List<BenchSchema.Row> rows = new ArrayList<>();
        List<Geometry> geometries = new ArrayList<>();
        for (int[] w : o.dims)
            for (int page : o.pages)
                for (io.mla4j.CacheFormat f : o.caches) geometries.add(new Geometry(page, w[0], w[1], f));
        List<int[]> grid = new ArrayList<>();
        for (DType dt : o.dtypes)
            for (int b : o.batch)
                for (int sk : o.seqlen)
                    for (int hq : o.heads)
                        for (int sq : o.queryLen) grid.add(new int[] {dt.ordinal(), b, sk, hq, sq});
        int i = 0, n = grid.size() * geometries.size();
        // one backend per geometry: without --backend, the best one that takes it (MlaBackends.open(Geometry))
        for (Geometry geo : geometries) {
            try (MlaBackend be = o.backend == null ? MlaBackends.open(geo) : MlaBackends.open(o.backend)) {
                System.err.printf("mla4j: backend %s (%s); %s; %d config(s), seed %d%n", be.name(), be.description(), geo,
                        grid.size(), o.seed);
                for (int[] g : grid) {
                    i++;
                    rows.add(runOne(be, o, geo, DType.values()[g[0]], g[1], g[2], g[3], g[4], i, n));
                }
            }
        }
        Output.print(o.format, rows);
        return rows.stream().allMatch(r -> !"FAIL".equals(r.get("check"))) ? 0 : 3;
    }

    /** The conformance matrix on one backend, one record per case, in the asked format; 1 when any case fails. */
    private static int conformance(Options o) {
        List<String[]> recs = new ArrayList<>();
        int failed = 0;
        try (MlaBackend be = o.backend == null ? MlaBackends.open() : MlaBackends.open(o.backend)) {
            System.err.println("mla4j: conformance on backend " + be.name() + " (" + be.description() + "), base seed "
                    + Conformance.baseSeed());
            for (BackendSuite.Named n : BackendSuite.cases(() -> be, Oracle.REFERENCE).toList()) {
                String result = "pass", msg = "";
                try {
                    n.check().run();
                } catch (AssertionError | RuntimeException e) {
                    failed++;
                    result = "FAIL";
                    msg = String.valueOf(e.getMessage()).replace('\n', ' ');
                }
                recs.add(new String[] {be.name(), n.name(), result, msg});
                if (o.format.equals("table")) System.out.println((result.equals("pass") ? "ok   " : "FAIL ") + n.name() + (msg.isEmpty() ? "" : ": " + msg));
            }
        }
        if (o.format.equals("table")) {
            System.out.println("conformance: " + (recs.size() - failed) + "/" + recs.size() + " cases passed");
        } else {
            Output.records(o.format, List.of("backend", "case", "result", "message"), recs);
        }
        return failed == 0 ? 0 : 1;
    }

    private static BenchSchema.Row runOne(MlaBackend be, Options o, Geometry geo, DType dt, int b, int sk, int hq, int sq,
                                          int idx, int n) {
        String tag = String.format("[%d/%d] %s b=%d s_k=%d%s h_q=%d s_q=%d, %s", idx, n, dt, b, sk, o.varlen ? "(varlen)" : "", hq, sq, geo);
        Progress p = new Progress(tag);
        be.checkSupported(hq, sq, dt);
        be.checkSupported(geo);
        Random rnd = new Random(o.seed + idx);
        int[] lens = new int[b];
        for (int s = 0; s < b; s++) {
            lens[s] = o.varlen ? (int) Math.max(sq, Math.min(3L * sk, Math.round(sk + rnd.nextGaussian() * sk / 2))) : sk;
        }
        p.say("generating inputs");
        try (Workload w = new Workload(new Case(lens, hq, sq, dt, o.causal, geo), o.seed + idx);
             Tensor q = be.allocate(dt, w.q.shape());
             Tensor cache = be.allocate(w.kCache.dtype(), w.kCache.shape());
             Tensor out = be.allocate(dt, geo.outShape(b, sq, hq));
             Tensor lse = be.allocate(DType.FP32, b, hq, sq);
             MlaPlan plan = be.plan(w.spec())) {
            be.copy(w.q, q);
            be.copy(w.kCache, cache);
            Tensor hostO = w.poisoned(dt, geo.outShape(b, sq, hq)), hostL = w.poisoned(DType.FP32, b, hq, sq);
            be.copy(hostO, out);
            be.copy(hostL, lse);
            // Warm up for the asked number of calls and at least 2 s (at most 1000 calls), so the JIT
            // has compiled the hot loops of a CPU backend before timing even a tiny config.
            long warmStart = System.nanoTime();
            for (int i = 0; i < o.warmup || (o.warmup > 0 && i < 1000 && System.nanoTime() - warmStart < 2_000_000_000L); i++) {
                p.say("warm-up " + (i + 1));
                be.decode(plan, q, cache, w.kvScale, out, lse);
                be.synchronize();
            }
            long[] ns = new long[o.iters];
            for (int i = 0; i < o.iters; i++) {
                p.say("timing " + (i + 1) + "/" + o.iters);
                long t0 = System.nanoTime();
                be.decode(plan, q, cache, w.kvScale, out, lse);
                be.synchronize();
                ns[i] = System.nanoTime() - t0;
            }
            double[] us = new double[ns.length];
            for (int i = 0; i < ns.length; i++) us[i] = ns[i] / 1e3;
            Arrays.sort(us);
            double med = BenchSchema.median(us);
            long sum = plan.totalSeqlen();
            be.copy(out, hostO);
            be.copy(lse, hostL);
            Check c = o.checkSeqs > 0 ? check(w, hostO, hostL, o.checkSeqs, rnd, p) : null;
            p.done();
            boolean host = be.memory().equals("host");
            BenchSchema.Row r = BenchSchema.provenance("cli", host ? BenchSchema.hostCpu() : device(be.description()),
                            be.name().equals("cuda") ? BenchSchema.nvidiaDriver() : "", threads(be), o.seed + idx)
                    .set("backend", be.name()).set("kernel", kernel(be)).set("dtype", dt.name().toLowerCase(Locale.ROOT))
                    .set("b", b).set("s_k_mean", (int) (sum / b)).set("s_k_sum", sum).set("h_q", hq).set("s_q", sq)
                    .set("page_size", geo.pageSize()).set("d_c", geo.dC()).set("d_r", geo.dR()).set("cache", geo.format().id())
                    .set("causal", o.causal && sq > 1).set("varlen", o.varlen)
                    .times(us)
                    .set("gb_per_s", geo.bytes(sum, b, hq, sq) / (med * 1e3))
                    .set("tflop_per_s", geo.flops(sum, hq, sq) / (med * 1e6));
            if (c == null) return r.set("check", "skipped");
            return r.set("o_rel_l2", c.rel).set("rounding_rel_l2", c.round)
                    .set("o_rel_l2_over_rounding", c.round > 0 ? c.rel / c.round : Double.NaN)
                    .set("lse_max_abs", c.lse).set("check", c.pass ? "pass" : "FAIL");
        }
    }

    private static final Pattern KERNEL = Pattern.compile("kernel (sm\\d+)");

    /** The variant inside a backend: cpu rescaling, cuda kernel; "" when a backend has one. */
    private static String kernel(MlaBackend be) {
        if (be instanceof CpuBackend c) return c.rescale().name().toLowerCase(Locale.ROOT);
        Matcher m = KERNEL.matcher(be.description());
        return m.find() ? m.group(1) : "";
    }

    /** A device backend's description up to its kernel/mode details: the device itself. */
    private static String device(String description) {
        int k = description.indexOf(", kernel");
        return k < 0 ? description : description.substring(0, k);
    }

    private static int threads(MlaBackend be) {
        if (be instanceof CpuBackend c) return c.threads();
        if (be instanceof ReferenceBackend) return 1;
        return Runtime.getRuntime().availableProcessors();
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
        float[] cache = w.cacheValues(); // an fp8 cache dequantised: the oracle decodes its values
        double num = 0, den = 0, rnum = 0, lseMax = 0;
        boolean written = true;
        try (ReferenceBackend ref = new ReferenceBackend(); MlaPlan plan = ref.plan(w.spec())) {
            Geometry geo = w.c.geometry();
            int dqk = geo.dQk(), dv = geo.dV();
            double[] qrow = new double[dqk], orow = new double[dv];
            for (int s : seqs) {
                p.say("checking sequence " + s + " against the fp64 oracle");
                for (int t = 0; t < sq; t++) {
                    int visible = Mla.visibleKeys(plan.seqlen(s), sq, t, plan.spec().effectiveCausal());
                    for (int h = 0; h < hq; h++) {
                        long qb = (((long) s * sq + t) * hq + h) * dqk;
                        for (int d = 0; d < dqk; d++) qrow[d] = w.q.getFloat(qb + d);
                        double l = ReferenceBackend.attendPartial(plan, s, qrow, 0, visible, plan.spec().scale(), cache, orow);
                        if (l == Double.NEGATIVE_INFINITY) l = Double.POSITIVE_INFINITY;
                        long ob = (((long) s * sq + t) * hq + h) * dv;
                        for (int d = 0; d < dv; d++) {
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
