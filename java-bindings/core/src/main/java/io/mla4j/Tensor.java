package io.mla4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense, row-major tensor: a dtype, a shape and the memory behind it.
 *
 * <p>Host tensors wrap a {@link MemorySegment} the JVM can read. Device tensors (made by a GPU or
 * NPU backend, or wrapping an engine's own device pointer) carry only the address, as a zero-length
 * segment: reading one from Java throws instead of crashing the JVM.
 */
public final class Tensor implements AutoCloseable {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySegment segment;
    private final DType dtype;
    private final long[] shape;
    private final String device; // null: host memory
    private final AutoCloseable release; // frees the memory on close(), or null when not owned
    private boolean closed;

    private Tensor(MemorySegment segment, DType dtype, long[] shape, String device, AutoCloseable release) {
        this.segment = Objects.requireNonNull(segment, "segment");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        for (long d : shape) if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        this.device = device;
        this.release = release;
    }

    /** Views host memory the caller owns. The segment must hold at least numel * dtype bytes. */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        Tensor t = new Tensor(segment, dtype, shape, null, null);
        if (segment.byteSize() < t.byteSize()) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape) + " (" + t.byteSize() + " bytes)");
        }
        return t;
    }

    /** Allocates zeroed host memory in {@code arena}; it lives as long as the arena. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long bytes = numel(shape) * dtype.byteSize();
        return new Tensor(arena.allocate(Math.max(bytes, 1), 64), dtype, shape, null, null);
    }

    /** Allocates host memory with its own confined lifetime: {@link #close()} frees it. */
    public static Tensor allocate(DType dtype, long... shape) {
        Arena arena = Arena.ofShared();
        long bytes = numel(shape) * dtype.byteSize();
        return new Tensor(arena.allocate(Math.max(bytes, 1), 64), dtype, shape, null, arena::close);
    }

    /** A host INT32 tensor holding {@code values}, for block tables and sequence lengths. */
    public static Tensor ofInts(Arena arena, int[] values, long... shape) {
        Tensor t = allocate(arena, DType.INT32, shape);
        if (t.numel() != values.length) {
            throw new IllegalArgumentException(values.length + " values do not fill shape " + Arrays.toString(shape));
        }
        MemorySegment.copy(values, 0, t.segment, ValueLayout.JAVA_INT, 0, values.length);
        return t;
    }

    /**
     * A tensor in a device's memory, identified by its address. For backends, and for engines that
     * hand their own device buffers to a backend. {@code release} frees it on close (null: caller owns it).
     */
    public static Tensor onDevice(String device, long address, DType dtype, long[] shape, AutoCloseable release) {
        Objects.requireNonNull(device, "device");
        return new Tensor(MemorySegment.ofAddress(address), dtype, shape, device, release);
    }

    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) { return shape[i]; }
    public long numel() { return numel(shape); }
    public long byteSize() { return numel() * dtype.byteSize(); }
    /** The memory: a full host segment, or a zero-length segment carrying a device address. */
    public MemorySegment segment() { return segment; }
    public long address() { return segment.address(); }
    public boolean isHost() { return device == null; }
    /** "host" or the device's name, e.g. "cuda:0". */
    public String location() { return device == null ? "host" : device; }
    public boolean isClosed() { return closed || (isHost() && !segment.scope().isAlive()); }

    // ---- host element access (bounds-checked by the segment) ----

    public float getFloat(long i) {
        return switch (dtype) {
            case BF16 -> Half.bf16ToFloat(segment.getAtIndex(I16, i));
            case FP16 -> Float.float16ToFloat(segment.getAtIndex(I16, i));
            case FP32 -> segment.getAtIndex(F32, i);
            case INT32 -> segment.getAtIndex(I32, i);
        };
    }

    public void setFloat(long i, float v) {
        switch (dtype) {
            case BF16 -> segment.setAtIndex(I16, i, Half.floatToBf16(v));
            case FP16 -> segment.setAtIndex(I16, i, Float.floatToFloat16(v));
            case FP32 -> segment.setAtIndex(F32, i, v);
            case INT32 -> segment.setAtIndex(I32, i, (int) v);
        }
    }

    public int getInt(long i) {
        if (dtype != DType.INT32) throw new IllegalStateException("getInt on a " + dtype + " tensor");
        return segment.getAtIndex(I32, i);
    }

    public void setInt(long i, int v) {
        if (dtype != DType.INT32) throw new IllegalStateException("setInt on a " + dtype + " tensor");
        segment.setAtIndex(I32, i, v);
    }

    /** All elements as floats (host tensors only). */
    public float[] toFloatArray() {
        requireHost("toFloatArray");
        long n = numel();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException("tensor too large for a Java array: " + n);
        float[] out = new float[(int) n];
        if (dtype == DType.FP32) {
            MemorySegment.copy(segment, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        }
        return out;
    }

    /** All elements as ints (INT32 host tensors only). */
    public int[] toIntArray() {
        requireHost("toIntArray");
        if (dtype != DType.INT32) throw new IllegalStateException("toIntArray on a " + dtype + " tensor");
        int[] out = new int[Math.toIntExact(numel())];
        MemorySegment.copy(segment, I32, 0, out, 0, out.length);
        return out;
    }

    /** Stores {@code values} (rounded to this dtype, nearest even). Host tensors only. */
    public void copyFrom(float[] values) {
        requireHost("copyFrom");
        if (values.length != numel()) throw new IllegalArgumentException(values.length + " values for " + numel() + " elements");
        if (dtype == DType.FP32) {
            MemorySegment.copy(values, 0, segment, F32, 0, values.length);
        } else {
            for (int i = 0; i < values.length; i++) setFloat(i, values[i]);
        }
    }

    /** Fills every element with {@code v} (e.g. NaN to poison an output). Host tensors only. */
    public void fill(float v) {
        requireHost("fill");
        long n = numel();
        for (long i = 0; i < n; i++) setFloat(i, v);
    }

    private void requireHost(String op) {
        if (!isHost()) throw new IllegalStateException(op + " needs a host tensor; this one is on " + device
                + ": copy it to the host through its backend first");
    }

    /** Frees the memory if this tensor owns it; idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (release != null) {
            try {
                release.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("freeing " + this + " failed: " + e.getMessage(), e);
            }
        }
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + "@" + location();
    }
}
