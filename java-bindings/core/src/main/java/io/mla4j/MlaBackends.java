package io.mla4j;

import io.mla4j.spi.MlaBackendProvider;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Finds backends. {@link #open()} picks the best available one (highest priority that can run here),
 * unless the system property {@value #PROPERTY} (or env MLA4J_BACKEND) names one; it logs one line
 * saying which was picked and why the others were not.
 */
public final class MlaBackends {
    /** System property forcing a backend by name, e.g. {@code -Dmla4j.backend=cpu}. */
    public static final String PROPERTY = "mla4j.backend";
    private static final System.Logger LOG = System.getLogger("io.mla4j");

    private MlaBackends() {}

    /** One provider and whether it can run here. */
    public record Status(String name, int priority, Optional<String> unavailableReason) {
        public boolean available() { return unavailableReason.isEmpty(); }
    }

    /** Every backend on the class/module path, best first, with its availability. */
    public static List<Status> list() {
        List<Status> out = new ArrayList<>();
        for (MlaBackendProvider p : providers()) out.add(new Status(p.name(), p.priority(), safeReason(p)));
        return out;
    }

    /** The best available backend, or the one named by {@value #PROPERTY} / MLA4J_BACKEND. */
    public static MlaBackend open() {
        String forced = System.getProperty(PROPERTY, System.getenv("MLA4J_BACKEND"));
        if (forced != null && !forced.isBlank()) return open(forced.trim());
        List<MlaBackendProvider> all = providers();
        List<String> skipped = new ArrayList<>();
        for (MlaBackendProvider p : all) {
            Optional<String> why = safeReason(p);
            if (why.isPresent()) {
                skipped.add(p.name() + " (" + why.get() + ")");
                continue;
            }
            MlaBackend be = p.create();
            String others = all.stream().filter(o -> o != p && safeReason(o).isEmpty() && o.priority() < p.priority())
                    .map(o -> o.name() + " (lower priority)").collect(Collectors.joining(", "));
            List<String> notes = new ArrayList<>(skipped);
            if (!others.isEmpty()) notes.add(others);
            LOG.log(System.Logger.Level.INFO, "mla4j: using backend '" + p.name() + "': " + be.description()
                    + (notes.isEmpty() ? "" : "; not chosen: " + String.join(", ", notes)));
            return be;
        }
        throw new IllegalStateException("no mla4j backend can run here: " + String.join(", ", skipped));
    }

    /** The backend with this name; throws naming the known ones, or saying why it cannot run. */
    public static MlaBackend open(String name) {
        List<MlaBackendProvider> all = providers();
        for (MlaBackendProvider p : all) {
            if (!p.name().equalsIgnoreCase(name)) continue;
            Optional<String> why = safeReason(p);
            if (why.isPresent()) throw new IllegalStateException("backend '" + name + "' cannot run here: " + why.get());
            MlaBackend be = p.create();
            LOG.log(System.Logger.Level.INFO, "mla4j: using backend '" + p.name() + "' (asked for by name): " + be.description());
            return be;
        }
        throw new IllegalArgumentException("unknown backend '" + name + "'; known: "
                + all.stream().map(MlaBackendProvider::name).collect(Collectors.joining(", ")));
    }

    private static List<MlaBackendProvider> providers() {
        List<MlaBackendProvider> list = new ArrayList<>();
        ServiceLoader.load(MlaBackendProvider.class, MlaBackends.class.getClassLoader()).forEach(list::add);
        // de-duplicate (module path and META-INF/services can both list one provider)
        List<MlaBackendProvider> unique = new ArrayList<>();
        for (MlaBackendProvider p : list) {
            if (unique.stream().noneMatch(u -> u.name().equals(p.name()))) unique.add(p);
        }
        unique.sort(Comparator.comparingInt(MlaBackendProvider::priority).reversed());
        return unique;
    }

    private static Optional<String> safeReason(MlaBackendProvider p) {
        try {
            return p.unavailableReason();
        } catch (RuntimeException | LinkageError e) {
            return Optional.of("probe failed: " + e);
        }
    }
}
