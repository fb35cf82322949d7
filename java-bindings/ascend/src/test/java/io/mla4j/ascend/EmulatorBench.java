package io.mla4j.ascend;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.AclLibrary;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * Rough costs of the emulated path (not a JUnit test; run by hand):
 * {@code java ... io.mla4j.ascend.EmulatorBench <libmla4j_acl_emu.so> <kernel binary> <tiling lib>}.
 * Prints host->device copy bandwidth and the wall time of one decode (launch + synchronize) for a
 * few shapes. These are CPU-emulation numbers: they say nothing about an NPU.
 */
public final class EmulatorBench {
    public static void main(String[] args) {
        AclLibrary.load(Path.of(args[0]));
        try (AscendBackend be = new AscendBackend(Path.of(args[0]), Path.of(args[1]), Path.of(args[2])); Arena arena = Arena.ofConfined()) {
            System.out.println(be.description() + ", cores " + be.cores());
            Tensor host = Tensor.allocate(arena, DType.FP32, 16L << 20);
            try (Tensor dev = be.allocate(DType.FP32, 16L << 20)) {
                be.copy(host, dev);
                long t0 = System.nanoTime();
                for (int i = 0; i < 10; i++) be.copy(host, dev);
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf("aclrtMemcpy host->device 64 MiB: %.2f GB/s%n", 10 * 64.0 * (1 << 20) / s / 1e9);
            }
            int[][] shapes = {{4, 1024, 16, 1}, {4, 1024, 128, 1}, {2, 4096, 16, 2}};
            for (int[] sh : shapes) decode(be, arena, sh[0], sh[1], sh[2], sh[3]);
        }
    }

    private static void decode(AscendBackend be, Arena arena, int b, int sk, int hq, int sq) {
        int maxBlocks = Mla.blocksFor(sk), numBlocks = b * maxBlocks;
        int[] seqlens = new int[b], table = new int[b * maxBlocks];
        Arrays.fill(seqlens, sk);
        for (int i = 0; i < table.length; i++) table[i] = i;
        DType dt = DType.BF16;
        Tensor q = Tensor.allocate(arena, dt, b, sq, hq, Mla.D_QK), cache = Tensor.allocate(arena, dt, numBlocks, Mla.BLOCK_SIZE, 1, Mla.D_QK);
        Random r = new Random(1);
        float[] v = new float[(int) cache.numel()];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        cache.copyFrom(v);
        q.copyFrom(Arrays.copyOf(v, (int) q.numel()));
        PlanSpec spec = PlanSpec.of(Tensor.ofInts(arena, seqlens, b), Tensor.ofInts(arena, table, b, maxBlocks), numBlocks, hq, sq, dt);
        try (Tensor dq = be.allocate(dt, q.shape()); Tensor dc = be.allocate(dt, cache.shape());
             Tensor o = be.allocate(dt, b, sq, hq, Mla.D_V); Tensor lse = be.allocate(DType.FP32, b, hq, sq); MlaPlan plan = be.plan(spec)) {
            be.copy(q, dq);
            be.copy(cache, dc);
            be.decode(plan, dq, dc, o, lse);
            be.synchronize();
            int reps = 3;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) be.decode(plan, dq, dc, o, lse);
            be.synchronize();
            double ms = (System.nanoTime() - t0) / 1e6 / reps;
            double gflops = Mla.flops((long) b * sk, hq, sq) / (ms * 1e6);
            System.out.printf("decode b=%d s_k=%d h_q=%d s_q=%d bf16: %.1f ms per call (%.2f GFLOP/s emulated)%n", b, sk, hq, sq, ms, gflops);
        }
    }
}
