package io.mla4j.ascend;

import io.mla4j.DType;
import io.mla4j.PlanSpec;
import io.mla4j.ascend.tiling.MlaTiling;
import io.mla4j.ascend.tiling.MlaTilingInput;
import io.mla4j.ascend.tiling.TilingLibrary;
import io.mla4j.ascend.tiling.mla4j_ascend_tiling_h;
import io.mla4j.spi.Checks;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * The kernels-ascend ABI seen from Java: the kernel symbol, its 8 GM_ADDR parameters in order, and
 * the host tiling function (called through FFM) that sizes the launch, the workspace and the tiling
 * blob. See kernels-ascend/README.md, section ABI.
 */
final class MlaKernel {
    static final String SYMBOL = "mla4j_mla_decode";
    /** GM_ADDR parameters: q, kv_cache, block_table, seqlens, o, lse, workspace, tiling. */
    static final int NUM_ARGS = 8;

    /** One computed tiling: the blob to copy to the device and what the launch needs. */
    record Tiling(byte[] blob, int blockDim, long workspaceBytes) {}

    MlaKernel(Path tilingLibrary) {
        TilingLibrary.load(tilingLibrary);
    }

    /** Calls mla4j_mla_tiling for this step on {@code cores} AI cores; invalid input throws naming the reason. */
    Tiling tiling(PlanSpec spec, int[] seqlens, int cores) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = MlaTilingInput.allocate(a);
            MlaTilingInput.batch(in, seqlens.length);
            MlaTilingInput.q_len(in, spec.queryLen());
            MlaTilingInput.num_heads(in, spec.numHeads());
            // a 0-column table (every seqlen 0) goes to the kernel as one column of -1 (see AscendPlan)
            MlaTilingInput.max_blocks(in, paddedColumns(spec));
            MlaTilingInput.num_cache_blocks(in, spec.numCacheBlocks());
            MlaTilingInput.dtype(in, spec.dtype() == DType.BF16 ? mla4j_ascend_tiling_h.MLA4J_DT_BF16() : mla4j_ascend_tiling_h.MLA4J_DT_FP16());
            MlaTilingInput.causal(in, spec.effectiveCausal() ? 1 : 0);
            MlaTilingInput.core_num(in, cores);
            // the cache geometry is tiling data: the kernel gathers pages and loops over the widths from these
            io.mla4j.Geometry g = spec.geometry();
            MlaTilingInput.page_size(in, g.pageSize());
            MlaTilingInput.d_c(in, g.dC());
            MlaTilingInput.d_r(in, g.dR());
            MlaTilingInput.scale(in, spec.scale());
            MlaTilingInput.seqlens(in, a.allocateFrom(ValueLayout.JAVA_INT, seqlens));
            long size = mla4j_ascend_tiling_h.mla4j_mla_tiling_size(in);
            MemorySegment err = a.allocate(512);
            if (size < MlaTiling.sizeof()) {
                // the size query gives no reason: ask the tiling itself, which fills err without a blob
                int rc = mla4j_ascend_tiling_h.mla4j_mla_tiling(in, MemorySegment.NULL, 0, err, err.byteSize());
                throw Checks.bad(argumentOf(err.getString(0)), "the Ascend kernel's tiling rejects this step: " + err.getString(0)
                        + " (mla4j_mla_tiling returned " + rc + ")");
            }
            MemorySegment blob = a.allocate(size, 8);
            int rc = mla4j_ascend_tiling_h.mla4j_mla_tiling(in, blob, size, err, err.byteSize());
            if (rc != 0) throw Checks.bad(argumentOf(err.getString(0)), "the Ascend kernel cannot run this step: " + err.getString(0) + " (mla4j_mla_tiling returned " + rc + ")");
            long used = Integer.toUnsignedLong(MlaTiling.tiling_bytes(blob));
            if (used < MlaTiling.sizeof() || used > size)
                throw new IllegalStateException("mla4j_mla_tiling reported tiling_bytes = " + used + " for a blob of " + size + " bytes");
            return new Tiling(blob.asSlice(0, used).toArray(ValueLayout.JAVA_BYTE), MlaTiling.block_dim(blob),
                    MlaTiling.workspace_bytes(blob));
        }
    }

    /**
     * Why the kernel cannot take this geometry's page size and widths (mla4j_mla_check_geometry: a local buffer it
     * would overflow, a field out of range), or empty when it can. The cache format is not the tiling's business.
     */
    java.util.Optional<String> geometryRefusal(io.mla4j.Geometry g) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment err = a.allocate(512);
            int rc = mla4j_ascend_tiling_h.mla4j_mla_check_geometry(g.pageSize(), g.dC(), g.dR(), err, err.byteSize());
            return rc == 0 ? java.util.Optional.empty() : java.util.Optional.of(err.getString(0));
        }
    }

    /** Block-table columns the kernel sees: the table's, or 1 (all -1) for a 0-column table. */
    static int paddedColumns(PlanSpec spec) {
        return (int) Math.max(1, spec.blockTable().dim(1));
    }

    /** The PlanSpec argument a tiling message is about (the C names its field first), else "spec". */
    static String argumentOf(String message) {
        String m = message == null ? "" : message;
        if (m.startsWith("num_heads")) return "numHeads";
        if (m.startsWith("q_len")) return "queryLen";
        if (m.startsWith("batch") || m.startsWith("seqlens")) return "seqlens";
        if (m.startsWith("max_blocks")) return "blockTable";
        if (m.startsWith("num_cache_blocks")) return "numCacheBlocks";
        if (m.startsWith("scale")) return "scale";
        if (m.startsWith("dtype")) return "dtype";
        if (m.startsWith("page_size") || m.startsWith("d_c") || m.startsWith("d_r")) return "geometry";
        return "spec";
    }
}
