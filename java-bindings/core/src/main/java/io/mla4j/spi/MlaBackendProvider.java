package io.mla4j.spi;

import io.mla4j.MlaBackend;
import java.util.Optional;

/**
 * Makes a backend available to {@link io.mla4j.MlaBackends}, found through {@link java.util.ServiceLoader}
 * (module {@code provides}, or META-INF/services on the class path). Adding a backend touches no API file.
 */
public interface MlaBackendProvider {
    /** The name users select it by. */
    String name();

    /** Higher is preferred when picking automatically (cuda 100, real ascend 90, cpu 50, emulated ascend 10, reference 1);
     *  below {@link io.mla4j.MlaBackends#AUTO_MIN_PRIORITY} only by name. */
    int priority();

    /** Empty when the backend can run here; otherwise why not (e.g. "no CUDA driver: libcuda.so.1 not found"). Cheap. */
    Optional<String> unavailableReason();

    /** Creates the backend; called only when {@link #unavailableReason()} is empty. Throws
     *  {@link io.mla4j.BackendUnavailableException} when it cannot after all. */
    MlaBackend create();

    /** What it runs on, one line for listings (e.g. "the CPU emulator of the ACL runtime"); empty by default. */
    default String summary() { return ""; }
}
