package io.mla4j;

import static org.junit.jupiter.api.Assertions.*;

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

    @Test
    void listIsBestFirst() {
        var list = MlaBackends.list();
        for (int i = 1; i < list.size(); i++) assertTrue(list.get(i - 1).priority() >= list.get(i).priority());
    }
}
