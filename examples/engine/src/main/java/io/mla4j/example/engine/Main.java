package io.mla4j.example.engine;

import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code examples/run.sh}: runs the {@link Engine} loop, prints one table row per step (step, batch, new tokens,
 * s_k, step and attention time, tokens/s), then checks the last step's last layer against the fp64 reference
 * backend and fails (exit status 1) when it disagrees. The default is a small shape that runs in seconds on
 * the cpu backend; {@code --preset deepseek-v3} is DeepSeek-V3's decode: 61 layers, h_q 16, 4,096 tokens of
 * context. Options (after the preset, they override it): {@code --backend NAME --steps N --batch B --heads H
 * --context S --layers L --dtype bf16|fp16 --hidden N --warmup on|off --every N --no-check --seed N}.
 */
public final class Main {
    private Main() {}

    /** What a run measured, for tests and the summary; {@code check}: {o rel L2, lse max error}, or null. */
    record Summary(long warmUpNanos, long[] stepNanos, long[] attentionNanos, double[] check, boolean checkPassed) {
        long firstStep() { return stepNanos[0]; }
        long firstAttention() { return attentionNanos[0]; }
        /** Median of the steps after the first (the first when there is only one). */
        long steadyStep() { return median(stepNanos); }
        long steadyAttention() { return median(attentionNanos); }

        private static long median(long[] v) {
            if (v.length == 1) return v[0];
            long[] rest = Arrays.copyOfRange(v, 1, v.length);
            Arrays.sort(rest);
            return rest[rest.length / 2];
        }
    }

    /** Largest errors the check accepts: o's relative L2 error (bf16/fp16 outputs) and lse's absolute error. */
    static final double MAX_O_REL_L2 = 1e-2, MAX_LSE_ERR = 1e-3;

    public static void main(String[] args) {
        Summary s;
        try {
            s = run(args, System.out);
        } catch (IllegalArgumentException e) {
            System.err.println("engine: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        if (s != null && !s.checkPassed()) System.exit(1);
    }

    static final String USAGE = "usage: examples/run.sh [--preset small|deepseek-v3] [--backend NAME] [--steps N] [--batch B]"
            + " [--heads H] [--context S] [--layers L] [--dtype bf16|fp16] [--hidden N] [--warmup on|off] [--every N]"
            + " [--no-check] [--seed N]";

    static Summary run(String[] args, PrintStream log) {
        String backend = null;
        // the small default: seconds on 2 cores; --preset deepseek-v3 gives the real decode shape
        int steps = 8, batch = 2, heads = 16, context = 1000, layers = 4, hidden = 8, every = 0;
        DType dtype = DType.BF16;
        boolean warmUp = true, check = true;
        long seed = 26;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--help", "-h" -> {
                    log.println(USAGE);
                    return null;
                }
                case "--no-check" -> check = false;
                default -> {
                    if (i + 1 >= args.length) throw new IllegalArgumentException(a + ": needs a value");
                    String v = args[++i];
                    switch (a) {
                        case "--preset" -> {
                            switch (v) {
                                case "small" -> { layers = 4; batch = 2; heads = 16; context = 1000; steps = 8; }
                                case "deepseek-v3" -> { layers = 61; batch = 1; heads = 16; context = 4096; steps = 16; }
                                default -> throw new IllegalArgumentException("--preset: '" + v
                                        + "', expected small or deepseek-v3");
                            }
                        }
                        case "--backend" -> backend = v;
                        case "--steps" -> steps = intArg(a, v);
                        case "--batch" -> batch = intArg(a, v);
                        case "--heads" -> heads = intArg(a, v);
                        case "--context" -> context = intArg(a, v);
                        case "--layers" -> layers = intArg(a, v);
                        case "--hidden" -> hidden = intArg(a, v);
                        case "--every" -> every = intArg(a, v);
                        case "--seed" -> seed = Long.parseLong(v);
                        case "--dtype" -> dtype = switch (v.toLowerCase(Locale.ROOT)) {
                            case "bf16" -> DType.BF16;
                            case "fp16" -> DType.FP16;
                            default -> throw new IllegalArgumentException("--dtype: '" + v + "', expected bf16 or fp16");
                        };
                        case "--warmup" -> warmUp = switch (v) {
                            case "on" -> true;
                            case "off" -> false;
                            default -> throw new IllegalArgumentException("--warmup: '" + v + "', expected on or off");
                        };
                        default -> throw new IllegalArgumentException("unknown option " + a);
                    }
                }
            }
        }
        Engine.Config cfg = new Engine.Config(layers, batch, heads, context, steps, dtype, hidden, seed);
        if (every <= 0) every = steps <= 20 ? 1 : Math.max(1, steps / 20);
        try (MlaBackend be = backend == null ? MlaBackends.open() : MlaBackends.open(backend)) {
            log.printf(Locale.ROOT, "engine: backend %s (%s)%n", be.name(), be.description());
            log.printf(Locale.ROOT, "engine: %d layers, b=%d, h_q=%d, s_q=1, %s, context %d + %d steps; cache %.1f MiB in one"
                    + " allocation (%d pages of 64 tokens per layer); JDK %s, %d cpus%n", layers, batch, heads, dtype, context,
                    steps, cfg.cacheBytes() / 1048576.0, cfg.pagesPerLayer(), Runtime.version(),
                    Runtime.getRuntime().availableProcessors());
            try (Engine engine = new Engine(be, cfg)) {
                long warm = 0;
                if (warmUp) {
                    long t = System.nanoTime();
                    be.warmUp(engine.currentSpec());
                    warm = System.nanoTime() - t;
                    log.printf(Locale.ROOT, "engine: warmUp %.0f ms%n", warm / 1e6);
                }
                long[] stepNs = new long[steps], attNs = new long[steps];
                log.printf(Locale.ROOT, "%6s %6s %7s %7s %10s %13s %10s %9s%n",
                        "step", "batch", "tokens", "s_k", "step ms", "attention ms", "us/layer", "tokens/s");
                for (int i = 0; i < steps; i++) {
                    Engine.StepTime t = engine.step();
                    stepNs[i] = t.stepNanos();
                    attNs[i] = t.attentionNanos();
                    if (i == 0 || (i + 1) % every == 0 || i == steps - 1) {
                        log.printf(Locale.ROOT, "%6d %6d %7d %7d %10.2f %13.2f %10.1f %9.1f%n", i + 1, batch, batch,
                                engine.pages().length(0), stepNs[i] / 1e6, attNs[i] / 1e6, attNs[i] / 1e3 / layers,
                                batch * 1e9 / stepNs[i]);
                    }
                }
                log.printf(Locale.ROOT, "engine: %s; graph captures: %d over %d steps%n", engine.planMode(), engine.captures(),
                        steps);
                double[] err = check ? engine.checkLastLayer() : null;
                boolean ok = err == null || (err[0] <= MAX_O_REL_L2 && err[1] <= MAX_LSE_ERR);
                Summary sum = new Summary(warm, stepNs, attNs, err, ok);
                log.printf(Locale.ROOT, "engine: first step %.2f ms (attention %.2f ms), steady step %.2f ms"
                        + " (median of steps 2..%d; attention %.2f ms), first/steady %.2f, %.1f tokens/s steady, warmUp %s%n",
                        sum.firstStep() / 1e6,
                        sum.firstAttention() / 1e6, sum.steadyStep() / 1e6, steps, sum.steadyAttention() / 1e6,
                        (double) sum.firstStep() / sum.steadyStep(), batch * 1e9 / sum.steadyStep(),
                        warmUp ? String.format(Locale.ROOT, "%.0f ms", warm / 1e6) : "off");
                if (err != null) {
                    log.printf(Locale.ROOT, "engine: check of step %d, layer %d against the fp64 reference backend: o rel L2 %.2e"
                            + " (max %.0e), lse max err %.2e (max %.0e): %s%n", steps, layers, err[0], MAX_O_REL_L2, err[1],
                            MAX_LSE_ERR, ok ? "OK" : "FAILED");
                }
                return sum;
            }
        }
    }

    private static int intArg(String name, String v) {
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": '" + v + "' is not a whole number");
        }
    }
}
