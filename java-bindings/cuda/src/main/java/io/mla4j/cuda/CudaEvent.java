package io.mla4j.cuda;

import jcuda.driver.JCudaDriver;

/** A CUDA event (created through JCuda, recorded through FFM) for timing GPU work on a backend's stream. */
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
        Cu.eventRecord(event.handle(), ctx.stream());
    }

    /** Waits for the event. */
    public void synchronize() {
        Cu.eventSynchronize(event.handle());
    }

    /** Milliseconds from {@code start} to this event (both recorded; waits for this one). */
    public float elapsedMsSince(CudaEvent start) {
        synchronize();
        return Cu.eventElapsedMs(start.event.handle(), event.handle());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        Jcu.check(JCudaDriver.cuEventDestroy(event), "cuEventDestroy");
    }
}
