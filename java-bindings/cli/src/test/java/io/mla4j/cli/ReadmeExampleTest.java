package io.mla4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's API example is compiled and run as written, so it cannot rot. */
class ReadmeExampleTest {
    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of("../../README.md"));
        int mark = readme.indexOf("<!-- example:api");
        assertTrue(mark >= 0, "README has no example marker");
        int start = readme.indexOf("```java", mark) + "```java".length();
        String code = readme.substring(start, readme.indexOf("```", start));
        Path src = dir.resolve("Example.java");
        Files.writeString(src, code);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), "-d", dir.toString(), src.toString());
        assertEquals(0, rc, "README example does not compile:\n" + err);
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out));
        try (URLClassLoader cl = new URLClassLoader(new java.net.URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            cl.loadClass("Example").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(old);
        }
        assertTrue(out.toString().contains(": lse[0] = "), out.toString());
        assertFalse(out.toString().contains("NaN"), out.toString());
    }
}
