package io.mla4j.spi;

import io.mla4j.DType;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Base of backends that compute on host memory; copies are memcpy. Each {@link #allocate}d tensor has
 * its own arena: closing the tensor frees its memory at once, and closing the backend frees whatever
 * tensors are still open (they then read as closed).
 */
public abstract class HostBackend extends AbstractMlaBackend {
    private final Set<Arena> live = ConcurrentHashMap.newKeySet();

    @Override
    public String memory() { return "host"; }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        ensureOpen();
        long bytes = Checks.allocation(dtype, shape);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment = arena.allocate(Math.max(bytes, 1), 64);
            live.add(arena);
            if (isClosed() && live.remove(arena)) { // raced with close(): nothing may outlive the backend
                arena.close();
                ensureOpen();
            }
            return Tensor.wrap(segment, dtype, () -> {
                if (live.remove(arena)) arena.close();
            }, shape);
        } catch (RuntimeException | Error e) {
            if (live.remove(arena) || arena.scope().isAlive()) arena.close();
            throw e;
        }
    }

    /** Tensors allocated by this backend and not closed yet (for tests and leak checks). */
    public int liveTensors() { return live.size(); }

    @Override
    public void copy(Tensor src, Tensor dst) {
        ensureOpen();
        Checks.copyArgs(src, dst, "host");
        Checks.accessible("src", src); // the copy runs on the caller's thread: its own confined memory is fine
        Checks.accessible("dst", dst);
        if (!src.isHost()) throw Checks.bad("src", "is in " + src.location() + " memory, not host memory");
        if (!dst.isHost()) throw Checks.bad("dst", "is in " + dst.location() + " memory, not host memory");
        if (src.byteSize() == 0) return;
        MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.byteSize());
    }

    @Override
    public void synchronize() { ensureOpen(); }

    @Override
    protected void release() {
        RuntimeException first = null;
        for (Arena a : List.copyOf(live)) {
            if (!live.remove(a)) continue;
            try {
                a.close();
            } catch (RuntimeException e) { // still in use by another thread: report after freeing the rest
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
