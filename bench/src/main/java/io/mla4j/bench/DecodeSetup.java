package io.mla4j.bench;

import io.mla4j.DType;
import io.mla4j.MlaBackend;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Inputs for one decode on a backend: random q and cache (N(0,1)-like, never zeros), a shuffled block
 * table, the plan and the outputs. Shared by the decode and reference benchmarks.
 */
final class DecodeSetup implements AutoCloseable {
    final MlaBackend backend;
    final Tensor q, cache, out, lse;
    final MlaPlan plan;
    final float kvScale; // an fp8_e4m3 cache's scale; 1 otherwise
    private final Arena arena = Arena.ofShared();

    DecodeSetup(MlaBackend backend, DecodeShape s, DType dt, long seed) {
        this.backend = backend;
        SplittableRandom rnd = new SplittableRandom(seed);
        io.mla4j.Geometry g = s.geometry();
        int perSeq = g.blocksFor(s.sk()), numBlocks = s.b() * perSeq;
        int[] perm = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) perm[i] = i;
        for (int i = numBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
        }
        int[] lens = new int[s.b()];
        java.util.Arrays.fill(lens, s.sk());
        Tensor seqlens = Tensor.ofInts(arena, lens, s.b());
        Tensor table = Tensor.ofInts(arena, perm, s.b(), perSeq);
        q = backend.allocate(dt, g.queryShape(s.b(), s.sq(), s.hq()));
        cache = backend.allocate(g.format().cacheDType(dt), g.cacheShape(numBlocks));
        out = backend.allocate(dt, g.outShape(s.b(), s.sq(), s.hq()));
        lse = backend.allocate(DType.FP32, s.b(), s.hq(), s.sq());
        fill(q, rnd);
        if (g.format().isFp8()) { // quantised from a 16-bit cache the way engines do (io.mla4j.Fp8Cache)
            Tensor plain = Tensor.allocate(arena, dt, g.withFormat(io.mla4j.CacheFormat.PLAIN).cacheShape(numBlocks));
            fill(plain, rnd);
            io.mla4j.Fp8Cache.Quantized fq = io.mla4j.Fp8Cache.quantize(plain, g, arena);
            backend.copy(fq.cache(), cache);
            kvScale = g.format().takesTensorScale() ? fq.kvScale() : 1f;
        } else {
            fill(cache, rnd);
            kvScale = 1f;
        }
        plan = backend.plan(PlanSpec.of(seqlens, table, numBlocks, s.hq(), s.sq(), dt).withGeometry(g)); // causal (s_q > 1)
    }

    /** Sum of 4 uniforms, centred: close enough to N(0,1) for timing, and fast for 10^8 values. */
    private static void fill(Tensor t, SplittableRandom rnd) {
        long n = t.numel();
        for (long i = 0; i < n; i++) {
            float v = (float) ((rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() - 2.0) * 1.7320508);
            t.setFloat(i, v == 0f ? 0.5f : v);
        }
    }

    void decode() { backend.decode(plan, q, cache, kvScale, out, lse); }

    @Override
    public void close() {
        plan.close();
        backend.close();
        arena.close();
    }
}
