package io.mla4j.cuda;

import jcuda.driver.JCudaDriver;

/**
 * A CUDA event for timing GPU work on a backend's stream, wholly through JCuda: events are recorded around
 * batches of work by benches, never per decode, so the JNI call costs nothing that matters.
 */
public final class CudaEvent implements AutoCloseable {
    private final CudaContext ctx;
    private final Jcu.Event event = new Jcu.Event();
    private boolean closed;

    CudaEvent(CudaContext ctx) {
        this.ctx = ctx;
        Jcu.check(JCudaDriver.cuEventCreate(event, 0), "cuEventCreate");
    }

    /** Records the event on the backend's stream. */
    public void record() {
        ctx.makeCurrent();
        Jcu.check(JCudaDriver.cuEventRecord(event, ctx.stream()), "cuEventRecord");
    }

    /** Waits for the event. */
    public void synchronize() {
        Jcu.check(JCudaDriver.cuEventSynchronize(event), "cuEventSynchronize");
    }

    /** Milliseconds from {@code start} to this event (both recorded; waits for this one). */
    public float elapsedMsSince(CudaEvent start) {
        synchronize();
        float[] ms = new float[1];
        Jcu.check(JCudaDriver.cuEventElapsedTime(ms, start.event, event), "cuEventElapsedTime");
        return ms[0];
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Jcu.check(JCudaDriver.cuEventDestroy(event), "cuEventDestroy");
    }
}
