package io.mla4j.cuda;

import io.mla4j.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The kernels of mla4j_baseline.fatbin (kernels-cuda/common/baseline_softmax.cu): the cuBLAS baseline's
 * gather and softmax, and a device-side random fill (so benches need not push GBs over PCIe).
 * Loaded on first use; absent image: a clear error.
 */
final class HelperKernels implements AutoCloseable {
    static final String RESOURCE = "io/mla4j/cuda/mla4j_baseline.fatbin";

    /** struct BaselineArgs (baseline_softmax.cu): 7 pointers, 8 ints, float scale, int unused. */
    static final StructLayout BASELINE_ARGS = MemoryLayout.structLayout(
            JAVA_LONG.withName("k_cache"), JAVA_LONG.withName("block_table"), JAVA_LONG.withName("seqlens"),
            JAVA_LONG.withName("k_gathered"), JAVA_LONG.withName("s"), JAVA_LONG.withName("p"), JAVA_LONG.withName("lse"),
            JAVA_INT.withName("b"), JAVA_INT.withName("s_q"), JAVA_INT.withName("h_q"), JAVA_INT.withName("rows"),
            JAVA_INT.withName("max_blocks"), JAVA_INT.withName("max_sk"), JAVA_INT.withName("causal"), JAVA_INT.withName("dtype"),
            JAVA_FLOAT.withName("scale"), JAVA_INT.withName("unused"));
    /** struct FillArgs: dst, n, seed, dtype, stddev. */
    static final StructLayout FILL_ARGS = MemoryLayout.structLayout(
            JAVA_LONG.withName("dst"), JAVA_LONG.withName("n"), JAVA_LONG.withName("seed"),
            JAVA_INT.withName("dtype"), JAVA_FLOAT.withName("stddev"));

    private final CudaContext ctx;
    private final Module module;
    final Kernel gather, softmax, fill;
    private final Arena arena = Arena.ofShared();
    final MemorySegment fillArgs, fillArgv;

    /** @param file the image file (-Dmla4j.cuda.baselineFatbin), or null for the packaged one */
    HelperKernels(CudaContext ctx, String file) {
        this.ctx = ctx;
        module = Module.load(ctx, file, RESOURCE);
        if (module == null) throw new CudaException(RESOURCE + " is not packaged (mla4j-kernels-cuda, built by scripts/gpu-build-kernels.sh"
                + " from kernels-cuda/common/baseline_softmax.cu), nor given by -D" + CudaOptions.BASELINE_FATBIN);
        gather = kernel("mla4j_baseline_gather");
        softmax = kernel("mla4j_baseline_softmax");
        fill = kernel("mla4j_fill_random");
        fillArgs = arena.allocate(FILL_ARGS);
        fillArgv = arena.allocate(ValueLayout.ADDRESS);
        fillArgv.set(ValueLayout.ADDRESS, 0, fillArgs);
    }

    private Kernel kernel(String name) {
        Jcu.Fn f = module.function(name);
        if (f == null) throw new CudaException("kernel " + name + " is missing from " + module.source);
        return new Kernel(name, f);
    }

    /** Fills {@code n} BF16/FP16 elements at {@code address} with N(0, stddev) values, stream-ordered. */
    synchronized void fillRandom(long address, long n, DType dtype, long seed, float stddev) {
        if (!dtype.isDecodeType() && dtype != DType.FP8_E4M3) {
            throw new IllegalArgumentException("fillRandom: BF16, FP16 or FP8_E4M3, not " + dtype);
        }
        fillArgs.set(JAVA_LONG, 0, address);
        fillArgs.set(JAVA_LONG, 8, n);
        fillArgs.set(JAVA_LONG, 16, seed);
        fillArgs.set(JAVA_INT, 24, dtype == DType.BF16 ? 0 : dtype == DType.FP16 ? 1 : 2); // 2: kFillE4m3
        fillArgs.set(JAVA_FLOAT, 28, stddev);
        int blocks = (int) Math.max(1, Math.min(ctx.smCount * 8L, (n + 255) / 256));
        fill.launch(blocks, 1, 1, 256, 1, 1, 0, ctx.streamHandle(), fillArgv);
    }

    @Override
    public void close() {
        module.close();
        arena.close();
    }
}
