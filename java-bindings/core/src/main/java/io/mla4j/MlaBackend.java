package io.mla4j;

/**
 * One MLA decode implementation (CPU reference, CPU vector, CUDA, Ascend...).
 *
 * <pre>{@code
 * try (MlaBackend be = MlaBackends.open();
 *      MlaPlan plan = be.plan(PlanSpec.of(seqlens, blockTable, numBlocks, 128, 1, DType.BF16))) {
 *     for (int layer = 0; layer < layers; layer++) be.decode(plan, q[layer], cache[layer], out, lse);
 * }
 * }</pre>
 *
 * Tensors passed to {@link #decode} live in this backend's memory ({@link #memory()}): host memory for
 * CPU backends, device memory for GPU/NPU backends (see {@link #allocate} and {@link #copy}).
 * Every call validates its arguments and throws {@link IllegalArgumentException} naming the argument
 * before any work starts.
 */
public interface MlaBackend extends AutoCloseable {

    /** Short name used to select it: "reference", "cpu", "cuda", "ascend". */
    String name();

    /** A line describing the device and mode, e.g. "NVIDIA H100 (sm_90), kernel sm90". */
    String description();

    /** "host" when tensors are ordinary host memory, else the device's name, e.g. "cuda:0". */
    String memory();

    /** Throws {@link IllegalArgumentException} naming what is supported when this backend cannot run
     *  h_q heads, s_q query tokens or this dtype. */
    void checkSupported(int numHeads, int queryLen, DType dtype);

    /**
     * Throws {@link IllegalArgumentException} naming "geometry" and the geometries this backend takes when it
     * cannot run this one (page size, d_c, d_r). The default takes only {@link Geometry#DEEPSEEK}; the
     * reference and cpu backends take every valid geometry.
     */
    default void checkSupported(Geometry geometry) {
        if (geometry == null) throw new IllegalArgumentException("geometry: is null");
        if (!geometry.equals(Geometry.DEEPSEEK)) {
            throw new IllegalArgumentException("geometry: " + name() + " takes only " + Geometry.DEEPSEEK
                    + " (Geometry.DEEPSEEK), not " + geometry);
        }
    }

    /** Allocates an uninitialised tensor in this backend's memory, freed by its close() or the backend's. */
    Tensor allocate(DType dtype, long... shape);

    /** Copies between host and backend memory (either direction, or within one); same dtype and size. */
    void copy(Tensor src, Tensor dst);

    /** Validates the step (sequence lengths, block table) and schedules it. */
    MlaPlan plan(PlanSpec spec);

    /**
     * A plan of {@code spec}'s capacity that serves every step of a run: {@link MlaPlan#update} gives it each new
     * step (seqlens and block table of the same shapes) without reallocating, so decodes captured once in a CUDA
     * graph replay every later step. {@code spec} is validated as {@link #plan} validates it and is the first step.
     * Its workspace is sized for any step of that capacity (on the cpu backend: b + parts partial slots).
     *
     * @throws UnsupportedOperationException on a backend without updatable plans (ascend), naming what to use
     */
    default MlaPlan updatablePlan(PlanSpec spec) {
        throw new UnsupportedOperationException(name() + " backend: no updatable plans; make a plan per step (plan(spec))");
    }

    /**
     * Prepares this backend for steps shaped like {@code spec} (h_q, s_q, dtype, causal, scale) before the first
     * real one, so that step does not pay for compiling the hot paths: the cpu backend runs its decode loops on
     * scratch data of its own until the JIT has compiled them (docs/PERF.md, "Start-up": the first 61-layer step
     * with and without it). {@code spec} is validated as {@link #plan}
     * validates it; the caller's tensors are only read (its seqlens and block table), never written, and nothing
     * stays allocated afterwards. Calling it again, or not at all, changes no result.
     *
     * <p>The default plans {@code spec} and closes the plan (validation, and the backend's plan path, e.g.
     * the GPU scheduler): what backends without a warm-up of their own do.
     */
    default void warmUp(PlanSpec spec) {
        plan(spec).close();
    }

    /**
     * Decodes one layer: o[b, s_q, h_q, d_v] and lse[b, h_q, s_q] from q[b, s_q, h_q, d_qk] and the paged
     * cache [num_blocks, page_size, 1, d_qk], in the plan's {@link PlanSpec#geometry()} (DeepSeek: d_qk 576,
     * d_v 512, page 64) and its cache format (an FP8 cache: {@link DType#FP8_E4M3}, last dim
     * {@link Geometry#storedWidth()}). May return before the work is done on asynchronous backends:
     * {@link #synchronize()} waits.
     */
    void decode(MlaPlan plan, Tensor q, Tensor kCache, Tensor out, Tensor lse);

    /**
     * {@link #decode(MlaPlan, Tensor, Tensor, Tensor, Tensor)} of an {@link CacheFormat#FP8_E4M3} cache, whose
     * values are e4m3 * {@code kvScale} (the cache tensor's own scale: one per layer's cache, so it is an
     * argument of the call, not of the plan). Any other format takes kvScale = 1 (its scales, if any, are
     * inside the cache); the five-argument call is this one with 1.
     */
    void decode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse);

    /** Waits until all work issued so far is complete (no-op on synchronous backends). */
    void synchronize();

    /** Releases everything this backend holds: memory, threads, device contexts. Idempotent. */
    @Override
    void close();
}
