package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.util.Locale;

/**
 * The decode-path kernels of the fatbin (kernels-cuda) and how each is launched. Launch shapes follow
 * kernels-cuda/README.md: keep the two in step.
 *
 * <p>Choice of decode kernel: {@code mla4j_decode_sm90} on compute capability 9.x when the fatbin has it,
 * else the portable {@code mla4j_decode_sm80}; {@code -Dmla4j.cuda.kernel=sm80|sm90} forces one.
 */
final class DecodeKernels {
    static final String PROPERTY = "mla4j.cuda.kernel";
    static final String FATBIN_RESOURCE = "io/mla4j/cuda/mla4j_kernels.fatbin";
    static final String FATBIN_PROPERTY = "mla4j.cuda.fatbin";

    /** Rows of a query tile: packed rows are processed in tiles of 64 (one tile per CTA row). */
    static final int ROW_TILE = 64;

    final Module module;
    final Kernel schedule, combine, sm80, sm90;
    Kernel decode;
    String variant;
    final boolean forced;
    private final CudaContext ctx;

    DecodeKernels(CudaContext ctx, Module module) {
        this.ctx = ctx;
        this.module = module;
        java.util.Properties launch = launchProperties();
        sm90Threads = Integer.parseInt(launch.getProperty("sm90.threads", "" + SM90_THREADS_DEFAULT));
        sm90Smem = Integer.parseInt(launch.getProperty("sm90.smem", "" + SM90_SMEM_DEFAULT));
        sm80Threads = Integer.parseInt(launch.getProperty("sm80.threads", "" + SM80_THREADS_DEFAULT));
        // The sm_90a image builds the portable kernel with 64-token stages, the sm_80/PTX one with 32
        // (kernels-cuda/all_kernels.cu): the driver loads the sm_90a image exactly on compute capability 9.0.
        sm80Smem = ctx.ccMajor == 9 && ctx.ccMinor == 0
                ? Integer.parseInt(launch.getProperty("sm80.smem.sm90a", "" + SM80_SMEM_SM90A_DEFAULT))
                : Integer.parseInt(launch.getProperty("sm80.smem", "" + SM80_SMEM_DEFAULT));
        // Without the GPU scheduler the plan uploads the host's SplitSchedule (the one definition);
        // without the combine kernel every sequence must get exactly one split (one part: slow, for bring-up).
        schedule = "host".equals(System.getProperty("mla4j.cuda.schedule")) ? null : optional(module, "mla4j_schedule");
        combine = optional(module, "mla4j_combine");
        sm80 = optional(module, "mla4j_decode_sm80");
        sm90 = ctx.ccMajor == 9 ? optional(module, "mla4j_decode_sm90") : null;
        checkBlock(combine, COMBINE_THREADS);
        checkBlock(schedule, 32);
        checkBlock(sm90, sm90Threads);
        checkBlock(sm80, sm80Threads);
        String forced = System.getProperty(PROPERTY);
        this.forced = forced != null && !forced.isBlank();
        if (this.forced) {
            variant = forced.trim().toLowerCase(Locale.ROOT);
            decode = switch (variant) {
                case "sm80" -> need(sm80, "mla4j_decode_sm80");
                case "sm90" -> need(sm90, ctx.ccMajor == 9 ? "mla4j_decode_sm90" : "mla4j_decode_sm90 (needs compute capability 9.x, this is "
                        + ctx.ccMajor + "." + ctx.ccMinor + ")");
                default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + forced + ": expected sm80 or sm90");
            };
        } else if (sm90 != null) {
            variant = "sm90";
            decode = sm90;
        } else {
            variant = "sm80";
            decode = need(sm80, "mla4j_decode_sm80");
        }
        if (smemDecode() > 48 * 1024) decode.allowSharedMemory(smemDecode());
        sm90Clusters = sm90 != null && decode == sm90 && CLUSTERS && clusterPairsCoverSms();
    }

    /**
     * The Hopper kernel goes out in 2-CTA clusters along the tile dimension when the tile count is even: that
     * only places the two tile CTAs of a part in one GPC (the kernel loads its own boxes either way), where the
     * second CTA's loads of each KV block find it in L2 sooner. Measured on the H100 (docs/PERF.md r13):
     * two-tile rows 3-12% faster, four-tile rows 2-3%, one-tile rows unchanged. Used only when the pairs can
     * all be resident at once (cuOccupancyMaxActiveClusters >= SMs / 2: the one-wave grid stays one wave);
     * {@code -Dmla4j.cuda.sm90.clusters=false} turns it off.
     */
    static final boolean CLUSTERS = !"false".equalsIgnoreCase(System.getProperty("mla4j.cuda.sm90.clusters"));
    final boolean sm90Clusters;

    private boolean clusterPairsCoverSms() {
        try (Arena a = Arena.ofConfined()) {
            LaunchConfig probe = LaunchConfig.cluster(a, ctx.smCount, 2, 1, sm90Threads, sm90Smem, 0L, 1, 2, 1);
            return 2 * Cu.maxActiveClusters(sm90.handle(), probe.segment()) >= ctx.smCount;
        }
    }

    /** Switches to the portable kernel (after the Hopper kernel failed its self-check); false if there is none. */
    boolean fallBackToSm80() {
        if (sm80 == null) return false;
        decode = sm80;
        variant = "sm80";
        if (smemDecode() > 48 * 1024) decode.allowSharedMemory(smemDecode());
        return true;
    }

    /** The launch constants shipped with the image: FILE.properties beside -Dmla4j.cuda.fatbin=FILE, else the resource. */
    static java.util.Properties launchProperties() {
        java.util.Properties p = new java.util.Properties();
        String file = System.getProperty(FATBIN_PROPERTY);
        try {
            if (file != null) {
                java.nio.file.Path f = java.nio.file.Path.of(file.replaceAll("\\.fatbin$", "") + ".properties");
                if (java.nio.file.Files.exists(f)) try (var in = java.nio.file.Files.newInputStream(f)) { p.load(in); }
            } else {
                try (var in = DecodeKernels.class.getClassLoader().getResourceAsStream("io/mla4j/cuda/mla4j_kernels.properties")) {
                    if (in != null) p.load(in);
                }
            }
        } catch (java.io.IOException e) {
            throw new CudaException("cannot read the kernels' launch properties: " + e);
        }
        return p;
    }

    /** Fails early and clearly if a kernel's launch bounds no longer admit the block size Java launches it with. */
    private static void checkBlock(Kernel k, int threads) {
        if (k == null) return;
        int max = k.attribute(jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
        if (threads > max) throw new CudaException(k.name + " admits at most " + max + " threads per block but io.mla4j.cuda.DecodeKernels"
                + " launches it with " + threads + ": the kernel's launch geometry changed, update DecodeKernels");
    }

    private static Kernel require(Module m, String name) {
        Jcu.Fn f = m.function(name);
        if (f == null) throw new CudaException("kernel " + name + " is missing from " + m.source);
        return new Kernel(name, f);
    }

    private static Kernel optional(Module m, String name) {
        Jcu.Fn f = m.function(name);
        return f == null ? null : new Kernel(name, f);
    }

    private Kernel need(Kernel k, String what) {
        if (k == null) throw new CudaException(what + " is not in " + module.source);
        return k;
    }

    /**
     * mla4j_decode_sm90's launch constants: read from mla4j_kernels.properties, written from
     * kernels-cuda/sm90/sm90_launch.h when the fatbin is built (so image and numbers always match);
     * these defaults are that header's values when this class was written (LaunchGeometryTest checks them).
     */
    static final int SM90_THREADS_DEFAULT = 384, SM90_SMEM_DEFAULT = 231592;
    final int sm90Threads, sm90Smem;
    /** mla4j_decode_sm80's, same source of truth (the properties file, compiled from decode_sm80.cu's constants). */
    static final int SM80_THREADS_DEFAULT = 256, SM80_SMEM_DEFAULT = 154368, SM80_SMEM_SM90A_DEFAULT = 232192;
    static final String SM80_LAUNCH = "Launch: grid (num_parts, ceil(rows/64)), block 256";
    final int sm80Threads, sm80Smem;

    boolean usesTensorMap() { return decode == sm90; }

    /** Dynamic shared memory of the decode kernel in use. */
    int smemDecode() {
        return decode == sm90 ? sm90Smem : sm80Smem;
    }

    /** Where the tile schedule comes from, and whether partials are combined: for the description line. */
    String mode() {
        return (schedule != null ? "GPU scheduler" : "host schedule upload")
                + (decode == sm90 && sm90Clusters ? ", 2-CTA clusters for even tile counts" : "")
                + (combine != null ? "" : ", NO combine kernel: one split per sequence (bring-up mode, slow)");
    }

    void launchSchedule(CudaPlan p) {
        if (schedule == null) {
            p.uploadHostSchedule();
            return;
        }
        schedule.launch(1, 1, 1, 32, 1, 1, 0, ctx.stream(), p.params.kernelParams());
    }

    /** One decode: the split-KV kernel, then the LSE combine. */
    void launchDecode(CudaPlan p) {
        int tiles = (p.rows + ROW_TILE - 1) / ROW_TILE;
        if (decode == sm90 && sm90Clusters && tiles % 2 == 0) {
            decode.launch(p.decodeClusterLaunch(p.numParts, tiles, sm90Threads, sm90Smem, ctx.stream()), p.params.kernelParams());
        } else if (decode == sm90) {
            decode.launch(p.numParts, tiles, 1, sm90Threads, 1, 1, sm90Smem, ctx.stream(), p.params.kernelParams());
        } else {
            decode.launch(p.numParts, tiles, 1, sm80Threads, 1, 1, sm80Smem, ctx.stream(), p.params.kernelParams());
        }
        // the combine only touches sequences with more than one split; skip the launch when there are none
        if (combine != null && p.needsCombine) {
            if (PDL && decode == sm90) { // the sm90 kernel triggers its dependents early; the combine waits (combine.cu)
                combine.launch(p.combineLaunch(p.batch(), p.combineGridY, COMBINE_COLUMN_PARTS, COMBINE_THREADS, ctx.stream()), p.params.kernelParams());
            } else {
                combine.launch(p.batch(), p.combineGridY, COMBINE_COLUMN_PARTS, COMBINE_THREADS, 1, 1, 0, ctx.stream(), p.params.kernelParams());
            }
        }
    }

    /**
     * Programmatic dependent launch of the combine behind the Hopper kernel: off unless -Dmla4j.cuda.pdl=true.
     * Measured on the H100 (docs/PERF.md r7): correct, but b=1 steps got slower (46 -> 56 us, 46 -> 67 us at
     * s_k=65536, h_q=16), so it stays an opt-in experiment.
     */
    static final boolean PDL = "true".equalsIgnoreCase(System.getProperty("mla4j.cuda.pdl"));

    // mla4j_combine (kernels-cuda/common/combine.cu): one CTA per (sequence, rpc rows, 128-column quarter),
    // 8 warps, 8 / rpc of them per row sharing out its splits
    static final int COMBINE_THREADS = 256, COMBINE_COLUMN_PARTS = 4, COMBINE_WARPS = COMBINE_THREADS / 32;

    /**
     * Combine rows per CTA for a schedule whose busiest sequence has {@code mostSplits} splits: about 4
     * splits per warp, up to all 8 warps on one row (b = 1, long context: latency-bound, needs many loads in
     * flight), down to one warp per row (b = 128: 1-3 splits, where idle warps only cost launch work).
     * The C harnesses use the same rule, mla4j_combine_rows_per_cta in kernels-cuda/include/mla4j/schedule.h.
     */
    static int combineRowsPerCta(int mostSplits) {
        int warpsPerRow = 1;
        while (warpsPerRow < COMBINE_WARPS && warpsPerRow * 4 < mostSplits) warpsPerRow <<= 1;
        return COMBINE_WARPS / warpsPerRow;
    }

    /** The launch lines the kernel sources state; LaunchGeometryTest checks the sources still say so. */
    static final String COMBINE_LAUNCH = "Launch: grid (b, ceil(rows / rpc), 4), block 256, rpc in {1, 2, 4, 8}.";
    static final String SCHEDULE_LAUNCH = "Launch: grid 1, block 32.";
}
