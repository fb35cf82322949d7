package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code CUlaunchConfig} for cuLaunchKernelEx with one launch attribute, built once per plan (CudaPlan).
 * Layout (cuda.h, x86-64): 7 x uint32 grid/block/smem, pad, CUstream at 32, CUlaunchAttribute* at 40,
 * uint32 count at 48 (56 bytes); CUlaunchAttribute = uint32 id, pad, 64-byte value union (72 bytes).
 */
final class LaunchConfig {
    static final int CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4;
    static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private final MemorySegment config;

    private LaunchConfig(Arena arena, int gx, int gy, int gz, int bx, int smem, long stream, int attrId, int... values) {
        config = arena.allocate(56, 8);
        MemorySegment attr = arena.allocate(72, 8);
        int[] dims = {gx, gy, gz, bx, 1, 1, smem};
        for (int i = 0; i < dims.length; i++) config.set(ValueLayout.JAVA_INT, 4L * i, dims[i]);
        config.set(ValueLayout.JAVA_LONG, 32, stream);
        config.set(ValueLayout.ADDRESS, 40, attr);
        config.set(ValueLayout.JAVA_INT, 48, 1);
        attr.set(ValueLayout.JAVA_INT, 0, attrId);
        for (int i = 0; i < values.length; i++) attr.set(ValueLayout.JAVA_INT, 8 + 4L * i, values[i]);
    }

    /**
     * Programmatic dependent launch: the kernel may start while the previous kernel on the stream finishes,
     * and must itself wait ({@code griddepcontrol.wait}) before reading what that kernel wrote.
     */
    static LaunchConfig programmatic(Arena arena, int gx, int gy, int gz, int bx, int smem, long stream) {
        return new LaunchConfig(arena, gx, gy, gz, bx, smem, stream, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, 1);
    }

    /** Thread-block clusters of cx x cy x cz CTAs (each grid dimension a multiple of the cluster's). */
    static LaunchConfig cluster(Arena arena, int gx, int gy, int gz, int bx, int smem, long stream, int cx, int cy, int cz) {
        return new LaunchConfig(arena, gx, gy, gz, bx, smem, stream, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, cx, cy, cz);
    }

    MemorySegment segment() { return config; }
}
