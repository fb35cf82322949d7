package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * FFM downcalls straight into {@code libcuda.so.1} for the calls on the hot path (kernel launch, async
 * copies, stream/graph/event work) and the cheap availability probe. Measured on the H100, a launch costs
 * about half as much CPU through FFM as through JCuda's JNI; copies also take host {@link MemorySegment}s
 * directly (no 2 GiB ByteBuffer limit, no pinning copy). Handles and device pointers are plain longs.
 *
 * <p>Loaded lazily: touching this class on a machine with no driver throws {@link UnsatisfiedLinkError},
 * which {@link CudaBackendProvider#unavailableReason()} turns into a reason.
 */
final class Cu {
    private Cu() {}

    static final int CUDA_SUCCESS = 0;
    static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIB = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
    /**
     * Whether launches skip the thread-state transition (Linker.Option.critical). Off by default: measured
     * on the H100 it saved nothing (3.5-3.7 us critical vs 3.2 us plain per launch; the driver dominates)
     * and a critical call that blocks on a full launch queue holds off GC safepoints.
     */
    private static final boolean CRITICAL_LAUNCH = Boolean.getBoolean("mla4j.cuda.criticalLaunch");

    private static MethodHandle h(String name, FunctionDescriptor d, Linker.Option... opts) {
        return LINKER.downcallHandle(find(name), d, opts);
    }

    /** Finds a driver entry point: the first of the given names the driver exports (newest ABI first). */
    private static MemorySegment find(String... names) {
        for (String n : names) {
            Optional<MemorySegment> s = LIB.find(n);
            if (s.isPresent()) return s.get();
        }
        throw new UnsatisfiedLinkError("libcuda.so.1 has none of " + String.join(", ", names));
    }

    private static MethodHandle h(String[] names, FunctionDescriptor d) {
        return LINKER.downcallHandle(find(names), d);
    }

    private static final FunctionDescriptor I_I = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
    private static final FunctionDescriptor I_P = FunctionDescriptor.of(JAVA_INT, ADDRESS);
    private static final FunctionDescriptor I_J = FunctionDescriptor.of(JAVA_INT, JAVA_LONG);
    private static final FunctionDescriptor I_JJ = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG);

    private static final MethodHandle CU_INIT = h("cuInit", I_I);
    private static final MethodHandle CU_DEVICE_GET_COUNT = h("cuDeviceGetCount", I_P);
    private static final MethodHandle CU_GET_ERROR_NAME = h("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle CU_CTX_SET_CURRENT = h("cuCtxSetCurrent", I_J);
    private static final MethodHandle CU_LAUNCH_KERNEL = h("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT,
            JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS),
            CRITICAL_LAUNCH ? new Linker.Option[] {Linker.Option.critical(false)} : new Linker.Option[0]);
    private static final MethodHandle CU_LAUNCH_KERNEL_EX = h("cuLaunchKernelEx",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS),
            CRITICAL_LAUNCH ? new Linker.Option[] {Linker.Option.critical(false)} : new Linker.Option[0]);

    // CUDA 12+; absent on an older driver (then the Hopper kernel is launched without clusters)
    private static final MethodHandle CU_OCCUPANCY_MAX_ACTIVE_CLUSTERS = optional("cuOccupancyMaxActiveClusters",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS));
    // CUDA 12.4+ entry points; absent on older drivers (then kernels are looked up by name directly)
    private static final MethodHandle CU_MODULE_GET_FUNCTION_COUNT = optional("cuModuleGetFunctionCount", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CU_MODULE_ENUMERATE_FUNCTIONS = optional("cuModuleEnumerateFunctions",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle CU_FUNC_GET_NAME = optional("cuFuncGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    private static MethodHandle optional(String name, FunctionDescriptor d) {
        return LIB.find(name).map(a -> LINKER.downcallHandle(a, d)).orElse(null);
    }

    /** The names of all kernels in a loaded module, or null when the driver cannot enumerate them. */
    static java.util.Set<String> moduleFunctionNames(long module) {
        if (CU_MODULE_GET_FUNCTION_COUNT == null || CU_MODULE_ENUMERATE_FUNCTIONS == null || CU_FUNC_GET_NAME == null) return null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check((int) CU_MODULE_GET_FUNCTION_COUNT.invokeExact(n, module), "cuModuleGetFunctionCount");
            int count = n.get(JAVA_INT, 0);
            MemorySegment fns = a.allocate(JAVA_LONG, Math.max(1, count));
            check((int) CU_MODULE_ENUMERATE_FUNCTIONS.invokeExact(fns, count, module), "cuModuleEnumerateFunctions");
            java.util.Set<String> names = new java.util.TreeSet<>();
            MemorySegment name = a.allocate(ADDRESS);
            for (int i = 0; i < count; i++) {
                check((int) CU_FUNC_GET_NAME.invokeExact(name, fns.getAtIndex(JAVA_LONG, i)), "cuFuncGetName");
                names.add(name.get(ADDRESS, 0).reinterpret(4096).getString(0));
            }
            return names;
        } catch (Throwable t) { throw rethrow(t); }
    }

    /** The same entry point without the critical option, for measuring what the option saves. */
    private static final MethodHandle CU_LAUNCH_KERNEL_PLAIN = h("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT,
            JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
    private static final MethodHandle CU_MEMCPY_HTOD = h("cuMemcpyHtoDAsync_v2",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_MEMCPY_DTOH = h("cuMemcpyDtoHAsync_v2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_MEMCPY_DTOD = h("cuMemcpyDtoDAsync_v2",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_MEMSET_D32 = h("cuMemsetD32Async",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_STREAM_SYNC = h("cuStreamSynchronize", I_J);
    private static final MethodHandle CU_STREAM_BEGIN_CAPTURE = h("cuStreamBeginCapture_v2",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CU_STREAM_END_CAPTURE = h("cuStreamEndCapture", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle CU_GRAPH_INSTANTIATE = h("cuGraphInstantiateWithFlags",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle CU_GRAPH_LAUNCH = h("cuGraphLaunch", I_JJ);
    private static final MethodHandle CU_GRAPH_EXEC_DESTROY = h("cuGraphExecDestroy", I_J);
    private static final MethodHandle CU_GRAPH_DESTROY = h("cuGraphDestroy", I_J);
    private static final MethodHandle CU_EVENT_RECORD = h("cuEventRecord", I_JJ);
    private static final MethodHandle CU_EVENT_SYNC = h("cuEventSynchronize", I_J);
    private static final MethodHandle CU_EVENT_ELAPSED = h(new String[] {"cuEventElapsedTime_v2", "cuEventElapsedTime"},
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));

    private static final MethodHandle CU_TENSOR_MAP_ENCODE_TILED = h("cuTensorMapEncodeTiled", FunctionDescriptor.of(JAVA_INT,
            ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));

    // cuda.h enum values for the tensor map
    static final int TENSOR_MAP_UINT16 = 1, TENSOR_MAP_INTERLEAVE_NONE = 0, TENSOR_MAP_SWIZZLE_128B = 3,
            TENSOR_MAP_L2_PROMOTION_256B = 3, TENSOR_MAP_OOB_FILL_NONE = 0;

    /** cuTensorMapEncodeTiled into {@code map} (128 bytes, 64-byte aligned); dims/strides/box as in cuda.h. */
    static void tensorMapEncodeTiled(MemorySegment map, int dataType, int rank, long address, MemorySegment dims,
                                     MemorySegment strides, MemorySegment box, MemorySegment elemStrides,
                                     int interleave, int swizzle, int l2, int oob) {
        int rc;
        try {
            rc = (int) CU_TENSOR_MAP_ENCODE_TILED.invokeExact(map, dataType, rank, address, dims, strides, box, elemStrides,
                    interleave, swizzle, l2, oob);
        } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuTensorMapEncodeTiled");
    }

    /** The CUresult's name, e.g. CUDA_ERROR_INVALID_VALUE. */
    static String errorName(int code) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) CU_GET_ERROR_NAME.invokeExact(code, p);
            MemorySegment s = p.get(ADDRESS, 0);
            if (rc != CUDA_SUCCESS || s.address() == 0) return "CUresult " + code;
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUresult " + code;
        }
    }

    static void check(int rc, String call) {
        if (rc != CUDA_SUCCESS) throw new CudaException(call, rc, errorName(rc));
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    static int init() {
        try { return (int) CU_INIT.invokeExact(0); } catch (Throwable t) { throw rethrow(t); }
    }

    /** Number of devices, after cuInit; throws CudaException if the driver refuses. */
    static int deviceCount() {
        check(init(), "cuInit(0)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(JAVA_INT);
            check((int) CU_DEVICE_GET_COUNT.invokeExact(n), "cuDeviceGetCount");
            return n.get(JAVA_INT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static void ctxSetCurrent(long ctx) {
        int rc;
        try { rc = (int) CU_CTX_SET_CURRENT.invokeExact(ctx); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuCtxSetCurrent");
    }

    /** cuLaunchKernel with a prepared kernelParams array (void*[], each entry pointing at one argument). */
    static int launch(long fn, int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL.invokeExact(fn, gx, gy, gz, bx, by, bz, smem, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
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

    /** cuLaunchKernelEx with a prepared CUlaunchConfig (see {@link LaunchConfig}). */
    static int launchEx(MemorySegment config, long fn, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL_EX.invokeExact(config, fn, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static int launchPlain(long fn, int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment params) {
        try {
            return (int) CU_LAUNCH_KERNEL_PLAIN.invokeExact(fn, gx, gy, gz, bx, by, bz, smem, stream, params, MemorySegment.NULL);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static void memcpyHtoD(long dst, MemorySegment src, long bytes, long stream) {
        int rc;
        try { rc = (int) CU_MEMCPY_HTOD.invokeExact(dst, src, bytes, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    static void memcpyDtoH(MemorySegment dst, long src, long bytes, long stream) {
        int rc;
        try { rc = (int) CU_MEMCPY_DTOH.invokeExact(dst, src, bytes, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    static void memcpyDtoD(long dst, long src, long bytes, long stream) {
        int rc;
        try { rc = (int) CU_MEMCPY_DTOD.invokeExact(dst, src, bytes, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuMemcpyDtoDAsync(" + bytes + " bytes)");
    }

    static void memsetD32(long dst, int value, long count, long stream) {
        int rc;
        try { rc = (int) CU_MEMSET_D32.invokeExact(dst, value, count, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuMemsetD32Async(" + count + " words)");
    }

    static void streamSynchronize(long stream) {
        int rc;
        try { rc = (int) CU_STREAM_SYNC.invokeExact(stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuStreamSynchronize");
    }

    static void beginCapture(long stream) {
        int rc;
        try { rc = (int) CU_STREAM_BEGIN_CAPTURE.invokeExact(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuStreamBeginCapture");
    }

    /** Ends capture and returns the CUgraph handle. */
    static long endCapture(long stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(JAVA_LONG);
            check((int) CU_STREAM_END_CAPTURE.invokeExact(stream, g), "cuStreamEndCapture");
            return g.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static long graphInstantiate(long graph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(JAVA_LONG);
            check((int) CU_GRAPH_INSTANTIATE.invokeExact(e, graph, 0L), "cuGraphInstantiateWithFlags");
            return e.get(JAVA_LONG, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }

    static void graphLaunch(long exec, long stream) {
        int rc;
        try { rc = (int) CU_GRAPH_LAUNCH.invokeExact(exec, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuGraphLaunch");
    }

    static void graphExecDestroy(long exec) {
        int rc;
        try { rc = (int) CU_GRAPH_EXEC_DESTROY.invokeExact(exec); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuGraphExecDestroy");
    }

    static void graphDestroy(long graph) {
        int rc;
        try { rc = (int) CU_GRAPH_DESTROY.invokeExact(graph); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuGraphDestroy");
    }

    static void eventRecord(long event, long stream) {
        int rc;
        try { rc = (int) CU_EVENT_RECORD.invokeExact(event, stream); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuEventRecord");
    }

    static void eventSynchronize(long event) {
        int rc;
        try { rc = (int) CU_EVENT_SYNC.invokeExact(event); } catch (Throwable t) { throw rethrow(t); }
        check(rc, "cuEventSynchronize");
    }

    /** Milliseconds between two recorded events. */
    static float eventElapsedMs(long start, long end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            check((int) CU_EVENT_ELAPSED.invokeExact(ms, start, end), "cuEventElapsedTime");
            return ms.get(JAVA_FLOAT, 0);
        } catch (Throwable t) { throw rethrow(t); }
    }
}
