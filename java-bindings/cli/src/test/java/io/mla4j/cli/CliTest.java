package io.mla4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.BuildInfo;
import io.mla4j.spi.BenchSchema;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CliTest {
    private static String capture(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out));
        try {
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(old);
        }
        return out.toString();
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertThrows(Options.UsageException.class, () -> Main.run(new String[] {"--bogus"}));
        assertThrows(Options.UsageException.class, () -> Main.run(new String[] {"--hq", "x"}));
        assertThrows(Options.UsageException.class, () -> Main.run(new String[] {"--dtype", "int32"}));
        assertThrows(Options.UsageException.class, () -> Main.run(new String[] {"--format", "xml"}));
        assertThrows(Options.UsageException.class, () -> Main.run(new String[] {"--batch"}));
    }

    @Test
    void smallRunPrintsJsonWithAPassingCheck() {
        String json = capture("--backend", "reference", "-b", "2", "--sk", "100", "--hq", "3", "--sq", "2",
                "--iters", "2", "--warmup", "0", "--format", "json");
        assertTrue(json.contains("\"backend\": \"reference\""), json);
        assertTrue(json.contains("\"check\": \"pass\""), json);
    }

    /** --page and --dims are grid axes: one row per geometry, each checked against the oracle, its geometry in the row. */
    @Test
    void pageAndDimsRunEveryGeometry() {
        List<Map<String, Object>> rows = BenchSchema.parse("csv", capture("--backend", "reference", "-b", "2", "--sk", "70",
                "--hq", "2", "--page", "1,128", "--dims", "256+32", "--iters", "1", "--warmup", "0", "--format", "csv"));
        assertEquals(2, rows.size(), rows.toString());
        for (Map<String, Object> r : rows) {
            assertEquals("pass", r.get("check"), r.toString());
            assertEquals(256L, ((Number) r.get("d_c")).longValue(), r.toString());
            assertEquals(32L, ((Number) r.get("d_r")).longValue(), r.toString());
        }
        assertEquals(List.of(1L, 128L), rows.stream().map(r -> ((Number) r.get("page_size")).longValue()).toList());
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--page", "3"}));
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--page", "512"}));
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--dims", "500+64"}));
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--dims", "512"}));
    }

    @Test
    void csvHasHeaderAndOneRowPerConfig() {
        String csv = capture("--backend", "reference", "-b", "1", "--sk", "64", "--hq", "1,2", "--iters", "1",
                "--warmup", "0", "--format", "csv");
        assertEquals(3, csv.strip().split("\n").length, csv);
    }

    /** csv, json and jsonl of the same run parse with the one schema to the same names and values. */
    @Test
    void csvJsonAndJsonlAreOneSchema() {
        String[] run = {"--backend", "reference", "-b", "1", "--sk", "64", "--hq", "2", "--iters", "3", "--warmup", "0", "--seed", "7"};
        List<List<Map<String, Object>>> parsed = new java.util.ArrayList<>();
        for (String f : List.of("csv", "json", "jsonl")) {
            String[] a = java.util.Arrays.copyOf(run, run.length + 2);
            a[run.length] = "--format";
            a[run.length + 1] = f;
            List<Map<String, Object>> rows = BenchSchema.parse(f, capture(a));
            assertEquals(1, rows.size(), f);
            parsed.add(rows);
        }
        Map<String, Object> csv = parsed.get(0).get(0);
        for (String k : List.of("schema", "mla4j_version", "git_commit", "timestamp", "device", "jdk", "threads", "seed",
                "samples", "us_min", "us_median", "us_p90", "us_stddev", "check", "dtype")) {
            assertNotNull(csv.get(k), k + " missing: " + csv);
        }
        assertEquals(BenchSchema.ID, csv.get("schema"));
        assertEquals(BuildInfo.version(), csv.get("mla4j_version"));
        assertEquals("bf16", csv.get("dtype"));
        assertEquals(3L, csv.get("samples"));
        assertEquals(8L, csv.get("seed")); // the first config's inputs: seed + 1
        assertTrue((Double) csv.get("us_min") <= (Double) csv.get("us_median"));
        assertTrue((Double) csv.get("us_median") <= (Double) csv.get("us_p90"));
        // same names and values in every format, except when it was measured
        for (List<Map<String, Object>> other : parsed) {
            Map<String, Object> m = new java.util.LinkedHashMap<>(other.get(0));
            assertEquals(List.copyOf(csv.keySet()), List.copyOf(m.keySet()));
            for (String k : List.of("timestamp", "samples", "us_min", "us_median", "us_p90", "us_stddev", "gb_per_s", "tflop_per_s")) m.remove(k);
            Map<String, Object> c = new java.util.LinkedHashMap<>(csv);
            for (String k : List.of("timestamp", "samples", "us_min", "us_median", "us_p90", "us_stddev", "gb_per_s", "tflop_per_s")) c.remove(k);
            // the check values come from the same seeded inputs: identical
            assertEquals(c, m);
        }
    }

    @Test
    void repeatedGridOptionsAccumulateAndScalarsMustNotRepeat() {
        Options o = Options.parse(new String[] {"--hq", "16", "--hq", "128,16", "-b", "1", "--batch", "2"});
        assertEquals(List.of(16, 128), o.heads);
        assertEquals(List.of(1, 2), o.batch);
        assertEquals(List.of(4096), o.seqlen);
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--iters", "1", "--iters", "2"}));
        assertThrows(Options.UsageException.class, () -> Options.parse(new String[] {"--iters", "1,2"}));
    }

    @Test
    void helpVersionAndListWork() {
        assertTrue(capture("--help").contains("usage: mla4j"));
        assertTrue(capture("--version").contains("mla4j " + BuildInfo.version()));
        assertTrue(capture("--list-backends").contains("reference"));
        String csv = capture("--list-backends", "--format", "csv");
        assertTrue(csv.startsWith("backend,priority,status,auto,runs_on,reason\n"), csv);
        String jsonl = capture("--list-backends", "--format", "jsonl");
        assertTrue(jsonl.contains("{\"backend\": \"reference\", \"priority\": \"1\", \"status\": \"available\", \"auto\": \"no (by name only)\""), jsonl);
        // the emulated ascend says what it is
        assertTrue(capture("--list-backends").contains("CPU EMULATOR"), "ascend listed without saying it is emulated");
    }
}
