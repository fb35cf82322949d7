/**
 * Generated FFM bindings to the kernels-ascend host tiling library (kernels-ascend/include/mla4j_ascend_tiling.h),
 * and {@link io.mla4j.ascend.tiling.TilingLibrary}, which loads it.
 */
package io.mla4j.ascend.tiling;
