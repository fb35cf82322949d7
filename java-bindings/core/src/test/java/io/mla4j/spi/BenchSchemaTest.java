package io.mla4j.spi;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchSchemaTest {
    @Test
    void awkwardValuesRoundTripIdenticallyInEveryFormat() {
        BenchSchema.Row r = BenchSchema.provenance("cli", "CPU \"x\", 2 cores", "", 2, Long.MAX_VALUE)
                .set("note", "a, \"quoted\"\nline").set("o_rel_l2", Double.NaN).set("us_median", 1.5e-7).times(new double[] {3, 1, 2});
        Map<String, Object> first = null;
        for (String f : List.of("csv", "json", "jsonl")) {
            Map<String, Object> m = BenchSchema.parse(f, BenchSchema.write(f, List.of(r))).get(0);
            if (first == null) first = m;
            assertEquals(first, m, f);
        }
        assertEquals(Long.MAX_VALUE, first.get("seed"));
        assertEquals("a, \"quoted\"\nline", first.get("note"));
        assertEquals("CPU \"x\", 2 cores", first.get("device"));
        assertNull(first.get("driver"));
        assertNull(first.get("o_rel_l2"));
        assertEquals(2.0, first.get("us_median"));
        assertEquals(3L, first.get("samples"));
    }

    @Test
    void unknownFieldsAndWrongTypesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new BenchSchema.Row().set("sk_mean", 1));
        assertThrows(IllegalArgumentException.class, () -> new BenchSchema.Row().set("b", "8"));
        assertThrows(IllegalArgumentException.class, () -> BenchSchema.parse("csv", "backend,b\ncpu,1\n"));
    }
}
