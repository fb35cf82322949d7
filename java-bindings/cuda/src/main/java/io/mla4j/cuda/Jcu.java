package io.mla4j.cuda;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The JCuda side: the cold path (device, primary context, module, allocations, streams, events) goes
 * through JCuda's driver API. JCuda keeps handles in a protected field; these subclasses expose them as
 * longs so the FFM hot path ({@link Cu}) can use the very same objects.
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

    static void check(int rc, String call) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaException(call, rc, CUresult.stringFor(rc));
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

    static final class Event extends CUevent {
        long handle() { return getNativePointer(); }
    }

    static final class Module extends CUmodule {
        long handle() { return getNativePointer(); }
    }
}
