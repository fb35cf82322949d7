package io.mla4j.bench;

import io.mla4j.DType;
import io.mla4j.cpu.CpuBackend;
import io.mla4j.cpu.CpuKernel;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * One decode call of the cpu backend on the two target shapes, bf16 and fp16, per kernel: "vector" (the
 * Java Vector API), "native" (the fastest native path here: amx, else avx512bf16) or a named one. A kernel
 * that cannot run here fails its setup with the reason (JMH reports it and goes on with the others).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
public class DecodeBench {
    @Param({"b8_sk8192_h16_sq1", "b8_sk4096_h128_sq2"})
    public String shape;
    @Param({"bf16", "fp16"})
    public String dtype;
    @Param({"plain"})
    public String rescale;
    @Param({"vector", "native"})
    public String kernel;

    private DecodeSetup setup;

    @Setup(Level.Trial)
    public void setUp() {
        CpuKernel k = kernel.equals("native") ? CpuKernel.AUTO : CpuKernel.parse(kernel);
        CpuBackend be = new CpuBackend(CpuBackend.Rescale.valueOf(rescale.toUpperCase(Locale.ROOT)),
                Runtime.getRuntime().availableProcessors(), k);
        if (!kernel.equals("vector") && !be.kernel().isNative()) {
            be.close();
            throw new IllegalStateException("kernel " + kernel + " cannot run here: " + be.description());
        }
        setup = new DecodeSetup(be, DecodeShape.parse(shape), DType.parse(dtype), 42);
    }

    @Benchmark
    public void decode() { setup.decode(); }

    @TearDown(Level.Trial)
    public void tearDown() { setup.close(); }
}
