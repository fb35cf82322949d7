package io.mla4j.cpu;

import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import io.mla4j.spi.HostBackend;
import io.mla4j.spi.MlaBackendProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The fast CPU backend: the Vector API on all cores. The split-KV schedule of {@link SplitSchedule}
 * spreads the cached blocks over a few parts per core; each worker runs {@link Attention#split} on its
 * parts (every cached token converted to fp32 once, then register-blocked Q*K^T and P*V for all
 * h_q*s_q query rows, fp32 online softmax), then sequences are merged by LSE
 * ({@link io.mla4j.spi.LseCombine}).
 *
 * <p>{@link Rescale#AMLA} switches the online softmax to AMLA's power-of-two rescaling (see
 * {@link Amla}); the default is {@link Rescale#PLAIN}, or the system property {@value #RESCALE_PROPERTY}.
 *
 * <p>{@link CpuKernel} picks what computes the splits: this Vector API code, or the native kernel
 * (native/cpu: AMX-BF16 tiles or AVX512-BF16, through FFM, {@link NativeCpuPlan}) on the same schedule and
 * pool; auto takes the fastest this machine allows, {@value CpuKernel#PROPERTY} forces one, and anything
 * that cannot run falls back to the Vector API with the reason in {@link #description()} and the log line.
 *
 * <p>The schedule has {@value #PARTS_PER_WORKER} parts per worker, handed out as workers come free.
 *
 * <p>One decode at a time per backend (calls are serialised): the plan's workspace is shared by the
 * workers of a call.
 */
public final class CpuBackend extends HostBackend {

    /** How the output accumulator is rescaled when a row's max grows. */
    public enum Rescale {
        /** Multiply by exp(old max - new max). */
        PLAIN,
        /** Max rounded up to a multiple of ln 2; multiply by 2^n as an integer add on the fp32 bits. */
        AMLA
    }

    /** System property picking the rescaling of backends made without an explicit choice: plain or amla. */
    public static final String RESCALE_PROPERTY = "mla4j.cpu.rescale";

    private final WorkerPool pool;
    private final Rescale rescale;
    private final CpuKernel kernel;           // never AUTO: what runs
    private final NativeKernel.Lib nativeLib; // null for VECTOR
    private final String kernelNote;          // why this kernel (fallbacks name their reason)
    private final boolean autoKernel;         // chosen by AUTO (not forced): the plan may still pick the Vector API

    /** All cores, rescaling from {@value #RESCALE_PROPERTY} (default plain). */
    public CpuBackend() {
        this(defaultRescale(), Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(Rescale rescale) {
        this(rescale, Runtime.getRuntime().availableProcessors());
    }

    /** {@code threads} workers (for tests and scaling measurements; the default is one per core). */
    public CpuBackend(Rescale rescale, int threads) {
        this(rescale, threads, CpuKernel.fromProperty());
    }

    /** {@code threads} workers running {@code kernel} (AUTO: the fastest here; an unavailable one falls back to VECTOR). */
    public CpuBackend(Rescale rescale, int threads, CpuKernel kernel) {
        this.rescale = java.util.Objects.requireNonNull(rescale, "rescale");
        KernelChoice c = KernelChoice.choose(java.util.Objects.requireNonNull(kernel, "kernel"), rescale);
        this.kernel = c.kernel();
        this.autoKernel = kernel == CpuKernel.AUTO;
        this.nativeLib = c.lib();
        this.kernelNote = c.note();
        if (c.log()) System.getLogger("io.mla4j").log(System.Logger.Level.INFO, "mla4j cpu: " + kernelDescription());
        this.pool = new WorkerPool(threads, "mla4j-cpu");
    }

    /** The kernel that computes the splits (never AUTO). */
    public CpuKernel kernel() { return kernel; }

    static Rescale defaultRescale() {
        String v = System.getProperty(RESCALE_PROPERTY, "plain").trim().toUpperCase(Locale.ROOT);
        try {
            return Rescale.valueOf(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(RESCALE_PROPERTY + " is '" + v + "', expected plain or amla");
        }
    }

    public Rescale rescale() { return rescale; }

    /** Worker threads (one part of the split schedule each). */
    public int threads() { return pool.size(); }

    /** For tests: the pool, to check that release() stops it. */
    WorkerPool pool() { return pool; }

    @Override public String name() { return "cpu"; }

    @Override
    public String description() {
        return kernelDescription() + ", " + pool.size() + " threads, " + rescale.name().toLowerCase(Locale.ROOT) + " rescaling";
    }

    private String kernelDescription() {
        String k = kernel.isNative() ? "native " + kernel.id() + " kernel (" + nativeLib.location() + ")"
                : "Java Vector API, " + Convert.F.vectorBitSize() + "-bit (" + Convert.L + " fp32 lanes)";
        return kernelNote.isEmpty() ? k : k + " [" + kernelNote + "]";
    }

    /** Schedule parts per worker: a few, so a worker slowed by other load on the machine hands work to the others. */
    static final int PARTS_PER_WORKER = 4;

    @Override
    protected int parallelism(PlanSpec spec) { return pool.size() * PARTS_PER_WORKER; }

    /**
     * Every valid geometry: any page size (a power of two up to 256) and d_c, d_r any multiples of 16. The
     * Vector API kernel takes them all; the native kernel is built for {@link io.mla4j.Geometry#DEEPSEEK}, so
     * plans of other geometries run on the Vector API whatever {@link #kernel()} says.
     */
    @Override
    public void checkSupported(io.mla4j.Geometry geometry) {
        if (geometry == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
    }

    @Override
    protected MlaPlan createPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        if (kernelFor(spec).isNative()) {
            return new NativeCpuPlan(this, spec, schedule, seqlens, blockTable, pool.size(), kernel, nativeLib);
        }
        return new CpuPlan(this, spec, schedule, seqlens, blockTable, pool.size());
    }

    /**
     * The kernel a (non-updatable) plan of {@code spec} runs on: {@link #kernel()} where the native kernel takes the
     * spec (DeepSeek's geometry: a 16-bit cache, or an FP8 one with bf16 q) and AUTO did not send it to the Vector API
     * (fp16 on AVX512-BF16), else {@link CpuKernel#VECTOR}. Tensors on the Java heap still run on the Vector API.
     */
    public CpuKernel kernelFor(PlanSpec spec) {
        if (spec == null) throw io.mla4j.spi.Checks.bad("spec", "is null");
        return kernel.isNative() && nativeTakes(spec) && !vectorFaster(spec) ? kernel : CpuKernel.VECTOR;
    }

    /**
     * AUTO's per-plan exception: fp16 on the AVX512-BF16 kernel (its exact hi/lo split triples the bf16 dot products)
     * measured 3.9x (h_q 16) and 1.6x (h_q 128 s_q 2) slower than the Vector API on a 2-vCPU AMD EPYC with AVX512-BF16
     * (docs/PERF.md, 2026-12-04), so such plans run on the Vector API unless the kernel was forced. AMX's fp16 is not
     * measured (no AMX machine yet) and stays native.
     */
    private boolean vectorFaster(PlanSpec spec) {
        return autoKernel && kernel == CpuKernel.AVX512BF16 && spec.dtype() == DType.FP16;
    }

    /**
     * What the native kernel reads: DeepSeek's geometry with a 16-bit cache, or an fp8_e4m3 or block-scaled one with
     * bf16 q (it widens e4m3 to bf16 exactly; with fp16 q its hi/lo split is not written for fp8). Everything else
     * runs on the Vector API.
     */
    private static boolean nativeTakes(PlanSpec spec) {
        io.mla4j.Geometry g = spec.geometry(), d = io.mla4j.Geometry.DEEPSEEK;
        if (g.equals(d)) return true;
        boolean fp8 = g.equals(d.withFormat(io.mla4j.CacheFormat.FP8_E4M3))
                || g.equals(d.withFormat(io.mla4j.CacheFormat.FP8_E4M3_BLOCKSCALE_ROPE_BF16));
        return fp8 && spec.dtype() == DType.BF16;
    }

    /**
     * An updatable plan runs on the Vector API kernel whatever {@link #kernel()} says: the native kernel's plan holds a
     * native copy of one step's block table.
     */
    @Override
    protected MlaPlan createUpdatablePlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        return new CpuPlan(this, spec, schedule, seqlens, blockTable, pool.size(), true);
    }

    @Override
    protected synchronized void doDecode(MlaPlan p, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        if (p instanceof NativeCpuPlan np) {
            if (np.decode(pool, q, kCache, kvScale, out, lse)) return;
            p = np.vectorPlan(); // a tensor on the Java heap: the native kernel takes native memory only
        }
        CpuPlan plan = (CpuPlan) p; // decode() checked that this backend made it
        MemorySegment qs = q.segment(), cache = kCache.segment(), os = out.segment(), ls = lse.segment();
        boolean amla = rescale == Rescale.AMLA;
        synchronized (plan) { // MlaPlan.update holds it too: a decode sees one step whole
            SplitSchedule schedule = plan.schedule();
            pool.run(schedule.numParts(), (part, worker) -> schedule.forEachSplit(part, (seq, from, to, slot) ->
                    Attention.split(plan, plan.scratch(worker), qs, cache, kvScale, seq, from, to, slot, amla)));
            pool.run(plan.batch(), (seq, worker) -> Attention.combine(plan, plan.scratch(worker), seq, os, ls));
        }
    }

    // Warm-up scratch step: ragged lengths (full blocks, a partial one, several splits per sequence) so every
    // branch a real step takes is profiled before C2 compiles the loops, and an uncommon trap does not deoptimise them.
    private static final int[] WARM_LENGTHS = {613, 128, 37};
    /** Scratch decodes a warm-up runs at least, and at most. */
    static final int WARM_MIN_DECODES = 50, WARM_MAX_DECODES = 2000;
    /** Consecutive scratch decodes without JIT activity that end a warm-up. */
    static final int WARM_QUIET_DECODES = 20;
    /** Scratch decodes a warm-up runs where the JIT's activity cannot be read (no java.management). */
    static final int WARM_BLIND_DECODES = 200;
    /** Longest warm-up (a slow or loaded machine stops here, warm or not). */
    static final long WARM_NANOS = 10_000_000_000L;

    /**
     * Runs scratch decodes shaped like {@code spec} (its h_q, s_q, dtype, mask and scale; b = 3 ragged sequences
     * of at most 613 tokens) on this backend's pool and kernel, until the JIT has compiled the decode loops: at
     * least 50 decodes, then until 20 decodes in a row ran
     * without any JIT compilation in this JVM (the compiler's accumulated time, from
     * {@code java.lang.management}), at most 2,000 decodes or 10 s.
     * Counting time alone is not enough: on a loaded machine the C2 compiler thread lags seconds behind
     * (docs/PERF.md, "Start-up"). Without {@code java.management} in the module graph it runs
     * 200 decodes. Scratch memory is freed before it returns.
     */
    @Override
    public void warmUp(PlanSpec spec) { warmUp(spec, WARM_NANOS); }

    /** {@link #warmUp(PlanSpec)} stopping after {@code maxNanos} at most (tests keep it short). */
    void warmUp(PlanSpec spec, long maxNanos) {
        plan(spec).close(); // validates spec exactly as plan() does
        Geometry g = spec.geometry(); // the scratch step has the spec's geometry: those are the loops to compile
        int b = WARM_LENGTHS.length, hq = spec.numHeads(), sq = spec.queryLen(), maxBlocks = g.blocksFor(WARM_LENGTHS[0]);
        int[] table = new int[b * maxBlocks];
        Arrays.fill(table, -1);
        int blocks = 0;
        for (int s = 0; s < b; s++) for (int j = 0; j < g.blocksFor(WARM_LENGTHS[s]); j++) table[s * maxBlocks + j] = blocks++;
        LongSupplier compileClock = compileClock();
        try (Arena arena = Arena.ofConfined();
             Tensor q = allocate(spec.dtype(), g.queryShape(b, sq, hq));
             Tensor cache = allocate(g.format().cacheDType(spec.dtype()), g.cacheShape(blocks));
             Tensor out = allocate(spec.dtype(), g.outShape(b, sq, hq));
             Tensor lse = allocate(DType.FP32, b, hq, sq)) {
            fillPseudoRandom(q);
            float kvScale = 1f;
            if (g.format().isFp8()) { // a realistic FP8 cache (finite scales), quantised from random values
                Tensor plain = Tensor.allocate(arena, spec.dtype(), g.withFormat(io.mla4j.CacheFormat.PLAIN).cacheShape(blocks));
                fillPseudoRandom(plain);
                io.mla4j.Fp8Cache.Quantized fq = io.mla4j.Fp8Cache.quantize(plain, g, arena);
                copy(fq.cache(), cache);
                if (g.format().takesTensorScale()) kvScale = fq.kvScale();
            } else {
                fillPseudoRandom(cache);
            }
            PlanSpec scratch = new PlanSpec(Tensor.ofInts(arena, WARM_LENGTHS, b), Tensor.ofInts(arena, table, b, maxBlocks),
                    blocks, hq, sq, spec.dtype(), spec.causal(), spec.scale()).withGeometry(g);
            try (MlaPlan plan = plan(scratch)) {
                long t0 = System.nanoTime(), compiled = compileClock == null ? 0 : compileClock.getAsLong();
                int quiet = 0;
                for (int i = 1; i <= WARM_MAX_DECODES && System.nanoTime() - t0 < maxNanos; i++) {
                    decode(plan, q, cache, kvScale, out, lse);
                    if (compileClock == null) {
                        if (i >= WARM_BLIND_DECODES) break;
                        continue;
                    }
                    long c = compileClock.getAsLong();
                    quiet = c == compiled ? quiet + 1 : 0;
                    compiled = c;
                    if (i >= WARM_MIN_DECODES && quiet >= WARM_QUIET_DECODES) break;
                }
            }
        }
    }

    /** The JIT's accumulated compilation time in ms, or null where it cannot be read (no java.management). */
    private static LongSupplier compileClock() {
        try {
            CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
            return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit::getTotalCompilationTime : null;
        } catch (LinkageError | RuntimeException e) { // java.management not in the module graph, or no JIT
            return null;
        }
    }

    /** Values in [-1, 1) from a fixed LCG: realistic enough for the softmax's branches, and reproducible. */
    private static void fillPseudoRandom(Tensor t) {
        long x = 0x9E3779B97F4A7C15L;
        for (long i = 0; i < t.numel(); i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            t.setFloat(i, (x >>> 40) / (float) (1 << 23) - 1f);
        }
    }

    @Override
    protected void release() {
        pool.close();
        super.release();
    }

    /** Registers the backend: priority 50 (below cuda, above the emulated ascend and the reference). */
    public static final class Provider implements MlaBackendProvider {
        @Override public String name() { return "cpu"; }
        @Override public int priority() { return 50; }

        @Override
        public Optional<String> unavailableReason() {
            // On the class path the incubating module is resolved only when asked for; on the module path
            // io.mla4j requires it. Without it MlaBackends must not quietly fall back to the fp64 oracle.
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                return Optional.of("the JVM was started without --add-modules jdk.incubator.vector (the Vector API this backend uses)");
            }
            try {
                Class.forName("jdk.incubator.vector.FloatVector");
                return Optional.empty();
            } catch (ClassNotFoundException | LinkageError e) {
                return Optional.of("jdk.incubator.vector cannot be loaded (run the JVM with --add-modules jdk.incubator.vector): " + e);
            }
        }

        @Override public String summary() { return "Java Vector API on all cores"; }

        @Override
        public MlaBackend create() {
            Optional<String> why = unavailableReason();
            if (why.isPresent()) throw new io.mla4j.BackendUnavailableException(name(), why.get());
            return new CpuBackend();
        }
    }
}
