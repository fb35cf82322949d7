package io.mla4j.cuda;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One device's primary context (shared with the CUDA runtime, so an engine's own cudaMalloc'd buffers
 * are valid here) and the stream work goes to: the caller's, or one this context creates and owns.
 * Everything here goes through JCuda; {@link #streamHandle()} is the same stream as a long for FFM launches.
 */
final class CudaContext implements AutoCloseable {
    final int ordinal;
    final String name;
    final int ccMajor, ccMinor, smCount, maxSmemOptin;
    private final CUdevice device = new CUdevice();
    private final Jcu.Ctx ctx = new Jcu.Ctx();
    private final CUstream stream;
    private final boolean ownsStream;
    private final long streamHandle;
    private final AtomicLong liveBuffers = new AtomicLong();
    /** Per thread: the context handle mla4j last made current there (saves a driver call per decode). */
    private static final ThreadLocal<long[]> CURRENT = ThreadLocal.withInitial(() -> new long[1]);
    private boolean closed;

    /** @param callerStream a CUstream handle to use, or 0 to create (and own) a non-blocking stream */
    CudaContext(int ordinal, long callerStream) {
        this.ordinal = ordinal;
        Jcu.load();
        CUstream caller = callerStream != 0 ? Jcu.stream(callerStream) : null; // before any retain: nothing to undo
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
            ownsStream = false;
            stream = caller;
            streamHandle = callerStream;
        } else {
            Jcu.Stream own = new Jcu.Stream();
            Jcu.check(JCudaDriver.cuStreamCreate(own, jcuda.driver.CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
            ownsStream = true;
            stream = own;
            streamHandle = own.handle();
        }
    }

    /** Number of devices (cuInit first); throws CudaException if the driver refuses. */
    static int deviceCount() {
        Jcu.check(JCudaDriver.cuInit(0), "cuInit(0)");
        int[] n = new int[1];
        Jcu.check(JCudaDriver.cuDeviceGetCount(n), "cuDeviceGetCount");
        return n[0];
    }

    private int attr(int a) {
        int[] v = new int[1];
        Jcu.check(JCudaDriver.cuDeviceGetAttribute(v, a, device), "cuDeviceGetAttribute(" + a + ")");
        return v[0];
    }

    /** The stream as JCuda's object (for JCuda calls). */
    CUstream stream() { return stream; }

    /** The same stream's handle, read once, for FFM launches. */
    long streamHandle() { return streamHandle; }

    /**
     * Makes the context current on this thread: one driver call, skipped when mla4j set this very context
     * there last (code that switches contexts behind mla4j's back on the same thread must call
     * {@link CudaBackend#rebindContext()}).
     */
    void makeCurrent() {
        long[] cur = CURRENT.get();
        if (cur[0] == ctx.handle()) return;
        Jcu.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
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

    // Copies and fills, stream-ordered on this context's stream (the context must be current).

    /** Host to device; the host bytes are staged (pageable memory) or must stay until the stream gets there (pinned). */
    void copyToDevice(long dst, MemorySegment src, long bytes) {
        Jcu.check(JCudaDriver.cuMemcpyHtoDAsync(Jcu.device(dst), Jcu.host(src), bytes, stream), "cuMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    void copyToHost(MemorySegment dst, long src, long bytes) {
        Jcu.check(JCudaDriver.cuMemcpyDtoHAsync(Jcu.host(dst), Jcu.device(src), bytes, stream), "cuMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    void copyOnDevice(long dst, long src, long bytes) {
        Jcu.check(JCudaDriver.cuMemcpyDtoDAsync(Jcu.device(dst), Jcu.device(src), bytes, stream), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
    }

    void fillWords(long dst, int value, long count) {
        Jcu.check(JCudaDriver.cuMemsetD32Async(Jcu.device(dst), value, count, stream), "cuMemsetD32Async(" + count + " words)");
    }

    /** Whether this context's stream is being captured into a graph now (cuStreamIsCapturing). */
    boolean isCapturing() {
        int[] status = new int[1];
        Jcu.check(JCudaDriver.cuStreamIsCapturing(stream, status), "cuStreamIsCapturing");
        return status[0] != jcuda.driver.CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE;
    }

    /**
     * Page-locked host memory (cuMemAllocHost, the context current): a copy from it is captured in a graph as a
     * node that reads it at every replay. Free it with {@link Pinned#close()} once no queued copy reads it.
     */
    Pinned allocPinned(long bytes) {
        jcuda.Pointer p = new jcuda.Pointer();
        Jcu.check(JCudaDriver.cuMemAllocHost(p, bytes), "cuMemAllocHost(" + bytes + " bytes)");
        return new Pinned(p, MemorySegment.ofBuffer(p.getByteBuffer(0, bytes)));
    }

    /** Page-locked host memory of {@link #allocPinned}: its segment, freed once by {@link #close()}. */
    static final class Pinned implements AutoCloseable {
        private final jcuda.Pointer pointer;
        final MemorySegment segment;
        private boolean freed;

        private Pinned(jcuda.Pointer pointer, MemorySegment segment) {
            this.pointer = pointer;
            this.segment = segment;
        }

        @Override
        public void close() {
            if (freed) return;
            freed = true;
            Jcu.check(JCudaDriver.cuMemFreeHost(pointer), "cuMemFreeHost");
        }
    }

    /** Waits for the stream (the context made current first). */
    void synchronize() {
        makeCurrent();
        Jcu.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        makeCurrent();
        if (ownsStream) Jcu.check(JCudaDriver.cuStreamDestroy(stream), "cuStreamDestroy");
        Jcu.check(JCudaDriver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }
}
