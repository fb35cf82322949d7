package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The {@code MlaParams} struct of kernels-cuda/include/mla4j/params.h, byte for byte, in off-heap memory
 * that lives as long as its plan. Every decode-path kernel takes it by value as its one argument, so a
 * launch passes {@link #kernelParams()} (a {@code void*[1]} pointing at the struct): the driver copies
 * the bytes at launch time, which is why {@link #setTensors} may rewrite them right after a launch.
 * A test compiles params.h and compares {@link #offset} with {@code offsetof} for every field.
 */
final class KernelParams {
    /** Must equal MLA4J_PARAMS_VERSION in params.h. */
    static final int VERSION = 6;

    // Fields in declaration order; pointers are 8-byte device addresses.
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("q"), JAVA_LONG.withName("k_cache"), JAVA_LONG.withName("block_table"),
            JAVA_LONG.withName("seqlens"), JAVA_LONG.withName("o"), JAVA_LONG.withName("lse"),
            JAVA_LONG.withName("o_accum"), JAVA_LONG.withName("lse_accum"), JAVA_LONG.withName("sched"),
            JAVA_LONG.withName("split_offsets"), JAVA_LONG.withName("status"), JAVA_LONG.withName("staged"),
            JAVA_INT.withName("b"), JAVA_INT.withName("s_q"), JAVA_INT.withName("h_q"), JAVA_INT.withName("rows"),
            JAVA_INT.withName("max_blocks"), JAVA_INT.withName("num_blocks"), JAVA_INT.withName("num_parts"),
            JAVA_INT.withName("max_splits"), JAVA_INT.withName("causal"), JAVA_INT.withName("dtype"),
            JAVA_FLOAT.withName("scale"), JAVA_FLOAT.withName("scale_log2"),
            JAVA_INT.withName("split_overhead"), JAVA_INT.withName("page_shift"),
            JAVA_INT.withName("cache_format"), JAVA_FLOAT.withName("v_scale"),
            JAVA_INT.withName("d_qk"), JAVA_INT.withName("d_v")).withName("MlaParams");

    static long offset(String field) { return LAYOUT.byteOffset(groupElement(field)); }

    private static final long Q = offset("q"), K = offset("k_cache"), O = offset("o"), LSE = offset("lse");
    private static final long SCALE_LOG2 = offset("scale_log2"), V_SCALE = offset("v_scale");

    private final MemorySegment struct;
    private final MemorySegment argv;

    KernelParams(Arena arena) {
        struct = arena.allocate(LAYOUT);
        argv = arena.allocate(ValueLayout.ADDRESS, 2); // [struct, optional second argument (sm90 tensor map)]
        argv.setAtIndex(ValueLayout.ADDRESS, 0, struct);
    }

    MemorySegment struct() { return struct; }

    /** {@code void* kernelParams[]} for cuLaunchKernel. */
    MemorySegment kernelParams() { return argv; }

    /** Points argv[1] at a second by-value argument (e.g. a CUtensorMap), or clears it. */
    void setSecondArgument(MemorySegment arg) {
        argv.setAtIndex(ValueLayout.ADDRESS, 1, arg == null ? MemorySegment.NULL : arg);
    }

    void setLong(String field, long v) { struct.set(JAVA_LONG, offset(field), v); }
    void setInt(String field, int v) { struct.set(JAVA_INT, offset(field), v); }
    void setFloat(String field, float v) { struct.set(JAVA_FLOAT, offset(field), v); }
    long getLong(String field) { return struct.get(JAVA_LONG, offset(field)); }
    int getInt(String field) { return struct.get(JAVA_INT, offset(field)); }

    /** The per-call part: four device addresses (everything else is fixed per plan). */
    void setTensors(long q, long kCache, long o, long lse) {
        struct.set(JAVA_LONG, Q, q);
        struct.set(JAVA_LONG, K, kCache);
        struct.set(JAVA_LONG, O, o);
        struct.set(JAVA_LONG, LSE, lse);
    }

    /** The per-call scales of an fp8 cache: the softmax scale (log2 units) with the cache's scale folded in, and V's. */
    void setScales(float scaleLog2, float vScale) {
        struct.set(JAVA_FLOAT, SCALE_LOG2, scaleLog2);
        struct.set(JAVA_FLOAT, V_SCALE, vScale);
    }
}
