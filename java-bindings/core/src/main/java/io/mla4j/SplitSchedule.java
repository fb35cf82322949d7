package io.mla4j;

import java.util.Arrays;

/**
 * The split-KV tile schedule (mla4j's equivalent of FlashMLA's {@code get_mla_metadata}).
 *
 * <p>Work is counted in {@value #TILE_TOKENS}-token tiles, whatever the cache's page size (a tile is one
 * DeepSeek page; with smaller pages it spans several, with larger ones it is part of one), so the cost
 * model and the GPU scheduler do not depend on the geometry. Below, "block" means such a tile.
 *
 * <p>The KV blocks of all sequences, laid end to end in (sequence, block) order, are cut into
 * {@code numParts} contiguous ranges of about equal cost, one per worker (GPU SM part, CPU core,
 * NPU core). Each sequence costs its block count plus a fixed {@link #FIXED_OVERHEAD_BLOCKS} (the
 * price of starting a split: loading Q, writing a partial, combining it), so short sequences are not
 * spread thin. The piece of a sequence one part covers is a <em>split</em>; a sequence with more than
 * one split has its partial outputs merged by LSE afterwards.
 *
 * <p>This is the one definition. The CUDA scheduler kernel computes exactly the same numbers on the
 * GPU (kernels-cuda/include/mla4j/schedule.h states the same algorithm), and tests compare them.
 *
 * <h2>The algorithm</h2>
 * <pre>
 * (64 = TILE_TOKENS, for every page size)
 * blocks[s] = ceil(seqlen[s] / 64);  F = the split overhead (5 by default, FlashMLA's; a backend may pick another)
 * total     = sum over s of (blocks[s] + F)
 * perPart   = max(ceil(total / P) + F, 2F)
 * cursor (s, blk) = (0, 0); splits[s] = 0
 * for part p in 0 .. P-1:
 *   begin = cursor; beginSplit = (s &lt; b) ? splits[s] : 0
 *   remain = perPart   (the last part takes whatever is left: remain = infinity)
 *   while s &lt; b:
 *     rest = blocks[s] - blk
 *     if remain &gt;= rest + F:  remain -= rest + F; splits[s]++; end = (s, blocks[s]); s++; blk = 0
 *     else: take = remain - F
 *           if take &gt; 0: blk += take; splits[s]++; end = (s, blk)
 *           break
 *   if nothing was taken: end = (begin.s - 1, 0)   (an empty part: endIdx &lt; beginIdx)
 * </pre>
 * Part p covers, for each sequence s in [beginIdx, endIdx], blocks
 * [s == beginIdx ? beginBlock : 0, s == endIdx ? endBlock : blocks[s]); its split of s writes
 * partial slot {@code splitOffsets[s] + (s == beginIdx ? beginSplit : 0)}. A sequence of length 0
 * still gets one (empty) split, so every sequence's output is written.
 */
public final class SplitSchedule {
    /**
     * Default fixed cost of one split, in 64-token blocks (FlashMLA uses 5). A backend whose split costs
     * less passes its own value to {@link #compute(int[], int, int)}: a smaller F lets a short batch spread
     * over more workers (b = 1, s_k = 4096 gets 13 splits with F = 5 and 64 with F = 1).
     */
    public static final int FIXED_OVERHEAD_BLOCKS = 5;
    /** Tokens per schedule block (tile), for every geometry: {@link Mla#BLOCK_SIZE}, DeepSeek's page. */
    public static final int TILE_TOKENS = Mla.BLOCK_SIZE;
    /** Ints per part in {@link #metadata()}: beginIdx, beginBlock, endIdx, endBlock, beginSplit, 3 unused. */
    public static final int META_INTS = 8;

    private final int numParts, splitOverhead;
    private final int[] meta;          // [numParts * 8]
    private final int[] splitOffsets;  // [b + 1], running total of splits, starts at 0

    private SplitSchedule(int numParts, int splitOverhead, int[] meta, int[] splitOffsets) {
        this.numParts = numParts;
        this.splitOverhead = splitOverhead;
        this.meta = meta;
        this.splitOffsets = splitOffsets;
    }

    /** Computes the schedule for these sequence lengths over {@code numParts} workers, with the default F. */
    public static SplitSchedule compute(int[] seqlens, int numParts) {
        return compute(seqlens, numParts, FIXED_OVERHEAD_BLOCKS);
    }

    /**
     * Computes the schedule for these sequence lengths over {@code numParts} workers, a split costing
     * {@code splitOverhead} blocks (F in the algorithm above; at least 1 so every part's budget covers a block).
     */
    public static SplitSchedule compute(int[] seqlens, int numParts, int splitOverhead) {
        if (numParts < 1) throw new IllegalArgumentException("numParts must be >= 1, got " + numParts);
        if (splitOverhead < 1) throw new IllegalArgumentException("splitOverhead must be >= 1, got " + splitOverhead);
        final int b = seqlens.length, f = splitOverhead;
        int[] blocks = new int[b];
        long total = 0;
        for (int s = 0; s < b; s++) {
            if (seqlens[s] < 0) throw new IllegalArgumentException("seqlens[" + s + "] = " + seqlens[s] + " is negative");
            blocks[s] = Mla.blocksFor(seqlens[s]);
            total += blocks[s] + f;
        }
        long perPart = Math.max((total + numParts - 1) / numParts + f, 2L * f);
        int[] meta = new int[numParts * META_INTS];
        int[] splits = new int[b];
        int s = 0, blk = 0;
        for (int p = 0; p < numParts; p++) {
            int beginIdx = s, beginBlock = blk, beginSplit = s < b ? splits[s] : 0;
            int endIdx = s - 1, endBlock = 0;
            long remain = p == numParts - 1 ? Long.MAX_VALUE / 2 : perPart;
            while (s < b) {
                long rest = blocks[s] - blk;
                if (remain >= rest + f) {
                    remain -= rest + f;
                    splits[s]++;
                    endIdx = s;
                    endBlock = blocks[s];
                    s++;
                    blk = 0;
                } else {
                    long take = remain - f;
                    if (take > 0) {
                        blk += (int) take;
                        splits[s]++;
                        endIdx = s;
                        endBlock = blk;
                    }
                    break;
                }
            }
            int o = p * META_INTS;
            meta[o] = beginIdx;
            meta[o + 1] = beginBlock;
            meta[o + 2] = endIdx;
            meta[o + 3] = endBlock;
            meta[o + 4] = beginSplit;
        }
        int[] offsets = new int[b + 1];
        for (int i = 0; i < b; i++) offsets[i + 1] = offsets[i] + splits[i];
        return new SplitSchedule(numParts, f, meta, offsets);
    }

    public int numParts() { return numParts; }
    /** The F this schedule was computed with (the GPU scheduler must be given the same). */
    public int splitOverhead() { return splitOverhead; }
    public int batch() { return splitOffsets.length - 1; }
    /** Total partial slots: the sum of splits over all sequences (at most b + numParts). */
    public int totalSplits() { return splitOffsets[splitOffsets.length - 1]; }
    public int splitsOf(int seq) { return splitOffsets[seq + 1] - splitOffsets[seq]; }
    public int splitOffset(int seq) { return splitOffsets[seq]; }
    public int beginIdx(int p) { return meta[p * META_INTS]; }
    public int beginBlock(int p) { return meta[p * META_INTS + 1]; }
    public int endIdx(int p) { return meta[p * META_INTS + 2]; }
    public int endBlock(int p) { return meta[p * META_INTS + 3]; }
    public int beginSplit(int p) { return meta[p * META_INTS + 4]; }
    /** A copy of the metadata, [numParts, 8] ints, FlashMLA's tile-scheduler layout (blocks, not tokens). */
    public int[] metadata() { return meta.clone(); }
    /** A copy of the split offsets, [b + 1] ints starting at 0. */
    public int[] splitOffsets() { return splitOffsets.clone(); }

    /** Visits every split of part {@code p}: (sequence, first block, end block exclusive, partial slot). */
    public void forEachSplit(int p, SplitVisitor v) {
        int bi = beginIdx(p), ei = endIdx(p);
        for (int s = bi; s <= ei; s++) {
            int from = s == bi ? beginBlock(p) : 0;
            int to = s == ei ? endBlock(p) : -1; // -1: to the end of the sequence
            int slot = splitOffsets[s] + (s == bi ? beginSplit(p) : 0);
            v.split(s, from, to, slot);
        }
    }

    /** One split of one part. {@code blockEnd} is -1 when the split runs to the sequence's end. */
    @FunctionalInterface
    public interface SplitVisitor {
        void split(int seq, int blockBegin, int blockEnd, int slot);
    }

    @Override
    public String toString() {
        return "SplitSchedule{parts=" + numParts + ", splits=" + Arrays.toString(splitOffsets) + "}";
    }
}
