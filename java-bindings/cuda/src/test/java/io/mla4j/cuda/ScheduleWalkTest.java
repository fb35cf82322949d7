package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mla4j.Mla;
import io.mla4j.SplitSchedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The GPU scheduler's walk (kernels-cuda/include/mla4j/schedule_walk.h: runs of parts inside one long sequence taken
 * by one division, their metadata split over a warp's lanes) builds exactly {@link SplitSchedule}'s schedule: compiled
 * for the host and run on random batches (empty and one-tile sequences, long ones spanning many parts, b below and
 * above the part count, every F from 1 to 5), once as one lane and once as 32 (which must agree). The GPU runs the
 * same code (GpuChecks compares its output with SplitSchedule on the device). Skips where no C++ compiler is installed.
 */
class ScheduleWalkTest {
    private static final Path KC = Path.of(System.getProperty("mla4j.kernelsDir", "../../kernels-cuda"));

    @Test
    void walkBuildsTheJavaSchedule() throws Exception {
        String cxx = HostCxx.find();
        assumeTrue(cxx != null, "no C++ compiler (c++/g++/clang++) on the PATH: the schedule walk not checked here");
        Path dir = Files.createTempDirectory("mla4j-walk"), exe = dir.resolve("walk");
        HostCxx.run(List.of(cxx, "-std=c++17", "-O1", "-I" + KC.resolve("include").toAbsolutePath(), "-o", exe.toString(),
                KC.resolve("test/schedule_walk_harness.cpp").toAbsolutePath().toString()), null);
        Random r = new Random(20261204L);
        List<int[]> lens = new ArrayList<>();
        List<int[]> shape = new ArrayList<>(); // {parts, F}
        StringBuilder in = new StringBuilder();
        for (int c = 0; c < 400; c++) {
            int b = 1 + r.nextInt(c % 4 == 0 ? 300 : 20), parts = 1 + r.nextInt(c % 3 == 0 ? 200 : 140), f = 1 + r.nextInt(5);
            int[] s = new int[b];
            for (int i = 0; i < b; i++) {
                int kind = r.nextInt(6);
                s[i] = kind == 0 ? 0 : kind == 1 ? 1 + r.nextInt(64) : kind == 2 ? 64 * (1 + r.nextInt(8))
                        : kind == 3 ? r.nextInt(200_000) : r.nextInt(20_000);
            }
            lens.add(s);
            shape.add(new int[] {parts, f});
            in.append(b).append(' ').append(parts).append(' ').append(f);
            for (int x : s) in.append(' ').append(Mla.blocksFor(x));
            in.append('\n');
        }
        List<String> out = HostCxx.run(List.of(exe.toString()), in.toString());
        assertEquals(2 * lens.size(), out.size(), "two lines per case");
        for (int c = 0; c < lens.size(); c++) {
            SplitSchedule want = SplitSchedule.compute(lens.get(c), shape.get(c)[0], shape.get(c)[1]);
            String what = "case " + c + " (b " + lens.get(c).length + ", parts " + shape.get(c)[0] + ", F " + shape.get(c)[1]
                    + ")";
            assertArrayEquals(want.metadata(), ints(out.get(2 * c)), what + ": part metadata");
            assertArrayEquals(want.splitOffsets(), ints(out.get(2 * c + 1)), what + ": split offsets");
        }
        assertTrue(lens.stream().anyMatch(s -> s.length < 20) && lens.stream().anyMatch(s -> s.length > 132));
    }

    private static int[] ints(String line) {
        return Arrays.stream(line.trim().split(" +")).mapToInt(Integer::parseInt).toArray();
    }
}
