package io.mla4j.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Constructor;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * JCuda, which owns every CUDA resource mla4j touches (context, stream, module, function attributes,
 * memory and copies, events, graphs). JCuda keeps a handle in a protected field; the subclasses below read
 * it once as a long for {@link FfmDriver}, and the factories wrap raw addresses/handles an engine hands us.
 */
final class Jcu {
    private Jcu() {}

    static {
        JCudaDriver.setExceptionsEnabled(false); // we check every CUresult ourselves, naming the call
    }

    /** Forces JCuda's native library to load (throws UnsatisfiedLinkError/LinkageError when it cannot). */
    static void load() {
        int[] v = new int[1];
        check(JCudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion");
    }

    /** Every CUresult, from JCuda or FFM, becomes the same exception: call, name, code. */
    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaException(call, rc, CUresult.stringFor(rc));
    }

    /** A device address as JCuda's pointer type (null base + offset: JCuda passes base + offset). */
    static CUdeviceptr device(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    /** A native host segment as a JCuda pointer (its raw address; JCuda pins nothing and copies nothing). */
    static Pointer host(MemorySegment segment) {
        if (!segment.isNative()) throw new IllegalArgumentException("host memory must be a native (off-heap) segment");
        return new HostPtr(segment.address());
    }

    private static final class HostPtr extends Pointer {
        HostPtr(long address) { super(address); }
    }

    /**
     * A caller's CUstream handle as JCuda's type. JCuda 12.6.0 has no public way to make one from a handle
     * (its CUstream(long) constructor is package-private), so it is called reflectively, once per backend:
     * jcuda is an automatic module on the module path (all packages open) or on the class path.
     */
    static CUstream stream(long handle) {
        try {
            Constructor<CUstream> c = CUstream.class.getDeclaredConstructor(long.class);
            c.setAccessible(true);
            return c.newInstance(handle);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new CudaException("cannot wrap CUstream 0x" + Long.toHexString(handle) + " for JCuda: " + e);
        }
    }

    static final class Ptr extends CUdeviceptr {
        long address() { return getNativePointer() + getByteOffset(); }
    }

    static final class Fn extends CUfunction {
        long handle() { return getNativePointer(); }
    }

    static final class Ctx extends CUcontext {
        long handle() { return getNativePointer(); }
    }

    static final class Stream extends CUstream {
        long handle() { return getNativePointer(); }
    }

    static final class Module extends CUmodule {
        long handle() { return getNativePointer(); }
    }

    static final class Graph extends CUgraph {
        boolean isNull() { return getNativePointer() == 0; }
    }

    static final class GraphExec extends CUgraphExec {
        long handle() { return getNativePointer(); }
    }

    static final class Event extends CUevent {}
}
