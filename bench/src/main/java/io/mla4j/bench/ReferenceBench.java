package io.mla4j.bench;

import io.mla4j.DType;
import io.mla4j.ref.ReferenceBackend;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * The fp64 reference backend on a slice of each target shape: the same h_q and s_q, one sequence, fewer
 * tokens. Its cost is linear in (sequences x tokens), so the summary scales the time by
 * (b x s_k of the full shape) / (tokens of the slice) to compare with the cpu backend.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 2, time = 3)
public class ReferenceBench {
    /** Slices of b8_sk8192_h16_sq1 and b8_sk4096_h128_sq2 (full / slice tokens: 64 and 128). */
    @Param({"b1_sk1024_h16_sq1", "b1_sk256_h128_sq2"})
    public String slice;
    @Param({"bf16"})
    public String dtype;

    private DecodeSetup setup;

    @Setup(Level.Trial)
    public void setUp() { setup = new DecodeSetup(new ReferenceBackend(), DecodeShape.parse(slice), DType.parse(dtype), 42); }

    @Benchmark
    public void decode() { setup.decode(); }

    @TearDown(Level.Trial)
    public void tearDown() { setup.close(); }
}
