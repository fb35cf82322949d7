/*
 * mla4j ACL runtime emulator: the subset of CANN's ACL C ABI declared in native/include/acl, running
 * on the CPU, strict about misuse.
 *
 *  - "Device" memory is host memory handed out by aclrtMalloc and tracked: every device pointer an
 *    API receives must lie inside a live allocation; double free, use after free / after
 *    aclrtResetDevice, out-of-bounds copies and wrong memcpy kinds are errors with a message in
 *    aclGetRecentErrMsg(). Each allocation has guard zones checked after every kernel (a kernel that
 *    wrote past its buffer fails the stream with ACL_ERROR_RT_AICORE_TRAP_WRITE_OVERFLOW). New memory
 *    is filled with 0xFF bytes (NaN in bf16/fp16/fp32) so reads of unwritten memory show up.
 *  - A stream is a worker thread with a FIFO queue: launches and async copies run in order on it and
 *    their failures are reported by the next aclrtSynchronizeStream. Touching memory that a queued
 *    or running task uses from the host (aclrtMemcpy, aclrtFree) is reported as a race.
 *  - A "binary" is a CPU shared library exporting ascendc_emu_launch / ascendc_emu_has_kernel
 *    (kernel_binary_abi.h); nothing else about the kernel is assumed.
 *  - Live allocations are reported as leaks at aclrtResetDevice (last reference) and aclFinalize.
 *
 * Handles (streams, binaries, functions, argument buffers, contexts) are never-reused ids, so a stale
 * handle is always recognised and its fate named. Unlike CANN, aclInit may be called again after
 * aclFinalize (tests open many sessions in one process).
 */
#include "acl/acl.h"
#include "mla4j_acl_emu.h"
#include "kernel_binary_abi.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kGuard = 512;         // guard zone before and after each allocation
constexpr size_t kAlign = 512;         // alignment of returned device pointers
constexpr uint8_t kGuardByte = 0xA5;   // guard pattern
constexpr uint8_t kFreshByte = 0xFF;   // fresh memory: NaN in every float format
constexpr int kMaxDevices = 8;

// ---------------------------------------------------------------- errors

thread_local std::string t_recentErr;  // what aclGetRecentErrMsg() returns on this thread
thread_local std::string t_errView;    // stable storage for the returned pointer

bool verbose() {
    static const bool v = [] { const char *e = getenv("MLA4J_ACL_EMU_VERBOSE"); return e && *e && *e != '0'; }();
    return v;
}

std::string vformat(const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

/* Records the message for aclGetRecentErrMsg() on this thread and returns the code. */
aclError fail(aclError code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
aclError fail(aclError code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string msg = vformat(fmt, ap);
    va_end(ap);
    t_recentErr = "[mla4j ACL emulator] " + msg + " (aclError " + std::to_string(code) + ")";
    if (verbose()) fprintf(stderr, "%s\n", t_recentErr.c_str());
    return code;
}

void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string msg = vformat(fmt, ap);
    va_end(ap);
    fprintf(stderr, "[mla4j ACL emulator] %s\n", msg.c_str());
}

// ---------------------------------------------------------------- state

struct Alloc {
    uint64_t id;
    int device;
    uint8_t *raw;        // start of the front guard
    uint8_t *user;       // the device pointer handed out
    size_t size;         // bytes asked for
    size_t rawSize;      // guard + rounded size + guard
    bool internal;       // made by the runtime itself (placeholder data), not by aclrtMalloc
    int inflight = 0;    // queued or running stream tasks that use it
    std::map<uint64_t, int> inflightBy;  // ... per stream handle (same-stream work is ordered, not racing)
    bool guardReported = false;
};

struct Dead {  // what became of a freed allocation, for messages about stale pointers
    uint64_t id;
    size_t size;
    std::string how;
};

struct Stream;

struct Task {
    uint64_t stream = 0;
    std::function<std::pair<aclError, std::string>()> run;
    std::vector<Alloc *> uses;       // inflight counts to drop when done
    std::vector<Alloc *> ownedTemp;  // runtime allocations to free when done
};

struct Stream {
    uint64_t handle;
    int device;
    std::thread worker;
    std::mutex m;
    std::condition_variable cv;
    std::deque<Task> queue;
    bool busy = false;
    bool stop = false;
    aclError sticky = ACL_SUCCESS;  // first failure since the last synchronize
    std::string stickyMsg;
};

struct Binary {
    uint64_t handle;
    std::string path;
    void *dl;
    ascendc_emu_launch_fn launch;
    ascendc_emu_has_kernel_fn has;
    int inflight = 0;
};

struct Func {
    uint64_t handle;
    uint64_t binary;
    std::string name;
};

struct Args {
    uint64_t handle;
    uint64_t func;
    std::vector<uint8_t> bytes;
    bool finalized = false;
};

struct Device {
    int refs = 0;              // aclrtSetDevice minus aclrtResetDevice
    uint64_t generation = 0;   // bumped at each final reset: contexts of older generations are dead
    uint64_t defaultStream = 0;
};

struct State {
    std::mutex m;
    bool initialized = false;
    bool everFinalized = false;
    Device devices[kMaxDevices];
    std::map<uintptr_t, Alloc *> allocs;  // by user address
    std::map<uintptr_t, Dead> dead;       // by user address, until reused
    std::map<uint64_t, std::unique_ptr<Stream>> streams;
    std::map<uint64_t, std::unique_ptr<Binary>> binaries;
    std::map<uint64_t, Func> funcs;
    std::map<uint64_t, Args> args;
    std::map<uint64_t, std::string> deadHandles;  // handle -> how it died
    uint64_t nextId = 1;
    uint64_t liveBytes = 0;
    uint64_t leaksReported = 0;
    std::deque<std::pair<uint8_t *, size_t>> quarantine;  // freed blocks held back from reuse (raw, size)
    uint64_t quarantineBytes = 0;
    std::atomic<uint64_t> launches{0};
};

State &S() {
    static State *s = new State();  // never destroyed: worker threads may outlive static destruction
    return *s;
}

// Handle tags keep kinds apart: a stream handle passed as a function handle is named as such.
enum : uint64_t { kTagStream = 0x5354ull, kTagBinary = 0x4249ull, kTagFunc = 0x4655ull, kTagArgs = 0x4152ull, kTagCtx = 0x4358ull };
uint64_t makeHandle(uint64_t tag, uint64_t seq) { return (tag << 40) | seq; }
uint64_t tagOf(uint64_t h) { return h >> 40; }
const char *tagName(uint64_t tag) {
    switch (tag) {
        case kTagStream: return "stream";
        case kTagBinary: return "binary";
        case kTagFunc: return "function";
        case kTagArgs: return "args";
        case kTagCtx: return "context";
        default: return "unknown";
    }
}
uint64_t H(const void *p) { return (uint64_t)(uintptr_t)p; }
void *P(uint64_t h) { return (void *)(uintptr_t)h; }

// The current thread's device context: device index and the generation it was set in.
thread_local int t_device = -1;
thread_local uint64_t t_generation = 0;

int deviceCount() {
    static const int n = [] {
        const char *e = getenv("MLA4J_ACL_EMU_DEVICES");
        int v = e ? atoi(e) : 1;
        return std::max(1, std::min(kMaxDevices, v));
    }();
    return n;
}

uint64_t memLimit() {
    static const uint64_t v = [] {
        const char *e = getenv("MLA4J_ACL_EMU_MEM_LIMIT");
        return e ? strtoull(e, nullptr, 10) : (64ull << 30);
    }();
    return v;
}

/* Status of a stale/unknown handle, for messages. Caller holds the lock. */
std::string describeHandle(uint64_t h, uint64_t wantTag) {
    if (h == 0) return "is NULL";
    auto d = S().deadHandles.find(h);
    if (d != S().deadHandles.end()) return "was " + d->second;
    if (tagOf(h) != wantTag && tagOf(h) != 0 && strcmp(tagName(tagOf(h)), "unknown") != 0)
        return std::string("is a ") + tagName(tagOf(h)) + " handle, not a " + tagName(wantTag) + " handle";
    return "is not a handle this runtime gave out";
}

/* Checks aclInit and the calling thread's device context. Caller holds the lock. */
aclError requireContext(const char *api, int *device) {
    State &s = S();
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "%s: aclInit has not been called", api);
    if (t_device < 0)
        return fail(ACL_ERROR_RT_CONTEXT_NULL, "%s: no device context on this thread (call aclrtSetDevice or aclrtSetCurrentContext first)", api);
    Device &d = s.devices[t_device];
    if (d.refs == 0 || d.generation != t_generation)
        return fail(ACL_ERROR_RT_CONTEXT_NULL, "%s: this thread's context of device %d was destroyed by aclrtResetDevice (use after reset)", api, t_device);
    *device = t_device;
    return ACL_SUCCESS;
}

/* The live allocation holding [p, p+len), or null. Caller holds the lock. */
Alloc *findAlloc(const void *p, size_t len = 1) {
    State &s = S();
    uintptr_t a = (uintptr_t)p;
    auto it = s.allocs.upper_bound(a);
    if (it == s.allocs.begin()) return nullptr;
    --it;
    Alloc *al = it->second;
    uintptr_t base = (uintptr_t)al->user;
    if (a < base || a >= base + std::max<size_t>(al->size, 1)) return nullptr;
    (void)len;
    return al;
}

/* Why p is not device memory: freed (and how) or never allocated. Caller holds the lock. */
std::string describeStale(const void *p) {
    State &s = S();
    uintptr_t a = (uintptr_t)p;
    auto it = s.dead.upper_bound(a);
    if (it != s.dead.begin()) {
        --it;
        if (a >= it->first && a < it->first + std::max<size_t>(it->second.size, 1)) {
            char buf[256];
            snprintf(buf, sizeof buf, "points into allocation #%llu (%zu bytes) that was %s",
                     (unsigned long long)it->second.id, it->second.size, it->second.how.c_str());
            return buf;
        }
    }
    return "is not inside any device allocation";
}

bool guardsIntact(const Alloc *al, std::string *where) {
    for (uint8_t *p = al->raw; p < al->user; ++p) {
        if (*p != kGuardByte) {
            char buf[160];
            snprintf(buf, sizeof buf, "%td bytes before its start", al->user - p);
            *where = buf;
            return false;
        }
    }
    for (uint8_t *p = al->user + al->size; p < al->raw + al->rawSize; ++p) {
        if (*p != kGuardByte) {
            char buf[160];
            snprintf(buf, sizeof buf, "at byte %td past its end", p - (al->user + al->size));
            *where = buf;
            return false;
        }
    }
    return true;
}

/* Allocates tracked device memory. Caller holds the lock. */
aclError allocate(int device, size_t size, bool internal, Alloc **out) {
    State &s = S();
    if (s.liveBytes + size > memLimit())
        return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "aclrtMalloc: %zu bytes requested, %llu of the emulated device's %llu bytes in use (MLA4J_ACL_EMU_MEM_LIMIT)",
                    size, (unsigned long long)s.liveBytes, (unsigned long long)memLimit());
    size_t rounded = (size + kAlign - 1) / kAlign * kAlign;
    size_t rawSize = kGuard + rounded + kGuard;
    uint8_t *raw = (uint8_t *)aligned_alloc(kAlign, rawSize);
    if (!raw) return fail(ACL_ERROR_RT_MEMORY_ALLOCATION, "aclrtMalloc: host allocation of %zu bytes failed", rawSize);
    Alloc *al = new Alloc{s.nextId++, device, raw, raw + kGuard, size, rawSize, internal, 0, {}, false};
    memset(raw, kGuardByte, kGuard);
    memset(al->user, kFreshByte, size);
    memset(al->user + size, kGuardByte, rawSize - kGuard - size);
    // forget stale records that this new block now covers
    auto lo = s.dead.lower_bound((uintptr_t)raw);
    while (lo != s.dead.end() && lo->first < (uintptr_t)raw + rawSize) lo = s.dead.erase(lo);
    s.allocs[(uintptr_t)al->user] = al;
    s.liveBytes += size;
    *out = al;
    return ACL_SUCCESS;
}

uint64_t quarantineLimit() {
    static const uint64_t v = [] {
        const char *e = getenv("MLA4J_ACL_EMU_QUARANTINE");
        return e ? strtoull(e, nullptr, 10) : (256ull << 20);
    }();
    return v;
}

/* Frees quarantined blocks until at most `keep` bytes remain. Caller holds the lock. */
void trimQuarantine(uint64_t keep) {
    State &s = S();
    while (!s.quarantine.empty() && s.quarantineBytes > keep) {
        free(s.quarantine.front().first);
        s.quarantineBytes -= s.quarantine.front().second;
        s.quarantine.pop_front();
    }
}

/* Releases an allocation and remembers how. Its memory is quarantined (poisoned, not reused for a
 * while, like ASan does) so a stale pointer keeps pointing at dead memory and is reported as such
 * instead of silently aliasing a newer allocation. Caller holds the lock. */
void release(Alloc *al, const std::string &how) {
    State &s = S();
    s.allocs.erase((uintptr_t)al->user);
    s.dead[(uintptr_t)al->user] = Dead{al->id, al->size, how};
    s.liveBytes -= al->size;
    memset(al->user, kFreshByte, al->size);
    s.quarantine.emplace_back(al->raw, al->rawSize);
    s.quarantineBytes += al->rawSize;
    trimQuarantine(quarantineLimit());
    delete al;
}

// ---------------------------------------------------------------- streams

void workerLoop(Stream *st) {
    for (;;) {
        Task task;
        {
            std::unique_lock<std::mutex> lk(st->m);
            st->cv.wait(lk, [&] { return st->stop || !st->queue.empty(); });
            if (st->queue.empty()) return;  // stop requested and drained
            task = std::move(st->queue.front());
            st->queue.pop_front();
            st->busy = true;
        }
        std::pair<aclError, std::string> r = task.run();
        {
            std::lock_guard<std::mutex> g(S().m);
            for (Alloc *al : task.uses) {
                al->inflight--;
                if (--al->inflightBy[task.stream] == 0) al->inflightBy.erase(task.stream);
            }
            for (Alloc *al : task.ownedTemp) release(al, "released after its launch (runtime-owned placeholder data)");
        }
        {
            std::lock_guard<std::mutex> lk(st->m);
            if (r.first != ACL_SUCCESS && st->sticky == ACL_SUCCESS) {
                st->sticky = r.first;
                st->stickyMsg = r.second;
            }
            st->busy = false;
        }
        st->cv.notify_all();
    }
}

void enqueue(Stream *st, Task task) {
    {
        std::lock_guard<std::mutex> lk(st->m);
        st->queue.push_back(std::move(task));
    }
    st->cv.notify_all();
}

/* Waits until the stream is idle; returns (and clears) its first failure. Must not hold S().m. */
std::pair<aclError, std::string> drain(Stream *st) {
    std::unique_lock<std::mutex> lk(st->m);
    st->cv.wait(lk, [&] { return st->queue.empty() && !st->busy; });
    auto r = std::make_pair(st->sticky, st->stickyMsg);
    st->sticky = ACL_SUCCESS;
    st->stickyMsg.clear();
    return r;
}

void stopWorker(Stream *st) {
    {
        std::lock_guard<std::mutex> lk(st->m);
        st->stop = true;
    }
    st->cv.notify_all();
    if (st->worker.joinable()) st->worker.join();
}

Stream *newStream(int device) {
    State &s = S();
    auto st = std::make_unique<Stream>();
    st->handle = makeHandle(kTagStream, s.nextId++);
    st->device = device;
    Stream *raw = st.get();
    raw->worker = std::thread(workerLoop, raw);
    s.streams[raw->handle] = std::move(st);
    return raw;
}

/* The stream a call names (NULL: the device's default stream, made on first use). Caller holds the lock. */
aclError resolveStream(const char *api, aclrtStream stream, int device, Stream **out) {
    State &s = S();
    if (stream == nullptr) {
        Device &d = s.devices[device];
        if (d.defaultStream == 0) d.defaultStream = newStream(device)->handle;
        *out = s.streams[d.defaultStream].get();
        return ACL_SUCCESS;
    }
    auto it = s.streams.find(H(stream));
    if (it == s.streams.end())
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "%s: stream %p %s", api, stream, describeHandle(H(stream), kTagStream).c_str());
    if (it->second->device != device)
        return fail(ACL_ERROR_RT_STREAM_CONTEXT, "%s: stream %p belongs to device %d, the current device is %d", api, stream,
                    it->second->device, device);
    *out = it->second.get();
    return ACL_SUCCESS;
}

/* Takes a stream out of the tables, drains it and stops its worker. Called without S().m held. */
void destroyStreamUnlocked(std::unique_ptr<Stream> st) {
    drain(st.get());
    stopWorker(st.get());
}

// ---------------------------------------------------------------- device teardown

/* Leak report + release of a device's remaining resources at its final reset. Caller holds the lock;
 * streams have been drained. */
void reportAndFreeDevice(int device, const char *when) {
    State &s = S();
    std::vector<Alloc *> left;
    for (auto &kv : s.allocs)
        if (kv.second->device == device) left.push_back(kv.second);
    size_t bytes = 0;
    for (Alloc *al : left) {
        if (al->internal) continue;
        bytes += al->size;
        s.leaksReported++;
    }
    size_t userLeft = 0;
    for (Alloc *al : left) userLeft += !al->internal;
    if (userLeft) {
        report("LEAK at %s: %zu device allocation(s), %zu bytes, never freed with aclrtFree on device %d:", when, userLeft,
               bytes, device);
        int shown = 0;
        for (Alloc *al : left) {
            if (al->internal) continue;
            if (shown++ == 20) { report("  ..."); break; }
            report("  allocation #%llu: %zu bytes at %p", (unsigned long long)al->id, al->size, (void *)al->user);
        }
    }
    char how[96];
    snprintf(how, sizeof how, "released by aclrtResetDevice(%d) as a leak", device);
    for (Alloc *al : left) release(al, how);
}

}  // namespace

// ================================================================= the ACL API

extern "C" {

aclError aclInit(const char *configPath) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (s.initialized) return fail(ACL_ERROR_REPEAT_INITIALIZE, "aclInit: already initialised");
    if (configPath != nullptr && *configPath) {
        struct stat sb;
        if (stat(configPath, &sb) != 0) return fail(ACL_ERROR_INVALID_FILE, "aclInit: config file '%s' does not exist", configPath);
    }
    s.initialized = true;
    return ACL_SUCCESS;
}

aclError aclFinalize(void) {
    State &s = S();
    std::vector<std::unique_ptr<Stream>> toStop;
    uint64_t leaksBefore;
    {
        std::lock_guard<std::mutex> g(s.m);
        if (!s.initialized) {
            if (s.everFinalized) return fail(ACL_ERROR_REPEAT_FINALIZE, "aclFinalize: already finalised");
            return fail(ACL_ERROR_UNINITIALIZE, "aclFinalize: aclInit has not been called");
        }
        leaksBefore = s.leaksReported;
        for (int d = 0; d < kMaxDevices; d++) {
            if (s.devices[d].refs > 0) {
                report("LEAK at aclFinalize: device %d is still set (%d aclrtSetDevice without aclrtResetDevice)", d, s.devices[d].refs);
                s.leaksReported++;
            }
        }
        for (auto &kv : s.streams) {
            if (kv.second->handle != s.devices[kv.second->device].defaultStream) {
                report("LEAK at aclFinalize: stream %p was never destroyed", P(kv.first));
                s.leaksReported++;
            }
            s.deadHandles[kv.first] = "destroyed by aclFinalize";
            toStop.push_back(std::move(kv.second));
        }
        s.streams.clear();
    }
    for (auto &st : toStop) destroyStreamUnlocked(std::move(st));
    std::lock_guard<std::mutex> g(s.m);
    for (int d = 0; d < kMaxDevices; d++) {
        reportAndFreeDevice(d, "aclFinalize");
        if (s.devices[d].refs > 0) s.devices[d].generation++;
        s.devices[d].refs = 0;
        s.devices[d].defaultStream = 0;
    }
    for (auto &kv : s.binaries) {
        report("LEAK at aclFinalize: binary '%s' was never unloaded (aclrtBinaryUnLoad)", kv.second->path.c_str());
        s.leaksReported++;
        s.deadHandles[kv.first] = "unloaded by aclFinalize";
    }
    s.binaries.clear();
    for (auto &kv : s.funcs) s.deadHandles[kv.first] = "invalidated by aclFinalize";
    s.funcs.clear();
    for (auto &kv : s.args) s.deadHandles[kv.first] = "invalidated by aclFinalize";
    s.args.clear();
    trimQuarantine(0);
    s.initialized = false;
    s.everFinalized = true;
    const char *fatal = getenv("MLA4J_ACL_EMU_LEAKS_FATAL");
    if (fatal && *fatal == '1' && s.leaksReported > leaksBefore)
        return fail(ACL_ERROR_RELATIVE_RESOURCE_NOT_CLEARED, "aclFinalize: %llu leaked resource(s) reported (MLA4J_ACL_EMU_LEAKS_FATAL=1)",
                    (unsigned long long)(s.leaksReported - leaksBefore));
    return ACL_SUCCESS;
}

const char *aclGetRecentErrMsg(void) {
    if (t_recentErr.empty()) return nullptr;
    t_errView = t_recentErr;  // the message is consumed by reading it, as in CANN
    t_recentErr.clear();
    return t_errView.c_str();
}

aclError aclrtGetDeviceCount(uint32_t *count) {
    if (!count) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDeviceCount: count is NULL");
    *count = (uint32_t)deviceCount();
    return ACL_SUCCESS;
}

aclError aclGetDeviceCapability(uint32_t deviceId, aclDeviceInfo infoType, int64_t *value) {
    if (!value) return fail(ACL_ERROR_INVALID_PARAM, "aclGetDeviceCapability: value is NULL");
    if (deviceId >= (uint32_t)deviceCount()) return fail(ACL_ERROR_INVALID_DEVICE, "aclGetDeviceCapability: device %u does not exist", deviceId);
    // An Ascend 910B-like device: 24 AI (Cube) cores, 2 vector cores each, 192 MiB L2 (MLA4J_ACL_EMU_AI_CORES overrides the count).
    static const int64_t aic = [] {
        const char *e = getenv("MLA4J_ACL_EMU_AI_CORES");
        int64_t v = e ? atoll(e) : 24;
        return v < 1 ? 1 : v;
    }();
    switch (infoType) {
        case ACL_DEVICE_INFO_AI_CORE_NUM: *value = aic; return ACL_SUCCESS;
        case ACL_DEVICE_INFO_VECTOR_CORE_NUM: *value = 2 * aic; return ACL_SUCCESS;
        case ACL_DEVICE_INFO_L2_SIZE: *value = 192ll << 20; return ACL_SUCCESS;
        default: return fail(ACL_ERROR_INVALID_PARAM, "aclGetDeviceCapability: infoType %d is not an aclDeviceInfo", (int)infoType);
    }
}

aclError aclrtSetDevice(int32_t deviceId) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtSetDevice: aclInit has not been called");
    if (deviceId < 0 || deviceId >= deviceCount())
        return fail(ACL_ERROR_RT_INVALID_DEVICEID, "aclrtSetDevice: device %d does not exist (the emulator has %d; MLA4J_ACL_EMU_DEVICES)",
                    deviceId, deviceCount());
    s.devices[deviceId].refs++;
    t_device = deviceId;
    t_generation = s.devices[deviceId].generation;
    return ACL_SUCCESS;
}

aclError aclrtResetDevice(int32_t deviceId) {
    State &s = S();
    std::vector<std::unique_ptr<Stream>> toStop;
    {
        std::lock_guard<std::mutex> g(s.m);
        if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtResetDevice: aclInit has not been called");
        if (deviceId < 0 || deviceId >= deviceCount())
            return fail(ACL_ERROR_RT_INVALID_DEVICEID, "aclrtResetDevice: device %d does not exist", deviceId);
        Device &d = s.devices[deviceId];
        if (d.refs == 0) return fail(ACL_ERROR_RT_CONTEXT_NULL, "aclrtResetDevice: device %d is not set (more resets than aclrtSetDevice calls)", deviceId);
        if (--d.refs > 0) return ACL_SUCCESS;
        // last reference: the device context goes, with everything in it
        for (auto it = s.streams.begin(); it != s.streams.end();) {
            if (it->second->device != deviceId) { ++it; continue; }
            if (it->first != d.defaultStream) {
                report("LEAK at aclrtResetDevice(%d): stream %p was never destroyed", deviceId, P(it->first));
                s.leaksReported++;
            }
            s.deadHandles[it->first] = "destroyed by aclrtResetDevice";
            toStop.push_back(std::move(it->second));
            it = s.streams.erase(it);
        }
        d.defaultStream = 0;
        d.generation++;
    }
    for (auto &st : toStop) destroyStreamUnlocked(std::move(st));
    std::lock_guard<std::mutex> g(s.m);
    char when[64];
    snprintf(when, sizeof when, "aclrtResetDevice(%d)", deviceId);
    reportAndFreeDevice(deviceId, when);
    return ACL_SUCCESS;
}

aclError aclrtGetDevice(int32_t *deviceId) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!deviceId) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetDevice: deviceId is NULL");
    int dev;
    aclError e = requireContext("aclrtGetDevice", &dev);
    if (e) return e;
    *deviceId = dev;
    return ACL_SUCCESS;
}

aclError aclrtGetCurrentContext(aclrtContext *context) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!context) return fail(ACL_ERROR_INVALID_PARAM, "aclrtGetCurrentContext: context is NULL");
    int dev;
    aclError e = requireContext("aclrtGetCurrentContext", &dev);
    if (e) return e;
    // context = (device, generation): a context from before a reset is recognisably dead
    *context = P(makeHandle(kTagCtx, (s.devices[dev].generation << 8) | (uint64_t)dev));
    return ACL_SUCCESS;
}

aclError aclrtSetCurrentContext(aclrtContext context) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtSetCurrentContext: aclInit has not been called");
    uint64_t h = H(context);
    if (tagOf(h) != kTagCtx) return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtSetCurrentContext: context %p %s", context, describeHandle(h, kTagCtx).c_str());
    uint64_t v = h & ((1ull << 40) - 1);
    int dev = (int)(v & 0xff);
    uint64_t gen = v >> 8;
    if (dev >= deviceCount() || s.devices[dev].refs == 0 || s.devices[dev].generation != gen)
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtSetCurrentContext: context %p of device %d was destroyed by aclrtResetDevice", context, dev);
    t_device = dev;
    t_generation = gen;
    return ACL_SUCCESS;
}

aclError aclrtCreateStream(aclrtStream *stream) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!stream) return fail(ACL_ERROR_INVALID_PARAM, "aclrtCreateStream: stream is NULL");
    int dev;
    aclError e = requireContext("aclrtCreateStream", &dev);
    if (e) return e;
    *stream = P(newStream(dev)->handle);
    return ACL_SUCCESS;
}

aclError aclrtDestroyStream(aclrtStream stream) {
    State &s = S();
    std::unique_ptr<Stream> st;
    {
        std::lock_guard<std::mutex> g(s.m);
        if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtDestroyStream: aclInit has not been called");
        auto it = s.streams.find(H(stream));
        if (stream == nullptr || it == s.streams.end())
            return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtDestroyStream: stream %p %s", stream, describeHandle(H(stream), kTagStream).c_str());
        st = std::move(it->second);
        s.streams.erase(it);
        s.deadHandles[H(stream)] = "destroyed by aclrtDestroyStream";
    }
    // CANN waits for the stream's tasks before destroying it; a failure nobody synchronised on is reported
    std::pair<aclError, std::string> r = drain(st.get());
    stopWorker(st.get());
    if (r.first != ACL_SUCCESS) report("aclrtDestroyStream: an unsynchronised task on stream %p failed: %s", stream, r.second.c_str());
    return ACL_SUCCESS;
}

aclError aclrtSynchronizeStream(aclrtStream stream) {
    State &s = S();
    Stream *st;
    {
        std::lock_guard<std::mutex> g(s.m);
        int dev;
        aclError e = requireContext("aclrtSynchronizeStream", &dev);
        if (e) return e;
        e = resolveStream("aclrtSynchronizeStream", stream, dev, &st);
        if (e) return e;
    }
    // The stream cannot be destroyed underneath us without a racing destroy on another thread,
    // which is the caller's bug in CANN as well.
    std::pair<aclError, std::string> r = drain(st);
    if (r.first != ACL_SUCCESS) return fail(r.first, "aclrtSynchronizeStream: a task on stream %p failed: %s", stream, r.second.c_str());
    return ACL_SUCCESS;
}

aclError aclrtMalloc(void **devPtr, size_t size, aclrtMemMallocPolicy policy) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!devPtr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: devPtr is NULL");
    int dev;
    aclError e = requireContext("aclrtMalloc", &dev);
    if (e) return e;
    if (size == 0) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: size is 0");
    if ((int)policy < 0 || (int)policy > 2) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMalloc: policy %d is not an aclrtMemMallocPolicy this runtime supports (0, 1, 2)", (int)policy);
    Alloc *al;
    e = allocate(dev, size, false, &al);
    if (e) return e;
    *devPtr = al->user;
    return ACL_SUCCESS;
}

aclError aclrtFree(void *devPtr) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtFree: aclInit has not been called");
    if (!devPtr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtFree: devPtr is NULL");
    auto it = s.allocs.find((uintptr_t)devPtr);
    if (it == s.allocs.end() || it->second->internal) {
        Alloc *inner = findAlloc(devPtr);
        if (inner && !inner->internal)
            return fail(ACL_ERROR_RT_MEMORY_FREE, "aclrtFree: %p is %td bytes inside allocation #%llu, not its start", devPtr,
                        (uint8_t *)devPtr - inner->user, (unsigned long long)inner->id);
        std::string why = describeStale(devPtr);
        bool twice = why.find("aclrtFree") != std::string::npos;
        return fail(ACL_ERROR_RT_MEMORY_FREE, "aclrtFree: %s%p %s", twice ? "double free: " : "", devPtr, why.c_str());
    }
    Alloc *al = it->second;
    if (al->inflight > 0)
        return fail(ACL_ERROR_RT_MEMORY_FREE, "aclrtFree: allocation #%llu at %p is used by %d queued or running stream task(s); synchronise the stream first",
                    (unsigned long long)al->id, devPtr, al->inflight);
    std::string where;
    bool intact = al->guardReported || guardsIntact(al, &where);
    uint64_t id = al->id;
    release(al, "freed by aclrtFree");
    if (!intact) return fail(ACL_ERROR_RT_MEMORY_FREE, "aclrtFree: allocation #%llu was written out of bounds (%s); freed anyway", (unsigned long long)id, where.c_str());
    return ACL_SUCCESS;
}

}  // extern "C"

namespace {

/* Where one side of a copy lives, checked against what the memcpy kind says. Caller holds the lock. */
aclError checkSide(const char *api, const char *side, const void *p, size_t count, bool wantDevice, const char *kindName, Alloc **out,
                   uint64_t orderedStream = 0) {
    Alloc *al = findAlloc(p);
    *out = nullptr;
    if (wantDevice) {
        if (!al) return fail(ACL_ERROR_INVALID_PARAM, "%s: %s %p %s, but the kind is %s", api, side, p, describeStale(p).c_str(), kindName);
        size_t off = (const uint8_t *)p - al->user;
        if (count > al->size - off)
            return fail(ACL_ERROR_INVALID_PARAM, "%s: %s range [%p, +%zu) runs %zu bytes past the end of allocation #%llu (%zu bytes, offset %zu)", api, side, p,
                        count, count - (al->size - off), (unsigned long long)al->id, al->size, off);
        int others = al->inflight;
        auto same = al->inflightBy.find(orderedStream);
        if (orderedStream && same != al->inflightBy.end()) others -= same->second;
        if (others > 0)
            return fail(ACL_ERROR_INVALID_PARAM, "%s: %s allocation #%llu is used by %d queued or running task(s) of %s: the copy would race with it (synchronise first)",
                        api, side, (unsigned long long)al->id, others, orderedStream ? "another stream" : "a stream");
        *out = al;
    } else if (al) {
        return fail(ACL_ERROR_INVALID_PARAM, "%s: %s %p is device memory (allocation #%llu), but the kind is %s", api, side, p, (unsigned long long)al->id, kindName);
    }
    return ACL_SUCCESS;
}

const char *kindName(int kind) {
    switch (kind) {
        case ACL_MEMCPY_HOST_TO_HOST: return "ACL_MEMCPY_HOST_TO_HOST";
        case ACL_MEMCPY_HOST_TO_DEVICE: return "ACL_MEMCPY_HOST_TO_DEVICE";
        case ACL_MEMCPY_DEVICE_TO_HOST: return "ACL_MEMCPY_DEVICE_TO_HOST";
        case ACL_MEMCPY_DEVICE_TO_DEVICE: return "ACL_MEMCPY_DEVICE_TO_DEVICE";
        case ACL_MEMCPY_DEFAULT: return "ACL_MEMCPY_DEFAULT";
        default: return "?";
    }
}

/* Validates a copy; fills the device allocations it touches. Caller holds the lock. */
aclError checkCopy(const char *api, void *dst, size_t destMax, const void *src, size_t count, int kind, Alloc **dAl, Alloc **sAl,
                   uint64_t orderedStream = 0) {
    if (kind < 0 || kind > 4) return fail(ACL_ERROR_INVALID_PARAM, "%s: kind %d is not an aclrtMemcpyKind (0..4)", api, kind);
    if (!dst || !src) return fail(ACL_ERROR_INVALID_PARAM, "%s: %s is NULL", api, dst ? "src" : "dst");
    if (count > destMax) return fail(ACL_ERROR_INVALID_PARAM, "%s: count %zu exceeds destMax %zu", api, count, destMax);
    bool dDev, sDev;
    if (kind == ACL_MEMCPY_DEFAULT) {  // the runtime works out the direction from the addresses
        dDev = findAlloc(dst) != nullptr;
        sDev = findAlloc(src) != nullptr;
    } else {
        dDev = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
        sDev = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
    }
    aclError e = checkSide(api, "dst", dst, count, dDev, kindName(kind), dAl, orderedStream);
    if (e) return e;
    e = checkSide(api, "src", src, count, sDev, kindName(kind), sAl, orderedStream);
    if (e) return e;
    uintptr_t d = (uintptr_t)dst, sp = (uintptr_t)src;
    if (count && d < sp + count && sp < d + count) return fail(ACL_ERROR_INVALID_PARAM, "%s: src and dst ranges overlap", api);
    return ACL_SUCCESS;
}

}  // namespace

extern "C" {

aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind) {
    State &s = S();
    {
        std::lock_guard<std::mutex> g(s.m);
        int dev;
        aclError e = requireContext("aclrtMemcpy", &dev);
        if (e) return e;
        Alloc *dAl, *sAl;
        e = checkCopy("aclrtMemcpy", dst, destMax, src, count, (int)kind, &dAl, &sAl);
        if (e) return e;
    }
    if (count) memcpy(dst, src, count);
    return ACL_SUCCESS;
}

aclError aclrtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind, aclrtStream stream) {
    State &s = S();
    Stream *st;
    Task task;
    {
        std::lock_guard<std::mutex> g(s.m);
        int dev;
        aclError e = requireContext("aclrtMemcpyAsync", &dev);
        if (e) return e;
        e = resolveStream("aclrtMemcpyAsync", stream, dev, &st);
        if (e) return e;
        Alloc *dAl, *sAl;
        e = checkCopy("aclrtMemcpyAsync", dst, destMax, src, count, (int)kind, &dAl, &sAl, st->handle);
        if (e) return e;
        task.stream = st->handle;
        for (Alloc *al : {dAl, sAl})
            if (al) { al->inflight++; al->inflightBy[st->handle]++; task.uses.push_back(al); }
    }
    task.run = [dst, src, count] {
        if (count) memcpy(dst, src, count);
        return std::make_pair(ACL_SUCCESS, std::string());
    };
    enqueue(st, std::move(task));
    return ACL_SUCCESS;
}

aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count) {
    State &s = S();
    {
        std::lock_guard<std::mutex> g(s.m);
        int dev;
        aclError e = requireContext("aclrtMemset", &dev);
        if (e) return e;
        if (!devPtr) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemset: devPtr is NULL");
        if (count > maxCount) return fail(ACL_ERROR_INVALID_PARAM, "aclrtMemset: count %zu exceeds maxCount %zu", count, maxCount);
        Alloc *al;
        e = checkSide("aclrtMemset", "devPtr", devPtr, count, true, "device memory", &al);
        if (e) return e;
    }
    memset(devPtr, value, count);
    return ACL_SUCCESS;
}

aclError aclrtBinaryLoadFromFile(const char *binPath, aclrtBinaryLoadOptions *options, aclrtBinHandle *binHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!binPath || !binHandle) return fail(ACL_ERROR_INVALID_PARAM, "aclrtBinaryLoadFromFile: %s is NULL", binPath ? "binHandle" : "binPath");
    int dev;
    aclError e = requireContext("aclrtBinaryLoadFromFile", &dev);
    if (e) return e;
    if (options && options->numOpt > 0 && !options->options)
        return fail(ACL_ERROR_INVALID_PARAM, "aclrtBinaryLoadFromFile: options->numOpt is %zu but options->options is NULL", options->numOpt);
    struct stat sb;
    if (stat(binPath, &sb) != 0) return fail(ACL_ERROR_INVALID_FILE, "aclrtBinaryLoadFromFile: '%s' does not exist", binPath);
    dlerror();
    void *dl = dlopen(binPath, RTLD_NOW | RTLD_LOCAL);
    if (!dl) return fail(ACL_ERROR_INVALID_FILE, "aclrtBinaryLoadFromFile: cannot load '%s' as an emulated kernel binary: %s", binPath, dlerror());
    auto launch = (ascendc_emu_launch_fn)dlsym(dl, MLA4J_EMU_LAUNCH_SYMBOL);
    auto has = (ascendc_emu_has_kernel_fn)dlsym(dl, MLA4J_EMU_HAS_KERNEL_SYMBOL);
    if (!launch || !has) {
        dlclose(dl);
        return fail(ACL_ERROR_INVALID_FILE, "aclrtBinaryLoadFromFile: '%s' does not export %s and %s (not an emulated kernel binary)", binPath,
                    MLA4J_EMU_LAUNCH_SYMBOL, MLA4J_EMU_HAS_KERNEL_SYMBOL);
    }
    auto b = std::make_unique<Binary>();
    b->handle = makeHandle(kTagBinary, s.nextId++);
    b->path = binPath;
    b->dl = dl;
    b->launch = launch;
    b->has = has;
    *binHandle = P(b->handle);
    s.binaries[b->handle] = std::move(b);
    return ACL_SUCCESS;
}

aclError aclrtBinaryUnLoad(aclrtBinHandle binHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtBinaryUnLoad: aclInit has not been called");
    auto it = s.binaries.find(H(binHandle));
    if (it == s.binaries.end())
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtBinaryUnLoad: binary %p %s", binHandle, describeHandle(H(binHandle), kTagBinary).c_str());
    if (it->second->inflight > 0)
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtBinaryUnLoad: %d launch(es) of binary %p are queued or running; synchronise first", it->second->inflight, binHandle);
    // The library stays mapped (dlopen keeps it cached); only the handle and its functions die.
    for (auto f = s.funcs.begin(); f != s.funcs.end();) {
        if (f->second.binary != it->first) { ++f; continue; }
        for (auto a = s.args.begin(); a != s.args.end();) {
            if (a->second.func == f->first) {
                s.deadHandles[a->first] = "invalidated by aclrtBinaryUnLoad";
                a = s.args.erase(a);
            } else {
                ++a;
            }
        }
        s.deadHandles[f->first] = "invalidated by aclrtBinaryUnLoad";
        f = s.funcs.erase(f);
    }
    s.deadHandles[it->first] = "unloaded by aclrtBinaryUnLoad";
    dlclose(it->second->dl);
    s.binaries.erase(it);
    return ACL_SUCCESS;
}

aclError aclrtBinaryGetFunction(const aclrtBinHandle binHandle, const char *kernelName, aclrtFuncHandle *funcHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!kernelName || !funcHandle) return fail(ACL_ERROR_INVALID_PARAM, "aclrtBinaryGetFunction: %s is NULL", kernelName ? "funcHandle" : "kernelName");
    if (!s.initialized) return fail(ACL_ERROR_UNINITIALIZE, "aclrtBinaryGetFunction: aclInit has not been called");
    auto it = s.binaries.find(H(binHandle));
    if (it == s.binaries.end())
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtBinaryGetFunction: binary %p %s", binHandle, describeHandle(H(binHandle), kTagBinary).c_str());
    if (!it->second->has(kernelName))
        return fail(ACL_ERROR_RT_KERNEL_LOOKUP, "aclrtBinaryGetFunction: '%s' has no kernel named '%s'", it->second->path.c_str(), kernelName);
    Func f{makeHandle(kTagFunc, s.nextId++), it->first, kernelName};
    *funcHandle = P(f.handle);
    s.funcs[f.handle] = f;
    return ACL_SUCCESS;
}

aclError aclrtKernelArgsInit(aclrtFuncHandle funcHandle, aclrtArgsHandle *argsHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    if (!argsHandle) return fail(ACL_ERROR_INVALID_PARAM, "aclrtKernelArgsInit: argsHandle is NULL");
    if (!s.funcs.count(H(funcHandle)))
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtKernelArgsInit: function %p %s", funcHandle, describeHandle(H(funcHandle), kTagFunc).c_str());
    Args a;
    a.handle = makeHandle(kTagArgs, s.nextId++);
    a.func = H(funcHandle);
    *argsHandle = P(a.handle);
    s.args[a.handle] = std::move(a);
    return ACL_SUCCESS;
}

aclError aclrtKernelArgsAppend(aclrtArgsHandle argsHandle, void *param, size_t paramSize, aclrtParamHandle *paramHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    auto it = s.args.find(H(argsHandle));
    if (it == s.args.end())
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtKernelArgsAppend: args %p %s", argsHandle, describeHandle(H(argsHandle), kTagArgs).c_str());
    if (!param || paramSize == 0) return fail(ACL_ERROR_INVALID_PARAM, "aclrtKernelArgsAppend: param is NULL or paramSize is 0");
    if (it->second.finalized) return fail(ACL_ERROR_INVALID_PARAM, "aclrtKernelArgsAppend: args %p is already finalised", argsHandle);
    std::vector<uint8_t> &b = it->second.bytes;
    size_t off = (b.size() + 7) / 8 * 8;  // each parameter starts 8-byte aligned
    b.resize(off + paramSize);
    memcpy(b.data() + off, param, paramSize);
    if (paramHandle) *paramHandle = P(off + 1);
    return ACL_SUCCESS;
}

aclError aclrtKernelArgsFinalize(aclrtArgsHandle argsHandle) {
    State &s = S();
    std::lock_guard<std::mutex> g(s.m);
    auto it = s.args.find(H(argsHandle));
    if (it == s.args.end())
        return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtKernelArgsFinalize: args %p %s", argsHandle, describeHandle(H(argsHandle), kTagArgs).c_str());
    it->second.bytes.resize((it->second.bytes.size() + 7) / 8 * 8);
    it->second.finalized = true;
    return ACL_SUCCESS;
}

}  // extern "C"

namespace {

/* Validates and queues one launch; `args` is the packed argument block (8 bytes per GM_ADDR). */
aclError launch(const char *api, aclrtFuncHandle funcHandle, uint32_t numBlocks, aclrtStream stream, std::vector<uint8_t> args,
                const aclrtPlaceHolderInfo *ph, size_t phNum) {
    State &s = S();
    Stream *st;
    Task task;
    std::string name;
    Binary *bin;
    std::vector<void *> argv;
    {
        std::lock_guard<std::mutex> g(s.m);
        int dev;
        aclError e = requireContext(api, &dev);
        if (e) return e;
        auto f = s.funcs.find(H(funcHandle));
        if (f == s.funcs.end())
            return fail(ACL_ERROR_RT_INVALID_HANDLE, "%s: function %p %s", api, funcHandle, describeHandle(H(funcHandle), kTagFunc).c_str());
        e = resolveStream(api, stream, dev, &st);
        if (e) return e;
        if (numBlocks == 0 || numBlocks > 65535) return fail(ACL_ERROR_INVALID_PARAM, "%s: numBlocks %u is outside [1, 65535]", api, numBlocks);
        if (args.empty() || args.size() % 8 != 0)
            return fail(ACL_ERROR_INVALID_PARAM, "%s: argument block of %zu bytes is not a nonzero multiple of 8 (one GM_ADDR per 8 bytes)", api, args.size());
        if (phNum > 0 && !ph) return fail(ACL_ERROR_INVALID_PARAM, "%s: placeHolderNum is %zu but placeHolderArray is NULL", api, phNum);
        // Placeholder data: copied into runtime-owned device memory whose address is patched in.
        size_t pointerBytes = args.size();
        std::vector<uint32_t> starts;
        for (size_t i = 0; i < phNum; i++) starts.push_back(ph[i].dataOffset);
        std::sort(starts.begin(), starts.end());
        for (size_t i = 0; i < phNum; i++) {
            uint32_t a = ph[i].addrOffset, d = ph[i].dataOffset;
            if (a % 8 || (size_t)a + 8 > args.size() || d >= args.size() || a >= starts.front())
                return fail(ACL_ERROR_INVALID_PARAM, "%s: placeholder %zu (addrOffset %u, dataOffset %u) does not fit the %zu-byte argument block", api, i, a, d,
                            args.size());
            pointerBytes = std::min<size_t>(pointerBytes, d);
        }
        pointerBytes = pointerBytes / 8 * 8;
        for (size_t i = 0; i < phNum; i++) {
            uint32_t d = ph[i].dataOffset;
            auto next = std::upper_bound(starts.begin(), starts.end(), d);
            size_t len = (next == starts.end() ? args.size() : *next) - d;
            Alloc *tmp;
            e = allocate(dev, std::max<size_t>(len, 1), true, &tmp);
            if (e) {
                for (Alloc *t : task.ownedTemp) release(t, "released after a failed launch");
                return e;
            }
            memcpy(tmp->user, args.data() + d, len);
            uint64_t addr = (uint64_t)(uintptr_t)tmp->user;
            memcpy(args.data() + ph[i].addrOffset, &addr, 8);
            task.ownedTemp.push_back(tmp);
        }
        // Every nonzero GM_ADDR must point into live device memory of this device.
        for (size_t i = 0; i < pointerBytes / 8; i++) {
            void *p;
            memcpy(&p, args.data() + 8 * i, 8);
            argv.push_back(p);
            if (!p) continue;
            Alloc *al = findAlloc(p);
            if (!al || al->device != dev) {
                for (Alloc *t : task.ownedTemp) release(t, "released after a failed launch");
                return fail(ACL_ERROR_INVALID_PARAM, "%s: kernel argument %zu (%p) %s", api, i, p,
                            al ? "is memory of another device" : describeStale(p).c_str());
            }
        }
        task.stream = st->handle;
        for (void *p : argv) {
            Alloc *al = p ? findAlloc(p) : nullptr;
            if (al && std::find(task.uses.begin(), task.uses.end(), al) == task.uses.end()) {
                al->inflight++;
                al->inflightBy[st->handle]++;
                task.uses.push_back(al);
            }
        }
        bin = s.binaries.at(f->second.binary).get();
        bin->inflight++;
        name = f->second.name;
    }
    task.run = [bin, name, numBlocks, argv]() -> std::pair<aclError, std::string> {
        char err[1024] = {0};
        int32_t rc = bin->launch(name.c_str(), numBlocks, argv.data(), (uint32_t)argv.size(), err, sizeof err);
        S().launches++;
        std::pair<aclError, std::string> r{ACL_SUCCESS, {}};
        if (rc != 0) r = {ACL_ERROR_RT_AICORE_EXCEPTION, "kernel '" + name + "' failed with code " + std::to_string(rc) + ": " + err};
        // Every live allocation's guard zones: a kernel writing outside its buffers is caught here.
        std::lock_guard<std::mutex> g(S().m);
        bin->inflight--;
        for (auto &kv : S().allocs) {
            Alloc *al = kv.second;
            std::string where;
            if (al->guardReported || guardsIntact(al, &where)) continue;
            al->guardReported = true;
            if (r.first == ACL_SUCCESS) {
                char buf[256];
                snprintf(buf, sizeof buf, "kernel '%s' wrote outside device allocation #%llu (%zu bytes at %p): %s", name.c_str(),
                         (unsigned long long)al->id, al->size, (void *)al->user, where.c_str());
                r = {ACL_ERROR_RT_AICORE_TRAP_WRITE_OVERFLOW, buf};
            }
        }
        return r;
    };
    enqueue(st, std::move(task));
    return ACL_SUCCESS;
}

}  // namespace

extern "C" {

aclError aclrtLaunchKernelWithConfig(aclrtFuncHandle funcHandle, uint32_t numBlocks, aclrtStream stream, aclrtLaunchKernelCfg *cfg,
                                     aclrtArgsHandle argsHandle, void *reserve) {
    (void)cfg;  // attributes (timeouts, engine type) do not change the emulation
    (void)reserve;
    std::vector<uint8_t> bytes;
    {
        State &s = S();
        std::lock_guard<std::mutex> g(s.m);
        auto it = s.args.find(H(argsHandle));
        if (it == s.args.end())
            return fail(ACL_ERROR_RT_INVALID_HANDLE, "aclrtLaunchKernelWithConfig: args %p %s", argsHandle, describeHandle(H(argsHandle), kTagArgs).c_str());
        if (!it->second.finalized) return fail(ACL_ERROR_INVALID_PARAM, "aclrtLaunchKernelWithConfig: args %p was not finalised (aclrtKernelArgsFinalize)", argsHandle);
        if (it->second.func != H(funcHandle))
            return fail(ACL_ERROR_INVALID_PARAM, "aclrtLaunchKernelWithConfig: args %p were made for another function", argsHandle);
        bytes = it->second.bytes;
    }
    return launch("aclrtLaunchKernelWithConfig", funcHandle, numBlocks, stream, std::move(bytes), nullptr, 0);
}

aclError aclrtLaunchKernelWithHostArgs(aclrtFuncHandle funcHandle, uint32_t numBlocks, aclrtStream stream, aclrtLaunchKernelCfg *cfg, void *hostArgs,
                                       size_t argsSize, aclrtPlaceHolderInfo *placeHolderArray, size_t placeHolderNum) {
    (void)cfg;
    if (!hostArgs || argsSize == 0) return fail(ACL_ERROR_INVALID_PARAM, "aclrtLaunchKernelWithHostArgs: hostArgs is NULL or argsSize is 0");
    std::vector<uint8_t> bytes((uint8_t *)hostArgs, (uint8_t *)hostArgs + argsSize);  // copied now: the caller may reuse its buffer
    return launch("aclrtLaunchKernelWithHostArgs", funcHandle, numBlocks, stream, std::move(bytes), placeHolderArray, placeHolderNum);
}

// ---------------------------------------------------------------- emulator-only queries

int32_t mla4j_acl_emu_is_emulator(void) { return 1; }

uint64_t mla4j_acl_emu_live_allocations(void) {
    std::lock_guard<std::mutex> g(S().m);
    uint64_t n = 0;
    for (auto &kv : S().allocs) n += !kv.second->internal;
    return n;
}

uint64_t mla4j_acl_emu_live_bytes(void) {
    std::lock_guard<std::mutex> g(S().m);
    uint64_t n = 0;
    for (auto &kv : S().allocs) n += kv.second->internal ? 0 : kv.second->size;
    return n;
}

uint64_t mla4j_acl_emu_leaks_reported(void) {
    std::lock_guard<std::mutex> g(S().m);
    return S().leaksReported;
}

uint64_t mla4j_acl_emu_launch_count(void) { return S().launches.load(); }

}  // extern "C"
