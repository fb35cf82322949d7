package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * On the module path the kernel image lives in another module (the automatic module mla4j.kernels.cuda)
 * under a package io.mla4j.cuda owns: the backend must still find it (issue 18). A child JVM runs the
 * provider's probe with mla4j-core, mla4j-cuda, JCuda and the kernels jar on the module path; no GPU needed,
 * because the image is looked for before the driver.
 */
class ModulePathTest {

    @Test
    void kernelImageIsFoundOnTheModulePath() throws Exception {
        List<Path> cp = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) cp.add(Path.of(e));
        Path self = find(cp, p -> p.endsWith(Path.of("java-bindings", "cuda", "target", "classes")) || name(p).startsWith("mla4j-cuda-"));
        Path core = find(cp, p -> p.toString().contains("core") && (name(p).startsWith("mla4j-core") || p.endsWith(Path.of("core", "target", "classes"))));
        Path jcuda = find(cp, p -> name(p).matches("jcuda-\\d.*\\.jar"));
        Path kernels = find(cp, p -> name(p).startsWith("mla4j-kernels-cuda") || p.endsWith(Path.of("kernels-cuda", "target", "classes")));
        assumeTrue(self != null && core != null && jcuda != null && kernels != null, "test class path lacks a module: " + cp);
        Path dir = Files.createTempDirectory("mla4j-modpath");
        Path kernelsJar = asJar(kernels, dir.resolve("mla4j-kernels-cuda.jar")); // a folder on the module path is no automatic module
        boolean hasImage;
        try (JarFile j = new JarFile(kernelsJar.toFile())) { hasImage = j.getEntry(DecodeKernels.FATBIN_RESOURCE) != null; }

        Path probe = dir.resolve("Probe.java");
        Files.writeString(probe, """
                public class Probe {
                    public static void main(String[] a) {
                        Module m = io.mla4j.cuda.CudaBackendProvider.class.getModule();
                        System.out.println("named=" + m.isNamed());
                        System.out.println("reason=" + new io.mla4j.cuda.CudaBackendProvider().unavailableReason().orElse("none"));
                    }
                }
                """);
        String mp = String.join(java.io.File.pathSeparator, self.toString(), core.toString(), jcuda.toString(), kernelsJar.toString());
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        // --add-modules names only mla4j-cuda: the kernels module must come in because jcuda is automatic
        Process p = new ProcessBuilder(List.of(java.toString(), "--module-path", mp, "--add-modules", "io.mla4j.cuda",
                "--enable-native-access=io.mla4j.cuda,jcuda", probe.toString())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child JVM timed out");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("named=true"), "the backend did not run as a named module: " + out);
        System.out.println("module path probe: " + out.replace('\n', ' '));
        if (hasImage) {
            assertTrue(!out.contains(CudaBackend.NO_KERNEL_IMAGE), "the image is in the kernels jar but not found on the module path: " + out);
        } else {
            assertTrue(out.contains(CudaBackend.NO_KERNEL_IMAGE), "a build without an image must say so: " + out);
        }
    }

    private interface Match { boolean test(Path p); }

    private static String name(Path p) { return p.getFileName() == null ? "" : p.getFileName().toString(); }

    private static Path find(List<Path> cp, Match m) {
        for (Path p : cp) if (m.test(p)) return p;
        return null;
    }

    private static Path asJar(Path from, Path jar) throws IOException {
        if (Files.isRegularFile(from)) return Files.copy(from, jar);
        try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os); Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                out.putNextEntry(new JarEntry(from.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        return jar;
    }
}
