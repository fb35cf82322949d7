// ascendc_emu runtime: cores as threads, local-memory arenas, pipe-hazard tracking, cross-core
// flags, the GM race detector and the launch entry points. Emulator only; not kernel code.
#include "ascendc_emu.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ascendc_emu {

namespace {
// Ascend 910B (Atlas A2) per-core buffer sizes and start-address alignment (README "Emulator").
constexpr size_t kCapacity[] = {192 * 1024, 512 * 1024, 64 * 1024, 64 * 1024, 128 * 1024};
constexpr size_t kAlign[] = {32, 32, 512, 512, 64};
constexpr const char *kPhysName[] = {"UB", "L1", "L0A", "L0B", "L0C"};
constexpr const char *kPipeName[] = {"S", "V", "M", "MTE1", "MTE2", "MTE3", "FIX"};
constexpr int kMaxFlag = 16;       // cross-core flag ids 0..15
constexpr int kMaxPending = 15;    // a flag counts to 15 on the hardware
std::atomic<int> g_timeout_ms{-1};

using Clock = std::vector<uint32_t>;  // vector clock over all cores of a launch

void Join(Clock &a, const Clock &b) {
    for (size_t i = 0; i < a.size(); i++) a[i] = std::max(a[i], b[i]);
}

int TimeoutMs() {
    int t = g_timeout_ms.load();
    if (t < 0) {
        const char *e = getenv("ASCENDC_EMU_TIMEOUT_MS");
        t = e ? atoi(e) : 10000;
        if (t <= 0) t = 10000;
        g_timeout_ms = t;
    }
    return t;
}
}  // namespace

struct LaunchState;

struct AllocState {
    Pipe last_write = Pipe::NONE;
    uint64_t write_seq = 0;
    uint64_t read_seq[(int)Pipe::COUNT] = {};  // last read per pipe, 0 = none pending
};

struct Core {
    LaunchState *launch;
    CoreKind kind;
    int block, sub, id;  // id: index into the launch's cores / clocks
    std::unique_ptr<uint8_t[]> mem[(int)Phys::COUNT];
    size_t used[(int)Phys::COUNT] = {};
    std::vector<AllocState> allocs;
    uint64_t seq = 0;
    uint64_t synced[(int)Pipe::COUNT][(int)Pipe::COUNT] = {};
    std::map<int, uint64_t> pipe_flags;  // key (from * 8 + to) * 64 + id -> seq at SetFlag
    AtomicType atomic = ATOMIC_NONE;
    Clock clock;
};

struct FlagBox {  // pending signals of one flag id in one direction, each with the setter's clock
    std::deque<Clock> q;
};

struct BlockSync {
    std::mutex mu;
    std::condition_variable cv;
    FlagBox to_aiv[2][kMaxFlag];
    FlagBox to_aic[2][kMaxFlag];
};

struct GmRec {
    uintptr_t end;
    int writer;
    uint32_t epoch;
    bool atomic;
    std::vector<std::pair<int, uint32_t>> readers;
};

struct LaunchState {
    uint32_t block_dim;
    std::vector<std::unique_ptr<Core>> cores;
    std::vector<std::unique_ptr<BlockSync>> blocks;
    std::atomic<bool> abort{false};
    std::mutex err_mu;
    std::string first_error;
    // SyncAll barrier over all AIV cores
    std::mutex bar_mu;
    std::condition_variable bar_cv;
    int bar_count = 0;
    uint64_t bar_gen = 0;
    Clock bar_clock, bar_result;
    // GM shadow map for the race detector
    std::mutex gm_mu;
    std::map<uintptr_t, GmRec> gm;
};

static thread_local Core *t_core = nullptr;
static std::mutex g_atomic_mu;

static std::string CoreName(const Core *c) {
    char b[64];
    if (!c) return "host";
    if (c->kind == CoreKind::AIC) snprintf(b, sizeof b, "AIC of block %d", c->block);
    else snprintf(b, sizeof b, "AIV%d of block %d", c->sub, c->block);
    return b;
}

void Fail(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw EmuError(CoreName(t_core) + ": " + buf);
}

const char *PhysName(Phys p) { return kPhysName[(int)p]; }
const char *PipeName(Pipe p) { return p == Pipe::NONE ? "none" : kPipeName[(int)p]; }
size_t PhysCapacity(Phys p) { return kCapacity[(int)p]; }
size_t PhysAlign(Phys p) { return kAlign[(int)p]; }

Core *Cur() {
    if (!t_core) Fail("Ascend C API called outside a kernel launch");
    return t_core;
}
CoreKind KindOf(Core *c) { return c->kind; }
int BlockIdx(Core *c) { return c->kind == CoreKind::AIC ? c->block : 2 * c->block + c->sub; }
int SubIdx(Core *c) { return c->sub; }
int BlockDim(Core *c) { return (int)c->launch->block_dim; }

static bool Owns(const Core *c, Phys p) {
    return c->kind == CoreKind::AIV ? p == Phys::UB : p != Phys::UB;
}

uint8_t *ArenaBase(Core *c, Phys p) {
    if (!Owns(c, p)) Fail("%s does not exist on this core type", PhysName(p));
    return c->mem[(int)p].get();
}

size_t ArenaAlloc(Core *c, Phys p, size_t bytes, const char *what) {
    if (!Owns(c, p))
        Fail("%s: buffer position maps to %s, which an %s core does not have", what, PhysName(p),
             c->kind == CoreKind::AIC ? "AIC (Cube)" : "AIV (Vector)");
    if (bytes == 0) Fail("%s: zero-length buffer", what);
    size_t a = kAlign[(int)p];
    size_t off = (c->used[(int)p] + a - 1) / a * a;
    if (off + bytes > kCapacity[(int)p])
        Fail("%s: %s overflow: %zu bytes requested at offset %zu, capacity %zu", what, PhysName(p), bytes, off,
             kCapacity[(int)p]);
    c->used[(int)p] = off + bytes;
    return off;
}

int NewAlloc(Core *c) {
    c->allocs.emplace_back();
    return (int)c->allocs.size() - 1;
}

void NoteWrite(Core *c, int alloc, Pipe p) {
    if (alloc < 0) return;
    AllocState &s = c->allocs[alloc];
    // WAR: another pipe may still be reading the old contents unless a sync from it came since.
    for (int r = 0; r < (int)Pipe::COUNT; r++)
        if (r != (int)p && s.read_seq[r] && s.read_seq[r] > c->synced[r][(int)p])
            Fail("pipe %s overwrites a buffer pipe %s read with no synchronisation in between "
                 "(SetFlag/WaitFlag<HardEvent::%s_%s>, or a TQue FreeTensor/AllocTensor cycle)",
                 PipeName(p), PipeName((Pipe)r), PipeName((Pipe)r), PipeName(p));
    s.last_write = p;
    s.write_seq = ++c->seq;
}

void CheckRead(Core *c, int alloc, Pipe p, const char *op) {
    if (alloc < 0) return;
    AllocState &s = c->allocs[alloc];
    s.read_seq[(int)p] = ++c->seq;
    if (s.last_write == Pipe::NONE || s.last_write == p) return;
    if (s.write_seq <= c->synced[(int)s.last_write][(int)p]) return;
    Fail("%s on pipe %s reads a buffer last written on pipe %s with no synchronisation in between "
         "(EnQue/DeQue, or SetFlag/WaitFlag<HardEvent::%s_%s>)",
         op, PipeName(p), PipeName(s.last_write), PipeName(s.last_write), PipeName(p));
}

void QueueSynced(Core *c, int alloc) {
    if (alloc >= 0) c->allocs[alloc].last_write = Pipe::NONE;
}

void QueueRecycled(Core *c, int alloc) {
    if (alloc < 0) return;
    for (auto &r : c->allocs[alloc].read_seq) r = 0;  // AllocTensor waits for the buffer's last users
}

static int FlagKey(Pipe f, Pipe t, int id) { return (((int)f * 8 + (int)t) * 64) + id; }

void SetPipeFlag(Core *c, Pipe from, Pipe to, int id) {
    int k = FlagKey(from, to, id);
    if (c->pipe_flags.count(k))
        Fail("SetFlag<HardEvent::%s_%s>(%d) set again before its WaitFlag", PipeName(from), PipeName(to), id);
    c->pipe_flags[k] = c->seq;
}

void WaitPipeFlag(Core *c, Pipe from, Pipe to, int id) {
    auto it = c->pipe_flags.find(FlagKey(from, to, id));
    if (it == c->pipe_flags.end())
        Fail("WaitFlag<HardEvent::%s_%s>(%d) with no SetFlag before it: the pipe would wait forever",
             PipeName(from), PipeName(to), id);
    uint64_t &s = c->synced[(int)from][(int)to];
    s = std::max(s, it->second);
    c->pipe_flags.erase(it);
}

void PipeBarrierAll(Core *c) {
    for (auto &row : c->synced)
        for (auto &v : row) v = c->seq;
}

void SetAtomic(Core *c, AtomicType t) { c->atomic = t; }
AtomicType GetAtomic(Core *c) { return c->atomic; }
void LockAtomic() { g_atomic_mu.lock(); }
void UnlockAtomic() { g_atomic_mu.unlock(); }

// ---- cross-core flags ---------------------------------------------------------------------------

static void CheckFlagId(int flag) {
    if (flag < 0 || flag >= kMaxFlag) Fail("cross-core flag id %d out of range [0, %d)", flag, kMaxFlag);
}

static void Push(Core *c, FlagBox &box, int flag) {
    if ((int)box.q.size() >= kMaxPending)
        Fail("CrossCoreSetFlag(%d): more than %d signals pending (the consumer never waits?)", flag, kMaxPending);
    box.q.push_back(c->clock);
}

void CrossSet(Core *c, int flag) {
    CheckFlagId(flag);
    BlockSync &b = *c->launch->blocks[c->block];
    // A release: the signal covers every access made so far (epoch <= old value); later accesses of
    // this core carry the new epoch and are not covered.
    c->clock[c->id]++;
    {
        std::lock_guard<std::mutex> g(b.mu);
        if (c->kind == CoreKind::AIC) {
            Push(c, b.to_aiv[0][flag], flag);
            Push(c, b.to_aiv[1][flag], flag);
        } else {
            Push(c, b.to_aic[c->sub][flag], flag);
        }
    }
    b.cv.notify_all();
}

template <class Ready>
static void WaitUntil(Core *c, std::unique_lock<std::mutex> &lk, std::condition_variable &cv, Ready ready,
                      const char *what, int flag) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(TimeoutMs());
    while (!ready()) {
        if (c->launch->abort.load()) throw EmuError("");  // another core failed: unwind quietly
        if (std::chrono::steady_clock::now() > deadline)
            Fail("deadlock: %s(%d) waited %d ms for a signal that never came", what, flag, TimeoutMs());
        cv.wait_for(lk, std::chrono::milliseconds(20));
    }
}

void CrossWait(Core *c, int flag) {
    CheckFlagId(flag);
    BlockSync &b = *c->launch->blocks[c->block];
    std::unique_lock<std::mutex> lk(b.mu);
    if (c->kind == CoreKind::AIC) {
        FlagBox &a = b.to_aic[0][flag], &v = b.to_aic[1][flag];
        WaitUntil(c, lk, b.cv, [&] { return !a.q.empty() && !v.q.empty(); }, "CrossCoreWaitFlag", flag);
        Join(c->clock, a.q.front());
        Join(c->clock, v.q.front());
        a.q.pop_front();
        v.q.pop_front();
    } else {
        FlagBox &a = b.to_aiv[c->sub][flag];
        WaitUntil(c, lk, b.cv, [&] { return !a.q.empty(); }, "CrossCoreWaitFlag", flag);
        Join(c->clock, a.q.front());
        a.q.pop_front();
    }
}

void SyncAllAiv(Core *c) {
    if (c->kind != CoreKind::AIV) Fail("SyncAll is emulated for the AIV cores of a mixed kernel only");
    LaunchState &L = *c->launch;
    std::unique_lock<std::mutex> lk(L.bar_mu);
    uint64_t gen = L.bar_gen;
    c->clock[c->id]++;  // release, as in CrossSet
    if (L.bar_count == 0) L.bar_clock.assign(c->clock.size(), 0);
    Join(L.bar_clock, c->clock);
    if (++L.bar_count == (int)(2 * L.block_dim)) {
        L.bar_count = 0;
        L.bar_result = L.bar_clock;
        L.bar_gen++;
        L.bar_cv.notify_all();
    } else {
        WaitUntil(c, lk, L.bar_cv, [&] { return L.bar_gen != gen; }, "SyncAll", 0);
    }
    Join(c->clock, L.bar_result);
}

// ---- GM race detector ---------------------------------------------------------------------------
// Records which core last wrote each GM byte range (with its vector-clock epoch) and who read it
// since. An access is a race when the two cores are not ordered by a cross-core flag or SyncAll.

// writer == -1: a range only read so far (kept so that a later write by another core can be
// checked against those reads).
static bool Ordered(const Core *c, int other, uint32_t epoch) {
    return other < 0 || other == c->id || c->clock[other] > epoch;
}

static std::string NameOf(LaunchState &L, int id) { return CoreName(L.cores[id].get()); }

// Cut the record containing address x (if any starts before x and ends after it) in two at x.
static void SplitAt(std::map<uintptr_t, GmRec> &gm, uintptr_t x) {
    auto it = gm.upper_bound(x);
    if (it == gm.begin()) return;
    --it;
    if (it->first < x && it->second.end > x) {
        GmRec tail = it->second;
        it->second.end = x;
        gm.emplace(x, std::move(tail));
    }
}

static void AddReader(GmRec &r, const Core *c) {
    for (auto &rd : r.readers)
        if (rd.first == c->id) { rd.second = c->clock[c->id]; return; }
    r.readers.push_back({c->id, c->clock[c->id]});
}

void GmRead(Core *c, const void *p, size_t n, const char *op) {
    if (n == 0) return;
    LaunchState &L = *c->launch;
    uintptr_t a = (uintptr_t)p, e = a + n;
    std::lock_guard<std::mutex> g(L.gm_mu);
    SplitAt(L.gm, a);
    SplitAt(L.gm, e);
    uintptr_t cursor = a;
    std::vector<std::pair<uintptr_t, uintptr_t>> gaps;
    for (auto it = L.gm.lower_bound(a); it != L.gm.end() && it->first < e; ++it) {
        GmRec &r = it->second;
        if (!Ordered(c, r.writer, r.epoch))
            Fail("GM race: %s reads [%p, +%zu) written by %s with no cross-core flag in between", op, p, n,
                 NameOf(L, r.writer).c_str());
        AddReader(r, c);
        if (it->first > cursor) gaps.push_back({cursor, it->first});
        cursor = r.end;
    }
    if (cursor < e) gaps.push_back({cursor, e});
    for (auto &gp : gaps) {
        // Extend the read-only record just before the gap when it holds exactly this read.
        auto prev = L.gm.lower_bound(gp.first);
        if (prev != L.gm.begin()) {
            --prev;
            GmRec &r = prev->second;
            if (r.end == gp.first && r.writer < 0 && r.readers.size() == 1 && r.readers[0].first == c->id &&
                r.readers[0].second == c->clock[c->id]) {
                r.end = gp.second;
                continue;
            }
        }
        L.gm.emplace(gp.first, GmRec{gp.second, -1, 0, false, {{c->id, c->clock[c->id]}}});
    }
}

void GmWrite(Core *c, const void *p, size_t n, const char *op) {
    if (n == 0) return;
    LaunchState &L = *c->launch;
    uintptr_t a = (uintptr_t)p, e = a + n;
    bool atomic = c->atomic != ATOMIC_NONE;
    std::lock_guard<std::mutex> g(L.gm_mu);
    SplitAt(L.gm, a);
    SplitAt(L.gm, e);
    auto it = L.gm.lower_bound(a);
    while (it != L.gm.end() && it->first < e) {
        GmRec &r = it->second;
        if (!Ordered(c, r.writer, r.epoch) && !(atomic && r.atomic))
            Fail("GM race: %s writes [%p, +%zu) also written by %s with no cross-core flag in between", op, p, n,
                 NameOf(L, r.writer).c_str());
        for (auto &rd : r.readers)
            if (!Ordered(c, rd.first, rd.second))
                Fail("GM race: %s overwrites [%p, +%zu) while %s may still read it (no cross-core flag in between)",
                     op, p, n, NameOf(L, rd.first).c_str());
        it = L.gm.erase(it);
    }
    L.gm.emplace(a, GmRec{e, c->id, c->clock[c->id], atomic, {}});
}

// ---- launch -------------------------------------------------------------------------------------

void SetTimeoutMs(int ms) { g_timeout_ms = ms; }

static void RunCore(Core *c, KernelFn fn, void *const *args) {
    t_core = c;
    LaunchState &L = *c->launch;
    try {
        fn(args);
    } catch (const EmuError &e) {
        if (!e.msg.empty()) {
            std::lock_guard<std::mutex> g(L.err_mu);
            if (L.first_error.empty()) L.first_error = e.msg;
        }
        L.abort = true;
    } catch (const std::exception &e) {
        std::lock_guard<std::mutex> g(L.err_mu);
        if (L.first_error.empty()) L.first_error = CoreName(c) + ": " + e.what();
        L.abort = true;
    }
    t_core = nullptr;
}

static std::string LeftoverFlags(LaunchState &L) {
    for (uint32_t b = 0; b < L.block_dim; b++)
        for (int s = 0; s < 2; s++)
            for (int f = 0; f < kMaxFlag; f++) {
                size_t n1 = L.blocks[b]->to_aiv[s][f].q.size(), n2 = L.blocks[b]->to_aic[s][f].q.size();
                if (n1 || n2) {
                    char m[200];
                    snprintf(m, sizeof m, "kernel ended with cross-core flag %d still set in block %d (%zu to AIV%d, %zu from it)",
                             f, b, n1, s, n2);
                    return m;
                }
            }
    return "";
}

int Launch(KernelFn fn, uint32_t block_dim, void *const *args, char *err, size_t err_len) {
    if (block_dim == 0 || block_dim > 4096) {
        snprintf(err, err_len, "block_dim %u out of range [1, 4096]", block_dim);
        return 2;
    }
    LaunchState L;
    L.block_dim = block_dim;
    int ncores = 3 * (int)block_dim;
    for (uint32_t b = 0; b < block_dim; b++) {
        L.blocks.emplace_back(new BlockSync);
        for (int k = 0; k < 3; k++) {
            auto c = std::make_unique<Core>();
            c->launch = &L;
            c->kind = k == 0 ? CoreKind::AIC : CoreKind::AIV;
            c->block = (int)b;
            c->sub = k == 0 ? 0 : k - 1;
            c->id = (int)b * 3 + k;
            c->clock.assign(ncores, 0);
            for (int p = 0; p < (int)Phys::COUNT; p++) {
                if (!Owns(c.get(), (Phys)p)) continue;
                c->mem[p].reset(new uint8_t[kCapacity[p]]);
                memset(c->mem[p].get(), 0xFF, kCapacity[p]);  // poison: NaN in every float type
            }
            L.cores.push_back(std::move(c));
        }
    }
    std::vector<std::thread> threads;
    threads.reserve(ncores);
    for (auto &c : L.cores) threads.emplace_back(RunCore, c.get(), fn, args);
    for (auto &t : threads) t.join();
    std::string msg = L.first_error;
    if (msg.empty()) msg = LeftoverFlags(L);
    if (!msg.empty()) {
        snprintf(err, err_len, "%s", msg.c_str());
        return 3;
    }
    if (err_len) err[0] = 0;
    return 0;
}

}  // namespace ascendc_emu
