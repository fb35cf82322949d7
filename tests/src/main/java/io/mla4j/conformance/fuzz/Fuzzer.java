package io.mla4j.conformance.fuzz;

import io.mla4j.CacheFormat;
import io.mla4j.DType;
import io.mla4j.Fp8Cache;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.conformance.Case;
import io.mla4j.conformance.Conformance;
import io.mla4j.conformance.Report;
import io.mla4j.conformance.fuzz.FuzzStats.Kind;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The seeded fuzz generator: every case is drawn from one {@link Random} seeded by the run's seed, so a
 * run replays exactly (a failure prints its class, case number and seed). Valid steps (random shapes,
 * ragged lengths, shuffled tables with garbage in unused entries, views, reused and concurrent plans) are
 * checked against the fp64 oracle with outputs poisoned with NaN; invalid calls of every class must be
 * refused with an {@link IllegalArgumentException} naming the argument (or an {@link IllegalStateException}
 * for closed things), after which a valid step must still be right (state intact).
 */
public final class Fuzzer implements AutoCloseable {

    /** Size budget per backend: what a case may cost (the emulator is slow, the GPU is fast). */
    record Budget(int maxBatch, int maxSeqlen, int maxHeads, int maxQueryLen, int maxRows) {
        /** The CI profile: small steps, so a few thousand cases fit in two minutes on two cores. */
        static final Budget CI = new Budget(2, 140, 16, 2, 16);

        static Budget of(String backend, boolean ci) {
            if (ci) return CI;
            return switch (backend) {
                case "ascend" -> new Budget(3, 200, 32, 2, 32);
                case "reference" -> new Budget(3, 300, 16, 3, 32);
                case "cuda" -> new Budget(16, 4200, 128, 4, 512);
                default -> new Budget(4, 700, 128, 4, 256);
            };
        }
    }

    private final MlaBackend be;
    private final Supplier<MlaBackend> opener;
    private final FuzzStats stats;
    private final Budget budget;
    private final Random rnd;
    private final boolean host;
    private final ReferenceBackend oracle = new ReferenceBackend();
    private final ExecutorService pair = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "fuzz-concurrent");
        t.setDaemon(true);
        return t;
    });
    private final int[] heads;
    private long caseNo;
    volatile String current = "";

    Fuzzer(MlaBackend be, Supplier<MlaBackend> opener, FuzzStats stats, long seed) {
        this(be, opener, stats, seed, false);
    }

    Fuzzer(MlaBackend be, Supplier<MlaBackend> opener, FuzzStats stats, long seed, boolean ci) {
        this.be = be;
        this.opener = opener;
        this.stats = stats;
        this.budget = Budget.of(be.name(), ci);
        this.rnd = new Random(seed);
        this.host = be.memory().equals("host");
        List<Integer> hs = new ArrayList<>();
        for (int h : new int[] {1, 2, 3, 4, 5, 8, 16, 32, 64, 128}) {
            if (h > budget.maxHeads) continue;
            try {
                be.checkSupported(h, 1, DType.BF16);
                hs.add(h);
            } catch (IllegalArgumentException e) {
                // not this backend's: the unsupported class covers it
            }
        }
        heads = hs.stream().mapToInt(Integer::intValue).toArray();
    }

    // ------------------------------------------------------------------ the case mix

    private interface Body { void run() throws Exception; }
    private record Cls(String name, int weight, Body body) {}

    private List<Cls> classes() {
        List<Cls> c = new ArrayList<>();
        c.add(new Cls("valid.step", 30, () -> validStep(randomShape(), false)));
        c.add(new Cls("valid.planReuse", 6, this::planReuse));
        c.add(new Cls("valid.view", 6, this::views));
        c.add(new Cls("valid.edge", 8, this::edges));
        c.add(new Cls("valid.largeScale", 3, this::largeScale));
        c.add(new Cls("valid.concurrentPlan", 3, this::concurrent));
        c.add(new Cls("valid.manyPlans", 3, this::manyPlans));
        c.add(new Cls("valid.update", 5, this::updatedPlan));
        c.add(new Cls("valid.geometry", 8, this::validGeometry));
        c.add(new Cls("bad.seqlen", 6, this::badSeqlen));
        c.add(new Cls("bad.blockTable", 6, this::badBlockTable));
        c.add(new Cls("bad.counts", 6, this::badCounts));
        c.add(new Cls("bad.scale", 4, this::badScale));
        c.add(new Cls("bad.dtype", 3, this::badDtype));
        c.add(new Cls("bad.specTensors", 5, this::badSpecTensors));
        c.add(new Cls("bad.decodeNull", 3, this::badDecodeNull));
        c.add(new Cls("bad.decodeShape", 6, this::badDecodeShape));
        c.add(new Cls("bad.decodeMemory", 4, this::badDecodeMemory));
        c.add(new Cls("bad.closedTensor", 4, this::closedTensor));
        c.add(new Cls("bad.plan", 4, this::badPlan));
        c.add(new Cls("bad.alignment", 3, this::badAlignment));
        c.add(new Cls("bad.readOnly", 3, this::readOnly));
        c.add(new Cls("bad.allocate", 5, this::badAllocate));
        c.add(new Cls("bad.copy", 5, this::badCopy));
        c.add(new Cls("bad.tensorApi", 3, this::badTensorApi));
        c.add(new Cls("bad.unsupported", 2, this::unsupported));
        c.add(new Cls("bad.geometry", 6, this::badGeometry));
        c.add(new Cls("closedBackend", 1, this::closedBackend));
        // -Dmla4j.fuzz.classes=a,b: only those classes (a campaign on one axis); unset: all
        String only = System.getProperty("mla4j.fuzz.classes");
        if (only != null && !only.isBlank()) {
            List<String> keep = Arrays.asList(only.split(","));
            c.removeIf(k -> !keep.contains(k.name));
            if (c.isEmpty()) throw new IllegalArgumentException("mla4j.fuzz.classes: no class named in '" + only + "'");
        }
        return c;
    }

    /** Runs cases until {@code calls} API calls have been made (or {@code deadlineNanos} passes, if > 0). */
    void run(long calls, long deadlineNanos) {
        List<Cls> cls = classes();
        int total = cls.stream().mapToInt(Cls::weight).sum();
        while (stats.calls.get() < calls && (deadlineNanos == 0 || System.nanoTime() < deadlineNanos)) {
            int pick = rnd.nextInt(total);
            Cls chosen = null;
            for (Cls k : cls) {
                pick -= k.weight;
                if (pick < 0) { chosen = k; break; }
            }
            runCase(chosen.name, chosen.body);
            if (chosen.name.startsWith("bad.") && rnd.nextInt(4) == 0) {
                runCase("state.afterMisuse", () -> validStep(smallShape(), false));
            }
        }
    }

    private void runCase(String name, Body body) {
        lastProgress = System.nanoTime();
        caseNo++;
        current = name + " #" + caseNo;
        stats.cas(name);
        long t0 = System.nanoTime();
        try {
            body.run();
        } catch (Throwable t) {
            stats.fail(Kind.UNEXPECTED, name, "case " + caseNo + ": " + t);
            if (t instanceof VirtualMachineError) throw (VirtualMachineError) t;
        } finally {
            stats.time(name, System.nanoTime() - t0);
        }
    }

    // ------------------------------------------------------------------ counted API calls

    private <T> T call(Callable<T> c) throws Exception {
        stats.calls.incrementAndGet();
        return c.call();
    }

    private void callV(Body b) throws Exception {
        stats.calls.incrementAndGet();
        b.run();
    }

    private Tensor alloc(DType dt, long... shape) throws Exception { return call(() -> be.allocate(dt, shape)); }
    private void copy(Tensor s, Tensor d) throws Exception { callV(() -> be.copy(s, d)); }
    private MlaPlan plan(PlanSpec s) throws Exception { return call(() -> be.plan(s)); }

    /** The call must be refused: {@code type} with a message starting "{@code arg}:" (arg null: any message). */
    private void expect(String cls, Class<? extends RuntimeException> type, String arg, String what, Body call) {
        stats.calls.incrementAndGet();
        try {
            call.run();
        } catch (Throwable t) {
            boolean typeOk = t.getClass() == type;
            boolean named = arg == null || (t.getMessage() != null && t.getMessage().startsWith(arg + ":"));
            if (!typeOk || !named) {
                stats.fail(Kind.BAD_ERROR, cls, what + ": expected " + type.getSimpleName() + (arg == null ? "" : " naming '" + arg + "'")
                        + ", got " + t.getClass().getName() + ": " + t.getMessage() + " (case " + caseNo + ")");
            }
            if (t instanceof VirtualMachineError) throw (VirtualMachineError) t;
            return;
        }
        stats.fail(Kind.MISUSE_ACCEPTED, cls, what + ": accepted (case " + caseNo + ")");
    }

    private void expectArg(String cls, String arg, String what, Body call) { expect(cls, IllegalArgumentException.class, arg, what, call); }
    private void expectState(String cls, String arg, String what, Body call) { expect(cls, IllegalStateException.class, arg, what, call); }

    // ------------------------------------------------------------------ shapes and inputs

    record Shape(int[] seqlens, int hq, int sq, DType dt, boolean causal, float scale, Geometry geo) {
        Shape(int[] seqlens, int hq, int sq, DType dt, boolean causal, float scale) {
            this(seqlens, hq, sq, dt, causal, scale, Geometry.DEEPSEEK);
        }
    }

    private int pickLen(int max) {
        return switch (rnd.nextInt(10)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> Math.min(max, 63 + rnd.nextInt(3)); // block edges 63, 64, 65
            case 3 -> Math.min(max, 127 + rnd.nextInt(3));
            default -> rnd.nextInt(max + 1);
        };
    }

    Shape randomShape() {
        int b = 1 + rnd.nextInt(budget.maxBatch);
        int sq = 1 + rnd.nextInt(budget.maxQueryLen);
        int hq = heads[rnd.nextInt(heads.length)];
        while ((long) hq * sq > budget.maxRows && sq > 1) sq--;
        while ((long) hq * sq > budget.maxRows) hq = heads[rnd.nextInt(heads.length)];
        int[] lens = new int[b];
        // cost ~ b * rows * s_k: wide shapes get shorter sequences
        int maxLen = Math.max(64, (int) Math.min(budget.maxSeqlen, (long) budget.maxSeqlen * 16 / Math.max(16, hq * sq)));
        for (int i = 0; i < b; i++) lens[i] = pickLen(maxLen);
        DType dt = rnd.nextBoolean() ? DType.BF16 : DType.FP16;
        float scale = rnd.nextInt(3) == 0 ? Mla.defaultScale() : 0.02f + 0.1f * rnd.nextFloat();
        return new Shape(lens, hq, sq, dt, rnd.nextBoolean(), scale);
    }

    Shape smallShape() {
        int b = 1 + rnd.nextInt(2);
        int[] lens = new int[b];
        for (int i = 0; i < b; i++) lens[i] = pickLen(130);
        int hq = heads[rnd.nextInt(Math.min(heads.length, 5))];
        return new Shape(lens, hq, 1 + rnd.nextInt(2), rnd.nextBoolean() ? DType.BF16 : DType.FP16, rnd.nextBoolean(), Mla.defaultScale());
    }

    /** Host inputs of one step: q and cache never zero, a shuffled table, garbage in unused table entries. */
    final class Inputs implements AutoCloseable {
        final Shape s;
        final Arena arena = Arena.ofShared();
        final int b, numBlocks, maxBlocks;
        final Tensor seqlens, table, q, cache;
        /** The decode's kvScale: an fp8_e4m3 cache's own scale, else 1. */
        final float kvScale;

        Inputs(Shape s, boolean zeroColumns) {
            this.s = s;
            b = s.seqlens.length;
            int need = 0, maxNeed = 0;
            Geometry g = s.geo;
            for (int l : s.seqlens) {
                need += g.blocksFor(l);
                maxNeed = Math.max(maxNeed, g.blocksFor(l));
            }
            maxBlocks = zeroColumns && maxNeed == 0 ? 0 : Math.max(1, maxNeed + rnd.nextInt(3));
            numBlocks = Math.max(1, need + rnd.nextInt(4));
            int[] perm = new int[numBlocks];
            for (int i = 0; i < numBlocks; i++) perm[i] = i;
            for (int i = numBlocks - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            }
            int[] t = new int[b * maxBlocks];
            int next = 0;
            for (int i = 0; i < b; i++)
                for (int j = 0; j < maxBlocks; j++)
                    t[i * maxBlocks + j] = j < g.blocksFor(s.seqlens[i]) ? perm[next++] : garbage();
            seqlens = Tensor.ofInts(arena, s.seqlens, b);
            table = Tensor.ofInts(arena, t, b, maxBlocks);
            q = random(s.dt, g.queryShape(b, s.sq, s.hq));
            Tensor plain = random(s.dt, g.withFormat(CacheFormat.PLAIN).cacheShape(numBlocks));
            if (g.format().isFp8()) { // quantised as engines write it; the oracle decodes the same bytes
                Fp8Cache.Quantized fq = Fp8Cache.quantize(plain, g, arena);
                cache = fq.cache();
                kvScale = fq.kvScale();
            } else {
                cache = plain;
                kvScale = 1f;
            }
        }

        private int garbage() {
            return switch (rnd.nextInt(4)) {
                case 0 -> -1;
                case 1 -> Integer.MIN_VALUE + rnd.nextInt(100);
                case 2 -> Integer.MAX_VALUE - rnd.nextInt(100);
                default -> rnd.nextInt(1 << 20) + 1000;
            };
        }

        Tensor random(DType dt, long... shape) {
            Tensor t = Tensor.allocate(arena, dt, shape);
            fillRandom(t);
            return t;
        }

        PlanSpec spec() {
            return new PlanSpec(seqlens, table, numBlocks, s.hq, s.sq, s.dt, s.causal, s.scale, s.geo);
        }

        /**
         * A NaN-filled host tensor with its own lifetime: the caller closes it. (Not in this input's arena:
         * --cycles reuses four inputs for the whole run, and 4 buffers a cycle kept there grew RSS by
         * ~10 KiB a cycle, which read as a backend leak until 2026-12-03.)
         */
        Tensor poisoned(DType dt, long... shape) {
            Tensor t = Tensor.allocate(dt, shape);
            t.fill(Float.NaN);
            return t;
        }

        Case asCase() { return new Case(s.seqlens, s.hq, s.sq, s.dt, s.causal, s.geo); }

        @Override public void close() { arena.close(); }
    }

    private long fillState = 0x9E3779B97F4A7C15L;

    /** Values in about N(0, 1) (sum of three uniforms), never zero; a fast generator seeded from the run's Random. */
    void fillRandom(Tensor t) {
        long x = rnd.nextLong() | 1;
        long n = t.numel();
        float[] buf = new float[(int) Math.min(n, 1 << 16)];
        for (long off = 0; off < n; off += buf.length) {
            int m = (int) Math.min(buf.length, n - off);
            for (int i = 0; i < m; i++) {
                float v = 0;
                for (int k = 0; k < 3; k++) {
                    x ^= x << 13; x ^= x >>> 7; x ^= x << 17;
                    v += (x >>> 40) * 0x1.0p-24f;
                }
                v = (v - 1.5f) * 2f;
                buf[i] = v == 0f ? 0.5f : v;
            }
            for (int i = 0; i < m; i++) t.setFloat(off + i, buf[i]);
        }
        fillState ^= x;
    }

    // ------------------------------------------------------------------ running a step on the backend

    /** The backend's tensors of a step: inputs copied in, outputs poisoned with NaN in the backend's own memory. */
    final class Device implements AutoCloseable {
        final Tensor q, cache, o, lse;
        final List<Tensor> owned = new ArrayList<>();

        Device(Inputs in, Tensor q, Tensor cache) throws Exception {
            this.q = q;
            this.cache = cache;
            o = own(alloc(in.s.dt, in.s.geo.outShape(in.b, in.s.sq, in.s.hq)));
            lse = own(alloc(DType.FP32, in.b, in.s.hq, in.s.sq));
            try (Tensor po = in.poisoned(in.s.dt, o.shape()); Tensor pl = in.poisoned(DType.FP32, lse.shape())) {
                copy(po, o);
                copy(pl, lse);
            }
        }

        Device(Inputs in) throws Exception {
            this(in, null, null);
        }

        Tensor own(Tensor t) { owned.add(t); return t; }

        @Override
        public void close() {
            for (Tensor t : owned) {
                stats.calls.incrementAndGet();
                t.close();
            }
        }
    }

    private Device upload(Inputs in) throws Exception {
        Tensor q = alloc(in.s.dt, in.q.shape());
        Tensor c = alloc(in.cache.dtype(), in.cache.shape());
        copy(in.q, q);
        copy(in.cache, c);
        Device d = new Device(in, q, c);
        d.own(q);
        d.own(c);
        return d;
    }

    /** Decodes on the backend and returns o and lse as host floats. */
    private float[][] decodeAndRead(MlaPlan plan, Inputs in, Device d) throws Exception {
        callV(() -> be.decode(plan, d.q, d.cache, in.kvScale, d.o, d.lse));
        callV(be::synchronize);
        try (Tensor ho = in.poisoned(in.s.dt, d.o.shape()); Tensor hl = in.poisoned(DType.FP32, d.lse.shape())) {
            copy(d.o, ho);
            copy(d.lse, hl);
            return new float[][] {ho.toFloatArray(), hl.toFloatArray()};
        }
    }

    private ReferenceBackend.Result truth(Inputs in, Tensor q, Tensor cache) {
        try (MlaPlan p = oracle.plan(in.spec())) {
            return ReferenceBackend.compute(p, q, cache, in.kvScale);
        }
    }

    /** Strict: the conformance rule of {@link Report}. Relaxed (large scales): o inside V's range, lse within 1e-4 relative. */
    private void judge(String cls, Inputs in, ReferenceBackend.Result ref, float[][] got, boolean relaxed) {
        Report r = Conformance.compare(in.asCase(), caseNo, ref, got[0], got[1]);
        if (!relaxed) {
            if (!r.passed()) stats.fail(Kind.SILENT_WRONG, cls, "case " + caseNo + " scale=" + in.s.scale + ": " + r);
            return;
        }
        float vmax = 0;
        for (float v : in.cache.toFloatArray()) vmax = Math.max(vmax, Math.abs(v));
        String why = null;
        if (r.unwrittenO() > 0 || r.unwrittenLse() > 0 || r.infMismatches() > 0) why = r.verdict();
        for (float v : got[0]) if (!(Math.abs(v) <= vmax * 1.01f)) { why = "o value " + v + " outside V's range " + vmax; break; }
        for (int i = 0; i < got[1].length && why == null; i++) {
            double e = ref.lse()[i];
            if (Double.isInfinite(e)) continue;
            if (Math.abs(got[1][i] - e) > 1e-4 * Math.abs(e) + 2e-3) why = "lse[" + i + "] = " + got[1][i] + ", oracle " + e;
        }
        if (why != null) stats.fail(Kind.SILENT_WRONG, cls, "case " + caseNo + " scale=" + in.s.scale + " " + in.asCase() + ": " + why);
    }

    void validStep(Shape s, boolean zeroColumns) throws Exception {
        validStep(s, zeroColumns, "valid.step");
    }

    private void validStep(Shape s, boolean zeroColumns, String cls) throws Exception {
        try (Inputs in = new Inputs(s, zeroColumns); Device d = upload(in); MlaPlan plan = plan(in.spec())) {
            float[][] got = decodeAndRead(plan, in, d);
            judge(cls, in, truth(in, in.q, in.cache), got, s.scale > 1f);
        }
    }

    // ------------------------------------------------------------------ valid classes

    /**
     * An updatable plan made for a shorter step of the same capacity, updated to this one, decodes it as a fresh plan
     * would; refused updates (a used block id out of range, a seqlens of the wrong length) name their argument and
     * change nothing (the next decode is judged again); a closed plan refuses update. Backends without updatable plans
     * (ascend) are skipped.
     */
    private void updatedPlan() throws Exception {
        Shape s = randomShape();
        try (Inputs in = new Inputs(s, false); Device d = upload(in); Arena a = Arena.ofConfined()) {
            PlanSpec full = in.spec();
            int[] lens = full.seqlens().toIntArray(), table = full.blockTable().toIntArray();
            int[] shorter = new int[lens.length];
            for (int i = 0; i < lens.length; i++) shorter[i] = rnd.nextInt(lens[i] + 1);
            PlanSpec first = new PlanSpec(Tensor.ofInts(a, shorter, lens.length), full.blockTable(), full.numCacheBlocks(),
                    full.numHeads(), full.queryLen(), full.dtype(), full.causal(), full.scale(), full.geometry());
            MlaPlan plan;
            try {
                plan = call(() -> be.updatablePlan(first));
            } catch (UnsupportedOperationException e) {
                return;
            }
            try (plan) {
                callV(() -> plan.update(lens, table));
                ReferenceBackend.Result want = truth(in, in.q, in.cache);
                judge("valid.update", in, want, decodeAndRead(plan, in, d), false);
                int maxBlocks = (int) full.blockTable().dim(1);
                for (int i = 0; i < lens.length; i++) {
                    if (lens[i] == 0) continue;
                    int[] bad = table.clone();
                    bad[i * maxBlocks + rnd.nextInt(Mla.blocksFor(lens[i]))] = rnd.nextBoolean() ? -1 : full.numCacheBlocks();
                    expectArg("valid.update", "blockTable", "update with a used block id out of range", () -> plan.update(lens, bad));
                    break;
                }
                expectArg("valid.update", "seqlens", "update with b + 1 seqlens",
                        () -> plan.update(Arrays.copyOf(lens, lens.length + 1), table));
                judge("valid.update", in, want, decodeAndRead(plan, in, d), false);
            }
            expectState("valid.update", "plan", "update of a closed plan", () -> plan.update(lens, table));
        }
    }

    private void planReuse() throws Exception {
        Shape s = randomShape();
        try (Inputs in = new Inputs(s, false); MlaPlan plan = plan(in.spec())) {
            for (int layer = 0; layer < 2 + rnd.nextInt(2); layer++) {
                fillRandom(in.q);
                fillRandom(in.cache);
                try (Device d = upload(in)) {
                    judge("valid.planReuse", in, truth(in, in.q, in.cache), decodeAndRead(plan, in, d), false);
                }
            }
        }
    }

    /** q and the cache as views into one larger buffer at odd (but legal) offsets: 2-byte multiples on the host, 16 on a device. */
    private void views() throws Exception {
        Shape s = smallShape();
        try (Inputs in = new Inputs(s, false); MlaPlan plan = plan(in.spec())) {
            long qb = in.q.byteSize(), cb = in.cache.byteSize();
            long unit = host ? 2 : Mla.DEVICE_ALIGNMENT;
            long qOff = unit * (1 + rnd.nextInt(7)), cOff = qOff + qb + unit * (1 + rnd.nextInt(7));
            long total = cOff + cb + 64;
            if (host) {
                MemorySegment buf = in.arena.allocate(total, 64);
                Tensor q = Tensor.wrap(buf.asSlice(qOff, qb), s.dt, in.q.shape());
                Tensor c = Tensor.wrap(buf.asSlice(cOff, cb), s.dt, in.cache.shape());
                copy(in.q, q);
                copy(in.cache, c);
                try (Device d = new Device(in, q, c)) {
                    judge("valid.view", in, truth(in, in.q, in.cache), decodeAndRead(plan, in, d), false);
                }
            } else {
                try (Tensor big = alloc(DType.BF16, (total + 1) / 2)) {
                    Tensor q = Tensor.onDevice(be.memory(), big.address() + qOff, s.dt, in.q.shape(), null);
                    Tensor c = Tensor.onDevice(be.memory(), big.address() + cOff, s.dt, in.cache.shape(), null);
                    copy(in.q, q);
                    copy(in.cache, c);
                    try (Device d = new Device(in, q, c)) {
                        judge("valid.view", in, truth(in, in.q, in.cache), decodeAndRead(plan, in, d), false);
                    }
                }
            }
        }
    }

    private void edges() throws Exception {
        switch (rnd.nextInt(5)) {
            case 0 -> { // every sequence empty; sometimes a 0-column block table
                int b = 1 + rnd.nextInt(3);
                validStep(new Shape(new int[b], heads[rnd.nextInt(heads.length)], 1 + rnd.nextInt(2), DType.BF16, true, Mla.defaultScale()),
                        rnd.nextBoolean(), "valid.edge");
            }
            case 1 -> { // s_q larger than some s_k, causal: rows that see no key
                int sq = Math.min(4, budget.maxQueryLen + 1);
                int hq = heads[rnd.nextInt(Math.min(heads.length, 4))];
                validStep(new Shape(new int[] {rnd.nextInt(sq), 1 + rnd.nextInt(70)}, hq, sq, DType.FP16, true, Mla.defaultScale()), false, "valid.edge");
            }
            case 2 -> { // one long sequence (the budget's longest) split over many workers
                validStep(new Shape(new int[] {budget.maxSeqlen * 3 / 2 + rnd.nextInt(64)}, heads[0], 1, DType.BF16, false, Mla.defaultScale()),
                        false, "valid.edge");
            }
            case 3 -> { // every block edge in one batch
                validStep(new Shape(new int[] {63, 64, 65, 128}, heads[rnd.nextInt(Math.min(heads.length, 3))], 1, DType.FP16, false,
                        Mla.defaultScale()), false, "valid.edge");
            }
            default -> { // the smallest and largest scales accepted
                Shape s = smallShape();
                float scale = rnd.nextBoolean() ? Mla.MIN_SCALE * (1 + rnd.nextInt(4)) : 1e-4f;
                validStep(new Shape(s.seqlens, s.hq, s.sq, s.dt, s.causal, scale), false, "valid.edge");
            }
        }
    }

    private void largeScale() throws Exception {
        Shape s = smallShape();
        float scale = rnd.nextBoolean() ? Mla.MAX_SCALE : 1f + rnd.nextFloat() * (Mla.MAX_SCALE - 1f);
        validStep(new Shape(s.seqlens, s.hq, s.sq, s.dt, s.causal, scale), false, "valid.largeScale");
    }

    /** One plan, two threads decoding different inputs with it at once. */
    private void concurrent() throws Exception {
        Shape s = smallShape();
        try (Inputs a = new Inputs(s, false); MlaPlan plan = plan(a.spec())) {
            Inputs bIn = a; // same step, different values
            List<Future<Object>> fs = new ArrayList<>();
            List<Inputs> ins = new ArrayList<>();
            List<ReferenceBackend.Result> refs = new ArrayList<>();
            List<Tensor[]> hostCopies = new ArrayList<>();
            for (int k = 0; k < 2; k++) {
                Tensor q = bIn.random(s.dt, a.q.shape()), c = bIn.random(s.dt, a.cache.shape());
                hostCopies.add(new Tensor[] {q, c});
                refs.add(truth(a, q, c));
            }
            List<float[][]> outs = Collections.synchronizedList(new ArrayList<>(Arrays.asList(null, null)));
            for (int k = 0; k < 2; k++) {
                final int kk = k;
                fs.add(pair.submit(() -> {
                    Tensor[] hc = hostCopies.get(kk);
                    Tensor q = alloc(s.dt, hc[0].shape()), c = alloc(s.dt, hc[1].shape());
                    copy(hc[0], q);
                    copy(hc[1], c);
                    try (Device d = new Device(a, q, c)) {
                        d.own(q);
                        d.own(c);
                        outs.set(kk, decodeAndRead(plan, a, d));
                    }
                    return null;
                }));
            }
            for (Future<Object> f : fs) f.get(120, TimeUnit.SECONDS);
            for (int k = 0; k < 2; k++) {
                Tensor[] hc = hostCopies.get(k);
                judgeWith("valid.concurrentPlan", a, hc[1], refs.get(k), outs.get(k));
            }
        }
    }

    private void judgeWith(String cls, Inputs in, Tensor cache, ReferenceBackend.Result ref, float[][] got) {
        Report r = Conformance.compare(in.asCase(), caseNo, ref, got[0], got[1]);
        if (!r.passed()) stats.fail(Kind.SILENT_WRONG, cls, "case " + caseNo + ": " + r);
    }

    /** Several plans of different steps alive at once, decoded in a shuffled order, closed in another. */
    private void manyPlans() throws Exception {
        int n = 2 + rnd.nextInt(7);
        List<Inputs> ins = new ArrayList<>();
        List<MlaPlan> plans = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Inputs in = new Inputs(smallShape(), false);
                ins.add(in);
                plans.add(plan(in.spec()));
            }
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < n; i++) order.add(i);
            Collections.shuffle(order, rnd);
            for (int i : order) {
                Inputs in = ins.get(i);
                try (Device d = upload(in)) {
                    judge("valid.manyPlans", in, truth(in, in.q, in.cache), decodeAndRead(plans.get(i), in, d), false);
                }
            }
        } finally {
            Collections.shuffle(plans, rnd);
            for (MlaPlan p : plans) { stats.calls.incrementAndGet(); p.close(); }
            for (Inputs in : ins) in.close();
        }
    }

    // ------------------------------------------------------------------ invalid classes (plan)

    private PlanSpec with(PlanSpec s, Tensor seqlens, Tensor table) {
        return new PlanSpec(seqlens, table, s.numCacheBlocks(), s.numHeads(), s.queryLen(), s.dtype(), s.causal(), s.scale());
    }

    private void badSeqlen() throws Exception {
        try (Inputs in = new Inputs(smallShape(), false)) {
            int[] lens = in.s.seqlens.clone();
            int k = rnd.nextInt(lens.length);
            String what;
            switch (rnd.nextInt(4)) {
                case 0 -> { lens[k] = -1 - rnd.nextInt(Integer.MAX_VALUE); what = "negative seqlen"; }
                case 1 -> { lens[k] = Integer.MAX_VALUE - rnd.nextInt(63); what = "seqlen in [2^31 - 63, 2^31 - 1]"; }
                case 2 -> { lens[k] = Mla.MAX_SEQLEN + 1 + rnd.nextInt(63); what = "seqlen above MAX_SEQLEN"; }
                default -> { lens[k] = in.maxBlocks * Mla.BLOCK_SIZE + 1 + rnd.nextInt(1000); what = "seqlen beyond the table"; }
            }
            Tensor sl = Tensor.ofInts(in.arena, lens, lens.length);
            PlanSpec bad = with(in.spec(), sl, in.table);
            expectArg("bad.seqlen", "seqlens", what + " " + lens[k], () -> be.plan(bad).close());
            // widening the table to fit a near-2^31 length must still be refused, not silently accepted
        }
    }

    private void badBlockTable() throws Exception {
        Shape s = smallShape();
        if (Arrays.stream(s.seqlens).allMatch(l -> l == 0)) s.seqlens[0] = 1 + rnd.nextInt(129);
        try (Inputs in = new Inputs(s, false)) {
            int[] t = in.table.toIntArray();
            List<Integer> used = new ArrayList<>();
            for (int i = 0; i < in.b; i++) for (int j = 0; j < Mla.blocksFor(s.seqlens[i]); j++) used.add(i * in.maxBlocks + j);
            int at = used.get(rnd.nextInt(used.size()));
            t[at] = switch (rnd.nextInt(4)) {
                case 0 -> -1;
                case 1 -> in.numBlocks + rnd.nextInt(1000);
                case 2 -> Integer.MIN_VALUE;
                default -> Integer.MAX_VALUE;
            };
            Tensor bt = Tensor.ofInts(in.arena, t, in.b, in.maxBlocks);
            expectArg("bad.blockTable", "blockTable", "used block id " + t[at], () -> be.plan(with(in.spec(), in.seqlens, bt)).close());
        }
    }

    private void badCounts() throws Exception {
        try (Inputs in = new Inputs(smallShape(), false)) {
            PlanSpec s = in.spec();
            int[] badInts = {0, -1, Integer.MIN_VALUE, -rnd.nextInt(1 << 30) - 1};
            int v = badInts[rnd.nextInt(badInts.length)];
            switch (rnd.nextInt(4)) {
                case 0 -> expectArg("bad.counts", "numCacheBlocks", "numCacheBlocks " + v,
                        () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), v, s.numHeads(), s.queryLen(), s.dtype(), s.causal(), s.scale())).close());
                case 1 -> expectArg("bad.counts", "numHeads", "numHeads " + v,
                        () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), s.numCacheBlocks(), v, s.queryLen(), s.dtype(), s.causal(), s.scale())).close());
                case 2 -> expectArg("bad.counts", "queryLen", "queryLen " + v,
                        () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), s.numCacheBlocks(), s.numHeads(), v, s.dtype(), s.causal(), s.scale())).close());
                default -> { // rows overflow int or pass MAX_ROWS
                    int[][] pairs = {{Integer.MAX_VALUE, 1}, {65536, 65536}, {1 << 16, 2}, {2, 1 << 30}, {Mla.MAX_ROWS + 1, 1}, {46341, 46341}};
                    int[] p = pairs[rnd.nextInt(pairs.length)];
                    String arg = p[0] >= p[1] ? "numHeads" : "queryLen";
                    expectArg("bad.counts", arg, "h_q*s_q = " + p[0] + "*" + p[1],
                            () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), s.numCacheBlocks(), p[0], p[1], s.dtype(), s.causal(), s.scale())).close());
                }
            }
        }
    }

    private void badScale() throws Exception {
        try (Inputs in = new Inputs(smallShape(), false)) {
            float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, -1f, Float.MAX_VALUE,
                    Mla.MAX_SCALE * 1.5f, Float.MIN_VALUE, Math.nextUp(Mla.MAX_SCALE)};
            float v = bad[rnd.nextInt(bad.length)];
            expectArg("bad.scale", "scale", "scale " + v, () -> be.plan(in.spec().withScale(v)).close());
        }
    }

    private void badDtype() throws Exception {
        try (Inputs in = new Inputs(smallShape(), false)) {
            PlanSpec s = in.spec();
            DType v = rnd.nextBoolean() ? DType.FP32 : DType.INT32;
            expectArg("bad.dtype", "dtype", "plan dtype " + v,
                    () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), s.numCacheBlocks(), s.numHeads(), s.queryLen(), v, s.causal(), s.scale())).close());
            expectArg("bad.dtype", "dtype", "checkSupported dtype " + v, () -> be.checkSupported(s.numHeads(), s.queryLen(), v));
        }
    }

    private void badSpecTensors() throws Exception {
        try (Inputs in = new Inputs(smallShape(), false)) {
            PlanSpec s = in.spec();
            switch (rnd.nextInt(9)) {
                case 0 -> expectArg("bad.specTensors", "seqlens", "FP32 seqlens",
                        () -> be.plan(with(s, Tensor.allocate(in.arena, DType.FP32, in.b), in.table)).close());
                case 1 -> expectArg("bad.specTensors", "seqlens", "rank-2 seqlens",
                        () -> be.plan(with(s, Tensor.allocate(in.arena, DType.INT32, in.b, 1), in.table)).close());
                case 2 -> expectArg("bad.specTensors", "seqlens", "batch 0",
                        () -> be.plan(with(s, Tensor.allocate(in.arena, DType.INT32, 0), Tensor.allocate(in.arena, DType.INT32, 0, 1))).close());
                case 3 -> expectArg("bad.specTensors", "seqlens", "device seqlens",
                        () -> be.plan(with(s, Tensor.onDevice("cuda:9", 4096, DType.INT32, new long[] {in.b}, null), in.table)).close());
                case 4 -> {
                    Tensor closed = Tensor.allocate(DType.INT32, in.b);
                    closed.close();
                    expectState("bad.specTensors", "seqlens", "closed seqlens", () -> be.plan(with(s, closed, in.table)).close());
                }
                case 5 -> expectArg("bad.specTensors", "blockTable", "rank-1 table",
                        () -> be.plan(with(s, in.seqlens, Tensor.allocate(in.arena, DType.INT32, in.b))).close());
                case 6 -> expectArg("bad.specTensors", "blockTable", "table rows != b",
                        () -> be.plan(with(s, in.seqlens, Tensor.allocate(in.arena, DType.INT32, in.b + 1, Math.max(1, in.maxBlocks)))).close());
                case 7 -> {
                    Tensor closed = Tensor.allocate(DType.INT32, in.b, in.maxBlocks);
                    closed.close();
                    expectState("bad.specTensors", "blockTable", "closed table", () -> be.plan(with(s, in.seqlens, closed)).close());
                }
                default -> expectArg("bad.specTensors", "spec", "null spec", () -> be.plan(null));
            }
        }
    }

    // ------------------------------------------------------------------ invalid classes (decode)

    /** A valid step's plan and tensors, then one corrupted argument; afterwards the untouched call must still be right. */
    private interface Misuse { void apply(Inputs in, MlaPlan plan, Device d) throws Exception; }

    private void decodeMisuse(Shape s, Misuse m) throws Exception {
        try (Inputs in = new Inputs(s, false); Device d = upload(in); MlaPlan plan = plan(in.spec())) {
            m.apply(in, plan, d);
            if (rnd.nextInt(3) == 0) { // the same plan and tensors still give the right answer
                judge("state.afterMisuse", in, truth(in, in.q, in.cache), decodeAndRead(plan, in, d), false);
            }
        }
    }

    private Tensor[] args(Device d) { return new Tensor[] {d.q, d.cache, d.o, d.lse}; }
    private static final String[] NAMES = {"q", "kCache", "out", "lse"};

    private void decodeWith(MlaPlan plan, Tensor[] a) { be.decode(plan, a[0], a[1], a[2], a[3]); }

    private void badDecodeNull() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            int k = rnd.nextInt(5);
            if (k == 4) {
                expectArg("bad.decodeNull", "plan", "null plan", () -> be.decode(null, d.q, d.cache, d.o, d.lse));
                return;
            }
            Tensor[] a = args(d);
            a[k] = null;
            expectArg("bad.decodeNull", NAMES[k], "null " + NAMES[k], () -> decodeWith(plan, a));
        });
    }

    private void badDecodeShape() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            int k = rnd.nextInt(4);
            Tensor[] a = args(d);
            long[] shape = a[k].shape();
            DType dt = a[k].dtype();
            String what;
            switch (rnd.nextInt(3)) {
                case 0 -> { // rank
                    long[] r = rnd.nextBoolean() ? Arrays.copyOf(shape, shape.length - 1) : Arrays.copyOf(shape, shape.length + 1);
                    if (r.length > shape.length) r[r.length - 1] = 1;
                    shape = r;
                    what = "rank " + r.length;
                }
                case 1 -> {
                    int dim = rnd.nextInt(shape.length);
                    shape[dim] += rnd.nextBoolean() || shape[dim] == 0 ? 1 : -1;
                    what = "dim " + dim + " off by one";
                }
                default -> {
                    dt = dt == DType.FP32 ? DType.BF16 : (dt == DType.BF16 ? DType.FP16 : DType.FP32);
                    what = "dtype " + dt;
                }
            }
            Tensor wrong = alloc(dt, shape);
            a[k] = wrong;
            try {
                expectArg("bad.decodeShape", NAMES[k], NAMES[k] + " " + what, () -> decodeWith(plan, a));
            } finally {
                wrong.close();
            }
        });
    }

    private void badDecodeMemory() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            int k = rnd.nextInt(4);
            Tensor[] a = args(d);
            if (host) {
                a[k] = Tensor.onDevice("cuda:" + rnd.nextInt(8), 1L << 20, a[k].dtype(), a[k].shape(), null);
            } else if (rnd.nextBoolean()) {
                a[k] = Tensor.allocate(in.arena, a[k].dtype(), a[k].shape());
            } else {
                a[k] = Tensor.onDevice("other:0", a[k].address(), a[k].dtype(), a[k].shape(), null);
            }
            expectArg("bad.decodeMemory", NAMES[k], NAMES[k] + " in " + a[k].location() + " memory", () -> decodeWith(plan, a));
        });
    }

    private void closedTensor() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            int k = rnd.nextInt(4);
            Tensor[] a = args(d);
            Tensor t = alloc(a[k].dtype(), a[k].shape());
            t.close();
            a[k] = t;
            expectState("bad.closedTensor", NAMES[k], "closed " + NAMES[k], () -> decodeWith(plan, a));
            try (Tensor dst = in.poisoned(t.dtype(), t.shape())) {
                expectState("bad.closedTensor", "src", "copy from a closed tensor", () -> be.copy(t, dst));
            }
        });
    }

    private void badPlan() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            if (rnd.nextBoolean()) {
                MlaPlan p = plan(in.spec());
                p.close();
                expectState("bad.plan", "plan", "closed plan", () -> be.decode(p, d.q, d.cache, d.o, d.lse));
            } else {
                try (MlaPlan foreign = oracle.plan(in.spec())) {
                    expectArg("bad.plan", "plan", "plan of another backend", () -> be.decode(foreign, d.q, d.cache, d.o, d.lse));
                }
            }
        });
    }

    private void badAlignment() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            int k = rnd.nextInt(4);
            Tensor[] a = args(d);
            Tensor t = a[k];
            if (host) {
                MemorySegment raw = in.arena.allocate(t.byteSize() + 64, 64);
                a[k] = Tensor.wrap(raw.asSlice(1, t.byteSize()), t.dtype(), t.shape());
            } else {
                a[k] = Tensor.onDevice(be.memory(), t.address() + (rnd.nextBoolean() ? 2 : 8), t.dtype(), t.shape(), null);
            }
            expectArg("bad.alignment", NAMES[k], "misaligned " + NAMES[k], () -> decodeWith(plan, a));
        });
    }

    private void readOnly() throws Exception {
        decodeMisuse(smallShape(), (in, plan, d) -> {
            if (host) {
                int k = 2 + rnd.nextInt(2);
                Tensor[] a = args(d);
                a[k] = Tensor.wrap(a[k].segment().asReadOnly(), a[k].dtype(), a[k].shape());
                expectArg("bad.readOnly", NAMES[k], "read-only " + NAMES[k], () -> decodeWith(plan, a));
            }
            Tensor dst = Tensor.wrap(in.arena.allocate(d.lse.byteSize(), 64).asReadOnly(), DType.FP32, d.lse.shape());
            expectArg("bad.readOnly", "dst", "copy into a read-only host tensor", () -> be.copy(d.lse, dst));
        });
    }

    // ------------------------------------------------------------------ the cache-geometry axis

    /** Width pairs (d_c, d_r) models use, DeepSeek's first; random multiples of 16 are drawn beside them. */
    private static final int[][] WIDTHS = {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}, {80, 16}};

    /** Widest random d_qk: in CI twice DeepSeek's (cost), else the limit. */
    private int maxDqk() { return budget == Budget.CI ? 2 * Mla.D_QK : Geometry.MAX_D_QK; }

    private CacheFormat randomFormat() {
        CacheFormat[] fs = CacheFormat.values();
        return rnd.nextBoolean() ? CacheFormat.PLAIN : fs[1 + rnd.nextInt(fs.length - 1)];
    }

    /** A valid geometry: page 1..256, a known pair or random widths (d_qk <= maxDqk), any format. */
    private Geometry randomGeometry(int maxDqk) {
        int page = 1 << rnd.nextInt(9);
        if (rnd.nextInt(5) < 3) {
            int[] w = WIDTHS[rnd.nextInt(WIDTHS.length)];
            return new Geometry(page, w[0], w[1], randomFormat());
        }
        int units = maxDqk / Geometry.WIDTH_MULTIPLE;
        int dr = 1 + rnd.nextInt(Math.min(8, units - 1)); // RoPE parts stay narrow (16..128), as in models
        int dc = 1 + rnd.nextInt(units - dr);
        return new Geometry(page, dc * Geometry.WIDTH_MULTIPLE, dr * Geometry.WIDTH_MULTIPLE, randomFormat());
    }

    /** d_qk at the limit (or just under it), for steps of one row. */
    private Geometry limitGeometry() {
        int dr = new int[] {16, 64, 512}[rnd.nextInt(3)];
        int dqk = Geometry.MAX_D_QK - Geometry.WIDTH_MULTIPLE * rnd.nextInt(2);
        return new Geometry(1 << rnd.nextInt(9), dqk - dr, dr, randomFormat());
    }

    /** A geometry the backend takes (a few draws, else DeepSeek's, which every backend takes). */
    private Geometry supportedGeometry() {
        for (int i = 0; i < 8; i++) {
            Geometry g = randomGeometry(maxDqk());
            try {
                be.checkSupported(g);
                return g;
            } catch (IllegalArgumentException e) {
                // draw again
            }
        }
        return Geometry.DEEPSEEK;
    }

    /** Whether the backend takes g; a refusal must be an IllegalArgumentException naming "geometry" (counted). */
    private boolean takes(Geometry g, String cls) {
        stats.calls.incrementAndGet();
        try {
            be.checkSupported(g);
            return true;
        } catch (IllegalArgumentException e) {
            if (e.getMessage() == null || !e.getMessage().startsWith("geometry:")) {
                stats.fail(Kind.BAD_ERROR, cls, "checkSupported(" + g + ") refused without naming 'geometry': " + e.getMessage()
                        + " (case " + caseNo + ")");
            }
            stats.refuse();
            return false;
        }
    }

    /** 0, 1, the edges of the first two pages, or anything up to max. */
    private int pagedLen(int max, int page) {
        int v = switch (rnd.nextInt(8)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> page - 1 + rnd.nextInt(3);
            case 3 -> 2 * page - 1 + rnd.nextInt(3);
            default -> rnd.nextInt(max + 1);
        };
        return Math.min(v, max);
    }

    /**
     * A ragged step of geometry g: s_q 1..4 (causal three times in four), bf16/fp16, lengths shorter as rows and
     * d_qk grow (cost ~ rows * s_k * d_qk) but long enough to span two pages where that stays cheap. One row if tiny.
     */
    private Shape geometryShape(Geometry g, boolean tiny) {
        int sq = tiny ? 1 : 1 + rnd.nextInt(4);
        int cap = tiny ? 1 : budget.maxRows;
        List<Integer> fit = new ArrayList<>();
        for (int h : heads) if ((long) h * sq <= cap) fit.add(h);
        if (fit.isEmpty()) { fit.add(heads[0]); sq = 1; }
        int hq = fit.get(rnd.nextInt(fit.size()));
        long work = (long) budget.maxSeqlen * 16 * Mla.D_QK;
        int maxLen = (int) Math.max(Math.min(2L * g.pageSize() + 2, 300), work / ((long) hq * sq * g.dQk()));
        maxLen = Math.min(maxLen, 4 * budget.maxSeqlen);
        int[] lens = new int[1 + rnd.nextInt(budget.maxBatch + 1)];
        for (int i = 0; i < lens.length; i++) lens[i] = pagedLen(maxLen, g.pageSize());
        float scale = rnd.nextBoolean() ? g.defaultScale() : 0.02f + 0.1f * rnd.nextFloat();
        DType dt = rnd.nextBoolean() ? DType.BF16 : DType.FP16;
        return new Shape(lens, hq, sq, dt, rnd.nextInt(4) != 0, scale, g);
    }

    /**
     * valid.geometry: a random geometry and a ragged step of it on scattered pages, judged against the fp64 oracle
     * like valid.step. A geometry the backend refuses (checkSupported) is counted, plan must refuse it too, and a
     * geometry it takes is run instead (so backends that take few, ascend, still run a step per case).
     */
    private void validGeometry() throws Exception {
        boolean tiny = rnd.nextInt(10) == 0;
        Geometry g = tiny ? limitGeometry() : randomGeometry(maxDqk());
        if (!takes(g, "valid.geometry")) {
            Shape one = new Shape(new int[] {1}, heads[0], 1, DType.BF16, true, g.defaultScale(), g);
            try (Inputs in = new Inputs(one, false)) {
                expectArg("valid.geometry", "geometry", "plan of refused " + g, () -> be.plan(in.spec()).close());
            }
            g = supportedGeometry();
            tiny = false;
        }
        validStep(geometryShape(g, tiny), false, "valid.geometry");
    }

    /**
     * bad.geometry: malformed geometries (page size, widths, d_qk, nulls), decode tensors or kvScale that disagree
     * with the plan's geometry, and a table too narrow for a smaller page: each an IllegalArgumentException naming
     * the argument the library names (Checks.geometry, Checks.decodeGeometry, Checks.kvScale, Checks.stepContents).
     */
    private void badGeometry() throws Exception {
        String cls = "bad.geometry";
        switch (rnd.nextInt(9)) {
            case 0 -> {
                int[] bad = {0, -1, 3, 6, 12, 100, 255, 257, 384, 512, 1024, 1 << 30, Integer.MIN_VALUE, Integer.MAX_VALUE};
                int p = bad[rnd.nextInt(bad.length)];
                Geometry ok = randomGeometry(Mla.D_QK);
                if (rnd.nextBoolean()) expectArg(cls, "pageSize", "page size " + p, () -> new Geometry(p, ok.dC(), ok.dR()));
                else expectArg(cls, "pageSize", "withPageSize(" + p + ")", () -> ok.withPageSize(p));
            }
            case 1 -> { // one width no positive multiple of 16, the other valid
                int[] bad = {0, -16, -1, 1, 8, 15, 17, 24, 100, 520, Integer.MIN_VALUE, Integer.MIN_VALUE + 16,
                        Integer.MAX_VALUE};
                int w = bad[rnd.nextInt(bad.length)], page = 1 << rnd.nextInt(9);
                boolean latent = rnd.nextBoolean();
                CacheFormat f = randomFormat();
                expectArg(cls, latent ? "dC" : "dR", (latent ? "d_c " : "d_r ") + w,
                        () -> new Geometry(page, latent ? w : 512, latent ? 64 : w, f));
            }
            case 2 -> { // both widths valid, the sum over the limit (in long math): Checks.geometry names dC
                int[][] pairs = {{4096, 16}, {4000, 112}, {2048, 2064}, {16, 4096}, {1 << 30, 64}, {0x7FFFFFF0, 0x7FFFFFF0}};
                int[] w = pairs[rnd.nextInt(pairs.length)];
                CacheFormat f = randomFormat();
                expectArg(cls, "dC", "d_qk " + ((long) w[0] + w[1]), () -> new Geometry(1 << rnd.nextInt(9), w[0], w[1], f));
            }
            case 3 -> nullGeometry(cls);
            case 4, 5, 6, 7 -> geometryDecodeMisuse(cls);
            default -> narrowTable(cls);
        }
    }

    private void nullGeometry(String cls) throws Exception {
        switch (rnd.nextInt(4)) {
            case 0 -> expectArg(cls, "format", "null format", () -> new Geometry(64, 512, 64, null));
            case 1 -> expectArg(cls, "geometry", "checkSupported(null)", () -> be.checkSupported((Geometry) null));
            default -> {
                try (Inputs in = new Inputs(smallShape(), false)) {
                    PlanSpec s = in.spec();
                    if (rnd.nextBoolean()) expectArg(cls, "geometry", "withGeometry(null)", () -> s.withGeometry(null));
                    else expectArg(cls, "geometry", "PlanSpec.of(..., null)", () -> PlanSpec.of(s.seqlens(), s.blockTable(),
                            s.numCacheBlocks(), s.numHeads(), s.queryLen(), s.dtype(), null));
                }
            }
        }
    }

    /** A width next to w: one multiple of 16 off, or off the grid. */
    private long otherWidth(long w) {
        return switch (rnd.nextInt(3)) {
            case 0 -> w + Geometry.WIDTH_MULTIPLE;
            case 1 -> w > Geometry.WIDTH_MULTIPLE ? w - Geometry.WIDTH_MULTIPLE : 2 * w;
            default -> w + 1;
        };
    }

    /** A valid step of a geometry the backend takes; one decode argument disagrees with the plan's geometry. */
    private void geometryDecodeMisuse(String cls) throws Exception {
        Geometry g = supportedGeometry();
        try (Inputs in = new Inputs(geometryShape(g, false), false); Device d = upload(in); MlaPlan plan = plan(in.spec())) {
            Tensor[] a = args(d);
            float kv = in.kvScale;
            int k = rnd.nextInt(4);
            if (k == 3) { // kvScale: fp8_e4m3 needs a finite positive normal one, every other format exactly 1
                float[] bad = g.format().takesTensorScale()
                        ? new float[] {Float.NaN, 0f, -0f, -kv, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE}
                        : new float[] {0f, 2f, 0.5f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Math.nextUp(1f)};
                float v = bad[rnd.nextInt(bad.length)];
                expectArg(cls, "kvScale", "kvScale " + v + " on " + g, () -> be.decode(plan, a[0], a[1], v, a[2], a[3]));
            } else {
                long[] shape = a[k].shape();
                DType dt = a[k].dtype();
                String what;
                int last = shape.length - 1;
                if (k == 1 && rnd.nextBoolean()) {
                    if (rnd.nextBoolean()) { // a cache of another page size
                        shape[1] = rnd.nextBoolean() ? 2 * shape[1] : Math.max(1, shape[1] / 2) + (shape[1] == 1 ? 1 : 0);
                        what = "kCache page " + shape[1];
                    } else { // the other storage: 16-bit for an fp8 plan, fp8 bytes for a plain one
                        dt = g.format().isFp8() ? in.s.dt : DType.FP8_E4M3;
                        shape = g.withFormat(g.format().isFp8() ? CacheFormat.PLAIN : CacheFormat.FP8_E4M3).cacheShape(shape[0]);
                        what = "kCache of " + dt;
                    }
                } else if (k == 0 && rnd.nextBoolean()) {
                    shape[last] = g.dV(); // the value width where the key width belongs
                    what = "q of d_v";
                } else if (k == 2 && rnd.nextBoolean()) {
                    shape[last] = g.dQk();
                    what = "out of d_qk";
                } else {
                    shape[last] = otherWidth(shape[last]);
                    what = NAMES[k] + " last dim " + shape[last];
                }
                Tensor wrong = alloc(dt, shape);
                a[k] = wrong;
                try {
                    expectArg(cls, NAMES[k], what + " against " + g, () -> be.decode(plan, a[0], a[1], kv, a[2], a[3]));
                } finally {
                    wrong.close();
                }
            }
            if (rnd.nextInt(3) == 0) { // the plan and tensors are untouched: still right
                judge("state.afterMisuse", in, truth(in, in.q, in.cache), decodeAndRead(plan, in, d), false);
            }
        }
    }

    /** A spec of a page a quarter (or less) of the table's: whole pages then need more columns than it has. */
    private void narrowTable(String cls) throws Exception {
        int page = 4 << rnd.nextInt(7);
        Geometry g = new Geometry(page, 128, 32);
        int[] lens = new int[1 + rnd.nextInt(2)];
        Arrays.fill(lens, page * (1 + rnd.nextInt(2))); // one length: the first sequence checked already overflows
        try (Inputs in = new Inputs(new Shape(lens, heads[0], 1, DType.BF16, true, g.defaultScale(), g), false)) {
            Geometry small = g.withPageSize(page >> (2 + rnd.nextInt(Integer.numberOfTrailingZeros(page) - 1)));
            expectArg(cls, "seqlens", "page " + page + " table under " + small,
                    () -> be.plan(in.spec().withGeometry(small)).close());
        }
    }

    // ------------------------------------------------------------------ invalid classes (allocate, copy, Tensor)

    private void badAllocate() {
        long[][] shapes = {{1L << 62}, {Long.MAX_VALUE, 2}, {1L << 32, 1L << 32}, {-1}, {4, -7}, {Long.MIN_VALUE}, null};
        long[] shape = shapes[rnd.nextInt(shapes.length)];
        DType dt = rnd.nextInt(5) == 0 ? null : DType.values()[rnd.nextInt(4)];
        String arg = dt == null ? "dtype" : "shape";
        expectArg("bad.allocate", arg, "allocate(" + dt + ", " + Arrays.toString(shape) + ")", () -> be.allocate(dt, shape).close());
        MemorySegment small = MemorySegment.ofArray(new byte[16]);
        if (shape != null && dt != null) {
            expectArg("bad.allocate", "shape", "wrap 16 bytes as " + Arrays.toString(shape), () -> Tensor.wrap(small, dt, shape));
        }
    }

    private void badCopy() throws Exception {
        try (Arena a = Arena.ofConfined(); Tensor d = alloc(DType.BF16, 8 + rnd.nextInt(64))) {
            Tensor h = Tensor.allocate(a, DType.BF16, d.shape());
            switch (rnd.nextInt(6)) {
                case 0 -> {
                    boolean srcNull = rnd.nextBoolean();
                    expectArg("bad.copy", srcNull ? "src" : "dst", "null side", () -> {
                        if (srcNull) be.copy(null, d); else be.copy(h, null);
                    });
                }
                case 1 -> expectArg("bad.copy", "dst", "dtype mismatch", () -> be.copy(h, Tensor.allocate(a, DType.FP16, d.shape())));
                case 2 -> expectArg("bad.copy", "dst", "size mismatch", () -> be.copy(h, Tensor.allocate(a, DType.BF16, d.numel() + 1)));
                case 3 -> {
                    Tensor gone = Tensor.allocate(DType.BF16, d.shape());
                    gone.close();
                    expectState("bad.copy", "src", "closed host src", () -> be.copy(gone, d));
                }
                case 4 -> {
                    Tensor foreign = Tensor.onDevice(host ? "cuda:3" : "elsewhere:1", 4096, DType.BF16, d.shape(), null);
                    expectArg("bad.copy", "src", "foreign device src", () -> be.copy(foreign, d));
                }
                default -> {
                    copy(h, d); // valid: and back
                    Tensor back = Tensor.allocate(a, DType.BF16, d.shape());
                    copy(d, back);
                }
            }
        }
    }

    private void badTensorApi() {
        long n = 1 + rnd.nextInt(16);
        try (Arena a = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(a, DType.FP32, n);
            switch (rnd.nextInt(5)) {
                case 0 -> expectArg("bad.tensorApi", "device", "onDevice(\"host\")",
                        () -> Tensor.onDevice("host", 4096, DType.BF16, new long[] {n}, null));
                case 1 -> expectArg("bad.tensorApi", "i", "index " + n, () -> t.getFloat(rnd.nextBoolean() ? n : -1));
                case 2 -> expectArg("bad.tensorApi", "i", "dim index", () -> t.dim(1 + rnd.nextInt(3)));
                case 3 -> expectArg("bad.tensorApi", "values", "ofInts(null)", () -> Tensor.ofInts(a, null, n));
                default -> expectArg("bad.tensorApi", "shape", "ofInts shape", () -> Tensor.ofInts(a, new int[(int) n], -n));
            }
        }
    }

    private void unsupported() throws Exception {
        // a shape the backend itself cannot run (ascend: h_q > 128); others: nothing to refuse beyond the shared limits
        if (!be.name().equals("ascend")) {
            expectArg("bad.unsupported", "numHeads", "h_q beyond MAX_ROWS", () -> be.checkSupported(Mla.MAX_ROWS + 1, 1, DType.BF16));
            return;
        }
        try (Inputs in = new Inputs(smallShape(), false)) {
            PlanSpec s = in.spec();
            int hq = 129 + rnd.nextInt(200);
            expectArg("bad.unsupported", "numHeads", "ascend h_q " + hq,
                    () -> be.plan(new PlanSpec(s.seqlens(), s.blockTable(), s.numCacheBlocks(), hq, 1, s.dtype(), s.causal(), s.scale())).close());
        }
    }

    /** A second backend, closed: everything on it refuses with IllegalStateException, and its tensors read as closed. */
    private void closedBackend() throws Exception {
        MlaBackend other = call(opener::get);
        Tensor t;
        MlaPlan p;
        try (Inputs in = new Inputs(smallShape(), false)) {
            t = call(() -> other.allocate(DType.BF16, in.q.shape()));
            p = call(() -> other.plan(in.spec()));
            callV(other::close);
            String cls = "closedBackend";
            expectState(cls, null, "allocate on a closed backend", () -> other.allocate(DType.BF16, 4));
            expectState(cls, null, "plan on a closed backend", () -> other.plan(in.spec()));
            expectState(cls, null, "synchronize on a closed backend", other::synchronize);
            expectState(cls, null, "copy on a closed backend", () -> other.copy(in.q, t));
            expectState(cls, null, "decode on a closed backend", () -> other.decode(p, t, t, t, t));
            callV(other::close); // idempotent
            if (!t.isClosed()) {
                // never hand a freed device pointer to a live backend: record it instead
                stats.fail(Kind.MISUSE_ACCEPTED, cls, "a tensor of a closed " + other.name() + " backend is not marked closed (case " + caseNo + ")");
            } else if (!host || rnd.nextBoolean()) {
                Tensor hostQ = in.q;
                expectState(cls, "dst", "copy into a tensor of a closed backend", () -> be.copy(hostQ, t));
            }
        }
    }

    // ------------------------------------------------------------------ cycles and soak

    volatile long lastProgress = System.nanoTime();

    /** Memory now: "rss=...KiB device=..." and the raw numbers (rss KiB, device in its unit, -1 where unknown). */
    long[] memoryNow() {
        System.gc();
        return new long[] {Probes.rssKiB().orElse(-1), Probes.deviceInUse(be).orElse(-1)};
    }

    /** One full step lifecycle on the backend: plan, allocate, copy, decode, synchronize, close everything. */
    private void cycle(Inputs in, boolean check) throws Exception {
        try (Device d = upload(in); MlaPlan plan = plan(in.spec())) {
            float[][] got = decodeAndRead(plan, in, d);
            if (check) judge("cycles", in, truth(in, in.q, in.cache), got, false);
        }
    }

    /**
     * --cycles N: N plan/allocate/copy/decode/close cycles over a few fixed small steps after a warm-up;
     * device memory (cuda: cuMemGetInfo after trimWorkspace; ascend emulator: live allocations) must be back
     * at its baseline and RSS must stay flat (under 64 MiB of growth). Returns the memory report.
     */
    String cycles(int n) throws Exception {
        List<Inputs> pool = new ArrayList<>();
        for (int i = 0; i < 4; i++) pool.add(new Inputs(smallShape(), false));
        try {
            for (int i = 0; i < Math.min(200, n); i++) cycle(pool.get(i % 4), i < 4);
            long[] before = memoryNow();
            for (int i = 0; i < n; i++) {
                lastProgress = System.nanoTime();
                current = "cycles #" + i;
                stats.cas("cycles");
                cycle(pool.get(i % 4), i % 500 == 0);
            }
            long[] after = memoryNow();
            String rep = memoryReport(before, after);
            long devLimit = be.name().equals("cuda") ? 2L << 20 : 0;
            if (before[0] >= 0 && after[0] - before[0] > 64 * 1024) stats.fail(Kind.MEMORY, "cycles", "RSS grew " + rep);
            if (before[1] >= 0 && after[1] - before[1] > devLimit) stats.fail(Kind.MEMORY, "cycles", "device memory not back to baseline: " + rep);
            return "cycles=" + n + "," + rep;
        } finally {
            for (Inputs in : pool) in.close();
        }
    }

    String memoryReport(long[] before, long[] after) {
        String rss = before[0] < 0 ? "rss=n/a" : String.format("rss-growth=%.1fMiB(%d->%dKiB)", (after[0] - before[0]) / 1024.0, before[0], after[0]);
        String dev = before[1] < 0 ? "device=" + Probes.noDeviceProbe(be).replace(' ', '_')
                : "device-growth=" + (after[1] - before[1]) + Probes.deviceUnit(be) + "(" + before[1] + "->" + after[1] + ")";
        return rss + "," + dev;
    }

    /**
     * --soak SECONDS: one backend serving a mixed stream of steps (b, lengths, h_q, s_q vary; 1-4 layers a
     * step), every 8th step checked against the oracle; memory sampled through the run, growth measured
     * from the end of a warm-up (a tenth of the time) to the end.
     */
    String soak(double seconds) throws Exception {
        long start = System.nanoTime(), end = start + (long) (seconds * 1e9), warm = start + (long) (seconds * 1e8);
        long[] base = null, peak = {0, 0}, last = null;
        long steps = 0, decodes = 0, checked = 0, nextSample = 0;
        while (System.nanoTime() < end) {
            lastProgress = System.nanoTime();
            current = "soak step " + steps;
            Shape s = randomShape();
            boolean check = steps % 8 == 0;
            stats.cas("soak");
            try (Inputs in = new Inputs(s, false); Device d = upload(in); MlaPlan plan = plan(in.spec())) {
                int layers = 1 + rnd.nextInt(4);
                for (int l = 0; l < layers; l++) {
                    float[][] got = decodeAndRead(plan, in, d);
                    decodes++;
                    if (check && l == 0) {
                        judge("soak", in, truth(in, in.q, in.cache), got, false);
                        checked++;
                    }
                }
            } catch (Exception e) {
                stats.fail(Kind.UNEXPECTED, "soak", "step " + steps + ": " + e);
            }
            steps++;
            long now = System.nanoTime();
            if (now >= warm && base == null) { base = memoryNow(); nextSample = now + (long) (seconds * 5e7); }
            if (base != null && now >= nextSample) {
                last = memoryNow();
                peak[0] = Math.max(peak[0], last[0]);
                peak[1] = Math.max(peak[1], last[1]);
                nextSample = now + (long) (seconds * 5e7);
            }
        }
        last = memoryNow();
        if (base == null) base = last;
        String rep = memoryReport(base, last) + String.format(",rss-peak=%dKiB", Math.max(peak[0], last[0]));
        if (base[0] >= 0 && last[0] - base[0] > 64 * 1024) stats.fail(Kind.MEMORY, "soak", "RSS grew " + rep);
        long devLimit = be.name().equals("cuda") ? 2L << 20 : 0;
        if (base[1] >= 0 && last[1] - base[1] > devLimit) stats.fail(Kind.MEMORY, "soak", "device memory grew " + rep);
        return "steps=" + steps + ",decodes=" + decodes + ",checked=" + checked + "," + rep;
    }

    @Override
    public void close() {
        pair.shutdownNow();
        oracle.close();
    }
}
