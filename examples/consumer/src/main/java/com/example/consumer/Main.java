package com.example.consumer;

import io.mla4j.BuildInfo;
import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;

/** One decode on the best backend here, checked against the fp64 oracle; prints one "consumer:" line. */
public final class Main {
    public static void main(String[] args) {
        String mode = Main.class.getModule().isNamed() ? "module path" : "class path";
        StringBuilder backends = new StringBuilder();
        for (MlaBackends.Status s : MlaBackends.list()) {
            backends.append(backends.isEmpty() ? "" : ", ").append(s.name()).append(s.available() ? "" : " (unavailable)");
        }
        int b = 1, hq = 16, sq = 1, numBlocks = 2;
        float got, want;
        String name;
        try (Arena arena = Arena.ofConfined(); MlaBackend be = MlaBackends.open(); MlaBackend ref = MlaBackends.open("reference")) {
            name = be.name();
            got = lse0(be, arena, b, hq, sq, numBlocks);
            want = lse0(ref, arena, b, hq, sq, numBlocks);
        }
        if (Math.abs(got - want) > 2e-3) throw new AssertionError("lse[0] " + got + " vs oracle " + want);
        System.out.println("consumer: " + BuildInfo.describe() + " on the " + mode + ": backend " + name + ", lse[0] = " + got
                + " (oracle " + want + "); backends here: " + backends);
    }

    private static float lse0(MlaBackend be, Arena arena, int b, int hq, int sq, int numBlocks) {
        Tensor seqlens = Tensor.ofInts(arena, new int[] {100}, b);
        Tensor table = Tensor.ofInts(arena, new int[] {1, 0}, b, 2);
        try (MlaPlan plan = be.plan(PlanSpec.of(seqlens, table, numBlocks, hq, sq, DType.BF16));
             Tensor q = be.allocate(DType.BF16, b, sq, hq, Mla.D_QK);
             Tensor cache = be.allocate(DType.BF16, numBlocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
             Tensor out = be.allocate(DType.BF16, b, sq, hq, Mla.D_V);
             Tensor lse = be.allocate(DType.FP32, b, hq, sq)) {
            Tensor hq0 = Tensor.allocate(arena, DType.BF16, q.shape()), hc = Tensor.allocate(arena, DType.BF16, cache.shape());
            for (long i = 0; i < hq0.numel(); i++) hq0.setFloat(i, (float) Math.sin(i));
            for (long i = 0; i < hc.numel(); i++) hc.setFloat(i, (float) Math.cos(i * 0.37));
            be.copy(hq0, q);
            be.copy(hc, cache);
            be.decode(plan, q, cache, out, lse);
            be.synchronize();
            Tensor hl = Tensor.allocate(arena, DType.FP32, lse.shape());
            be.copy(lse, hl);
            return hl.getFloat(0);
        }
    }
}
