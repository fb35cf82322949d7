package io.mla4j.cpu;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The cpu backend's plan when a native kernel runs: the same split schedule as {@link CpuPlan}, with
 * everything the native code touches off the Java heap (block table, partial outputs and LSEs, one
 * scratch area per pool worker), sized once here. Threads are the backend's pool: each worker calls
 * {@code mla4j_cpu_split} per split of its schedule parts, then {@code mla4j_cpu_combine} per sequence,
 * so load balancing, the thread count and the schedule are exactly the Vector API path's.
 */
final class NativeCpuPlan extends MlaPlan {
    private final CpuKernel kernel;
    private final NativeKernel.Lib lib;
    private final int rows, workers;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment blocks, partialO, partialLse;
    private final MemorySegment[] scratch;
    private CpuPlan vector; // for tensors on the Java heap, which the native code cannot take; made on first need

    NativeCpuPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable,
                  int workers, CpuKernel kernel, NativeKernel.Lib lib) {
        super(backend, spec, schedule, seqlens, blockTable);
        this.kernel = kernel;
        this.lib = lib;
        this.workers = workers;
        rows = spec.rows();
        blocks = arena.allocate(Math.max(1L, blockTable.length) * 4L, 64);
        MemorySegment.copy(blockTable, 0, blocks, ValueLayout.JAVA_INT, 0, blockTable.length);
        partialO = arena.allocate((long) schedule.totalSplits() * rows * Mla.D_V * 4L, 64);
        partialLse = arena.allocate((long) schedule.totalSplits() * rows * 4L, 64);
        long bytes = lib.scratch(rows);
        if (bytes <= 0) throw new IllegalStateException("native scratch size " + bytes + " for " + rows + " rows");
        scratch = new MemorySegment[workers];
        for (int i = 0; i < workers; i++) scratch[i] = arena.allocate(bytes, 64);
    }

    CpuKernel kernel() { return kernel; }

    /** Runs the decode; false (nothing done) when a tensor is on the Java heap: then use {@link #vectorPlan}. */
    boolean decode(WorkerPool pool, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        MemorySegment qs = q.segment(), cache = kCache.segment(), os = out.segment(), ls = lse.segment();
        if (!(qs.isNative() && cache.isNative() && os.isNative() && ls.isNative())) return false;
        PlanSpec spec = spec();
        SplitSchedule s = schedule();
        int fp16 = spec.dtype() == DType.FP16 ? 1 : 0, causal = spec.effectiveCausal() ? 1 : 0;
        int hq = spec.numHeads(), sq = spec.queryLen(), mb = maxBlocks();
        // fp8 caches are widened exactly in the kernel. fp8_e4m3 (1): its scale folded into the scores' and o's (as on
        // the GPU); block-scaled (2): the kernel applies each token's per-128 scales itself (mla4j_cpu_kernel.h)
        int fp8 = switch (spec.geometry().format()) {
            case PLAIN -> 0;
            case FP8_E4M3 -> 1;
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> 2;
        };
        float scale = fp8 == 1 ? spec.scale() * kvScale : spec.scale(), vScale = fp8 == 1 ? kvScale : 1f;
        long qRow = (long) rows * Mla.D_QK * 2, oRow = (long) rows * Mla.D_V * 2, part = (long) rows * Mla.D_V * 4;
        pool.run(s.numParts(), (p, worker) -> s.forEachSplit(p, (seq, from, to, slot) -> {
            int sk = seqlen(seq);
            int end = Math.max(from, to < 0 ? Mla.blocksFor(sk) : to);
            int rc;
            try {
                rc = (int) lib.split().invokeExact(kernel.code, fp16, qs.asSlice(seq * qRow), cache, fp8, vScale,
                        blocks.asSlice((long) seq * mb * 4L), sk, hq, sq, causal, scale, from, end, scratch[worker],
                        partialO.asSlice(slot * part), partialLse.asSlice(slot * (long) rows * 4L));
            } catch (Throwable t) {
                throw new IllegalStateException("native " + kernel.id() + " split failed", t);
            }
            if (rc != 0) throw new IllegalStateException("native " + kernel.id() + " split returned " + rc);
        }));
        pool.run(batch(), (seq, worker) -> {
            int first = s.splitOffset(seq);
            try {
                lib.combine().invokeExact(fp16, s.splitsOf(seq), partialLse.asSlice((long) first * rows * 4L),
                        partialO.asSlice(first * part), hq, sq, os.asSlice(seq * oRow), ls.asSlice((long) seq * hq * sq * 4L));
            } catch (Throwable t) {
                throw new IllegalStateException("native combine failed", t);
            }
        });
        return true;
    }

    synchronized CpuPlan vectorPlan() {
        if (vector == null) vector = new CpuPlan(backend(), spec(), schedule(), seqlens(), blockTable(), workers);
        return vector;
    }

    @Override
    protected void release() {
        arena.close();
        if (vector != null) vector.close();
    }
}
