package io.mla4j.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** A loaded CUDA module (a fatbin image) and lookups of its kernels by name: JCuda, but for the enumeration. */
final class Module implements AutoCloseable {
    final String source;
    private final Jcu.Module module = new Jcu.Module();
    private boolean unloaded;
    private Set<String> names;

    private Module(CudaContext ctx, byte[] image, String source) {
        this.source = source;
        ctx.makeCurrent();
        // cuModuleLoadData takes cubin, PTX or fatbin images; the driver picks the SASS for this device
        Jcu.check(JCudaDriver.cuModuleLoadData(module, image), "cuModuleLoadData(" + source + ")");
    }

    /** Loads the image file {@code file} if given, else the packaged resource {@code resource}; null when neither exists. */
    static Module load(CudaContext ctx, String file, String resource) {
        byte[] image = read(file, resource);
        return image == null ? null : new Module(ctx, image, file != null ? file : "resource:" + resource);
    }

    /** The image bytes, or null when absent (see {@link #load}). */
    static byte[] read(String file, String resource) {
        try {
            if (file != null) return Files.readAllBytes(Path.of(file));
            try (InputStream in = resource(resource)) {
                return in == null ? null : in.readAllBytes();
            }
        } catch (IOException e) {
            throw new CudaException("cannot read kernel image " + (file != null ? file : resource) + ": " + e);
        }
    }

    /**
     * A resource of the kernels jar (mla4j-kernels-cuda), on the class path or the module path; null when absent.
     * Its entries live under io/mla4j/cuda/, a package this module owns: on the module path the class loader
     * therefore looks only inside io.mla4j.cuda and misses them. So after the loader (class path, or a kernels jar
     * on the class path beside a modular mla4j-cuda), each other module of this layer is asked directly; for the
     * automatic module mla4j.kernels.cuda the folder is no package (no classes), so the resource is not encapsulated.
     * (Other modules of the layer that lack the file answer null.)
     */
    static InputStream resource(String name) {
        Class<?> me = Module.class;
        ClassLoader loader = me.getClassLoader();
        InputStream in = loader == null ? ClassLoader.getSystemResourceAsStream(name) : loader.getResourceAsStream(name);
        if (in != null) return in;
        java.lang.Module self = me.getModule();
        ModuleLayer layer = self.isNamed() ? self.getLayer() : ModuleLayer.boot(); // unnamed: a kernels jar on the module path
        if (layer == null) return null;
        try {
            for (java.lang.Module m : layer.modules()) {
                if (m == self) continue;
                in = m.getResourceAsStream(name);
                if (in != null) return in;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name, e);
        }
        return null;
    }

    /** Whether the resource exists (for the availability probe: opens, reads nothing). */
    static boolean hasResource(String name) {
        try (InputStream in = resource(name)) {
            return in != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** The kernels this module holds (enumerated once, so absent ones are never asked for: no API errors). */
    synchronized Set<String> functionNames() {
        if (names == null) names = FfmDriver.moduleFunctionNames(module.handle());
        return names; // null: unknown (old driver); then every name is tried
    }

    /** The kernel's handle, or null when this module has no kernel of that name. */
    Jcu.Fn function(String name) {
        Set<String> known = functionNames();
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
