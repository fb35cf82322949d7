package io.mla4j.cuda;

import io.mla4j.BackendUnavailableException;
import io.mla4j.DType;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import io.mla4j.spi.AbstractMlaBackend;
import io.mla4j.spi.Checks;

/**
 * MLA decode on an NVIDIA GPU. Every CUDA resource (context, stream, module, memory, copies, events, graphs)
 * goes through JCuda; only the per-decode calls (kernel launches, graph launch, the sm90 tensor map) through
 * FFM downcalls into libcuda (docs/CUDA.md). Tensors passed to {@link #decode} live in
 * device memory: {@link #allocate} them here, or {@link #wrap} an engine's own device pointers.
 *
 * <p>{@code decode} launches the split-KV decode kernel and the combine kernel on the backend's stream
 * and returns: no host synchronisation, so it can be captured in a CUDA graph ({@link #capture}).
 */
public final class CudaBackend extends AbstractMlaBackend {
    static final String NAME = "cuda";
    /** The reason given when the kernels jar holds no image (a build without nvcc). */
    static final String NO_KERNEL_IMAGE = "no kernel image in this build (built without nvcc; use the published mla4j-kernels-cuda artifact)";

    private final CudaOptions options;
    private final CudaContext ctx;
    private final Module module;
    private final DecodeKernels kernels;
    private final String location;
    private HelperKernels helpers; // mla4j_baseline.fatbin, loaded on first use
    private final WorkspacePool workspace;

    private CudaBackend(int device, long stream) {
        options = CudaOptions.fromSystemProperties();
        ctx = openContext(device, stream);
        Module m = null;
        try {
            m = Module.load(ctx, options.fatbin(), DecodeKernels.FATBIN_RESOURCE);
            if (m == null) throw new BackendUnavailableException(NAME, NO_KERNEL_IMAGE);
            kernels = new DecodeKernels(ctx, m, options);
        } catch (RuntimeException | LinkageError e) {
            if (m != null) m.close();
            ctx.close();
            if (e instanceof CudaException c) throw new BackendUnavailableException(NAME, c.getMessage(), c); // e.g. no SASS for this GPU
            if (e instanceof LinkageError l) throw new BackendUnavailableException(NAME, "the CUDA driver lacks an entry point: " + firstLine(l), l);
            throw (RuntimeException) e;
        }
        module = m;
        location = "cuda:" + device;
        workspace = new WorkspacePool(ctx);
        verifyHopperKernel();
    }

    /** The device's context; a missing driver, JCuda native or device is the backend being unavailable, one type. */
    private static CudaContext openContext(int device, long stream) {
        try {
            return new CudaContext(device, stream);
        } catch (LinkageError e) { // UnsatisfiedLinkError from JCuda's natives or libcuda, NoClassDefFoundError after one
            throw new BackendUnavailableException(NAME, "the CUDA driver or JCuda's natives cannot be loaded: "
                    + firstLine(e), e);
        } catch (CudaException e) {
            throw new BackendUnavailableException(NAME, "CUDA device " + device + " cannot be opened: " + e.getMessage(), e);
        }
    }

    /** "Type: first line of the message", with the original failure when a class failed to initialise earlier. */
    static String firstLine(Throwable t) {
        String m = String.valueOf(t.getMessage());
        int nl = m.indexOf('\n');
        String line = t.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl));
        return t instanceof NoClassDefFoundError && t.getCause() != null ? line + " (" + firstLine(t.getCause()) + ")" : line;
    }

    private static final System.Logger LOG = System.getLogger("io.mla4j.cuda");
    private String fallbackReason;

    /** The Hopper kernel, when picked automatically, must pass {@link SelfCheck} on this machine. */
    private void verifyHopperKernel() {
        if (!kernels.variant.equals("sm90") || kernels.forced || !options.selfCheck()) return;
        String problem = SelfCheck.run(this, 2);
        if (problem == null) {
            if (!kernels.etapInUse()) return;
            String etapProblem = SelfCheck.run(this, 1); // 16 rows: the transposed kernel
            if (etapProblem == null) return;
            kernels.disableEtap();
            fallbackReason = "mla4j_decode_sm90_etap failed its self-check (" + etapProblem + "): using mla4j_decode_sm90 for every plan";
            LOG.log(System.Logger.Level.WARNING, fallbackReason);
            return;
        }
        if (kernels.fallBackToSm80()) {
            fallbackReason = "mla4j_decode_sm90 failed its self-check (" + problem + "): using mla4j_decode_sm80";
            LOG.log(System.Logger.Level.WARNING, fallbackReason);
        } else {
            LOG.log(System.Logger.Level.WARNING, "mla4j_decode_sm90 failed its self-check (" + problem + ") and there is no portable kernel");
        }
    }

    /**
     * Device 0, on a stream this backend creates and owns. Like every way of opening, throws
     * {@link BackendUnavailableException} (with the reason) when the driver, JCuda's natives, the device or
     * the kernel image is missing.
     */
    public static CudaBackend open() { return new CudaBackend(0, 0L); }

    /** The given device, on a stream this backend creates and owns. */
    public static CudaBackend open(int device) { return new CudaBackend(device, 0L); }

    /** The given device, on the caller's CUstream (e.g. an engine's compute stream); the caller keeps owning it. */
    public static CudaBackend withStream(int device, long cuStream) {
        if (cuStream == 0) throw new IllegalArgumentException("cuStream is 0: use open(device) for a backend-owned stream");
        return new CudaBackend(device, cuStream);
    }

    @Override public String name() { return NAME; }

    @Override
    public String description() {
        return ctx.name + " (sm_" + ctx.ccMajor + ctx.ccMinor + ", " + ctx.smCount + " SMs), kernel " + kernels.variant
                + ", " + kernels.mode()
                + (fallbackReason != null ? " [" + fallbackReason + "]" : "");
    }

    @Override public String memory() { return location; }

    /** "sm80" or "sm90": the decode kernel in use. */
    public String kernelVariant() { return kernels.variant; }

    /** The CUstream all work is issued on. */
    public long stream() { return ctx.streamHandle(); }

    public int smCount() { return ctx.smCount; }

    @Override
    public void checkSupported(int numHeads, int queryLen, DType dtype) {
        super.checkSupported(numHeads, queryLen, dtype);
    }

    /**
     * DeepSeek's widths (d_c 512, d_r 64) at every valid page size (1 to 256 tokens) on the sm90 and sm80 kernels;
     * the other width pairs the portable kernel is instantiated for ({@link #widthPairs}: 256+64, 256+32, 128+64,
     * 128+32) at every page size on its entry for that pair, on any device, Hopper included (the sm90 kernel's tiles
     * are DeepSeek's). Paging is data (MlaParams.page_shift, kernels-cuda/include/mla4j/paging.h). Other pairs are
     * refused by name (the cpu and reference backends take them). Cache formats: plain, and fp8_e4m3 (512 + 64) on the
     * sm90 kernel at pages of 16 tokens or more and on the sm80 kernel at any page size; the block-scaled fp8 layout is
     * refused by name.
     */
    @Override
    public void checkSupported(io.mla4j.Geometry geometry) {
        if (geometry == null) throw Checks.bad("geometry", "is null");
        boolean deepSeek = DecodeKernels.deepSeekWidths(geometry);
        if (!deepSeek && !kernels.widths.containsKey(DecodeKernels.widthKey(geometry))) {
            throw Checks.bad("geometry", "is " + geometry + "; the cuda kernels take the width pairs (d_c+d_r) " + widthPairs()
                    + " (any page size from 1 to " + io.mla4j.Geometry.MAX_PAGE_SIZE + "); the cpu and reference backends"
                    + " take any width pair");
        }
        if (!deepSeek && geometry.format() != io.mla4j.CacheFormat.PLAIN) {
            throw Checks.bad("geometry", "is " + geometry + "; the cuda fp8 kernels take d_c = 512, d_r = 64 only (other width"
                    + " pairs read bf16/fp16 caches); the cpu and reference backends decode it");
        }
        switch (geometry.format()) {
            case PLAIN -> { }
            case FP8_E4M3 -> {
                if (!kernels.takesFp8()) {
                    throw Checks.bad("geometry", "is " + geometry + "; this kernel image has no fp8 entry of the " + kernels.variant
                            + " kernel (mla4j_decode_" + kernels.variant + "_fp8); the cpu and reference backends decode it");
                }
                if (kernels.fp8NeedsTmaPages() && geometry.pageSize() < 16) {
                    throw Checks.bad("geometry", "is " + geometry + "; the sm90 fp8_e4m3 path takes pages of 16 to 256 tokens"
                            + " (it TMA-loads page rows; a gather of smaller pages is not written yet; -Dmla4j.cuda.kernel=sm80 takes"
                            + " any page size)");
                }
            }
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> throw Checks.bad("geometry", "is " + geometry + "; the cuda kernels do not"
                    + " read the block-scaled fp8 layout yet (fp8_e4m3 and bf16/fp16 they do); the cpu and reference backends decode it");
        }
    }

    /** The width pairs this backend's kernels take, "512+64" first. */
    public java.util.List<String> widthPairs() {
        java.util.List<String> l = new java.util.ArrayList<>();
        l.add(io.mla4j.Geometry.DEEPSEEK.dC() + "+" + io.mla4j.Geometry.DEEPSEEK.dR());
        for (String k : kernels.widths.keySet()) l.add(k.replace('x', '+'));
        return l;
    }

    // ---- memory ----

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        ensureOpen();
        long bytes = Checks.allocation(dtype, shape);
        DeviceBuffer buf = ctx.alloc(bytes);
        // openness(): once this backend closes (and frees its buffers) the tensor reads as closed everywhere
        return Tensor.onDevice(location, buf.address(), dtype, shape, buf, openness());
    }

    /** A view over device memory the caller owns (e.g. an engine's KV cache); closing it frees nothing. */
    public Tensor wrap(long deviceAddress, DType dtype, long... shape) {
        ensureOpen();
        if (deviceAddress == 0) throw Checks.bad("deviceAddress", "is 0");
        Checks.allocation(dtype, shape);
        return Tensor.onDevice(location, deviceAddress, dtype, shape, null, openness());
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        ensureOpen();
        Checks.copyArgs(src, dst, location);
        long n = src.byteSize();
        if (n == 0) return;
        ctx.makeCurrent();
        if (src.isHost() && dst.isHost()) {
            java.lang.foreign.MemorySegment.copy(src.segment(), 0, dst.segment(), 0, n);
        } else if (src.isHost()) {
            ctx.copyToDevice(dst.address(), src.segment(), n);
            ctx.synchronize(); // the caller may reuse the host memory as soon as we return
        } else if (dst.isHost()) {
            ctx.copyToHost(dst.segment(), src.address(), n);
            ctx.synchronize();
        } else {
            ctx.copyOnDevice(dst.address(), src.address(), n); // stream-ordered, like decode
        }
    }

    /** Fills a device tensor's 32-bit words with {@code bits} (e.g. 0x7fc00000 = NaN for fp32), stream-ordered. */
    public void fillWords(Tensor t, int bits) {
        ensureOpen();
        if (t.isHost()) throw Checks.bad("t", "is host memory");
        if (t.byteSize() % 4 != 0) throw Checks.bad("t", t.byteSize() + " bytes is not a whole number of words");
        ctx.makeCurrent();
        ctx.fillWords(t.address(), bits, t.byteSize() / 4);
    }

    /**
     * Fills a BF16/FP16 device tensor with N(0, 1) values drawn on the GPU from {@code seed} (never zeros),
     * stream-ordered. For benches and tests of large shapes, where uploading from the host would dominate.
     */
    public void fillRandom(Tensor t, long seed) {
        ensureOpen();
        if (t.isHost()) throw Checks.bad("t", "is host memory");
        ctx.makeCurrent();
        helpers().fillRandom(t.address(), t.numel(), t.dtype(), seed, 1f);
    }

    synchronized HelperKernels helpers() {
        if (helpers == null) helpers = new HelperKernels(ctx, options.baselineFatbin());
        return helpers;
    }

    /** Free and total device memory in bytes (cuMemGetInfo). */
    public long[] memoryInfo() {
        ensureOpen();
        return ctx.memInfo();
    }

    /** Device buffers this backend allocated and has not freed yet (tensors, plan workspaces, pooled ones). */
    public long liveBuffers() { return ctx.liveBuffers(); }

    /**
     * Frees the plan workspaces kept for reuse by later steps (closed plans return theirs to a pool, so a
     * step costs no cuMemAlloc/cuMemFree). Device memory then drops back to what live tensors and plans hold.
     */
    public void trimWorkspace() {
        ensureOpen();
        workspace.trim();
    }

    /** Bytes of device memory held for reuse by future plans. */
    public long pooledWorkspaceBytes() { return workspace.pooledBytes(); }


    // ---- decode ----

    @Override
    protected int parallelism(PlanSpec spec) {
        if (kernels.combine == null) return 1; // bring-up mode: nothing may be split
        // FlashMLA's split: one part per group of SMs that one row tile's CTA occupies
        int tiles = (spec.rows() + DecodeKernels.ROW_TILE - 1) / DecodeKernels.ROW_TILE;
        return Math.max(1, ctx.smCount / tiles);
    }

    /**
     * A split of these kernels costs about one KV block, not FlashMLA's 5: F = 1 lets b = 1, s_k = 4096 use
     * 64 SMs instead of 13 (sm90 harness, H100, 2026-11-23: 19.8 -> 11.9 us decode + combine at h_q = 16;
     * docs/PERF.md r8). With more than one 64-row tile the same sweep favoured F = 2 (b = 1, s_k = 4096,
     * h_q = 128: 19.1 us vs 20.7 at F = 1 and 24.5 at F = 5). At b = 128 F made no difference beyond noise.
     * The sweep was of the sm90 kernel; the portable kernel uses the same rule (its split prologue is no
     * dearer), checked by the conformance matrix and timed in the Java bench (PERF.md r9, r10).
     */
    @Override
    protected int splitOverheadBlocks(PlanSpec spec) {
        return spec.rows() <= DecodeKernels.ROW_TILE ? 1 : 2;
    }

    @Override
    protected MlaPlan createPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        return newPlan(spec, schedule, seqlens, blockTable, false);
    }

    /**
     * A plan whose step {@link MlaPlan#update} replaces, for CUDA graphs captured once (docs/DESIGN.md, "Graph-replayable
     * steps"): capture {@code plan.update(...)} and the step's decodes, then per step {@link MlaPlan#stage} and
     * {@link CudaGraph#launch()}. Needs the GPU scheduler (not {@code -Dmla4j.cuda.schedule=host}).
     */
    @Override
    protected MlaPlan createUpdatablePlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        if (!kernels.takesUpdatablePlans()) {
            throw new UnsupportedOperationException("cuda backend: updatable plans need the GPU scheduler and mla4j_step"
                    + " (the image lacks them, or -D" + CudaOptions.SCHEDULE + "=host is set)");
        }
        return newPlan(spec, schedule, seqlens, blockTable, true);
    }

    /**
     * A step on this backend's stream (MlaPlan.update): from pageable {@code src} copied first (eager), or read by the
     * kernel from the plan's pinned staging ({@code staged}: inside a graph capture, so the graph holds no host copy).
     */
    void enqueueStep(CudaPlan p, java.lang.foreign.MemorySegment src, SplitSchedule schedule, boolean staged) {
        ensureOpen();
        if (!staged) p.copyStep(src);
        kernels.schedule(p, schedule, staged ? src.address() : 0L);
    }

    private MlaPlan newPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable, boolean updatable) {
        ctx.makeCurrent();
        CudaPlan p = new CudaPlan(this, spec, schedule, seqlens, blockTable, ctx, workspace,
                kernels.usesTensorMap(spec), updatable);
        livePlans.add(p);
        try {
            kernels.prepare(p);
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    // Plans not yet closed: closing the backend closes them first (their pinned memory dies with the context).
    private final java.util.Set<CudaPlan> livePlans = java.util.concurrent.ConcurrentHashMap.newKeySet();

    void forget(CudaPlan p) { livePlans.remove(p); }

    /** For plans: throws IllegalStateException once this backend is closed. */
    void checkOpen() { ensureOpen(); }

    @Override
    protected void doDecode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        CudaPlan p = (CudaPlan) plan;
        ctx.makeCurrent();
        // bind patches the plan's one parameter struct (and tensor map); the driver copies it at launch, so
        // bind and launch are one step per plan, or two threads sharing a plan would launch each other's
        // tensors (found by the fuzz suite's valid.concurrentPlan on the H200, 2026-12-03)
        synchronized (p) {
            p.bind(q.address(), kCache.address(), out.address(), lse.address(), kvScale);
            kernels.launchDecode(p);
        }
    }

    @Override
    public void synchronize() {
        ensureOpen();
        ctx.synchronize();
    }

    /** Call after code on this thread switched CUDA contexts behind mla4j's back. */
    public void rebindContext() { ctx.forgetCurrent(); }

    // ---- graphs and events ----

    /**
     * Records {@code work} (decodes on this backend, e.g. all layers of a step) into a CUDA graph instead
     * of running it; replay it with {@link CudaGraph#launch()}. Inputs are baked in: replays read and
     * write the same device addresses (fill them in place between replays).
     */
    public CudaGraph capture(Runnable work) {
        ensureOpen();
        ctx.makeCurrent();
        return CudaGraph.capture(ctx, work);
    }

    /** A CUDA event on this backend's device, for timing work on its stream. */
    public CudaEvent newEvent() {
        ensureOpen();
        ctx.makeCurrent();
        return new CudaEvent(ctx);
    }

    // ---- package-private for the kernels, the plan, the baseline and tests ----

    CudaContext context() { return ctx; }

    @Override
    protected void release() {
        try {
            for (CudaPlan p : java.util.List.copyOf(livePlans)) {
                try {
                    p.close();
                } catch (RuntimeException e) { // keep closing the rest; the context goes below anyway
                    System.getLogger(CudaBackend.class.getName()).log(System.Logger.Level.WARNING, "closing a plan: " + e);
                }
            }
            ctx.synchronize();
            workspace.trim();
            if (helpers != null) helpers.close();
            module.close();
        } finally {
            ctx.close();
        }
    }
}
