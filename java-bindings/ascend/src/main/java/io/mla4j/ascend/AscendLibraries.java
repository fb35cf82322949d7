package io.mla4j.ascend;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds the three native pieces the Ascend backend needs, and says where each came from:
 * <ul>
 *   <li>the ACL runtime: {@value #LIBRARY_PROPERTY} (or env MLA4J_ASCEND_LIBRARY) if set; else a real
 *       CANN {@code libacl_rt.so} / {@code libascendcl.so} (under ASCEND_HOME_PATH, ASCEND_TOOLKIT_HOME,
 *       /usr/local/Ascend/..., or LD_LIBRARY_PATH); else the mla4j emulator packed in this jar;</li>
 *   <li>the kernel binary: {@value #KERNEL_PROPERTY} if set; with the emulator, the CPU build of the
 *       kernel packed in this jar; with real ACL there is no default (build it with CANN);</li>
 *   <li>the host tiling library: {@value #TILING_PROPERTY} if set, else the one packed in this jar.</li>
 * </ul>
 * Packed libraries are extracted once per JVM to a temporary directory deleted on exit.
 */
final class AscendLibraries {
    static final String LIBRARY_PROPERTY = "mla4j.ascend.library";
    static final String KERNEL_PROPERTY = "mla4j.ascend.kernel";
    static final String TILING_PROPERTY = "mla4j.ascend.tiling";

    static final String EMULATOR = "libmla4j_acl_emu.so";
    static final String KERNEL = "libmla4j_ascend_kernel.so";
    static final String TILING = "libmla4j_ascend_tiling.so";
    private static final String RESOURCE_DIR = "/io/mla4j/ascend/native/linux-x86_64/";

    /** Where the ACL runtime comes from. */
    record Runtime(List<Path> paths, boolean real, boolean forced, String why) {}

    private static Path extractDir;

    private AscendLibraries() {}

    /** The ACL runtime to load, or empty with the reason in {@code whyNot}. */
    static Optional<Runtime> runtime(List<String> whyNot) {
        String forced = setting(LIBRARY_PROPERTY, "MLA4J_ASCEND_LIBRARY");
        if (forced != null) {
            Path p = Path.of(forced);
            if (!Files.isRegularFile(p)) {
                whyNot.add("-D" + LIBRARY_PROPERTY + "=" + forced + " does not exist");
                return Optional.empty();
            }
            boolean real = !p.getFileName().toString().equals(EMULATOR);
            return Optional.of(new Runtime(List.of(p), real, true, "named by -D" + LIBRARY_PROPERTY));
        }
        List<Path> real = findRealAcl();
        if (!real.isEmpty()) return Optional.of(new Runtime(real, true, false, "CANN ACL library found"));
        return emulatorRuntime("no CANN ACL library found", whyNot);
    }

    /** The packed emulator as the runtime, or empty (with the reason) when this jar has none for this platform. */
    static Optional<Runtime> emulatorRuntime(String why, List<String> whyNot) {
        if (!resourceExists(EMULATOR)) {
            whyNot.add(why + " and no ACL emulator is packed in this jar for this platform");
            return Optional.empty();
        }
        return Optional.of(new Runtime(List.of(), false, false, why + "; using the mla4j ACL emulator (CPU)"));
    }

    /** The real libacl_rt.so and libascendcl.so found in the usual CANN places (either or both; empty if none). */
    static List<Path> findRealAcl() {
        List<Path> dirs = new ArrayList<>();
        for (String env : new String[] {"ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_INSTALL_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                dirs.add(Path.of(v, "lib64"));
                dirs.add(Path.of(v, "runtime", "lib64"));
            }
        }
        dirs.add(Path.of("/usr/local/Ascend/ascend-toolkit/latest/lib64"));
        dirs.add(Path.of("/usr/local/Ascend/ascend-toolkit/latest/runtime/lib64"));
        dirs.add(Path.of("/usr/local/Ascend/cann/lib64"));
        String ld = System.getenv("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(Path.of(d));
        List<Path> found = new ArrayList<>();
        for (String name : new String[] {"libacl_rt.so", "libascendcl.so"}) {
            for (Path d : dirs) {
                Path p = d.resolve(name);
                if (Files.isRegularFile(p)) {
                    found.add(p);
                    break;
                }
            }
        }
        return found;
    }

    /** The emulator library, extracted from this jar. */
    static Path emulator() { return extract(EMULATOR); }

    /** The kernel binary for this runtime, or empty with the reason. */
    static Optional<Path> kernel(boolean realAcl, List<String> whyNot) {
        String forced = setting(KERNEL_PROPERTY, "MLA4J_ASCEND_KERNEL");
        if (forced != null) {
            if (Files.isRegularFile(Path.of(forced))) return Optional.of(Path.of(forced));
            whyNot.add("-D" + KERNEL_PROPERTY + "=" + forced + " does not exist");
            return Optional.empty();
        }
        if (realAcl) {
            whyNot.add("a real ACL library needs the kernel built by CANN: pass -D" + KERNEL_PROPERTY + "=/path/to/the kernel binary");
            return Optional.empty();
        }
        if (!resourceExists(KERNEL)) {
            whyNot.add(KERNEL + " (the CPU build of the kernel) is not packed in this jar");
            return Optional.empty();
        }
        return Optional.of(extract(KERNEL));
    }

    /** The host tiling library, or empty with the reason. */
    static Optional<Path> tiling(List<String> whyNot) {
        String forced = setting(TILING_PROPERTY, "MLA4J_ASCEND_TILING");
        if (forced != null) {
            if (Files.isRegularFile(Path.of(forced))) return Optional.of(Path.of(forced));
            whyNot.add("-D" + TILING_PROPERTY + "=" + forced + " does not exist");
            return Optional.empty();
        }
        if (!resourceExists(TILING)) {
            whyNot.add(TILING + " is not packed in this jar");
            return Optional.empty();
        }
        return Optional.of(extract(TILING));
    }

    static boolean resourceExists(String name) {
        return isLinuxX64() && AscendLibraries.class.getResource(RESOURCE_DIR + name) != null;
    }

    private static boolean isLinuxX64() {
        String arch = System.getProperty("os.arch", "");
        return System.getProperty("os.name", "").toLowerCase().contains("linux") && (arch.equals("amd64") || arch.equals("x86_64"));
    }

    private static String setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) v = System.getenv(env);
        return v == null || v.isBlank() ? null : v.trim();
    }

    /** Copies a packed library to this JVM's temp directory (once) and returns its path. */
    private static synchronized Path extract(String name) {
        try {
            if (extractDir == null) {
                extractDir = Files.createTempDirectory("mla4j-ascend-");
                extractDir.toFile().deleteOnExit();  // registered first, so deleted after its files
            }
            Path out = extractDir.resolve(name);
            if (Files.exists(out)) return out;
            try (InputStream in = AscendLibraries.class.getResourceAsStream(RESOURCE_DIR + name)) {
                if (in == null) throw new IllegalStateException(name + " is not packed in this jar");
                Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
            }
            out.toFile().deleteOnExit();
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("extracting " + name + ": " + e.getMessage(), e);
        }
    }
}
