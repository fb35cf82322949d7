package io.mla4j.ascend;

import io.mla4j.DType;
import io.mla4j.MlaPlan;
import io.mla4j.PlanSpec;
import io.mla4j.SplitSchedule;
import io.mla4j.Tensor;
import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.ascend.acl.acl_h;
import io.mla4j.spi.AbstractMlaBackend;
import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * MLA decode on an Ascend NPU through the ACL runtime C API, called with Panama FFM (bindings in
 * {@code io.mla4j.ascend.acl}). The same code drives a real CANN library or the mla4j ACL emulator,
 * which runs the CPU build of the Ascend C kernel; {@link #description()} says which.
 *
 * <p>Device memory is ACL memory ({@code aclrtMalloc}); every ACL call's aclError is checked and turned
 * into an {@link AclException} naming the call, the code and aclGetRecentErrMsg(). Work runs on one
 * ACL stream: {@link #decode} returns once the kernel is queued, {@link #synchronize} waits, and
 * {@link #copy} waits for queued work first (so a copy never races a running kernel). {@link #close}
 * frees every tensor and plan still alive, the stream, the kernel binary and the device.
 */
public final class AscendBackend extends AbstractMlaBackend {
    /** The memory name of this backend's tensors. */
    public static final String MEMORY = "ascend:0";
    private static final int DEVICE = 0;

    private final AclSession.Lease session;
    private final boolean emulated;
    private final Path kernelPath, tilingPath;
    private final String selection;
    private final MlaKernel kernel;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final MemorySegment binary;
    private final MemorySegment function;
    private final Set<Long> liveBuffers = ConcurrentHashMap.newKeySet();
    private final Set<AscendPlan> livePlans = ConcurrentHashMap.newKeySet();
    private final Object launchLock = new Object();
    private final int cores;

    /** Opens device 0 of the ACL library {@code acl} with kernel binary {@code kernelBinary}. */
    AscendBackend(Path acl, Path kernelBinary, Path tilingLibrary) {
        this(List.of(acl), kernelBinary, tilingLibrary);
    }

    /** Opens device 0 of the ACL libraries {@code acl} (e.g. libacl_rt.so and libascendcl.so). */
    AscendBackend(List<Path> acl, Path kernelBinary, Path tilingLibrary) {
        this(acl, kernelBinary, tilingLibrary, null);
    }

    /** As above; {@code selection} says why these libraries were chosen (shown in the description). */
    AscendBackend(List<Path> acl, Path kernelBinary, Path tilingLibrary, String selection) {
        this.selection = selection;
        AclLibrary.load(acl.toArray(Path[]::new));
        this.emulated = AclLibrary.isEmulator();
        this.kernelPath = kernelBinary;
        this.kernel = new MlaKernel(tilingLibrary);
        this.tilingPath = tilingLibrary;
        this.session = AclSession.acquire(emulated);
        List<Runnable> undo = new ArrayList<>();
        try {
            try (Arena a = Arena.ofConfined()) {
                Acl.check("aclrtSetDevice", acl_h.aclrtSetDevice(DEVICE));
                undo.add(() -> acl_h.aclrtResetDevice(DEVICE));
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                Acl.check("aclrtGetCurrentContext", acl_h.aclrtGetCurrentContext(out));
                context = out.get(ValueLayout.ADDRESS, 0);
                Acl.check("aclrtCreateStream", acl_h.aclrtCreateStream(out));
                stream = out.get(ValueLayout.ADDRESS, 0);
                undo.add(() -> acl_h.aclrtDestroyStream(stream));
                Acl.check("aclrtBinaryLoadFromFile", acl_h.aclrtBinaryLoadFromFile(
                        a.allocateFrom(kernelBinary.toAbsolutePath().toString()), MemorySegment.NULL, out));
                binary = out.get(ValueLayout.ADDRESS, 0);
                undo.add(() -> acl_h.aclrtBinaryUnLoad(binary));
                Acl.check("aclrtBinaryGetFunction", acl_h.aclrtBinaryGetFunction(binary, a.allocateFrom(MlaKernel.SYMBOL), out));
                function = out.get(ValueLayout.ADDRESS, 0);
                MemorySegment n = a.allocate(ValueLayout.JAVA_LONG);
                Acl.check("aclGetDeviceCapability(AI_CORE_NUM)", acl_h.aclGetDeviceCapability(DEVICE, acl_h.ACL_DEVICE_INFO_AI_CORE_NUM(), n));
                int device = (int) Math.max(1, n.get(ValueLayout.JAVA_LONG, 0));
                cores = Math.max(1, Math.min(device, Integer.getInteger(CORES_PROPERTY, device)));
            }
        } catch (RuntimeException | Error e) {
            for (int i = undo.size() - 1; i >= 0; i--) undo.get(i).run();
            session.close();
            throw e;
        }
    }

    @Override public String name() { return "ascend"; }

    @Override
    public String description() {
        return (emulated ? "Ascend ACL emulator on the CPU (slow; for testing): " : "Ascend NPU device " + DEVICE + " via CANN ACL: ")
                + AclLibrary.paths() + "; kernel " + kernelPath + " (" + MlaKernel.SYMBOL + "); tiling " + tilingPath.getFileName()
                + (selection == null ? "" : " [" + selection + "]");
    }

    @Override public String memory() { return MEMORY; }

    /** True when running on the mla4j ACL emulator rather than a real NPU. */
    public boolean isEmulated() { return emulated; }

    /** Property capping the AI cores a launch uses (default: all the device reports). */
    public static final String CORES_PROPERTY = "mla4j.ascend.cores";

    @Override
    protected int parallelism(PlanSpec spec) { return cores; }

    /** AI (Cube) cores a launch may use: aclGetDeviceCapability, capped by -D{@value #CORES_PROPERTY}. */
    int cores() { return cores; }

    // ------------------------------------------------------------------ memory

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        ensureOpen();
        long bytes = Checks.allocation(dtype, shape);
        long address = malloc(Math.max(1, bytes));
        // openness(): once this backend closes (and frees the buffer) the tensor reads as closed everywhere
        return Tensor.onDevice(MEMORY, address, dtype, shape, () -> free(address), openness());
    }

    /** Heads the kernel's tiling supports (mla4j_mla_tiling: num_heads in [1, 128]). */
    public static final int MAX_HEADS = 128;

    @Override
    public void checkSupported(int numHeads, int queryLen, DType dtype) {
        super.checkSupported(numHeads, queryLen, dtype);
        if (numHeads > MAX_HEADS) {
            throw Checks.bad("numHeads", "h_q is " + numHeads + ", the Ascend kernel supports h_q in [1, " + MAX_HEADS + "]");
        }
    }

    /**
     * Every page size 1-256 and the width pairs whose tiles fit an Atlas A2 core's L1 and UB (d_c + d_r up to 784,
     * d_c up to 768: 512 + 64, 256 + 64, 256 + 32, 128 + 64, 128 + 32, ...), bf16/fp16 caches. The host tiling is the
     * one judge ({@code mla4j_mla_check_geometry}); its reason, naming the buffer a geometry would overflow, is the
     * message. FP8 caches are refused by name.
     */
    @Override
    public void checkSupported(io.mla4j.Geometry geometry) {
        if (geometry == null) throw Checks.bad("geometry", "is null");
        // AMLA itself would hold on an FP8 cache (its power-of-two rescale acts on the fp32 output accumulator, and a
        // per-tensor scale folds into the softmax scale and o), but the kernel's tiles are bf16/fp16: an FP8 cache
        // needs a dequantising load stage on the Vector unit, not written (README, Backends).
        if (geometry.format().isFp8()) {
            throw Checks.bad("geometry", "is " + geometry + "; the Ascend kernel reads bf16/fp16 caches only (an FP8 cache"
                    + " needs a dequantising load stage, not written); the cpu and reference backends decode it");
        }
        kernel.geometryRefusal(geometry).ifPresent(why -> {
            throw Checks.bad("geometry", "is " + geometry + "; the Ascend kernel's tiling refuses it: " + why
                    + "; the cpu and reference backends take any geometry");
        });
    }

    /** aclrtMalloc, remembered until freed so close() can free what callers leaked. */
    long malloc(long bytes) {
        bind();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Acl.check("aclrtMalloc(" + bytes + " bytes)", acl_h.aclrtMalloc(out, bytes, acl_h.ACL_MEM_MALLOC_HUGE_FIRST()));
            long address = out.get(ValueLayout.ADDRESS, 0).address();
            liveBuffers.add(address);
            return address;
        }
    }

    /** aclrtFree of a buffer from {@link #malloc}; a no-op once the backend has freed it at close. */
    void free(long address) {
        if (!liveBuffers.remove(address)) return;
        bind();
        Acl.check("aclrtFree", acl_h.aclrtFree(MemorySegment.ofAddress(address)));
    }

    /** Synchronous host-to-device copy of {@code bytes}. */
    void upload(MemorySegment host, long deviceAddress) {
        bind();
        Acl.check("aclrtMemcpy(host to device)", acl_h.aclrtMemcpy(MemorySegment.ofAddress(deviceAddress), host.byteSize(), host,
                host.byteSize(), acl_h.ACL_MEMCPY_HOST_TO_DEVICE()));
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        ensureOpen();
        Checks.copyArgs(src, dst, MEMORY);
        long n = src.byteSize();
        if (n == 0) return;
        synchronize();  // queued kernels may read or write either side
        int kind = src.isHost()
                ? (dst.isHost() ? acl_h.ACL_MEMCPY_HOST_TO_HOST() : acl_h.ACL_MEMCPY_HOST_TO_DEVICE())
                : (dst.isHost() ? acl_h.ACL_MEMCPY_DEVICE_TO_HOST() : acl_h.ACL_MEMCPY_DEVICE_TO_DEVICE());
        try (Arena a = Arena.ofConfined()) {
            // ACL reads and writes native memory only: heap-backed host tensors go through a native buffer
            MemorySegment s = src.isHost() ? src.segment().asSlice(0, n) : MemorySegment.ofAddress(src.address());
            MemorySegment d = dst.isHost() ? dst.segment().asSlice(0, n) : MemorySegment.ofAddress(dst.address());
            MemorySegment stagedIn = s.isNative() ? s : a.allocate(n, 64).copyFrom(s);
            MemorySegment stagedOut = d.isNative() ? d : a.allocate(n, 64);
            bind();
            Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(stagedOut, n, stagedIn, n, kind));
            if (stagedOut != d) d.copyFrom(stagedOut);
        }
    }

    // ------------------------------------------------------------------ plan and decode

    @Override
    protected MlaPlan createPlan(PlanSpec spec, SplitSchedule schedule, int[] seqlens, int[] blockTable) {
        ensureOpen();
        AscendPlan plan = new AscendPlan(this, spec, schedule, seqlens, blockTable, kernel);
        livePlans.add(plan);
        return plan;
    }

    void forget(AscendPlan plan) { livePlans.remove(plan); }

    /** Waits for queued work before a plan frees buffers a queued kernel may still use; no-op once closed. */
    void drainBeforeFree() {
        if (isClosedQuietly()) return;
        bind();
        Acl.check("aclrtSynchronizeStream", acl_h.aclrtSynchronizeStream(stream));
    }

    private boolean isClosedQuietly() {
        try {
            ensureOpen();
            return false;
        } catch (IllegalStateException e) {
            return true;
        }
    }

    @Override
    protected void doDecode(MlaPlan plan, Tensor q, Tensor kCache, float kvScale, Tensor out, Tensor lse) {
        AscendPlan p = (AscendPlan) plan;
        long[] args = p.kernelArgs(q.address(), kCache.address(), out.address(), lse.address());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment hostArgs = a.allocate(ValueLayout.JAVA_LONG, args.length);
            for (int i = 0; i < args.length; i++) hostArgs.setAtIndex(ValueLayout.JAVA_LONG, i, args[i]);
            synchronized (launchLock) {
                bind();
                Acl.check("aclrtLaunchKernelWithHostArgs(" + MlaKernel.SYMBOL + ", " + p.blockDim() + " blocks)",
                        acl_h.aclrtLaunchKernelWithHostArgs(function, p.blockDim(), stream, MemorySegment.NULL, hostArgs,
                                hostArgs.byteSize(), MemorySegment.NULL, 0));
            }
        }
    }

    @Override
    public void synchronize() {
        ensureOpen();
        bind();
        Acl.check("aclrtSynchronizeStream", acl_h.aclrtSynchronizeStream(stream));
    }

    /** ACL contexts are per thread: make this backend's device context current on the calling thread. */
    private void bind() {
        Acl.check("aclrtSetCurrentContext", acl_h.aclrtSetCurrentContext(context));
    }

    /** Device bytes this backend holds now (tensors and plan buffers not yet freed). */
    int liveBufferCount() { return liveBuffers.size(); }

    @Override
    protected void release() {
        // Free everything even if a step fails; report the first failure at the end.
        RuntimeException first = null;
        try {
            bind();
            Acl.check("aclrtSynchronizeStream", acl_h.aclrtSynchronizeStream(stream));
        } catch (RuntimeException e) {
            first = e;
        }
        for (AscendPlan p : List.copyOf(livePlans)) p.close();
        for (Long address : List.copyOf(liveBuffers)) {
            try {
                free(address);
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        first = step(first, "aclrtDestroyStream", () -> acl_h.aclrtDestroyStream(stream));
        first = step(first, "aclrtBinaryUnLoad", () -> acl_h.aclrtBinaryUnLoad(binary));
        first = step(first, "aclrtResetDevice", () -> acl_h.aclrtResetDevice(DEVICE));
        try {
            session.close();
        } catch (RuntimeException e) {
            if (first == null) first = e;
        }
        if (first != null) throw first;
    }

    private static RuntimeException step(RuntimeException first, String call, java.util.function.IntSupplier op) {
        try {
            Acl.check(call, op.getAsInt());
        } catch (RuntimeException e) {
            return first == null ? e : first;
        }
        return first;
    }
}
