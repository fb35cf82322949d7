package io.mla4j.cpu;

import java.util.Locale;
import java.util.Optional;

/**
 * Which code computes the cpu backend's splits: the Java Vector API (portable, always there) or the
 * native kernel {@code libmla4j_cpu.so} (native/cpu) with AMX-BF16 tiles or AVX512-BF16 dot products.
 * {@link #AUTO} takes the fastest this machine allows: AMX, then AVX512-BF16, then the Vector API. The
 * system property {@value #PROPERTY} forces one for backends made without an explicit choice.
 *
 * <p>The native kernel needs native access for module {@code io.mla4j} ({@code --enable-native-access=io.mla4j}
 * on the module path, {@code =ALL-UNNAMED} on the class path) and the library, found through
 * {@value #LIBRARY_PROPERTY} (a file), else a {@code /io/mla4j/cpu/native/<os>-<arch>/} resource, else
 * {@code java.library.path}. Without them the backend runs the Vector API and says why in its log line.
 */
public enum CpuKernel {
    /** The fastest available: amx, avx512bf16, vector. */
    AUTO("auto", -1),
    /** The Java Vector API ({@link Attention}); the only kernel with AMLA rescaling. */
    VECTOR("vector", -1),
    /** Native, VDPBF16PS (AVX512-BF16), fp32 online softmax. */
    AVX512BF16("avx512bf16", 1),
    /** Native, TDPBF16PS (AMX-BF16 tiles), fp32 online softmax. */
    AMX("amx", 0),
    /** For tests: the AVX512-BF16 kernel's source with its instructions emulated in C (any CPU; slow). */
    AVX512BF16_EMU("avx512bf16-emu", 3),
    /** For tests: the AMX kernel's source with the tile instructions emulated in C (any CPU; slow). */
    AMX_EMU("amx-emu", 2);

    /** System property forcing the kernel: auto, vector, avx512bf16, amx (or the -emu test kernels). */
    public static final String PROPERTY = "mla4j.cpu.kernel";
    /** System property naming the native library file. */
    public static final String LIBRARY_PROPERTY = "mla4j.cpu.native.library";

    private final String id;
    final int code; // the path number of mla4j_cpu_split

    CpuKernel(String id, int code) {
        this.id = id;
        this.code = code;
    }

    /** The name used by {@value #PROPERTY} and in descriptions. */
    public String id() { return id; }

    public boolean isNative() { return code >= 0; }

    /** Why this kernel cannot run here, or empty when it can ({@link #AUTO} and {@link #VECTOR} always can). */
    public Optional<String> unavailableReason() {
        return isNative() ? NativeKernel.unavailableReason(this) : Optional.empty();
    }

    /**
     * Runs this native kernel's peak-rate loop (TDPBF16PS or VDPBF16PS on resident operands, one thread)
     * for a bench ceiling: returns the FLOPs done, or -1 when this kernel cannot run here.
     */
    public long peakLoop(long iterations) {
        return code == 0 || code == 1 ? NativeKernel.dpLoop(this, iterations) : -1;
    }

    public static CpuKernel parse(String s) {
        String v = s.trim().toLowerCase(Locale.ROOT);
        for (CpuKernel k : values()) if (k.id.equals(v)) return k;
        throw new IllegalArgumentException(PROPERTY + " is '" + s + "', expected auto, vector, avx512bf16, amx, avx512bf16-emu or amx-emu");
    }

    /** The kernel {@value #PROPERTY} asks for (default auto). */
    public static CpuKernel fromProperty() { return parse(System.getProperty(PROPERTY, "auto")); }
}
