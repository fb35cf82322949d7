package io.mla4j.spi;

import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Mla;
import io.mla4j.PlanSpec;
import io.mla4j.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Argument validation shared by every backend, so all of them reject bad input the same way: an
 * {@link IllegalArgumentException} that names the argument and says what was expected, thrown before
 * any work starts.
 */
public final class Checks {
    private Checks() {}

    public static IllegalArgumentException bad(String arg, String problem) {
        return new IllegalArgumentException(arg + ": " + problem);
    }

    /** An {@link IllegalStateException} for a closed backend, plan or tensor, naming it. */
    public static IllegalStateException closed(String arg, String what) {
        return new IllegalStateException(arg + ": " + what);
    }

    /** Not null and not closed (closed: {@link IllegalStateException}). */
    public static void open(String arg, Tensor t) {
        if (t == null) throw bad(arg, "is null");
        if (t.isClosed()) throw closed(arg, "is closed (its memory was freed, or the backend that owns it was closed)");
    }

    /**
     * The per-tensor scale of a decode call: finite, positive and normal for an {@link io.mla4j.CacheFormat#FP8_E4M3}
     * cache; exactly 1 for the other formats, which carry no such scale (a different value would be ignored,
     * so it is refused).
     */
    public static void kvScale(float kvScale, io.mla4j.CacheFormat format) {
        if (format.takesTensorScale()) {
            if (!(kvScale >= Float.MIN_NORMAL) || Float.isInfinite(kvScale)) {
                throw bad("kvScale", "is " + kvScale + "; an fp8_e4m3 cache's scale must be finite, positive and normal");
            }
        } else if (kvScale != 1f) {
            throw bad("kvScale", "is " + kvScale + "; a " + format.id() + " cache takes no per-tensor scale (pass 1"
                    + (format.isFp8() ? ": its scales are stored in the cache)" : ")"));
        }
    }

    /** Not null, not closed, in the expected memory, of this dtype and exact shape; host memory big enough and aligned. */
    public static void tensor(String arg, Tensor t, String memory, DType dtype, long... shape) {
        open(arg, t);
        if (!t.location().equals(memory) || t.isHost() != memory.equals("host")) {
            throw bad(arg, "is in " + t.location() + " memory, expected " + memory
                    + " memory (allocate it with this backend, or copy it there)");
        }
        if (t.dtype() != dtype) throw bad(arg, "dtype is " + t.dtype() + ", expected " + dtype);
        if (!Arrays.equals(t.shape(), shape)) {
            throw bad(arg, "shape is " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape));
        }
        if (t.isHost()) {
            if (t.segment().byteSize() < t.byteSize()) {
                throw bad(arg, "segment holds " + t.segment().byteSize() + " bytes, needs " + t.byteSize());
            }
            if (t.segment().maxByteAlignment() < dtype.byteSize()) {
                throw bad(arg, "segment at address " + t.segment().address() + " is not aligned to "
                        + dtype.byteSize() + " bytes, as " + dtype + " needs");
            }
        } else if (t.address() == 0 && t.byteSize() > 0) {
            throw bad(arg, "device address is null");
        } else if (t.address() % Mla.DEVICE_ALIGNMENT != 0) {
            throw bad(arg, "device address 0x" + Long.toHexString(t.address()) + " is not aligned to " + Mla.DEVICE_ALIGNMENT
                    + " bytes (Mla.DEVICE_ALIGNMENT: device kernels load 16 bytes at a time)");
        }
    }

    /** {@link #tensor} for an output: also writable (not a read-only segment). */
    public static void output(String arg, Tensor t, String memory, DType dtype, long... shape) {
        tensor(arg, t, memory, dtype, shape);
        if (t.isReadOnly()) throw bad(arg, "is a read-only segment; an output must be writable");
    }

    /**
     * The arguments of {@code copy(src, dst)} as every backend must check them: not null, open, same dtype
     * and byte size, host segments big enough, dst writable, and each side in host memory or in {@code memory}.
     */
    public static void copyArgs(Tensor src, Tensor dst, String memory) {
        open("src", src);
        open("dst", dst);
        for (Tensor t : new Tensor[] {src, dst}) {
            String arg = t == src ? "src" : "dst";
            if (!t.isHost() && !t.location().equals(memory)) {
                throw bad(arg, "is in " + t.location() + " memory; this backend copies between host and " + memory + " memory");
            }
            if (t.isHost() && t.segment().byteSize() < t.byteSize()) {
                throw bad(arg, "segment holds " + t.segment().byteSize() + " bytes, needs " + t.byteSize());
            }
        }
        if (dst.isReadOnly()) throw bad("dst", "is a read-only segment");
        if (src.dtype() != dst.dtype()) throw bad("dst", "dtype " + dst.dtype() + " differs from src " + src.dtype());
        if (src.byteSize() != dst.byteSize()) throw bad("dst", dst.byteSize() + " bytes, src has " + src.byteSize());
    }

    /** Validates a shape for {@code allocate}: dtype and shape not null, no negative dims, byte size fits a long. Returns the bytes. */
    public static long allocation(DType dtype, long[] shape) {
        return Tensor.byteSize(dtype, shape);
    }

    /** Rank-only check with a readable message, used before shape comparisons. */
    public static void rank(String arg, Tensor t, int rank, String layout) {
        if (t == null) throw bad(arg, "is null");
        if (t.rank() != rank) {
            throw bad(arg, "rank is " + t.rank() + " (shape " + Arrays.toString(t.shape()) + "), expected " + rank + ": " + layout);
        }
    }

    /** A validated step's contents, as the checks read them: b seqlens and the b x max_blocks table, row-major. */
    public record Step(int[] seqlens, int[] table) {}

    /**
     * Validates a plan spec completely (host-side contents included: every sequence length and every
     * block id a sequence uses), so an out-of-range id never reaches a kernel. Returns the seqlens.
     */
    public static int[] planSpec(PlanSpec spec) { return planStep(spec).seqlens(); }

    /**
     * {@link #planSpec}, returning the seqlens and the block table it read (one copy of each: at b = 128 a table
     * copy is ~45 us, which plan() used to make twice).
     */
    public static Step planStep(PlanSpec spec) {
        if (spec == null) throw bad("spec", "is null");
        Geometry g = spec.geometry(); // valid by construction (Geometry's constructor runs geometry() below)
        rank("seqlens", spec.seqlens(), 1, "[b]");
        rank("blockTable", spec.blockTable(), 2, "[b, max_blocks]");
        long b = spec.seqlens().dim(0);
        if (b < 1) throw bad("seqlens", "batch size is 0, expected >= 1");
        if (b > Mla.MAX_BATCH) throw bad("seqlens", "batch size is " + b + ", at most Mla.MAX_BATCH = " + Mla.MAX_BATCH);
        tensor("seqlens", spec.seqlens(), "host", DType.INT32, b);
        long maxBlocks = spec.blockTable().dim(1);
        tensor("blockTable", spec.blockTable(), "host", DType.INT32, b, maxBlocks);
        if (maxBlocks > g.maxBlocksPerSequence()) {
            throw bad("blockTable", "has " + maxBlocks + " columns, at most " + g.maxBlocksPerSequence()
                    + " (the pages of Mla.MAX_SEQLEN tokens at page size " + g.pageSize() + ")");
        }
        if (b * maxBlocks > Mla.MAX_BLOCK_TABLE_ENTRIES) { // both factors are bounded above, so the product fits a long
            throw bad("blockTable", "has " + b * maxBlocks + " entries, at most Mla.MAX_BLOCK_TABLE_ENTRIES = " + Mla.MAX_BLOCK_TABLE_ENTRIES);
        }
        if (spec.numCacheBlocks() < 1) throw bad("numCacheBlocks", "is " + spec.numCacheBlocks() + ", expected >= 1");
        if (spec.numHeads() < 1) throw bad("numHeads", "h_q is " + spec.numHeads() + ", expected >= 1");
        if (spec.queryLen() < 1) throw bad("queryLen", "s_q is " + spec.queryLen() + ", expected >= 1");
        long rows = (long) spec.numHeads() * spec.queryLen();
        if (rows > Mla.MAX_ROWS) {
            throw bad(spec.numHeads() >= spec.queryLen() ? "numHeads" : "queryLen", "h_q * s_q = " + spec.numHeads() + " * "
                    + spec.queryLen() + " = " + rows + " query rows, at most Mla.MAX_ROWS = " + Mla.MAX_ROWS);
        }
        if (!spec.dtype().isDecodeType()) throw bad("dtype", "is " + spec.dtype() + ", expected BF16 or FP16");
        float scale = spec.scale();
        if (!Float.isFinite(scale) || scale <= 0) {
            throw bad("scale", "is " + scale + ", expected a finite positive number (default d_qk^-0.5 = " + g.defaultScale() + ")");
        }
        if (scale < Mla.MIN_SCALE || scale > Mla.MAX_SCALE) {
            throw bad("scale", "is " + scale + ", expected a finite positive number in [Mla.MIN_SCALE, Mla.MAX_SCALE] = ["
                    + Mla.MIN_SCALE + ", " + Mla.MAX_SCALE + "] (default d_qk^-0.5 = " + g.defaultScale() + ")");
        }
        int[] seqlens = spec.seqlens().toIntArray(), table = spec.blockTable().toIntArray();
        stepContents(spec, seqlens, table);
        return new Step(seqlens, table);
    }

    /**
     * A step's contents against its plan's capacity: {@code seqlens} holds b lengths, each in [0, Mla.MAX_SEQLEN]
     * and within the table's max_blocks pages, and {@code table} b * max_blocks ids, each used one in
     * [0, numCacheBlocks). Used by {@link #planSpec} and by {@link io.mla4j.MlaPlan#update}.
     */
    public static void stepContents(PlanSpec spec, int[] seqlens, int[] table) {
        Geometry g = spec.geometry();
        long b = spec.seqlens().dim(0), maxBlocks = spec.blockTable().dim(1);
        if (seqlens == null) throw bad("seqlens", "is null");
        if (table == null) throw bad("blockTable", "is null");
        if (seqlens.length != b) throw bad("seqlens", "has " + seqlens.length + " entries, the plan's batch is " + b);
        if (table.length != b * maxBlocks) {
            throw bad("blockTable", "has " + table.length + " entries, the plan's [b, max_blocks] = [" + b + ", " + maxBlocks
                    + "] needs " + b * maxBlocks);
        }
        for (int s = 0; s < b; s++) {
            int len = seqlens[s];
            if (len < 0) throw bad("seqlens", "seqlens[" + s + "] = " + len + " is negative");
            if (len > Mla.MAX_SEQLEN) {
                throw bad("seqlens", "seqlens[" + s + "] = " + len + " is above Mla.MAX_SEQLEN = " + Mla.MAX_SEQLEN);
            }
            long need = g.blocksFor(len);
            if (need > maxBlocks) {
                throw bad("seqlens", "seqlens[" + s + "] = " + len + " needs " + need + " blocks of " + g.pageSize()
                        + " but the block table gives " + maxBlocks + " per sequence");
            }
            for (int j = 0; j < need; j++) {
                int id = table[(int) (s * maxBlocks + j)];
                if (id < 0 || id >= spec.numCacheBlocks()) {
                    throw bad("blockTable", "blockTable[" + s + "][" + j + "] = " + id + " is out of range [0, "
                            + spec.numCacheBlocks() + ") (the cache has " + spec.numCacheBlocks() + " blocks)");
                }
            }
        }
    }

    // ---- Cache geometry (issue 22) ----

    /**
     * The rules of a {@link Geometry}: page size a power of two in [1, {@value Geometry#MAX_PAGE_SIZE}], d_c and
     * d_r positive multiples of {@value Geometry#WIDTH_MULTIPLE}, d_qk at most {@value Geometry#MAX_D_QK}.
     * An {@link IllegalArgumentException} naming pageSize, dC or dR.
     */
    public static void geometry(int pageSize, int dC, int dR) {
        if (pageSize < 1 || pageSize > Geometry.MAX_PAGE_SIZE || Integer.bitCount(pageSize) != 1) {
            throw bad("pageSize", "is " + pageSize + ", expected a power of two in [1, " + Geometry.MAX_PAGE_SIZE + "]");
        }
        for (int i = 0; i < 2; i++) {
            int w = i == 0 ? dC : dR;
            if (w < Geometry.WIDTH_MULTIPLE || w % Geometry.WIDTH_MULTIPLE != 0) {
                throw bad(i == 0 ? "dC" : "dR", (i == 0 ? "latent width d_c" : "RoPE width d_r") + " is " + w
                        + ", expected a positive multiple of " + Geometry.WIDTH_MULTIPLE);
            }
        }
        if ((long) dC + dR > Geometry.MAX_D_QK) {
            throw bad("dC", "d_c + d_r = " + dC + " + " + dR + " = " + ((long) dC + dR) + ", at most " + Geometry.MAX_D_QK);
        }
    }

    /**
     * The decode tensors' dims against the plan's geometry, with messages that name it: q [b, s_q, h_q, d_qk],
     * kCache [num_blocks, page, 1, d_qk], out [b, s_q, h_q, d_v]. Only the dims the geometry fixes are compared
     * here (rank first); {@link #tensor} then checks everything else (b, h_q, num_blocks, dtype, memory).
     */
    public static void decodeGeometry(PlanSpec spec, Tensor q, Tensor kCache, Tensor out) {
        Geometry g = spec.geometry();
        long b = spec.batch(), sq = spec.queryLen(), hq = spec.numHeads();
        String dims = " (the plan's geometry is " + g + ": d_qk = " + g.dQk() + ", d_v = " + g.dV() + ")";
        rank("q", q, 4, "[b, s_q, h_q, d_qk]");
        if (q.dim(3) != g.dQk()) {
            throw bad("q", "shape is " + Arrays.toString(q.shape()) + ", expected " + Arrays.toString(g.queryShape(b, sq, hq)) + dims);
        }
        rank("kCache", kCache, 4, "[num_blocks, page_size, 1, d_qk]");
        if (kCache.dim(3) != g.storedWidth() || kCache.dim(1) != g.pageSize() || kCache.dim(2) != Mla.H_KV) {
            throw bad("kCache", "shape is " + Arrays.toString(kCache.shape()) + ", expected "
                    + Arrays.toString(g.cacheShape(spec.numCacheBlocks())) + dims
                    + "; a cache of another page size or width needs a spec of that geometry (PlanSpec.withGeometry)");
        }
        rank("out", out, 4, "[b, s_q, h_q, d_v]");
        if (out.dim(3) != g.dV()) {
            throw bad("out", "shape is " + Arrays.toString(out.shape()) + ", expected " + Arrays.toString(g.outShape(b, sq, hq)) + dims);
        }
    }

    // Never started: it stands for "a thread other than the caller", the backend's workers in particular.
    private static final Thread OTHER_THREAD = Thread.ofPlatform().unstarted(() -> {});

    /**
     * Host memory a decode reads or writes: it must be accessible from every thread, because host backends hand it
     * to their worker threads. A confined arena's segment is refused here, on the caller's thread, rather than
     * failing with a {@link WrongThreadException} inside a worker. Device tensors, null and closed tensors are
     * left to the other checks.
     */
    public static void shareable(String arg, Tensor t) {
        if (t == null || !t.isHost() || t.isClosed()) return;
        accessible(arg, t);
        if (!t.segment().isAccessibleBy(OTHER_THREAD)) {
            throw bad(arg, "a confined-arena segment cannot be read by the backend's worker threads;"
                    + " use Arena.ofShared(), Arena.ofAuto() or Arena.global() (or allocate it with the backend)");
        }
    }

    /** Host memory read on the caller's thread (plan inputs, copies): a confined segment must be this thread's. */
    public static void accessible(String arg, Tensor t) {
        if (t == null || !t.isHost() || t.isClosed()) return;
        MemorySegment s = t.segment();
        if (!s.isAccessibleBy(Thread.currentThread())) {
            throw bad(arg, "is a segment of a confined arena owned by another thread; it cannot be read on thread "
                    + Thread.currentThread().getName() + " (use Arena.ofShared() or Arena.global())");
        }
    }
}
