/*
 * kernel_operator.h (EMULATION): the subset of the Ascend C API that mla4j's kernel uses, for a
 * CPU build with gcc. On a real Ascend toolchain the kernel includes CANN's own kernel_operator.h
 * instead; nothing in this file is part of the kernel.
 *
 * Every instruction checks the documented rules and throws (via ascendc_emu::Fail) on a violation:
 * positions and physical buffers, per-core capacities, start-address alignment, 32-byte DataCopy
 * granularity, queue depth/ownership, Mmad dtypes and fractal shapes, atomic dtype, pipe hazards
 * (a read on one pipe of data written on another pipe with no sync in between), and GM races
 * between cores (see ascendc_emu.h). Semantics and limits: kernels-ascend/README.md, "Emulator".
 */
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <type_traits>
#include <vector>

#include "ascendc_emu.h"

#define __global__
#define __aicore__
#define __gm__
#define __inline__ inline
using GM_ADDR = __gm__ uint8_t *;

#define ASCEND_IS_AIC (::ascendc_emu::KindOf(::ascendc_emu::Cur()) == ::ascendc_emu::CoreKind::AIC)
#define ASCEND_IS_AIV (::ascendc_emu::KindOf(::ascendc_emu::Cur()) == ::ascendc_emu::CoreKind::AIV)
#define KERNEL_TASK_TYPE_DEFAULT(x)

// fp16: the compiler's IEEE binary16 (conversions round to nearest even).
using half = _Float16;

// bf16: storage type; the 910B vector unit only converts it (Cast), it does no bf16 arithmetic.
struct bfloat16_t {
    uint16_t bits;
    bfloat16_t() = default;
    explicit bfloat16_t(float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) bits = (uint16_t)((u >> 16) | 0x40);  // quiet NaN
        else bits = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);           // nearest even
    }
    explicit operator float() const {
        uint32_t u = (uint32_t)bits << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};

enum pipe_t { PIPE_S, PIPE_V, PIPE_M, PIPE_MTE1, PIPE_MTE2, PIPE_MTE3, PIPE_FIX, PIPE_ALL };

namespace AscendC {

using ascendc_emu::Fail;
using ascendc_emu::Phys;
using ascendc_emu::Pipe;

constexpr uint32_t ONE_BLK_SIZE = 32;     // UB block
constexpr uint32_t FRACTAL_BYTES = 512;   // one 16x16 fractal of a 2-byte type

enum class TPosition { GM, VECIN, VECOUT, VECCALC, A1, A2, B1, B2, CO1, CO2 };
using QuePosition = TPosition;

inline const char *PosName(TPosition p) {
    static const char *n[] = {"GM", "VECIN", "VECOUT", "VECCALC", "A1", "A2", "B1", "B2", "CO1", "CO2"};
    return n[(int)p];
}

inline Phys PhysOf(TPosition p) {
    switch (p) {
        case TPosition::VECIN: case TPosition::VECOUT: case TPosition::VECCALC: return Phys::UB;
        case TPosition::A1: case TPosition::B1: return Phys::L1;
        case TPosition::A2: return Phys::L0A;
        case TPosition::B2: return Phys::L0B;
        case TPosition::CO1: return Phys::L0C;
        default: Fail("position %s has no local buffer in this emulation", PosName(p));
    }
}

template <class T> struct DtName { static constexpr const char *v = "?"; };
template <> struct DtName<float> { static constexpr const char *v = "float"; };
template <> struct DtName<half> { static constexpr const char *v = "half"; };
template <> struct DtName<bfloat16_t> { static constexpr const char *v = "bfloat16_t"; };
template <> struct DtName<int32_t> { static constexpr const char *v = "int32_t"; };
template <> struct DtName<uint32_t> { static constexpr const char *v = "uint32_t"; };
template <> struct DtName<uint8_t> { static constexpr const char *v = "uint8_t"; };
template <> struct DtName<int16_t> { static constexpr const char *v = "int16_t"; };

// ---- tensors -------------------------------------------------------------------------------------

template <class T>
class LocalTensor {
public:
    T *addr_ = nullptr;
    uint32_t len_ = 0;  // elements from addr_ to the end of the allocation
    TPosition pos_ = TPosition::VECCALC;
    int alloc_ = -1;

    LocalTensor operator[](uint32_t off) const {
        if (off > len_) Fail("LocalTensor[%u] beyond its %u elements", off, len_);
        LocalTensor t = *this;
        t.addr_ += off;
        t.len_ -= off;
        return t;
    }
    uint32_t GetSize() const { return len_; }
    TPosition GetPosition() const { return pos_; }
    T GetValue(uint32_t i) const {
        if (i >= len_) Fail("GetValue(%u) beyond %u elements", i, len_);
        ascendc_emu::CheckRead(ascendc_emu::Cur(), alloc_, Pipe::S, "GetValue");
        return addr_[i];
    }
    void SetValue(uint32_t i, T v) const {
        if (i >= len_) Fail("SetValue(%u) beyond %u elements", i, len_);
        ascendc_emu::NoteWrite(ascendc_emu::Cur(), alloc_, Pipe::S);
        addr_[i] = v;
    }
    template <class U>
    LocalTensor<U> ReinterpretCast() const {
        LocalTensor<U> t;
        t.addr_ = reinterpret_cast<U *>(addr_);
        t.len_ = (uint32_t)((uint64_t)len_ * sizeof(T) / sizeof(U));
        t.pos_ = pos_;
        t.alloc_ = alloc_;
        return t;
    }
    // Byte offset of the start in its physical buffer (for the alignment rules).
    uint64_t PhyOffset() const {
        return (uint64_t)((uint8_t *)addr_ - ascendc_emu::ArenaBase(ascendc_emu::Cur(), PhysOf(pos_)));
    }
};

template <class T>
class GlobalTensor {
public:
    T *addr_ = nullptr;
    uint64_t size_ = 0;  // elements; 0 = unknown (no bounds check)

    void SetGlobalBuffer(__gm__ T *p, uint64_t size = 0) { addr_ = p; size_ = size; }
    GlobalTensor operator[](uint64_t off) const {
        if (size_ && off > size_) Fail("GlobalTensor[%llu] beyond its %llu elements", (unsigned long long)off, (unsigned long long)size_);
        GlobalTensor t = *this;
        t.addr_ += off;
        if (size_) t.size_ -= off;
        return t;
    }
    uint64_t GetSize() const { return size_; }
    __gm__ T *GetPhyAddr() const { return addr_; }
    T GetValue(uint64_t i) const {
        CheckRange(i, 1, "GetValue");
        ascendc_emu::GmRead(ascendc_emu::Cur(), addr_ + i, sizeof(T), "GlobalTensor::GetValue");
        return addr_[i];
    }
    void SetValue(uint64_t i, T v) const {
        CheckRange(i, 1, "SetValue");
        ascendc_emu::GmWrite(ascendc_emu::Cur(), addr_ + i, sizeof(T), "GlobalTensor::SetValue");
        addr_[i] = v;
    }
    void CheckRange(uint64_t off, uint64_t n, const char *op) const {
        if (!addr_) Fail("%s on a GlobalTensor with no buffer (SetGlobalBuffer missing)", op);
        if (size_ && off + n > size_)
            Fail("%s: elements [%llu, %llu) beyond the GlobalTensor's %llu", op, (unsigned long long)off,
                 (unsigned long long)(off + n), (unsigned long long)size_);
    }
};

// ---- memory management ---------------------------------------------------------------------------

template <TPosition pos, int32_t depth>
class TQue {
public:
    struct Slot { uint32_t off; bool in_use = false; bool queued = false; int alloc; };
    std::vector<Slot> slots_;
    std::deque<int> fifo_;
    uint32_t len_ = 0;

    template <class T>
    LocalTensor<T> AllocTensor() {
        if (slots_.empty()) Fail("AllocTensor on a %s queue that TPipe::InitBuffer never set up", PosName(pos));
        for (size_t i = 0; i < slots_.size(); i++)
            if (!slots_[i].in_use) {
                slots_[i].in_use = true;
                ascendc_emu::QueueRecycled(ascendc_emu::Cur(), slots_[i].alloc);
                return Make<T>((int)i);
            }
        Fail("AllocTensor: all %zu buffers of the %s queue are in use (FreeTensor missing?)", slots_.size(), PosName(pos));
    }
    template <class T>
    void EnQue(const LocalTensor<T> &t) {
        int i = Find(t, "EnQue");
        if (!slots_[i].in_use || slots_[i].queued) Fail("EnQue of a %s tensor that is not allocated or already queued", PosName(pos));
        if ((int)fifo_.size() >= depth) Fail("EnQue beyond the %s queue's depth %d", PosName(pos), depth);
        slots_[i].queued = true;
        fifo_.push_back(i);
    }
    template <class T>
    LocalTensor<T> DeQue() {
        if (fifo_.empty()) Fail("DeQue on an empty %s queue (no EnQue before it: hangs on hardware)", PosName(pos));
        int i = fifo_.front();
        fifo_.pop_front();
        slots_[i].queued = false;
        ascendc_emu::QueueSynced(ascendc_emu::Cur(), slots_[i].alloc);
        return Make<T>(i);
    }
    template <class T>
    void FreeTensor(const LocalTensor<T> &t) {
        int i = Find(t, "FreeTensor");
        if (!slots_[i].in_use) Fail("FreeTensor of a %s tensor that is not allocated (double free?)", PosName(pos));
        if (slots_[i].queued) Fail("FreeTensor of a %s tensor still in the queue", PosName(pos));
        slots_[i].in_use = false;
    }

private:
    template <class T>
    LocalTensor<T> Make(int i) {
        LocalTensor<T> t;
        t.addr_ = reinterpret_cast<T *>(ascendc_emu::ArenaBase(ascendc_emu::Cur(), PhysOf(pos)) + slots_[i].off);
        t.len_ = len_ / sizeof(T);
        t.pos_ = pos;
        t.alloc_ = slots_[i].alloc;
        return t;
    }
    template <class T>
    int Find(const LocalTensor<T> &t, const char *op) {
        uint8_t *base = ascendc_emu::ArenaBase(ascendc_emu::Cur(), PhysOf(pos));
        for (size_t i = 0; i < slots_.size(); i++)
            if ((uint8_t *)t.addr_ == base + slots_[i].off) return (int)i;
        Fail("%s: tensor does not start a buffer of this %s queue", op, PosName(pos));
    }
};

template <TPosition pos>
class TBuf {
public:
    uint32_t off_ = 0, len_ = 0;
    int alloc_ = -1;
    template <class T>
    LocalTensor<T> Get() const { return Get<T>(len_ / sizeof(T)); }
    template <class T>
    LocalTensor<T> Get(uint32_t n) const {
        if (!len_) Fail("TBuf::Get on a %s buffer that TPipe::InitBuffer never set up", PosName(pos));
        if (n * sizeof(T) > len_) Fail("TBuf::Get(%u) beyond the buffer's %u bytes", n, len_);
        LocalTensor<T> t;
        t.addr_ = reinterpret_cast<T *>(ascendc_emu::ArenaBase(ascendc_emu::Cur(), PhysOf(pos)) + off_);
        t.len_ = n;
        t.pos_ = pos;
        t.alloc_ = alloc_;
        return t;
    }
};

class TPipe {
public:
    template <TPosition pos, int32_t depth>
    void InitBuffer(TQue<pos, depth> &q, uint8_t num, uint32_t len) {
        if (num < 1) Fail("InitBuffer: a queue needs at least 1 buffer");
        if (!q.slots_.empty()) Fail("InitBuffer called twice on one queue");
        auto *c = ascendc_emu::Cur();
        q.len_ = len;
        for (int i = 0; i < num; i++) {
            typename TQue<pos, depth>::Slot s;
            s.off = (uint32_t)ascendc_emu::ArenaAlloc(c, PhysOf(pos), len, "TPipe::InitBuffer(TQue)");
            s.alloc = ascendc_emu::NewAlloc(c);
            q.slots_.push_back(s);
        }
    }
    template <TPosition pos>
    void InitBuffer(TBuf<pos> &b, uint32_t len) {
        if (b.len_) Fail("InitBuffer called twice on one TBuf");
        auto *c = ascendc_emu::Cur();
        b.off_ = (uint32_t)ascendc_emu::ArenaAlloc(c, PhysOf(pos), len, "TPipe::InitBuffer(TBuf)");
        b.len_ = len;
        b.alloc_ = ascendc_emu::NewAlloc(c);
    }
};

// ---- core identity -------------------------------------------------------------------------------

inline int64_t GetBlockIdx() { return ascendc_emu::BlockIdx(ascendc_emu::Cur()); }
inline int64_t GetBlockNum() { return ascendc_emu::BlockDim(ascendc_emu::Cur()); }
inline int64_t GetSubBlockIdx() { return ascendc_emu::SubIdx(ascendc_emu::Cur()); }
inline int64_t GetTaskRation() { return ASCEND_IS_AIV ? 2 : 1; }

// ---- synchronisation -----------------------------------------------------------------------------

enum class HardEvent { MTE2_V, V_MTE2, V_MTE3, MTE3_V, V_S, S_V, MTE2_S, S_MTE2, MTE3_S, S_MTE3, MTE2_MTE3, MTE3_MTE2,
                       MTE2_MTE1, MTE1_MTE2, MTE1_M, M_MTE1, M_FIX, FIX_M, FIX_MTE2, MTE2_FIX };

inline void EventPipes(HardEvent e, Pipe &f, Pipe &t) {
    static const Pipe tab[][2] = {
        {Pipe::MTE2, Pipe::V}, {Pipe::V, Pipe::MTE2}, {Pipe::V, Pipe::MTE3}, {Pipe::MTE3, Pipe::V}, {Pipe::V, Pipe::S},
        {Pipe::S, Pipe::V}, {Pipe::MTE2, Pipe::S}, {Pipe::S, Pipe::MTE2}, {Pipe::MTE3, Pipe::S}, {Pipe::S, Pipe::MTE3},
        {Pipe::MTE2, Pipe::MTE3}, {Pipe::MTE3, Pipe::MTE2}, {Pipe::MTE2, Pipe::MTE1}, {Pipe::MTE1, Pipe::MTE2},
        {Pipe::MTE1, Pipe::M}, {Pipe::M, Pipe::MTE1}, {Pipe::M, Pipe::FIX}, {Pipe::FIX, Pipe::M},
        {Pipe::FIX, Pipe::MTE2}, {Pipe::MTE2, Pipe::FIX}};
    f = tab[(int)e][0];
    t = tab[(int)e][1];
}

template <HardEvent e>
inline void SetFlag(int32_t id) {
    Pipe f, t;
    EventPipes(e, f, t);
    ascendc_emu::SetPipeFlag(ascendc_emu::Cur(), f, t, id);
}
template <HardEvent e>
inline void WaitFlag(int32_t id) {
    Pipe f, t;
    EventPipes(e, f, t);
    ascendc_emu::WaitPipeFlag(ascendc_emu::Cur(), f, t, id);
}
// Instructions of one pipe run in order; PIPE_ALL waits for every pipe.
template <pipe_t p>
inline void PipeBarrier() {
    if (p == PIPE_ALL) ascendc_emu::PipeBarrierAll(ascendc_emu::Cur());
}

// Mode 2: the AIC signals both AIVs of its block; the AIC's wait needs a signal from each AIV.
template <uint8_t modeId, pipe_t pipe>
inline void CrossCoreSetFlag(uint16_t flagId) {
    if (modeId != 2) Fail("CrossCoreSetFlag mode %d: only mode 2 (AIC <-> its 2 AIV) is emulated", modeId);
    ascendc_emu::CrossSet(ascendc_emu::Cur(), flagId);
}
inline void CrossCoreWaitFlag(uint16_t flagId) { ascendc_emu::CrossWait(ascendc_emu::Cur(), flagId); }
inline void SyncAll() { ascendc_emu::SyncAllAiv(ascendc_emu::Cur()); }

// ---- atomics ----------------------------------------------------------------------------------------

template <class T> struct AtomicTag;
template <> struct AtomicTag<float> { static constexpr ascendc_emu::AtomicType v = ascendc_emu::ATOMIC_F32; };
template <> struct AtomicTag<half> { static constexpr ascendc_emu::AtomicType v = ascendc_emu::ATOMIC_F16; };
template <> struct AtomicTag<bfloat16_t> { static constexpr ascendc_emu::AtomicType v = ascendc_emu::ATOMIC_BF16; };
template <> struct AtomicTag<int32_t> { static constexpr ascendc_emu::AtomicType v = ascendc_emu::ATOMIC_I32; };

template <class T>
inline void SetAtomicAdd() { ascendc_emu::SetAtomic(ascendc_emu::Cur(), AtomicTag<T>::v); }
inline void SetAtomicNone() { ascendc_emu::SetAtomic(ascendc_emu::Cur(), ascendc_emu::ATOMIC_NONE); }

namespace detail {
// The one path by which the emulated instructions write GM: plain, or atomic add in T's arithmetic.
template <class T>
inline void GmStore(T *dst, const T *src, size_t n, const char *op) {
    auto *c = ascendc_emu::Cur();
    auto mode = ascendc_emu::GetAtomic(c);
    ascendc_emu::GmWrite(c, dst, n * sizeof(T), op);
    if (mode == ascendc_emu::ATOMIC_NONE) {
        std::memmove(dst, src, n * sizeof(T));
        return;
    }
    if (mode != AtomicTag<T>::v) Fail("%s writes %s to GM while a SetAtomicAdd of another dtype is active", op, DtName<T>::v);
    ascendc_emu::LockAtomic();
    for (size_t i = 0; i < n; i++) {
        if constexpr (std::is_same_v<T, int32_t>) dst[i] = (int32_t)((uint32_t)dst[i] + (uint32_t)src[i]);  // wraps
        else if constexpr (std::is_same_v<T, bfloat16_t>) dst[i] = bfloat16_t((float)dst[i] + (float)src[i]);
        else dst[i] = (T)(dst[i] + src[i]);
    }
    ascendc_emu::UnlockAtomic();
}

template <class T>
inline void CheckLocal(const LocalTensor<T> &t, uint64_t n, std::initializer_list<Phys> allowed, const char *op,
                       const char *which) {
    if (!t.addr_) Fail("%s: %s tensor is empty", op, which);
    Phys p = PhysOf(t.pos_);
    bool ok = false;
    for (Phys a : allowed) ok |= a == p;
    if (!ok) Fail("%s: %s tensor at %s (%s) is not allowed here", op, which, PosName(t.pos_), ascendc_emu::PhysName(p));
    if (n > t.len_) Fail("%s: %s tensor has %u elements, %llu needed", op, which, t.len_, (unsigned long long)n);
    uint64_t a = ascendc_emu::PhysAlign(p);
    if (t.PhyOffset() % a)
        Fail("%s: %s tensor starts at %s offset %llu, not %llu-byte aligned", op, which, ascendc_emu::PhysName(p),
             (unsigned long long)t.PhyOffset(), (unsigned long long)a);
}
}  // namespace detail

// ---- data movement -----------------------------------------------------------------------------------

// GM -> UB / L1, whole 32-byte blocks.
template <class T>
inline void DataCopy(const LocalTensor<T> &dst, const GlobalTensor<T> &src, uint32_t count) {
    const char *op = "DataCopy(GM->local)";
    if ((uint64_t)count * sizeof(T) % ONE_BLK_SIZE)
        Fail("%s: %u x %s = %llu bytes is not a multiple of 32 (use DataCopyPad)", op, count, DtName<T>::v,
             (unsigned long long)count * sizeof(T));
    detail::CheckLocal(dst, count, {Phys::UB, Phys::L1}, op, "dst");
    src.CheckRange(0, count, op);
    auto *c = ascendc_emu::Cur();
    ascendc_emu::GmRead(c, src.addr_, (size_t)count * sizeof(T), op);
    std::memcpy(dst.addr_, src.addr_, (size_t)count * sizeof(T));
    ascendc_emu::NoteWrite(c, dst.alloc_, Pipe::MTE2);
}

// UB -> GM, whole 32-byte blocks (atomic add when SetAtomicAdd is active).
template <class T>
inline void DataCopy(const GlobalTensor<T> &dst, const LocalTensor<T> &src, uint32_t count) {
    const char *op = "DataCopy(UB->GM)";
    if ((uint64_t)count * sizeof(T) % ONE_BLK_SIZE)
        Fail("%s: %u x %s = %llu bytes is not a multiple of 32 (use DataCopyPad)", op, count, DtName<T>::v,
             (unsigned long long)count * sizeof(T));
    detail::CheckLocal(src, count, {Phys::UB}, op, "src");
    dst.CheckRange(0, count, op);
    ascendc_emu::CheckRead(ascendc_emu::Cur(), src.alloc_, Pipe::MTE3, op);
    detail::GmStore(dst.addr_, src.addr_, count, op);
}

struct DataCopyExtParams {
    uint16_t blockCount = 1;
    uint32_t blockLen = 0;   // bytes
    uint32_t srcStride = 0;  // gap after each block: bytes on the GM side, 32-byte blocks on the UB side
    uint32_t dstStride = 0;
    uint32_t rsv = 0;
};
template <class T>
struct DataCopyPadExtParams {
    bool isPad = false;
    uint8_t leftPadding = 0, rightPadding = 0;
    T paddingValue{};
};

// UB -> GM with any byte length per block.
template <class T>
inline void DataCopyPad(const GlobalTensor<T> &dst, const LocalTensor<T> &src, const DataCopyExtParams &p) {
    const char *op = "DataCopyPad(UB->GM)";
    if (p.blockLen % sizeof(T)) Fail("%s: blockLen %u is not a whole number of %s", op, p.blockLen, DtName<T>::v);
    uint32_t ub_block = (p.blockLen + ONE_BLK_SIZE - 1) / ONE_BLK_SIZE * ONE_BLK_SIZE + p.srcStride * ONE_BLK_SIZE;
    uint64_t ub_need = ((uint64_t)(p.blockCount - 1) * ub_block + p.blockLen) / sizeof(T);
    detail::CheckLocal(src, ub_need, {Phys::UB}, op, "src");
    ascendc_emu::CheckRead(ascendc_emu::Cur(), src.alloc_, Pipe::MTE3, op);
    for (uint32_t b = 0; b < p.blockCount; b++) {
        uint64_t g = (uint64_t)b * (p.blockLen + p.dstStride) / sizeof(T);
        dst.CheckRange(g, p.blockLen / sizeof(T), op);
        detail::GmStore(dst.addr_ + g, (const T *)((const uint8_t *)src.addr_ + (uint64_t)b * ub_block), p.blockLen / sizeof(T), op);
    }
}

// GM -> UB with any byte length per block; each block lands 32-byte aligned in UB.
template <class T>
inline void DataCopyPad(const LocalTensor<T> &dst, const GlobalTensor<T> &src, const DataCopyExtParams &p,
                        const DataCopyPadExtParams<T> &) {
    const char *op = "DataCopyPad(GM->UB)";
    if (p.blockLen % sizeof(T)) Fail("%s: blockLen %u is not a whole number of %s", op, p.blockLen, DtName<T>::v);
    uint32_t ub_block = (p.blockLen + ONE_BLK_SIZE - 1) / ONE_BLK_SIZE * ONE_BLK_SIZE + p.dstStride * ONE_BLK_SIZE;
    uint64_t ub_need = ((uint64_t)(p.blockCount - 1) * ub_block + p.blockLen) / sizeof(T);
    detail::CheckLocal(dst, ub_need, {Phys::UB}, op, "dst");
    auto *c = ascendc_emu::Cur();
    for (uint32_t b = 0; b < p.blockCount; b++) {
        uint64_t g = (uint64_t)b * (p.blockLen + p.srcStride) / sizeof(T);
        src.CheckRange(g, p.blockLen / sizeof(T), op);
        ascendc_emu::GmRead(c, src.addr_ + g, p.blockLen, op);
        std::memcpy((uint8_t *)dst.addr_ + (uint64_t)b * ub_block, src.addr_ + g, p.blockLen);
    }
    ascendc_emu::NoteWrite(c, dst.alloc_, Pipe::MTE2);
}

// GM (ND) -> L1 (NZ): element (r, c) of the nValue x dValue matrix lands at
// (c / C0) * dstNzC0Stride * C0 + r * dstNzNStride * C0 + c % C0, with C0 = 32 bytes / sizeof(T).
struct Nd2NzParams {
    uint16_t ndNum = 1;
    uint16_t nValue = 0;
    uint16_t dValue = 0;
    uint16_t srcNdMatrixStride = 0;
    uint16_t srcDValue = 0;       // GM row stride, elements
    uint16_t dstNzC0Stride = 0;   // between C0 column blocks, in 32-byte units (= rows of the NZ block)
    uint16_t dstNzNStride = 1;    // between rows, in 32-byte units
    uint16_t dstNzMatrixStride = 0;
};

template <class T>
inline void DataCopy(const LocalTensor<T> &dst, const GlobalTensor<T> &src, const Nd2NzParams &p) {
    const char *op = "DataCopy(GM->L1, Nd2Nz)";
    constexpr uint32_t c0 = ONE_BLK_SIZE / sizeof(T);
    if (p.ndNum != 1) Fail("%s: only ndNum = 1 is emulated", op);
    if (p.nValue == 0 || p.dValue == 0) Fail("%s: empty matrix (nValue %u, dValue %u)", op, p.nValue, p.dValue);
    if (p.dValue % c0) Fail("%s: dValue %u is not a multiple of C0 = %u", op, p.dValue, c0);
    if (p.srcDValue < p.dValue) Fail("%s: srcDValue %u < dValue %u", op, p.srcDValue, p.dValue);
    if (p.dstNzC0Stride < p.nValue * p.dstNzNStride) Fail("%s: dstNzC0Stride %u makes column blocks overlap", op, p.dstNzC0Stride);
    uint64_t need = (uint64_t)(p.dValue / c0 - 1) * p.dstNzC0Stride * c0 + (uint64_t)(p.nValue - 1) * p.dstNzNStride * c0 + c0;
    detail::CheckLocal(dst, need, {Phys::L1}, op, "dst");
    src.CheckRange(0, (uint64_t)(p.nValue - 1) * p.srcDValue + p.dValue, op);
    auto *c = ascendc_emu::Cur();
    for (uint32_t r = 0; r < p.nValue; r++) {
        const T *row = src.addr_ + (uint64_t)r * p.srcDValue;
        ascendc_emu::GmRead(c, row, (size_t)p.dValue * sizeof(T), op);
        for (uint32_t cb = 0; cb < p.dValue / c0; cb++)
            std::memcpy(dst.addr_ + (uint64_t)cb * p.dstNzC0Stride * c0 + (uint64_t)r * p.dstNzNStride * c0, row + cb * c0,
                        ONE_BLK_SIZE);
    }
    ascendc_emu::NoteWrite(c, dst.alloc_, Pipe::MTE2);
}

// Fill L1 with a constant: repeatTimes x blockNum 32-byte blocks, dstGap blocks skipped after each repeat.
template <class T>
struct InitConstValueParams {
    uint16_t repeatTimes = 1;
    uint16_t blockNum = 0;
    uint16_t dstGap = 0;
    T initValue{};
};
template <class T>
inline void InitConstValue(const LocalTensor<T> &dst, const InitConstValueParams<T> &p) {
    const char *op = "InitConstValue";
    constexpr uint32_t per = ONE_BLK_SIZE / sizeof(T);
    uint64_t need = ((uint64_t)p.repeatTimes * (p.blockNum + p.dstGap) - p.dstGap) * per;
    detail::CheckLocal(dst, need, {Phys::L1}, op, "dst");
    for (uint32_t r = 0; r < p.repeatTimes; r++)
        for (uint64_t i = 0; i < (uint64_t)p.blockNum * per; i++) dst.addr_[(uint64_t)r * (p.blockNum + p.dstGap) * per + i] = p.initValue;
    ascendc_emu::NoteWrite(ascendc_emu::Cur(), dst.alloc_, Pipe::MTE2);
}

// L1 -> L0A/L0B, whole 16x16 fractals (512 bytes): fractal i comes from src fractal
// startIndex + i * srcStride and lands at dst fractal i * (1 + dstGap), transposed when ifTranspose.
struct LoadData2DParams {
    uint16_t startIndex = 0;
    uint8_t repeatTimes = 0;
    uint16_t srcStride = 0;
    uint8_t sid = 0;
    uint16_t dstGap = 0;
    bool ifTranspose = false;
    uint8_t addrMode = 0;
};

template <class T>
inline void LoadData(const LocalTensor<T> &dst, const LocalTensor<T> &src, const LoadData2DParams &p) {
    const char *op = "LoadData";
    static_assert(sizeof(T) == 2, "LoadData emulated for 2-byte types");
    constexpr uint32_t fe = FRACTAL_BYTES / sizeof(T);
    if (p.repeatTimes == 0) Fail("%s: repeatTimes is 0", op);
    uint64_t src_need = ((uint64_t)p.startIndex + (uint64_t)(p.repeatTimes - 1) * p.srcStride + 1) * fe;
    uint64_t dst_need = ((uint64_t)(p.repeatTimes - 1) * (1 + p.dstGap) + 1) * fe;
    detail::CheckLocal(src, src_need, {Phys::L1}, op, "src");
    detail::CheckLocal(dst, dst_need, {Phys::L0A, Phys::L0B}, op, "dst");
    if (src.PhyOffset() % FRACTAL_BYTES) Fail("%s: src is not 512-byte (fractal) aligned in L1", op);
    auto *c = ascendc_emu::Cur();
    ascendc_emu::CheckRead(c, src.alloc_, Pipe::MTE1, op);
    for (uint32_t i = 0; i < p.repeatTimes; i++) {
        const T *s = src.addr_ + ((uint64_t)p.startIndex + (uint64_t)i * p.srcStride) * fe;
        T *d = dst.addr_ + (uint64_t)i * (1 + p.dstGap) * fe;
        if (!p.ifTranspose) std::memcpy(d, s, FRACTAL_BYTES);
        else
            for (int r = 0; r < 16; r++)
                for (int q = 0; q < 16; q++) d[q * 16 + r] = s[r * 16 + q];
    }
    ascendc_emu::NoteWrite(c, dst.alloc_, Pipe::MTE1);
}

// ---- Cube -------------------------------------------------------------------------------------------

struct MmadParams {
    uint16_t m = 0, n = 0, k = 0;
    bool isBias = false;
    int32_t fmOffset = 0;
    bool enSsparse = false, enWinogradA = false, enWinogradB = false;
    uint8_t unitFlag = 0;
    bool kDirectionAlign = false;
    bool cmatrixSource = false;
    bool cmatrixInitVal = true;  // true: C = A * B; false: C += A * B
};

// C (L0C, float, fractals [n/16][m16][16]) = A (L0A, fractals [m/16][k/16], 16x16 row-major)
//   x B (L0B, fractals [k/16][n/16], each stored n-major: element (n, k) at n * 16 + k).
template <class Tc, class Ta, class Tb>
inline void Mmad(const LocalTensor<Tc> &c, const LocalTensor<Ta> &a, const LocalTensor<Tb> &b, const MmadParams &p) {
    const char *op = "Mmad";
    if (!std::is_same_v<Ta, Tb>) Fail("%s: A is %s but B is %s; both must be the same input type", op, DtName<Ta>::v, DtName<Tb>::v);
    if (!(std::is_same_v<Ta, half> || std::is_same_v<Ta, bfloat16_t>))
        Fail("%s: input type %s not emulated (fp16/bf16 in, fp32 accumulate)", op, DtName<Ta>::v);
    if (!std::is_same_v<Tc, float>) Fail("%s: L0C type %s; fp16/bf16 inputs accumulate in float", op, DtName<Tc>::v);
    if (!p.m || !p.n || !p.k || p.m > 4095 || p.n > 4095 || p.k > 4095) Fail("%s: m, n, k = %u, %u, %u out of [1, 4095]", op, p.m, p.n, p.k);
    if (p.isBias) Fail("%s: bias not emulated", op);
    uint32_t m16 = (p.m + 15) / 16 * 16, n16 = (p.n + 15) / 16 * 16, k16 = (p.k + 15) / 16 * 16;
    if (a.pos_ != TPosition::A2) Fail("%s: A must be at A2 (L0A), is at %s", op, PosName(a.pos_));
    if (b.pos_ != TPosition::B2) Fail("%s: B must be at B2 (L0B), is at %s", op, PosName(b.pos_));
    if (c.pos_ != TPosition::CO1) Fail("%s: C must be at CO1 (L0C), is at %s", op, PosName(c.pos_));
    detail::CheckLocal(a, (uint64_t)m16 * k16, {Phys::L0A}, op, "A (m16 x k16 fractals)");
    detail::CheckLocal(b, (uint64_t)k16 * n16, {Phys::L0B}, op, "B (k16 x n16 fractals)");
    detail::CheckLocal(c, (uint64_t)m16 * n16, {Phys::L0C}, op, "C (m16 x n16 fractals)");
    auto *core = ascendc_emu::Cur();
    ascendc_emu::CheckRead(core, a.alloc_, Pipe::M, op);
    ascendc_emu::CheckRead(core, b.alloc_, Pipe::M, op);
    if (!p.cmatrixInitVal) ascendc_emu::CheckRead(core, c.alloc_, Pipe::M, op);
    if constexpr (std::is_same_v<Tc, float> && std::is_same_v<Ta, Tb>) {
    const uint32_t kb = k16 / 16, nb = n16 / 16;
    // Unpack the fractals into row-major float copies (A [m][k], B [k][n]); each C element sums its
    // k products in order, in fp32 (fp16/bf16 products are exact in fp32). The j-inner loop vectorises.
    std::vector<float> af((size_t)p.m * p.k), bf((size_t)p.k * p.n), acc(p.n);
    for (uint32_t i = 0; i < p.m; i++)
        for (uint32_t q = 0; q < p.k; q++)
            af[(size_t)i * p.k + q] = (float)a.addr_[((i / 16) * kb + q / 16) * 256 + (i % 16) * 16 + q % 16];
    for (uint32_t q = 0; q < p.k; q++)
        for (uint32_t j = 0; j < p.n; j++)
            bf[(size_t)q * p.n + j] = (float)b.addr_[((q / 16) * nb + j / 16) * 256 + (j % 16) * 16 + q % 16];
    for (uint32_t i = 0; i < p.m; i++) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (uint32_t q = 0; q < p.k; q++) {
            const float av = af[(size_t)i * p.k + q], *br = &bf[(size_t)q * p.n];
            for (uint32_t j = 0; j < p.n; j++) acc[j] += av * br[j];
        }
        for (uint32_t j = 0; j < p.n; j++) {
            float *cp = &c.addr_[(j / 16) * m16 * 16 + i * 16 + j % 16];
            *cp = p.cmatrixInitVal ? acc[j] : *cp + acc[j];
        }
    }
    }
    ascendc_emu::NoteWrite(core, c.alloc_, Pipe::M);
}

struct FixpipeParamsV220 {
    uint16_t nSize = 0;
    uint16_t mSize = 0;
    uint16_t srcStride = 0;  // rows of one L0C column block (m rounded up to 16)
    uint32_t dstStride = 0;  // GM row stride, elements
    int quantPre = 0;
    bool reluEn = false;
    uint16_t ndNum = 1;
};

struct FixpipeConfig {
    bool nz2nd;  // convert the NZ fractals of L0C to row-major (ND) on the way out
};
constexpr FixpipeConfig CFG_ROW_MAJOR = {true};
constexpr FixpipeConfig CFG_NZ = {false};

// L0C (NZ, float) -> GM (ND): rows [0, mSize) x columns [0, nSize), atomic add when active.
template <class T, class U, const FixpipeConfig &config = CFG_ROW_MAJOR>
inline void Fixpipe(const GlobalTensor<T> &dst, const LocalTensor<U> &src, const FixpipeParamsV220 &p) {
    const char *op = "Fixpipe";
    if (!config.nz2nd) Fail("%s: only CFG_ROW_MAJOR (NZ -> ND) is emulated", op);
    if (!std::is_same_v<T, float> || !std::is_same_v<U, float>) Fail("%s: only float L0C -> float GM is emulated", op);
    if (p.quantPre || p.reluEn || p.ndNum != 1) Fail("%s: quantisation, relu and ndNum > 1 are not emulated", op);
    if (!p.mSize || !p.nSize) Fail("%s: empty block", op);
    if (p.srcStride % 16 || p.srcStride < p.mSize) Fail("%s: srcStride %u must be a multiple of 16 and >= mSize %u", op, p.srcStride, p.mSize);
    if (p.dstStride < p.nSize) Fail("%s: dstStride %u < nSize %u", op, p.dstStride, p.nSize);
    uint32_t n16 = (p.nSize + 15) / 16 * 16;
    detail::CheckLocal(src, (uint64_t)n16 * p.srcStride, {Phys::L0C}, op, "src");
    dst.CheckRange(0, (uint64_t)(p.mSize - 1) * p.dstStride + p.nSize, op);
    ascendc_emu::CheckRead(ascendc_emu::Cur(), src.alloc_, Pipe::FIX, op);
    std::vector<float> row(p.nSize);
    for (uint32_t i = 0; i < p.mSize; i++) {
        for (uint32_t j = 0; j < p.nSize; j++) row[j] = (float)src.addr_[(j / 16) * p.srcStride * 16 + i * 16 + j % 16];
        detail::GmStore((float *)(dst.addr_ + (uint64_t)i * p.dstStride), row.data(), p.nSize, op);
    }
}

// ---- Vector -------------------------------------------------------------------------------------------

enum class RoundMode { CAST_NONE, CAST_RINT, CAST_FLOOR, CAST_CEIL, CAST_ROUND, CAST_TRUNC, CAST_ODD };
enum class CMPMODE { LT, GT, EQ, LE, GE, NE };
enum class SELMODE { VSEL_CMPMASK_SPR, VSEL_TENSOR_SCALAR_MODE, VSEL_TENSOR_TENSOR_MODE };

namespace detail {
template <class T>
inline void VecArg(const LocalTensor<T> &t, uint32_t count, const char *op, const char *which, bool is_dst) {
    CheckLocal(t, count, {Phys::UB}, op, which);
    if (is_dst) return;
    ascendc_emu::CheckRead(ascendc_emu::Cur(), t.alloc_, Pipe::V, op);
}
template <class T>
inline void VecDone(const LocalTensor<T> &dst) { ascendc_emu::NoteWrite(ascendc_emu::Cur(), dst.alloc_, Pipe::V); }
inline void VecCount(uint32_t count, const char *op) {
    if (count == 0) Fail("%s: count is 0", op);
}
template <class T>
inline void VecType(const char *op, bool allow_int) {
    if (std::is_same_v<T, float> || std::is_same_v<T, half>) return;
    if (allow_int && std::is_same_v<T, int32_t>) return;
    Fail("%s: dtype %s not supported by the 910B vector unit for this instruction", op, DtName<T>::v);
}
template <class T>
inline T RoundTo(float v) {
    if constexpr (std::is_same_v<T, float>) return v;
    else return (T)v;
}
}  // namespace detail

#define ASCENDC_EMU_BINARY(NAME, EXPR, INT_OK)                                                                   \
    template <class T>                                                                                           \
    inline void NAME(const LocalTensor<T> &dst, const LocalTensor<T> &s0, const LocalTensor<T> &s1, uint32_t count) { \
        detail::VecCount(count, #NAME);                                                                          \
        detail::VecType<T>(#NAME, INT_OK);                                                                       \
        detail::VecArg(s0, count, #NAME, "src0", false);                                                         \
        detail::VecArg(s1, count, #NAME, "src1", false);                                                         \
        detail::VecArg(dst, count, #NAME, "dst", true);                                                          \
        for (uint32_t i = 0; i < count; i++) {                                                                   \
            T a = s0.addr_[i], b = s1.addr_[i];                                                                  \
            dst.addr_[i] = (T)(EXPR);                                                                            \
        }                                                                                                        \
        detail::VecDone(dst);                                                                                    \
    }
ASCENDC_EMU_BINARY(Add, a + b, true)
ASCENDC_EMU_BINARY(Sub, a - b, true)
ASCENDC_EMU_BINARY(Mul, a * b, false)
ASCENDC_EMU_BINARY(Div, a / b, false)
ASCENDC_EMU_BINARY(Max, a > b ? a : b, false)
ASCENDC_EMU_BINARY(Min, a < b ? a : b, false)
#undef ASCENDC_EMU_BINARY

// Scalar forms; on int32, Adds wraps like the hardware's integer adder (the AMLA rescale uses this).
#define ASCENDC_EMU_SCALAR(NAME, EXPR, INT_OK)                                                                  \
    template <class T>                                                                                          \
    inline void NAME(const LocalTensor<T> &dst, const LocalTensor<T> &src, T s, uint32_t count) {               \
        detail::VecCount(count, #NAME);                                                                         \
        detail::VecType<T>(#NAME, INT_OK);                                                                      \
        detail::VecArg(src, count, #NAME, "src", false);                                                        \
        detail::VecArg(dst, count, #NAME, "dst", true);                                                         \
        for (uint32_t i = 0; i < count; i++) {                                                                  \
            T a = src.addr_[i];                                                                                 \
            dst.addr_[i] = EXPR;                                                                                \
        }                                                                                                       \
        detail::VecDone(dst);                                                                                   \
    }
template <class T>
inline T EmuAdd(T a, T b) {
    if constexpr (std::is_same_v<T, int32_t>) return (int32_t)((uint32_t)a + (uint32_t)b);
    else return (T)(a + b);
}
ASCENDC_EMU_SCALAR(Adds, EmuAdd<T>(a, s), true)
ASCENDC_EMU_SCALAR(Muls, (T)(a * s), false)
ASCENDC_EMU_SCALAR(Maxs, (a > s ? a : s), false)
ASCENDC_EMU_SCALAR(Mins, (a < s ? a : s), false)
#undef ASCENDC_EMU_SCALAR

#define ASCENDC_EMU_UNARY(NAME, EXPR)                                                                 \
    template <class T>                                                                                \
    inline void NAME(const LocalTensor<T> &dst, const LocalTensor<T> &src, uint32_t count) {          \
        detail::VecCount(count, #NAME);                                                               \
        detail::VecType<T>(#NAME, false);                                                             \
        detail::VecArg(src, count, #NAME, "src", false);                                              \
        detail::VecArg(dst, count, #NAME, "dst", true);                                               \
        for (uint32_t i = 0; i < count; i++) {                                                        \
            float a = (float)src.addr_[i];                                                            \
            dst.addr_[i] = detail::RoundTo<T>(EXPR);                                                  \
        }                                                                                             \
        detail::VecDone(dst);                                                                         \
    }
ASCENDC_EMU_UNARY(Exp, std::exp(a))
ASCENDC_EMU_UNARY(Ln, std::log(a))
ASCENDC_EMU_UNARY(Abs, std::fabs(a))
ASCENDC_EMU_UNARY(Reciprocal, 1.0f / a)
#undef ASCENDC_EMU_UNARY

template <class T>
inline void Duplicate(const LocalTensor<T> &dst, const T &v, uint32_t count) {
    detail::VecCount(count, "Duplicate");
    detail::VecArg(dst, count, "Duplicate", "dst", true);
    for (uint32_t i = 0; i < count; i++) dst.addr_[i] = v;
    detail::VecDone(dst);
}

// dst = firstValue, firstValue + 1, ...
template <class T>
inline void CreateVecIndex(const LocalTensor<T> &dst, const T &first, uint32_t count) {
    detail::VecCount(count, "CreateVecIndex");
    detail::VecType<T>("CreateVecIndex", true);
    detail::VecArg(dst, count, "CreateVecIndex", "dst", true);
    for (uint32_t i = 0; i < count; i++) dst.addr_[i] = (T)(first + (T)i);
    detail::VecDone(dst);
}

template <class Td, class Ts>
inline void Cast(const LocalTensor<Td> &dst, const LocalTensor<Ts> &src, RoundMode mode, uint32_t count) {
    const char *op = "Cast";
    detail::VecCount(count, op);
    detail::VecArg(src, count, op, "src", false);
    detail::VecArg(dst, count, op, "dst", true);
    constexpr bool widen = std::is_same_v<Td, float> && (std::is_same_v<Ts, half> || std::is_same_v<Ts, bfloat16_t>);
    constexpr bool narrow = std::is_same_v<Ts, float> && (std::is_same_v<Td, half> || std::is_same_v<Td, bfloat16_t>);
    if (widen) {
        if (mode != RoundMode::CAST_NONE) Fail("%s %s->float is exact: use CAST_NONE", op, DtName<Ts>::v);
    } else if (narrow) {
        if (mode != RoundMode::CAST_RINT) Fail("%s float->%s: only CAST_RINT (nearest even) is emulated", op, DtName<Td>::v);
    } else {
        Fail("%s %s->%s not emulated", op, DtName<Ts>::v, DtName<Td>::v);
    }
    for (uint32_t i = 0; i < count; i++) {
        if constexpr (std::is_same_v<Td, float>) dst.addr_[i] = (float)src.addr_[i];
        else if constexpr (std::is_same_v<Ts, float>) dst.addr_[i] = Td(src.addr_[i]);
    }
    detail::VecDone(dst);
}

// dst[0] = max / sum of src[0, count); work is scratch of at least count elements.
template <class T>
inline void ReduceMax(const LocalTensor<T> &dst, const LocalTensor<T> &src, const LocalTensor<T> &work, uint32_t count) {
    detail::VecCount(count, "ReduceMax");
    detail::VecType<T>("ReduceMax", false);
    detail::VecArg(src, count, "ReduceMax", "src", false);
    detail::VecArg(work, count, "ReduceMax", "work", true);
    detail::VecArg(dst, 1, "ReduceMax", "dst", true);
    T m = src.addr_[0];
    for (uint32_t i = 1; i < count; i++)
        if (src.addr_[i] > m) m = src.addr_[i];
    dst.addr_[0] = m;
    detail::VecDone(dst);
}
template <class T>
inline void ReduceSum(const LocalTensor<T> &dst, const LocalTensor<T> &src, const LocalTensor<T> &work, uint32_t count) {
    detail::VecCount(count, "ReduceSum");
    detail::VecType<T>("ReduceSum", false);
    detail::VecArg(src, count, "ReduceSum", "src", false);
    detail::VecArg(work, count, "ReduceSum", "work", true);
    detail::VecArg(dst, 1, "ReduceSum", "dst", true);
    float s = 0.0f;
    for (uint32_t i = 0; i < count; i++) s += (float)src.addr_[i];
    dst.addr_[0] = (T)s;
    detail::VecDone(dst);
}

// Bit i of dst is 1 when src[i] <cmp> scalar.
template <class T>
inline void CompareScalar(const LocalTensor<uint8_t> &dst, const LocalTensor<T> &src, T s, CMPMODE mode, uint32_t count) {
    const char *op = "CompareScalar";
    detail::VecCount(count, op);
    detail::VecType<T>(op, false);
    if ((uint64_t)count * sizeof(T) % 256) Fail("%s: count x sizeof = %llu bytes must be a multiple of 256", op, (unsigned long long)count * sizeof(T));
    detail::VecArg(src, count, op, "src", false);
    detail::VecArg(dst, (count + 7) / 8, op, "dst", true);
    std::memset(dst.addr_, 0, (count + 7) / 8);
    for (uint32_t i = 0; i < count; i++) {
        T a = src.addr_[i];
        bool r = mode == CMPMODE::LT ? a < s : mode == CMPMODE::GT ? a > s : mode == CMPMODE::EQ ? a == s
               : mode == CMPMODE::LE ? a <= s : mode == CMPMODE::GE ? a >= s : a != s;
        if (r) dst.addr_[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    detail::VecDone(dst);
}

// dst[i] = bit i of mask ? src0[i] : scalar.
template <class T>
inline void Select(const LocalTensor<T> &dst, const LocalTensor<uint8_t> &mask, const LocalTensor<T> &src0, T s, SELMODE mode,
                   uint32_t count) {
    const char *op = "Select";
    detail::VecCount(count, op);
    detail::VecType<T>(op, false);
    if (mode != SELMODE::VSEL_TENSOR_SCALAR_MODE) Fail("%s: only VSEL_TENSOR_SCALAR_MODE is emulated", op);
    detail::VecArg(mask, (count + 7) / 8, op, "mask", false);
    detail::VecArg(src0, count, op, "src0", false);
    detail::VecArg(dst, count, op, "dst", true);
    for (uint32_t i = 0; i < count; i++) dst.addr_[i] = (mask.addr_[i / 8] >> (i % 8)) & 1 ? src0.addr_[i] : s;
    detail::VecDone(dst);
}

// dst[i] = bit i of mask ? src0[i] : src1[i].
template <class T>
inline void Select(const LocalTensor<T> &dst, const LocalTensor<uint8_t> &mask, const LocalTensor<T> &src0,
                   const LocalTensor<T> &src1, SELMODE mode, uint32_t count) {
    const char *op = "Select";
    detail::VecCount(count, op);
    detail::VecType<T>(op, false);
    if (mode != SELMODE::VSEL_TENSOR_TENSOR_MODE) Fail("%s: tensor-tensor form needs VSEL_TENSOR_TENSOR_MODE", op);
    detail::VecArg(mask, (count + 7) / 8, op, "mask", false);
    detail::VecArg(src0, count, op, "src0", false);
    detail::VecArg(src1, count, op, "src1", false);
    detail::VecArg(dst, count, op, "dst", true);
    for (uint32_t i = 0; i < count; i++) dst.addr_[i] = (mask.addr_[i / 8] >> (i % 8)) & 1 ? src0.addr_[i] : src1.addr_[i];
    detail::VecDone(dst);
}

}  // namespace AscendC
