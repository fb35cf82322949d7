package io.mla4j.bench;

import io.mla4j.cpu.CpuKernel;
import io.mla4j.cpu.WorkerPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.*;

/**
 * This machine's own ceilings, measured in the same run as the decodes they judge, on all cores through
 * the same kind of pool the backend uses: a streaming read of a 1 GiB array (bytes/s), an FMA loop on
 * the backend's species (FLOP/s), and the native kernel's bf16 peaks: a TDPBF16PS tile loop (AMX) and a
 * VDPBF16PS loop (AVX512-BF16), each failing with the reason where it cannot run. The summary turns the
 * times into rates with {@link #STREAM_BYTES}, {@link #fmaFlops} and {@link #dpFlops}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
public class CeilingBench {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED; // the cpu backend's species
    /** Bytes read per streamRead call: far beyond any cache. */
    public static final long STREAM_BYTES = 1L << 30;
    /** FMA steps per chain per worker per fmaLoop call. */
    public static final int FMA_STEPS = 1 << 22;
    /** Independent FMA chains per worker: enough to cover FMA latency x issue width (4 cycles x 2 pipes). */
    public static final int CHAINS = 16;
    static final int THREADS = Runtime.getRuntime().availableProcessors();

    /** FLOPs of one fmaLoop call: 2 per lane per FMA. */
    public static double fmaFlops() { return 2.0 * F.length() * CHAINS * (double) FMA_STEPS * THREADS; }

    /** Iterations of the native peak loops per worker per call (4 TDPBF16PS or 16 VDPBF16PS each). */
    public static final long DP_ITERATIONS = 1L << 20;
    /** FLOPs of one amxTileLoop / avx512bf16Loop call. */
    public static double dpFlops(String method) {
        return (method.equals("amxTileLoop") ? 4.0 * 16 * 16 * 32 * 2 : 16.0 * 16 * 4) * DP_ITERATIONS * THREADS;
    }

    private Arena arena;
    private MemorySegment data;
    private WorkerPool pool;
    private final double[] sinks = new double[THREADS];

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        data = arena.allocate(STREAM_BYTES, 64);
        for (long i = 0; i < STREAM_BYTES; i += 4) data.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, (i & 1023) * 1e-3f);
        pool = new WorkerPool(THREADS, "ceiling");
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    @Benchmark
    public double streamRead() {
        long chunk = STREAM_BYTES / THREADS;
        pool.run(THREADS, (t, worker) -> sinks[t] = sum(data, t * chunk, (t + 1) * chunk));
        double s = 0;
        for (double v : sinks) s += v;
        return s;
    }

    private static double sum(MemorySegment seg, long from, long to) {
        int step = F.vectorByteSize();
        FloatVector a = FloatVector.zero(F), b = a, c = a, d = a;
        ByteOrder bo = ByteOrder.nativeOrder();
        for (long o = from; o + 4L * step <= to; o += 4L * step) {
            a = a.add(FloatVector.fromMemorySegment(F, seg, o, bo));
            b = b.add(FloatVector.fromMemorySegment(F, seg, o + step, bo));
            c = c.add(FloatVector.fromMemorySegment(F, seg, o + 2L * step, bo));
            d = d.add(FloatVector.fromMemorySegment(F, seg, o + 3L * step, bo));
        }
        return a.add(b).add(c).add(d).reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public double fmaLoop() {
        pool.run(THREADS, (t, worker) -> sinks[t] = fmaChains(0.999f + t * 1e-6f));
        double s = 0;
        for (double v : sinks) s += v;
        return s;
    }

    @Benchmark
    public long amxTileLoop() { return peak(CpuKernel.AMX); }

    @Benchmark
    public long avx512bf16Loop() { return peak(CpuKernel.AVX512BF16); }

    private long peak(CpuKernel k) {
        k.unavailableReason().ifPresent(why -> { throw new IllegalStateException(k.id() + " peak loop cannot run here: " + why); });
        long[] done = new long[THREADS];
        pool.run(THREADS, (t, worker) -> done[t] = k.peakLoop(DP_ITERATIONS));
        long s = 0;
        for (long d : done) s += d;
        return s;
    }

    /** 16 independent chains x = x * m + c; they converge to c / (1 - m), so nothing overflows. */
    private static double fmaChains(float m) {
        FloatVector mv = FloatVector.broadcast(F, m), cv = FloatVector.broadcast(F, 1e-3f);
        FloatVector x0 = FloatVector.broadcast(F, 0.0f), x1 = FloatVector.broadcast(F, 0.1f), x2 = FloatVector.broadcast(F, 0.2f),
                x3 = FloatVector.broadcast(F, 0.3f), x4 = FloatVector.broadcast(F, 0.4f), x5 = FloatVector.broadcast(F, 0.5f),
                x6 = FloatVector.broadcast(F, 0.6f), x7 = FloatVector.broadcast(F, 0.7f), x8 = FloatVector.broadcast(F, 0.8f),
                x9 = FloatVector.broadcast(F, 0.9f), x10 = FloatVector.broadcast(F, 1.0f), x11 = FloatVector.broadcast(F, 1.1f),
                x12 = FloatVector.broadcast(F, 1.2f), x13 = FloatVector.broadcast(F, 1.3f), x14 = FloatVector.broadcast(F, 1.4f),
                x15 = FloatVector.broadcast(F, 1.5f);
        for (int i = 0; i < FMA_STEPS; i++) {
            x0 = x0.fma(mv, cv); x1 = x1.fma(mv, cv); x2 = x2.fma(mv, cv); x3 = x3.fma(mv, cv);
            x4 = x4.fma(mv, cv); x5 = x5.fma(mv, cv); x6 = x6.fma(mv, cv); x7 = x7.fma(mv, cv);
            x8 = x8.fma(mv, cv); x9 = x9.fma(mv, cv); x10 = x10.fma(mv, cv); x11 = x11.fma(mv, cv);
            x12 = x12.fma(mv, cv); x13 = x13.fma(mv, cv); x14 = x14.fma(mv, cv); x15 = x15.fma(mv, cv);
        }
        FloatVector s = x0.add(x1).add(x2).add(x3).add(x4).add(x5).add(x6).add(x7)
                .add(x8).add(x9).add(x10).add(x11).add(x12).add(x13).add(x14).add(x15);
        return s.reduceLanes(VectorOperators.ADD);
    }
}
