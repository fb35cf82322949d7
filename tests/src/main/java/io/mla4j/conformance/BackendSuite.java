package io.mla4j.conformance;

import io.mla4j.MlaBackend;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Runs the standard matrix on one backend and returns one result line per case; used by every
 * backend's JUnit suite, by the CLI's self-check and by the GPU test script.
 */
public final class BackendSuite {
    private BackendSuite() {}

    /** Each case as (name, runnable that throws AssertionError with the report on failure). */
    public static Stream<Named> cases(Supplier<MlaBackend> backend, Oracle oracle) {
        return cases(backend, oracle, Conformance.standardCases(), 0);
    }

    /** The geometry matrix ({@link Conformance#geometryCases()}): for backends that take every geometry. */
    public static Stream<Named> geometryCases(Supplier<MlaBackend> backend, Oracle oracle) {
        return cases(backend, oracle, Conformance.geometryCases(), GEOMETRY_SEEDS);
    }

    /** Case-number offset of the geometry matrix's seeds, so they differ from the standard matrix's. */
    static final int GEOMETRY_SEEDS = 10_000;

    /** {@code cases} as named checks; case i draws its inputs from {@code Conformance.seedOf(seedOffset + i)}. */
    public static Stream<Named> cases(Supplier<MlaBackend> backend, Oracle oracle, List<Case> cases, int seedOffset) {
        return IntStream.range(0, cases.size()).mapToObj(i -> new Named(cases.get(i).toString(), () -> {
            long seed = Conformance.seedOf(seedOffset + i);
            Report r = Conformance.run(backend.get(), cases.get(i), seed, oracle);
            System.out.println("[conformance " + backend.get().name() + "] " + r);
            if (!r.passed()) {
                throw new AssertionError(backend.get().name() + " failed " + r.c() + ": " + r.verdict()
                        + " (replay with -Dmla4j.seed=" + Conformance.baseSeed() + ", case seed " + seed + ")");
            }
        }));
    }

    public record Named(String name, Runnable check) {}
}
