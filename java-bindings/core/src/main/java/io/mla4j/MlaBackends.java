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
 *
 * <p>Automatic selection never picks a backend of priority below {@value #AUTO_MIN_PRIORITY}: the fp64
 * oracle ({@code reference}, 20-30x slower) and emulators (the {@code ascend} backend on its CPU
 * emulator) run only when asked for by name. When a faster backend than the chosen one is present but
 * cannot run (no driver, a missing {@code --add-modules jdk.incubator.vector}), the line is a WARNING
 * naming the reason, so a misconfigured JVM does not silently measure or test a slower path.
 */
public final class MlaBackends {
    /** System property forcing a backend by name, e.g. {@code -Dmla4j.backend=cpu}. */
    public static final String PROPERTY = "mla4j.backend";
    /** Providers below this priority are used only when asked for by name (oracle, emulators). */
    public static final int AUTO_MIN_PRIORITY = 20;
    private static final System.Logger LOG = System.getLogger("io.mla4j");

    private MlaBackends() {}

    /**
     * One provider and whether it can run here.
     *
     * @param name the name it is selected by
     * @param priority higher is preferred by {@link #open()}
     * @param unavailableReason why it cannot run here; empty when it can
     * @param summary what it runs on, one line (may be empty), e.g. "the CPU emulator of the ACL runtime"
     */
    public record Status(String name, int priority, Optional<String> unavailableReason, String summary) {
        /** True when it can run here. */
        public boolean available() { return unavailableReason.isEmpty(); }

        /** True when {@link #open()} may pick it (else only {@link #open(String)} by name). */
        public boolean autoSelectable() { return priority >= AUTO_MIN_PRIORITY; }
    }

    /**
     * Every backend on the class/module path, best first, with its availability.
     *
     * @return one status per provider, highest priority first
     */
    public static List<Status> list() {
        List<Status> out = new ArrayList<>();
        for (MlaBackendProvider p : providers()) out.add(new Status(p.name(), p.priority(), safeReason(p), safeSummary(p)));
        return out;
    }

    /**
     * The best available backend, or the one named by {@value #PROPERTY} / MLA4J_BACKEND.
     *
     * @return an open backend; the caller closes it
     * @throws BackendUnavailableException when no backend of priority {@value #AUTO_MIN_PRIORITY} or more can run
     */
    public static MlaBackend open() { return openBest(null); }

    /**
     * The best available backend that takes {@code geometry} ({@link MlaBackend#checkSupported(Geometry)}): one
     * that cannot serve it is skipped, its reason logged, as one that cannot run here is (e.g. cuda for a width
     * pair its kernels are not built for: the cpu backend then runs the plan). A backend forced by
     * {@value #PROPERTY} / MLA4J_BACKEND is returned as it is; its plans refuse a geometry it does not take.
     *
     * @param geometry the cache geometry the caller's plans will have
     * @return an open backend; the caller closes it
     * @throws IllegalArgumentException naming geometry when it is null
     * @throws BackendUnavailableException when no backend that takes it can run
     */
    public static MlaBackend open(Geometry geometry) {
        if (geometry == null) throw io.mla4j.spi.Checks.bad("geometry", "is null");
        return openBest(geometry);
    }

    private static MlaBackend openBest(Geometry geometry) {
        String forced = System.getProperty(PROPERTY, System.getenv("MLA4J_BACKEND"));
        if (forced != null && !forced.isBlank()) return open(forced.trim());
        List<MlaBackendProvider> all = providers();
        List<String> skipped = new ArrayList<>(), other = new ArrayList<>(); // cannot run here / not this geometry
        for (MlaBackendProvider p : all) {
            if (p.priority() < AUTO_MIN_PRIORITY) continue;
            Optional<String> why = safeReason(p);
            if (why.isPresent()) {
                skipped.add(p.name() + " (" + why.get() + ")");
                continue;
            }
            MlaBackend be;
            try {
                be = create(p);
            } catch (BackendUnavailableException e) {
                skipped.add(p.name() + " (" + e.reason() + ")");
                continue;
            }
            if (geometry != null) {
                try {
                    be.checkSupported(geometry);
                } catch (IllegalArgumentException e) {
                    be.close();
                    other.add(p.name() + " (does not take " + geometry + ")");
                    continue;
                }
            }
            List<String> notes = new ArrayList<>();
            if (!skipped.isEmpty()) notes.add("skipped: " + String.join(", ", skipped));
            if (!other.isEmpty()) notes.add("passed over: " + String.join(", ", other));
            String lower = all.stream().filter(o -> o != p && o.priority() < p.priority())
                    .map(o -> o.name() + (o.priority() < AUTO_MIN_PRIORITY ? " (by name only)" : " (lower priority)"))
                    .collect(Collectors.joining(", "));
            if (!lower.isEmpty()) notes.add("not chosen: " + lower);
            // a faster backend was installed but cannot run: say so loudly, it is usually a setup mistake
            System.Logger.Level level = skipped.isEmpty() ? System.Logger.Level.INFO : System.Logger.Level.WARNING;
            LOG.log(level, "mla4j: using backend '" + p.name() + "': " + be.description()
                    + (notes.isEmpty() ? "" : "; " + String.join("; ", notes)));
            return be;
        }
        String byName = all.stream().filter(o -> o.priority() < AUTO_MIN_PRIORITY).map(MlaBackendProvider::name)
                .collect(Collectors.joining(", "));
        skipped.addAll(other);
        throw new BackendUnavailableException("auto", "no fast backend can run here: "
                + (skipped.isEmpty() ? "none installed" : String.join(", ", skipped))
                + (byName.isEmpty() ? "" : "; " + byName + " run only when asked for by name (-D" + PROPERTY + "=NAME)"));
    }

    /**
     * The backend with this name, whatever its priority.
     *
     * @param name a provider's name, case-insensitive
     * @return an open backend; the caller closes it
     * @throws IllegalArgumentException naming the known backends when none has this name
     * @throws BackendUnavailableException saying why when it cannot run here
     */
    public static MlaBackend open(String name) {
        List<MlaBackendProvider> all = providers();
        for (MlaBackendProvider p : all) {
            if (!p.name().equalsIgnoreCase(name)) continue;
            Optional<String> why = safeReason(p);
            if (why.isPresent()) throw new BackendUnavailableException(p.name(), why.get());
            MlaBackend be = create(p);
            LOG.log(System.Logger.Level.INFO, "mla4j: using backend '" + p.name() + "' (asked for by name): " + be.description());
            return be;
        }
        throw new IllegalArgumentException("unknown backend '" + name + "'; known: "
                + all.stream().map(MlaBackendProvider::name).collect(Collectors.joining(", ")));
    }

    /** create(), with a native library's link error turned into the one unavailable type. */
    private static MlaBackend create(MlaBackendProvider p) {
        try {
            return p.create();
        } catch (BackendUnavailableException e) {
            throw e;
        } catch (LinkageError e) {
            throw new BackendUnavailableException(p.name(), firstLine(e), e);
        }
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
            return Optional.of("probe failed: " + firstLine(e));
        }
    }

    private static String safeSummary(MlaBackendProvider p) {
        try {
            return p.summary();
        } catch (RuntimeException | LinkageError e) {
            return "";
        }
    }

    /** A throwable as one line (an UnsatisfiedLinkError's message can span several). */
    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return e.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl)).strip();
    }
}
