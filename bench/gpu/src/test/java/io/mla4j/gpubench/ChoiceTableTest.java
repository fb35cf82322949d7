package io.mla4j.gpubench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The GPU bench's kernel-choice table: each kernel's best time per config, and a FAIL for a pick > 3% off it. */
class ChoiceTableTest {
    private static GpuBench.Row row(GpuBench.Config c, String kernel, double us, String run) {
        Sampled.Error err = new Sampled.Error(1e-4, 1e-3, 1e-4, 1e-6, 0);
        return new GpuBench.Row(c, kernel, 1000, us, us, us, 5, 0.1, 100, 10, 0.5, err.toString(), err.passed(), Double.NaN, "",
                err, 1L, new double[] {us}, run);
    }

    @Test
    void flagsAPickMoreThanThreePercentOffTheBest() {
        GpuBench.Config a = new GpuBench.Config(128, 4096, 16, 1, true), b = new GpuBench.Config(128, 8192, 16, 1, true);
        GpuBench.Config one = new GpuBench.Config(128, 8192, 32, 1, true);
        List<GpuBench.Row> rows = List.of(
                row(a, "sm90_etap", 100, "etap"), row(a, "sm90", 104, "auto"),   // auto 4% slower: FAIL
                row(b, "sm90_etap", 100, "etap"), row(b, "sm90", 102, "auto"),   // 2%: fine
                row(one, "sm90", 50, "etap"), row(one, "sm90", 51, "auto"));     // one kernel only: no line
        GpuBench.Choice c = GpuBench.choiceTable(rows);
        assertEquals(1, c.fails(), c.text());
        String[] lines = c.text().split("\n");
        assertEquals(2, lines.length, c.text());
        assertTrue(lines[0].contains("chosen sm90") && lines[0].contains("FAIL"), lines[0]);
        assertTrue(lines[1].contains("sm90 102.0 us (1.020)") && !lines[1].contains("FAIL"), lines[1]);
    }
}
