package io.mla4j.spi;

import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;

/**
 * The skeleton every backend extends: {@link #plan} and {@link #decode} validate everything here, the
 * same way for all backends, then call the backend's hooks. A backend never sees unchecked input.
 */
public abstract class AbstractMlaBackend implements MlaBackend {
    private volatile boolean closed;

    /** Number of parallel workers to split the KV work over for this shape (SMs / cores / NPU cores). */
    protected abstract int parallelism(PlanSpec spec);

    /**
     * The split schedule's fixed cost of one split, in 64-token blocks, for this shape: what starting a
     * split costs this backend relative to one KV block ({@link SplitSchedule#FIXED_OVERHEAD_BLOCKS} unless
     * a backend has measured otherwise).
     */
    protected int splitOverheadBlocks(PlanSpec spec) { return SplitSchedule.FIXED_OVERHEAD_BLOCKS; }

    /** Builds the plan (allocating whatever workspace it needs). Inputs are valid. */
    protected MlaPlan createPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        return new BackendPlan(this, spec, schedule, seqlens, blockTable);
    }

    /**
     * Runs the decode. All arguments have been validated against the plan; {@code kvScale} is 1 unless the
     * plan's cache format is {@link io.mla4j.CacheFormat#FP8_E4M3} (then finite and positive).
     */
    protected abstract void doDecode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse);

    /** Frees backend resources; called once. */
    protected abstract void release();

    /**
     * Backend limits that depend on the whole step (cache size, batch, table width), beyond
     * {@link #checkSupported}: throws {@link IllegalArgumentException} naming the argument. Called by
     * {@link #plan} after the shared checks; the default accepts everything the shared checks accept.
     */
    protected void checkPlan(PlanSpec spec) {}

    /** False once this backend is closed: give it to {@link Tensor#onDevice(String, long, DType, long[], AutoCloseable,
     *  java.util.function.BooleanSupplier)} so this backend's tensors read as closed once it is. */
    protected final java.util.function.BooleanSupplier openness() { return openness; }

    private final java.util.function.BooleanSupplier openness = () -> !closed;

    /** True once {@link #close()} has run (or is running). */
    public boolean isClosed() { return closed; }

    @Override
    public void checkSupported(int numHeads, int queryLen, DType dtype) {
        if (dtype == null) throw Checks.bad("dtype", "is null");
        if (numHeads < 1) throw Checks.bad("numHeads", "h_q is " + numHeads + ", expected >= 1");
        if (queryLen < 1) throw Checks.bad("queryLen", "s_q is " + queryLen + ", expected >= 1");
        if ((long) numHeads * queryLen > Mla.MAX_ROWS) {
            throw Checks.bad("numHeads", "h_q * s_q = " + (long) numHeads * queryLen
                    + " query rows, at most Mla.MAX_ROWS = " + Mla.MAX_ROWS);
        }
        if (!dtype.isDecodeType()) throw Checks.bad("dtype", "is " + dtype + ", " + name() + " supports BF16 and FP16");
    }

    /**
     * Builds an updatable plan ({@link MlaBackend#updatablePlan}) sized for any step of the spec's capacity. Inputs are
     * valid. The default refuses: a backend opts in by overriding it.
     */
    protected MlaPlan createUpdatablePlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        throw new UnsupportedOperationException(name() + " backend: no updatable plans; make a plan per step (plan(spec))");
    }

    /** The default plan class, updatable: for backends whose decode reads only the plan's own fields. */
    protected final MlaPlan updatableBackendPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        return new BackendPlan(this, spec, schedule, seqlens, blockTable, true);
    }

    @Override
    public final MlaPlan plan(PlanSpec spec) {
        return plan(spec, false);
    }

    @Override
    public final MlaPlan updatablePlan(PlanSpec spec) {
        return plan(spec, true);
    }

    private MlaPlan plan(PlanSpec spec, boolean updatable) {
        ensureOpen();
        if (spec != null) { // plan inputs are read here, on the caller's thread
            Checks.accessible("seqlens", spec.seqlens());
            Checks.accessible("blockTable", spec.blockTable());
        }
        Checks.Step step = Checks.planStep(spec);
        int[] seqlens = step.seqlens();
        checkSupported(spec.numHeads(), spec.queryLen(), spec.dtype());
        checkSupported(spec.geometry());
        checkPlan(spec);
        int[] table = step.table();
        SplitSchedule schedule = SplitSchedule.compute(seqlens, Math.max(1, parallelism(spec)), splitOverheadBlocks(spec));
        return updatable ? createUpdatablePlan(spec, schedule, seqlens, table) : createPlan(spec, schedule, seqlens, table);
    }

    @Override
    public final void decode(MlaPlan plan, Tensor q, Tensor kCache, Tensor out, Tensor lse) {
        decode(plan, q, kCache, 1f, out, lse);
    }

    @Override
    public final void decode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        ensureOpen();
        if (plan == null) throw Checks.bad("plan", "is null");
        if (plan.isClosed()) throw Checks.closed("plan", "is closed");
        if (plan.backend() != this) throw Checks.bad("plan", "was made by another backend (" + plan.backend().name() + ")");
        PlanSpec s = plan.spec();
        long b = plan.batch(), sq = s.queryLen(), hq = s.numHeads();
        String mem = memory();
        Checks.decodeGeometry(s, q, kCache, out); // ranks, and the dims the plan's geometry fixes
        Geometry g = s.geometry();
        Checks.tensor("q", q, mem, s.dtype(), g.queryShape(b, sq, hq));
        Checks.tensor("kCache", kCache, mem, g.format().cacheDType(s.dtype()), g.cacheShape(s.numCacheBlocks()));
        Checks.kvScale(kvScale, g.format());
        Checks.output("out", out, mem, s.dtype(), g.outShape(b, sq, hq));
        Checks.rank("lse", lse, 3, "[b, h_q, s_q]");
        Checks.output("lse", lse, mem, DType.FP32, b, hq, sq);
        // Backends that touch host memory from worker threads refuse confined segments here (README: host memory);
        // one that decodes on the caller's thread needs them only to be this thread's
        hostAccess("q", q);
        hostAccess("kCache", kCache);
        hostAccess("out", out);
        hostAccess("lse", lse);
        doDecode(plan, q, kCache, kvScale, out, lse);
    }

    private void hostAccess(String arg, Tensor t) {
        if (decodesOnCallerThread()) Checks.accessible(arg, t);
        else Checks.shareable(arg, t);
    }

    @Override
    public final void close() {
        if (closed) return;
        closed = true;
        release();
    }

    protected final void ensureOpen() {
        if (closed) throw new IllegalStateException(name() + " backend is closed");
    }

    /** The default plan: validated inputs and the schedule, nothing else. */
    static final class BackendPlan extends MlaPlan {
        BackendPlan(MlaBackend be, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] table) {
            super(be, spec, schedule, seqlens, table);
        }

        BackendPlan(MlaBackend be, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] table, boolean updatable) {
            super(be, spec, schedule, seqlens, table, updatable);
        }
    }

    /**
     * Whether {@link #doDecode} reads and writes host tensors on the calling thread only (the reference backend):
     * then a confined arena's segment is accepted from its owner thread. The default, false, refuses confined
     * segments in {@code decode}, because worker threads would touch them.
     */
    protected boolean decodesOnCallerThread() { return false; }
}
