package io.mla4j;

/**
 * A backend cannot run here: no driver, no device, no kernel image in this build, a missing JVM flag.
 * The one type every backend throws for that (from {@link MlaBackends#open(String)}, a provider's
 * {@code create()}, or a backend that loses its device); link errors of native libraries are wrapped in it.
 */
public final class BackendUnavailableException extends IllegalStateException {
    private static final long serialVersionUID = 1L;
    private final String backend;
    private final String reason;

    public BackendUnavailableException(String backend, String reason) {
        this(backend, reason, null);
    }

    public BackendUnavailableException(String backend, String reason, Throwable cause) {
        super("backend '" + backend + "' cannot run here: " + reason, cause);
        this.backend = backend;
        this.reason = reason;
    }

    /** The backend's name, as {@link MlaBackend#name()} gives it. */
    public String backend() { return backend; }

    /** Why it cannot run, one line. */
    public String reason() { return reason; }
}
