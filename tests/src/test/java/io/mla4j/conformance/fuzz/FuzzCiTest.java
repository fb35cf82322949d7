package io.mla4j.conformance.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fuzz suite's CI profile, part of {@code mvn verify}: per backend a seeded run of every case class
 * (small steps, 8,000 API calls, about 550 cases) plus a few hundred plan/allocate/close cycles with memory back at
 * its baseline. The seed is fixed per run of CI unless -Dmla4j.fuzz.seed=N is given (printed either way).
 * Long mode, soak and the CUDA run: scripts/fuzz.sh, docs/RELIABILITY.md.
 */
class FuzzCiTest {
    static final long SEED = Long.getLong("mla4j.fuzz.seed", System.currentTimeMillis() % 100_000);
    static final long CALLS = Long.getLong("mla4j.fuzz.calls", 8000);

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "reference", "ascend"})
    void fuzzCiProfile(String name) throws Exception {
        Optional<MlaBackends.Status> st = MlaBackends.list().stream().filter(s -> s.name().equals(name)).findFirst();
        assumeTrue(st.isPresent() && st.get().available(), () -> name + " backend unavailable here: "
                + st.flatMap(MlaBackends.Status::unavailableReason).orElse("not on the class path"));
        String cores = System.getProperty("mla4j.ascend.cores");
        if (cores == null) System.setProperty("mla4j.ascend.cores", "4"); // the emulator: fewer cores, quicker on CI
        FuzzStats stats = new FuzzStats();
        long t0 = System.nanoTime();
        String memory;
        try (MlaBackend be = MlaBackends.open(name);
             Fuzzer f = new Fuzzer(be, () -> MlaBackends.open(name), stats, SEED, true)) {
            f.run(CALLS, 0);
            memory = f.cycles(name.equals("reference") ? 200 : 400);
        } finally {
            if (cores == null) System.clearProperty("mla4j.ascend.cores");
        }
        stats.memory = memory;
        String summary = stats.summary(name, "ci", SEED, (System.nanoTime() - t0) / 1e9);
        System.out.println(summary);
        System.out.println("FUZZ-TIMING " + stats.timing());
        assertTrue(stats.ok(), () -> summary + "\n  " + String.join("\n  ", stats.examples)
                + "\n(replay: -Dmla4j.fuzz.seed=" + SEED + ")");
        // the geometry axis runs on every backend of the profile (ascend refuses some geometries, never all cases)
        for (String cls : new String[] {"valid.geometry", "bad.geometry"}) {
            assertTrue(stats.cases.getOrDefault(cls, 0L) > 0, () -> cls + " ran no case: " + summary);
        }
    }
}
