package io.mla4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The TMA descriptor (CUtensorMap, 128 bytes) that mla4j_decode_sm90 takes as its second by-value
 * argument (and {@code mla4j_decode_sm90_etap[_<dc>x<dr>]}): the paged cache seen as a 2-D array of 16-bit elements, d_qk (576)
 * wide and num_blocks * page tall,
 * loaded in boxes of 64 columns by min(page, 64) rows with 128-byte swizzle (a 64-token tile in one load per
 * box, or one load per page below 64: kernels-cuda/sm90/producer.cuh, README.md). Re-encoded on the host
 * only when a decode passes a different cache address than the last one (one driver call, no GPU work).
 * An fp8_e4m3 cache (mla4j_decode_sm90_fp8): 576 bytes wide, boxes of 64 bytes by min(page, 64) rows, unswizzled
 * (the kernel widens them itself).
 */
final class KvTensorMap {
    private final MemorySegment map, dims, strides, box, elemStrides;
    private final boolean fp8;
    private long encodedFor;

    /** dQk: the values of a cached token (576 for DeepSeek; the transposed kernel's other width pairs too). */
    KvTensorMap(Arena arena, int numBlocks, int pageSize, int dQk, boolean fp8) {
        this.fp8 = fp8;
        map = arena.allocate(128, 64);
        dims = arena.allocate(ValueLayout.JAVA_LONG, 2);
        dims.setAtIndex(ValueLayout.JAVA_LONG, 0, dQk); // boxes past it (d_r = 32: the last box's second half) read zeros
        dims.setAtIndex(ValueLayout.JAVA_LONG, 1, (long) numBlocks * pageSize);
        strides = arena.allocate(ValueLayout.JAVA_LONG, 1);
        strides.setAtIndex(ValueLayout.JAVA_LONG, 0, dQk * (fp8 ? 1L : 2L));
        box = arena.allocate(ValueLayout.JAVA_INT, 2);
        box.setAtIndex(ValueLayout.JAVA_INT, 0, 64);
        box.setAtIndex(ValueLayout.JAVA_INT, 1, Math.min(pageSize, 64));
        elemStrides = arena.allocate(ValueLayout.JAVA_INT, 2);
        elemStrides.setAtIndex(ValueLayout.JAVA_INT, 0, 1);
        elemStrides.setAtIndex(ValueLayout.JAVA_INT, 1, 1);
    }

    /** The descriptor for a cache at {@code cacheAddress}, encoding it first if the address changed. */
    MemorySegment forCache(long cacheAddress) {
        if (cacheAddress != encodedFor) {
            FfmDriver.tensorMapEncodeTiled(map, fp8 ? FfmDriver.TENSOR_MAP_UINT8 : FfmDriver.TENSOR_MAP_UINT16, 2, cacheAddress,
                    dims, strides, box, elemStrides, FfmDriver.TENSOR_MAP_INTERLEAVE_NONE,
                    fp8 ? FfmDriver.TENSOR_MAP_SWIZZLE_NONE : FfmDriver.TENSOR_MAP_SWIZZLE_128B,
                    FfmDriver.TENSOR_MAP_L2_PROMOTION_256B, FfmDriver.TENSOR_MAP_OOB_FILL_NONE);
            encodedFor = cacheAddress;
        }
        return map;
    }
}
