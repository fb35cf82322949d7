// The emulated kernel "binary": the table of kernels this .so holds and the two C entry points of
// the ABI the ACL emulation loads (native/src/kernel_binary_abi.h). Emulator glue, not kernel code.
#include <cstdio>
#include <cstring>

#include "ascendc_emu.h"
#include "kernel_operator.h"

extern "C" void mla4j_mla_decode(GM_ADDR q, GM_ADDR kv_cache, GM_ADDR block_table, GM_ADDR seqlens, GM_ADDR o, GM_ADDR lse,
                                 GM_ADDR workspace, GM_ADDR tiling);

namespace {
void RunMlaDecode(void *const *a) {
    mla4j_mla_decode((GM_ADDR)a[0], (GM_ADDR)a[1], (GM_ADDR)a[2], (GM_ADDR)a[3], (GM_ADDR)a[4], (GM_ADDR)a[5],
                     (GM_ADDR)a[6], (GM_ADDR)a[7]);
}

struct Entry {
    const char *name;
    uint32_t num_args;
    ascendc_emu::KernelFn fn;
};
const Entry kKernels[] = {{"mla4j_mla_decode", 8, RunMlaDecode}};

const Entry *Find(const char *name) {
    if (!name) return nullptr;
    for (const Entry &e : kKernels)
        if (strcmp(e.name, name) == 0) return &e;
    return nullptr;
}
}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT int32_t ascendc_emu_has_kernel(const char *kernel_name) { return Find(kernel_name) ? 1 : 0; }

EXPORT int32_t ascendc_emu_launch(const char *kernel_name, uint32_t block_dim, void *const *args, uint32_t num_args, char *err,
                                  size_t err_len) {
    char dummy[1];
    if (!err || !err_len) { err = dummy; err_len = sizeof dummy; }
    const Entry *e = Find(kernel_name);
    if (!e) {
        snprintf(err, err_len, "no kernel named '%s' in this binary", kernel_name ? kernel_name : "(null)");
        return 1;
    }
    if (num_args != e->num_args) {
        snprintf(err, err_len, "%s takes %u GM_ADDR arguments, got %u", e->name, e->num_args, num_args);
        return 2;
    }
    for (uint32_t i = 0; i < num_args; i++)
        if (!args || !args[i]) {
            snprintf(err, err_len, "%s: argument %u is NULL", e->name, i);
            return 2;
        }
    return ascendc_emu::Launch(e->fn, block_dim, args, err, err_len);
}
