package io.mla4j.cuda;

import io.mla4j.DType;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A decode step on the GPU, as data: seqlens and the block table uploaded once, the split-KV workspace, the
 * kernels' {@code MlaParams} written once, and the launch geometry {@link DecodeKernels#prepare} fills in
 * (which also puts the tile schedule on the GPU). A decode then only patches four pointers and launches: no
 * allocation, no copy, no host sync, so a sequence of decodes can be captured in a CUDA graph.
 * A plan calls no kernel: the backend hands it to {@link DecodeKernels}.
 *
 * <p>An updatable plan ({@link io.mla4j.MlaBackend#updatablePlan}) keeps every buffer address for its life and
 * launches the combine whatever the split counts, so its kernel parameters never change; {@link #update} enqueues
 * mla4j_step, which inside a graph capture copies the step itself from the plan's pinned staging memory (mapped: no
 * host copy node in the graph) and eagerly checks what the host copied from pageable memory before it; then it
 * checks the step and schedules it. docs/DESIGN.md, "Graph-replayable steps".
 */
public final class CudaPlan extends MlaPlan {
    private final CudaContext ctx;
    private final WorkspacePool pool;
    // Plain plans (the kind an engine makes and closes every decode step) keep their few hundred bytes of launch data
    // (the parameter struct, the tensor map, launch configs) in an automatic arena: a shared arena's life costs
    // 13-17 us of CPU, nearly all of it its close (a handshake with every thread; a confined or automatic one 0.1-0.6 us:
    // lab/results/bench/cpu/2026-12-04-arena-close/), over half of plan()'s 25 us budget at b = 1. Updatable plans
    // (made once) keep a shared one, closed with them: it scopes staging(), so a write after close throws instead of
    // reaching freed pinned memory.
    private final Arena arena;
    final KernelParams params;
    final DeviceBuffer seqlensBuf, tableBuf, schedBuf, offsetsBuf, oAccum, lseAccum;
    final DeviceBuffer statusBuf;        // updatable plans: status, bits being gathered, CTAs done (params.h), else null
    private final CudaContext.Pinned pinned; // updatable plans: seqlens then table, what a captured update reads
    private final MemorySegment pageable;    // updatable plans: the same, for eager updates (the driver stages it)
    private final MemorySegment stagingView; // updatable plans: pinned, scoped to the plan (closed with it)
    final int numParts, maxSplits, rows;
    final int mostSplits; // splits of the busiest sequence: sets the combine's rows per CTA
    final KvTensorMap kvMap; // the sm90 kernel's plans only
    final boolean fp8;       // an fp8_e4m3 cache: the kernel's _fp8 entry, scales set per call
    final boolean needsCombine; // some sequence has more than one split

    // Launch geometry, set once by DecodeKernels.prepare.
    int tiles, combineGridY, combineGridZ;
    DecodeKernels.Width width; // the portable kernel's entry for a plan of other widths than DeepSeek's, else null
    String kernel;             // what kernel() says
    String kernelReason;       // what kernelReason() says
    boolean etap;              // launches the transposed kernel: etapKernel, its entry for the plan's widths
    Kernel etapKernel;
    LaunchConfig decodeLaunch, combineLaunch; // cuLaunchKernelEx configs, null when the plain launch is used

    CudaPlan(CudaBackend be, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] table,
             CudaContext ctx, WorkspacePool pool, boolean tensorMap, boolean updatable) {
        super(be, spec, schedule, seqlens, table, updatable);
        arena = updatable ? Arena.ofShared() : Arena.ofAuto();
        this.ctx = ctx;
        this.pool = pool;
        int b = seqlens.length;
        rows = spec.rows();
        numParts = schedule.numParts();
        maxSplits = b + numParts; // a schedule never has more splits than this (SplitSchedule javadoc)
        // an updatable plan's later steps may split any sequence: it always combines, rows per CTA sized for an even spread
        needsCombine = updatable ? numParts > 1 : schedule.totalSplits() > b;
        int most = 1;
        for (int s = 0; s < b; s++) most = Math.max(most, schedule.splitsOf(s));
        mostSplits = updatable ? (maxSplits + b - 1) / b : most;
        DeviceBuffer[] bufs = new DeviceBuffer[7];
        try {
            bufs[0] = pool.take(4L * b);
            bufs[1] = pool.take(4L * Math.max(1, table.length));
            bufs[2] = pool.take(4L * numParts * SplitSchedule.META_INTS);
            bufs[3] = pool.take(4L * (b + 1));
            bufs[4] = pool.take(4L * maxSplits * rows * spec.geometry().dV());
            bufs[5] = pool.take(4L * maxSplits * rows);
            if (updatable) bufs[6] = pool.take(12L);
        } catch (RuntimeException e) {
            for (DeviceBuffer d : bufs) if (d != null) pool.give(d);
            closeArena();
            throw e;
        }
        seqlensBuf = bufs[0]; tableBuf = bufs[1]; schedBuf = bufs[2]; offsetsBuf = bufs[3]; oAccum = bufs[4]; lseAccum = bufs[5];
        statusBuf = bufs[6];
        long stepBytes = 4L * (b + table.length);
        CudaContext.Pinned pin = null;
        if (updatable) {
            try {
                pin = ctx.allocPinned(stepBytes);
            } catch (RuntimeException e) {
                for (DeviceBuffer d : bufs) if (d != null) pool.give(d);
                closeArena();
                throw e;
            }
        }
        pinned = pin;
        pageable = updatable ? arena.allocate(stepBytes) : null;
        stagingView = updatable ? MemorySegment.ofAddress(pin.segment.address()).reinterpret(stepBytes, arena, null) : null;

        params = new KernelParams(arena);
        fp8 = spec.geometry().format() == io.mla4j.CacheFormat.FP8_E4M3;
        io.mla4j.Geometry geo = spec.geometry();
        kvMap = tensorMap ? new KvTensorMap(arena, spec.numCacheBlocks(), geo.pageSize(), geo.dQk(), fp8) : null;
        params.setLong("block_table", tableBuf.address());
        params.setLong("seqlens", seqlensBuf.address());
        params.setLong("o_accum", oAccum.address());
        params.setLong("lse_accum", lseAccum.address());
        params.setLong("sched", schedBuf.address());
        params.setLong("split_offsets", offsetsBuf.address());
        params.setLong("status", statusBuf != null ? statusBuf.address() : 0L);
        params.setLong("staged", 0L);
        if (statusBuf != null) ctx.fillWords(statusBuf.address(), 0, 3); // mla4j_step's words start at 0
        params.setInt("b", b);
        params.setInt("s_q", spec.queryLen());
        params.setInt("h_q", spec.numHeads());
        params.setInt("rows", rows);
        params.setInt("max_blocks", maxBlocks());
        params.setInt("num_blocks", spec.numCacheBlocks());
        params.setInt("num_parts", numParts);
        params.setInt("max_splits", maxSplits);
        params.setInt("causal", spec.effectiveCausal() ? 1 : 0);
        params.setInt("dtype", spec.dtype() == DType.BF16 ? 0 : 1);
        params.setFloat("scale", spec.scale());
        params.setFloat("scale_log2", (float) (spec.scale() / Math.log(2.0)));
        params.setInt("split_overhead", schedule.splitOverhead()); // the GPU scheduler must build the host's schedule
        params.setInt("page_shift", Integer.numberOfTrailingZeros(spec.geometry().pageSize())); // a power of two
        params.setInt("cache_format", fp8 ? 1 : 0);
        params.setFloat("v_scale", 1f);
        params.setInt("d_qk", spec.geometry().dQk());
        params.setInt("d_v", spec.geometry().dV());

        // Upload once per step (host -> device, stream-ordered); the schedule follows in DecodeKernels.prepare.
        if (updatable) {
            writeStep(pageable, seqlens, table);
            copyStep(pageable);
        } else {
            try (Arena once = Arena.ofConfined()) { // pageable: the driver has staged it when the copy returns
                MemorySegment host = once.allocate(stepBytes);
                writeStep(host, seqlens, table);
                copyStep(host);
            }
        }
    }

    private void closeArena() {
        if (isUpdatable()) arena.close(); // an automatic arena is the GC's
    }

    /** A step as the device buffers hold it: b seqlens, then the table, into {@code dst}. */
    private static void writeStep(MemorySegment dst, int[] seqlens, int[] table) {
        MemorySegment.copy(seqlens, 0, dst, ValueLayout.JAVA_INT, 0, seqlens.length);
        MemorySegment.copy(table, 0, dst, ValueLayout.JAVA_INT, 4L * seqlens.length, table.length);
    }

    /**
     * The decode kernel this plan launches: "sm90" (the relay kernel), "sm90_etap" (the transposed kernel,
     * {@code h_q * s_q <= 16}; "sm90_etap_256x32" for other widths), "sm80", or the portable kernel's entry for its widths
     * ("sm80_256x32").
     */
    public String kernel() { return kernel; }

    /** Why {@link #kernel()} was chosen for this plan, in a sentence (also logged at DEBUG by io.mla4j.cuda). */
    public String kernelReason() { return kernelReason; }

    /** Off-heap memory that lives as long as the plan (launch configs, the tensor map). */
    Arena arena() { return arena; }

    /**
     * Binds one decode's tensors: four addresses into the struct, and the sm90 tensor map if the cache moved; for
     * an fp8 cache its scale too (into the scores' scale and V's: the kernel widens e4m3 exactly and scales after).
     */
    void bind(long q, long kCache, long out, long lse, float kvScale) {
        params.setTensors(q, kCache, out, lse);
        if (fp8) params.setScales((float) ((double) spec().scale() * kvScale / Math.log(2.0)), kvScale);
        if (kvMap != null) params.setSecondArgument(kvMap.forCache(kCache));
    }

    /** Uploads a host {@link SplitSchedule} (when the fatbin has no GPU scheduler, or it is turned off). */
    void uploadHostSchedule(CudaContext ctx, SplitSchedule schedule) {
        int[] meta = schedule.metadata(), offs = schedule.splitOffsets();
        try (Arena once = Arena.ofConfined()) { // pageable: staged by the driver when each copy returns
            MemorySegment m = once.allocate(4L * meta.length), o = once.allocate(4L * offs.length);
            MemorySegment.copy(meta, 0, m, ValueLayout.JAVA_INT, 0, meta.length);
            MemorySegment.copy(offs, 0, o, ValueLayout.JAVA_INT, 0, offs.length);
            ctx.copyToDevice(schedBuf.address(), m, m.byteSize());
            ctx.copyToDevice(offsetsBuf.address(), o, o.byteSize());
        }
    }

    /** The step into the device buffers (MlaPlan.update, stage): CudaBackend.enqueueStep does the copies and the rest. */
    @Override
    protected void onUpdate(int[] seqlens, int[] table, SplitSchedule schedule, boolean enqueue) {
        ((CudaBackend) backend()).checkOpen();
        ctx.makeCurrent();
        boolean capturing = ctx.isCapturing();
        MemorySegment src = enqueue && !capturing ? pageable : pinned.segment;
        writeStep(src, seqlens, table);
        if (enqueue) ((CudaBackend) backend()).enqueueStep(this, src, schedule, capturing);
    }

    /** Copies a step from host memory {@code src} (seqlens, then the table) into the plan's device buffers. */
    void copyStep(MemorySegment src) {
        int b = batch();
        ctx.copyToDevice(seqlensBuf.address(), src, 4L * b);
        long tableBytes = src.byteSize() - 4L * b;
        if (tableBytes > 0) ctx.copyToDevice(tableBuf.address(), src.asSlice(4L * b), tableBytes);
    }

    /**
     * An updatable plan's pinned staging memory, what the {@link #update} captured in a graph reads at every replay
     * (mla4j_step, through the mapping): b ints of seqlens, then the b * max_blocks ints of the block table
     * (row-major). An engine may write it directly between replays (a seqlen and, on a page boundary, one table
     * entry per sequence: far cheaper than {@link #stage} at large batch), under {@link #stage}'s rule (only once the
     * previous replay finished). Nothing
     * checks such writes on the host: the device check does ({@link #status()}; a bad step reads no cache). Note that
     * {@link #seqlens()}, {@link #schedule()} and the other host views keep the last staged or updated step.
     *
     * @throws IllegalStateException if the plan is not updatable or is closed
     */
    public MemorySegment staging() {
        if (pinned == null) throw new IllegalStateException("plan: is not updatable (MlaBackend.updatablePlan)");
        if (isClosed()) throw new IllegalStateException("plan: is closed");
        return stagingView; // closing the plan (or its backend) closes it: a later access throws, it cannot crash
    }

    @Override
    public int status() {
        if (statusBuf == null) return 0;
        if (isClosed()) throw new IllegalStateException("plan: is closed");
        ((CudaBackend) backend()).checkOpen();
        ctx.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment word = a.allocate(4);
            ctx.copyToHost(word, statusBuf.address(), 4);
            ctx.synchronize();
            return word.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** The GPU scheduler's output, [numParts * 8] then [b + 1] ints (synchronises; for tests). */
    public int[][] deviceSchedule() {
        ctx.makeCurrent();
        int b = batch();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(4L * numParts * SplitSchedule.META_INTS);
            MemorySegment o = a.allocate(4L * (b + 1));
            ctx.copyToHost(m, schedBuf.address(), m.byteSize());
            ctx.copyToHost(o, offsetsBuf.address(), o.byteSize());
            ctx.synchronize();
            return new int[][] {m.toArray(ValueLayout.JAVA_INT), o.toArray(ValueLayout.JAVA_INT)};
        }
    }

    @Override
    protected void release() {
        synchronized (this) { // after an update or decode in flight on another thread (they hold the plan's lock)
            // back to the pool, not freed: the next plan's work is stream-ordered after this plan's kernels
            for (DeviceBuffer d : new DeviceBuffer[] {seqlensBuf, tableBuf, schedBuf, offsetsBuf, oAccum, lseAccum, statusBuf}) {
                if (d != null) pool.give(d);
            }
            try {
                if (pinned != null) { // a queued copy may still read it
                    ctx.synchronize();
                    pinned.close();
                }
            } finally {
                // pageable copies were staged by the driver before returning; the staging() view dies here too
                closeArena();
                ((CudaBackend) backend()).forget(this);
            }
        }
    }
}
