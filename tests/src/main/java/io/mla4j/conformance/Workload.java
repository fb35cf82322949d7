package io.mla4j.conformance;

import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.util.Random;

/**
 * Fresh random host inputs for a case: q and the paged cache (of the case's geometry) drawn from N(0, 1)
 * (never zeros), a shuffled, non-contiguous block table over a cache with spare blocks (so one sequence's
 * pages lie far apart in memory), and unused table entries set to -1 so a kernel that reads past a
 * sequence's blocks is caught. An FP8 case's cache is quantised from such a bf16/fp16 cache ({@link #plainCache},
 * kept for the end-to-end error) by {@link io.mla4j.Fp8Cache}.
 */
public final class Workload implements AutoCloseable {
    public final Case c;
    public final long seed;
    public final int numBlocks;
    public final int maxBlocks;
    public final Tensor q, kCache, seqlens, blockTable;
    /** The 16-bit cache an FP8 case's cache was quantised from (null for a plain case). */
    public final Tensor plainCache;
    /** The decode's kvScale: the FP8_E4M3 cache's scale, else 1. */
    public final float kvScale;
    private final Arena arena = Arena.ofShared();

    public Workload(Case c, long seed) {
        this.c = c;
        this.seed = seed;
        Random rnd = new Random(seed);
        int b = c.batch();
        Geometry g = c.geometry();
        int need = 0, maxNeed = 1;
        for (int len : c.seqlens()) {
            need += g.blocksFor(len);
            maxNeed = Math.max(maxNeed, g.blocksFor(len));
        }
        maxBlocks = maxNeed + 1; // one spare column per row, left at -1
        numBlocks = need + 3 + need / 4; // spare blocks nobody uses, filled with random data too
        int[] perm = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) perm[i] = i;
        for (int i = numBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        int[] table = new int[b * maxBlocks];
        java.util.Arrays.fill(table, -1);
        int next = 0;
        for (int s = 0; s < b; s++)
            for (int j = 0; j < g.blocksFor(c.seqlens()[s]); j++) table[s * maxBlocks + j] = perm[next++];
        seqlens = Tensor.ofInts(arena, c.seqlens(), b);
        blockTable = Tensor.ofInts(arena, table, b, maxBlocks);
        q = random(rnd, c.dtype(), g.queryShape(b, c.queryLen(), c.numHeads()));
        if (g.format().isFp8()) {
            plainCache = random(rnd, c.dtype(), g.withFormat(io.mla4j.CacheFormat.PLAIN).cacheShape(numBlocks));
            io.mla4j.Fp8Cache.Quantized fq = io.mla4j.Fp8Cache.quantize(plainCache, g, arena);
            kCache = fq.cache();
            kvScale = fq.kvScale();
        } else {
            plainCache = null;
            kCache = random(rnd, c.dtype(), g.cacheShape(numBlocks));
            kvScale = 1f;
        }
    }

    /** The cache's values as floats, d_qk per token in page order (an FP8 cache dequantised, as the oracle sees it). */
    public float[] cacheValues() {
        Geometry g = c.geometry();
        if (!g.format().isFp8()) return kCache.toFloatArray();
        long tokens = (long) numBlocks * g.pageSize();
        float[] out = new float[Math.toIntExact(tokens * g.dQk())];
        for (long t = 0; t < tokens; t++) {
            g.format().dequantize(kCache.segment(), t * g.tokenBytes(), g.dC(), g.dR(), c.dtype(), kvScale, out,
                    (int) (t * g.dQk()));
        }
        return out;
    }

    private Tensor random(Random rnd, DType dt, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            float v = (float) rnd.nextGaussian();
            if (v == 0f) v = 0.5f; // never zeros
            t.setFloat(i, v);
        }
        return t;
    }

    public PlanSpec spec() {
        return PlanSpec.of(seqlens, blockTable, numBlocks, c.numHeads(), c.queryLen(), c.dtype(), c.geometry())
                .withCausal(c.causal());
    }

    /** A host tensor for outputs, poisoned with NaN. */
    public Tensor poisoned(DType dt, long... shape) {
        Tensor t = Tensor.allocate(arena, dt, shape);
        t.fill(Float.NaN);
        return t;
    }

    @Override
    public void close() { arena.close(); }
}
