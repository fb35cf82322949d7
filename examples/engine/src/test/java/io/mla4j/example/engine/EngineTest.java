package io.mla4j.example.engine;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.Mla;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The example on the cpu backend, as {@code examples/run.sh} runs it (CI runs both): a small loop whose last layer
 * agrees with the fp64 reference backend, one table row per step, and the paged allocator's bookkeeping.
 * Timings are printed, never asserted (docs/PERF.md has the measured ones).
 */
class EngineTest {

    private static String run(Main.Summary[] summary, String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            summary[0] = Main.run(args, log);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        return out;
    }

    @Test
    void smallLoopOnTheCpuAgreesWithTheReference() {
        Main.Summary[] s = new Main.Summary[1];
        // 3 layers, a sequence crossing a page boundary during the run (126 + 4 steps), fp16, no warm-up (kept short)
        String out = run(s, "--backend", "cpu", "--layers", "3", "--batch", "2", "--context", "126", "--steps", "4",
                "--dtype", "fp16", "--warmup", "off");
        assertNotNull(s[0].check(), out);
        assertTrue(s[0].checkPassed(), out);
        assertEquals(4, s[0].stepNanos().length);
        assertTrue(out.contains("step  batch  tokens"), out);
        // one row per step: step, batch 2, 2 new tokens, s_k = 126 + step, then the times
        var rows = out.lines().filter(l -> l.matches(" +\\d+ +2 +2 +\\d+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+")).toList();
        assertEquals(4, rows.size(), out);
        for (int i = 0; i < 4; i++) {
            String[] f = rows.get(i).trim().split(" +");
            assertEquals(Integer.toString(i + 1), f[0]);
            assertEquals(Integer.toString(126 + i + 1), f[3]);
        }
        assertTrue(out.contains(": OK"), out);
    }

    @Test
    void warmUpAndTheCheckRunThroughMain() {
        Main.Summary[] s = new Main.Summary[1];
        String out = run(s, "--backend", "cpu", "--layers", "1", "--batch", "1", "--context", "10", "--steps", "2");
        assertTrue(out.contains("engine: warmUp "), out);
        assertTrue(s[0].checkPassed(), out);
        assertNull(Main.run(new String[] {"--help"}, new PrintStream(new ByteArrayOutputStream())));
        assertThrows(IllegalArgumentException.class, () -> Main.run(new String[] {"--preset", "huge"}, System.out));
        assertThrows(IllegalArgumentException.class, () -> Main.run(new String[] {"--steps", "x"}, System.out));
    }

    @Test
    void allocatorGrowsSequencesPageByPage() {
        BlockAllocator a = new BlockAllocator(5, 2, 2, 1);
        for (int t = 0; t < Mla.BLOCK_SIZE + 1; t++) a.appendToken(0);
        assertEquals(2, a.pageCount(0));
        assertEquals(Mla.BLOCK_SIZE + 1, a.length(0));
        assertEquals(3, a.freePages());
        assertNotEquals(a.page(0, 0), a.page(0, 1));
        for (int t = 0; t < Mla.BLOCK_SIZE - 1; t++) a.appendToken(0);
        assertThrows(IllegalStateException.class, () -> a.appendToken(0)); // 2 pages per sequence at most
        a.release(0);
        assertEquals(5, a.freePages());
        assertEquals(0, a.length(0));
    }
}
