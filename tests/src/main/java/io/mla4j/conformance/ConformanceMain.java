package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.List;

/**
 * Runs the standard conformance matrix, then the geometry matrix's cases whose geometry the backend takes
 * ({@link MlaBackend#checkSupported(io.mla4j.Geometry)}; the others are counted as skipped), on one backend, by
 * name, outside JUnit (for machines with no Maven, such as the GPU machine):
 * {@code java ... io.mla4j.conformance.ConformanceMain --backend cuda}. Prints one line per case and exits 1 if
 * any case fails.
 */
public final class ConformanceMain {
    private ConformanceMain() {}

    public static void main(String[] args) {
        String name = null;
        boolean gathered = false, geometryOnly = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> name = args[++i];
                case "--oracle-gathered" -> gathered = true;
                case "--geometry-only" -> geometryOnly = true; // the geometry cases alone (e.g. under compute-sanitizer)
                case "-h", "--help" -> {
                    System.out.println("usage: ConformanceMain [--backend NAME] [--oracle-gathered] [--geometry-only]"
                            + "  (seed: -Dmla4j.seed=N)");
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
            Oracle oracle = gathered ? Oracle.GATHERED : Oracle.REFERENCE;
            List<BackendSuite.Named> cases = new java.util.ArrayList<>();
            if (!geometryOnly) cases.addAll(BackendSuite.cases(() -> be, oracle).toList());
            List<Case> geo = Conformance.geometryCases();
            List<Case> taken = geo.stream().filter(c -> takes(be, c.geometry())).toList();
            System.out.println("conformance: geometry matrix: " + taken.size() + " of " + geo.size()
                    + " cases in geometries this backend takes");
            cases.addAll(BackendSuite.cases(() -> be, oracle, taken, BackendSuite.GEOMETRY_SEEDS).toList());
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

    private static boolean takes(MlaBackend be, io.mla4j.Geometry g) {
        try {
            be.checkSupported(g);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
