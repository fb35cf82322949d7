package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.CacheFormat;
import io.mla4j.Geometry;
import org.junit.jupiter.api.Test;

/** Which plans the transposed Hopper kernel serves (DecodeKernels.etapRefusal): the reach its header states. */
class EtapChoiceTest {
    private static final int ROWS = DecodeKernels.ETAP_MAX_ROWS_DEFAULT, SHIFT = DecodeKernels.ETAP_MIN_PAGE_SHIFT_DEFAULT;

    private static String refusal(int rows, Geometry g) {
        return DecodeKernels.etapRefusal(rows, g.format() == CacheFormat.FP8_E4M3, g, ROWS, SHIFT);
    }

    @Test
    void servesFewRowsAtPagesOf16AndUpOfEveryWidthPair() {
        for (int rows : new int[] {1, 3, 15, 16})
            for (int page : new int[] {16, 32, 64, 128, 256})
                for (int[] w : new int[][] {{512, 64}, {256, 64}, {256, 32}, {128, 64}, {128, 32}})
                    assertNull(refusal(rows, new Geometry(page, w[0], w[1], CacheFormat.PLAIN)), rows + " rows, page " + page);
    }

    @Test
    void refusesWhatItCannotServeAndSaysWhy() {
        String r = refusal(17, Geometry.DEEPSEEK);
        assertTrue(r.contains("17 > 16"), r);
        r = refusal(16, new Geometry(8, 512, 64, CacheFormat.PLAIN));
        assertTrue(r.contains("pages of 8 tokens"), r);
        assertNull(refusal(16, new Geometry(64, 512, 64, CacheFormat.FP8_E4M3)), "fp8_e4m3 at 512+64: its own entry");
        r = refusal(16, new Geometry(64, 256, 32, CacheFormat.FP8_E4M3));
        assertTrue(r.contains("fp8"), r);
    }
}
