// Planted faults: each case runs a tiny kernel through the emulator and expects the launch to fail
// with a specific message (and each fault's corrected twin to pass), so every strictness check is
// shown to fire. Also: atomic-add semantics across cores, NaN poisoning, deadlock detection.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_operator.h"

using namespace AscendC;
using ascendc_emu::KernelFn;

static int g_fail = 0, g_run = 0;

static void Expect(const char *name, KernelFn fn, uint32_t blocks, void *const *args, const char *want) {
    char err[1024] = {0};
    int rc = ascendc_emu::Launch(fn, blocks, args, err, sizeof err);
    g_run++;
    bool ok = want ? (rc != 0 && strstr(err, want) != nullptr) : rc == 0;
    if (!ok) g_fail++;
    printf("%s %-44s %s%s\n", ok ? "ok  " : "FAIL", name, want ? "-> " : "passes", want ? err : (rc ? err : ""));
}

#define AIV_ONLY if (!ASCEND_IS_AIV || GetSubBlockIdx() != 0) return
#define AIC_ONLY if (!ASCEND_IS_AIC) return

static float g_gm[4096];
static int32_t g_gmi[64];

int main() {
    ascendc_emu::SetTimeoutMs(1000);  // the deadlock cases wait this long
    void *args[2] = {g_gm, g_gmi};

    // ---- capacities (Ascend 910B) ----
    Expect("UB capacity 192 KiB", +[](void *const *) { AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 200 * 1024); }, 1, args, "UB overflow");
    Expect("UB 2 x 96 KiB fits exactly", +[](void *const *) { AIV_ONLY; TPipe p; TQue<TPosition::VECIN, 1> q; p.InitBuffer(q, 2, 96 * 1024); }, 1, args, nullptr);
    Expect("L1 capacity 512 KiB", +[](void *const *) { AIC_ONLY; TPipe p; TBuf<TPosition::A1> a, b; p.InitBuffer(a, 300 * 1024); p.InitBuffer(b, 300 * 1024); }, 1, args, "L1 overflow");
    Expect("L0A capacity 64 KiB", +[](void *const *) { AIC_ONLY; TPipe p; TQue<TPosition::A2, 1> q; p.InitBuffer(q, 2, 40 * 1024); }, 1, args, "L0A overflow");
    Expect("L0B capacity 64 KiB", +[](void *const *) { AIC_ONLY; TPipe p; TQue<TPosition::B2, 1> q; p.InitBuffer(q, 3, 32 * 1024); }, 1, args, "L0B overflow");
    Expect("L0C capacity 128 KiB", +[](void *const *) { AIC_ONLY; TPipe p; TQue<TPosition::CO1, 1> q; p.InitBuffer(q, 2, 65 * 1024); }, 1, args, "L0C overflow");
    Expect("UB does not exist on the AIC", +[](void *const *) { AIC_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024); }, 1, args, "AIC (Cube) core does not have");
    Expect("L0A does not exist on an AIV", +[](void *const *) { AIV_ONLY; TPipe p; TBuf<TPosition::A2> b; p.InitBuffer(b, 1024); }, 1, args, "AIV (Vector) core does not have");

    // ---- alignment and granularity ----
    Expect("DataCopy of 3 floats (12 bytes)", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        DataCopy(b.Get<float>(), g, 3); }, 1, args, "not a multiple of 32");
    Expect("DataCopyPad of 3 floats", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        DataCopyExtParams e; e.blockLen = 12; DataCopyPad(b.Get<float>(), g, e, DataCopyPadExtParams<float>{}); }, 1, args, nullptr);
    Expect("vector operand not 32-byte aligned", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        LocalTensor<float> t = b.Get<float>(); Duplicate(t, 1.0f, 64); Adds(t[3], t[3], 1.0f, 8); }, 1, args, "not 32-byte aligned");
    Expect("L0A operand not 512-byte aligned", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A1> a1; TBuf<TPosition::A2> a2; p.InitBuffer(a1, 4096); p.InitBuffer(a2, 4096);
        LoadData2DParams d; d.repeatTimes = 1; LoadData(a2.Get<half>()[64], a1.Get<half>(), d); }, 1, args, "not 512-byte aligned");
    Expect("GM access past SetGlobalBuffer's size", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 16); DataCopy(b.Get<float>(), g, 32); }, 1, args, "beyond the GlobalTensor");
    Expect("CompareScalar count not 256-byte aligned", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b, m; p.InitBuffer(b, 1024); p.InitBuffer(m, 256);
        Duplicate(b.Get<float>(), 0.0f, 256); CompareScalar(m.Get<uint8_t>(), b.Get<float>(), 1.0f, CMPMODE::LT, 40); }, 1, args, "multiple of 256");

    // ---- queues ----
    Expect("DeQue on an empty queue", +[](void *const *) { AIV_ONLY; TPipe p; TQue<TPosition::VECIN, 1> q; p.InitBuffer(q, 2, 1024); q.DeQue<float>(); }, 1, args, "DeQue on an empty");
    Expect("EnQue beyond depth 1", +[](void *const *) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECIN, 1> q; p.InitBuffer(q, 2, 1024);
        auto a = q.AllocTensor<float>(); auto b = q.AllocTensor<float>(); q.EnQue(a); q.EnQue(b); }, 1, args, "beyond the VECIN queue's depth 1");
    Expect("AllocTensor with every buffer in use", +[](void *const *) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECOUT, 2> q; p.InitBuffer(q, 2, 1024);
        q.AllocTensor<float>(); q.AllocTensor<float>(); q.AllocTensor<float>(); }, 1, args, "all 2 buffers");
    Expect("FreeTensor twice", +[](void *const *) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECOUT, 2> q; p.InitBuffer(q, 2, 1024);
        auto a = q.AllocTensor<float>(); q.FreeTensor(a); q.FreeTensor(a); }, 1, args, "double free");

    // ---- pipe hazards inside a core ----
    Expect("MTE2 write, V read, no sync", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        DataCopy(b.Get<float>(), g, 64); Adds(b.Get<float>(), b.Get<float>(), 1.0f, 64); }, 1, args, "no synchronisation");
    Expect("... with SetFlag/WaitFlag<MTE2_V>", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        DataCopy(b.Get<float>(), g, 64); SetFlag<HardEvent::MTE2_V>(0); WaitFlag<HardEvent::MTE2_V>(0);
        Adds(b.Get<float>(), b.Get<float>(), 1.0f, 64); }, 1, args, nullptr);
    Expect("... with EnQue/DeQue", +[](void *const *a) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECIN, 1> q; p.InitBuffer(q, 1, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        auto t = q.AllocTensor<float>(); DataCopy(t, g, 64); q.EnQue(t); t = q.DeQue<float>();
        Adds(t, t, 1.0f, 64); q.FreeTensor(t); }, 1, args, nullptr);
    Expect("V write, scalar GetValue, no V_S sync", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        Duplicate(b.Get<float>(), 2.0f, 64); (void)b.Get<float>().GetValue(0); }, 1, args, "no synchronisation");
    Expect("V write, UB->GM copy, no V_MTE3 sync", +[](void *const *a) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        Duplicate(b.Get<float>(), 2.0f, 64); DataCopy(g, b.Get<float>(), 64); }, 1, args, "no synchronisation");
    Expect("WaitFlag with no SetFlag", +[](void *const *) { AIV_ONLY; WaitFlag<HardEvent::V_S>(3); }, 1, args, "with no SetFlag");
    Expect("MTE1 write to L0A, Mmad, no MTE1_M sync", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A1> a1; TBuf<TPosition::A2> a2; TBuf<TPosition::B2> b2; TBuf<TPosition::CO1> c;
        p.InitBuffer(a1, 512); p.InitBuffer(a2, 512); p.InitBuffer(b2, 512); p.InitBuffer(c, 1024);
        InitConstValueParams<half> z; z.blockNum = 16; z.initValue = (half)1.0f; InitConstValue(a1.Get<half>(), z);
        SetFlag<HardEvent::MTE2_MTE1>(0); WaitFlag<HardEvent::MTE2_MTE1>(0);
        LoadData2DParams d; d.repeatTimes = 1; LoadData(a2.Get<half>(), a1.Get<half>(), d); LoadData(b2.Get<half>(), a1.Get<half>(), d);
        MmadParams m; m.m = 16; m.n = 16; m.k = 16; Mmad(c.Get<float>(), a2.Get<half>(), b2.Get<half>(), m); }, 1, args, "no synchronisation");

    Expect("L1 reloaded while LoadData read it (WAR)", +[](void *const *a) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A1> a1; TBuf<TPosition::A2> a2; p.InitBuffer(a1, 512); p.InitBuffer(a2, 512);
        GlobalTensor<half> g; g.SetGlobalBuffer((half *)a[0], 4096);
        DataCopy(a1.Get<half>(), g, 256); SetFlag<HardEvent::MTE2_MTE1>(0); WaitFlag<HardEvent::MTE2_MTE1>(0);
        LoadData2DParams d; d.repeatTimes = 1; LoadData(a2.Get<half>(), a1.Get<half>(), d);
        DataCopy(a1.Get<half>(), g, 256); }, 1, args, "pipe MTE2 overwrites a buffer pipe MTE1 read");
    Expect("... with SetFlag/WaitFlag<MTE1_MTE2>", +[](void *const *a) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A1> a1; TBuf<TPosition::A2> a2; p.InitBuffer(a1, 512); p.InitBuffer(a2, 512);
        GlobalTensor<half> g; g.SetGlobalBuffer((half *)a[0], 4096);
        DataCopy(a1.Get<half>(), g, 256); SetFlag<HardEvent::MTE2_MTE1>(0); WaitFlag<HardEvent::MTE2_MTE1>(0);
        LoadData2DParams d; d.repeatTimes = 1; LoadData(a2.Get<half>(), a1.Get<half>(), d);
        SetFlag<HardEvent::MTE1_MTE2>(0); WaitFlag<HardEvent::MTE1_MTE2>(0);
        DataCopy(a1.Get<half>(), g, 256); }, 1, args, nullptr);
    Expect("scalar read, vector overwrite, no S_V sync", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        Duplicate(b.Get<float>(), 2.0f, 64); SetFlag<HardEvent::V_S>(0); WaitFlag<HardEvent::V_S>(0);
        (void)b.Get<float>().GetValue(0); Duplicate(b.Get<float>(), 3.0f, 64); }, 1, args, "pipe V overwrites a buffer pipe S read");

    // ---- Cube dtype and shape rules ----
    Expect("Mmad with float inputs", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A2> a; TBuf<TPosition::B2> b; TBuf<TPosition::CO1> c;
        p.InitBuffer(a, 1024); p.InitBuffer(b, 1024); p.InitBuffer(c, 1024);
        MmadParams m; m.m = 16; m.n = 16; m.k = 8; Mmad(c.Get<float>(), a.Get<float>(), b.Get<float>(), m); }, 1, args, "input type float not emulated");
    Expect("Mmad half x bf16", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A2> a; TBuf<TPosition::B2> b; TBuf<TPosition::CO1> c;
        p.InitBuffer(a, 512); p.InitBuffer(b, 512); p.InitBuffer(c, 1024);
        MmadParams m; m.m = 16; m.n = 16; m.k = 16; Mmad(c.Get<float>(), a.Get<half>(), b.Get<bfloat16_t>(), m); }, 1, args, "both must be the same");
    Expect("Mmad accumulating in half", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A2> a; TBuf<TPosition::B2> b; TBuf<TPosition::CO1> c;
        p.InitBuffer(a, 512); p.InitBuffer(b, 512); p.InitBuffer(c, 1024);
        MmadParams m; m.m = 16; m.n = 16; m.k = 16; Mmad(c.Get<half>(), a.Get<half>(), b.Get<half>(), m); }, 1, args, "accumulate in float");
    Expect("Mmad m=17 needs two 16-row fractals", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A2> a; TBuf<TPosition::B2> b; TBuf<TPosition::CO1> c;
        p.InitBuffer(a, 512); p.InitBuffer(b, 512); p.InitBuffer(c, 4096);
        MmadParams m; m.m = 17; m.n = 16; m.k = 16; Mmad(c.Get<float>(), a.Get<half>(), b.Get<half>(), m); }, 1, args, "A (m16 x k16 fractals) tensor has 256 elements, 512 needed");
    Expect("Mmad operand at the wrong position", +[](void *const *) {
        AIC_ONLY; TPipe p; TBuf<TPosition::A1> a; TBuf<TPosition::B2> b; TBuf<TPosition::CO1> c;
        p.InitBuffer(a, 512); p.InitBuffer(b, 512); p.InitBuffer(c, 1024);
        MmadParams m; m.m = 16; m.n = 16; m.k = 16; Mmad(c.Get<float>(), a.Get<half>(), b.Get<half>(), m); }, 1, args, "A must be at A2");
    Expect("bf16 arithmetic on the vector unit", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        Exp(b.Get<bfloat16_t>(), b.Get<bfloat16_t>(), 16); }, 1, args, "not supported by the 910B vector unit");

    // ---- atomics ----
    Expect("SetAtomicAdd<float> while writing int32", +[](void *const *a) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECOUT, 1> q; p.InitBuffer(q, 1, 1024);
        GlobalTensor<int32_t> g; g.SetGlobalBuffer((int32_t *)a[1], 64);
        auto t = q.AllocTensor<int32_t>(); Duplicate(t, 1, 8); q.EnQue(t); t = q.DeQue<int32_t>();
        SetAtomicAdd<float>(); DataCopy(g, t, 8); }, 1, args, "SetAtomicAdd of another dtype");
    memset(g_gm, 0, sizeof g_gm);
    Expect("atomic add: 8 AIV x 100 adds of 1.0", +[](void *const *a) {
        if (!ASCEND_IS_AIV) return;
        TPipe p; TQue<TPosition::VECOUT, 1> q; p.InitBuffer(q, 1, 1024);
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        auto t = q.AllocTensor<float>(); Duplicate(t, 1.0f, 64); q.EnQue(t); t = q.DeQue<float>();
        SetAtomicAdd<float>();
        for (int i = 0; i < 100; i++) DataCopy(g, t, 64);
        SetAtomicNone(); q.FreeTensor(t); }, 4, args, nullptr);
    {
        bool exact = true;
        for (int i = 0; i < 64; i++) exact &= g_gm[i] == 800.0f;
        g_run++;
        if (!exact) g_fail++;
        printf("%s %-44s every element == 800 (got %g)\n", exact ? "ok  " : "FAIL", "atomic add result", g_gm[0]);
    }
    Expect("int32 atomic add is the AMLA rescale on GM", +[](void *const *a) {
        AIV_ONLY; TPipe p; TQue<TPosition::VECOUT, 1> q; p.InitBuffer(q, 1, 1024);
        GlobalTensor<float> f; f.SetGlobalBuffer((float *)a[0], 4096);
        f.SetValue(0, 3.0f); f.SetValue(1, 0.0f);
        GlobalTensor<int32_t> g; g.SetGlobalBuffer((int32_t *)a[0], 4096);
        auto t = q.AllocTensor<int32_t>(); Duplicate(t, (int32_t)(-2 * (1 << 23)), 8); q.EnQue(t); t = q.DeQue<int32_t>();
        SetAtomicAdd<int32_t>(); DataCopy(g, t, 8); SetAtomicNone();
        if (f.GetValue(0) != 0.75f) Fail("3.0 * 2^-2 should be 0.75, got %g", f.GetValue(0));
        if (!std::isinf(f.GetValue(1)) && f.GetValue(1) > -1e38f) Fail("expected 0 to be corrupted");
        Fail("PLANTED: 3.0 became %g, and 0.0 became %g (why the kernel guards zeros)", f.GetValue(0), f.GetValue(1)); }, 1, args,
           "PLANTED: 3.0 became 0.75, and 0.0 became -1.70141e+38");

    // ---- cross-core synchronisation ----
    Expect("AIC writes GM, AIV reads, no flag", +[](void *const *a) {
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        if (ASCEND_IS_AIC) g.SetValue(5, 1.0f);
        else { volatile float x = g.GetValue(5); (void)x; } }, 1, args, "GM race");
    Expect("... with CrossCoreSetFlag/WaitFlag", +[](void *const *a) {
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        if (ASCEND_IS_AIC) { g.SetValue(5, 1.0f); CrossCoreSetFlag<2, PIPE_S>(3); }
        else { CrossCoreWaitFlag(3); if (g.GetValue(5) != 1.0f) Fail("value not visible"); } }, 1, args, nullptr);
    Expect("AIV overwrites GM the AIC still reads", +[](void *const *a) {
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        if (ASCEND_IS_AIC) { g.SetValue(7, 1.0f); CrossCoreSetFlag<2, PIPE_S>(1); CrossCoreWaitFlag(2); (void)g.GetValue(7); }
        else { CrossCoreWaitFlag(1); CrossCoreSetFlag<2, PIPE_S>(2); if (GetSubBlockIdx() == 0) g.SetValue(7, 2.0f); } }, 1, args, "GM race");
    Expect("two blocks write one GM word, no atomics", +[](void *const *a) {
        if (!ASCEND_IS_AIC) return;
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096); g.SetValue(9, (float)GetBlockIdx()); }, 2, args, "GM race");
    Expect("AIV waits for a flag never set (deadlock)", +[](void *const *) { if (ASCEND_IS_AIV) CrossCoreWaitFlag(4); }, 1, args, "deadlock");
    Expect("AIC waits for one AIV only", +[](void *const *) {
        if (ASCEND_IS_AIC) CrossCoreWaitFlag(6); else if (GetSubBlockIdx() == 0) CrossCoreSetFlag<2, PIPE_V>(6); }, 1, args, "deadlock");
    Expect("16 signals without a wait", +[](void *const *) {
        if (ASCEND_IS_AIC) for (int i = 0; i < 16; i++) CrossCoreSetFlag<2, PIPE_FIX>(0); }, 1, args, "more than 15");
    Expect("flag left set at kernel end", +[](void *const *) { if (ASCEND_IS_AIC) CrossCoreSetFlag<2, PIPE_FIX>(8); }, 1, args, "still set");
    Expect("SyncAll orders AIV cores across blocks", +[](void *const *a) {
        if (!ASCEND_IS_AIV) return;
        GlobalTensor<float> g; g.SetGlobalBuffer((float *)a[0], 4096);
        g.SetValue(100 + GetBlockIdx(), 1.0f); SyncAll();
        float s = 0; for (int i = 0; i < 2 * GetBlockNum(); i++) s += g.GetValue(100 + i);
        if (s != 2.0f * GetBlockNum()) Fail("sum %g", s); }, 3, args, nullptr);

    // ---- poison ----
    Expect("local memory starts as NaN (poisoned)", +[](void *const *) {
        AIV_ONLY; TPipe p; TBuf<TPosition::VECCALC> b; p.InitBuffer(b, 1024);
        if (!std::isnan(b.Get<float>().GetValue(3))) Fail("not poisoned"); }, 1, args, nullptr);
    Expect("API outside a kernel", +[](void *const *) {}, 1, args, nullptr);
    {
        bool threw = false;
        try { (void)GetBlockIdx(); } catch (const ascendc_emu::EmuError &e) { threw = strstr(e.what(), "outside a kernel") != nullptr; }
        g_run++;
        if (!threw) g_fail++;
        printf("%s %-44s\n", threw ? "ok  " : "FAIL", "GetBlockIdx on the host throws");
    }
    printf(g_fail ? "%d of %d FAILED\n" : "all %d emulator checks passed\n", g_fail ? g_fail : g_run, g_run);
    return g_fail ? 1 : 0;
}
