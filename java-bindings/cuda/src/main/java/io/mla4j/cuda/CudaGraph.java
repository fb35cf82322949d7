package io.mla4j.cuda;

/**
 * An instantiated CUDA graph of work captured on a backend's stream (cuStreamBeginCapture ..
 * cuStreamEndCapture, cuGraphInstantiate). {@link #launch()} replays it on the same stream with one
 * driver call, whatever number of kernels it holds.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext ctx;
    private final long graph, exec;
    private boolean closed;

    private CudaGraph(CudaContext ctx, long graph, long exec) {
        this.ctx = ctx;
        this.graph = graph;
        this.exec = exec;
    }

    static CudaGraph capture(CudaContext ctx, Runnable work) {
        long s = ctx.stream();
        Cu.beginCapture(s);
        long g;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            try {
                long partial = Cu.endCapture(s); // leave the stream usable
                if (partial != 0) Cu.graphDestroy(partial);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        g = Cu.endCapture(s);
        long e;
        try {
            e = Cu.graphInstantiate(g);
        } catch (RuntimeException ex) {
            Cu.graphDestroy(g);
            throw ex;
        }
        return new CudaGraph(ctx, g, e);
    }

    /** Replays the graph on the backend's stream; asynchronous like decode. */
    public void launch() {
        if (closed) throw new IllegalStateException("graph is closed");
        ctx.makeCurrent();
        Cu.graphLaunch(exec, ctx.stream());
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        ctx.makeCurrent();
        Cu.streamSynchronize(ctx.stream());
        Cu.graphExecDestroy(exec);
        Cu.graphDestroy(graph);
    }
}
