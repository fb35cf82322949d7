package io.mla4j.ascend;

import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import java.lang.foreign.Arena;

import java.lang.foreign.ValueLayout;

/**
 * A decode step on the Ascend backend: the tiling computed once on the host, and the device buffers
 * every layer of the step reuses (block table, sequence lengths, tiling blob, workspace).
 */
final class AscendPlan extends MlaPlan {
    private final AscendBackend backend;
    private final int blockDim;
    private final long blockTableDev, seqlensDev, tilingDev, workspaceDev;

    AscendPlan(AscendBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable, MlaKernel kernel) {
        super(backend, spec, schedule, seqlens, blockTable);
        this.backend = backend;
        MlaKernel.Tiling t = kernel.tiling(spec, seqlens, backend.cores());
        if (blockTable.length == 0) { // 0 columns, every seqlen 0: one column of -1 that the kernel never reads
            blockTable = new int[seqlens.length];
            java.util.Arrays.fill(blockTable, -1);
        }
        this.blockDim = t.blockDim();
        long bt = 0, sl = 0, ti = 0, ws = 0;
        try (Arena a = Arena.ofConfined()) {
            bt = backend.malloc(4L * blockTable.length);
            backend.upload(a.allocateFrom(ValueLayout.JAVA_INT, blockTable), bt);
            sl = backend.malloc(4L * seqlens.length);
            backend.upload(a.allocateFrom(ValueLayout.JAVA_INT, seqlens), sl);
            ti = backend.malloc(t.blob().length);
            backend.upload(a.allocateFrom(ValueLayout.JAVA_BYTE, t.blob()), ti);
            ws = backend.malloc(Math.max(1, t.workspaceBytes()));  // contents need not be initialised
        } catch (RuntimeException | Error e) {
            for (long p : new long[] {bt, sl, ti, ws}) if (p != 0) backend.free(p);
            throw e;
        }
        this.blockTableDev = bt;
        this.seqlensDev = sl;
        this.tilingDev = ti;
        this.workspaceDev = ws;
    }

    int blockDim() { return blockDim; }

    /** The kernel's GM_ADDR arguments in ABI order for one layer. */
    long[] kernelArgs(long q, long kvCache, long o, long lse) {
        return new long[] {q, kvCache, blockTableDev, seqlensDev, o, lse, workspaceDev, tilingDev};
    }

    @Override
    protected void release() {
        backend.forget(this);
        backend.drainBeforeFree();
        for (long p : new long[] {blockTableDev, seqlensDev, tilingDev, workspaceDev}) backend.free(p);
    }

}
