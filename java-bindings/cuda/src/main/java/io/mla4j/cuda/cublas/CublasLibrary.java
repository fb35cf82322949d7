package io.mla4j.cuda.cublas;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds and loads {@code libcublas.so.13} on first use (the generated {@link cublas_h} asks {@link #lookup()}).
 * Search order: {@code -Dmla4j.cublas.path=FILE}, the dynamic linker's own search (LD_LIBRARY_PATH,
 * ldconfig), then the usual CUDA toolkit and pip-wheel folders. Its companion libcublasLt.so.13 is
 * loaded first from the same folder so the linker finds it even where no RPATH points there.
 */
public final class CublasLibrary {
    private CublasLibrary() {}

    public static final String PROPERTY = "mla4j.cublas.path";
    private static final String NAME = "libcublas.so.13";
    private static volatile SymbolLookup lookup;
    private static volatile String loadedFrom;

    /** The symbols of libcublas.so.13; throws {@link UnsatisfiedLinkError} with the places it looked. */
    public static SymbolLookup lookup() {
        SymbolLookup l = lookup;
        if (l == null) {
            synchronized (CublasLibrary.class) {
                if (lookup == null) lookup = load();
                l = lookup;
            }
        }
        return l;
    }

    /** Where the library was loaded from (after {@link #lookup()}). */
    public static String loadedFrom() { return loadedFrom; }

    private static SymbolLookup load() {
        List<String> tried = new ArrayList<>();
        String forced = System.getProperty(PROPERTY);
        if (forced != null) return loadFile(Path.of(forced), tried);
        try {
            SymbolLookup l = SymbolLookup.libraryLookup(NAME, Arena.global());
            loadedFrom = NAME + " (dynamic linker search)";
            return l;
        } catch (IllegalArgumentException e) {
            tried.add(NAME + " via the dynamic linker");
        }
        for (String dir : candidates()) {
            Path p = Path.of(dir, NAME);
            if (Files.exists(p)) return loadFile(p, tried);
            tried.add(p.toString());
        }
        throw new UnsatisfiedLinkError("cuBLAS 13 (" + NAME + ") not found; tried " + String.join(", ", tried)
                + ". Install the CUDA 13 toolkit or the nvidia-cublas wheel, or set -D" + PROPERTY + "=/path/to/" + NAME);
    }

    private static List<String> candidates() {
        List<String> dirs = new ArrayList<>(List.of("/usr/local/cuda/lib64", "/usr/local/cuda-13.0/lib64",
                "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu"));
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) dirs.add(0, cudaHome + "/lib64");
        return dirs;
    }

    private static SymbolLookup loadFile(Path p, List<String> tried) {
        if (!Files.exists(p)) throw new UnsatisfiedLinkError("cuBLAS library " + p + " does not exist (-D" + PROPERTY + ")");
        Path lt = p.resolveSibling("libcublasLt.so.13");
        if (Files.exists(lt)) SymbolLookup.libraryLookup(lt, Arena.global()); // keep it loaded for libcublas
        SymbolLookup l = SymbolLookup.libraryLookup(p, Arena.global());
        loadedFrom = p.toString();
        return l;
    }
}
