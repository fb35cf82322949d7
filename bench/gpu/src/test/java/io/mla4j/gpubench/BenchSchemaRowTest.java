package io.mla4j.gpubench;

import static org.junit.jupiter.api.Assertions.*;

import io.mla4j.spi.BenchSchema;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The GPU bench's rows are the CLI's schema: every format parses with BenchSchema to the same values. No GPU needed. */
class BenchSchemaRowTest {
    @Test
    void gpuBenchRowsParseWithTheOneSchema() {
        GpuBench.Config c = new GpuBench.Config(128, 4096, 16, 2, true);
        Sampled.Error err = new Sampled.Error(8.4e-5, 1e-3, 7.7e-5, 1.0e-6, 0);
        GpuBench.Row r = new GpuBench.Row(c, "sm90", 541621, 289.0, 292.6, 289.0, 9.6, 0.55, 2175, 65.25, 0.73,
                err.toString(), err.passed(), 1764, "", err, 4242L, new double[] {290.5, 289.0, 288.1, 295.0, 289.2}, "sm90");
        BenchSchema.Row row = GpuBench.schemaRow(r, "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)", "CUDA 13.0, 580.159.04");
        Map<String, Object> csv = null;
        for (String f : List.of("csv", "json", "jsonl")) {
            List<Map<String, Object>> rows = BenchSchema.parse(f, BenchSchema.write(f, List.of(row, row)));
            assertEquals(2, rows.size(), f);
            if (csv == null) csv = rows.get(0);
            assertEquals(csv, rows.get(0), f + " differs from csv");
        }
        assertEquals("gpu-bench", csv.get("tool"));
        assertEquals("sm90", csv.get("kernel"));
        assertEquals(true, csv.get("causal"));
        assertEquals(5L, csv.get("samples"));
        assertEquals(288.1, csv.get("us_min"));
        assertEquals(289.0, csv.get("us_median"));
        assertEquals(1764.0, csv.get("baseline_us"));
        assertEquals("pass", csv.get("check"));
        assertEquals(4242L, csv.get("seed"));
        assertEquals("CUDA 13.0, 580.159.04", csv.get("driver"));
        assertNotNull(csv.get("timestamp"));
        assertNotNull(csv.get("git_commit"));
    }
}
