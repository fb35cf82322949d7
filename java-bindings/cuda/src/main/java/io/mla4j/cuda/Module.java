package io.mla4j.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** A loaded CUDA module (a fatbin image) and lookups of its kernels by name. */
final class Module implements AutoCloseable {
    final String source;
    private final Jcu.Module module = new Jcu.Module();
    private boolean unloaded;
    private java.util.Set<String> names;

    private Module(CudaContext ctx, byte[] image, String source) {
        this.source = source;
        ctx.makeCurrent();
        // cuModuleLoadData takes cubin, PTX or fatbin images; the driver picks the SASS for this device
        Jcu.check(JCudaDriver.cuModuleLoadData(module, image), "cuModuleLoadData(" + source + ")");
    }

    /**
     * Loads the image named by system property {@code property} (a file), else the class-path resource
     * {@code resource}; null when neither exists.
     */
    static Module load(CudaContext ctx, String property, String resource) {
        byte[] image = read(property, resource);
        if (image == null) return null;
        String src = System.getProperty(property) != null ? System.getProperty(property) : "classpath:" + resource;
        return new Module(ctx, image, src);
    }

    /** The image bytes, or null when absent (see {@link #load}). */
    static byte[] read(String property, String resource) {
        String file = System.getProperty(property);
        try {
            if (file != null) return Files.readAllBytes(Path.of(file));
            try (InputStream in = Module.class.getClassLoader().getResourceAsStream(resource)) {
                return in == null ? null : in.readAllBytes();
            }
        } catch (IOException e) {
            throw new CudaException("cannot read kernel image " + (file != null ? file : resource) + ": " + e);
        }
    }

    /** The kernels this module holds (enumerated once, so absent ones are never asked for: no API errors). */
    synchronized java.util.Set<String> functionNames() {
        if (names == null) names = Cu.moduleFunctionNames(module.handle());
        return names; // null: unknown (old driver); then every name is tried
    }

    /** The kernel's handle, or null when this module has no kernel of that name. */
    Jcu.Fn function(String name) {
        java.util.Set<String> known = functionNames();
        if (known != null && !known.contains(name)) return null;
        Jcu.Fn f = new Jcu.Fn();
        int rc = JCudaDriver.cuModuleGetFunction(f, module, name);
        if (rc == CUresult.CUDA_ERROR_NOT_FOUND) return null;
        Jcu.check(rc, "cuModuleGetFunction(" + name + ")");
        return f;
    }

    @Override
    public void close() {
        if (unloaded) return;
        unloaded = true;
        Jcu.check(JCudaDriver.cuModuleUnload(module), "cuModuleUnload(" + source + ")");
    }
}
