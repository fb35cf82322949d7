/*
 * ascendc_emu: the runtime side of the CPU emulation of the Ascend C subset mla4j's kernel uses.
 * NOT part of the kernel. The kernel (src/) includes only "kernel_operator.h", as on a real
 * Ascend toolchain; this header holds the emulator's internals that kernel_operator.h builds on.
 *
 * Model (Ascend 910B / Atlas A2, mixed Cube:Vector kernel 1:2):
 *  - a launch of block_dim blocks runs 3 threads per block: the AIC (Cube) core and 2 AIV (Vector)
 *    cores, all blocks concurrently;
 *  - every core owns its local memories (AIC: L1 512 KiB, L0A 64 KiB, L0B 64 KiB, L0C 128 KiB;
 *    AIV: UB 192 KiB), poisoned with 0xFF bytes (NaN in every float type) at launch;
 *  - any rule violation throws EmuError; the launch stops all cores and reports the first message.
 */
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <exception>

namespace ascendc_emu {

enum class CoreKind { AIC, AIV };
enum class Phys : int { UB = 0, L1, L0A, L0B, L0C, COUNT };
// Hardware pipes an instruction is issued on (for the intra-core hazard checker).
enum class Pipe : int { S = 0, V, M, MTE1, MTE2, MTE3, FIX, COUNT, NONE = -1 };

const char *PhysName(Phys p);
const char *PipeName(Pipe p);
size_t PhysCapacity(Phys p);   // bytes, Ascend 910B (see README "Emulator")
size_t PhysAlign(Phys p);      // start-address alignment rule of the documentation

struct EmuError : std::exception {
    std::string msg;
    explicit EmuError(std::string m) : msg(std::move(m)) {}
    const char *what() const noexcept override { return msg.c_str(); }
};

// Throws EmuError("<core>: <formatted message>").
[[noreturn]] void Fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct Core;                      // one emulated core (opaque outside the runtime)
Core *Cur();                      // the calling thread's core; fails outside a launch
CoreKind KindOf(Core *c);
int BlockIdx(Core *c);            // AIC: block; AIV: 2 * block + sub (as GetBlockIdx on a mixed kernel)
int SubIdx(Core *c);
int BlockDim(Core *c);
uint8_t *ArenaBase(Core *c, Phys p);
// Bump allocation for TPipe::InitBuffer: checks capacity and alignment, returns the offset.
size_t ArenaAlloc(Core *c, Phys p, size_t bytes, const char *what);

// Intra-core pipe hazards, tracked per allocation (a TQue slot or a TBuf).
int NewAlloc(Core *c);
void NoteWrite(Core *c, int alloc, Pipe p);
void CheckRead(Core *c, int alloc, Pipe p, const char *op);
void QueueSynced(Core *c, int alloc);                 // DeQue: the producer's writes are visible
void QueueRecycled(Core *c, int alloc);               // AllocTensor: earlier readers are done
void SetPipeFlag(Core *c, Pipe from, Pipe to, int id);
void WaitPipeFlag(Core *c, Pipe from, Pipe to, int id);
void PipeBarrierAll(Core *c);

// Atomic mode of GM writes: 0 none, else the dtype tag below.
enum AtomicType : int { ATOMIC_NONE = 0, ATOMIC_F32, ATOMIC_F16, ATOMIC_BF16, ATOMIC_I32 };
void SetAtomic(Core *c, AtomicType t);
AtomicType GetAtomic(Core *c);
void LockAtomic();
void UnlockAtomic();

// Cross-core flags (mode 2: AIC <-> the 2 AIV of its block) and all-core barrier.
void CrossSet(Core *c, int flag);
void CrossWait(Core *c, int flag);
void SyncAllAiv(Core *c);

// GM happens-before race detector: every GM read/write of an emulated instruction reports here.
void GmRead(Core *c, const void *p, size_t bytes, const char *op);
void GmWrite(Core *c, const void *p, size_t bytes, const char *op);

// Launching (used by the exported C ABI and by tests).
using KernelFn = void (*)(void *const *args);
int Launch(KernelFn fn, uint32_t block_dim, void *const *args, char *err, size_t err_len);
void SetTimeoutMs(int ms);        // deadlock timeout for flag waits (default 10000, env ASCENDC_EMU_TIMEOUT_MS)

}  // namespace ascendc_emu
