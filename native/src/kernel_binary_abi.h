/*
 * The ABI between the ACL emulator and an emulated kernel "binary" (a CPU shared library).
 * Fixed with the kernels-ascend side: the binary exports these two C functions and nothing else is
 * assumed about it. Each args[i] is the value of the kernel's i-th GM_ADDR parameter.
 */
#ifndef MLA4J_KERNEL_BINARY_ABI_H_
#define MLA4J_KERNEL_BINARY_ABI_H_

#include <stddef.h>
#include <stdint.h>

#define MLA4J_EMU_LAUNCH_SYMBOL "ascendc_emu_launch"
#define MLA4J_EMU_HAS_KERNEL_SYMBOL "ascendc_emu_has_kernel"

/* Runs kernel_name over block_dim blocks and returns when all are done: 0, or nonzero with a message in err. */
typedef int32_t (*ascendc_emu_launch_fn)(const char *kernel_name, uint32_t block_dim, void *const *args,
                                         uint32_t num_args, char *err, size_t err_len);
/* 1 when the binary holds kernel_name, else 0. */
typedef int32_t (*ascendc_emu_has_kernel_fn)(const char *kernel_name);

#endif /* MLA4J_KERNEL_BINARY_ABI_H_ */
