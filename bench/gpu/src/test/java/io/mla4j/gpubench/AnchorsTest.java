package io.mla4j.gpubench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The bench's anchor table (issue 21): the packaged file parses, anchors match only their device and config. No GPU. */
class AnchorsTest {
    @Test
    void packagedAnchorsHoldTheIssueTable() {
        List<Anchors.Anchor> a = Anchors.load(null);
        assertEquals(6, a.size(), "the six small-batch rows of FlashMLA's best build on the H200");
        GpuBench.Config c = new GpuBench.Config(1, 32768, 128, 1, false);
        List<Anchors.Anchor> f = Anchors.find(a, "NVIDIA H200 (sm_90, 132 SMs)", c);
        assertEquals(1, f.size());
        assertEquals(31.8, f.get(0).us());
        assertTrue(Anchors.find(a, "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)", c).isEmpty(),
                "another device's anchors never apply");
        assertTrue(Anchors.find(a, "NVIDIA H200", new GpuBench.Config(1, 32768, 128, 2, false)).isEmpty(), "s_q must match");
    }

    @Test
    void tablePrintsSmallBatchRowsWithFloorAndAnchorRatio() {
        List<Anchors.Anchor> a = Anchors.parse("device,b,s_k,h_q,s_q,anchor,us,source\nH200,1,4096,16,1,X,12.0,test\n", "t");
        GpuBench.Config small = new GpuBench.Config(1, 4096, 16, 1, false), big = new GpuBench.Config(128, 4096, 16, 1, true);
        List<Anchors.Timed> rows = List.of(new Anchors.Timed(small, "sm90", 10.0, 2.5),
                new Anchors.Timed(big, "sm90", 170.0, 150.0));
        String t = Anchors.table(rows, a, "NVIDIA H200 (sm_90)");
        assertTrue(t.contains("X 12.0 us (1.20x)"), t);
        assertTrue(t.contains("4.00"), "x floor = 10 / 2.5: " + t);
        assertEquals(2, t.lines().count(), "a header and the one small-batch row: " + t);
        assertEquals("", Anchors.table(List.of(new Anchors.Timed(big, "sm90", 170.0, 150.0)), a, "NVIDIA H200"));
        assertThrows(IllegalArgumentException.class, () -> Anchors.parse("h\nH200,1,2\n", "t"));
    }
}
