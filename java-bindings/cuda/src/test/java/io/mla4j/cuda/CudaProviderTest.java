package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.DType;
import io.mla4j.MlaBackends;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Discovery on any machine; a device round trip and the memory baseline where a GPU is present. */
class CudaProviderTest {

    @Test
    void discoveredAndSaysWhyNotWithoutCrashing() {
        CudaBackendProvider p = new CudaBackendProvider();
        assertEquals("cuda", p.name());
        assertEquals(100, p.priority());
        Optional<String> why = p.unavailableReason(); // must not throw on a machine with no driver/GPU
        why.ifPresent(r -> System.out.println("cuda backend unavailable here: " + r));
        assertTrue(MlaBackends.list().stream().anyMatch(s -> s.name().equals("cuda") && s.priority() == 100));
    }

    @Test
    @Tag("gpu")
    void roundTripAndMemoryBaseline() {
        Optional<String> why = new CudaBackendProvider().unavailableReason();
        assumeTrue(why.isEmpty(), () -> "no GPU: " + why.orElse(""));
        try (CudaBackend be = CudaBackend.open(); Arena a = Arena.ofConfined()) {
            be.synchronize();
            long free0 = be.memoryInfo()[0], live0 = be.liveBuffers();
            Tensor h = Tensor.allocate(a, DType.FP32, 1 << 20), back = Tensor.allocate(a, DType.FP32, 1 << 20);
            for (int i = 0; i < 1 << 20; i++) h.setFloat(i, i * 0.5f - 3);
            try (Tensor d = be.allocate(DType.FP32, 256L << 20)) { // 1 GiB: a leak would show in cuMemGetInfo
                Tensor view = be.wrap(d.address() + 4096, DType.FP32, 1 << 20);
                be.copy(h, view);
                be.copy(view, back);
                assertEquals(-1, h.segment().mismatch(back.segment()), "host -> device view -> host round trip");
            }
            be.synchronize();
            assertEquals(live0, be.liveBuffers());
            assertEquals(free0, be.memoryInfo()[0], "device memory back to baseline");
        }
    }
}
