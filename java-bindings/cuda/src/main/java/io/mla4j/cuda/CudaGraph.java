package io.mla4j.cuda;

import jcuda.driver.CUgraph;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * An instantiated CUDA graph of work captured on a backend's stream (cuStreamBeginCapture ..
 * cuStreamEndCapture, cuGraphInstantiate: JCuda). {@link #launch()} replays it on the same stream with one
 * FFM driver call, whatever number of kernels it holds.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext ctx;
    private final CUgraph graph;
    private final Jcu.GraphExec exec;
    private final long execHandle;
    private boolean closed;

    private CudaGraph(CudaContext ctx, CUgraph graph, Jcu.GraphExec exec) {
        this.ctx = ctx;
        this.graph = graph;
        this.exec = exec;
        this.execHandle = exec.handle();
    }

    static CudaGraph capture(CudaContext ctx, Runnable work) {
        Jcu.check(JCudaDriver.cuStreamBeginCapture(ctx.stream(), CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture");
        CUgraph g = new CUgraph();
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            try {
                Jcu.Graph partial = new Jcu.Graph(); // leave the stream usable
                Jcu.check(JCudaDriver.cuStreamEndCapture(ctx.stream(), partial), "cuStreamEndCapture");
                if (!partial.isNull()) Jcu.check(JCudaDriver.cuGraphDestroy(partial), "cuGraphDestroy");
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        Jcu.check(JCudaDriver.cuStreamEndCapture(ctx.stream(), g), "cuStreamEndCapture");
        Jcu.GraphExec e = new Jcu.GraphExec();
        try {
            Jcu.check(JCudaDriver.cuGraphInstantiate(e, g, 0L), "cuGraphInstantiate");
        } catch (RuntimeException ex) {
            JCudaDriver.cuGraphDestroy(g);
            throw ex;
        }
        return new CudaGraph(ctx, g, e);
    }

    /** Replays the graph on the backend's stream; asynchronous like decode. */
    public void launch() {
        if (closed) throw new IllegalStateException("graph is closed");
        ctx.makeCurrent();
        FfmDriver.graphLaunch(execHandle, ctx.streamHandle());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ctx.synchronize();
        Jcu.check(JCudaDriver.cuGraphExecDestroy(exec), "cuGraphExecDestroy");
        Jcu.check(JCudaDriver.cuGraphDestroy(graph), "cuGraphDestroy");
    }
}
