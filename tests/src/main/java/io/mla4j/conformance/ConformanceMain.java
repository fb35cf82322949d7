package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.List;

/**
 * Runs the standard conformance matrix on one backend, by name, outside JUnit (for machines with no
 * Maven, such as the GPU machine): {@code java ... io.mla4j.conformance.ConformanceMain --backend cuda}.
 * Prints one line per case and exits 1 if any case fails.
 */
public final class ConformanceMain {
    private ConformanceMain() {}

    public static void main(String[] args) {
        String name = null;
        boolean gathered = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> name = args[++i];
                case "--oracle-gathered" -> gathered = true;
                case "-h", "--help" -> {
                    System.out.println("usage: ConformanceMain [--backend NAME] [--oracle-gathered]  (seed: -Dmla4j.seed=N)");
                    return;
                }
                default -> {
                    System.err.println("unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        int failed = 0, total = 0;
        try (MlaBackend be = name == null ? MlaBackends.open() : MlaBackends.open(name)) {
            System.out.println("conformance: backend " + be.name() + " (" + be.description() + "), base seed "
                    + Conformance.baseSeed());
            List<BackendSuite.Named> cases = BackendSuite.cases(() -> be, gathered ? Oracle.GATHERED : Oracle.REFERENCE).toList();
            for (BackendSuite.Named n : cases) {
                total++;
                try {
                    n.check().run();
                } catch (AssertionError | RuntimeException e) {
                    failed++;
                    System.out.println("FAIL " + n.name() + ": " + e.getMessage());
                }
            }
        }
        System.out.println("conformance: " + (total - failed) + "/" + total + " cases passed");
        if (failed > 0) System.exit(1);
    }
}
