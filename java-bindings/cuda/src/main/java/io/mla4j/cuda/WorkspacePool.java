package io.mla4j.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Plan workspaces recycled across decode steps: a plan is made every step, and cuMemAlloc/cuMemFree
 * (which synchronises the device) would cost more than the step's launches. Buffers are kept by
 * power-of-two size class, so a step whose block table grew a little still reuses the last step's.
 * Reuse is safe without a host sync because every plan and decode runs on the backend's one stream:
 * the next step's uploads are ordered after the previous step's kernels.
 */
final class WorkspacePool {
    private final CudaContext ctx;
    private final Map<Long, ArrayDeque<DeviceBuffer>> free = new HashMap<>();

    WorkspacePool(CudaContext ctx) { this.ctx = ctx; }

    static long sizeClass(long bytes) {
        long c = 256;
        while (c < bytes) c <<= 1;
        return c;
    }

    synchronized DeviceBuffer take(long bytes) {
        long c = sizeClass(bytes);
        ArrayDeque<DeviceBuffer> q = free.get(c);
        DeviceBuffer b = q == null ? null : q.pollLast();
        return b != null ? b : ctx.alloc(c);
    }

    synchronized void give(DeviceBuffer b) {
        free.computeIfAbsent(b.bytes(), k -> new ArrayDeque<>()).addLast(b);
    }

    /** Frees every pooled buffer (device memory goes back to the driver). */
    synchronized void trim() {
        ctx.synchronize();
        for (ArrayDeque<DeviceBuffer> q : free.values()) for (DeviceBuffer b : q) b.close();
        free.clear();
    }

    synchronized long pooledBytes() {
        long n = 0;
        for (ArrayDeque<DeviceBuffer> q : free.values()) for (DeviceBuffer b : q) n += b.bytes();
        return n;
    }
}
