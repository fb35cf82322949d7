/**
 * The "ascend" MLA decode backend: {@link io.mla4j.ascend.AscendBackend} drives the kernels-ascend
 * AMLA kernel through the ACL runtime C API (FFM bindings in {@code io.mla4j.ascend.acl}), on a real
 * CANN library when one is found or told ({@code -Dmla4j.ascend.library}), else on the mla4j ACL
 * emulator with the kernel's CPU build. See native/README.md for what is verified where.
 */
package io.mla4j.ascend;
