/*
 * A tiny emulated kernel "binary" for testing the ACL emulator without the real kernel: a plain C
 * shared library exporting the two functions of the kernel-binary ABI (src/kernel_binary_abi.h).
 * Kernels (all parameters are GM_ADDR, as in Ascend C):
 *   add_f32(x, y, z, tiling)   z = x + y; tiling -> {uint32 n}; blocks split n evenly
 *   slow_add_f32(...)          the same after sleeping 200 ms (to test asynchrony and races)
 *   fail(x)                    returns an error with a message
 *   oob_write(z, tiling)       writes n+1 floats into a buffer of n (to test guard zones)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct { uint32_t n; } AddTiling;

static const char *const kKernels[] = {"add_f32", "slow_add_f32", "fail", "oob_write"};

EXPORT int32_t ascendc_emu_has_kernel(const char *name) {
    for (size_t i = 0; i < sizeof kKernels / sizeof kKernels[0]; i++)
        if (strcmp(name, kKernels[i]) == 0) return 1;
    return 0;
}

static void add(void *const *args, uint32_t blocks) {
    const float *x = args[0], *y = args[1];
    float *z = args[2];
    uint32_t n = ((const AddTiling *)args[3])->n;
    uint32_t per = (n + blocks - 1) / blocks;
    for (uint32_t b = 0; b < blocks; b++)
        for (uint32_t i = b * per; i < n && i < (b + 1) * per; i++) z[i] = x[i] + y[i];
}

EXPORT int32_t ascendc_emu_launch(const char *name, uint32_t blocks, void *const *args, uint32_t nargs, char *err, size_t errLen) {
    if (strcmp(name, "add_f32") == 0 || strcmp(name, "slow_add_f32") == 0) {
        if (nargs != 4) { snprintf(err, errLen, "%s takes 4 arguments, got %u", name, nargs); return 2; }
        if (name[0] == 's') {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        add(args, blocks);
        return 0;
    }
    if (strcmp(name, "fail") == 0) {
        snprintf(err, errLen, "planted failure in block 0 of %u", blocks);
        return 7;
    }
    if (strcmp(name, "oob_write") == 0) {
        float *z = args[0];
        uint32_t n = ((const AddTiling *)args[1])->n;
        for (uint32_t i = 0; i <= n; i++) z[i] = 1.0f;  /* one past the end, on purpose */
        return 0;
    }
    snprintf(err, errLen, "no kernel named '%s'", name);
    return 1;
}
