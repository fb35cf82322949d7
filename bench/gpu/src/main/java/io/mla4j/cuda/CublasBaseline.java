package io.mla4j.cuda;

import io.mla4j.DType;
import io.mla4j.Mla;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import io.mla4j.cuda.cublas.Cublas;
import io.mla4j.cuda.cublas.cublas_h;
import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The unfused baseline: absorbed-MLA decode as a gather, two batched cuBLAS GEMMs and a softmax kernel
 * (see kernels-cuda/common/baseline_softmax.cu). Sequences are padded to the longest one, so the GEMMs
 * do {@code b * max_sk} keys of work, as a plain batched-GEMM implementation would. Same inputs and
 * outputs as {@link CudaBackend#decode}; for the bench and as a second opinion in tests.
 *
 * <p>Measurement only: it ships in the bench artifact (class path), in this package to reach the backend's
 * package-private plan buffers and helper kernels (see {@link CudaDiagnostics}).
 */
public final class CublasBaseline implements AutoCloseable {
    private final CudaBackend be;
    private final Cublas cublas;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment args = arena.allocate(HelperKernels.BASELINE_ARGS);
    private final MemorySegment argv = arena.allocate(ValueLayout.ADDRESS);
    private DeviceBuffer kGathered, scores, probs;

    /** Loads cuBLAS 13 (throws UnsatisfiedLinkError naming where it looked when it is absent). */
    public CublasBaseline(CudaBackend be) {
        this.be = be;
        be.context().makeCurrent();
        cublas = new Cublas(be.stream());
        argv.set(ValueLayout.ADDRESS, 0, args);
    }

    public int cublasVersion() { return cublas.version(); }

    /** Padded key count of the plan: the longest sequence, rounded up to whole 64-token blocks. */
    static int maxSk(MlaPlan plan) {
        int m = Mla.BLOCK_SIZE;
        for (int s = 0; s < plan.batch(); s++) m = Math.max(m, Mla.blocksFor(plan.seqlen(s)) * Mla.BLOCK_SIZE);
        return m;
    }

    /** Workspace bytes a plan needs (gathered K, fp32 scores, probabilities). */
    public static long workspaceBytes(MlaPlan plan) {
        long b = plan.batch(), sk = maxSk(plan), rows = plan.spec().rows();
        return b * sk * Mla.D_QK * 2 + b * rows * sk * 4 + b * rows * sk * 2;
    }

    public void decode(MlaPlan plan, Tensor q, Tensor kCache, Tensor out, Tensor lse) {
        if (!(plan instanceof CudaPlan p) || plan.backend() != be) throw Checks.bad("plan", "was not made by this CUDA backend");
        if (plan.isClosed()) throw Checks.bad("plan", "is closed");
        PlanSpec s = plan.spec();
        int b = plan.batch(), sq = s.queryLen(), hq = s.numHeads(), rows = s.rows();
        String mem = be.memory();
        Checks.tensor("q", q, mem, s.dtype(), b, sq, hq, Mla.D_QK);
        Checks.tensor("kCache", kCache, mem, s.dtype(), s.numCacheBlocks(), Mla.BLOCK_SIZE, Mla.H_KV, Mla.D_QK);
        Checks.tensor("out", out, mem, s.dtype(), b, sq, hq, Mla.D_V);
        Checks.tensor("lse", lse, mem, DType.FP32, b, hq, sq);
        int sk = maxSk(plan);
        CudaContext ctx = be.context();
        ctx.makeCurrent();
        ensureWorkspace(ctx, (long) b * sk * Mla.D_QK * 2, (long) b * rows * sk * 4, (long) b * rows * sk * 2);

        args.set(ValueLayout.JAVA_LONG, 0, kCache.address());
        args.set(ValueLayout.JAVA_LONG, 8, p.tableBuf.address());
        args.set(ValueLayout.JAVA_LONG, 16, p.seqlensBuf.address());
        args.set(ValueLayout.JAVA_LONG, 24, kGathered.address());
        args.set(ValueLayout.JAVA_LONG, 32, scores.address());
        args.set(ValueLayout.JAVA_LONG, 40, probs.address());
        args.set(ValueLayout.JAVA_LONG, 48, lse.address());
        int[] ints = {b, sq, hq, rows, plan.maxBlocks(), sk, s.effectiveCausal() ? 1 : 0, s.dtype() == DType.BF16 ? 0 : 1};
        for (int i = 0; i < ints.length; i++) args.set(ValueLayout.JAVA_INT, 56 + 4L * i, ints[i]);
        args.set(ValueLayout.JAVA_FLOAT, 88, s.scale());

        HelperKernels h = be.helpers();
        long st = ctx.streamHandle();
        int dt = s.dtype() == DType.BF16 ? cublas_h.CUDA_R_16BF() : cublas_h.CUDA_R_16F();
        h.gather.launch(sk / Mla.BLOCK_SIZE, b, 1, 256, 1, 1, 0, st, argv);
        // S^T (col-major, max_sk x rows) = K_s (max_sk x 576) . Q_s^T, per sequence
        cublas.gemmStridedBatched(true, false, sk, rows, Mla.D_QK,
                kGathered.address(), dt, Mla.D_QK, (long) sk * Mla.D_QK,
                q.address(), dt, Mla.D_QK, (long) rows * Mla.D_QK,
                scores.address(), cublas_h.CUDA_R_32F(), sk, (long) rows * sk, b);
        h.softmax.launch(rows, b, 1, 256, 1, 1, 0, st, argv);
        // O^T (col-major, 512 x rows) = V_s^T (512 x max_sk, ld 576) . P_s^T
        cublas.gemmStridedBatched(false, false, Mla.D_V, rows, sk,
                kGathered.address(), dt, Mla.D_QK, (long) sk * Mla.D_QK,
                probs.address(), dt, sk, (long) rows * sk,
                out.address(), dt, Mla.D_V, (long) rows * Mla.D_V, b);
    }

    private void ensureWorkspace(CudaContext ctx, long kBytes, long sBytes, long pBytes) {
        if (kGathered == null || kGathered.bytes() < kBytes || scores.bytes() < sBytes || probs.bytes() < pBytes) {
            ctx.synchronize(); // earlier baseline work may still use the old workspace
            freeWorkspace();
            kGathered = ctx.alloc(kBytes);
            scores = ctx.alloc(sBytes);
            probs = ctx.alloc(pBytes);
        }
    }

    private void freeWorkspace() {
        for (DeviceBuffer d : new DeviceBuffer[] {kGathered, scores, probs}) if (d != null) d.close();
        kGathered = scores = probs = null;
    }

    @Override
    public void close() {
        be.context().synchronize();
        freeWorkspace();
        cublas.close();
        arena.close();
    }
}
