package io.mla4j.cuda;

import java.lang.foreign.MemorySegment;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.JCudaDriver;

/** One kernel: attributes through JCuda, launches through {@link FfmDriver} with the handle read once. */
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

    /** A function attribute (CU_FUNC_ATTRIBUTE_*), e.g. its maximum threads per block. */
    int attribute(int attr) {
        int[] v = new int[1];
        Jcu.check(JCudaDriver.cuFuncGetAttribute(v, attr, fn), "cuFuncGetAttribute(" + name + ")");
        return v[0];
    }

    /** Launches with a prepared {@link LaunchConfig} (cuLaunchKernelEx, e.g. programmatic dependent launch). */
    void launch(LaunchConfig cfg, MemorySegment argv) {
        int rc = FfmDriver.launchEx(cfg.segment(), handle, argv);
        if (rc != FfmDriver.CUDA_SUCCESS) Jcu.check(rc, "cuLaunchKernelEx(" + name + ")");
    }

    void launch(int gx, int gy, int gz, int bx, int by, int bz, int smem, long stream, MemorySegment argv) {
        int rc = FfmDriver.launch(handle, gx, gy, gz, bx, by, bz, smem, stream, argv);
        if (rc != FfmDriver.CUDA_SUCCESS) {
            Jcu.check(rc, "cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + "x" + gz + ", block " + bx + "x" + by + "x" + bz
                    + ", smem " + smem + ")");
        }
    }
}
