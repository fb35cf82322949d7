package io.mla4j.cuda;

import io.mla4j.BackendUnavailableException;
import io.mla4j.MlaBackend;
import io.mla4j.spi.MlaBackendProvider;
import java.util.Optional;

/**
 * Makes the CUDA backend available (priority 100). {@link #unavailableReason()} probes, cheapest first:
 * the kernel image in this build, the driver library, JCuda's natives, a device; each failure is a one-line
 * reason, never a crash.
 */
public final class CudaBackendProvider implements MlaBackendProvider {
    private static volatile Optional<String> cached;

    @Override public String name() { return CudaBackend.NAME; }
    @Override public int priority() { return 100; }

    @Override
    public Optional<String> unavailableReason() {
        Optional<String> r = cached;
        if (r == null) cached = r = probe();
        return r;
    }

    static Optional<String> probe() {
        String file = CudaOptions.fromSystemProperties().fatbin();
        if (file != null && !java.nio.file.Files.isRegularFile(java.nio.file.Path.of(file))) {
            return Optional.of("-D" + CudaOptions.FATBIN + "=" + file + " is not a file");
        }
        if (file == null && !Module.hasResource(DecodeKernels.FATBIN_RESOURCE)) return Optional.of(CudaBackend.NO_KERNEL_IMAGE);
        try {
            Class.forName("io.mla4j.cuda.FfmDriver"); // loads libcuda.so.1 and binds the launch entry points
        } catch (ClassNotFoundException e) {
            return Optional.of("internal: " + e);
        } catch (ExceptionInInitializerError | UnsatisfiedLinkError | NoClassDefFoundError e) {
            Throwable c = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            return Optional.of("no CUDA driver: libcuda.so.1 could not be loaded (" + c.getMessage() + ")");
        }
        try {
            Jcu.load();
        } catch (LinkageError | RuntimeException e) {
            return Optional.of("JCuda natives failed to load (libJCudaDriver-12.6.0): " + CudaBackend.firstLine(e));
        }
        try {
            int n = CudaContext.deviceCount();
            if (n == 0) return Optional.of("no CUDA device: the driver reports 0 devices");
        } catch (CudaException e) {
            return Optional.of("no usable CUDA device: " + e.getMessage());
        }
        return Optional.empty();
    }

    @Override
    public MlaBackend create() {
        try {
            return CudaBackend.open();
        } catch (LinkageError e) {
            throw new BackendUnavailableException(CudaBackend.NAME, CudaBackend.firstLine(e), e);
        }
    }
}
