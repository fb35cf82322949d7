package io.mla4j;

import java.util.Objects;

/**
 * A validated, scheduled decode step: sequence lengths and block table checked once, the split-KV
 * schedule computed, and whatever workspace the backend needs sized. Reuse it for every layer of the
 * step; close it when the step is done (backends may hold device buffers in it).
 *
 * <p><b>Updatable plans</b> ({@link MlaBackend#updatablePlan}) serve every step of a run instead: their capacity
 * (batch b, the block table's max_blocks, num_blocks, h_q, s_q, dtype, mask, scale, geometry) is fixed, and
 * {@link #update} replaces the sequence lengths and the block table between steps without reallocating, so a
 * CUDA graph captured once over the plan's decodes replays every later step (docs/DESIGN.md, "Graph-replayable
 * steps": what may change between replays). Unused batch rows take seqlen 0.
 *
 * <p>Threads: decodes of one plan may be issued from several threads (each is one launch under the plan's lock
 * on GPUs; CPU backends run them one after another, under it too). {@link #update} and {@link #stage} take the same
 * lock, so a decode always sees one step whole; which step a decode racing an update sees is the caller's to order
 * (update between steps).
 */
public class MlaPlan implements AutoCloseable {
    private final MlaBackend backend;
    private final PlanSpec spec;
    private final boolean updatable;
    private volatile SplitSchedule schedule;
    private volatile int[] seqlens;
    private volatile int[] blockTable;
    private final int maxBlocks;
    private volatile boolean closed;

    protected MlaPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        this(backend, spec, schedule, seqlens, blockTable, false);
    }

    /** A plan; {@code updatable}: {@link #update} may replace its step (the backend sized it for any step). */
    protected MlaPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable,
                      boolean updatable) {
        this.backend = Objects.requireNonNull(backend);
        this.spec = spec;
        this.schedule = schedule;
        this.seqlens = seqlens;
        this.blockTable = blockTable;
        this.maxBlocks = (int) spec.blockTable().dim(1);
        this.updatable = updatable;
    }

    /** Whether {@link #update} may replace this plan's step (plans of {@link MlaBackend#updatablePlan}). */
    public boolean isUpdatable() { return updatable; }

    /**
     * Makes this plan the next step: {@code seqlens} [b] and {@code blockTable} [b * max_blocks] (row-major), of the
     * plan's capacity, are validated as {@link MlaBackend#plan} validates them (IllegalArgumentException naming the
     * argument; the plan is unchanged then), the split schedule is recomputed, and on a GPU the new contents and the
     * schedule are enqueued on the backend's stream (in order after the decodes issued before, before those issued
     * after; inside a graph capture they are captured, see {@link #stage}). The arrays are copied.
     *
     * @throws IllegalStateException if the plan is closed or not updatable
     */
    public final void update(int[] seqlens, int[] blockTable) { apply(seqlens, blockTable, true); }

    /**
     * The host half of {@link #update}, for CUDA graph replay: validates and records the step, and on a GPU writes it
     * into the plan's pinned staging memory, which the {@link #update} captured in the graph reads at every replay.
     * Call it between replays, only once the previous replay has finished (the backend's synchronize, or an event
     * after it): a replay still in flight may be reading the staging memory. On CPU backends it is {@link #update}.
     */
    public final void stage(int[] seqlens, int[] blockTable) { apply(seqlens, blockTable, false); }

    private void apply(int[] newSeqlens, int[] newTable, boolean enqueue) {
        if (closed) throw new IllegalStateException("plan: is closed");
        if (!updatable) {
            throw new IllegalStateException("plan: is not updatable (make it with MlaBackend.updatablePlan to update it)");
        }
        io.mla4j.spi.Checks.stepContents(spec, newSeqlens, newTable);
        int[] s = newSeqlens.clone(), t = newTable.clone();
        SplitSchedule next = SplitSchedule.compute(s, schedule.numParts(), schedule.splitOverhead());
        synchronized (this) {
            if (closed) throw new IllegalStateException("plan: is closed");
            onUpdate(s, t, next, enqueue);
            seqlens = s;
            blockTable = t;
            schedule = next;
        }
    }

    /**
     * Backends holding a step outside these fields (device buffers) take the new one here, before the fields change;
     * {@code enqueue}: {@link #update} (copy and schedule on the device now), else {@link #stage} (host side only).
     */
    protected void onUpdate(int[] seqlens, int[] blockTable, SplitSchedule schedule, boolean enqueue) {}

    /**
     * The device-side check of the latest step that ran: 0 when it was valid, else {@link #STATUS_SEQLEN} and / or
     * {@link #STATUS_BLOCK} (a step whose buffers were written past the host checks; it read no cache and gave every
     * row o = 0, LSE = +inf). Waits for the backend's queued work. Host backends validate every step on the host: 0.
     */
    public int status() { return 0; }

    /** {@link #status()} bit: a sequence length beyond the plan's capacity (max_blocks pages) or negative. */
    public static final int STATUS_SEQLEN = 1;
    /** {@link #status()} bit: a used block id outside [0, num_blocks). */
    public static final int STATUS_BLOCK = 2;

    public MlaBackend backend() { return backend; }
    public PlanSpec spec() { return spec; }
    public SplitSchedule schedule() { return schedule; }
    public int batch() { return seqlens.length; }
    public int seqlen(int s) { return seqlens[s]; }
    /** Sum of s_k over the batch (for FLOP/byte counting). */
    public long totalSeqlen() {
        long t = 0;
        for (int v : seqlens) t += v;
        return t;
    }
    public int maxBlocks() { return maxBlocks; }
    /** Cache block id of block {@code j} of sequence {@code s} (validated at plan time). */
    public int block(int s, int j) { return blockTable[s * maxBlocks + j]; }
    /** A copy of the validated sequence lengths. */
    public int[] seqlens() { return seqlens.clone(); }
    /** A copy of the validated block table, row-major [b, max_blocks]. */
    public int[] blockTable() { return blockTable.clone(); }
    public boolean isClosed() { return closed; }

    /** Releases backend resources held by the plan; idempotent. Subclasses override {@link #release()}. */
    @Override
    public final void close() {
        if (closed) return;
        closed = true;
        release();
    }

    /** Frees backend resources; called once by {@link #close()}. */
    protected void release() {}
}
