package io.mla4j;

import java.util.Objects;

/**
 * A validated, scheduled decode step: sequence lengths and block table checked once, the split-KV
 * schedule computed, and whatever workspace the backend needs sized. Reuse it for every layer of the
 * step; close it when the step is done (backends may hold device buffers in it).
 */
public class MlaPlan implements AutoCloseable {
    private final MlaBackend backend;
    private final PlanSpec spec;
    private final SplitSchedule schedule;
    private final int[] seqlens;
    private final int[] blockTable;
    private final int maxBlocks;
    private volatile boolean closed;

    protected MlaPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        this.backend = Objects.requireNonNull(backend);
        this.spec = spec;
        this.schedule = schedule;
        this.seqlens = seqlens;
        this.blockTable = blockTable;
        this.maxBlocks = (int) spec.blockTable().dim(1);
    }

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
