package io.mla4j.example.engine;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.cuda.CudaBackend;
import io.mla4j.cuda.CudaGraph;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;

/**
 * A DeepSeek-V3-shaped decode loop, attention only: {@code layers} MLA layers, each with its own cache region
 * inside one allocation the engine owns, a {@link BlockAllocator} growing every sequence by one token a step, one
 * updatable plan for the whole run ({@link MlaBackend#updatablePlan}: each step's seqlens and block table go in with
 * {@link MlaPlan#update}, all layers share it). On CUDA the step (the update and every layer's decode) is captured
 * in one graph at the first step and replayed every step after {@link MlaPlan#stage}: never captured again. A
 * backend without updatable plans (ascend) gets a plan per step. Random weights stand in for the projections: each
 * layer's q and the new token's latent come from the sequence's hidden state through that layer's weights, and
 * the last layer's output makes the next step's hidden state. The projections between layers are not modelled,
 * so a step's decodes run back to back.
 */
final class Engine implements AutoCloseable {

    /** The loop's shape. {@code context}: tokens each sequence holds before the first step. */
    record Config(int layers, int batch, int heads, int context, int steps, DType dtype, int hidden, long seed) {
        Config {
            if (layers < 1 || batch < 1 || heads < 1 || context < 0 || steps < 1 || hidden < 1) {
                throw new IllegalArgumentException("layers, batch, heads, steps and hidden must be >= 1, context >= 0");
            }
        }

        /** Pages per sequence at the end of the run. */
        int pagesPerSequence() { return Mla.blocksFor(context + steps); }

        /** Pages in each layer's region: every sequence's final size, plus one spare page each. */
        int pagesPerLayer() { return batch * (pagesPerSequence() + 1); }

        long cacheBytes() { return (long) layers * pagesPerLayer() * Mla.BLOCK_SIZE * Mla.D_QK * dtype.byteSize(); }
    }

    /** One step's timings, in nanoseconds: the whole step, and plan + decodes + synchronize within it. */
    record StepTime(long stepNanos, long attentionNanos) {}

    private static final long PAGE_ELEMS = (long) Mla.BLOCK_SIZE * Mla.D_QK;

    private final MlaBackend be;
    private final Config c;
    private final Arena arena = Arena.ofShared(); // host tables and staging: read by the plan on this thread only
    private final BlockAllocator pages;
    private final Tensor cacheAll;                // [layers, pages, 64, 1, 576]: the one engine-owned allocation
    private final Tensor[] cache;                 // per layer: a view [pages, 64, 1, 576] into cacheAll
    private final Tensor[] q;                     // per layer [b, 1, h_q, 576] in the backend's memory
    private final Tensor out, lse;                // the decodes' outputs (each layer overwrites them; the last one counts)
    private final Tensor seqlens, table;          // host, rewritten in place every step
    private final Tensor qStage, kvStage, outHost;
    private final float[][] x;                    // hidden state per sequence
    private final float[][] wq, wkv, gain;        // per layer: q [576][H], latent [576][H], per-head gain [h_q][H]
    private final float[] wo;                     // next hidden from the last layer's head-0 output [H][512]
    private int stepsDone;
    private MlaPlan plan;      // the run's updatable plan, made at the first step (null: a plan per step)
    private CudaGraph graph;   // CUDA: the step captured once
    private boolean perStepPlans;
    private int captures;

    Engine(MlaBackend be, Config c) {
        this.be = be;
        this.c = c;
        be.checkSupported(c.heads(), 1, c.dtype());
        int b = c.batch(), hq = c.heads(), h = c.hidden();
        pages = new BlockAllocator(c.pagesPerLayer(), b, c.pagesPerSequence(), c.seed());
        cacheAll = be.allocate(c.dtype(), c.layers(), c.pagesPerLayer(), Mla.BLOCK_SIZE, Mla.H_KV, Mla.D_QK);
        long layerBytes = cacheAll.byteSize() / c.layers();
        cache = new Tensor[c.layers()];
        q = new Tensor[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            cache[l] = view(cacheAll, l * layerBytes, c.pagesPerLayer(), Mla.BLOCK_SIZE, Mla.H_KV, Mla.D_QK);
            q[l] = be.allocate(c.dtype(), b, 1, hq, Mla.D_QK);
        }
        out = be.allocate(c.dtype(), b, 1, hq, Mla.D_V);
        lse = be.allocate(DType.FP32, b, hq, 1);
        seqlens = Tensor.allocate(arena, DType.INT32, b);
        table = Tensor.allocate(arena, DType.INT32, b, c.pagesPerSequence());
        qStage = Tensor.allocate(arena, c.dtype(), b, 1, hq, Mla.D_QK);
        kvStage = Tensor.allocate(arena, c.dtype(), Mla.D_QK);
        outHost = Tensor.allocate(arena, c.dtype(), out.shape());
        Random rnd = new Random(c.seed());
        x = new float[b][h];
        for (float[] row : x) for (int k = 0; k < h; k++) row[k] = (float) rnd.nextGaussian();
        float norm = (float) (1 / Math.sqrt(h));
        wq = new float[c.layers()][];
        wkv = new float[c.layers()][];
        gain = new float[c.layers()][];
        for (int l = 0; l < c.layers(); l++) {
            wq[l] = gaussian(rnd, Mla.D_QK * h, norm);
            wkv[l] = gaussian(rnd, Mla.D_QK * h, norm);
            gain[l] = gaussian(rnd, hq * h, 1f);
        }
        wo = gaussian(rnd, h * Mla.D_V, (float) (1 / Math.sqrt(Mla.D_V)));
        fillCache(rnd.nextLong());
        for (int s = 0; s < b; s++) for (int t = 0; t < c.context(); t++) pages.appendToken(s); // the prompt, "prefilled"
    }

    private static float[] gaussian(Random rnd, int n, float scale) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) rnd.nextGaussian() * scale;
        return w;
    }

    /** A tensor over bytes [offset, offset + its size) of {@code whole}, in the same memory. */
    private Tensor view(Tensor whole, long offset, long... shape) {
        if (whole.isHost()) {
            return Tensor.wrap(whole.segment().asSlice(offset, Tensor.byteSize(whole.dtype(), shape)), whole.dtype(), shape);
        }
        return Tensor.onDevice(whole.location(), whole.address() + offset, whole.dtype(), shape, null);
    }

    /** Stands in for prefill: every page of every layer gets values from a random pattern, page by page. */
    private void fillCache(long seed) {
        int patternPages = 16;
        Random rnd = new Random(seed);
        float[] v = new float[(int) (patternPages * PAGE_ELEMS)];
        for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
        Tensor pattern = Tensor.allocate(arena, c.dtype(), v.length);
        pattern.copyFrom(v);
        long pageBytes = PAGE_ELEMS * c.dtype().byteSize(), total = (long) c.layers() * c.pagesPerLayer();
        for (long p = 0; p < total; p += patternPages) {
            long n = Math.min(patternPages, total - p);
            Tensor src = n == patternPages ? pattern : view(pattern, 0, n * PAGE_ELEMS);
            be.copy(src, view(cacheAll, p * pageBytes, n * PAGE_ELEMS));
        }
    }

    /** The spec of the next step after its tokens are appended; for {@link MlaBackend#warmUp}. */
    PlanSpec currentSpec() {
        pages.writeTo(seqlens, table);
        return PlanSpec.of(seqlens, table, c.pagesPerLayer(), c.heads(), 1, c.dtype());
    }

    /** One decode step of every sequence: one new token each, all layers. */
    StepTime step() {
        long t0 = System.nanoTime();
        int b = c.batch(), hq = c.heads(), h = c.hidden();
        int[] pos = new int[b];
        for (int s = 0; s < b; s++) pos[s] = pages.appendToken(s);
        float[] row = new float[Mla.D_QK];
        long tokenBytes = (long) Mla.D_QK * c.dtype().byteSize();
        for (int l = 0; l < c.layers(); l++) {
            for (int s = 0; s < b; s++) {
                project(wkv[l], x[s], null, row);   // the new token's latent (K and V: V is its first 512 dims)
                kvStage.copyFrom(row);
                long token = (long) pages.pageOf(s, pos[s]) * Mla.BLOCK_SIZE + pos[s] % Mla.BLOCK_SIZE;
                be.copy(kvStage, view(cache[l], token * tokenBytes, Mla.D_QK));
                for (int hd = 0; hd < hq; hd++) {
                    project(wq[l], x[s], gain[l], hd, row);
                    for (int d = 0; d < Mla.D_QK; d++) qStage.setFloat(((long) s * hq + hd) * Mla.D_QK + d, row[d]);
                }
            }
            be.copy(qStage, q[l]);
        }
        long t1 = System.nanoTime();
        attention();
        long t2 = System.nanoTime();
        be.copy(out, outHost);
        nextHidden();
        stepsDone++;
        return new StepTime(System.nanoTime() - t0, t2 - t1);
    }

    /** This step's attention, every layer: the run's updatable plan updated (CUDA: staged and its graph replayed). */
    private void attention() {
        PlanSpec spec = currentSpec();
        if (plan == null && !perStepPlans) {
            try {
                plan = be.updatablePlan(spec);
            } catch (UnsupportedOperationException e) {
                perStepPlans = true; // e.g. ascend: a plan per step
            }
            if (plan != null && be instanceof CudaBackend cuda) {
                MlaPlan p = plan;
                int[] lens = spec.seqlens().toIntArray(), tab = spec.blockTable().toIntArray();
                graph = cuda.capture(() -> {
                    p.update(lens, tab);
                    decodeLayers(p);
                });
                captures++;
            }
        }
        if (perStepPlans) {
            try (MlaPlan p = be.plan(spec)) {
                decodeLayers(p);
                be.synchronize();
            }
            return;
        }
        int[] lens = spec.seqlens().toIntArray(), tab = spec.blockTable().toIntArray();
        if (graph != null) {
            plan.stage(lens, tab); // the previous step ended with synchronize: no replay reads the staging memory now
            graph.launch();
        } else {
            plan.update(lens, tab);
            decodeLayers(plan);
        }
        be.synchronize();
    }

    /** Graph captures so far: 1 on CUDA whatever the number of steps, else 0. */
    int captures() { return captures; }

    /** How the run plans its steps, for the log. */
    String planMode() {
        return perStepPlans ? "a plan per step" : graph != null ? "one updatable plan, one CUDA graph replayed every step"
                : "one updatable plan, updated every step";
    }

    private void decodeLayers(MlaPlan plan) {
        for (int l = 0; l < c.layers(); l++) be.decode(plan, q[l], cache[l], out, lse);
    }

    /** dst[d] = sum_k w[d][k] * x[k], times gain[head][k] when given. */
    private static void project(float[] w, float[] x, float[] gain, int head, float[] dst) {
        int h = x.length;
        for (int d = 0; d < dst.length; d++) {
            float acc = 0;
            for (int k = 0; k < h; k++) acc += w[d * h + k] * x[k] * (gain == null ? 1f : gain[head * h + k]);
            dst[d] = acc;
        }
    }

    private static void project(float[] w, float[] x, float[] gain, float[] dst) { project(w, x, gain, 0, dst); }

    /** The next token's hidden state: the last layer's head-0 output through {@code wo}, kept bounded by tanh. */
    private void nextHidden() {
        int hq = c.heads(), h = c.hidden();
        for (int s = 0; s < c.batch(); s++) {
            for (int k = 0; k < h; k++) {
                float acc = 0;
                long base = (long) s * hq * Mla.D_V;
                for (int j = 0; j < Mla.D_V; j++) acc += wo[k * Mla.D_V + j] * outHost.getFloat(base + j);
                x[s][k] = (float) Math.tanh(0.5 * x[s][k] + 4 * acc);
            }
        }
    }

    int stepsDone() { return stepsDone; }
    BlockAllocator pages() { return pages; }
    Config config() { return c; }

    /** The last step's last-layer output as floats (o, then lse), for checks. */
    float[] lastOutput() { return outHost.toFloatArray(); }

    /**
     * Recomputes the last step's last layer with the fp64 oracle on host copies of its inputs; returns
     * {relative L2 error of o, max |lse error|}.
     */
    double[] checkLastLayer() {
        int l = c.layers() - 1;
        try (ReferenceBackend ref = new ReferenceBackend();
             Tensor hq = Tensor.allocate(c.dtype(), q[l].shape()); Tensor hc = Tensor.allocate(c.dtype(), cache[l].shape());
             Tensor hl = Tensor.allocate(DType.FP32, lse.shape())) {
            be.copy(q[l], hq);
            be.copy(cache[l], hc);
            be.copy(lse, hl);
            pages.writeTo(seqlens, table);
            try (MlaPlan plan = ref.plan(PlanSpec.of(seqlens, table, c.pagesPerLayer(), c.heads(), 1, c.dtype()))) {
                ReferenceBackend.Result want = ReferenceBackend.compute(plan, hq, hc);
                float[] o = outHost.toFloatArray();
                double num = 0, den = 0, lseErr = 0;
                for (int i = 0; i < o.length; i++) {
                    num += (o[i] - want.o()[i]) * (o[i] - want.o()[i]);
                    den += want.o()[i] * want.o()[i];
                }
                for (int i = 0; i < want.lse().length; i++) lseErr = Math.max(lseErr, Math.abs(hl.getFloat(i) - want.lse()[i]));
                return new double[] {Math.sqrt(num / Math.max(den, Double.MIN_NORMAL)), lseErr};
            }
        }
    }

    @Override
    public void close() {
        if (graph != null) graph.close();
        if (plan != null) plan.close();
        for (Tensor t : q) if (t != null) t.close();
        out.close();
        lse.close();
        cacheAll.close();
        arena.close();
    }

    /** Bytes of the one cache allocation. */
    long cacheBytes() { return cacheAll.byteSize(); }
}
