package io.mla4j.example.engine;

import io.mla4j.Mla;
import io.mla4j.Tensor;
import java.util.Arrays;
import java.util.Random;

/**
 * The engine's paged-cache bookkeeping: a pool of pages (64-token cache blocks), each sequence's pages in order,
 * and its length. A sequence takes a new page when its last one is full. Page ids index every layer's cache
 * region alike, so one block table serves all 61 layers (and one plan per step).
 */
final class BlockAllocator {
    private final int[] free;      // a stack of free page ids
    private int freeTop;
    private final int[][] pages;   // pages[s][j]: page j of sequence s
    private final int[] pageCount;
    private final int[] lengths;
    private final int maxPages;

    /**
     * {@code numPages} pages for {@code batch} sequences of at most {@code maxPagesPerSequence} pages each. The free
     * list starts shuffled (seeded): real engines' tables are non-contiguous after sequences come and go.
     */
    BlockAllocator(int numPages, int batch, int maxPagesPerSequence, long seed) {
        if (numPages < 1 || batch < 1 || maxPagesPerSequence < 1) {
            throw new IllegalArgumentException("numPages, batch and maxPagesPerSequence must be >= 1");
        }
        free = new int[numPages];
        for (int i = 0; i < numPages; i++) free[i] = i;
        Random rnd = new Random(seed);
        for (int i = numPages - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), t = free[i];
            free[i] = free[j];
            free[j] = t;
        }
        freeTop = numPages;
        pages = new int[batch][maxPagesPerSequence];
        pageCount = new int[batch];
        lengths = new int[batch];
        maxPages = maxPagesPerSequence;
    }

    int batch() { return lengths.length; }
    int maxPagesPerSequence() { return maxPages; }
    int length(int s) { return lengths[s]; }
    int pageCount(int s) { return pageCount[s]; }
    int page(int s, int j) {
        if (j < 0 || j >= pageCount[s]) throw new IndexOutOfBoundsException("sequence " + s + " has " + pageCount[s] + " pages");
        return pages[s][j];
    }
    int freePages() { return freeTop; }
    int usedPages() { return free.length - freeTop; }

    /** Appends one token to sequence {@code s}, taking a page when needed; returns the token's position. */
    int appendToken(int s) {
        int pos = lengths[s];
        if (pos % Mla.BLOCK_SIZE == 0) { // the last page is full (or there is none yet)
            if (pageCount[s] == maxPages) {
                throw new IllegalStateException("sequence " + s + " is at its capacity of " + maxPages * Mla.BLOCK_SIZE
                        + " tokens");
            }
            if (freeTop == 0) throw new IllegalStateException("out of cache pages (" + free.length + " in all)");
            pages[s][pageCount[s]++] = free[--freeTop];
        }
        lengths[s] = pos + 1;
        return pos;
    }

    /** The page holding position {@code pos} of sequence {@code s}. */
    int pageOf(int s, int pos) { return page(s, pos / Mla.BLOCK_SIZE); }

    /** Gives a finished sequence's pages back; it restarts empty. */
    void release(int s) {
        for (int j = pageCount[s] - 1; j >= 0; j--) free[freeTop++] = pages[s][j];
        pageCount[s] = 0;
        lengths[s] = 0;
    }

    /** Writes the lengths into host INT32 [b] and the table into host INT32 [b, max pages] (unused slots -1), in place. */
    void writeTo(Tensor seqlens, Tensor table) {
        int[] row = new int[maxPages];
        for (int s = 0; s < lengths.length; s++) {
            seqlens.setInt(s, lengths[s]);
            Arrays.fill(row, -1);
            System.arraycopy(pages[s], 0, row, 0, pageCount[s]);
            for (int j = 0; j < maxPages; j++) table.setInt((long) s * maxPages + j, row[j]);
        }
    }
}
