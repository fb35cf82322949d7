package io.mla4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the benchmarks (decodes + this machine's ceilings in one JMH run, then the reference on slices)
 * and prints a summary: each decode against its roofline floor max(bytes / BW, FLOPs / peak), with BW
 * and peak measured in the same run, against the ggml CPU numbers of the issue and against the reference.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar [--warmup N] [--warmup-time S]
 *      [--iterations N] [--time S] [--forks N] [--amla] [--no-reference] [--out DIR] [--kernels vector,native]
 *      [--shapes b8_sk8192_h16_sq1,b8_sk8192_h16_sq1_d256x32,...]  (DecodeShape: _pN page size, _dCxR widths)
 *      [--dtypes bf16,fp16]
 * </pre>
 */
public final class BenchMain {
    private BenchMain() {}

    /** ggml CPU flash attention on this kind of machine (2 cores), from issue 4: GFLOP/s by shape and dtype. */
    private static double ggmlGflops(String shape, String dtype) {
        boolean fp16 = dtype.equals("fp16");
        return switch (shape) {
            case "b8_sk8192_h16_sq1" -> fp16 ? 35 : 20;
            case "b8_sk4096_h128_sq2" -> fp16 ? 42 : 26;
            default -> Double.NaN;
        };
    }

    public static void main(String[] args) throws RunnerException, IOException {
        int wi = 3, w = 2, it = 5, t = 3, forks = 1;
        boolean amla = false, reference = true;
        String[] kernels = {"vector", "native"};
        String[] shapes = null, dtypes = null;
        Path out = Path.of("bench/target");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--warmup" -> wi = Integer.parseInt(args[++i]);
                case "--warmup-time" -> w = Integer.parseInt(args[++i]);
                case "--iterations" -> it = Integer.parseInt(args[++i]);
                case "--time" -> t = Integer.parseInt(args[++i]);
                case "--forks" -> forks = Integer.parseInt(args[++i]);
                case "--amla" -> amla = true;
                case "--kernels" -> kernels = args[++i].split(",");
                case "--shapes" -> shapes = args[++i].split(","); // e.g. b8_sk8192_h16_sq1_d256x32 (DecodeShape)
                case "--dtypes" -> dtypes = args[++i].split(",");
                case "--no-reference" -> reference = false;
                case "--out" -> out = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown option " + args[i] + "; see the class comment of " + BenchMain.class.getName());
                    System.exit(2);
                }
            }
        }
        Files.createDirectories(out);
        ChainedOptionsBuilder main = new OptionsBuilder()
                .include(DecodeBench.class.getSimpleName()).include(CeilingBench.class.getSimpleName())
                .warmupIterations(wi).warmupTime(TimeValue.seconds(w))
                .measurementIterations(it).measurementTime(TimeValue.seconds(t)).forks(forks)
                .resultFormat(ResultFormatType.JSON).result(out.resolve("jmh-main.json").toString());
        if (amla) main.param("rescale", "plain", "amla");
        main.param("kernel", kernels);
        if (shapes != null) main.param("shape", shapes);
        if (dtypes != null) main.param("dtype", dtypes);
        String lib = System.getProperty(io.mla4j.cpu.CpuKernel.LIBRARY_PROPERTY);
        if (lib != null) main.jvmArgsAppend("-D" + io.mla4j.cpu.CpuKernel.LIBRARY_PROPERTY + "=" + lib);
        List<RunResult> results = new ArrayList<>(new Runner(main.build()).run());
        List<RunResult> refs = new ArrayList<>();
        if (reference) {
            refs.addAll(new Runner(new OptionsBuilder().include(ReferenceBench.class.getSimpleName()).forks(forks)
                    .resultFormat(ResultFormatType.JSON).result(out.resolve("jmh-reference.json").toString()).build()).run());
        }
        String summary = summary(results, refs);
        System.out.println();
        System.out.println(summary);
        Files.writeString(out.resolve("jmh-summary.md"), summary);
    }

    static String summary(Collection<RunResult> results, Collection<RunResult> refs) {
        double streamMs = score(results, "streamRead"), fmaMs = score(results, "fmaLoop");
        double bw = CeilingBench.STREAM_BYTES / (streamMs * 1e-3);
        double peak = CeilingBench.fmaFlops() / (fmaMs * 1e-3);
        // best iterations: on a shared machine the fastest iteration is the least disturbed one
        double bwBest = CeilingBench.STREAM_BYTES / (best(find(results, "streamRead")) * 1e-3);
        double peakBest = CeilingBench.fmaFlops() / (best(find(results, "fmaLoop")) * 1e-3);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "mla4j cpu benchmarks, %s, %d cores, %s, Java %s, species %d-bit%n", Instant.now(),
                Runtime.getRuntime().availableProcessors(), cpuName(), System.getProperty("java.version"),
                FloatVector.SPECIES_PREFERRED.vectorBitSize()));
        sb.append(String.format(Locale.ROOT, "ceilings (same run, all cores): streaming read %.1f GB/s, fp32 FMA %.1f GFLOP/s (mean); "
                + "%.1f GB/s, %.1f GFLOP/s (best iteration); ridge %.1f FLOP/byte%n%n", bw / 1e9, peak / 1e9, bwBest / 1e9, peakBest / 1e9, peak / bw));
        double amxPeak = dpPeak(results, "amxTileLoop"), avxPeak = dpPeak(results, "avx512bf16Loop");
        sb.append(String.format(Locale.ROOT, "bf16 peaks (same run, all cores): AMX TDPBF16PS %s, AVX512-BF16 VDPBF16PS %s%n%n",
                Double.isNaN(amxPeak) ? "not runnable here" : String.format(Locale.ROOT, "%.1f GFLOP/s", amxPeak / 1e9),
                Double.isNaN(avxPeak) ? "not runnable here" : String.format(Locale.ROOT, "%.1f GFLOP/s", avxPeak / 1e9)));
        sb.append("| shape | dtype | kernel | rescale | ms/call (mean ± 99.9%) | GFLOP/s | GB/s | floor ms | of roofline | best ms | of roofline (best) | ggml ms | x ggml | ref ms (scaled) | x ref |\n");
        sb.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (RunResult r : results) {
            if (!r.getParams().getBenchmark().endsWith("DecodeBench.decode")) continue;
            String shape = r.getParams().getParam("shape"), dtype = r.getParams().getParam("dtype");
            DecodeShape s = DecodeShape.parse(shape);
            double ms = r.getPrimaryResult().getScore(), sec = ms * 1e-3;
            String kernel = r.getParams().getParam("kernel");
            kernel = kernel == null ? "vector" : kernel;
            // the roofline of the units the kernel runs on: fp32 FMA for the Vector API, bf16 AMX/AVX512 for native
            double p = kernel.equals("vector") ? peak : kernel.equals("avx512bf16") ? avxPeak : Double.isNaN(amxPeak) ? avxPeak : amxPeak;
            double floorSec = Math.max(s.bytes() / bw, s.flops() / p);
            double bestMs = best(r), floorBest = Math.max(s.bytes() / bwBest, s.flops() / (kernel.equals("vector") ? peakBest : p));
            double ggmlMs = s.flops() / (ggmlGflops(shape, dtype) * 1e9) * 1e3;
            double refMs = scaledReference(refs, s);
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.2f ± %.2f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %s | %s |%n",
                    shape, dtype, kernel, r.getParams().getParam("rescale"), ms, r.getPrimaryResult().getScoreError(),
                    s.flops() / sec / 1e9, s.bytes() / sec / 1e9, floorSec * 1e3, floorSec / sec, bestMs, floorBest * 1e3 / bestMs,
                    ggmlMs, ggmlMs / ms,
                    Double.isNaN(refMs) ? "-" : String.format(Locale.ROOT, "%.0f", refMs),
                    Double.isNaN(refMs) ? "-" : String.format(Locale.ROOT, "%.0f", refMs / ms)));
        }
        sb.append("\nfloor = max(bytes / streaming BW, FLOPs / peak), FlashMLA counting (io.mla4j.Mla); peak = fp32 FMA for kernel vector,\n"
                + "the AMX tile loop for native/amx (AVX512-BF16 loop for avx512bf16); 'of roofline' = floor / measured;\n"
                + "'(best)' uses the fastest iteration of each benchmark, ceilings included. x ggml and x ref use the mean.\n");
        sb.append("ggml: CPU flash attention on a 2-core machine of this kind (issue 4): 35/42 GFLOP/s fp16, 20/26 bf16.\n");
        if (!refs.isEmpty()) {
            sb.append("ref: the fp64 reference backend (bf16) timed on a one-sequence slice of the same h_q, s_q, scaled by\n"
                    + "(b x s_k) / slice tokens (its cost is linear in sequences x tokens):");
            for (RunResult r : refs) {
                DecodeShape sl = DecodeShape.parse(r.getParams().getParam("slice"));
                sb.append(String.format(Locale.ROOT, " %s %.1f ms;", sl, r.getPrimaryResult().getScore()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** FLOP/s of a native peak loop, NaN when it did not run (no such units here). */
    private static double dpPeak(Collection<RunResult> results, String method) {
        for (RunResult r : results) {
            if (r.getParams().getBenchmark().endsWith("." + method)) return CeilingBench.dpFlops(method) / (r.getPrimaryResult().getScore() * 1e-3);
        }
        return Double.NaN;
    }

    private static double score(Collection<RunResult> results, String method) {
        return find(results, method).getPrimaryResult().getScore();
    }

    private static RunResult find(Collection<RunResult> results, String method) {
        for (RunResult r : results) if (r.getParams().getBenchmark().endsWith("." + method)) return r;
        throw new IllegalStateException("no result for " + method);
    }

    /** The fastest measured iteration (ms/op) over all forks. */
    private static double best(RunResult r) {
        double b = Double.POSITIVE_INFINITY;
        for (BenchmarkResult br : r.getBenchmarkResults())
            for (IterationResult ir : br.getIterationResults()) b = Math.min(b, ir.getPrimaryResult().getScore());
        return b;
    }

    /** The reference's time for the full shape, from the slice with the same h_q and s_q; NaN if not measured. */
    private static double scaledReference(Collection<RunResult> refs, DecodeShape full) {
        for (RunResult r : refs) {
            DecodeShape sl = DecodeShape.parse(r.getParams().getParam("slice"));
            if (sl.hq() == full.hq() && sl.sq() == full.sq()) {
                return r.getPrimaryResult().getScore() * full.sumSeqlen() / (double) sl.sumSeqlen();
            }
        }
        return Double.NaN;
    }

    private static String cpuName() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }
}
