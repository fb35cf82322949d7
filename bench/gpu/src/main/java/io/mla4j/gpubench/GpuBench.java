package io.mla4j.gpubench;

import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.cuda.CublasBaseline;
import io.mla4j.cuda.CudaBackend;
import io.mla4j.cuda.CudaDiagnostics;
import io.mla4j.cuda.CudaEvent;
import io.mla4j.cuda.CudaGraph;
import io.mla4j.spi.BenchSchema;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The GPU bench: measures the two ceilings (device copy bandwidth, bf16 GEMM rate through cuBLAS), then
 * times each decode kernel over FlashMLA's grid against the roofline floor, checks a sample of every
 * run against the fp64 oracle, times the cuBLAS baseline, the eager vs CUDA-graph cost of a decode and
 * the CPU cost of one eager call. Writes bench.csv / bench.json / bench.jsonl (the CLI's schema,
 * {@link BenchSchema}) and ceilings.json to --out; a progress line per config.
 *
 * <pre>java ... io.mla4j.gpubench.GpuBench [--out DIR] [--quick] [--limit N] [--kernels sm80,sm90] [--no-baseline]
 *      [--pages 1,16,64] [--dims 512+64,256+32] [--cache fp8] [--anchors FILE] [--choice]</pre>
 * {@code --kernels} takes sm80, sm90 (the relay kernel for every plan), etap (the transposed kernel where it serves) and
 * auto (the backend's choice per plan); {@code --choice} times the grid where the Hopper kernels' choice matters.
 */
public final class GpuBench {
    private static final PrintStream OUT = System.out;

    record Config(int b, int meanSk, int hq, int sq, boolean varlen, int page, io.mla4j.CacheFormat format, int dC, int dR) {
        Config(int b, int meanSk, int hq, int sq, boolean varlen) { this(b, meanSk, hq, sq, varlen, Mla.BLOCK_SIZE); }

        Config(int b, int meanSk, int hq, int sq, boolean varlen, int page) {
            this(b, meanSk, hq, sq, varlen, page, io.mla4j.CacheFormat.PLAIN);
        }

        Config(int b, int meanSk, int hq, int sq, boolean varlen, int page, io.mla4j.CacheFormat format) {
            this(b, meanSk, hq, sq, varlen, page, format, Geometry.DEEPSEEK.dC(), Geometry.DEEPSEEK.dR());
        }

        String label() {
            boolean deepSeek = dC == Geometry.DEEPSEEK.dC() && dR == Geometry.DEEPSEEK.dR();
            return String.format("b=%d sk=%d hq=%d sq=%d%s%s%s%s", b, meanSk, hq, sq, varlen ? " var" : "",
                    page == Mla.BLOCK_SIZE ? "" : " page=" + page, format == io.mla4j.CacheFormat.PLAIN ? "" : " " + format.id(),
                    deepSeek ? "" : " dims=" + dC + "+" + dR);
        }

        /** The cache geometry timed: this config's widths and page size, in its cache format. */
        Geometry geometry() { return new Geometry(page, dC, dR, format); }
    }

    /**
     * The e4m3 cache's per-tensor scale in the bench: its values are N(0, 1) in e4m3, so the cache stands for N(0, 1/4);
     * a scale other than 1 so that a kernel that drops it fails the check.
     */
    static final float FP8_KV_SCALE = 0.5f;

    /** One config on one kernel; {@code samples}: the per-call times (us) of the batches behind {@code us}. */
    record Row(Config c, String kernel, long sumSk, double us, double eagerUs, double graphUs, double cpuUsPerCall,
               double graphCpuUsPerLayer, double gbps, double tflops, double fracRoofline, String error, boolean ok,
               double baselineUs, String baselineError, Sampled.Error err, long seed, double[] samples, String run) {}

    private final Path outDir;
    private final boolean quick, baseline;
    private double copyBytesPerS, gemmFlopsPerS;
    private final List<Row> rows = new ArrayList<>();
    private final List<String> overheadJson = new ArrayList<>();
    private final List<String> overheadLines = new ArrayList<>();
    private final Map<String, Sampled.Truth> truths = new HashMap<>();
    private final Map<String, double[]> baselineUs = new HashMap<>(); // label -> {us}; kernel-independent
    private final Map<String, String> baselineErr = new HashMap<>();

    private final int limit;
    private List<Anchors.Anchor> anchors = List.of(); // printed beside the small-batch rows
    private int errors; // configs that threw instead of giving a row
    private String device = "", driver = ""; // provenance of every row, from the first backend opened

    private GpuBench(Path outDir, boolean quick, boolean baseline, int limit) {
        this.limit = limit;
        this.outDir = outDir;
        this.quick = quick;
        this.baseline = baseline;
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(".");
        boolean quick = false, baseline = true;
        int limit = Integer.MAX_VALUE;
        List<String> kernels = List.of("sm80", "sm90");
        int[] pages = null;
        int[][] dims = null;
        Path anchorsFile = null;
        boolean cacheGrid = false, choice = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--quick" -> quick = true;
                case "--no-baseline" -> baseline = false;
                case "--limit" -> limit = Integer.parseInt(args[++i]);
                case "--kernels" -> kernels = Arrays.asList(args[++i].split(","));
                case "--pages" -> pages = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--dims" -> dims = parseDims(args[++i]);
                case "--choice" -> choice = true;
                case "--anchors" -> anchorsFile = Path.of(args[++i]); // CSV of other implementations' times (Anchors)
                case "--cache" -> { // the cache-format grid: each config with a bf16 and an fp8_e4m3 cache
                    if (io.mla4j.CacheFormat.parse(args[++i]) != io.mla4j.CacheFormat.FP8_E4M3) {
                        throw new IllegalArgumentException("--cache: the GPU bench times fp8 (fp8_e4m3) against bf16; not " + args[i]);
                    }
                    cacheGrid = true;
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Files.createDirectories(out);
        GpuBench bench = new GpuBench(out, quick, baseline, limit);
        bench.anchors = Anchors.load(anchorsFile);
        List<Config> g = choice ? choiceGrid() : cacheGrid ? cacheGrid() : dims != null ? widthGrid(dims) : pages == null ? grid(quick) : pageGrid(pages);
        long failed = bench.run(kernels, g);
        // a timing whose output is wrong is no timing: the run fails, so no script or reader takes it as a result
        if (failed > 0) System.exit(1);
    }

    static List<Config> grid(boolean quick) {
        List<Config> g = new ArrayList<>();
        int[] sks = quick ? new int[] {4096, 32768} : new int[] {4096, 8192, 16384, 32768};
        int[] hqs = quick ? new int[] {16, 128} : new int[] {16, 32, 64, 128};
        for (int sk : sks)
            for (int hq : hqs)
                for (int sq : new int[] {1, 2}) g.add(new Config(128, sk, hq, sq, true));
        // Small batch: issue 7's latency rows (b = 1 at s_k = 4096 and 32768, b = 4 at 32768) and longer contexts.
        int[] smallHqs = quick ? new int[] {128} : new int[] {16, 128};
        int[][] small = quick ? new int[][] {{1, 32768}, {1, 65536}, {16, 32768}, {16, 65536}}
                : new int[][] {{1, 4096}, {1, 32768}, {1, 65536}, {4, 32768}, {16, 32768}, {16, 65536}};
        for (int[] bs : small)
            for (int hq : smallHqs) g.add(new Config(bs[0], bs[1], hq, 1, bs[0] > 4));
        return g;
    }

    /**
     * Where the choice between the Hopper kernels matters (issue 19): h_q * s_q = 16 at b = 128 over the four context
     * lengths, at pages of 16 and 256 too, and at small batch; 32 rows as the control where the relay kernel serves.
     */
    static List<Config> choiceGrid() {
        List<Config> g = new ArrayList<>();
        for (int sk : new int[] {4096, 8192, 16384, 32768}) g.add(new Config(128, sk, 16, 1, true));
        for (int hq : new int[] {1, 5, 8}) g.add(new Config(128, 8192, hq, hq == 5 ? 3 : 1, true));
        g.add(new Config(128, 32768, 16, 1, true, 16));
        g.add(new Config(128, 32768, 16, 1, true, 256));
        g.add(new Config(128, 8192, 16, 2, true));
        g.add(new Config(128, 8192, 32, 1, true));
        for (int[] bs : new int[][] {{1, 4096}, {1, 32768}, {1, 65536}, {4, 32768}, {16, 32768}}) g.add(new Config(bs[0], bs[1], 16, 1, bs[0] > 4));
        return g;
    }

    /**
     * The page-size grid (--pages 1,16,...; issue 22's targets): b = 128 at h_q * s_q <= 32 and the small-batch
     * rows, h_q = 16, each at every page size given (64 included, so ratios come from the same run).
     */
    static List<Config> pageGrid(int[] pages) {
        List<Config> g = new ArrayList<>();
        int[][] rows = {{128, 4096, 1}, {128, 4096, 2}, {128, 32768, 1}, {128, 32768, 2}, {1, 4096, 1}, {1, 32768, 1}, {4, 32768, 1}, {16, 32768, 1}};
        for (int[] r : rows)
            for (int page : pages) g.add(new Config(r[0], r[1], 16, r[2], r[0] > 4, page));
        return g;
    }

    /** "512+64,256+32": width pairs (d_c, d_r). */
    static int[][] parseDims(String s) {
        return Arrays.stream(s.split(",")).map(p -> {
            String[] w = p.trim().split("\\+");
            if (w.length != 2) throw new IllegalArgumentException("--dims: expected d_c+d_r pairs like 512+64,256+32, got " + p);
            return new int[] {Integer.parseInt(w[0].trim()), Integer.parseInt(w[1].trim())};
        }).toArray(int[][]::new);
    }

    /**
     * The width grid (--dims 512+64,256+32,...; issue 22's width target): the page grid's rows (b = 128 at h_q * s_q <= 32,
     * the small-batch rows; h_q = 16, 64-token pages) at each width pair given, 512+64 included for same-run fractions.
     */
    static List<Config> widthGrid(int[][] dims) {
        List<Config> g = new ArrayList<>();
        for (Config c : pageGrid(new int[] {Mla.BLOCK_SIZE}))
            for (int[] w : dims) g.add(new Config(c.b(), c.meanSk(), c.hq(), c.sq(), c.varlen(), c.page(), c.format(), w[0], w[1]));
        return g;
    }

    /**
     * The cache-format grid (--cache fp8; issue 23's targets): b = 128 at h_q * s_q of 16 to 256 and s_k of 8192 and
     * 32768, b = 1 and 4 at 32768, each with a bf16 cache and then an fp8_e4m3 one, so ratios come from one run.
     */
    static List<Config> cacheGrid() {
        List<Config> g = new ArrayList<>();
        int[][] rows = {{128, 8192, 16, 1}, {128, 32768, 16, 1}, {128, 8192, 16, 2}, {128, 32768, 32, 1}, {128, 8192, 64, 2},
                {128, 32768, 128, 1}, {1, 32768, 16, 1}, {4, 32768, 128, 1}};
        for (int[] r : rows)
            for (io.mla4j.CacheFormat f : new io.mla4j.CacheFormat[] {io.mla4j.CacheFormat.PLAIN, io.mla4j.CacheFormat.FP8_E4M3})
                g.add(new Config(r[0], r[1], r[2], r[3], r[0] > 4, Mla.BLOCK_SIZE, f));
        return g;
    }

    private long run(List<String> kernels, List<Config> grid) throws IOException {
        if (grid.size() > limit) grid = grid.subList(0, limit);
        // ceilings, on a backend of its own
        try (CudaBackend be = CudaBackend.open()) {
            OUT.println("device: " + be.description());
            int k = be.description().indexOf(", kernel");
            device = k < 0 ? be.description() : be.description().substring(0, k);
            driver = driverVersion();
            measureCeilings(be);
        }
        for (String k : kernels) {
            if (k.equals("auto")) System.clearProperty("mla4j.cuda.kernel"); // the backend's own choice per plan
            else System.setProperty("mla4j.cuda.kernel", k);
            CudaBackend be;
            try {
                be = CudaBackend.open();
            } catch (RuntimeException e) {
                OUT.println("kernel " + k + ": not available (" + e.getMessage() + ")");
                continue;
            }
            try (be; CublasBaseline base = baseline && k.equals(kernels.get(0)) ? openBaseline(be) : null) {
                OUT.println("== kernel " + k + ": " + be.description());
                try {
                    measureOverhead(be, k);
                } catch (RuntimeException e) {
                    OUT.println("  overhead [" + k + "] ERROR " + e);
                    e.printStackTrace(OUT);
                }
                for (Config c : grid) {
                    try {
                        rows.add(runConfig(be, k, c, base));
                    } catch (RuntimeException e) {
                        OUT.println("  " + c.label() + " [" + k + "] ERROR " + e);
                        errors++;
                        e.printStackTrace(OUT);
                    }
                    writeResults(); // after every config, so a cut-off run still leaves numbers
                }
            }
        }
        long failed = printTable();
        if (errors > 0) OUT.println("bench: " + errors + " runs ended in an error: FAILED");
        return failed + errors;
    }

    /** "CUDA 13.0, 580.159.04": the driver API version and the kernel module's. */
    private static String driverVersion() {
        int[] v = new int[1];
        jcuda.driver.JCudaDriver.cuDriverGetVersion(v);
        String nv = BenchSchema.nvidiaDriver();
        return "CUDA " + v[0] / 1000 + "." + v[0] % 1000 / 10 + (nv.isEmpty() ? "" : ", " + nv);
    }

    private CublasBaseline openBaseline(CudaBackend be) {
        try {
            CublasBaseline b = new CublasBaseline(be);
            OUT.println("cuBLAS baseline: version " + b.cublasVersion() + " from " + io.mla4j.cuda.cublas.CublasLibrary.loadedFrom());
            return b;
        } catch (RuntimeException | LinkageError e) {
            OUT.println("cuBLAS baseline unavailable: " + e.getMessage());
            return null;
        }
    }

    // ---- ceilings ----

    private void measureCeilings(CudaBackend be) {
        CudaDiagnostics.Ceilings c = CudaDiagnostics.ceilings(be);
        copyBytesPerS = c.copyBytesPerS();
        gemmFlopsPerS = Double.isNaN(c.gemmFlopsPerS()) ? 790e12 : c.gemmFlopsPerS();
        OUT.printf(Locale.ROOT, "ceilings: copy %.0f GB/s (read+write), bf16 GEMM %.0f TFLOP/s (8192^3, cuBLAS)%s%n",
                copyBytesPerS / 1e9, gemmFlopsPerS / 1e12, Double.isNaN(c.gemmFlopsPerS()) ? " [GEMM not measured: assumed]" : "");
    }

    // ---- Java overhead ----

    /**
     * The CPU cost of one eager decode call (validation + both launches) and of replaying a whole step of
     * 61 layers (DeepSeek-V3's count) from one CUDA graph, on a small decode (b=1, s_k=4096, h_q=128) so
     * the GPU is rarely the bottleneck. Batches of 100 calls then a sync, so the launch queue never fills
     * (a full queue would make the CPU wait and inflate the number); 20000 calls first to warm the JIT.
     */
    private void measureOverhead(CudaBackend be, String kernel) {
        final int layers = 61, batch = 100;
        int sk = 4096, hq = 128, nb = Mla.blocksFor(sk);
        try (Arena arena = Arena.ofConfined()) {
            int[] table = new int[nb];
            for (int j = 0; j < nb; j++) table[j] = nb - 1 - j;
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, new int[] {sk}, 1), Tensor.ofInts(arena, table, 1, nb), nb, hq, 1, DType.BF16);
            Tensor[] q = new Tensor[layers], k = new Tensor[layers];
            List<Tensor> owned = new ArrayList<>();
            try (MlaPlan plan = be.plan(spec); CudaEvent e0 = be.newEvent(); CudaEvent e1 = be.newEvent();
                 Tensor o = be.allocate(DType.BF16, 1, 1, hq, Mla.D_V); Tensor lse = be.allocate(DType.FP32, 1, hq, 1)) {
                for (int i = 0; i < layers; i++) {
                    q[i] = be.allocate(DType.BF16, 1, 1, hq, Mla.D_QK);
                    k[i] = be.allocate(DType.BF16, nb, Mla.BLOCK_SIZE, 1, Mla.D_QK);
                    owned.add(q[i]);
                    owned.add(k[i]);
                    be.fillRandom(q[i], 9000 + 2L * i);
                    be.fillRandom(k[i], 9001 + 2L * i);
                }
                double[] cpu = new double[100], gpu = new double[100];
                for (int r = 0; r < 200 + cpu.length; r++) {
                    be.synchronize();
                    e0.record();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < batch; i++) be.decode(plan, q[i % layers], k[i % layers], o, lse);
                    long t1 = System.nanoTime();
                    e1.record();
                    if (r >= 200) {
                        cpu[r - 200] = (t1 - t0) / 1e3 / batch;
                        gpu[r - 200] = e1.elapsedMsSince(e0) * 1e3 / batch;
                    }
                }
                double gcpu, ggpu;
                try (CudaGraph g = be.capture(() -> {
                    for (int i = 0; i < layers; i++) be.decode(plan, q[i], k[i], o, lse);
                })) {
                    double[] gc = new double[100], gg = new double[100];
                    for (int r = 0; r < 50 + gc.length; r++) {
                        be.synchronize();
                        e0.record();
                        long t0 = System.nanoTime();
                        g.launch();
                        long t1 = System.nanoTime();
                        e1.record();
                        if (r >= 50) {
                            gc[r - 50] = (t1 - t0) / 1e3;
                            gg[r - 50] = e1.elapsedMsSince(e0) * 1e3 / layers;
                        }
                    }
                    gcpu = median(gc);
                    ggpu = median(gg);
                }
                // a step's plan for a large batch, both ways the schedule can reach the GPU (r16: the 1.1-1.6 ms per
                // step of r2/r3 was never broken down; the host computes the same schedule anyway)
                for (String planLine : measurePlan(be, kernel)) {
                    OUT.println("  " + planLine);
                    overheadLines.add(planLine);
                }
                String line = String.format(Locale.ROOT, "overhead [%s] b=1 s_k=%d h_q=%d: eager decode CPU %.2f us/call (p90 %.2f), GPU %.1f us/decode back to back;"
                                + " graph of %d layers: CPU %.2f us per cuGraphLaunch = %.3f us/layer, GPU %.1f us/layer",
                        kernel, sk, hq, median(cpu), pct(cpu, 0.9), median(gpu), layers, gcpu, gcpu / layers, ggpu);
                OUT.println("  " + line);
                overheadLines.add(line);
                overheadJson.add(String.format(Locale.ROOT, "{\"kernel\": \"%s\", \"eager_cpu_us_per_call\": %s, \"eager_gpu_us_per_decode\": %s, "
                        + "\"graph_layers\": %d, \"graph_cpu_us_per_launch\": %s, \"graph_cpu_us_per_layer\": %s, \"graph_gpu_us_per_layer\": %s}",
                        kernel, fmt(median(cpu)), fmt(median(gpu)), layers, fmt(gcpu), fmt(gcpu / layers), fmt(ggpu)));
            } finally {
                for (Tensor t : owned) t.close();
            }
        }
    }

    /**
     * A step's plan at b = 128, mean s_k = 32768 (a 128 x ~1100 block table): the CPU time until {@code plan()} returns
     * (validation, host schedule, workspace, the uploads and the scheduler launch enqueued), the GPU time of what it
     * enqueued (events around it), and the whole with a synchronize; once with the backend as opened (GPU scheduler
     * kernel) and once with a second backend that uploads the host's schedule instead ({@code -Dmla4j.cuda.schedule=host}).
     */
    private List<String> measurePlan(CudaBackend gpuScheduled, String kernel) {
        List<String> lines = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            Config pc = new Config(128, 32768, 128, 1, true);
            int[] lens = seqlens(pc, 77);
            int mb = 0;
            for (int l : lens) mb = Math.max(mb, Mla.blocksFor(l));
            int[] ptable = new int[128 * mb];
            int used = 0;
            for (int s = 0; s < 128; s++)
                for (int j = 0; j < mb; j++) ptable[s * mb + j] = j < Mla.blocksFor(lens[s]) ? used++ : -1;
            PlanSpec pspec = PlanSpec.of(Tensor.ofInts(arena, lens, 128), Tensor.ofInts(arena, ptable, 128, mb), used, 128, 1, DType.BF16);
            String prior = System.getProperty("mla4j.cuda.schedule");
            for (String mode : new String[] {"gpu", "host"}) {
                CudaBackend be = gpuScheduled;
                if (mode.equals("host")) {
                    System.setProperty("mla4j.cuda.schedule", "host");
                    try {
                        be = CudaBackend.open();
                    } finally {
                        if (prior == null) System.clearProperty("mla4j.cuda.schedule");
                        else System.setProperty("mla4j.cuda.schedule", prior);
                    }
                }
                try (CudaEvent e0 = be.newEvent(); CudaEvent e1 = be.newEvent()) {
                    double[] enqueue = new double[20], gpu = new double[20], total = new double[20];
                    for (int r = 0; r < 5 + total.length; r++) {
                        be.synchronize();
                        e0.record();
                        long t0 = System.nanoTime();
                        MlaPlan p = be.plan(pspec);
                        long t1 = System.nanoTime();
                        e1.record();
                        be.synchronize();
                        long t2 = System.nanoTime();
                        p.close();
                        if (r >= 5) {
                            enqueue[r - 5] = (t1 - t0) / 1e3;
                            gpu[r - 5] = e1.elapsedMsSince(e0) * 1e3;
                            total[r - 5] = (t2 - t0) / 1e3;
                        }
                    }
                    lines.add(String.format(Locale.ROOT, "plan [%s, %s schedule] b=128 mean s_k=32768 (block table %d x %d): %.0f us per step"
                                    + " synchronised; plan() returns after %.0f us of CPU; GPU %.0f us (uploads%s)",
                            kernel, mode, 128, mb, median(total), median(enqueue), median(gpu), mode.equals("gpu") ? " + scheduler kernel" : ""));
                } finally {
                    if (be != gpuScheduled) be.close();
                }
            }
        } catch (RuntimeException e) {
            lines.add("plan [" + kernel + "] ERROR " + e);
        }
        return lines;
    }

    static double pct(double[] v, double p) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) (p * s.length))];
    }

    // ---- one config ----

    static int[] seqlens(Config c, long seed) {
        Random r = new Random(seed);
        int[] s = new int[c.b];
        for (int i = 0; i < c.b; i++) {
            // FlashMLA's varlen: N(mean, mean/2), at least s_q
            s[i] = c.varlen ? (int) Math.max(c.sq, Math.round(c.meanSk + r.nextGaussian() * c.meanSk / 2)) : c.meanSk;
        }
        return s;
    }

    private Row runConfig(CudaBackend be, String kernel, Config c, CublasBaseline base) {
        long seed = 1000L * c.b + 31L * c.meanSk + 7L * c.hq + c.sq;
        int[] lens = seqlens(c, seed);
        long sumSk = 0;
        Geometry geo = c.geometry();
        int maxBlocks = 1, need = 0;
        for (int l : lens) {
            sumSk += l;
            maxBlocks = Math.max(maxBlocks, geo.blocksFor(l));
            need += geo.blocksFor(l);
        }
        int numBlocks = need + 1;
        long cacheBytes = (long) numBlocks * c.page() * geo.tokenBytes();
        boolean fp8 = geo.format() == io.mla4j.CacheFormat.FP8_E4M3;
        float kv = fp8 ? FP8_KV_SCALE : 1f;
        // rotate input sets so that repeated runs are not served from the 50 MB L2
        int sets = (int) Math.max(1, Math.min(8, (400L << 20) / Math.max(1, cacheBytes)));
        Random rnd = new Random(seed);
        int[] perm = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) perm[i] = i;
        for (int i = numBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        int[] table = new int[c.b * maxBlocks];
        Arrays.fill(table, -1);
        int next = 0;
        for (int s = 0; s < c.b; s++)
            for (int j = 0; j < geo.blocksFor(lens[s]); j++) table[s * maxBlocks + j] = perm[next++];

        DType dt = DType.BF16;
        List<Tensor> owned = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            Tensor[] q = new Tensor[sets], k = new Tensor[sets];
            for (int i = 0; i < sets; i++) {
                q[i] = be.allocate(dt, geo.queryShape(c.b, c.sq, c.hq));
                k[i] = be.allocate(geo.format().cacheDType(dt), geo.cacheShape(numBlocks));
                owned.add(q[i]);
                owned.add(k[i]);
                be.fillRandom(q[i], seed * 17 + 2L * i);
                be.fillRandom(k[i], seed * 17 + 2L * i + 1);
            }
            Tensor o = be.allocate(dt, geo.outShape(c.b, c.sq, c.hq));
            Tensor lse = be.allocate(DType.FP32, c.b, c.hq, c.sq);
            owned.add(o);
            owned.add(lse);
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, lens, c.b), Tensor.ofInts(arena, table, c.b, maxBlocks),
                    numBlocks, c.hq, c.sq, dt).withGeometry(geo);
            try (MlaPlan plan = be.plan(spec); CudaEvent e0 = be.newEvent(); CudaEvent e1 = be.newEvent()) {
                // correctness on set 0, outputs poisoned first
                Sampled.Truth truth = truths.computeIfAbsent(c.label(), x -> Sampled.truth(be, plan, q[0], k[0], kv, seed));
                poison(be, o, lse);
                be.decode(plan, q[0], k[0], kv, o, lse);
                be.synchronize();
                Sampled.Error err = Sampled.compare(be, plan, truth, o, lse);

                // GPU time per decode: one timed decode to size the batches, then batches of n
                for (int w = 0; w < 3; w++) be.decode(plan, q[w % sets], k[w % sets], kv, o, lse);
                e0.record();
                be.decode(plan, q[0], k[0], kv, o, lse);
                e1.record();
                double estMs = Math.max(1e-3, e1.elapsedMsSince(e0));
                int n = (int) Math.max(8, Math.min(quick ? 32 : 64, 20.0 / estMs));
                int batches = quick ? 3 : 5;
                double[] eager = new double[batches], cpu = new double[batches];
                for (int bt = 0; bt < batches; bt++) {
                    be.synchronize();
                    e0.record();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < n; i++) be.decode(plan, q[i % sets], k[i % sets], kv, o, lse);
                    long t1 = System.nanoTime();
                    e1.record();
                    eager[bt] = e1.elapsedMsSince(e0) * 1e3 / n;
                    cpu[bt] = (t1 - t0) / 1e3 / n;
                }
                final int nn = n;
                double graphUs, graphCpu;
                double[] graphSamples;
                try (CudaGraph g = be.capture(() -> {
                    for (int i = 0; i < nn; i++) be.decode(plan, q[i % sets], k[i % sets], kv, o, lse);
                })) {
                    g.launch();
                    be.synchronize();
                    double[] gt = new double[batches], gc = new double[batches];
                    for (int bt = 0; bt < batches; bt++) {
                        e0.record();
                        long t0 = System.nanoTime();
                        g.launch();
                        long t1 = System.nanoTime();
                        e1.record();
                        gt[bt] = e1.elapsedMsSince(e0) * 1e3 / n;
                        gc[bt] = (t1 - t0) / 1e3 / n;
                    }
                    graphUs = median(gt);
                    graphSamples = gt;
                    graphCpu = median(gc);
                }
                double eagerUs = median(eager), us = Math.min(eagerUs, graphUs);
                double[] samples = us == graphUs ? graphSamples : eager; // the spread of the headline time
                double flops = geo.flops(sumSk, c.hq, c.sq), bytes = geo.bytes(sumSk, c.b, c.hq, c.sq); // an fp8 cache's real bytes
                double floorUs = Math.max(bytes / copyBytesPerS, flops / gemmFlopsPerS) * 1e6;

                double baseUs = baselineUs.getOrDefault(c.label(), new double[] {Double.NaN})[0];
                String baseErr = baselineErr.getOrDefault(c.label(), "");
                // the baseline's gather takes 64-token bf16 pages of DeepSeek's widths only
                if (base != null && geo.withFormat(io.mla4j.CacheFormat.PLAIN).equals(Geometry.DEEPSEEK) && !fp8) {
                    long ws = CublasBaseline.workspaceBytes(plan);
                    long free = be.memoryInfo()[0];
                    if (ws > free - (2L << 30)) {
                        baseErr = String.format(Locale.ROOT, "skipped: workspace %.1f GB", ws / 1e9);
                    } else {
                        poison(be, o, lse);
                        base.decode(plan, q[0], k[0], o, lse);
                        be.synchronize();
                        baseErr = Sampled.compare(be, plan, truth, o, lse).toString();
                        double[] bt = new double[quick ? 3 : 5];
                        for (int i = 0; i < bt.length; i++) {
                            e0.record();
                            base.decode(plan, q[i % sets], k[i % sets], o, lse);
                            e1.record();
                            bt[i] = e1.elapsedMsSince(e0) * 1e3;
                        }
                        baseUs = median(bt);
                    }
                    baselineUs.put(c.label(), new double[] {baseUs});
                    baselineErr.put(c.label(), baseErr);
                }
                Row row = new Row(c, ((io.mla4j.cuda.CudaPlan) plan).kernel(), sumSk, us, eagerUs, graphUs, median(cpu), graphCpu, bytes / (us * 1e-6) / 1e9,
                        flops / (us * 1e-6) / 1e12, floorUs / us, err.toString(), err.passed(), baseUs, baseErr, err, seed, samples, kernel);
                OUT.printf(Locale.ROOT, "  %-32s [%s] %9.1f us (eager %.1f, graph %.1f) %7.0f GB/s %6.1f TFLOP/s %5.1f%% roofline | cpu/call %.2f us | %s%s%n",
                        c.label(), kernel, us, eagerUs, graphUs, row.gbps(), row.tflops(), 100 * row.fracRoofline(), row.cpuUsPerCall(),
                        err, Double.isNaN(baseUs) && baseErr.isEmpty() ? "" : String.format(Locale.ROOT, " | cuBLAS %.1f us (%.2fx) %s", baseUs, baseUs / us, baseErr));
                return row;
            }
        } finally {
            for (Tensor t : owned) t.close();
        }
    }

    /** NaN in every output element: bf16 NaN 0x7FC0 in both halves of a word, fp32 NaN 0x7FC00000. */
    static void poison(CudaBackend be, Tensor o, Tensor lse) {
        be.fillWords(o, o.dtype() == DType.BF16 ? 0x7FC07FC0 : 0x7E007E00);
        be.fillWords(lse, 0x7FC00000);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
    }

    // ---- output ----

    /**
     * bench.csv / bench.json / bench.jsonl: the rows in the one schema the CLI also writes
     * ({@link BenchSchema}); the run's ceilings and Java-overhead lines in ceilings.json (not per-config rows).
     */
    private void writeResults() throws IOException {
        List<BenchSchema.Row> out = new ArrayList<>();
        for (Row r : rows) out.add(schemaRow(r, device, driver));
        for (String f : List.of("csv", "json", "jsonl")) Files.writeString(outDir.resolve("bench." + f), BenchSchema.write(f, out));
        Files.writeString(outDir.resolve("ceilings.json"), "{\"copy_gbps\": " + fmt(copyBytesPerS / 1e9) + ", \"gemm_tflops\": "
                + fmt(gemmFlopsPerS / 1e12) + ",\n \"overhead\": [" + String.join(", ", overheadJson) + "]}\n");
    }

    /** One result in the CLI's schema (the headline is the median of the better of eager and graph; its samples give the spread). */
    static BenchSchema.Row schemaRow(Row r, String device, String driver) {
        Config c = r.c();
        Sampled.Error e = r.err();
        double[] sorted = r.samples().clone();
        Arrays.sort(sorted);
        BenchSchema.Row b = BenchSchema.provenance("gpu-bench", device, driver, Runtime.getRuntime().availableProcessors(), r.seed())
                .set("backend", "cuda").set("kernel", r.kernel()).set("dtype", "bf16")
                .set("b", c.b()).set("s_k_mean", c.meanSk()).set("s_k_sum", r.sumSk()).set("h_q", c.hq()).set("s_q", c.sq())
                .set("page_size", c.page()).set("d_c", c.dC()).set("d_r", c.dR())
                .set("cache", c.format().id())
                .set("causal", c.sq() > 1).set("varlen", c.varlen())
                .times(sorted).set("us_median", r.us())
                .set("gb_per_s", r.gbps()).set("tflop_per_s", r.tflops()).set("frac_roofline", r.fracRoofline())
                .set("us_eager", r.eagerUs()).set("us_graph", r.graphUs()).set("cpu_us_per_call", r.cpuUsPerCall())
                .set("graph_cpu_us_per_layer", r.graphCpuUsPerLayer()).set("baseline_us", r.baselineUs())
                .set("o_rel_l2", e.oRelL2()).set("rounding_rel_l2", e.roundRelL2())
                .set("o_rel_l2_over_rounding", e.roundRelL2() > 0 ? e.oRelL2() / e.roundRelL2() : Double.NaN)
                .set("lse_max_abs", Double.isInfinite(e.lseMaxAbs()) ? Double.NaN : e.lseMaxAbs())
                .set("check", r.ok() ? "pass" : "FAIL")
                .set("note", (e.unwritten() > 0 ? e.unwritten() + " outputs unwritten; " : "")
                        + (Double.isInfinite(e.lseMaxAbs()) ? "lse +inf where the oracle is finite or back; " : "")
                        + (r.baselineError().isEmpty() ? "" : "cuBLAS: " + r.baselineError()));
        return b;
    }

    /** Time of the portable kernel (sm80) on the same config in this run, NaN when it was not run. */
    private double portableUs(Config c) {
        return rows.stream().filter(o -> o.kernel().equals("sm80") && o.c().equals(c)).mapToDouble(Row::us).findFirst().orElse(Double.NaN);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.4g", v);
    }

    /**
     * Per config timed with more than one decode kernel: each kernel's time (the best of its runs), the one an
     * automatic backend chose (the "auto" run), and FAIL when that choice is more than 3% slower than the best.
     */
    private long printChoice() {
        Choice c = choiceTable(rows);
        if (!c.text().isEmpty()) OUT.print("\nkernel choice (each kernel's best time, x of the fastest; the automatic backend's pick):\n" + c.text());
        return c.fails();
    }

    /** The kernel-choice table's lines and how many choices were more than 3% off the best kernel. */
    record Choice(String text, long fails) {}

    static Choice choiceTable(List<Row> rows) {
        java.util.Map<Config, List<Row>> by = new java.util.LinkedHashMap<>();
        for (Row r : rows) by.computeIfAbsent(r.c(), c -> new ArrayList<>()).add(r);
        StringBuilder sb = new StringBuilder();
        long fails = 0;
        for (var e : by.entrySet()) {
            java.util.Map<String, Double> best = new java.util.TreeMap<>();
            for (Row r : e.getValue()) best.merge(r.kernel(), r.us(), Math::min);
            Row chosen = e.getValue().stream().filter(r -> r.run().equals("auto")).findFirst().orElse(null);
            if (best.size() < 2 || chosen == null) continue;
            double min = best.values().stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
            boolean bad = best.get(chosen.kernel()) / min > 1.03;
            if (bad) fails++;
            StringBuilder ks = new StringBuilder();
            best.forEach((k, us) -> ks.append(String.format(Locale.ROOT, "%s %.1f us (%.3f)  ", k, us, us / min)));
            sb.append(String.format(Locale.ROOT, "%-30s %s-> chosen %s%s%n", e.getKey().label(), ks, chosen.kernel(),
                    bad ? "  FAIL (> 3% off the best)" : ""));
        }
        return new Choice(sb.toString(), fails);
    }

    private long printTable() {
        OUT.println();
        OUT.printf(Locale.ROOT, "ceilings: copy %.0f GB/s, bf16 GEMM %.0f TFLOP/s%n", copyBytesPerS / 1e9, gemmFlopsPerS / 1e12);
        // x cuBLAS / x sm80: speedup over the unfused cuBLAS baseline and over the portable kernel, same config, same run
        OUT.printf(Locale.ROOT, "%-30s %-9s %9s %8s %7s %6s %9s %9s %9s %8s %7s %-4s%n", "config", "kern", "us", "GB/s", "TFLOP/s",
                "roof%", "cpu us", "graph us", "cuBLAS", "x cuBLAS", "x sm80", "ok");
        for (Row r : rows) {
            OUT.printf(Locale.ROOT, "%-30s %-9s %9.1f %8.0f %7.1f %6.1f %9.2f %9.1f %9.1f %8.2f %7.2f %-4s%n", r.c().label(), r.kernel(),
                    r.us(), r.gbps(), r.tflops(), 100 * r.fracRoofline(), r.cpuUsPerCall(), r.graphUs(), r.baselineUs(),
                    r.baselineUs() / r.us(), portableUs(r.c()) / r.us(), r.ok() ? "ok" : "FAIL");
        }
        // graph-replayed small-batch rows against the floor and the anchors of this device (issue 21)
        List<Anchors.Timed> timed = rows.stream()
                .map(r -> new Anchors.Timed(r.c(), r.kernel(), r.graphUs(), r.fracRoofline() * r.us())).toList();
        String small = Anchors.table(timed, anchors, device);
        if (!small.isEmpty()) OUT.print("\n" + small);
        long choiceFails = printChoice();
        overheadLines.forEach(OUT::println);
        long fails = rows.stream().filter(r -> !r.ok()).count() + choiceFails;
        OUT.println("bench: " + rows.size() + " runs, " + fails + " failed the oracle check" + (fails > 0 ? ": FAILED" : ""));
        return fails;
    }
}
