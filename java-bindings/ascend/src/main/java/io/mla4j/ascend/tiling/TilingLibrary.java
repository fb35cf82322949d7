package io.mla4j.ascend.tiling;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the generated tiling bindings ({@link mla4j_ascend_tiling_h}) find their symbols: the host
 * tiling library of kernels-ascend ({@code libmla4j_ascend_tiling.so}), loaded once per JVM.
 * Hand-written, like {@code io.mla4j.ascend.acl.AclLibrary}.
 */
public final class TilingLibrary {
    private static volatile SymbolLookup lookup;
    private static volatile Path path;

    private TilingLibrary() {}

    /** Loads the tiling library; idempotent for one path, refuses a second, different one. */
    public static synchronized void load(Path library) {
        Objects.requireNonNull(library, "library");
        Path abs = library.toAbsolutePath().normalize();
        if (lookup != null) {
            if (abs.equals(path)) return;
            throw new IllegalStateException("tiling library " + path + " is already loaded in this JVM; cannot switch to " + abs);
        }
        SymbolLookup l = SymbolLookup.libraryLookup(abs, Arena.global());
        if (l.find("mla4j_mla_tiling").isEmpty()) throw new IllegalArgumentException(abs + " does not export mla4j_mla_tiling");
        path = abs;
        lookup = l;
    }

    /** The loaded library's symbols; throws if {@link #load} has not run. */
    public static SymbolLookup lookup() {
        SymbolLookup l = lookup;
        if (l == null) throw new IllegalStateException("no tiling library loaded: call TilingLibrary.load(path) first");
        return l;
    }
}
