package io.mla4j.ascend;

import io.mla4j.BackendUnavailableException;
import io.mla4j.MlaBackend;
import io.mla4j.spi.MlaBackendProvider;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Registers the "ascend" backend. Priority 90 (above the CPU backend) when a real CANN ACL library is
 * used, 10 (below CPU, above the reference) when it would run on the emulator: the emulator is slow
 * and exists for testing, so {@link io.mla4j.MlaBackends#open()} never picks it (by name only), and
 * {@link #summary()} says which of the two it is.
 */
public final class AscendBackendProvider implements MlaBackendProvider {
    static final int PRIORITY_REAL = 90;
    static final int PRIORITY_EMULATED = 10;

    /** What would be loaded, decided once (cheap: file checks only). */
    private record Choice(AscendLibraries.Runtime runtime, Path kernel, Path tiling, String whyNot) {}

    private volatile Choice choice;

    /** For ServiceLoader. */
    public AscendBackendProvider() {}

    private Choice choice() {
        Choice c = choice;
        if (c == null) {
            List<String> whyNot = new ArrayList<>();
            AscendLibraries.Runtime rt = AscendLibraries.runtime(whyNot).orElse(null);
            if (rt != null && rt.real() && !rt.forced() && AscendLibraries.kernel(true, new ArrayList<>()).isEmpty()) {
                // CANN is installed but no NPU kernel binary was given: the emulator can still run the CPU build
                rt = AscendLibraries.emulatorRuntime("CANN ACL found at " + rt.paths() + " but no kernel binary (-D"
                        + AscendLibraries.KERNEL_PROPERTY + ")", whyNot).orElse(null);
            }
            Path kernel = rt == null ? null : AscendLibraries.kernel(rt.real(), whyNot).orElse(null);
            Path tiling = rt == null || kernel == null ? null : AscendLibraries.tiling(whyNot).orElse(null);
            c = new Choice(rt, kernel, tiling, whyNot.isEmpty() ? null : String.join("; ", whyNot));
            choice = c;
        }
        return c;
    }

    @Override public String name() { return "ascend"; }

    @Override
    public int priority() {
        AscendLibraries.Runtime rt = choice().runtime();
        return rt != null && rt.real() ? PRIORITY_REAL : PRIORITY_EMULATED;
    }

    @Override
    public Optional<String> unavailableReason() { return Optional.ofNullable(choice().whyNot()); }

    @Override
    public String summary() {
        AscendLibraries.Runtime rt = choice().runtime();
        if (rt != null && rt.real()) return "Ascend NPU through CANN ACL " + rt.paths();
        return "the CPU EMULATOR of the ACL runtime and of Ascend C (no NPU; for tests, slow; by name only)";
    }

    @Override
    public MlaBackend create() {
        Choice c = choice();
        if (c.whyNot() != null) throw new BackendUnavailableException(name(), c.whyNot());
        List<Path> acl = c.runtime().paths().isEmpty() ? List.of(AscendLibraries.emulator()) : c.runtime().paths();
        try {
            return new AscendBackend(acl, c.kernel(), c.tiling(), c.runtime().why());
        } catch (LinkageError e) {
            // a library that exists but cannot be loaded (wrong arch, missing dependency): one type, one line
            String m = String.valueOf(e.getMessage());
            throw new BackendUnavailableException(name(), "ACL libraries failed to load: "
                    + (m.contains("\n") ? m.substring(0, m.indexOf('\n')) : m), e);
        }
    }
}
