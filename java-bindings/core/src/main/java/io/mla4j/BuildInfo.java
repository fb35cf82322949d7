package io.mla4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * Which mla4j this is: the version and the git commit it was built from (written at build time into
 * {@code io/mla4j/build.properties}; the jar manifest's {@code Implementation-Version} says the same version).
 */
public final class BuildInfo {
    private static final Properties PROPS = load();

    private BuildInfo() {}

    private static Properties load() {
        Properties p = new Properties();
        // Class.getResourceAsStream: the module's own resource, found on the class path and the module path
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** The project version, e.g. "0.1.0-SNAPSHOT"; "unknown" when run from classes not built by Maven. */
    public static String version() {
        String v = PROPS.getProperty("version");
        if (v == null) v = BuildInfo.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    /** The git commit (12 hex digits, "-dirty" with uncommitted changes), or "unknown". */
    public static String commit() { return PROPS.getProperty("commit", "unknown"); }

    /** "mla4j VERSION (commit COMMIT)". */
    public static String describe() { return "mla4j " + version() + " (commit " + commit() + ")"; }
}
