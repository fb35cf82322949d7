package io.mla4j.ascend;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Native files the tests use, as built by native/ (paths passed by the pom). */
final class TestLibs {
    private TestLibs() {}

    /** The ACL emulator: the one the backend loads too (-Dmla4j.ascend.library), so one JVM binds one library. */
    static Path emulator() {
        String p = System.getProperty(AscendLibraries.LIBRARY_PROPERTY);
        Path path = p != null ? Path.of(p) : AscendLibraries.emulator();
        assumeTrue(Files.isRegularFile(path), "ACL emulator not built: " + path);
        return path;
    }

    /** native/target/test/libmla4j_test_kernel.so (z = x + y and planted faults). */
    static Path testKernel() {
        String p = System.getProperty("mla4j.test.kernel", "../../native/target/test/libmla4j_test_kernel.so");
        Path path = Path.of(p);
        assumeTrue(Files.isRegularFile(path), "test kernel binary not built: " + path);
        return path;
    }

    /** native/target/test/libmla4j_ref_kernel.so: a plain-C stand-in for the Ascend kernel, same ABI. */
    static Path standInKernel() {
        String p = System.getProperty("mla4j.test.refkernel", "../../native/target/test/libmla4j_ref_kernel.so");
        Path path = Path.of(p);
        assumeTrue(Files.isRegularFile(path), "stand-in kernel binary not built: " + path);
        return path;
    }

    /** The host tiling library of kernels-ascend (-Dmla4j.ascend.tiling, shared by every test in the JVM). */
    static Path tiling() {
        String p = System.getProperty(AscendLibraries.TILING_PROPERTY);
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)), "tiling library not built: " + p);
        return Path.of(p);
    }
}
