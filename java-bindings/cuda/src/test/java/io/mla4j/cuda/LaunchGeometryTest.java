package io.mla4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Java launches the kernels with the geometry their sources state; when a kernel's launch changes, this
 * fails in CI (no GPU needed) instead of a CUDA_ERROR_INVALID_VALUE on the GPU machine.
 */
class LaunchGeometryTest {
    private static final Path KC = Path.of(System.getProperty("mla4j.kernelsDir", "../../kernels-cuda"));

    @Test
    void combineAndSchedulerStateWhatJavaLaunches() throws IOException {
        String combine = Files.readString(KC.resolve("common/combine.cu"));
        assertTrue(combine.contains(DecodeKernels.COMBINE_LAUNCH), "combine.cu no longer says '" + DecodeKernels.COMBINE_LAUNCH
                + "': update DecodeKernels.launchDecode");
        assertEquals(DecodeKernels.COMBINE_THREADS, 32 * define(combine, "constexpr int kCombineWarps = (\\d+);"), "combine block size");
        assertEquals(io.mla4j.Mla.D_V / DecodeKernels.COMBINE_COLUMN_PARTS, define(combine, "constexpr int kColsPerCta = (\\d+);"),
                "combine columns per CTA");
        String sched = Files.readString(KC.resolve("common/scheduler.cu"));
        assertTrue(sched.contains(DecodeKernels.SCHEDULE_LAUNCH), "scheduler.cu no longer says '" + DecodeKernels.SCHEDULE_LAUNCH + "'");
    }

    /** The combine's rows per CTA: a power of two dividing its 8 warps, more warps per row for more splits. */
    @Test
    void combineRowsPerCtaFollowsTheSplitCount() {
        assertEquals(8, DecodeKernels.combineRowsPerCta(1));
        assertEquals(8, DecodeKernels.combineRowsPerCta(4));
        assertEquals(4, DecodeKernels.combineRowsPerCta(5));
        assertEquals(2, DecodeKernels.combineRowsPerCta(16));
        assertEquals(1, DecodeKernels.combineRowsPerCta(17));
        assertEquals(1, DecodeKernels.combineRowsPerCta(132));
    }

    /** The sm90 numbers reach Java through scripts/gpu-launch-props.sh (packaged beside the fatbin): it must find them. */
    @Test
    void sm90LaunchHeaderStillParses() throws IOException {
        String h = Files.readString(KC.resolve("sm90/sm90_launch.h"));
        assertTrue(define(h, "(?m)^#define MLA4J_SM90_THREADS (\\d+)") > 0);
        assertTrue(define(h, "(?m)^#define MLA4J_SM90_SMEM_BYTES (\\d+)") > 0);
    }

    /** The portable kernel: the grid Java uses, and the constant scripts/gpu-launch-props.sh compiles and prints. */
    @Test
    void sm80StatesWhatJavaLaunches() throws IOException {
        Path src = KC.resolve("sm80/decode_sm80.cu");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(src), "no kernels-cuda/sm80/decode_sm80.cu yet");
        String k = Files.readString(src);
        assertTrue(k.contains(DecodeKernels.SM80_LAUNCH), "decode_sm80.cu no longer says '" + DecodeKernels.SM80_LAUNCH + "'");
        assertTrue(k.contains("#define MLA4J_SM80_SMEM"), "decode_sm80.cu no longer defines MLA4J_SM80_SMEM");
    }

    private static int define(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no match for " + regex);
        return Integer.parseInt(m.group(1));
    }
}
