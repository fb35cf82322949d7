package io.mla4j.cuda;

import io.mla4j.MlaBackend;
import io.mla4j.spi.MlaBackendProvider;
import java.util.Optional;

/**
 * Makes the CUDA backend available (priority 100). {@link #unavailableReason()} probes, cheapest first:
 * the driver library, a device, JCuda's natives, the kernel fatbin; each failure is a reason, never a crash.
 */
public final class CudaBackendProvider implements MlaBackendProvider {
    private static volatile Optional<String> cached;

    @Override public String name() { return "cuda"; }
    @Override public int priority() { return 100; }

    @Override
    public Optional<String> unavailableReason() {
        Optional<String> r = cached;
        if (r == null) cached = r = probe();
        return r;
    }

    static Optional<String> probe() {
        try {
            Class.forName("io.mla4j.cuda.Cu"); // loads libcuda.so.1 and binds the entry points
        } catch (ClassNotFoundException e) {
            return Optional.of("internal: " + e);
        } catch (ExceptionInInitializerError | UnsatisfiedLinkError | NoClassDefFoundError e) {
            Throwable c = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            return Optional.of("no CUDA driver: libcuda.so.1 could not be loaded (" + c.getMessage() + ")");
        }
        try {
            int n = Cu.deviceCount();
            if (n == 0) return Optional.of("no CUDA device: the driver reports 0 devices");
        } catch (CudaException e) {
            return Optional.of("no usable CUDA device: " + e.getMessage());
        }
        try {
            Jcu.load();
        } catch (LinkageError | RuntimeException e) {
            return Optional.of("JCuda natives failed to load (libJCudaDriver-12.6.0): " + e);
        }
        if (Module.read(DecodeKernels.FATBIN_PROPERTY, DecodeKernels.FATBIN_RESOURCE) == null) {
            return Optional.of("the kernel fatbin " + DecodeKernels.FATBIN_RESOURCE + " is not on the class path (mla4j-kernels-cuda)");
        }
        return Optional.empty();
    }

    @Override
    public MlaBackend create() { return CudaBackend.open(); }
}
