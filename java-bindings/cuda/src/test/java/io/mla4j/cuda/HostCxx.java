package io.mla4j.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The host C++ compiler and process runner of the tests that compile kernel headers for the host (no GPU). */
final class HostCxx {
    private HostCxx() {}

    /** c++, g++ or clang++ on the PATH, or null (the caller skips with a reason). */
    static String find() {
        for (String c : new String[] {"c++", "g++", "clang++"}) {
            for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
                if (Files.isExecutable(Path.of(d, c))) return Path.of(d, c).toString();
            }
        }
        return null;
    }

    /** Runs {@code cmd} with {@code stdin} (null: none), returns its output lines; fails on a non-zero exit or a hang. */
    static List<String> run(List<String> cmd, String stdin) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (stdin != null) {
            try (var w = p.outputWriter()) { w.write(stdin); }
        } else {
            p.getOutputStream().close();
        }
        List<String> lines = new ArrayList<>(p.inputReader().lines().toList());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new AssertionError(cmd + " failed: " + lines);
        return lines;
    }
}
