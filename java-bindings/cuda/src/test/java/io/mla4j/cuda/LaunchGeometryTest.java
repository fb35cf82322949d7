package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Java launches the kernels with the geometry their headers define; when a kernel's launch changes, this
 * fails in CI (no GPU needed) instead of a CUDA_ERROR_INVALID_VALUE on the GPU machine.
 */
class LaunchGeometryTest {
    private static final Path KC = Path.of(System.getProperty("mla4j.kernelsDir", "../../kernels-cuda"));

    /** The combine/scheduler geometry: schedule.h's values are DecodeKernels' defaults, and the sources use the macros. */
    @Test
    void combineAndSchedulerGeometryComeFromScheduleH() throws IOException {
        String h = Files.readString(KC.resolve("include/mla4j/schedule.h"));
        assertEquals(DecodeKernels.COMBINE_THREADS_DEFAULT, define(h, "MLA4J_COMBINE_THREADS"), "combine block size");
        assertEquals(DecodeKernels.COMBINE_COLUMNS_DEFAULT, define(h, "MLA4J_COMBINE_COLUMNS"), "combine columns per CTA");
        assertEquals(DecodeKernels.SCHEDULE_THREADS_DEFAULT, define(h, "MLA4J_SCHEDULE_THREADS"), "scheduler block size");
        String combine = Files.readString(KC.resolve("common/combine.cu"));
        assertTrue(combine.contains("kCombineWarps = MLA4J_COMBINE_THREADS / 32"), "combine.cu must take its block size from schedule.h");
        assertTrue(combine.contains("kColsPerCta = MLA4J_COMBINE_COLUMNS"), "combine.cu must take its column split from schedule.h");
        String sched = Files.readString(KC.resolve("common/scheduler.cu"));
        assertTrue(sched.contains("__launch_bounds__(MLA4J_SCHEDULE_THREADS)"), "scheduler.cu must take its block size from schedule.h");
    }

    /** The build packages those values beside the fatbin (scripts/gpu-launch-props.sh): it must print what the header says. */
    @Test
    void launchPropertiesScriptPrintsTheHeaderValues() throws Exception {
        Path script = KC.resolve("../scripts/gpu-launch-props.sh");
        // NVCC=/bin/false: only the header-derived lines (the sm80 constants need a compiler and are checked on the GPU)
        ProcessBuilder pb = new ProcessBuilder(List.of("bash", script.toString())).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("NVCC", "/bin/false");
        Process q = pb.start();
        Properties props = new Properties();
        props.load(q.getInputStream());
        assertTrue(q.waitFor(60, TimeUnit.SECONDS) && q.exitValue() == 0, "gpu-launch-props.sh failed");
        assertEquals(String.valueOf(DecodeKernels.COMBINE_THREADS_DEFAULT), props.getProperty("combine.threads"));
        assertEquals(String.valueOf(DecodeKernels.COMBINE_COLUMNS_DEFAULT), props.getProperty("combine.columns"));
        assertEquals(String.valueOf(DecodeKernels.SCHEDULE_THREADS_DEFAULT), props.getProperty("schedule.threads"));
        assertEquals(String.valueOf(DecodeKernels.SM90_THREADS_DEFAULT), props.getProperty("sm90.threads"), "sm90.threads");
        assertEquals(String.valueOf(DecodeKernels.SM90_SMEM_DEFAULT), props.getProperty("sm90.smem"), "sm90.smem");
        assertEquals(String.valueOf(DecodeKernels.ETAP_THREADS_DEFAULT), props.getProperty("etap.threads"), "etap.threads");
        assertEquals(String.valueOf(DecodeKernels.ETAP_SMEM_DEFAULT), props.getProperty("etap.smem"), "etap.smem");
        assertEquals(String.valueOf(DecodeKernels.ETAP_MAX_ROWS_DEFAULT), props.getProperty("etap.maxRows"), "etap.maxRows");
        assertEquals(String.valueOf(DecodeKernels.ETAP_MIN_PAGE_SHIFT_DEFAULT), props.getProperty("etap.minPageShift"), "etap.minPageShift");
    }

    /** The combine's rows per CTA: a power of two dividing its 8 warps, more warps per row for more splits. */
    @Test
    void combineRowsPerCtaFollowsTheSplitCount() {
        int t = DecodeKernels.COMBINE_THREADS_DEFAULT;
        assertEquals(8, DecodeKernels.combineRowsPerCta(1, t));
        assertEquals(8, DecodeKernels.combineRowsPerCta(4, t));
        assertEquals(4, DecodeKernels.combineRowsPerCta(5, t));
        assertEquals(2, DecodeKernels.combineRowsPerCta(16, t));
        assertEquals(1, DecodeKernels.combineRowsPerCta(17, t));
        assertEquals(1, DecodeKernels.combineRowsPerCta(132, t));
    }

    /**
     * The sm90 numbers reach Java through scripts/gpu-launch-props.sh (packaged beside the fatbin); Java's defaults,
     * used by a build without that file, must be the header's.
     */
    @Test
    void sm90DefaultsAreTheHeaders() throws IOException {
        String h = Files.readString(KC.resolve("sm90/sm90_launch.h"));
        assertEquals(DecodeKernels.SM90_THREADS_DEFAULT, define(h, "MLA4J_SM90_THREADS"), "sm90 block size");
        assertEquals(DecodeKernels.SM90_SMEM_DEFAULT, define(h, "MLA4J_SM90_SMEM_BYTES"), "sm90 dynamic shared memory");
        String e = Files.readString(KC.resolve("sm90_etap/etap_launch.h"));
        assertEquals(DecodeKernels.ETAP_THREADS_DEFAULT, define(e, "MLA4J_ETAP_THREADS"), "etap block size");
        assertEquals(DecodeKernels.ETAP_SMEM_DEFAULT, define(e, "MLA4J_ETAP_SMEM_BYTES"), "etap dynamic shared memory");
        assertEquals(DecodeKernels.ETAP_MAX_ROWS_DEFAULT, define(e, "MLA4J_ETAP_MAX_ROWS"), "etap rows");
        assertEquals(DecodeKernels.ETAP_MIN_PAGE_SHIFT_DEFAULT, define(e, "MLA4J_ETAP_MIN_PAGE_SHIFT"), "etap pages");
    }

    /**
     * The portable kernel: its block size is Java's default (gpu-launch-props.sh prints the compiled value on a
     * machine with nvcc), and it still defines the shared-memory macro that script compiles.
     */
    @Test
    void sm80DefinesWhatJavaLaunches() throws IOException {
        Path src = KC.resolve("sm80/decode_sm80.cu");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(src), "no kernels-cuda/sm80/decode_sm80.cu yet");
        String k = Files.readString(src);
        Matcher m = Pattern.compile("constexpr int kThreads = (\\d+);").matcher(k);
        assertTrue(m.find(), "decode_sm80.cu no longer defines kThreads");
        assertEquals(DecodeKernels.SM80_THREADS_DEFAULT, Integer.parseInt(m.group(1)), "sm80 block size");
        assertTrue(k.contains("#define MLA4J_SM80_SMEM_BYTES"), "decode_sm80.cu no longer defines MLA4J_SM80_SMEM_BYTES");
    }

    /**
     * The image holds every entry Java looks up optionally (a missing one would only make its plans fall back): the
     * decode kernels, the transposed kernel's width and fp8 entries for each pair of include/mla4j/widths.h. Checked on
     * the built fatbin (entry names stand in its images' symbol tables), where this build had nvcc.
     */
    @Test
    void theImageHoldsEveryEntryJavaLooksFor() throws IOException {
        Path fatbin = KC.resolve("target/mla4j_kernels.fatbin");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(fatbin), "no fatbin in this build (no nvcc)");
        String image = new String(Files.readAllBytes(fatbin), java.nio.charset.StandardCharsets.ISO_8859_1);
        Matcher w = Pattern.compile("X\\((\\d+), (\\d+)\\)").matcher(Files.readString(KC.resolve("include/mla4j/widths.h")));
        List<String> names = new java.util.ArrayList<>(List.of("mla4j_decode_sm90", "mla4j_decode_sm90_fp8", "mla4j_decode_sm90_etap",
                "mla4j_decode_sm90_etap_fp8", "mla4j_decode_sm80", "mla4j_decode_sm80_fp8", "mla4j_combine", "mla4j_schedule", "mla4j_step"));
        int pairs = 0;
        while (w.find()) {
            String key = w.group(1) + "x" + w.group(2);
            names.add("mla4j_decode_sm80_" + key);
            names.add("mla4j_decode_sm90_etap_" + key);
            pairs++;
        }
        assertEquals(4, pairs, "include/mla4j/widths.h's list");
        for (String n : names) assertTrue(image.contains(n + "\0"), n + " is not in " + fatbin); // a NUL-terminated symbol
    }

    private static int define(String text, String name) {
        Matcher m = Pattern.compile("(?m)^#define " + name + " (\\d+)").matcher(text);
        assertTrue(m.find(), "no #define " + name);
        return Integer.parseInt(m.group(1));
    }
}
