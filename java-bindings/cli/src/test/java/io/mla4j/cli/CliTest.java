package io.mla4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
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

    @Test
    void csvHasHeaderAndOneRowPerConfig() {
        String csv = capture("--backend", "reference", "-b", "1", "--sk", "64", "--hq", "1,2", "--iters", "1",
                "--warmup", "0", "--format", "csv");
        assertEquals(3, csv.strip().split("\n").length, csv);
    }

    @Test
    void helpAndListWork() {
        assertTrue(capture("--help").contains("usage: mla4j"));
        assertTrue(capture("--list-backends").contains("reference"));
    }
}
