package io.mla4j.cuda;

import java.lang.foreign.MemorySegment;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.JCudaDriver;

/** One kernel: its handle and a launch through the FFM downcall, its CUresult checked. */
final class Kernel {
    final String name;
    private final long handle;
    private final Jcu.Fn fn;

    Kernel(String name, Jcu.Fn fn) {
        this.name = name;
        this.fn = fn;
        this.handle = fn.handle();
    }

    long handle() { return handle; }

    /** Raises the dynamic shared-memory limit (needed above 48 KiB); done once per kernel. */
    void allowSharedMemory(int bytes) {
        Jcu.check(JCudaDriver.cuFuncSetAttribute(fn, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
    }

    /** Registers per thread the compiler gave it (for the description line). */
    int attribute(int attr) {
        int[] v = new int[1];
        Jcu.check(JCudaDriver.cuFuncGetAttribute(v, attr, fn), "cuFuncGetAttribute(" + name + ")");
        return v[0];
    }

    /** Launches with a prepared {@link LaunchConfig} (cuLaunchKernelEx, e.g. programmatic dependent launch). */
    void launch(LaunchConfig cfg, MemorySegment argv) {
        int rc = Cu.launchEx(cfg.segment(), handle, argv);
        if (rc != Cu.CUDA_SUCCESS) Cu.check(rc, "cuLaunchKernelEx(" + name + ")");
    }

    void launch(int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment argv) {
        int rc = Cu.launch(handle, gx, gy, gz, bx, by, bz, smem, stream, argv);
        if (rc != Cu.CUDA_SUCCESS) {
            Cu.check(rc, "cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz
                    + ", smem " + smem + ")");
        }
    }
}
