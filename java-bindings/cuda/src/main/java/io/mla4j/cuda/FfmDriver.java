package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The only FFM view of {@code libcuda.so.1}. It creates, changes and destroys no driver resource: those are
 * JCuda's ({@link Jcu}); this class takes their handles as longs. It binds two kinds of calls:
 * <ul>
 * <li>per decode, where a JNI round trip costs: cuLaunchKernel / cuLaunchKernelEx (about half the CPU of
 *     JCuda's launch on the H100), cuGraphLaunch (a whole step), cuTensorMapEncodeTiled (sm90: each decode
 *     whose cache address differs from the last, i.e. every layer of an engine; host-only, writes the
 *     kernel's by-value argument in place);</li>
 * <li>cold queries JCuda 12.6.0 does not bind at all: cuModuleGetFunctionCount / cuModuleEnumerateFunctions /
 *     cuFuncGetName and cuOccupancyMaxActiveClusters (read-only, once per backend).</li>
 * </ul>
 * Loaded lazily: touching this class without a driver throws {@link UnsatisfiedLinkError}, which
 * {@link CudaBackendProvider} turns into a reason.
 */
final class FfmDriver {
    private FfmDriver() {}

    static final int CUDA_SUCCESS = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIB = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
    /**
     * Linker.Option.critical for launches (no thread-state transition): off by default, measured on the H100
     * it saved nothing (3.5-3.7 us critical vs 3.2 us plain) and a critical call blocked on a full launch
     * queue holds off GC safepoints. Read once, when the driver is first bound.
     */
    static final boolean CRITICAL_LAUNCH = CudaOptions.fromSystemProperties().criticalLaunch();
    private static final Linker.Option[] LAUNCH_OPTIONS =
            CRITICAL_LAUNCH ? new Linker.Option[] {Linker.Option.critical(false)} : new Linker.Option[0];

    private static MemorySegment find(String name) {
        Optional<MemorySegment> s = LIB.find(name);
        if (s.isEmpty()) throw new UnsatisfiedLinkError("libcuda.so.1 has no " + name);
        return s.get();
    }

    private static MethodHandle optional(String name, FunctionDescriptor d) {
        return LIB.find(name).map(a -> LINKER.downcallHandle(a, d)).orElse(null);
    }

    private static final FunctionDescriptor LAUNCH = FunctionDescriptor.of(JAVA_INT,
            JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
    private static final MethodHandle CU_LAUNCH_KERNEL = LINKER.downcallHandle(find("cuLaunchKernel"), LAUNCH, LAUNCH_OPTIONS);
    /** The same entry point never critical: CudaDiagnostics measures what the option saves. */
    private static final MethodHandle CU_LAUNCH_KERNEL_PLAIN = LINKER.downcallHandle(find("cuLaunchKernel"), LAUNCH);
    private static final MethodHandle CU_LAUNCH_KERNEL_EX = LINKER.downcallHandle(find("cuLaunchKernelEx"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS), LAUNCH_OPTIONS);
    private static final MethodHandle CU_GRAPH_LAUNCH = LINKER.downcallHandle(find("cuGraphLaunch"),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_TENSOR_MAP_ENCODE_TILED = LINKER.downcallHandle(find("cuTensorMapEncodeTiled"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));

    // CUDA 12+; absent on an older driver (then the Hopper kernel is launched without clusters)
    private static final MethodHandle CU_OCCUPANCY_MAX_ACTIVE_CLUSTERS = optional("cuOccupancyMaxActiveClusters",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
    // CUDA 12.4+; absent on older drivers (then kernels are looked up by name directly)
    private static final MethodHandle CU_MODULE_GET_FUNCTION_COUNT = optional("cuModuleGetFunctionCount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CU_MODULE_ENUMERATE_FUNCTIONS = optional("cuModuleEnumerateFunctions",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle CU_FUNC_GET_NAME =
            optional("cuFuncGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    // cuda.h enum values for the tensor map
    static final int TENSOR_MAP_UINT8 = 0, TENSOR_MAP_UINT16 = 1, TENSOR_MAP_INTERLEAVE_NONE = 0, TENSOR_MAP_SWIZZLE_NONE = 0,
            TENSOR_MAP_SWIZZLE_128B = 3,
            TENSOR_MAP_L2_PROMOTION_256B = 3, TENSOR_MAP_OOB_FILL_NONE = 0;

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    /** cuLaunchKernel with a prepared kernelParams array (void*[], each entry pointing at one argument); the CUresult. */
    static int launch(long fn, int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL.invokeExact(fn, gx, gy, gz, bx, by, bz, smem, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static int launchPlain(long fn, int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL_PLAIN.invokeExact(fn, gx, gy, gz, bx, by, bz, smem, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** cuLaunchKernelEx with a prepared CUlaunchConfig (see {@link LaunchConfig}); the CUresult. */
    static int launchEx(MemorySegment config, long fn, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL_EX.invokeExact(config, fn, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static void graphLaunch(long exec, long stream) {
        int rc;
        try { rc = (int) CU_GRAPH_LAUNCH.invokeExact(exec, stream); } catch (Throwable t) { throw rethrow(t); }
        Jcu.check(rc, "cuGraphLaunch");
    }

    /** cuTensorMapEncodeTiled into {@code map} (128 bytes, 64-byte aligned); dims/strides/box as in cuda.h. */
    static void tensorMapEncodeTiled(MemorySegment map, int dataType, int rank, long address, MemorySegment dims,
                                     MemorySegment strides, MemorySegment box, MemorySegment elemStrides,
                                     int interleave, int swizzle, int l2, int oob) {
        int rc;
        try {
            rc = (int) CU_TENSOR_MAP_ENCODE_TILED.invokeExact(map, dataType, rank, address, dims, strides, box, elemStrides,
                    interleave, swizzle, l2, oob);
        } catch (Throwable t) { throw rethrow(t); }
        Jcu.check(rc, "cuTensorMapEncodeTiled");
    }

    /** How many clusters of {@code config}'s shape can be resident at once; 0 when the driver cannot say. */
    static int maxActiveClusters(long fn, MemorySegment config) {
        if (CU_OCCUPANCY_MAX_ACTIVE_CLUSTERS == null) return 0;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            int rc = (int) CU_OCCUPANCY_MAX_ACTIVE_CLUSTERS.invokeExact(n, fn, config);
            return rc == CUDA_SUCCESS ? n.get(JAVA_INT, 0) : 0;
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** The names of all kernels in a loaded module, or null when the driver cannot enumerate them. */
    static Set<String> moduleFunctionNames(long module) {
        if (CU_MODULE_GET_FUNCTION_COUNT == null || CU_MODULE_ENUMERATE_FUNCTIONS == null || CU_FUNC_GET_NAME == null) {
            return null;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            Jcu.check((int) CU_MODULE_GET_FUNCTION_COUNT.invokeExact(n, module), "cuModuleGetFunctionCount");
            int count = n.get(JAVA_INT, 0);
            MemorySegment fns = a.allocate(JAVA_LONG, Math.max(1, count));
            Jcu.check((int) CU_MODULE_ENUMERATE_FUNCTIONS.invokeExact(fns, count, module), "cuModuleEnumerateFunctions");
            Set<String> names = new TreeSet<>();
            MemorySegment name = a.allocate(ADDRESS);
            for (int i = 0; i < count; i++) {
                Jcu.check((int) CU_FUNC_GET_NAME.invokeExact(name, fns.getAtIndex(JAVA_LONG, i)), "cuFuncGetName");
                names.add(name.get(ADDRESS, 0).reinterpret(4096).getString(0));
            }
            return names;
        } catch (Throwable t) { throw rethrow(t); }
    }
}
