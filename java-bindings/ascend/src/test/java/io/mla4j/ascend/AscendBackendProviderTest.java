package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.MlaBackends;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Auto-selection: real ACL ranks above the CPU backend, the emulator below it; unavailability says why. */
class AscendBackendProviderTest {

    @Test
    void emulatorRanksBelowCpuAboveReference() {
        withLibraryProperty(TestLibs.emulator().toString(), () -> {
            AscendBackendProvider p = new AscendBackendProvider();
            assertEquals("ascend", p.name());
            assertEquals(AscendBackendProvider.PRIORITY_EMULATED, p.priority());
            assertTrue(p.priority() < 50 && p.priority() > 1, "between cpu (50) and reference (1)");
        });
    }

    @Test
    void realLibraryRanksAboveCpuButNeedsAKernelBinary() throws Exception {
        Path dir = Files.createTempDirectory("fake-cann");
        Path fake = Files.writeString(dir.resolve("libascendcl.so"), "not really");
        try {
            withLibraryProperty(fake.toString(), () -> {
                String kernel = System.clearProperty(AscendLibraries.KERNEL_PROPERTY);
                try {
                    AscendBackendProvider p = new AscendBackendProvider();
                    assertEquals(AscendBackendProvider.PRIORITY_REAL, p.priority());
                    assertTrue(p.priority() > 50, "above cpu (50)");
                    String why = p.unavailableReason().orElseThrow();
                    assertTrue(why.contains("-D" + AscendLibraries.KERNEL_PROPERTY), why);
                } finally {
                    if (kernel != null) System.setProperty(AscendLibraries.KERNEL_PROPERTY, kernel);
                }
            });
        } finally {
            Files.delete(fake);
            Files.delete(dir);
        }
    }

    @Test
    void missingLibraryIsReported() {
        withLibraryProperty("/no/such/libacl_rt.so", () -> {
            String why = new AscendBackendProvider().unavailableReason().orElseThrow();
            assertTrue(why.contains("/no/such/libacl_rt.so"), why);
        });
    }

    @Test
    void discoveredByServiceLoader() {
        assertTrue(MlaBackends.list().stream().anyMatch(s -> s.name().equals("ascend")));
    }

    private static void withLibraryProperty(String value, Runnable body) {
        String old = System.setProperty(AscendLibraries.LIBRARY_PROPERTY, value);
        try {
            body.run();
        } finally {
            if (old == null) System.clearProperty(AscendLibraries.LIBRARY_PROPERTY);
            else System.setProperty(AscendLibraries.LIBRARY_PROPERTY, old);
        }
    }
}
