package io.mla4j.ascend.acl;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the generated bindings ({@link acl_h}, {@link mla4j_acl_emu_h}) find their symbols: one ACL
 * library per JVM, chosen at run time (a real CANN {@code libacl_rt.so}/{@code libascendcl.so} or the
 * mla4j emulator). Hand-written; the generator points the bindings here instead of hard-coding a
 * library name as jextract would.
 */
public final class AclLibrary {
    private static volatile SymbolLookup lookup;
    private static volatile java.util.List<Path> paths;
    private static volatile boolean emulator;

    private AclLibrary() {}

    /**
     * Loads {@code libraries} (dlopen, for the life of the JVM) and binds the bindings to them: a symbol
     * is taken from the first library that has it (CANN splits the API between libacl_rt.so and
     * libascendcl.so). Idempotent for the same paths; other paths after the first load are refused,
     * since bound method handles cannot be re-pointed.
     */
    public static synchronized void load(Path... libraries) {
        if (libraries.length == 0) throw new IllegalArgumentException("no ACL library given");
        java.util.List<Path> abs = new java.util.ArrayList<>();
        for (Path p : libraries) abs.add(Objects.requireNonNull(p, "library").toAbsolutePath().normalize());
        if (lookup != null) {
            if (abs.equals(paths)) return;
            throw new IllegalStateException("ACL library " + paths + " is already loaded in this JVM; cannot switch to " + abs);
        }
        SymbolLookup l = null;
        for (Path p : abs) {
            if (!Files.isRegularFile(p)) throw new IllegalArgumentException("ACL library " + p + " does not exist");
            SymbolLookup one = SymbolLookup.libraryLookup(p, Arena.global());
            l = l == null ? one : l.or(one);
        }
        for (String required : new String[] {"aclInit", "aclrtMalloc", "aclrtLaunchKernelWithHostArgs"}) {
            if (l.find(required).isEmpty()) throw new IllegalArgumentException(abs + " does not export " + required + ": not the ACL runtime mla4j needs");
        }
        emulator = l.find("mla4j_acl_emu_is_emulator").isPresent();
        paths = java.util.List.copyOf(abs);
        lookup = l;
    }

    /** The loaded library's symbols; throws if {@link #load} has not run. */
    public static SymbolLookup lookup() {
        SymbolLookup l = lookup;
        if (l == null) throw new IllegalStateException("no ACL library loaded: call AclLibrary.load(path) first");
        return l;
    }

    /** True once a library is loaded. */
    public static boolean isLoaded() { return lookup != null; }

    /** The first loaded library's path, or null. */
    public static Path path() { return paths == null ? null : paths.get(0); }

    /** All loaded libraries, or null. */
    public static java.util.List<Path> paths() { return paths; }

    /** True when the loaded library is the mla4j emulator (it exports mla4j_acl_emu_is_emulator). */
    public static boolean isEmulator() { return emulator; }
}
