package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A {@code CUlaunchConfig} for cuLaunchKernelEx, built once, carrying the programmatic-dependent-launch
 * attribute: the kernel may start while the previous kernel on the stream finishes, and must itself
 * wait ({@code griddepcontrol.wait}) before reading what that kernel wrote. Layout (cuda.h, x86-64):
 * 7 x uint32 grid/block/smem, pad, CUstream at 32, CUlaunchAttribute* at 40, uint32 count at 48
 * (56 bytes); CUlaunchAttribute = uint32 id, pad, 64-byte value union (72 bytes).
 */
final class LaunchConfig {
    static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private final MemorySegment config;

    LaunchConfig(Arena arena, int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, boolean programmatic) {
        config = arena.allocate(56, 8);
        MemorySegment attr = arena.allocate(72, 8);
        int[] dims = {gx, gy, gz, bx, by, bz, smem};
        for (int i = 0; i < dims.length; i++) config.set(ValueLayout.JAVA_INT, 4L * i, dims[i]);
        config.set(ValueLayout.JAVA_LONG, 32, stream);
        config.set(ValueLayout.ADDRESS, 40, attr);
        config.set(ValueLayout.JAVA_INT, 48, programmatic ? 1 : 0);
        attr.set(ValueLayout.JAVA_INT, 0, CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(ValueLayout.JAVA_INT, 8, 1); // programmaticStreamSerializationAllowed
    }

    MemorySegment segment() { return config; }
}
