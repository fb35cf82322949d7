package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.cpu.CpuBackend;
import io.mla4j.cpu.CpuKernel;
import io.mla4j.ref.ReferenceBackend;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A contiguous cache [b, max_len, 1, d_qk] through {@link ContiguousCache}: a view (no copy) whose decode
 * equals, bit for bit, the decode of the same tokens copied into a shuffled paged cache.
 */
class ContiguousCacheTest {
    private final Random rnd = new Random(22);

    @Test
    void pageSizeIsTheLargestPowerOfTwoDividingMaxLenUpTo64() {
        assertEquals(64, ContiguousCache.pageSizeFor(4096));
        assertEquals(64, ContiguousCache.pageSizeFor(192));
        assertEquals(32, ContiguousCache.pageSizeFor(96));
        assertEquals(4, ContiguousCache.pageSizeFor(100));
        assertEquals(1, ContiguousCache.pageSizeFor(37));
        var e = assertThrows(IllegalArgumentException.class, () -> ContiguousCache.pageSizeFor(0));
        assertTrue(e.getMessage().startsWith("maxLen: "), e.getMessage());
    }

    @Test
    void theViewSharesMemory() {
        try (Arena a = Arena.ofConfined()) {
            Tensor c = Tensor.allocate(a, DType.BF16, 3, 96, 1, 576);
            ContiguousCache cc = ContiguousCache.of(c);
            assertEquals(new Geometry(32, 512, 64), cc.geometry());
            assertArrayEquals(new long[] {9, 32, 1, 576}, cc.paged().shape());
            assertEquals(c.address(), cc.paged().address());
            c.setFloat(2L * 96 * 576 + 40 * 576 + 7, 1.5f); // sequence 2, token 40 = page 2 * 3 + 1, row 8
            assertEquals(1.5f, cc.paged().getFloat((7L * 32 + 8) * 576 + 7));
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8}, cc.blockTable().toIntArray());
        }
    }

    @Test
    void refusesWhatItCannotView() {
        try (Arena a = Arena.ofConfined()) {
            Tensor c = Tensor.allocate(a, DType.BF16, 2, 100, 1, 576);
            rejects("kCache", "not a multiple of the page size 64", () -> ContiguousCache.of(c, Geometry.DEEPSEEK));
            rejects("kCache", "expected [b, max_len, 1, 288]", () -> ContiguousCache.of(c, 256, 32));
            rejects("kCache", "rank is 3", () -> ContiguousCache.of(Tensor.allocate(a, DType.BF16, 2, 100, 576)));
            rejects("dR", "multiple of 16", () -> ContiguousCache.of(c, 512, 60));
        }
    }

    @Test
    void decodeEqualsAPagedCopy() {
        // (b, max_len, d_c, d_r): page 64 (DeepSeek), 32, 4 and 1 (odd max_len), and another width
        int[][] shapes = {{3, 192, 512, 64}, {2, 96, 512, 64}, {2, 100, 256, 32}, {3, 37, 128, 64}};
        MlaBackend[] backends = {new CpuBackend(CpuBackend.Rescale.PLAIN, 2, CpuKernel.VECTOR), new ReferenceBackend()};
        for (MlaBackend be : backends) {
            try (be) {
                for (int[] s : shapes) compare(be, s[0], s[1], s[2], s[3]);
            }
        }
    }

    private void compare(MlaBackend be, int b, int maxLen, int dC, int dR) {
        int hq = 5, sq = 2, dqk = dC + dR;
        DType dt = DType.BF16;
        try (Arena a = Arena.ofShared()) { // the cpu backend's workers read it
            Tensor contiguous = Tensor.allocate(a, dt, b, maxLen, 1, dqk);
            for (long i = 0; i < contiguous.numel(); i++) contiguous.setFloat(i, (float) rnd.nextGaussian());
            Tensor q = Tensor.allocate(a, dt, b, sq, hq, dqk);
            for (long i = 0; i < q.numel(); i++) q.setFloat(i, (float) rnd.nextGaussian());
            int[] lens = new int[b];
            for (int s = 0; s < b; s++) lens[s] = s == 0 ? maxLen : 1 + rnd.nextInt(maxLen); // one full row
            Tensor seqlens = Tensor.ofInts(a, lens, b);

            ContiguousCache cc = ContiguousCache.of(contiguous, dC, dR);
            float[][] viaView = decode(be, a, cc.spec(seqlens, hq, sq, dt), q, cc.paged());

            // the same tokens copied into a paged cache of the same geometry, pages shuffled, spare pages
            Geometry g = cc.geometry();
            int page = g.pageSize(), perRow = maxLen / page, blocks = b * perRow + 3;
            int[] perm = new int[blocks];
            for (int i = 0; i < blocks; i++) perm[i] = i;
            for (int i = blocks - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1), t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            Tensor paged = Tensor.allocate(a, dt, g.cacheShape(blocks));
            paged.fill(Float.NaN); // spare pages: NaN, so reading one shows
            int[] table = new int[b * perRow];
            for (int s = 0; s < b; s++)
                for (int j = 0; j < perRow; j++) {
                    int id = perm[s * perRow + j];
                    table[s * perRow + j] = id;
                    for (int t = 0; t < page * dqk; t++) {
                        paged.setFloat((long) id * page * dqk + t, contiguous.getFloat(((long) s * maxLen + j * page) * dqk + t));
                    }
                }
            PlanSpec spec = PlanSpec.of(seqlens, Tensor.ofInts(a, table, b, perRow), blocks, hq, sq, dt, g);
            float[][] viaCopy = decode(be, a, spec, q, paged);
            String what = be.name() + " b=" + b + " max_len=" + maxLen + " " + g;
            assertArrayEquals(viaCopy[0], viaView[0], what + ": o");
            assertArrayEquals(viaCopy[1], viaView[1], what + ": lse");
            for (float v : viaView[0]) assertFalse(Float.isNaN(v), what);
        }
    }

    private static float[][] decode(MlaBackend be, Arena a, PlanSpec spec, Tensor q, Tensor cache) {
        Geometry g = spec.geometry();
        Tensor o = Tensor.allocate(a, spec.dtype(), g.outShape(spec.batch(), spec.queryLen(), spec.numHeads()));
        Tensor lse = Tensor.allocate(a, DType.FP32, spec.batch(), spec.numHeads(), spec.queryLen());
        o.fill(Float.NaN);
        lse.fill(Float.NaN);
        try (MlaPlan plan = be.plan(spec)) {
            be.decode(plan, q, cache, o, lse);
        }
        return new float[][] {o.toFloatArray(), lse.toFloatArray()};
    }

    private static void rejects(String arg, String text, Runnable r) {
        var e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith(arg + ": ") && e.getMessage().contains(text), e.getMessage());
    }
}
