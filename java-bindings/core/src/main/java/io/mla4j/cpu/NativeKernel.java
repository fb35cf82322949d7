package io.mla4j.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.Optional;

/**
 * The FFM binding of {@code libmla4j_cpu.so} (native/cpu/mla4j_cpu_kernel.h). Loaded on first use; a
 * failed load is not cached, so a later backend (after the library was built or the property set) can
 * still get it. The library's own CPUID/XCR0/arch_prctl query decides which real paths may run.
 */
final class NativeKernel {
    private NativeKernel() {}

    static final int F_AVX512BF16 = 1, F_AMX = 2, F_AVX512FP16 = 4, F_AMX_DENIED = 8;
    private static final String LIB = "mla4j_cpu";

    /** A loaded library: its downcalls and the feature bits of this machine. */
    record Lib(String location, int features, MethodHandle split, MethodHandle combine, MethodHandle scratchBytes,
               MethodHandle dpLoop) {
        boolean allows(CpuKernel k) {
            return switch (k) {
                case AMX -> (features & F_AMX) != 0;
                case AVX512BF16 -> (features & F_AVX512BF16) != 0;
                case AMX_EMU, AVX512BF16_EMU -> true;
                default -> false;
            };
        }

        String featureText() {
            return "AMX-BF16 " + ((features & F_AMX) != 0 ? "yes" : (features & F_AMX_DENIED) != 0 ? "refused by the OS" : "no")
                    + ", AVX512-BF16 " + ((features & F_AVX512BF16) != 0 ? "yes" : "no")
                    + ", AVX512-FP16 " + ((features & F_AVX512FP16) != 0 ? "yes" : "no");
        }

        long scratch(int rows) {
            try {
                return (long) scratchBytes.invokeExact(rows);
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }

    private static Lib lib;
    private static String failure = "not loaded yet";

    /** The library, or empty with {@link #failure()} saying why. */
    static synchronized Optional<Lib> lib() {
        if (lib == null) {
            try {
                lib = load();
            } catch (RuntimeException | LinkageError | IOException e) {
                failure = e.getMessage() == null ? e.toString() : e.getMessage();
            }
        }
        return Optional.ofNullable(lib);
    }

    static synchronized String failure() { return failure; }

    static Optional<String> unavailableReason(CpuKernel k) {
        Optional<Lib> l = lib();
        if (l.isEmpty()) return Optional.of(failure());
        if (l.get().allows(k)) return Optional.empty();
        return Optional.of(k.id() + " is not supported here (" + l.get().featureText() + ")");
    }

    /**
     * mla4j_cpu_abi_version() this binding is written for (2: mla4j_cpu_split takes an fp8_e4m3 cache; 3: and the
     * block-scaled one, fp8 = 2, which a library of ABI 2 would misread as 576-byte e4m3 rows).
     */
    static final int ABI = 3;

    private static Lib load() throws IOException {
        if (!NativeKernel.class.getModule().isNativeAccessEnabled()) {
            throw new IllegalStateException("native access is not enabled for " + moduleName()
                    + " (run with --enable-native-access=" + moduleName() + ")");
        }
        Path file = locate();
        Linker linker = Linker.nativeLinker();
        SymbolLookup syms = SymbolLookup.libraryLookup(file, Arena.global());
        ValueLayout.OfInt I = ValueLayout.JAVA_INT;
        ValueLayout A = ValueLayout.ADDRESS;
        MethodHandle abi = linker.downcallHandle(find(syms, "mla4j_cpu_abi_version"), FunctionDescriptor.of(I));
        MethodHandle features = linker.downcallHandle(find(syms, "mla4j_cpu_features"), FunctionDescriptor.of(I));
        int version, f;
        try {
            version = (int) abi.invokeExact();
            f = (int) features.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("calling " + file + " failed: " + t, t);
        }
        if (version != ABI) throw new IllegalStateException(file + " has ABI version " + version + ", this mla4j needs " + ABI);
        ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
        MethodHandle split = linker.downcallHandle(find(syms, "mla4j_cpu_split"),
                FunctionDescriptor.of(I, I, I, A, A, I, F, A, I, I, I, I, F, I, I, A, A, A));
        MethodHandle combine = linker.downcallHandle(find(syms, "mla4j_cpu_combine"),
                FunctionDescriptor.ofVoid(I, I, A, A, I, I, A, A));
        MethodHandle scratch = linker.downcallHandle(find(syms, "mla4j_cpu_scratch_bytes"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, I));
        MethodHandle dp = linker.downcallHandle(find(syms, "mla4j_cpu_dp_loop"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, I, ValueLayout.JAVA_LONG));
        return new Lib(file.toString(), f, split, combine, scratch, dp);
    }

    private static String moduleName() {
        Module m = NativeKernel.class.getModule();
        return m.isNamed() ? m.getName() : "ALL-UNNAMED";
    }

    private static MemorySegment find(SymbolLookup syms, String name) {
        return syms.find(name).orElseThrow(() -> new IllegalStateException("the native library lacks " + name));
    }

    /** The property's file, else the jar resource (copied to a temporary file), else java.library.path. */
    private static Path locate() throws IOException {
        String prop = System.getProperty(CpuKernel.LIBRARY_PROPERTY);
        if (prop != null && !prop.isBlank()) {
            Path p = Path.of(prop);
            if (!Files.isRegularFile(p)) throw new IllegalStateException(CpuKernel.LIBRARY_PROPERTY + " = " + prop + " is not a file");
            return p;
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux") ? "linux" : "other";
        String arch = System.getProperty("os.arch", "");
        arch = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch;
        String res = "/io/mla4j/cpu/native/" + os + "-" + arch + "/" + System.mapLibraryName(LIB);
        try (InputStream in = NativeKernel.class.getResourceAsStream(res)) {
            if (in != null) {
                Path tmp = Files.createTempFile("mla4j_cpu", ".so");
                tmp.toFile().deleteOnExit();
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                return tmp;
            }
        }
        for (String dir : System.getProperty("java.library.path", "").split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, System.mapLibraryName(LIB));
            if (Files.isRegularFile(p)) return p;
        }
        throw new IllegalStateException("no " + System.mapLibraryName(LIB) + " (set " + CpuKernel.LIBRARY_PROPERTY
                + "; built by make -C native/cpu)");
    }

    /** Peak-rate loop of a real path (bench ceiling): FLOPs done, or -1 when the path cannot run here. */
    static long dpLoop(CpuKernel k, long iterations) {
        Optional<Lib> l = lib();
        if (l.isEmpty() || !l.get().allows(k)) return -1;
        try {
            return (long) l.get().dpLoop().invokeExact(k.code, iterations);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
