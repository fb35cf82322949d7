package io.mla4j.cuda;

import java.util.concurrent.atomic.AtomicLong;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * One device's primary context (shared with the CUDA runtime, so an engine's own cudaMalloc'd buffers
 * are valid here) and the stream work goes to: the caller's, or one this context creates and owns.
 */
final class CudaContext implements AutoCloseable {
    final int ordinal;
    final String name;
    final int ccMajor, ccMinor, smCount, maxSmemOptin;
    private final CUdevice device = new CUdevice();
    private final Jcu.Ctx ctx = new Jcu.Ctx();
    private final Jcu.Stream ownStream;
    private final long stream;
    private final AtomicLong liveBuffers = new AtomicLong();
    /** Per thread: the context handle mla4j last made current there (saves a driver call per decode). */
    private static final ThreadLocal<long[]> CURRENT = ThreadLocal.withInitial(() -> new long[1]);
    private boolean closed;

    /** @param callerStream a CUstream handle to use, or 0 to create (and own) a non-blocking stream */
    CudaContext(int ordinal, long callerStream) {
        this.ordinal = ordinal;
        Jcu.load();
        Jcu.check(JCudaDriver.cuInit(0), "cuInit(0)");
        Jcu.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        Jcu.check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, device), "cuDevicePrimaryCtxRetain");
        Jcu.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        CURRENT.get()[0] = ctx.handle();
        byte[] nm = new byte[256];
        Jcu.check(JCudaDriver.cuDeviceGetName(nm, nm.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < nm.length && nm[len] != 0) len++;
        name = new String(nm, 0, len, java.nio.charset.StandardCharsets.US_ASCII);
        ccMajor = attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ccMinor = attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        smCount = attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        maxSmemOptin = attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        if (callerStream != 0) {
            ownStream = null;
            stream = callerStream;
        } else {
            ownStream = new Jcu.Stream();
            Jcu.check(JCudaDriver.cuStreamCreate(ownStream, jcuda.driver.CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
            stream = ownStream.handle();
        }
    }

    private int attr(int a) {
        int[] v = new int[1];
        Jcu.check(JCudaDriver.cuDeviceGetAttribute(v, a, device), "cuDeviceGetAttribute(" + a + ")");
        return v[0];
    }

    long stream() { return stream; }
    long contextHandle() { return ctx.handle(); }

    /**
     * Makes the context current on this thread: one FFM call, skipped when mla4j set this very context
     * there last (code that switches contexts behind mla4j's back on the same thread must call
     * {@link CudaBackend#rebindContext()}).
     */
    void makeCurrent() {
        long[] cur = CURRENT.get();
        if (cur[0] == ctx.handle()) return;
        Cu.ctxSetCurrent(ctx.handle());
        cur[0] = ctx.handle();
    }

    /** Forgets what this thread had current, so the next {@link #makeCurrent()} sets it again. */
    void forgetCurrent() { CURRENT.get()[0] = 0; }

    /** Free and total device memory in bytes (cuMemGetInfo). */
    long[] memInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        Jcu.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    DeviceBuffer alloc(long bytes) { return new DeviceBuffer(this, bytes); }

    void tracked(int delta) { liveBuffers.addAndGet(delta); }

    /** Device buffers allocated through this context and not yet freed. */
    long liveBuffers() { return liveBuffers.get(); }

    void synchronize() {
        makeCurrent();
        Cu.streamSynchronize(stream);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        makeCurrent();
        if (ownStream != null) Jcu.check(JCudaDriver.cuStreamDestroy(ownStream), "cuStreamDestroy");
        Jcu.check(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }
}
