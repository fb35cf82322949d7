package io.mla4j.cuda;

import jcuda.driver.JCudaDriver;

/** One cuMemAlloc'd block: freed exactly once by {@link #close()} (through JCuda's cuMemFree). */
final class DeviceBuffer implements AutoCloseable {
    private final CudaContext ctx;
    private final Jcu.Ptr ptr;
    private final long bytes;
    private boolean freed;

    DeviceBuffer(CudaContext ctx, long bytes) {
        this.ctx = ctx;
        this.bytes = bytes;
        this.ptr = new Jcu.Ptr();
        ctx.makeCurrent();
        // cuMemAlloc(0) is an error: round empty tensors up to one word so every tensor has an address
        Jcu.check(JCudaDriver.cuMemAlloc(ptr, Math.max(bytes, 4)), "cuMemAlloc(" + bytes + " bytes)");
        ctx.tracked(+1);
    }

    long address() { return ptr.address(); }
    long bytes() { return bytes; }

    @Override
    public synchronized void close() {
        if (freed) return;
        freed = true;
        ctx.makeCurrent();
        Jcu.check(JCudaDriver.cuMemFree(ptr), "cuMemFree");
        ctx.tracked(-1);
    }
}
