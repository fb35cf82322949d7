package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Java writers of the kernels' by-value argument structs must match the C headers byte for byte:
 * a host C++ compiler prints offsetof/sizeof of every field, compared with the FFM layouts.
 * Skips (with the reason) where no C++ compiler is installed.
 */
class StructLayoutTest {
    private static final Path KC = Path.of(System.getProperty("mla4j.kernelsDir", "../../kernels-cuda"));

    @Test
    void mlaParamsMatchesParamsH() throws Exception {
        Map<String, Long> c = offsets("#include \"mla4j/params.h\"", "MlaParams", KernelParams.LAYOUT,
                KC.resolve("include"), "printf(\"VERSION %d\\n\", MLA4J_PARAMS_VERSION);");
        assertEquals((long) KernelParams.VERSION, c.get("VERSION"), "MLA4J_PARAMS_VERSION changed: update KernelParams");
        check(c, KernelParams.LAYOUT);
    }

    @Test
    void helperArgsMatchBaselineArgsH() throws Exception {
        Path inc = KC.resolve("common");
        check(offsets("#include \"baseline_args.h\"", "BaselineArgs", HelperKernels.BASELINE_ARGS, inc, ""), HelperKernels.BASELINE_ARGS);
        check(offsets("#include \"baseline_args.h\"", "FillArgs", HelperKernels.FILL_ARGS, inc, ""), HelperKernels.FILL_ARGS);
    }

    private static void check(Map<String, Long> c, StructLayout layout) {
        assertEquals(layout.byteSize(), c.get("SIZEOF"), "sizeof(" + layout + ")");
        for (MemoryLayout m : layout.memberLayouts()) {
            if (m.name().isEmpty()) continue;
            String f = m.name().get();
            assertEquals(c.get(f), layout.byteOffset(MemoryLayout.PathElement.groupElement(f)), "offset of " + f);
        }
    }

    /** Compiles and runs a program printing "field offset" lines and "SIZEOF n" for struct {@code name}. */
    private static Map<String, Long> offsets(String include, String name, StructLayout layout, Path incDir, String extra)
            throws IOException, InterruptedException {
        String cxx = HostCxx.find();
        assumeTrue(cxx != null, "no C++ compiler (c++/g++/clang++) on the PATH: struct layouts not checked here");
        Path dir = Files.createTempDirectory("mla4j-layout");
        StringBuilder src = new StringBuilder("#include <stddef.h>\n#include <stdio.h>\n" + include + "\nint main(){\n");
        for (MemoryLayout m : layout.memberLayouts()) {
            if (m.name().isEmpty()) continue;
            String f = m.name().get();
            src.append("printf(\"").append(f).append(" %zu\\n\", offsetof(").append(name).append(", ").append(f).append("));\n");
        }
        src.append("printf(\"SIZEOF %zu\\n\", sizeof(").append(name).append("));\n").append(extra).append("return 0;}\n");
        Path cpp = dir.resolve("layout.cpp"), exe = dir.resolve("layout");
        Files.writeString(cpp, src);
        HostCxx.run(List.of(cxx, "-std=c++17", "-I" + incDir.toAbsolutePath(), "-o", exe.toString(), cpp.toString()), null);
        Map<String, Long> out = new HashMap<>();
        for (String line : HostCxx.run(List.of(exe.toString()), null)) {
            String[] kv = line.trim().split(" ");
            out.put(kv[0], Long.parseLong(kv[1]));
        }
        return out;
    }
}
