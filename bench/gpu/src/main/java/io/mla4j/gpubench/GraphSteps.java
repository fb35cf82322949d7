package io.mla4j.gpubench;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.cuda.CudaBackend;
import io.mla4j.cuda.CudaEvent;
import io.mla4j.cuda.CudaGraph;
import io.mla4j.cuda.CudaPlan;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Issue 26's timings: a DeepSeek-V3 step (61 layers of attention) replayed from one CUDA graph with in-place
 * updates, against the standalone decode: the same 61 decodes of a plain plan, captured in a graph of their own
 * (the decode's GPU time without launch gaps; eager issue is reported too). Per config (b, h_q, s_k; s_q 1,
 * bf16): capture + instantiate once, then steps in which every sequence is s_k + 1 + (step % 64) tokens long
 * (growing one token a step over a page boundary, a new page from a shuffled pool, then back: the lengths average
 * s_k + 32.5, where the standalone decode is timed, so both do the same work), each {@link MlaPlan#stage}d (half
 * of them; the other half write the staging memory directly, as an engine at large batch would) and replayed,
 * synchronised each step. Printed and written to OUT/graph-steps.csv: GPU time per layer (the replay's includes
 * the step's update: copies, device check, scheduler), CPU per step, and the captures (always 1).
 * One cache serves all 61 layers (its own q and outputs per layer): the bytes each layer reads are the same.
 *
 * <pre>GraphSteps [--out DIR] [--quick]</pre>
 */
public final class GraphSteps {
    static final int LAYERS = 61;

    public static void main(String[] args) throws Exception {
        Path out = null;
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out")) out = Path.of(args[++i]);
            else if (args[i].equals("--quick")) quick = true;
            else throw new IllegalArgumentException("unknown option " + args[i]);
        }
        int[][] grid = quick ? new int[][] {{1, 16, 4096}, {16, 128, 4096}} : new int[][] {
            {1, 16, 4096}, {1, 16, 32768}, {1, 128, 4096}, {1, 128, 32768},
            {16, 16, 4096}, {16, 16, 32768}, {16, 128, 4096}, {16, 128, 32768},
            {128, 16, 4096}, {128, 16, 32768}, {128, 128, 4096}, {128, 128, 32768}};
        List<String> rows = new ArrayList<>();
        String header = "device,b,h_q,s_k,layers,steps,captures,capture_ms,eager_us_per_layer,standalone_graph_us_per_layer,"
                + "replay_us_per_layer,replay_over_standalone,update_us_per_step,cpu_stage_us,cpu_direct_us,cpu_launch_us,"
                + "status_nonzero";
        try (CudaBackend be = CudaBackend.open()) {
            String dev = be.description().split(",")[0].replace(',', ' ');
            System.out.println("graph-steps: " + be.description());
            System.out.printf("%-22s %6s %10s %10s %10s %10s %7s %9s %9s %9s %9s%n", "config", "steps", "capture ms",
                    "eager us/l",
                    "alone us/l", "replay us/l", "ratio", "update us", "stage us", "direct us", "launch us");
            for (int[] c : grid) {
                String row = run(be, dev, c[0], c[1], c[2]);
                rows.add(row);
            }
        }
        if (out != null) {
            Files.createDirectories(out);
            try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out.resolve("graph-steps.csv")))) {
                w.println(header);
                rows.forEach(w::println);
            }
        }
    }

    private static String run(CudaBackend be, String dev, int b, int hq, int sk) {
        int page = Mla.BLOCK_SIZE, maxBlocks = Mla.blocksFor(sk + 2 * page), pagesUsed = Mla.blocksFor(sk);
        int numBlocks = b * maxBlocks;
        java.util.Random r = new java.util.Random(61L * b + hq + sk);
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) ids.add(i);
        java.util.Collections.shuffle(ids, r);
        int[] lens = new int[b], table = new int[b * maxBlocks];
        Arrays.fill(table, -1);
        int next = 0;
        for (int s = 0; s < b; s++) {
            lens[s] = sk + 32;
            for (int j = 0; j <= pagesUsed; j++) table[s * maxBlocks + j] = ids.get(next++);
        }
        Tensor[] q = new Tensor[LAYERS], o = new Tensor[LAYERS], l = new Tensor[LAYERS];
        try (Arena a = Arena.ofConfined(); Tensor k = be.allocate(DType.BF16, numBlocks, page, 1, Mla.D_QK);
             CudaEvent e0 = be.newEvent(); CudaEvent e1 = be.newEvent()) {
            be.fillRandom(k, 1);
            for (int i = 0; i < LAYERS; i++) {
                q[i] = be.allocate(DType.BF16, b, 1, hq, Mla.D_QK);
                be.fillRandom(q[i], 10 + i);
                o[i] = be.allocate(DType.BF16, b, 1, hq, Mla.D_V);
                l[i] = be.allocate(DType.FP32, b, hq, 1);
            }
            PlanSpec spec = PlanSpec.of(Tensor.ofInts(a, lens, b), Tensor.ofInts(a, table, b, maxBlocks), numBlocks, hq, 1,
                    DType.BF16);
            // the standalone decode at the replays' mean length: a plain plan's 61 decodes, eagerly and from a graph of
            // their own, which each step replays right after the updatable plan's graph (paired: clocks drift)
            try (MlaPlan plain = be.plan(spec); CudaEvent e2 = be.newEvent(); CudaEvent e3 = be.newEvent();
                 CudaGraph alone = be.capture(() -> {
                     for (int i = 0; i < LAYERS; i++) be.decode(plain, q[i], k, o[i], l[i]);
                 });
                 MlaPlan p = be.updatablePlan(spec)) {
                double[] t = new double[7];
                for (int rep = 0; rep < t.length; rep++) {
                    be.synchronize();
                    e0.record();
                    for (int i = 0; i < LAYERS; i++) be.decode(plain, q[i], k, o[i], l[i]);
                    e1.record();
                    be.synchronize();
                    t[rep] = e1.elapsedMsSince(e0) * 1e3 / LAYERS;
                }
                double eager = GpuBench.median(Arrays.copyOfRange(t, 2, t.length));
                int[] l0 = lens.clone(), t0 = table.clone();
                long c0 = System.nanoTime();
                CudaGraph g = be.capture(() -> {
                    p.update(l0, t0);
                    for (int i = 0; i < LAYERS; i++) be.decode(p, q[i], k, o[i], l[i]);
                });
                double captureMs = (System.nanoTime() - c0) / 1e6;
                int captures = 1;
                // the same plan's decodes without its update: replay - bare = what the update costs a step
                CudaGraph bareGraph = be.capture(() -> {
                    for (int i = 0; i < LAYERS; i++) be.decode(p, q[i], k, o[i], l[i]);
                });
                // about 2 s of replays of each graph, 64 to 1000 steps
                int steps = (int) Math.max(64, Math.min(1000, 2e6 / Math.max(1, eager * LAYERS)));
                double[] gpu = new double[steps], base = new double[steps], bare = new double[steps];
                double[] stage = new double[steps / 2], direct = new double[steps - steps / 2], launch = new double[steps];
                MemorySegment st = ((CudaPlan) p).staging();
                int bad = 0;
                for (int step = 0; step < steps; step++) {
                    be.synchronize(); // stage's rule
                    long h0 = System.nanoTime();
                    int len = sk + 1 + step % 64; // the table already holds the page past s_k (set up above)
                    for (int s = 0; s < b; s++) lens[s] = len;
                    if (step < steps / 2) {
                        p.stage(lens, table);
                    } else { // what an engine writes itself: each seqlen (a new page id too at a boundary: here set once)
                        for (int s = 0; s < b; s++) st.setAtIndex(ValueLayout.JAVA_INT, s, lens[s]);
                    }
                    long h1 = System.nanoTime();
                    e0.record();
                    long h2 = System.nanoTime();
                    g.launch();
                    long h3 = System.nanoTime();
                    e1.record();
                    e2.record();
                    alone.launch();
                    e3.record();
                    be.synchronize();
                    gpu[step] = e1.elapsedMsSince(e0) * 1e3 / LAYERS;
                    base[step] = e3.elapsedMsSince(e2) * 1e3 / LAYERS;
                    e2.record();
                    bareGraph.launch();
                    e3.record();
                    be.synchronize();
                    bare[step] = e3.elapsedMsSince(e2) * 1e3 / LAYERS;
                    launch[step] = (h3 - h2) / 1e3;
                    if (step < steps / 2) stage[step] = (h1 - h0) / 1e3;
                    else direct[step - steps / 2] = (h1 - h0) / 1e3;
                }
                bad += p.status() != 0 ? 1 : 0;
                g.close();
                bareGraph.close();
                double replay = GpuBench.median(Arrays.copyOfRange(gpu, 2, steps));
                double standalone = GpuBench.median(Arrays.copyOfRange(base, 2, steps));
                double updateUs = (replay - GpuBench.median(Arrays.copyOfRange(bare, 2, steps))) * LAYERS;
                String cfg = "b=" + b + " h_q=" + hq + " s_k=" + sk;
                double ms = median(stage), md = median(direct), ml = median(launch);
                System.out.printf("%-22s %6d %10.2f %10.2f %10.2f %10.2f %7.3f %9.1f %9.2f %9.2f %9.2f%n", cfg, steps, captureMs,
                        eager, standalone, replay, replay / standalone, updateUs, ms, md, ml);
                return String.join(",", dev, "" + b, "" + hq, "" + sk, "" + LAYERS, "" + steps, "" + captures,
                        fmt(captureMs), fmt(eager), fmt(standalone), fmt(replay), String.format("%.4f", replay / standalone),
                        fmt(updateUs), fmt(ms),
                        fmt(md), fmt(ml), "" + bad);
            }
        } finally {
            for (Tensor[] ts : new Tensor[][] {q, o, l}) for (Tensor x : ts) if (x != null) x.close();
        }
    }

    private static double median(double[] v) { return v.length == 0 ? Double.NaN : GpuBench.median(v); }

    private static String fmt(double v) { return String.format("%.3f", v); }
}
