/*
 * mla4j ACL emulator: extra entry points that exist only in libmla4j_acl_emu.so (never in CANN).
 * Tests use them to check emulated device memory and leaks; the Java backend uses
 * mla4j_acl_emu_is_emulator() to tell the emulator from a real ACL library.
 */
#ifndef MLA4J_ACL_EMU_H_
#define MLA4J_ACL_EMU_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1: this library is the mla4j emulator. */
__attribute__((visibility("default"))) int32_t mla4j_acl_emu_is_emulator(void);
/* Device allocations alive now, and their bytes (all devices). */
__attribute__((visibility("default"))) uint64_t mla4j_acl_emu_live_allocations(void);
__attribute__((visibility("default"))) uint64_t mla4j_acl_emu_live_bytes(void);
/* Allocations reported as leaked so far (at aclrtResetDevice / aclFinalize) in this process. */
__attribute__((visibility("default"))) uint64_t mla4j_acl_emu_leaks_reported(void);
/* Kernel launches completed (successfully or not) in this process. */
__attribute__((visibility("default"))) uint64_t mla4j_acl_emu_launch_count(void);

#ifdef __cplusplus
}
#endif

#endif /* MLA4J_ACL_EMU_H_ */
