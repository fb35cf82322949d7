package io.mla4j.spi;

import io.mla4j.DType;
import io.mla4j.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Base of backends that compute on host memory: allocation in one shared arena, copies are memcpy. */
public abstract class HostBackend extends AbstractMlaBackend {
    private final Arena arena = Arena.ofShared();

    @Override
    public String memory() { return "host"; }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        ensureOpen();
        return Tensor.allocate(arena, dtype, shape);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        ensureOpen();
        if (src == null || dst == null) throw Checks.bad(src == null ? "src" : "dst", "is null");
        if (!src.isHost() || !dst.isHost()) throw Checks.bad(src.isHost() ? "dst" : "src", "is not host memory");
        if (src.dtype() != dst.dtype()) throw Checks.bad("dst", "dtype " + dst.dtype() + " differs from src " + src.dtype());
        if (src.byteSize() != dst.byteSize()) throw Checks.bad("dst", dst.byteSize() + " bytes, src has " + src.byteSize());
        MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.byteSize());
    }

    @Override
    public void synchronize() {}

    @Override
    protected void release() { arena.close(); }
}
