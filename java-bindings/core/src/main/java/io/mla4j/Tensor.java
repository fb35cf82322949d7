package io.mla4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.function.BooleanSupplier;

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
    private final long numel, byteSize;
    private final String device; // null: host memory
    private final AutoCloseable release; // frees the memory on close(), or null when not owned
    private final BooleanSupplier ownerOpen; // false once the backend that owns this memory has closed; null: no owner
    private volatile boolean closed;

    private Tensor(MemorySegment segment, DType dtype, long[] shape, String device, AutoCloseable release,
                   BooleanSupplier ownerOpen) {
        if (segment == null) throw bad("segment", "is null");
        this.byteSize = byteSize(dtype, shape); // validates dtype and shape, overflow-safe
        this.segment = segment;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numelOf(this.shape);
        this.device = device;
        this.release = release;
        this.ownerOpen = ownerOpen;
    }

    private static IllegalArgumentException bad(String arg, String problem) {
        return new IllegalArgumentException(arg + ": " + problem);
    }

    /** Elements of {@code shape}, validated: not null, no negative dimension, no overflow. */
    private static long numelOf(long[] shape) {
        if (shape == null) throw bad("shape", "is null");
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw bad("shape", Arrays.toString(shape) + " has a negative dimension");
        }
        for (long d : shape) {
            if (d == 0) return 0;
        }
        for (long d : shape) {
            if (n > Long.MAX_VALUE / d) {
                throw bad("shape", Arrays.toString(shape) + " has more than 2^63 - 1 elements");
            }
            n *= d;
        }
        return n;
    }

    /**
     * Bytes of a {@code dtype} tensor of {@code shape}, overflow-safe: an {@link IllegalArgumentException}
     * naming "dtype" or "shape" when either is null, a dimension is negative, or the size passes 2^63 - 1 bytes.
     */
    public static long byteSize(DType dtype, long... shape) {
        if (dtype == null) throw bad("dtype", "is null");
        long n = numelOf(shape);
        if (n > Long.MAX_VALUE / dtype.byteSize()) {
            throw bad("shape", dtype + Arrays.toString(shape) + " needs more than 2^63 - 1 bytes");
        }
        return n * dtype.byteSize();
    }

    /** Views host memory the caller owns. The segment must hold at least numel * dtype bytes. */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        return wrap(segment, dtype, null, shape);
    }

    /**
     * Views host memory; {@code release} (may be null) frees it on {@link #close()}. For host backends'
     * {@code allocate}. The segment must hold at least numel * dtype bytes.
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, AutoCloseable release, long... shape) {
        if (segment == null) throw bad("segment", "is null");
        Tensor t = new Tensor(segment, dtype, shape, null, release, null);
        if (!segment.scope().isAlive()) throw new IllegalStateException("segment: is closed (its arena was closed)");
        if (segment.byteSize() < t.byteSize()) {
            throw bad("segment", "of " + segment.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape) + " (" + t.byteSize() + " bytes)");
        }
        return t;
    }

    /** Allocates zeroed host memory in {@code arena}; it lives as long as the arena. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        if (arena == null) throw bad("arena", "is null");
        long bytes = byteSize(dtype, shape);
        if (!arena.scope().isAlive()) throw new IllegalStateException("arena: is closed");
        return new Tensor(arena.allocate(Math.max(bytes, 1), 64), dtype, shape, null, null, null);
    }

    /** Allocates host memory with its own confined lifetime: {@link #close()} frees it. */
    public static Tensor allocate(DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        Arena arena = Arena.ofShared();
        try {
            return new Tensor(arena.allocate(Math.max(bytes, 1), 64), dtype, shape, null, arena::close, null);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A host INT32 tensor holding {@code values}, for block tables and sequence lengths. */
    public static Tensor ofInts(Arena arena, int[] values, long... shape) {
        if (values == null) throw bad("values", "is null");
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
        return onDevice(device, address, dtype, shape, release, null);
    }

    /**
     * As {@link #onDevice(String, long, DType, long[], AutoCloseable)}, for backends: {@code ownerOpen}
     * says whether the backend owning this memory is still open; once it answers false the tensor is
     * closed ({@link #isClosed()}), so a tensor of a closed backend never passes the checks of another.
     */
    public static Tensor onDevice(String device, long address, DType dtype, long[] shape, AutoCloseable release,
                                  BooleanSupplier ownerOpen) {
        if (device == null) throw bad("device", "is null");
        if (device.isBlank() || device.equals("host")) {
            throw bad("device", "'" + device + "' is not a device name (e.g. \"cuda:0\"); wrap host memory with Tensor.wrap");
        }
        return new Tensor(MemorySegment.ofAddress(address), dtype, shape, device, release, ownerOpen);
    }

    public DType dtype() { return dtype; }
    public long[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long dim(int i) {
        if (i < 0 || i >= shape.length) throw bad("i", "dimension " + i + " is out of range [0, " + shape.length + ") of " + this);
        return shape[i];
    }
    public long numel() { return numel; }
    /** numel * dtype bytes, computed once, exactly (construction refuses shapes whose size overflows). */
    public long byteSize() { return byteSize; }
    /** The memory: a full host segment, or a zero-length segment carrying a device address. */
    public MemorySegment segment() { return segment; }
    public long address() { return segment.address(); }
    public boolean isHost() { return device == null; }
    /** "host" or the device's name, e.g. "cuda:0". */
    public String location() { return device == null ? "host" : device; }
    /** True once closed, once its memory's arena is closed, or once the backend owning its memory has closed. */
    public boolean isClosed() {
        return closed || (isHost() && !segment.scope().isAlive()) || (ownerOpen != null && !ownerOpen.getAsBoolean());
    }
    /** True for host memory that may not be written (a read-only segment). */
    public boolean isReadOnly() { return isHost() && segment.isReadOnly(); }

    /**
     * A view of this tensor's memory with another shape of the same element count (row-major: nothing
     * moves, nothing is copied), in the same memory. The view owns nothing: closing it frees nothing, and it
     * reads as closed once this tensor does. E.g. a contiguous cache [b, max_len, 1, d_qk] seen as pages
     * [b * max_len / page, page, 1, d_qk] ({@link ContiguousCache}).
     */
    public Tensor reshape(long... newShape) {
        if (isClosed()) throw new IllegalStateException("reshape on a closed tensor " + this + " (its memory was freed)");
        long n = numelOf(newShape);
        if (n != numel) {
            throw bad("shape", Arrays.toString(newShape) + " has " + n + " elements; " + this + " has " + numel);
        }
        Tensor outer = this;
        return new Tensor(segment, dtype, newShape, device, null, () -> !outer.isClosed());
    }

    // ---- host element access (bounds-checked by the segment) ----

    public float getFloat(long i) {
        checkAccess("getFloat", i, false);
        return switch (dtype) {
            case BF16 -> Half.bf16ToFloat(segment.getAtIndex(I16, i));
            case FP16 -> Float.float16ToFloat(segment.getAtIndex(I16, i));
            case FP32 -> segment.getAtIndex(F32, i);
            case INT32 -> segment.getAtIndex(I32, i);
            case FP8_E4M3 -> Fp8.toFloat(segment.get(ValueLayout.JAVA_BYTE, i));
        };
    }

    public void setFloat(long i, float v) {
        checkAccess("setFloat", i, true);
        switch (dtype) {
            case BF16 -> segment.setAtIndex(I16, i, Half.floatToBf16(v));
            case FP16 -> segment.setAtIndex(I16, i, Float.floatToFloat16(v));
            case FP32 -> segment.setAtIndex(F32, i, v);
            case INT32 -> segment.setAtIndex(I32, i, (int) v);
            case FP8_E4M3 -> segment.set(ValueLayout.JAVA_BYTE, i, Fp8.fromFloat(v));
        }
    }

    public int getInt(long i) {
        if (dtype != DType.INT32) throw new IllegalStateException("getInt on a " + dtype + " tensor");
        checkAccess("getInt", i, false);
        return segment.getAtIndex(I32, i);
    }

    public void setInt(long i, int v) {
        if (dtype != DType.INT32) throw new IllegalStateException("setInt on a " + dtype + " tensor");
        checkAccess("setInt", i, true);
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
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalStateException("tensor too large for a Java array: " + n);
        int[] out = new int[(int) n];
        MemorySegment.copy(segment, I32, 0, out, 0, out.length);
        return out;
    }

    /** Stores {@code values} (rounded to this dtype, nearest even). Host tensors only. */
    public void copyFrom(float[] values) {
        requireHost("copyFrom");
        if (values == null) throw bad("values", "is null");
        requireWritable("copyFrom");
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
        requireWritable("fill");
        long n = numel();
        for (long i = 0; i < n; i++) setFloat(i, v);
    }

    private void checkAccess(String op, long i, boolean write) {
        requireHost(op);
        if (i < 0 || i >= numel) throw bad("i", "index " + i + " is out of range [0, " + numel + ") of " + this);
        if (write) requireWritable(op);
    }

    private void requireWritable(String op) {
        if (segment.isReadOnly()) throw new IllegalStateException(op + " on a read-only tensor " + this);
    }

    private void requireHost(String op) {
        if (isClosed()) throw new IllegalStateException(op + " on a closed tensor " + this + " (its memory was freed)");
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

    static long numel(long[] shape) { return numelOf(shape); }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + "@" + location();
    }
}
