package io.mla4j.cuda;

import io.mla4j.DType;
import io.mla4j.cuda.cublas.Cublas;
import io.mla4j.cuda.cublas.CublasLibrary;
import io.mla4j.cuda.cublas.cublas_h;
import java.util.Arrays;
import java.util.Locale;

/**
 * What this machine offers the CUDA backend, without needing the decode kernels: device, driver, memory,
 * which mla4j kernels the fatbin holds, the two roofline ceilings (device copy bandwidth counting read +
 * write, bf16 GEMM rate through cuBLAS) and the CPU cost of one FFM kernel launch.
 * {@code java ... io.mla4j.cuda.CudaDiagnostics [--no-ceilings]}
 *
 * <p>Measurement only, so it ships in the bench artifact, not in mla4j-cuda: it is in package io.mla4j.cuda
 * to reach the backend's package-private driver layer, which works on the class path (both jars in one
 * class loader) where the GPU scripts run it; on the module path the package would be split.
 */
public final class CudaDiagnostics {
    private CudaDiagnostics() {}

    /** Measured ceilings: bytes/s of a device-to-device copy (read + write) and bf16 GEMM FLOP/s. */
    public record Ceilings(double copyBytesPerS, double gemmFlopsPerS) {}

    public static void main(String[] args) {
        boolean ceilings = !Arrays.asList(args).contains("--no-ceilings");
        System.out.println(CudaBackendProvider.probe().map(r -> "cuda backend: unavailable: " + r).orElse("cuda backend: available"));
        try (CudaContext ctx = new CudaContext(0, 0)) {
            int[] v = new int[1];
            Jcu.check(jcuda.driver.JCudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion");
            long[] mem = ctx.memInfo();
            System.out.printf(Locale.ROOT, "device 0: %s, sm_%d%d, %d SMs, %d B opt-in shared memory/block, driver API %d, %.1f/%.1f GiB free%n",
                    ctx.name, ctx.ccMajor, ctx.ccMinor, ctx.smCount, ctx.maxSmemOptin, v[0], mem[0] / 1073741824.0, mem[1] / 1073741824.0);
            CudaOptions opt = CudaOptions.fromSystemProperties();
            try (Module m = Module.load(ctx, opt.fatbin(), DecodeKernels.FATBIN_RESOURCE)) {
                if (m == null) {
                    System.out.println("kernel fatbin: absent");
                } else {
                    StringBuilder sb = new StringBuilder("kernel fatbin " + m.source + ":");
                    for (String k : new String[] {"mla4j_schedule", "mla4j_decode_sm80", "mla4j_decode_sm90", "mla4j_combine"})
                        sb.append(' ').append(k).append(m.function(k) != null ? "=yes" : "=NO");
                    System.out.println(sb);
                }
            } catch (RuntimeException e) {
                System.out.println("kernel fatbin: failed to load: " + e.getMessage());
            }
            try (HelperKernels h = new HelperKernels(ctx, opt.baselineFatbin())) {
                for (boolean critical : new boolean[] {true, false, true})
                    System.out.printf(Locale.ROOT, "FFM cuLaunchKernel (%s), CPU per launch: %.2f us (median of 50 batches of 100 empty launches, after 20000)%n",
                            critical ? "default handle" + (FfmDriver.CRITICAL_LAUNCH ? ", critical" : ", plain") : "plain", launchCpuUs(ctx, h, critical));
                if (ceilings) {
                    Ceilings c = ceilings(ctx, h);
                    System.out.printf(Locale.ROOT, "ceilings: copy %.0f GB/s (read+write), bf16 GEMM %.0f TFLOP/s%n",
                            c.copyBytesPerS() / 1e9, c.gemmFlopsPerS() / 1e12);
                }
            }
        }
    }

    /** Median CPU time of one launch of a kernel with no work, in batches of 100 (well under the queue depth). */
    static double launchCpuUs(CudaContext ctx, HelperKernels h, boolean critical) {
        double[] t = new double[50];
        int warm = 200; // batches: lets the JIT compile the downcall path
        for (int r = 0; r < t.length + warm; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) emptyLaunch(ctx, h, critical);
            long t1 = System.nanoTime();
            ctx.synchronize();
            if (r >= warm) t[r - warm] = (t1 - t0) / 100e3;
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    /** An empty launch of the fill kernel (n = 0) through the default handle or the plain one. */
    private static void emptyLaunch(CudaContext ctx, HelperKernels h, boolean critical) {
        h.fillArgs.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, 0L);
        long f = h.fill.handle(), s = ctx.streamHandle();
        int rc = critical ? FfmDriver.launch(f, 1, 1, 1, 32, 1, 1, 0, s, h.fillArgv) : FfmDriver.launchPlain(f, 1, 1, 1, 32, 1, 1, 0, s, h.fillArgv);
        Jcu.check(rc, "cuLaunchKernel(mla4j_fill_random)");
    }

    /** The two ceilings, on the backend's device. */
    public static Ceilings ceilings(CudaBackend be) {
        be.context().makeCurrent();
        return ceilings(be.context(), be.helpers());
    }

    static Ceilings ceilings(CudaContext ctx, HelperKernels h) {
        long n = 1L << 30; // 1 GiB each way, far past the 50 MB L2
        double copy, gemm;
        try (DeviceBuffer a = ctx.alloc(n); DeviceBuffer b = ctx.alloc(n); CudaEvent e0 = new CudaEvent(ctx); CudaEvent e1 = new CudaEvent(ctx)) {
            h.fillRandom(a.address(), n / 2, DType.BF16, 1, 1f);
            double[] ms = new double[15];
            for (int i = 0; i < ms.length + 3; i++) {
                e0.record();
                ctx.copyOnDevice(b.address(), a.address(), n);
                e1.record();
                float t = e1.elapsedMsSince(e0);
                if (i >= 3) ms[i - 3] = t;
            }
            copy = 2.0 * n / (median(ms) * 1e-3);
        }
        int m = 8192;
        long bytes = 2L * m * m;
        try (DeviceBuffer a = ctx.alloc(bytes); DeviceBuffer b = ctx.alloc(bytes); DeviceBuffer c = ctx.alloc(bytes);
             Cublas blas = new Cublas(ctx.streamHandle()); CudaEvent e0 = new CudaEvent(ctx); CudaEvent e1 = new CudaEvent(ctx)) {
            h.fillRandom(a.address(), (long) m * m, DType.BF16, 2, 1f); // random, never zeros: zeros run faster
            h.fillRandom(b.address(), (long) m * m, DType.BF16, 3, 1f);
            int bf = cublas_h.CUDA_R_16BF();
            double[] ms = new double[10];
            for (int i = 0; i < ms.length + 3; i++) {
                e0.record();
                blas.gemm(false, false, m, m, m, a.address(), bf, m, b.address(), bf, m, c.address(), bf, m);
                e1.record();
                float t = e1.elapsedMsSince(e0);
                if (i >= 3) ms[i - 3] = t;
            }
            gemm = 2.0 * m * m * m / (median(ms) * 1e-3);
            System.out.println("cuBLAS " + blas.version() + " from " + CublasLibrary.loadedFrom());
        } catch (LinkageError e) {
            System.out.println("GEMM ceiling not measured: " + e.getMessage());
            gemm = Double.NaN;
        }
        return new Ceilings(copy, gemm);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
