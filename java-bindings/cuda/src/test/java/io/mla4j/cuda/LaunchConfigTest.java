package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The CUlaunchConfig bytes cuLaunchKernelEx reads (cuda.h layout), checked without a GPU. */
class LaunchConfigTest {
    private static int i32(MemorySegment m, long off) { return m.get(ValueLayout.JAVA_INT, off); }

    private static MemorySegment attribute(MemorySegment cfg) {
        return cfg.get(ValueLayout.ADDRESS, 40).reinterpret(72);
    }

    @Test
    void clusterConfigCarriesGridBlockSmemStreamAndClusterDims() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = LaunchConfig.cluster(a, 66, 2, 1, 384, 231592, 0x1234L, 1, 2, 1).segment();
            int[] dims = {66, 2, 1, 384, 1, 1, 231592};
            for (int i = 0; i < dims.length; i++) assertEquals(dims[i], i32(c, 4L * i), "field " + i);
            assertEquals(0x1234L, c.get(ValueLayout.JAVA_LONG, 32));
            assertEquals(1, i32(c, 48), "one attribute");
            MemorySegment attr = attribute(c);
            assertEquals(LaunchConfig.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, i32(attr, 0));
            assertEquals(1, i32(attr, 8));
            assertEquals(2, i32(attr, 12));
            assertEquals(1, i32(attr, 16));
        }
    }

    @Test
    void programmaticConfigAllowsStreamSerialization() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = LaunchConfig.programmatic(a, 4, 8, 4, 256, 0, 7L).segment();
            assertEquals(4, i32(c, 0));
            assertEquals(256, i32(c, 12));
            assertEquals(0, i32(c, 24));
            MemorySegment attr = attribute(c);
            assertEquals(LaunchConfig.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, i32(attr, 0));
            assertEquals(1, i32(attr, 8));
        }
    }
}
