/*
 * Tests of the ACL emulator through its public C ABI: the happy paths (init, device, streams,
 * memory, binary loading, three launch styles) and planted faults that each strictness check must
 * catch with the documented aclError code and a message naming the problem.
 * Usage: acl_emu_test <path to libmla4j_test_kernel.so>
 */
#include "acl/acl.h"
#include "mla4j_acl_emu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failures, g_checks;
static const char *g_kernelPath;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        g_checks++;                                                           \
        if (!(cond)) {                                                        \
            g_failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
        }                                                                     \
    } while (0)

/* The call must return `want` and leave a recent error message containing `needle`. */
#define EXPECT_ERR(call, want, needle)                                                            \
    do {                                                                                          \
        aclError rc_ = (call);                                                                    \
        const char *m_ = aclGetRecentErrMsg();                                                    \
        CHECK(rc_ == (want), "%s returned %d, expected %d (%s)", #call, rc_, (int)(want), m_ ? m_ : "no message"); \
        CHECK(m_ && strstr(m_, needle), "%s: message '%s' lacks '%s'", #call, m_ ? m_ : "(null)", needle); \
    } while (0)

#define EXPECT_OK(call)                                                                           \
    do {                                                                                          \
        aclError rc_ = (call);                                                                    \
        if (rc_ != ACL_SUCCESS) {                                                                 \
            const char *m_ = aclGetRecentErrMsg();                                                \
            CHECK(0, "%s returned %d: %s", #call, rc_, m_ ? m_ : "no message");                   \
        } else {                                                                                  \
            g_checks++;                                                                           \
        }                                                                                         \
    } while (0)

typedef struct { uint32_t n; } AddTiling;

enum { N = 1000 };

static void *devAlloc(size_t bytes) {
    void *p = NULL;
    EXPECT_OK(aclrtMalloc(&p, bytes, ACL_MEM_MALLOC_HUGE_FIRST));
    return p;
}

static void *upload(const void *host, size_t bytes) {
    void *d = devAlloc(bytes);
    EXPECT_OK(aclrtMemcpy(d, bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE));
    return d;
}

static void test_lifecycle_errors(void) {
    void *p = NULL;
    EXPECT_ERR(aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_UNINITIALIZE, "aclInit");
    EXPECT_ERR(aclFinalize(), ACL_ERROR_UNINITIALIZE, "aclInit");
    EXPECT_ERR(aclInit("/no/such/acl.json"), ACL_ERROR_INVALID_FILE, "does not exist");
    EXPECT_OK(aclInit(NULL));
    EXPECT_ERR(aclInit(NULL), ACL_ERROR_REPEAT_INITIALIZE, "already");
    EXPECT_ERR(aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_CONTEXT_NULL, "aclrtSetDevice");
    EXPECT_ERR(aclrtSetDevice(5), ACL_ERROR_RT_INVALID_DEVICEID, "does not exist");
    EXPECT_ERR(aclrtResetDevice(0), ACL_ERROR_RT_CONTEXT_NULL, "not set");
    uint32_t count = 0;
    EXPECT_OK(aclrtGetDeviceCount(&count));
    CHECK(count == 1, "device count %u", count);
    int64_t cores = 0;
    EXPECT_OK(aclGetDeviceCapability(0, ACL_DEVICE_INFO_AI_CORE_NUM, &cores));
    CHECK(cores >= 1, "AI cores %lld", (long long)cores);
    EXPECT_ERR(aclGetDeviceCapability(3, ACL_DEVICE_INFO_AI_CORE_NUM, &cores), ACL_ERROR_INVALID_DEVICE, "does not exist");
    CHECK(aclGetRecentErrMsg() == NULL, "message not consumed by reading it");
}

static void test_memory(void) {
    float host[N], back[N];
    for (int i = 0; i < N; i++) host[i] = (float)i * 0.5f;
    uint64_t live0 = mla4j_acl_emu_live_allocations();

    float *d = devAlloc(sizeof host);
    CHECK(mla4j_acl_emu_live_allocations() == live0 + 1, "live allocations");
    CHECK(mla4j_acl_emu_live_bytes() >= sizeof host, "live bytes");
    EXPECT_OK(aclrtMemcpy(back, sizeof back, d, sizeof back, ACL_MEMCPY_DEVICE_TO_HOST));
    uint32_t bits;
    memcpy(&bits, &back[3], 4);
    CHECK(bits == 0xFFFFFFFFu, "fresh device memory should be 0xFF (NaN), got %08x", bits);

    EXPECT_OK(aclrtMemcpy(d, sizeof host, host, sizeof host, ACL_MEMCPY_HOST_TO_DEVICE));
    EXPECT_OK(aclrtMemcpy(back, sizeof back, d, sizeof back, ACL_MEMCPY_DEVICE_TO_HOST));
    CHECK(memcmp(host, back, sizeof host) == 0, "round trip");

    /* planted faults */
    EXPECT_ERR(aclrtMemcpy(d, sizeof host + 4, host, sizeof host + 4, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "past the end");
    EXPECT_ERR(aclrtMemcpy((char *)d + 8, sizeof host, host, sizeof host, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "past the end");
    EXPECT_ERR(aclrtMemcpy(back, sizeof back, d, sizeof back, (aclrtMemcpyKind)9), ACL_ERROR_INVALID_PARAM, "not an aclrtMemcpyKind");
    EXPECT_ERR(aclrtMemcpy(back, sizeof back, host, sizeof back, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "not inside any device allocation");
    EXPECT_ERR(aclrtMemcpy(d, sizeof host, host, sizeof host, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "is device memory");
    EXPECT_ERR(aclrtMemcpy(back, 8, host, 16, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM, "destMax");
    EXPECT_OK(aclrtMemcpy(back, sizeof back, d, sizeof back, ACL_MEMCPY_DEFAULT));
    EXPECT_OK(aclrtMemset(d, sizeof host, 0, sizeof host));
    EXPECT_ERR(aclrtMemset(d, sizeof host + 4, 0, sizeof host + 4), ACL_ERROR_INVALID_PARAM, "past the end");
    EXPECT_ERR(aclrtMalloc((void **)&d, 0, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM, "size is 0");
    void *huge = NULL;
    EXPECT_ERR(aclrtMalloc(&huge, (size_t)1 << 50, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_MEMORY_ALLOCATION, "in use");

    EXPECT_ERR(aclrtFree((char *)d + 4), ACL_ERROR_RT_MEMORY_FREE, "not its start");
    EXPECT_ERR(aclrtFree(host), ACL_ERROR_RT_MEMORY_FREE, "not inside any device allocation");
    EXPECT_OK(aclrtFree(d));
    EXPECT_ERR(aclrtFree(d), ACL_ERROR_RT_MEMORY_FREE, "double free");
    EXPECT_ERR(aclrtMemcpy(back, sizeof back, d, sizeof back, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "freed by aclrtFree");
    /* freed memory is quarantined: a new allocation of the same size does not alias the stale pointer */
    float *again = devAlloc(sizeof host);
    CHECK(again != d, "freed block reused at once (%p)", (void *)again);
    EXPECT_ERR(aclrtMemcpy(back, sizeof back, d, sizeof back, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "freed by aclrtFree");
    EXPECT_OK(aclrtFree(again));
    CHECK(mla4j_acl_emu_live_allocations() == live0, "allocations back to baseline");
}

static aclrtBinHandle loadTestBinary(void) {
    aclrtBinHandle bin = NULL;
    EXPECT_ERR(aclrtBinaryLoadFromFile("/no/such/kernel.so", NULL, &bin), ACL_ERROR_INVALID_FILE, "does not exist");
    EXPECT_ERR(aclrtBinaryLoadFromFile("libm.so.6", NULL, &bin), ACL_ERROR_INVALID_FILE, "");
    EXPECT_OK(aclrtBinaryLoadFromFile(g_kernelPath, NULL, &bin));
    return bin;
}

/* z = x + y through each launch style; checks the result. */
static void test_launches(aclrtBinHandle bin, aclrtStream stream) {
    float x[N], y[N], z[N];
    for (int i = 0; i < N; i++) { x[i] = (float)i; y[i] = 1000.0f - 2 * i; }
    AddTiling t = {N};
    float *dx = upload(x, sizeof x), *dy = upload(y, sizeof y), *dz = devAlloc(sizeof z);
    void *dt = upload(&t, sizeof t);
    aclrtFuncHandle add = NULL, nope = NULL;
    EXPECT_ERR(aclrtBinaryGetFunction(bin, "no_such_kernel", &nope), ACL_ERROR_RT_KERNEL_LOOKUP, "no kernel named");
    EXPECT_OK(aclrtBinaryGetFunction(bin, "add_f32", &add));
    uint64_t launches0 = mla4j_acl_emu_launch_count();

    /* 1. host args, all pointers */
    void *args[4] = {dx, dy, dz, dt};
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(add, 8, stream, NULL, args, sizeof args, NULL, 0));
    EXPECT_OK(aclrtSynchronizeStream(stream));
    EXPECT_OK(aclrtMemcpy(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST));
    int bad = 0;
    for (int i = 0; i < N; i++) bad += z[i] != x[i] + y[i];
    CHECK(bad == 0, "host-args launch: %d wrong elements", bad);

    /* 2. args handle + launch with config, on the default stream */
    EXPECT_OK(aclrtMemset(dz, sizeof z, 0, sizeof z));
    aclrtArgsHandle ah = NULL;
    aclrtParamHandle ph = NULL;
    EXPECT_OK(aclrtKernelArgsInit(add, &ah));
    for (int i = 0; i < 4; i++) EXPECT_OK(aclrtKernelArgsAppend(ah, &args[i], sizeof(void *), &ph));
    EXPECT_ERR(aclrtLaunchKernelWithConfig(add, 3, NULL, NULL, ah, NULL), ACL_ERROR_INVALID_PARAM, "not finalised");
    EXPECT_OK(aclrtKernelArgsFinalize(ah));
    EXPECT_OK(aclrtLaunchKernelWithConfig(add, 3, NULL, NULL, ah, NULL));
    EXPECT_OK(aclrtSynchronizeStream(NULL));
    EXPECT_OK(aclrtMemcpy(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST));
    bad = 0;
    for (int i = 0; i < N; i++) bad += z[i] != x[i] + y[i];
    CHECK(bad == 0, "args-handle launch: %d wrong elements", bad);

    /* 3. placeholder: the tiling struct travels in the host args, the runtime uploads it */
    EXPECT_OK(aclrtMemset(dz, sizeof z, 0, sizeof z));
    struct { void *p[4]; AddTiling t; uint32_t pad; } blob = {{dx, dy, dz, NULL}, {N}, 0};
    aclrtPlaceHolderInfo phi = {3 * 8, (uint32_t)offsetof(__typeof__(blob), t)};
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(add, 2, stream, NULL, &blob, sizeof blob, &phi, 1));
    EXPECT_OK(aclrtSynchronizeStream(stream));
    EXPECT_OK(aclrtMemcpy(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST));
    bad = 0;
    for (int i = 0; i < N; i++) bad += z[i] != x[i] + y[i];
    CHECK(bad == 0, "placeholder launch: %d wrong elements", bad);

    /* 4. async copies ordered with a launch on one stream */
    for (int i = 0; i < N; i++) x[i] = 3.0f;
    EXPECT_OK(aclrtMemcpyAsync(dx, sizeof x, x, sizeof x, ACL_MEMCPY_HOST_TO_DEVICE, stream));
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(add, 4, stream, NULL, args, sizeof args, NULL, 0));
    memset(z, 0, sizeof z);
    EXPECT_OK(aclrtMemcpyAsync(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST, stream));
    EXPECT_OK(aclrtSynchronizeStream(stream));
    bad = 0;
    for (int i = 0; i < N; i++) bad += z[i] != 3.0f + y[i];
    CHECK(bad == 0, "async copy + launch ordering: %d wrong elements", bad);
    CHECK(mla4j_acl_emu_launch_count() == launches0 + 4, "launch count %llu", (unsigned long long)(mla4j_acl_emu_launch_count() - launches0));

    /* planted faults at launch time */
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(add, 0, stream, NULL, args, sizeof args, NULL, 0), ACL_ERROR_INVALID_PARAM, "numBlocks");
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(add, 1, stream, NULL, args, 12, NULL, 0), ACL_ERROR_INVALID_PARAM, "multiple of 8");
    void *hostArgs[4] = {dx, dy, x, dt};
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(add, 1, stream, NULL, hostArgs, sizeof hostArgs, NULL, 0), ACL_ERROR_INVALID_PARAM, "kernel argument 2");
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(stream, 1, stream, NULL, args, sizeof args, NULL, 0), ACL_ERROR_RT_INVALID_HANDLE, "stream handle");

    /* a race: host reads the output while a slow kernel writes it */
    aclrtFuncHandle slow = NULL;
    EXPECT_OK(aclrtBinaryGetFunction(bin, "slow_add_f32", &slow));
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(slow, 1, stream, NULL, args, sizeof args, NULL, 0));
    EXPECT_ERR(aclrtMemcpy(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "race");
    EXPECT_ERR(aclrtFree(dz), ACL_ERROR_RT_MEMORY_FREE, "synchronise");
    EXPECT_ERR(aclrtBinaryUnLoad(bin), ACL_ERROR_RT_INVALID_HANDLE, "queued or running");
    EXPECT_OK(aclrtSynchronizeStream(stream));
    EXPECT_OK(aclrtMemcpy(z, sizeof z, dz, sizeof z, ACL_MEMCPY_DEVICE_TO_HOST));

    /* a failing kernel: the launch is accepted, the failure comes at synchronisation */
    aclrtFuncHandle failing = NULL, oob = NULL;
    EXPECT_OK(aclrtBinaryGetFunction(bin, "fail", &failing));
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(failing, 2, stream, NULL, args, 8, NULL, 0));
    EXPECT_ERR(aclrtSynchronizeStream(stream), ACL_ERROR_RT_AICORE_EXCEPTION, "planted failure");
    EXPECT_OK(aclrtSynchronizeStream(stream));  /* reported once */

    /* a kernel writing past its buffer is caught by the guard zones */
    EXPECT_OK(aclrtBinaryGetFunction(bin, "oob_write", &oob));
    void *oobArgs[2] = {dz, dt};
    EXPECT_OK(aclrtLaunchKernelWithHostArgs(oob, 1, stream, NULL, oobArgs, sizeof oobArgs, NULL, 0));
    EXPECT_ERR(aclrtSynchronizeStream(stream), ACL_ERROR_RT_AICORE_TRAP_WRITE_OVERFLOW, "wrote outside device allocation");

    /* stale pointers and handles */
    EXPECT_OK(aclrtFree(dx));
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(add, 1, stream, NULL, args, sizeof args, NULL, 0), ACL_ERROR_INVALID_PARAM, "freed by aclrtFree");
    EXPECT_OK(aclrtFree(dy));
    EXPECT_OK(aclrtFree(dz));
    EXPECT_OK(aclrtFree(dt));
    EXPECT_OK(aclrtBinaryUnLoad(bin));
    EXPECT_ERR(aclrtBinaryUnLoad(bin), ACL_ERROR_RT_INVALID_HANDLE, "unloaded by aclrtBinaryUnLoad");
    EXPECT_ERR(aclrtLaunchKernelWithHostArgs(add, 1, stream, NULL, args, sizeof args, NULL, 0), ACL_ERROR_RT_INVALID_HANDLE, "invalidated by aclrtBinaryUnLoad");
}

static aclrtContext g_ctx;
static aclError g_threadNoCtx, g_threadWithCtx;

static void *otherThread(void *unused) {
    (void)unused;
    void *p = NULL;
    g_threadNoCtx = aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST);
    aclGetRecentErrMsg();
    aclrtSetCurrentContext(g_ctx);
    g_threadWithCtx = aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST);
    if (g_threadWithCtx == ACL_SUCCESS) aclrtFree(p);
    return NULL;
}

static void test_threads_and_contexts(void) {
    EXPECT_OK(aclrtGetCurrentContext(&g_ctx));
    pthread_t t;
    pthread_create(&t, NULL, otherThread, NULL);
    pthread_join(t, NULL);
    CHECK(g_threadNoCtx == ACL_ERROR_RT_CONTEXT_NULL, "a thread without a context got %d", g_threadNoCtx);
    CHECK(g_threadWithCtx == ACL_SUCCESS, "a thread with the context set got %d", g_threadWithCtx);
}

static void test_reset_and_leaks(void) {
    aclrtStream s2 = NULL;
    EXPECT_OK(aclrtSetDevice(0));  /* second reference: the first reset keeps the device */
    void *leak = devAlloc(256);
    EXPECT_OK(aclrtCreateStream(&s2));
    uint64_t leaks0 = mla4j_acl_emu_leaks_reported();
    EXPECT_OK(aclrtResetDevice(0));
    EXPECT_OK(aclrtSynchronizeStream(s2));
    EXPECT_OK(aclrtResetDevice(0));  /* last reference: the leaked buffer and stream are reported */
    CHECK(mla4j_acl_emu_leaks_reported() == leaks0 + 2, "leaks reported: %llu", (unsigned long long)(mla4j_acl_emu_leaks_reported() - leaks0));
    CHECK(mla4j_acl_emu_live_allocations() == 0, "reset frees leaked memory");
    EXPECT_ERR(aclrtFree(leak), ACL_ERROR_RT_MEMORY_FREE, "aclrtResetDevice");
    void *p = NULL;
    EXPECT_ERR(aclrtMalloc(&p, 64, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_RT_CONTEXT_NULL, "use after reset");
    EXPECT_ERR(aclrtSetCurrentContext(g_ctx), ACL_ERROR_RT_INVALID_HANDLE, "destroyed by aclrtResetDevice");
    EXPECT_ERR(aclrtDestroyStream(s2), ACL_ERROR_RT_INVALID_HANDLE, "destroyed by aclrtResetDevice");
}

static void test_finalize(void) {
    EXPECT_OK(aclFinalize());
    EXPECT_ERR(aclFinalize(), ACL_ERROR_REPEAT_FINALIZE, "already");
    /* the emulator allows a new session; with MLA4J_ACL_EMU_LEAKS_FATAL=1 a leak fails aclFinalize */
    EXPECT_OK(aclInit(NULL));
    EXPECT_OK(aclrtSetDevice(0));
    void *p = devAlloc(128);
    (void)p;
    setenv("MLA4J_ACL_EMU_LEAKS_FATAL", "1", 1);
    EXPECT_ERR(aclFinalize(), ACL_ERROR_RELATIVE_RESOURCE_NOT_CLEARED, "leaked");
    unsetenv("MLA4J_ACL_EMU_LEAKS_FATAL");
    CHECK(mla4j_acl_emu_live_allocations() == 0, "finalize frees everything");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <libmla4j_test_kernel.so>\n", argv[0]);
        return 2;
    }
    g_kernelPath = argv[1];
    CHECK(mla4j_acl_emu_is_emulator() == 1, "emulator marker");
    test_lifecycle_errors();
    EXPECT_OK(aclrtSetDevice(0));
    test_memory();
    aclrtStream stream = NULL;
    EXPECT_OK(aclrtCreateStream(&stream));
    test_launches(loadTestBinary(), stream);
    EXPECT_OK(aclrtDestroyStream(stream));
    EXPECT_ERR(aclrtSynchronizeStream(stream), ACL_ERROR_RT_INVALID_HANDLE, "destroyed by aclrtDestroyStream");
    test_threads_and_contexts();
    test_reset_and_leaks();
    test_finalize();
    printf("acl_emu_test: %d checks, %d failures\n", g_checks, g_failures);
    return g_failures ? 1 : 0;
}
