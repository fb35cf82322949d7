package io.mla4j.cpu;

import io.mla4j.Geometry;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;

/**
 * The CPU backend's plan: the schedule plus everything a decode writes, sized once here so a call
 * allocates nothing: partial outputs and LSEs ({@code totalSplits x rows x d_v} and {@code totalSplits x
 * rows} floats) and one {@link Scratch} per pool worker.
 */
final class CpuPlan extends MlaPlan {
    private final int rows;
    private final float[] partialO;
    private final float[] partialLse;
    private final Scratch[] scratch;

    CpuPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable, int workers) {
        this(backend, spec, schedule, seqlens, blockTable, workers, false);
    }

    /** updatable: sized for any step of the capacity, b + parts partial slots (SplitSchedule's bound on the splits). */
    CpuPlan(MlaBackend backend, PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable, int workers,
            boolean updatable) {
        super(backend, spec, schedule, seqlens, blockTable, updatable);
        rows = spec.rows();
        Geometry g = spec.geometry();
        int slots = updatable ? seqlens.length + schedule.numParts() : schedule.totalSplits();
        long partials = (long) slots * rows * g.dV();
        int rowsPadded = (rows + Convert.L - 1) / Convert.L * Convert.L;
        if (partials > Integer.MAX_VALUE - 16 || (long) rowsPadded * g.dQk() > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("numHeads: h_q*s_q = " + rows + " rows over " + slots
                    + " splits need " + partials + " partial floats; the cpu backend holds at most 2^31 per array");
        }
        partialO = new float[(int) partials];
        partialLse = new float[slots * rows];
        scratch = new Scratch[workers];
        for (int i = 0; i < workers; i++) scratch[i] = new Scratch(rowsPadded, g);
    }

    /** Packed query rows per sequence, s_q * h_q. */
    int rows() { return rows; }
    float[] partialO() { return partialO; }
    float[] partialLse() { return partialLse; }
    Scratch scratch(int worker) { return scratch[worker]; }
}
