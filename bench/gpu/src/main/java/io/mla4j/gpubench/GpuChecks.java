package io.mla4j.gpubench;

import io.mla4j.BackendUnavailableException;
import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import io.mla4j.conformance.Case;
import io.mla4j.conformance.Conformance;
import io.mla4j.conformance.Oracle;
import io.mla4j.conformance.Report;
import io.mla4j.conformance.Workload;
import io.mla4j.cuda.CublasBaseline;
import io.mla4j.cuda.CudaBackend;
import io.mla4j.cuda.CudaEvent;
import io.mla4j.cuda.CudaGraph;
import io.mla4j.cuda.CudaPlan;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;

/**
 * The device-side checks beyond the conformance matrix (the GPU machine has no Maven/JUnit; this main
 * is what scripts/gpu-test.sh runs): memory returns to its baseline, the GPU scheduler equals
 * {@link SplitSchedule}, graph replay equals eager decode, a view over caller-owned memory decodes like
 * an owned tensor, a backend on a caller's stream decodes like the owner, the cuBLAS baseline passes the harness's tolerance rule. Exits 1 on any failure.
 *
 * <pre>GpuChecks [--cases N] [--graph-steps N]   (only the first N small harness cases, or N graph-replayed steps at
 * b = 3: for compute-sanitizer)</pre>
 */
public final class GpuChecks {
    private static int failures;

    public static void main(String[] args) {
        int cases = -1, graphSteps = -1;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--cases")) cases = Integer.parseInt(args[++i]);
            if (args[i].equals("--graph-steps")) graphSteps = Integer.parseInt(args[++i]);
        }
        try (CudaBackend be = CudaBackend.open()) {
            System.out.println("gpu-checks: " + be.description() + ", seed " + Conformance.baseSeed());
            if (cases >= 0 || graphSteps >= 0) {
                if (cases > 0) smallCases(be, cases);
                if (graphSteps > 0) graphSteps(be, graphSteps, 3, 16, 1);
            } else {
                schedule(be);
                graphAndViews(be);
                callerStreamAndEvents(be);
                graphSteps(be, 1000, 8, 16, 1);
                graphSteps(be, 200, 3, 64, 2);
                closeWithOpenPlan();
                baseline(be);
                fp8Codes(be);
                memoryBaseline(be);
            }
        }
        System.out.println("gpu-checks: " + (failures == 0 ? "all passed" : failures + " FAILED"));
        if (failures > 0) System.exit(1);
    }

    private static void check(boolean ok, String what) {
        System.out.println((ok ? "ok   " : "FAIL ") + what);
        if (!ok) failures++;
    }

    /** The first n cases of the standard matrix that have few rows (kept small for the sanitizers). */
    static void smallCases(CudaBackend be, int n) {
        List<Case> all = Conformance.standardCases().stream().filter(c -> c.numHeads() * c.queryLen() <= 64).limit(n).toList();
        for (int i = 0; i < all.size(); i++) {
            Report r = Conformance.run(be, all.get(i), Conformance.seedOf(i), Oracle.REFERENCE);
            check(r.passed(), "case " + r);
        }
    }

    /**
     * Every e4m3 code the fp8 kernel widens, exactly: one cached token holding codes 0..255 in turn (the NaN codes
     * replaced by +-448), s_k = 1, so softmax weights it 1 and o = its V part, which bf16 and fp16 hold exactly; with
     * kvScale 1 o must equal Fp8.toFloat code by code (subnormal codes included: the bf16 widening multiplies a bf16
     * subnormal by 2^120).
     */
    static void fp8Codes(CudaBackend be) {
        io.mla4j.Geometry g = io.mla4j.Geometry.DEEPSEEK.withFormat(io.mla4j.CacheFormat.FP8_E4M3);
        try {
            be.checkSupported(g);
        } catch (IllegalArgumentException e) {
            System.out.println("gpu-checks: fp8 codes skipped: " + e.getMessage());
            return;
        }
        for (DType dt : new DType[] {DType.BF16, DType.FP16}) {
            try (Arena a = Arena.ofConfined();
                 Tensor kh = Tensor.allocate(a, DType.FP8_E4M3, g.cacheShape(1));
                 Tensor qh = Tensor.allocate(a, dt, 1, 1, 1, Mla.D_QK)) {
                byte[] codes = new byte[Mla.D_QK];
                for (int d = 0; d < Mla.D_QK; d++) {
                    int c = d & 0xFF;
                    codes[d] = (byte) ((c & 0x7F) == 0x7F ? c - 1 : c);
                }
                for (int t = 0; t < g.pageSize(); t++) java.lang.foreign.MemorySegment.copy(codes, 0, kh.segment(),
                        java.lang.foreign.ValueLayout.JAVA_BYTE, (long) t * Mla.D_QK, Mla.D_QK);
                for (int d = 0; d < Mla.D_QK; d++) qh.setFloat(d, 0.01f * ((d % 7) - 3));
                try (Tensor k = be.allocate(DType.FP8_E4M3, g.cacheShape(1)); Tensor q = be.allocate(dt, 1, 1, 1, Mla.D_QK);
                     Tensor o = be.allocate(dt, 1, 1, 1, Mla.D_V); Tensor l = be.allocate(DType.FP32, 1, 1, 1);
                     MlaPlan plan = be.plan(io.mla4j.PlanSpec.of(Tensor.ofInts(a, new int[] {1}, 1), Tensor.ofInts(a, new int[] {0}, 1, 1),
                             1, 1, 1, dt, g))) {
                    be.copy(kh, k);
                    be.copy(qh, q);
                    be.decode(plan, q, k, 1f, o, l);
                    be.synchronize();
                    Tensor oh = Tensor.allocate(a, dt, 1, 1, 1, Mla.D_V);
                    be.copy(o, oh);
                    int bad = 0;
                    String first = "";
                    for (int d = 0; d < Mla.D_V; d++) {
                        float want = io.mla4j.Fp8.toFloat(codes[d]), got = oh.getFloat(d);
                        if (Float.floatToIntBits(want) != Float.floatToIntBits(got) && !(want == 0 && got == 0)) {
                            if (bad++ == 0) first = String.format(" (first: code 0x%02x gave %s, want %s)", codes[d] & 0xFF, got, want);
                        }
                    }
                    check(bad == 0, "fp8 kernel widens all 254 finite e4m3 codes exactly, " + dt + ": " + bad + " wrong" + first);
                }
            }
        }
    }

    static void schedule(CudaBackend be) {
        java.util.Random r = new java.util.Random(5);
        int[] many = new int[128];
        for (int i = 0; i < many.length; i++) many[i] = r.nextInt(40000);
        int[][] lens = {{1}, {0, 65, 2049, 1, 63, 64}, {3001}, many, {65536}};
        for (int[] l : lens) {
            for (int hq : new int[] {16, 128}) {
                // no cache data needed: the plan reads only seqlens and the block table
                int maxBlocks = 1, total = 0;
                for (int v : l) {
                    maxBlocks = Math.max(maxBlocks, Mla.blocksFor(v));
                    total += Mla.blocksFor(v);
                }
                int[] table = new int[l.length * maxBlocks];
                Arrays.fill(table, -1);
                int next = 0;
                for (int s = 0; s < l.length; s++)
                    for (int j = 0; j < Mla.blocksFor(l[s]); j++) table[s * maxBlocks + j] = next++;
                try (Arena a = Arena.ofConfined();
                     MlaPlan plan = be.plan(io.mla4j.PlanSpec.of(Tensor.ofInts(a, l, l.length), Tensor.ofInts(a, table, l.length, maxBlocks),
                             Math.max(1, total), hq, 1, DType.BF16))) {
                    int[][] dev = ((CudaPlan) plan).deviceSchedule();
                    SplitSchedule s = plan.schedule();
                    boolean ok = Arrays.equals(dev[0], s.metadata()) && Arrays.equals(dev[1], s.splitOffsets());
                    check(ok, "GPU scheduler == SplitSchedule for b=" + l.length + " h_q=" + hq + " parts=" + s.numParts() + " F=" + s.splitOverhead()
                            + " splits=" + s.totalSplits() + (ok ? "" : ": gpu " + Arrays.toString(dev[1]) + " host " + Arrays.toString(s.splitOffsets())));
                }
            }
        }
    }

    /** Eager vs graph-replayed decode, and a decode through views of one caller-owned buffer: bitwise equal. */
    static void graphAndViews(CudaBackend be) {
        Case c = new Case(new int[] {65, 0, 2049, 1, 700}, 16, 2, DType.BF16, true);
        try (Workload w = new Workload(c, 42); MlaPlan plan = be.plan(w.spec());
             Tensor q = be.allocate(c.dtype(), w.q.shape()); Tensor k = be.allocate(c.dtype(), w.kCache.shape());
             Tensor o1 = be.allocate(c.dtype(), c.batch(), c.queryLen(), c.numHeads(), Mla.D_V);
             Tensor l1 = be.allocate(DType.FP32, c.batch(), c.numHeads(), c.queryLen());
             Tensor o2 = be.allocate(c.dtype(), o1.shape()); Tensor l2 = be.allocate(DType.FP32, l1.shape());
             Tensor arena = be.allocate(DType.BF16, q.numel() + k.numel() + 64)) {
            be.copy(w.q, q);
            be.copy(w.kCache, k);
            GpuBench.poison(be, o1, l1);
            GpuBench.poison(be, o2, l2);
            be.decode(plan, q, k, o1, l1);
            try (CudaGraph g = be.capture(() -> be.decode(plan, q, k, o2, l2))) {
                g.launch();
                g.launch();
            }
            be.synchronize();
            check(sameBytes(be, o1, o2) && sameBytes(be, l1, l2), "graph replay == eager decode (bitwise)");

            // views over one buffer "owned by an engine": q at offset 0, the cache after it (256-byte aligned)
            long qBytes = (q.byteSize() + 255) / 256 * 256;
            Tensor qv = be.wrap(arena.address(), c.dtype(), q.shape());
            Tensor kv = be.wrap(arena.address() + qBytes, c.dtype(), k.shape());
            be.copy(q, qv);
            be.copy(k, kv);
            GpuBench.poison(be, o2, l2);
            be.decode(plan, qv, kv, o2, l2);
            be.synchronize();
            qv.close();
            kv.close();
            check(sameBytes(be, o1, o2) && sameBytes(be, l1, l2), "decode through views of caller memory == owned tensors");
            try (Arena a = Arena.ofConfined()) {
                Tensor oh = Tensor.allocate(a, c.dtype(), o1.shape()), lh = Tensor.allocate(a, DType.FP32, l1.shape());
                be.copy(o1, oh);
                be.copy(l1, lh);
                Report r = Conformance.compare(c, 42, Oracle.REFERENCE.compute(w), oh.toFloatArray(), lh.toFloatArray());
                check(r.passed(), "that decode vs the oracle: " + r);
            }
        }
    }

    /**
     * The JCuda-owned resources on a caller's stream (a CUstream handle wrapped for JCuda): a backend opened with
     * withStream on another backend's stream decodes the same bytes, its events time the decode, its memset
     * writes; and a kernel image that cannot be read makes opening throw BackendUnavailableException.
     */
    static void callerStreamAndEvents(CudaBackend be) {
        Case c = new Case(new int[] {65, 0, 2049, 1, 700}, 16, 2, DType.BF16, true);
        try (CudaBackend guest = CudaBackend.withStream(0, be.stream()); Workload w = new Workload(c, 43);
             MlaPlan p1 = be.plan(w.spec()); MlaPlan p2 = guest.plan(w.spec());
             Tensor q = be.allocate(c.dtype(), w.q.shape()); Tensor k = be.allocate(c.dtype(), w.kCache.shape());
             Tensor o1 = be.allocate(c.dtype(), c.batch(), c.queryLen(), c.numHeads(), Mla.D_V);
             Tensor l1 = be.allocate(DType.FP32, c.batch(), c.numHeads(), c.queryLen());
             Tensor o2 = be.allocate(c.dtype(), o1.shape()); Tensor l2 = be.allocate(DType.FP32, l1.shape())) {
            check(guest.stream() == be.stream() && guest.kernelVariant().equals(be.kernelVariant()),
                    "withStream: same CUstream and kernel (" + guest.kernelVariant() + ")");
            be.copy(w.q, q);
            be.copy(w.kCache, k);
            GpuBench.poison(be, o1, l1);
            GpuBench.poison(be, o2, l2);
            be.decode(p1, q, k, o1, l1);
            float ms;
            try (CudaEvent e0 = guest.newEvent(); CudaEvent e1 = guest.newEvent()) {
                e0.record();
                guest.decode(p2, q, k, o2, l2);
                e1.record();
                ms = e1.elapsedMsSince(e0);
            }
            guest.synchronize();
            check(ms > 0 && ms < 1000, "events on the caller's stream time one decode: " + ms + " ms");
            check(sameBytes(be, o1, o2) && sameBytes(be, l1, l2), "decode on a caller's stream (withStream) == the owning backend's (bitwise)");
            guest.fillWords(l2, 0x7fc00000);
            guest.synchronize();
            try (Arena a = Arena.ofConfined()) {
                Tensor lh = Tensor.allocate(a, DType.FP32, l2.shape());
                guest.copy(l2, lh);
                boolean allNaN = true;
                for (long i = 0; i < lh.numel(); i++) allNaN &= Float.isNaN(lh.getFloat(i));
                check(allNaN, "fillWords on the caller's stream wrote every word");
            }
        }
        String prior = System.getProperty("mla4j.cuda.fatbin");
        System.setProperty("mla4j.cuda.fatbin", "/nonexistent/mla4j_kernels.fatbin");
        try (CudaBackend x = CudaBackend.open()) {
            check(false, "a backend opened without a readable kernel image: " + x.description());
        } catch (BackendUnavailableException e) {
            check(true, "an unreadable kernel image makes open throw BackendUnavailableException: " + e.reason());
        } finally {
            if (prior == null) System.clearProperty("mla4j.cuda.fatbin");
            else System.setProperty("mla4j.cuda.fatbin", prior);
        }
    }

    static void baseline(CudaBackend be) {
        CublasBaseline base;
        try {
            base = new CublasBaseline(be);
        } catch (RuntimeException | LinkageError e) {
            check(false, "cuBLAS baseline could not start: " + e.getMessage());
            return;
        }
        try (base) {
            Case[] cases = {new Case(new int[] {65, 0, 2049, 1, 63, 64}, 16, 1, DType.BF16, false),
                    new Case(new int[] {2, 3, 0, 70}, 16, 4, DType.BF16, true),
                    new Case(new int[] {1, 64, 130, 7}, 128, 2, DType.FP16, true)};
            for (int i = 0; i < cases.length; i++) {
                Case c = cases[i];
                try (Workload w = new Workload(c, 100 + i); MlaPlan plan = be.plan(w.spec());
                     Tensor q = be.allocate(c.dtype(), w.q.shape()); Tensor k = be.allocate(c.dtype(), w.kCache.shape());
                     Tensor o = be.allocate(c.dtype(), c.batch(), c.queryLen(), c.numHeads(), Mla.D_V);
                     Tensor l = be.allocate(DType.FP32, c.batch(), c.numHeads(), c.queryLen()); Arena a = Arena.ofConfined()) {
                    be.copy(w.q, q);
                    be.copy(w.kCache, k);
                    GpuBench.poison(be, o, l);
                    base.decode(plan, q, k, o, l);
                    be.synchronize();
                    Tensor oh = Tensor.allocate(a, c.dtype(), o.shape()), lh = Tensor.allocate(a, DType.FP32, l.shape());
                    be.copy(o, oh);
                    be.copy(l, lh);
                    Report r = Conformance.compare(c, 100 + i, Oracle.REFERENCE.compute(w), oh.toFloatArray(), lh.toFloatArray());
                    check(r.passed(), "cuBLAS baseline " + r);
                }
            }
        }
    }

    /** Allocate, plan, decode, capture, free: free device memory must return exactly to where it started. */
    static void memoryBaseline(CudaBackend be) {
        be.synchronize();
        long before = 0, liveBefore = 0;
        for (int round = 0; round < 4; round++) {
            if (round == 1) { // round 0 warms up: lazily loaded kernel code and driver pools stay resident
                be.trimWorkspace(); // plan workspaces are pooled for the next step: free them to compare
                be.synchronize();
                before = be.memoryInfo()[0];
                liveBefore = be.liveBuffers();
            }
            Case c = new Case(new int[] {4000, 17, 900}, 64, 2, DType.BF16, true);
            try (Workload w = new Workload(c, round); MlaPlan plan = be.plan(w.spec());
                 Tensor q = be.allocate(c.dtype(), w.q.shape()); Tensor k = be.allocate(c.dtype(), w.kCache.shape());
                 Tensor o = be.allocate(c.dtype(), c.batch(), c.queryLen(), c.numHeads(), Mla.D_V);
                 Tensor l = be.allocate(DType.FP32, c.batch(), c.numHeads(), c.queryLen());
                 Tensor big = be.allocate(DType.BF16, 256L << 20)) { // 512 MiB, so a leak shows in cuMemGetInfo
                be.copy(w.q, q);
                be.copy(w.kCache, k);
                be.decode(plan, q, k, o, l);
                try (CudaGraph g = be.capture(() -> be.decode(plan, q, k, o, l))) {
                    g.launch();
                }
                be.synchronize();
            }
        }
        long pooled = be.pooledWorkspaceBytes();
        check(pooled > 0, "closed plans' workspaces were pooled for reuse (" + pooled + " bytes)");
        be.trimWorkspace();
        be.synchronize();
        long after = be.memoryInfo()[0];
        check(after == before && be.liveBuffers() == liveBefore, "device memory back to baseline after 3 rounds (after a warm-up round): free "
                + before + " -> " + after + " bytes, live buffers " + liveBefore + " -> " + be.liveBuffers());
    }

    /**
     * Issue 26's graph-replayable step: one updatable plan, its update and {@code layers} decodes captured once in a
     * graph, then {@code steps} steps of growing sequences (new pages from a shuffled free list; a sequence that would
     * pass the capacity restarts empty, as a finished request replaced by a new one), each staged and replayed. Every
     * layer's o and lse must equal, bitwise, an eager decode of the same step on a second updatable plan; layer 0 is
     * compared with the fp64 oracle four times. Then the device check: a seqlen beyond the capacity, and a block id
     * out of range, written into the staging memory past the host checks, set the status bits and give o = 0,
     * LSE = +inf without reading the cache (gpu-test.sh runs a short version under memcheck); a valid step after
     * them replays correctly again.
     */
    static void graphSteps(CudaBackend be, int steps, int b, int hq, int sq) {
        final int layers = 3, page = Mla.BLOCK_SIZE, maxBlocks = 40, numBlocks = b * maxBlocks + 8, cap = maxBlocks * page;
        DType dt = DType.BF16;
        java.util.Random r = new java.util.Random(26L * b + hq);
        int[] lens = new int[b], table = new int[b * maxBlocks];
        Arrays.fill(table, -1);
        java.util.ArrayDeque<Integer> free = new java.util.ArrayDeque<>();
        List<Integer> ids = new java.util.ArrayList<>();
        for (int i = 0; i < numBlocks; i++) ids.add(i);
        java.util.Collections.shuffle(ids, r);
        free.addAll(ids);
        for (int s = 0; s < b; s++) grow(lens, table, free, s, s == 1 ? 0 : 1 + r.nextInt(900), maxBlocks);
        String what = "graph steps b=" + b + " h_q=" + hq + " s_q=" + sq + ", " + layers + " layers";
        try (Arena a = Arena.ofConfined()) {
            Tensor[] q = new Tensor[layers], k = new Tensor[layers], o1 = new Tensor[layers], l1 = new Tensor[layers];
            Tensor[] o2 = new Tensor[layers], l2 = new Tensor[layers];
            for (int i = 0; i < layers; i++) {
                q[i] = be.allocate(dt, b, sq, hq, Mla.D_QK);
                k[i] = be.allocate(dt, numBlocks, page, 1, Mla.D_QK);
                be.fillRandom(q[i], 2600 + 2L * i);
                be.fillRandom(k[i], 2601 + 2L * i);
                o1[i] = be.allocate(dt, b, sq, hq, Mla.D_V);
                l1[i] = be.allocate(DType.FP32, b, hq, sq);
                o2[i] = be.allocate(dt, b, sq, hq, Mla.D_V);
                l2[i] = be.allocate(DType.FP32, b, hq, sq);
            }
            io.mla4j.PlanSpec spec = io.mla4j.PlanSpec.of(Tensor.ofInts(a, lens, b), Tensor.ofInts(a, table, b, maxBlocks),
                    numBlocks, hq, sq, dt);
            try (MlaPlan pg = be.updatablePlan(spec); MlaPlan pe = be.updatablePlan(spec)) {
                int[] l0 = lens.clone(), t0 = table.clone();
                long t = System.nanoTime();
                CudaGraph g = be.capture(() -> {
                    pg.update(l0, t0);
                    for (int i = 0; i < layers; i++) be.decode(pg, q[i], k[i], o1[i], l1[i]);
                });
                System.out.printf("  %s: captured and instantiated once in %.2f ms%n", what, (System.nanoTime() - t) / 1e6);
                int mismatches = 0, firstBad = -1, oracle = 0, oracleBad = 0;
                for (int step = 0; step < steps; step++) {
                    for (int s = 0; s < b; s++) grow(lens, table, free, s, 1 + (s % 3) * 5, maxBlocks);
                    be.synchronize(); // stage's rule: the previous replay has finished
                    pg.stage(lens, table);
                    for (int i = 0; i < layers; i++) GpuBench.poison(be, o1[i], l1[i]);
                    g.launch();
                    pe.update(lens, table);
                    for (int i = 0; i < layers; i++) be.decode(pe, q[i], k[i], o2[i], l2[i]);
                    be.synchronize();
                    for (int i = 0; i < layers; i++) {
                        if (!sameBytes(be, o1[i], o2[i]) || !sameBytes(be, l1[i], l2[i])) {
                            if (mismatches++ == 0) firstBad = step;
                        }
                    }
                    if (step % Math.max(1, steps / 4) == 0) {
                        oracle++;
                        if (!againstOracle(be, a, lens, table, maxBlocks, numBlocks, hq, sq, dt, q[0], k[0], o1[0], l1[0], step)) {
                            oracleBad++;
                        }
                    }
                }
                check(mismatches == 0, what + ": " + steps + " replays of one graph (growing sequences, new pages, restarts)"
                        + " == eager decode, bitwise: " + mismatches + " layer mismatches" + (firstBad >= 0 ? " (first at step "
                        + firstBad + ")" : ""));
                check(oracleBad == 0, what + ": layer 0 vs the fp64 oracle at " + oracle + " steps: " + oracleBad + " failed");

                // the device check: staging written past the host checks
                java.lang.foreign.MemorySegment st = ((CudaPlan) pg).staging();
                int s0 = lens[0] > 0 ? 0 : 2; // a sequence that uses pages
                be.synchronize();
                st.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0, cap + 1);
                g.launch();
                check(pg.status() == MlaPlan.STATUS_SEQLEN && emptyStep(be, o1[0], l1[0]),
                        what + ": a seqlen beyond the capacity in the staging memory: status " + pg.status()
                                + " (want STATUS_SEQLEN), o = 0, LSE = +inf");
                pg.stage(lens, table);
                st.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, b + (long) s0 * maxBlocks, numBlocks + 5);
                g.launch();
                check(pg.status() == MlaPlan.STATUS_BLOCK && emptyStep(be, o1[0], l1[0]),
                        what + ": a block id out of range in the staging memory: status " + pg.status()
                                + " (want STATUS_BLOCK), o = 0, LSE = +inf");
                be.synchronize();
                pg.stage(lens, table);
                g.launch();
                be.synchronize();
                boolean back = pg.status() == 0;
                for (int i = 0; i < layers; i++) back &= sameBytes(be, o1[i], o2[i]) && sameBytes(be, l1[i], l2[i]);
                check(back, what + ": the valid step after them: status 0 and == eager again");
                g.close();
            } finally {
                for (Tensor[] ts : new Tensor[][] {q, k, o1, l1, o2, l2}) for (Tensor x : ts) if (x != null) x.close();
            }
        }
    }

    /**
     * Closing a backend while an updatable plan of it is open closes the plan first: its staging memory (pinned, dead
     * with the context) then throws IllegalStateException on access instead of crashing the JVM, and so does update.
     */
    static void closeWithOpenPlan() {
        CudaBackend be = CudaBackend.open();
        try (Arena a = Arena.ofConfined()) {
            MlaPlan plan = be.updatablePlan(io.mla4j.PlanSpec.of(Tensor.ofInts(a, new int[] {70}, 1),
                    Tensor.ofInts(a, new int[] {0, 1}, 1, 2), 2, 16, 1, DType.BF16));
            java.lang.foreign.MemorySegment st = ((CudaPlan) plan).staging();
            be.close();
            boolean stagingRefused = false, updateRefused = false;
            try {
                st.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0, 1);
            } catch (IllegalStateException e) {
                stagingRefused = true;
            }
            try {
                plan.update(new int[] {71}, new int[] {0, 1});
            } catch (IllegalStateException e) {
                updateRefused = true;
            }
            check(plan.isClosed() && stagingRefused && updateRefused, "backend closed with an updatable plan open: plan closed "
                    + plan.isClosed() + ", staging access refused " + stagingRefused + ", update refused " + updateRefused);
        }
    }

    /** Grows sequence s by n tokens, taking pages from {@code free}; one that would pass the capacity restarts empty. */
    private static void grow(int[] lens, int[] table, java.util.ArrayDeque<Integer> free, int s, int n, int maxBlocks) {
        int have = Mla.blocksFor(lens[s]);
        if (lens[s] + n > maxBlocks * Mla.BLOCK_SIZE) {
            for (int j = 0; j < have; j++) {
                free.addLast(table[s * maxBlocks + j]);
                table[s * maxBlocks + j] = -1;
            }
            lens[s] = 0;
            return;
        }
        lens[s] += n;
        for (int j = have; j < Mla.blocksFor(lens[s]); j++) table[s * maxBlocks + j] = free.removeFirst();
    }

    /** Whether o is all zeros and lse all +inf: what a step with no keys gives. */
    private static boolean emptyStep(CudaBackend be, Tensor o, Tensor lse) {
        try (Arena ar = Arena.ofConfined()) {
            Tensor ho = Tensor.allocate(ar, o.dtype(), o.shape()), hl = Tensor.allocate(ar, DType.FP32, lse.shape());
            be.copy(o, ho);
            be.copy(lse, hl);
            for (float v : ho.toFloatArray()) if (v != 0f) return false;
            for (float v : hl.toFloatArray()) if (v != Float.POSITIVE_INFINITY) return false;
            return true;
        }
    }

    /** Layer 0 of a step against the fp64 reference backend on host copies; prints rel L2 and max errors. */
    private static boolean againstOracle(CudaBackend be, Arena a, int[] lens, int[] table, int maxBlocks, int numBlocks, int hq,
                                         int sq, DType dt, Tensor q, Tensor k, Tensor o, Tensor lse, int step) {
        int b = lens.length;
        Tensor qh = Tensor.allocate(a, dt, q.shape()), kh = Tensor.allocate(a, dt, k.shape());
        Tensor oh = Tensor.allocate(a, dt, o.shape()), lh = Tensor.allocate(a, DType.FP32, lse.shape());
        be.copy(q, qh);
        be.copy(k, kh);
        be.copy(o, oh);
        be.copy(lse, lh);
        try (io.mla4j.ref.ReferenceBackend ref = new io.mla4j.ref.ReferenceBackend();
             MlaPlan rp = ref.plan(io.mla4j.PlanSpec.of(Tensor.ofInts(a, lens, b), Tensor.ofInts(a, table, b, maxBlocks), numBlocks,
                     hq, sq, dt))) {
            io.mla4j.ref.ReferenceBackend.Result want = io.mla4j.ref.ReferenceBackend.compute(rp, qh, kh, 1f);
            float[] got = oh.toFloatArray(), gl = lh.toFloatArray();
            double num = 0, den = 0, maxErr = 0, lseErr = 0;
            for (int i = 0; i < got.length; i++) {
                double d = got[i] - want.o()[i];
                num += d * d;
                den += want.o()[i] * want.o()[i];
                maxErr = Math.max(maxErr, Math.abs(d));
            }
            for (int i = 0; i < gl.length; i++) {
                double w = want.lse()[i];
                lseErr = Math.max(lseErr, w == gl[i] ? 0 : Math.abs(gl[i] - w)); // +inf == +inf for empty rows
            }
            double rel = den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
            // bf16 rounds o to 2^-8 relative: an rel-L2 of a few 1e-3 is the rounding; 1e-2 would be a wrong result
            boolean ok = rel < 1e-2 && lseErr < 1e-3;
            System.out.printf("  step %d layer 0 vs fp64 oracle: o rel-L2 %.2e, max abs %.2e; lse max err %.2e: %s%n", step, rel,
                    maxErr, lseErr, ok ? "ok" : "FAIL");
            return ok;
        }
    }

    private static boolean sameBytes(CudaBackend be, Tensor a, Tensor b) {
        try (Arena ar = Arena.ofConfined()) {
            Tensor ha = Tensor.allocate(ar, a.dtype(), a.shape()), hb = Tensor.allocate(ar, b.dtype(), b.shape());
            be.copy(a, ha);
            be.copy(b, hb);
            return ha.segment().mismatch(hb.segment()) == -1;
        }
    }

}
