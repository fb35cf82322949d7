package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SplitScheduleTest {
    @Test
    void handExample() {
        // blocks 2 and 10, F = 5: total = 22, P = 2: perPart = max(11 + 5, 10) = 16
        SplitSchedule s = SplitSchedule.compute(new int[] {100, 640}, 2);
        // part 0: seq 0 whole (2 + 5 = 7, remain 9), then 4 blocks of seq 1 (9 - 5)
        assertArrayEquals(new int[] {0, 0, 1, 4, 0, 0, 0, 0, 1, 4, 1, 10, 1, 0, 0, 0}, s.metadata());
        assertArrayEquals(new int[] {0, 1, 3}, s.splitOffsets());
    }

    @Test
    void everyBlockCoveredOnceAndEverySequenceWritten() {
        SplittableRandom r = new SplittableRandom(11);
        for (int iter = 0; iter < 2000; iter++) {
            int b = 1 + r.nextInt(40);
            int[] lens = new int[b];
            for (int i = 0; i < b; i++) lens[i] = r.nextInt(10) == 0 ? 0 : r.nextInt(r.nextBoolean() ? 200 : 20000);
            int parts = 1 + r.nextInt(140);
            int f = iter % 2 == 0 ? SplitSchedule.FIXED_OVERHEAD_BLOCKS : 1 + r.nextInt(6);
            SplitSchedule s = SplitSchedule.compute(lens, parts, f);
            assertEquals(f, s.splitOverhead());
            int[][] covered = new int[b][];
            for (int i = 0; i < b; i++) covered[i] = new int[Mla.blocksFor(lens[i])];
            int[] splitsSeen = new int[b];
            boolean[] slotUsed = new boolean[s.totalSplits()];
            for (int p = 0; p < parts; p++) {
                final int part = p;
                s.forEachSplit(p, (seq, from, to, slot) -> {
                    int end = to < 0 ? Mla.blocksFor(lens[seq]) : to;
                    assertTrue(from <= end, "part " + part);
                    for (int j = from; j < end; j++) covered[seq][j]++;
                    splitsSeen[seq]++;
                    assertFalse(slotUsed[slot], "slot " + slot + " used twice");
                    slotUsed[slot] = true;
                    assertTrue(slot >= s.splitOffset(seq) && slot < s.splitOffset(seq + 1));
                });
            }
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < covered[i].length; j++) assertEquals(1, covered[i][j], "seq " + i + " block " + j);
                assertEquals(s.splitsOf(i), splitsSeen[i]);
                assertTrue(s.splitsOf(i) >= 1, "every sequence gets a split, even an empty one");
            }
            assertTrue(s.totalSplits() <= b + parts, "at most b + P splits");
        }
    }

    @Test
    void smallerOverheadSpreadsShortBatchesWider() {
        // b = 1, s_k = 4096 (64 blocks) on 132 parts: F = 5 gives perPart = max(1 + 5, 10) = 10, 5 blocks a split;
        // F = 1 gives perPart = max(1 + 1, 2) = 2, one block a split
        assertEquals(13, SplitSchedule.compute(new int[] {4096}, 132).splitsOf(0));
        assertEquals(64, SplitSchedule.compute(new int[] {4096}, 132, 1).splitsOf(0));
        assertThrows(IllegalArgumentException.class, () -> SplitSchedule.compute(new int[] {4096}, 132, 0));
    }

    @Test
    void longSequenceSpreadsOverAllParts() {
        SplitSchedule s = SplitSchedule.compute(new int[] {65536}, 132);
        assertTrue(s.splitsOf(0) >= 120, "b=1 must use (nearly) all parts, got " + s.splitsOf(0));
    }
}
