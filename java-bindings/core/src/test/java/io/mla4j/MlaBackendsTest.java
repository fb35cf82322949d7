package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MlaBackendsTest {
    @Test
    void findsTheReferenceByName() {
        assertTrue(MlaBackends.list().stream().anyMatch(s -> s.name().equals("reference") && s.available()));
        try (MlaBackend be = MlaBackends.open("reference")) {
            assertEquals("reference", be.name());
            assertEquals("host", be.memory());
        }
    }

    @Test
    void unknownNameListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MlaBackends.open("nope"));
        assertTrue(e.getMessage().contains("known: ") && e.getMessage().contains("reference"), e.getMessage());
    }

    @Test
    void propertyForcesABackend() {
        String old = System.getProperty(MlaBackends.PROPERTY);
        System.setProperty(MlaBackends.PROPERTY, "reference");
        try (MlaBackend be = MlaBackends.open()) {
            assertEquals("reference", be.name());
        } finally {
            if (old == null) System.clearProperty(MlaBackends.PROPERTY); else System.setProperty(MlaBackends.PROPERTY, old);
        }
    }

    /** open(Geometry) returns a backend that takes the geometry (here: cpu, the only fast backend in core). */
    @Test
    void openForAGeometryReturnsOneThatTakesIt() {
        Geometry g = new Geometry(16, 256, 32);
        try (MlaBackend be = MlaBackends.open(g)) {
            assertDoesNotThrow(() -> be.checkSupported(g));
            assertNotEquals("reference", be.name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MlaBackends.open((Geometry) null));
        assertTrue(e.getMessage().contains("geometry"), e.getMessage());
    }

    @Test
    void listIsBestFirst() {
        var list = MlaBackends.list();
        for (int i = 1; i < list.size(); i++) assertTrue(list.get(i - 1).priority() >= list.get(i).priority());
    }

    @Test
    void autoSelectionNeverPicksTheOracle() {
        try (MlaBackend be = MlaBackends.open()) {
            assertNotEquals("reference", be.name(), be.description());
        }
        var ref = MlaBackends.list().stream().filter(s -> s.name().equals("reference")).findFirst().orElseThrow();
        assertFalse(ref.autoSelectable());
    }

    /** Without --add-modules jdk.incubator.vector, open() refuses (naming the flag) instead of quietly using the oracle. */
    @Test
    void missingVectorFlagIsAnErrorNotTheOracle() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), NoVectorApi.class.getName())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("unavailable: backend 'auto' cannot run here") && out.contains("--add-modules jdk.incubator.vector")
                && out.contains("reference run only when asked for by name"), out);
    }

    /** Run in a JVM without the Vector API module. */
    public static final class NoVectorApi {
        public static void main(String[] args) {
            try (MlaBackend be = MlaBackends.open()) {
                System.out.println("opened " + be.name());
            } catch (BackendUnavailableException e) {
                System.out.println("unavailable: " + e.getMessage());
            }
        }
    }
}
