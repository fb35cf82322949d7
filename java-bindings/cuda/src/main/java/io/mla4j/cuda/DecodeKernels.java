package io.mla4j.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The decode-path kernels of the fatbin (kernels-cuda) and how each is launched. The flow is one way:
 * {@link CudaBackend} calls these kernels, which read (and, at {@link #prepare}, fill in) a {@link CudaPlan}'s
 * data; a plan never calls back.
 *
 * <p>Choice of decode kernel: {@code mla4j_decode_sm90} on compute capability 9.x when the fatbin has it,
 * else the portable {@code mla4j_decode_sm80}; {@code -Dmla4j.cuda.kernel=sm80|sm90} forces one. With the Hopper
 * kernel, {@code -Dmla4j.cuda.kernel=etap} gives the plans of {@code h_q * s_q <= 16} the transposed
 * {@code mla4j_decode_sm90_etap} ({@link #etapWhyNot} says when not); automatically too once its port has run on a GPU
 * ({@link #ETAP_BY_DEFAULT}).
 *
 * <p>Launch geometry comes with the image: {@code mla4j_kernels.properties}, written when the fatbin is built
 * (scripts/gpu-launch-props.sh) from kernels-cuda/sm90/sm90_launch.h, include/mla4j/schedule.h (combine and
 * scheduler) and the sm80 kernel's constants. The defaults below are those headers' values; LaunchGeometryTest
 * compares them, so a build without the properties file launches the same shapes.
 */
final class DecodeKernels {
    private static final System.Logger LOG = System.getLogger("io.mla4j.cuda");
    static final String FATBIN_RESOURCE = "io/mla4j/cuda/mla4j_kernels.fatbin";
    static final String LAUNCH_RESOURCE = "io/mla4j/cuda/mla4j_kernels.properties";

    /** Rows of a query tile: packed rows are processed in tiles of 64 (one tile per CTA row). */
    static final int ROW_TILE = 64;

    // mla4j_decode_sm90: kernels-cuda/sm90/sm90_launch.h
    static final int SM90_THREADS_DEFAULT = 384, SM90_SMEM_DEFAULT = 231616;
    // mla4j_decode_sm80: grid (parts, row tiles); the constants of decode_sm80.cu (sm_80/PTX image, sm_90a image)
    static final int SM80_THREADS_DEFAULT = 256, SM80_SMEM_DEFAULT = 154368, SM80_SMEM_SM90A_DEFAULT = 232192;
    // mla4j_combine and mla4j_schedule: include/mla4j/schedule.h (MLA4J_COMBINE_THREADS, MLA4J_COMBINE_COLUMNS,
    // MLA4J_SCHEDULE_THREADS). Combine grid (b, ceil(rows / rpc), column parts); scheduler grid 1.
    static final int COMBINE_THREADS_DEFAULT = 256, COMBINE_COLUMNS_DEFAULT = 128, SCHEDULE_THREADS_DEFAULT = 32;
    static final int STEP_THREADS_DEFAULT = 128; // MLA4J_STEP_THREADS
    // mla4j_decode_sm90_etap: kernels-cuda/sm90_etap/etap_launch.h (grid (parts, 1))
    static final int ETAP_THREADS_DEFAULT = 384, ETAP_SMEM_DEFAULT = 232448, ETAP_MAX_ROWS_DEFAULT = 16, ETAP_MIN_PAGE_SHIFT_DEFAULT = 4;

    final Module module;
    final Kernel schedule, combine, sm80, sm90;
    final Kernel step; // mla4j_step: an updatable plan's update (copy from staging, device-side check, schedule)
    final Kernel sm90fp8; // mla4j_decode_sm90 over an fp8_e4m3 cache: used for such plans while decode is sm90
    final Kernel sm80fp8; // mla4j_decode_sm80 over an fp8_e4m3 cache: used for such plans while decode is sm80
    final Kernel etap;    // mla4j_decode_sm90_etap: the transposed kernel for few query rows (kernels-cuda/sm90_etap)
    final Kernel etapFp8; // its entry over an fp8_e4m3 cache (DeepSeek's widths)
    /** The transposed kernel's entries for the other width pairs, keyed "d_cxd_r" like {@link #widths}. */
    final java.util.Map<String, Kernel> etapWidths;
    final int etapThreads, etapSmem, etapMaxRows, etapMinPageShift;
    /** Whether plans the transposed kernel serves launch it (see {@link #etapWhyNot}); off once it failed its self-check. */
    private boolean etapOn, etapFailed;
    Kernel decode;
    String variant;
    final boolean forced;
    final int sm90Threads, sm90Smem, sm80Threads, sm80Smem, combineThreads, combineColumns, scheduleThreads;
    /** The portable kernel's entries for other width pairs than DeepSeek's, keyed "d_cxd_r" (e.g. "256x32"). */
    final java.util.Map<String, Width> widths;
    final int stepThreads;
    final boolean sm90Clusters, pdl;
    private final CudaContext ctx;

    DecodeKernels(CudaContext ctx, Module module, CudaOptions opt) {
        this.ctx = ctx;
        this.module = module;
        Properties launch = launchProperties(opt.fatbin());
        sm90Threads = get(launch, "sm90.threads", SM90_THREADS_DEFAULT);
        sm90Smem = get(launch, "sm90.smem", SM90_SMEM_DEFAULT);
        sm80Threads = get(launch, "sm80.threads", SM80_THREADS_DEFAULT);
        // The sm_90a image builds the portable kernel with 64-token stages, the sm_80/PTX one with 32
        // (kernels-cuda/all_kernels.cu): the driver loads the sm_90a image exactly on compute capability 9.0.
        sm80Smem = ctx.ccMajor == 9 && ctx.ccMinor == 0
                ? get(launch, "sm80.smem.sm90a", SM80_SMEM_SM90A_DEFAULT) : get(launch, "sm80.smem", SM80_SMEM_DEFAULT);
        combineThreads = get(launch, "combine.threads", COMBINE_THREADS_DEFAULT);
        combineColumns = get(launch, "combine.columns", COMBINE_COLUMNS_DEFAULT);
        scheduleThreads = get(launch, "schedule.threads", SCHEDULE_THREADS_DEFAULT);
        stepThreads = get(launch, "step.threads", STEP_THREADS_DEFAULT);
        etapThreads = get(launch, "etap.threads", ETAP_THREADS_DEFAULT);
        etapSmem = get(launch, "etap.smem", ETAP_SMEM_DEFAULT);
        etapMaxRows = get(launch, "etap.maxRows", ETAP_MAX_ROWS_DEFAULT);
        etapMinPageShift = get(launch, "etap.minPageShift", ETAP_MIN_PAGE_SHIFT_DEFAULT);
        // Without the GPU scheduler the plan uploads the host's SplitSchedule (the one definition);
        // without the combine kernel every sequence must get exactly one split (one part: slow, for bring-up).
        schedule = opt.hostSchedule() ? null : optional(module, "mla4j_schedule");
        combine = optional(module, "mla4j_combine");
        step = schedule != null ? optional(module, "mla4j_step") : null;
        sm80 = optional(module, "mla4j_decode_sm80");
        sm80fp8 = optional(module, "mla4j_decode_sm80_fp8");
        sm90 = ctx.ccMajor == 9 ? optional(module, "mla4j_decode_sm90") : null;
        sm90fp8 = ctx.ccMajor == 9 ? optional(module, "mla4j_decode_sm90_fp8") : null;
        etap = ctx.ccMajor == 9 ? optional(module, "mla4j_decode_sm90_etap") : null;
        etapFp8 = etap != null ? optional(module, "mla4j_decode_sm90_etap_fp8") : null;
        checkBlock(combine, combineThreads);
        checkBlock(schedule, scheduleThreads);
        checkBlock(step, stepThreads);
        checkBlock(sm90, sm90Threads);
        checkBlock(sm90fp8, sm90Threads);
        checkBlock(etap, etapThreads);
        checkBlock(sm80, sm80Threads);
        checkBlock(sm80fp8, sm80Threads);
        forced = opt.kernel() != null;
        if (forced) {
            variant = opt.kernel();
            decode = switch (variant) {
                case "sm80" -> need(sm80, "mla4j_decode_sm80");
                case "sm90" -> need(sm90, ctx.ccMajor == 9 ? "mla4j_decode_sm90" : "mla4j_decode_sm90 (needs compute capability 9.x, this is "
                        + ctx.ccMajor + "." + ctx.ccMinor + ")");
                case "etap" -> { // the transposed kernel wherever it serves a plan, the relay kernel elsewhere
                    need(etap, ctx.ccMajor == 9 ? "mla4j_decode_sm90_etap" : "mla4j_decode_sm90_etap (needs compute capability 9.x, this is "
                            + ctx.ccMajor + "." + ctx.ccMinor + ")");
                    variant = "sm90";
                    yield need(sm90, "mla4j_decode_sm90");
                }
                default -> throw new IllegalArgumentException("-D" + CudaOptions.KERNEL + "=" + variant + ": expected sm80, sm90 or etap");
            };
        } else if (sm90 != null) {
            variant = "sm90";
            decode = sm90;
        } else {
            variant = "sm80";
            decode = need(sm80, "mla4j_decode_sm80");
        }
        if (smemDecode() > 48 * 1024) decode.allowSharedMemory(smemDecode());
        if (sm90fp8 != null) sm90fp8.allowSharedMemory(sm90Smem); // the same shared-memory plan
        if (etap != null) etap.allowSharedMemory(etapSmem);
        if (etapFp8 != null) etapFp8.allowSharedMemory(etapSmem);
        checkBlock(etapFp8, etapThreads);
        // forced sm90 (or sm80): that kernel for every plan; forced etap: the transposed kernel wherever it serves
        etapOn = etap != null && decode == sm90 && (forced ? "etap".equals(opt.kernel()) : ETAP_BY_DEFAULT);
        widths = widthKernels(module, launch, ctx.ccMajor == 9 && ctx.ccMinor == 0);
        etapWidths = new java.util.LinkedHashMap<>();
        if (etap != null) {
            for (String key : widths.keySet()) { // the same list (include/mla4j/widths.h) expands both kernels' entries
                Kernel k = optional(module, "mla4j_decode_sm90_etap_" + key);
                if (k == null) continue;
                checkBlock(k, etapThreads);
                k.allowSharedMemory(etapSmem);
                etapWidths.put(key, k);
            }
        }
        if (sm80fp8 != null && sm80Smem > 48 * 1024) sm80fp8.allowSharedMemory(sm80Smem);
        sm90Clusters = sm90 != null && decode == sm90 && opt.sm90Clusters() && clusterPairsCoverSms();
        pdl = opt.pdl();
    }

    /** A width pair's entry of the portable kernel and its dynamic shared memory (two K stages of the image's size). */
    record Width(Kernel kernel, int smem) {}

    /*
     * The other width pairs come with the image: sm80.widths lists them (the kernel's MLA4J_SM80_OTHER_WIDTHS, printed by
     * scripts/gpu-launch-props.sh) with their shared memory; without the properties, or for an entry the image lacks,
     * a pair is not offered (checkSupported refuses it by name), so Java never guesses a launch size.
     */
    private static java.util.Map<String, Width> widthKernels(Module module, Properties launch, boolean sm90a) {
        java.util.Map<String, Width> m = new java.util.LinkedHashMap<>();
        String list = launch.getProperty("sm80.widths", "").trim();
        if (list.isEmpty()) return m;
        for (String key : list.split(",")) {
            key = key.trim();
            Kernel k = optional(module, "mla4j_decode_sm80_" + key);
            int smem = get(launch, (sm90a ? "sm80.smem.sm90a." : "sm80.smem.") + key, 0);
            if (k == null || smem <= 0) continue;
            checkBlock(k, SM80_THREADS_DEFAULT);
            if (smem > 48 * 1024) k.allowSharedMemory(smem);
            m.put(key, new Width(k, smem));
        }
        return m;
    }

    /** "d_cxd_r", the key of a width pair. */
    static String widthKey(io.mla4j.Geometry g) { return g.dC() + "x" + g.dR(); }

    /** Whether a geometry has DeepSeek's widths, which every decode kernel serves. */
    static boolean deepSeekWidths(io.mla4j.Geometry g) {
        return g.dC() == io.mla4j.Geometry.DEEPSEEK.dC() && g.dR() == io.mla4j.Geometry.DEEPSEEK.dR();
    }

    private static int get(Properties p, String key, int fallback) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new CudaException("mla4j_kernels.properties: " + key + "=" + v + " is not a number");
        }
    }

    /*
     * The Hopper kernel goes out in 2-CTA clusters along the tile dimension when the tile count is even: that
     * only places the two tile CTAs of a part in one GPC (the kernel loads its own boxes either way), where the
     * second CTA's loads of each KV block find it in L2 sooner. Measured on the H100 (docs/PERF.md r13):
     * two-tile rows 3-12% faster, four-tile rows 2-3%, one-tile rows unchanged. Used only when the pairs can
     * all be resident at once (cuOccupancyMaxActiveClusters >= SMs / 2: the one-wave grid stays one wave);
     * -Dmla4j.cuda.sm90.clusters=false turns it off.
     */
    private boolean clusterPairsCoverSms() {
        try (Arena a = Arena.ofConfined()) {
            LaunchConfig probe = LaunchConfig.cluster(a, ctx.smCount, 2, 1, sm90Threads, sm90Smem, 0L, 1, 2, 1);
            return 2 * FfmDriver.maxActiveClusters(sm90.handle(), probe.segment()) >= ctx.smCount;
        }
    }

    /** Switches to the portable kernel (after the Hopper kernel failed its self-check); false if there is none. */
    boolean fallBackToSm80() {
        if (sm80 == null) return false;
        etapOn = false;
        decode = sm80;
        variant = "sm80";
        if (smemDecode() > 48 * 1024) decode.allowSharedMemory(smemDecode());
        return true;
    }

    /*
     * Whether an automatic backend gives the transposed kernel the plans it serves. Off until this build of it has run
     * on a GPU: the lab's kernel was checked and timed on the H200 (lab/etap, runs 1-3: level with or faster than the
     * relay kernel at 16 rows), but the product's port adds page sizes other than 64 and has not run yet (no device
     * was lent that session; docs/PERF.md, "2026-12-04 (late night)"). lab/scripts/i19-etap-run.sh is the run that
     * decides; -Dmla4j.cuda.kernel=etap uses it meanwhile.
     */
    static final boolean ETAP_BY_DEFAULT = false;

    /** Whether plans that the transposed kernel serves use it (then {@link SelfCheck} runs on such a plan too). */
    boolean etapInUse() { return etapOn; }

    /** Stops choosing the transposed kernel (it failed its self-check on this machine). */
    void disableEtap() {
        etapOn = false;
        etapFailed = true;
    }

    /*
     * The choice between the two Hopper kernels, per plan. The transposed kernel (kernels-cuda/sm90_etap) puts the KV
     * block in wgmma's M and the query rows in N = 16, so at h_q * s_q <= 16 it spends no tensor work or operand reads
     * on padding rows, where the relay kernel pads the rows to M = 64. Measured on the H200 (lab/etap, issue 19): at 16
     * rows the lab build was level with or faster than the relay kernel at b = 128 and at small batch; at 32 and 64 rows
     * the lab's transposed builds lost (0.69-0.93x), so it is built for 16 rows only. The rule is therefore the
     * kernel's reach: every plan it serves gets it (once ETAP_BY_DEFAULT is on). Null when it serves the plan, else why
     * not (for kernelReason()).
     */
    String etapWhyNot(CudaPlan p) {
        return etapWhyNot(p.rows, p.fp8, p.spec().geometry());
    }

    private String etapWhyNot(int rows, boolean fp8, io.mla4j.Geometry g) {
        if (etap == null) return "the image has no mla4j_decode_sm90_etap";
        if (!etapOn) return decode != sm90 ? "the relay kernel is not in use" : forced ? "-D" + CudaOptions.KERNEL + "=sm90 forces the relay kernel"
                : etapFailed ? "mla4j_decode_sm90_etap failed its self-check"
                : "the transposed kernel is not chosen automatically yet (not run on a GPU in this build; -D" + CudaOptions.KERNEL + "=etap)";
        String r = etapRefusal(rows, fp8, g, etapMaxRows, etapMinPageShift);
        if (r == null && etapFor(g) == null)
            r = "the image has no transposed entry for " + (fp8 ? "an fp8 cache" : "widths " + widthKey(g));
        return r;
    }

    /** The transposed kernel's entry for a plan it serves: DeepSeek's widths or another pair's. */
    private Kernel etapFor(io.mla4j.Geometry g) {
        if (g.format() == io.mla4j.CacheFormat.FP8_E4M3) return etapFp8;
        return deepSeekWidths(g) ? etap : etapWidths.get(widthKey(g));
    }

    /**
     * What keeps the transposed kernel from a plan of these rows and geometry, or null when it serves it (its widths are
     * DeepSeek's or one of include/mla4j/widths.h's pairs, each an entry the image may or may not have).
     */
    static String etapRefusal(int rows, boolean fp8, io.mla4j.Geometry g, int maxRows, int minPageShift) {
        if (rows > maxRows) return "h_q * s_q = " + rows + " > " + maxRows + " (the transposed kernel's wgmma N)";
        if (fp8 && !deepSeekWidths(g)) return "an fp8 cache of widths " + widthKey(g) + " (the transposed fp8 entry is 512+64's)";
        if (g.format() != io.mla4j.CacheFormat.PLAIN && !fp8) return "the " + g.format().id() + " cache format";
        if (Integer.numberOfTrailingZeros(g.pageSize()) < minPageShift)
            return "pages of " + g.pageSize() + " tokens (the transposed kernel loads pages of >= " + (1 << minPageShift) + " by TMA)";
        return null;
    }

    /** The launch constants shipped with the image: FILE.properties beside a given image FILE, else the packaged resource. */
    static Properties launchProperties(String fatbinFile) {
        Properties p = new Properties();
        try {
            if (fatbinFile != null) {
                Path f = Path.of(fatbinFile.replaceAll("\\.fatbin$", "") + ".properties");
                if (Files.exists(f)) try (InputStream in = Files.newInputStream(f)) { p.load(in); }
            } else {
                try (InputStream in = Module.resource(LAUNCH_RESOURCE)) {
                    if (in != null) p.load(in);
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new CudaException("cannot read the kernels' launch properties: " + e);
        }
        return p;
    }

    /** Fails early and clearly if a kernel's launch bounds no longer admit the block size Java launches it with. */
    private static void checkBlock(Kernel k, int threads) {
        if (k == null) return;
        int max = k.attribute(jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
        if (threads > max) throw new CudaException(k.name + " admits at most " + max + " threads per block but io.mla4j.cuda.DecodeKernels"
                + " launches it with " + threads + ": the kernel's launch geometry changed without its header or properties");
    }

    private static Kernel optional(Module m, String name) {
        Jcu.Fn f = m.function(name);
        return f == null ? null : new Kernel(name, f);
    }

    private Kernel need(Kernel k, String what) {
        if (k == null) throw new CudaException(what + " is not in " + module.source);
        return k;
    }

    /** Whether a plan of this geometry launches the sm90 kernel, which reads the cache through a tensor map. */
    boolean usesTensorMap(io.mla4j.PlanSpec spec) {
        io.mla4j.Geometry g = spec.geometry();
        boolean fp8 = g.format() == io.mla4j.CacheFormat.FP8_E4M3;
        return decode == sm90 && (deepSeekWidths(g) || etapWhyNot(spec.rows(), fp8, g) == null);
    }

    /** Whether plans over an fp8_e4m3 cache can run: the image has the fp8 entry of the kernel in use. */
    boolean takesFp8() { return (decode == sm90 ? sm90fp8 : sm80fp8) != null; }

    /** Whether the fp8 path in use loads pages by TMA (the sm90 kernel: pages of >= 16 tokens). */
    boolean fp8NeedsTmaPages() { return decode == sm90; }

    /** The kernel a plan's decode launches: the fp8 entry of the kernel in use for an fp8 cache, else that kernel. */
    private Kernel decodeFor(CudaPlan p) { return p.fp8 ? (decode == sm90 ? sm90fp8 : sm80fp8) : decode; }

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

    /**
     * Combine rows per CTA for a schedule whose busiest sequence has {@code mostSplits} splits: about 4
     * splits per warp, up to all warps on one row (b = 1, long context: latency-bound, needs many loads in
     * flight), down to one warp per row (b = 128: 1-3 splits, where idle warps only cost launch work).
     * The same rule as mla4j_combine_rows_per_cta in kernels-cuda/include/mla4j/schedule.h.
     */
    static int combineRowsPerCta(int mostSplits, int combineThreads) {
        int warps = combineThreads / 32, warpsPerRow = 1;
        while (warpsPerRow < warps && warpsPerRow * 4 < mostSplits) warpsPerRow <<= 1;
        return warps / warpsPerRow;
    }

    /**
     * Once per plan, after its buffers and parameters are written: its launch geometry and cuLaunchKernelEx
     * configs (a plan only runs on this backend, whose stream never changes), then the tile schedule on the
     * GPU (the scheduler kernel, or an upload of the host's).
     */
    void prepare(CudaPlan p) {
        long stream = ctx.streamHandle();
        p.tiles = (p.rows + ROW_TILE - 1) / ROW_TILE;
        io.mla4j.Geometry g = p.spec().geometry();
        p.combineGridZ = g.dV() / combineColumns;
        String whyNot = decode == sm90 ? etapWhyNot(p) : "";
        p.etapKernel = whyNot == null ? etapFor(g) : null;
        p.etap = p.etapKernel != null;
        // another width pair outside the transposed kernel's reach: its entry of the portable kernel (checkSupported made
        // sure it exists)
        p.width = p.etap || deepSeekWidths(g) ? null : widths.get(widthKey(g));
        String tw = deepSeekWidths(g) ? "" : "_" + widthKey(g);
        p.kernel = p.width != null ? "sm80_" + widthKey(g) : p.etap ? "sm90_etap" + tw : variant;
        p.kernelReason = p.width != null ? "widths " + widthKey(g) + ": the portable kernel's entry for them"
                + (decode == sm90 ? " (the transposed kernel: " + whyNot + ")" : "")
                : p.etap ? "h_q * s_q = " + p.rows + " <= " + etapMaxRows + ": the transposed kernel (no padding rows)"
                : decode == sm90 ? "the relay kernel: " + whyNot
                : variant.equals("sm80") && forced ? "-D" + CudaOptions.KERNEL + "=sm80" : "the portable kernel (no Hopper kernel on this device)";
        LOG.log(System.Logger.Level.DEBUG, () -> "plan b=" + p.batch() + " rows=" + p.rows + ": " + p.kernel + " (" + p.kernelReason + ")");
        int rpc = combineRowsPerCta(p.mostSplits, combineThreads);
        p.combineGridY = (p.rows + rpc - 1) / rpc;
        if (p.width == null && !p.etap && decode == sm90 && sm90Clusters && p.tiles % 2 == 0) {
            p.decodeLaunch = LaunchConfig.cluster(p.arena(), p.numParts, p.tiles, 1, sm90Threads, sm90Smem, stream, 1, 2, 1);
        }
        if (combine != null && p.needsCombine && pdl && decode == sm90 && p.width == null) { // both Hopper kernels trigger
            p.combineLaunch = LaunchConfig.programmatic(p.arena(), p.batch(), p.combineGridY, p.combineGridZ, combineThreads, 0, stream);
        }
        schedule(p, p.schedule(), 0L);
    }

    /** Whether updatable plans can run: their step is checked and scheduled on the GPU (mla4j_step). */
    boolean takesUpdatablePlans() { return step != null; }

    /**
     * A step's schedule on the stream. An updatable plan's: mla4j_step, which first copies the step from {@code staged}
     * (mapped pinned host memory: its staging, inside a graph capture) or, with 0, takes the seqlens and table the host
     * copied before it, and checks them on the device. A plain plan's: the GPU scheduler, or an upload of {@code host}.
     */
    void schedule(CudaPlan p, io.mla4j.SplitSchedule host, long staged) {
        long stream = ctx.streamHandle();
        if (p.statusBuf != null) {
            p.params.setLong("staged", staged); // copied into the launch (a captured node keeps it)
            step.launch(p.batch(), 1, 1, stepThreads, 1, 1, 0, stream, p.params.kernelParams());
            return;
        }
        if (schedule != null) {
            schedule.launch(1, 1, 1, scheduleThreads, 1, 1, 0, stream, p.params.kernelParams());
        } else {
            p.uploadHostSchedule(ctx, host);
        }
    }

    /** One decode: the split-KV kernel, then the LSE combine. */
    void launchDecode(CudaPlan p) {
        long stream = ctx.streamHandle();
        if (p.width != null) { // another width pair: its entry of the portable kernel
            p.width.kernel().launch(p.numParts, p.tiles, 1, sm80Threads, 1, 1, p.width.smem(), stream, p.params.kernelParams());
        } else if (p.etap) { // h_q * s_q <= 16: the transposed kernel, one CTA per part
            p.etapKernel.launch(p.numParts, 1, 1, etapThreads, 1, 1, etapSmem, stream, p.params.kernelParams());
        } else if (decode == sm90 && p.decodeLaunch != null) {
            decodeFor(p).launch(p.decodeLaunch, p.params.kernelParams());
        } else if (decode == sm90) {
            decodeFor(p).launch(p.numParts, p.tiles, 1, sm90Threads, 1, 1, sm90Smem, stream, p.params.kernelParams());
        } else {
            decodeFor(p).launch(p.numParts, p.tiles, 1, sm80Threads, 1, 1, sm80Smem, stream, p.params.kernelParams());
        }
        // the combine only touches sequences with more than one split; skip the launch when there are none
        if (combine != null && p.needsCombine) {
            if (p.combineLaunch != null) { // the sm90 kernel triggers its dependents early; the combine waits (combine.cu)
                combine.launch(p.combineLaunch, p.params.kernelParams());
            } else {
                combine.launch(p.batch(), p.combineGridY, p.combineGridZ, combineThreads, 1, 1, 0, stream, p.params.kernelParams());
            }
        }
    }
}
