package io.mla4j.cpu;

import static io.mla4j.cpu.Convert.F;
import static io.mla4j.cpu.Convert.L;

import io.mla4j.CacheFormat;
import io.mla4j.DType;
import io.mla4j.Geometry;
import io.mla4j.Half;
import io.mla4j.Mla;
import io.mla4j.SplitSchedule;
import io.mla4j.spi.LseCombine;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The work of one worker: attention of all h_q*s_q query rows of a sequence over one split (a range of
 * 64-token tiles, {@link SplitSchedule#TILE_TOKENS}), with an fp32 online softmax; and the LSE combine of a
 * sequence's splits. Any geometry: the tile is gathered through the block table from as many pages as it
 * spans (page size below 64: 64 / page pages; above: part of one page), widths come from the plan.
 *
 * <p>Per tile: convert the 64 cached tokens to fp32 once (into the worker's scratch), scores for every
 * row against them ({@link Kernels} Q*K^T), the causal mask, the softmax step vectorised across rows,
 * then P*V into the accumulator (rescaled as its tiles are loaded; in AMLA mode by a bit-add pass just
 * before). Each cached token is read from the cache once per call for all rows.
 */
final class Attention {
    private Attention() {}

    private static final int NONE = Integer.MIN_VALUE; // AMLA exponent of a row that has seen no key yet
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Attention of sequence {@code seq} over tiles [blockBegin, blockEnd) (-1: to the end) into partial {@code slot}. */
    static void split(CpuPlan plan, Scratch w, MemorySegment q, MemorySegment cache, float kvScale, int seq, int blockBegin,
                      int blockEnd, int slot, boolean amla) {
        int sk = plan.seqlen(seq);
        int end = blockEnd < 0 ? Mla.blocksFor(sk) : blockEnd;
        loadQuery(plan, w, q, seq);
        startRows(w, amla);
        DType dt = plan.spec().dtype();
        for (int blk = blockBegin; blk < end; blk++) {
            int p0 = blk * SplitSchedule.TILE_TOKENS;
            int n = Math.min(SplitSchedule.TILE_TOKENS, sk - p0);
            loadTile(plan, dt, cache, kvScale, seq, p0, n, w);
            scores(w, n);
            maskCausal(plan, w, sk, p0, n);
            if (amla) softmaxStepAmla(w, n); else softmaxStep(w, n);
            accumulate(w, n, amla);
        }
        finish(plan, w, slot, amla);
    }

    /** q rows of the sequence, times the softmax scale, transposed into [d_qk][rowsPadded]. Padding rows stay 0. */
    private static void loadQuery(CpuPlan plan, Scratch w, MemorySegment q, int seq) {
        int rows = plan.rows(), rp = w.rowsPadded, dqk = w.dQk;
        float scale = plan.spec().scale();
        DType dt = plan.spec().dtype();
        float[] tmp = w.kv; // free until the first block is loaded
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(q, I16, ((long) seq * rows + r) * dqk * 2, w.raw, 0, dqk);
            Convert.fromRaw(dt, w.raw, dqk, tmp);
            for (int d = 0; d < dqk; d++) w.qt[d * rp + r] = tmp[d] * scale;
        }
    }

    private static void startRows(Scratch w, boolean amla) {
        Arrays.fill(w.max, Float.NEGATIVE_INFINITY);
        Arrays.fill(w.sum, 0f);
        Arrays.fill(w.o, 0f);
        if (amla) Arrays.fill(w.k, NONE);
    }

    /**
     * Tokens [p0, p0 + n) of sequence {@code seq} to fp32, token-major; tokens past n are not read. The raw
     * bytes are copied first, one bulk copy per page the tile touches (one for pages of 64 or more,
     * 64 / page for smaller pages: each page's run of tokens is contiguous), then converted from that hot
     * copy: measured faster
     * (one core, b8 s_k 8192 h_q 16: 17 ms against 21 ms) than converting straight from the cache, and
     * faster than copying the next block from inside the Q*K^T kernel (23 ms) or in 2 KB pieces between
     * kernel calls (22 ms). FP8 caches are dequantised in the same pass ({@link Convert#fromE4m3}).
     */
    private static void loadTile(CpuPlan plan, DType dt, MemorySegment cache, float kvScale, int seq, int p0, int n, Scratch w) {
        Geometry g = plan.spec().geometry();
        int page = g.pageSize(), dqk = w.dQk, tb = g.tokenBytes();
        boolean fp8 = g.format().isFp8();
        for (int pos = p0, end = p0 + n; pos < end; ) {
            int off = pos & (page - 1); // page is a power of two
            int run = Math.min(page - off, end - pos);
            long src = ((long) plan.block(seq, pos / page) * page + off) * tb;
            if (fp8) MemorySegment.copy(cache, ValueLayout.JAVA_BYTE, src, w.raw8, (pos - p0) * tb, run * tb);
            else MemorySegment.copy(cache, I16, src, w.raw, (pos - p0) * dqk, run * dqk);
            pos += run;
        }
        switch (g.format()) {
            case PLAIN -> Convert.fromRaw(dt, w.raw, n * dqk, w.kv);
            case FP8_E4M3 -> Convert.fromE4m3(w.raw8, 0, n * dqk, kvScale, w.kv, 0);
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> {
                int dc = g.dC(), dr = g.dR(), groups = CacheFormat.scaleGroups(dc);
                int scales = CacheFormat.scalesOffset(dc), rope = CacheFormat.ropeOffset(dc);
                for (int j = 0; j < n; j++) {
                    int at = j * tb, dst = j * dqk;
                    for (int gi = 0; gi < groups; gi++) {
                        int from = gi * CacheFormat.SCALE_GROUP, len = Math.min(dc - from, CacheFormat.SCALE_GROUP);
                        float scale = Float.intBitsToFloat(le32(w.raw8, at + scales + 4 * gi));
                        Convert.fromE4m3(w.raw8, at + from, len, scale, w.kv, dst + from);
                    }
                    Convert.fromBf16Le(w.raw8, at + rope, dr, w.kv, dst + dc);
                }
            }
        }
    }

    /** A little-endian int from four bytes (the cache's fp32 scales, in the platform's order). */
    private static int le32(byte[] b, int i) {
        return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
    }

    /** st[j][r] for tokens j < n (rounded up to the kernel's strip; extra tokens are never used). */
    private static void scores(Scratch w, int n) {
        int rp = w.rowsPadded, vecs = rp / L, dqk = w.dQk;
        int v = 0;
        for (; v + 2 <= vecs; v += 2) {
            for (int j0 = 0; j0 < n; j0 += 8) Kernels.qk2x8(w.kv, w.qt, w.st, rp, j0, v * L, dqk);
        }
        if (v < vecs) {
            for (int j0 = 0; j0 < n; j0 += 16) Kernels.qk1x16(w.kv, w.qt, w.st, rp, j0, v * L, dqk);
        }
    }

    /** Bottom-right causal mask: query token i sees keys 0 .. s_k - s_q + i; hide the rest of this block. */
    private static void maskCausal(CpuPlan plan, Scratch w, int sk, int p0, int n) {
        if (!plan.spec().effectiveCausal()) return;
        int sq = plan.spec().queryLen(), hq = plan.spec().numHeads(), rp = w.rowsPadded;
        for (int i = 0; i < sq; i++) {
            int visible = Mla.visibleKeys(sk, sq, i, true) - p0; // tokens of this block row i may see
            for (int j = Math.max(0, visible); j < n; j++) {
                Arrays.fill(w.st, j * rp + i * hq, j * rp + (i + 1) * hq, Float.NEGATIVE_INFINITY);
            }
        }
    }

    /** Row max of the block's scores, L rows at a time (a lane-wise max down the token axis). */
    private static void blockMax(Scratch w, int n) {
        int rp = w.rowsPadded;
        for (int r0 = 0; r0 < rp; r0 += L) {
            FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (int j = 0, o = r0; j < n; j++, o += rp) m = m.max(FloatVector.fromArray(F, w.st, o));
            m.intoArray(w.blockMax, r0);
        }
    }

    /** p = exp(s - ref) in place, and the block's row sums into blockMax (its max is no longer needed). */
    private static void exponentiate(Scratch w, int n) {
        int rp = w.rowsPadded;
        for (int r0 = 0; r0 < rp; r0 += L) {
            FloatVector ref = FloatVector.fromArray(F, w.ref, r0);
            FloatVector sum = FloatVector.zero(F);
            for (int j = 0, o = r0; j < n; j++, o += rp) {
                FloatVector p = FloatVector.fromArray(F, w.st, o).sub(ref).lanewise(VectorOperators.EXP);
                p.intoArray(w.st, o);
                sum = sum.add(p);
            }
            sum.intoArray(w.blockMax, r0);
        }
    }

    /** Plain online softmax: new max, factor exp(old - new) for what was accumulated, probabilities. */
    private static void softmaxStep(Scratch w, int n) {
        blockMax(w, n);
        for (int r = 0; r < w.rowsPadded; r++) {
            float old = w.max[r], now = Math.max(old, w.blockMax[r]);
            w.alpha[r] = old == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(old - now);
            w.ref[r] = now == Float.NEGATIVE_INFINITY ? 0f : now; // a row with no key yet: any finite ref gives p = 0
            w.max[r] = now;
        }
        exponentiate(w, n);
        for (int r = 0; r < w.rowsPadded; r++) w.sum[r] = w.sum[r] * w.alpha[r] + w.blockMax[r];
    }

    /**
     * AMLA online softmax: the reference is the max rounded up to k ln 2, so the factor for what was
     * accumulated is 2^(k_old - k_new), applied by {@link Amla#scaleByPow2} (an integer add).
     */
    private static void softmaxStepAmla(Scratch w, int n) {
        blockMax(w, n);
        for (int r = 0; r < w.rowsPadded; r++) {
            int old = w.k[r];
            float bm = w.blockMax[r];
            int now = bm == Float.NEGATIVE_INFINITY ? old : Math.max(old, Amla.exponentFor(bm));
            w.shift[r] = old == NONE ? Amla.ZERO_SHIFT : Math.max(old - now, Amla.ZERO_SHIFT);
            w.alpha[r] = 1f; // the kernel's multiply is a no-op; the rescale is the bit-add in accumulate
            w.ref[r] = now == NONE ? 0f : Amla.roundedMax(now);
            w.k[r] = now;
        }
        exponentiate(w, n);
        for (int r = 0; r < w.rowsPadded; r++) w.sum[r] = Amla.scaleByPow2(w.sum[r], w.shift[r]) + w.blockMax[r];
    }

    /**
     * o = rescale(o) + P*V over the block's n tokens, in 4-row x 4-vector tiles. Plain mode multiplies by
     * alpha as the tiles are loaded; AMLA mode first adds shift * 2^23 to the bit patterns of the rows
     * whose exponent moved (after the first blocks, most rows' max settles and they are not touched),
     * with alpha = 1 for the kernel. Kept out of the kernel: inside it the extra vector operations
     * exceeded C2's inlining budget and the kernel stopped being intrinsified (measured 6x slower).
     */
    private static void accumulate(Scratch w, int n, boolean amla) {
        int rp = w.rowsPadded, dqk = w.dQk, dv = w.dV;
        if (amla) {
            for (int r = 0; r < rp; r++) {
                int sh = w.shift[r];
                if (sh == 0) continue;
                int d = r * dv, e = d + dv;
                for (; d + L <= e; d += L) Amla.scaleByPow2(FloatVector.fromArray(F, w.o, d), sh).intoArray(w.o, d);
                for (; d < e; d++) w.o[d] = Amla.scaleByPow2(w.o[d], sh);
            }
        }
        // d_v in 4-vector tiles, then single vectors, then (only where L does not divide d_v) scalars
        int c0 = 0;
        for (; c0 + 4 * L <= dv; c0 += 4 * L) {
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pv4x4(w.kv, w.st, w.o, rp, r0, c0, n, w.alpha, dqk, dv);
        }
        for (; c0 + L <= dv; c0 += L) {
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pv4x1(w.kv, w.st, w.o, rp, r0, c0, n, w.alpha, dqk, dv);
        }
        if (c0 < dv) {
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pvScalar(w.kv, w.st, w.o, rp, r0, c0, dv, n, w.alpha, dqk, dv);
        }
    }

    /** Normalises the split's rows into its partial slot: o / sum and lse = ref max + log(sum) (-inf: no key). */
    private static void finish(CpuPlan plan, Scratch w, int slot, boolean amla) {
        int rows = plan.rows(), dv = w.dV;
        float[] po = plan.partialO(), pl = plan.partialLse();
        for (int r = 0; r < rows; r++) {
            float s = w.sum[r];
            int dst = (slot * rows + r) * dv;
            if (s == 0f) {
                Arrays.fill(po, dst, dst + dv, 0f);
                pl[slot * rows + r] = Float.NEGATIVE_INFINITY;
                continue;
            }
            float inv = 1f / s;
            int d = 0;
            for (; d + L <= dv; d += L) FloatVector.fromArray(F, w.o, r * dv + d).mul(inv).intoArray(po, dst + d);
            for (; d < dv; d++) po[dst + d] = w.o[r * dv + d] * inv;
            float ref = amla ? Amla.roundedMax(w.k[r]) : w.max[r];
            pl[slot * rows + r] = (float) (ref + Math.log(s));
        }
    }

    /** Merges sequence {@code seq}'s partial slots by LSE and writes its o rows (in the dtype) and lse. */
    static void combine(CpuPlan plan, Scratch w, int seq, MemorySegment out, MemorySegment lse) {
        int rows = plan.rows(), hq = plan.spec().numHeads(), sq = plan.spec().queryLen(), dv = w.dV;
        DType dt = plan.spec().dtype();
        int n = plan.schedule().splitsOf(seq), first = plan.schedule().splitOffset(seq) * rows;
        float[] row = w.row;
        for (int r = 0; r < rows; r++) {
            float l = LseCombine.merge(n, plan.partialLse(), first + r, rows, plan.partialO(), (first + r) * dv,
                    rows * dv, dv, row, 0);
            long o = ((long) seq * rows + r) * dv * 2;
            for (int d = 0; d < dv; d++) out.set(I16, o + 2L * d, Half.fromFloat(dt, row[d]));
            int i = r / hq, h = r % hq; // packed row r = i*h_q + h; lse is [b, h_q, s_q]
            lse.set(F32, (((long) seq * hq + h) * sq + i) * 4, l);
        }
    }
}
