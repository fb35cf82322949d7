// mla4j_decode_sm80: portable split-KV MLA decode (mma.sync m16n8k16 + ldmatrix + cp.async), sm_80 and later.
//
// Launch: grid (num_parts, ceil(rows/64)), block 256, dynamic smem MLA4J_SM80_SMEM_BYTES(kt, stages) bytes with
// stages in 2..4 K buffers: the kernel reads its stage count back from %dynamic_smem_size, so one image serves
// any depth. io.mla4j.cuda launches 2 stages (154,368 B, fits the A100's 163 KB): on the H100, 4 stages
// (228,096 B) measured no faster (lab/results/kernels-cuda/test/v2-bench*.txt; see kernels-cuda/README.md).
// (blockIdx.x = part of the split schedule, blockIdx.y = 64-row tile of packed query rows r = i_q*h_q + head;
// the same grid as mla4j_decode_sm90, which is how io.mla4j.cuda.DecodeKernels launches both).
//
// One CTA walks the splits of its part (schedule.h). Per split: Q tile (64 x d_qk) stays in smem; the KV
// blocks stream through smem in KT-token stages with cp.async, stages-1 of them in flight (2 stages keep the
// kernel under the A100's 163 KB of shared memory; deeper ones fit on Hopper but measured no faster). Per stage:
//   S = Q K^T     8 warps as 4 row groups x 2 key halves (16 rows x KT/2 keys each)
//   softmax       fp32 online softmax in log2 units; the two key halves exchange row max/sum through smem
//   O += P V      8 warps x d_v / 8 output columns, all 64 rows (512 + 64: 4 x 8 m16n8 tiles = 128 fp32 regs)
//                 V is the first d_v columns of the same smem stage.
// Row groups past p.rows skip their mma work (h_q = 16, s_q = 1 fills 16 of 64 rows).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "mla4j/paging.h"
#include "mla4j/schedule.h"
#include "mla4j/widths.h"

namespace mla4j_sm80 {
// Tokens per pipeline stage, a property of the image's architecture (arch = __CUDA_ARCH__, or 100 * major +
// 10 * minor on the host): 64 from Hopper on, whose 227 KB of shared memory take them (measured 548 vs 810 us at
// b=128, s_k=8192, h_q=16: 32-token stages are bound by per-stage barriers and softmax, not memory), 32 for the
// sm_80 image and the PTX, which fit the A100's 163 KB. Java launches each image with its own shared-memory size
// (DecodeKernels: sm80.smem / sm80.smem.sm90a, from gpu-launch-props.sh).
constexpr int stage_tokens(int arch) { return arch >= 900 ? 64 : 32; }
#if defined(__CUDA_ARCH__)
constexpr int kKT = stage_tokens(__CUDA_ARCH__);  // keys per stage
#else
constexpr int kKT = stage_tokens(800);  // host passes: size launches with smem_bytes(stage_tokens(device), n)
#endif
constexpr int kThreads = 256;
constexpr int kRows = 64;                 // query rows per CTA
constexpr int kStatBytes = 2 * kRows * 4 /*red_max*/ + 2 * kRows * 4 /*red_sum*/ + kRows * 4 /*alpha*/ +
                           2 * kRows * 4 /*final m, l*/;
constexpr int kMaxStages = 4;

// The widths one instantiation serves (io.mla4j.Geometry's d_c + d_r): the kernel is compiled per pair, so every
// loop bound below is a constant. A tile row is padded to a multiple of 64 values (128 B), which keeps the XOR
// swizzle inside the row and 8 consecutive rows of an ldmatrix on distinct banks for every width (576 and 320 need
// no padding; 288 and 160 pad by 32 values, 192 by none).
template <int DC, int DR>
struct Dims {
    static constexpr int kDQ = DC + DR, kDV = DC;
    static constexpr int kStride = (kDQ + 63) / 64 * 64;  // smem row (elements)
    static constexpr int kChunks = kDQ / 8;              // 16-byte chunks loaded per row
    static constexpr int kQBytes = kRows * kStride * 2;
    static constexpr int kVCols = kDV / 8;               // P V output columns per warp (8 warps)
    static constexpr int kVNT = kVCols / 8;              // m16n8 tiles per warp and row group
    static_assert(DC % 128 == 0, "8 warps x 16-column V pairs: d_c must be a multiple of 128");
    static_assert(DR % 16 == 0 && kDQ % 16 == 0, "Q K^T steps of 16 dims");
    // Shared memory of a stage size kt: one K stage, the padded P tile (ldmatrix rows hit distinct banks), and what
    // comes before the K stages.
    static constexpr int k_bytes(int kt) { return kt * kStride * 2; }
    static constexpr int p_bytes(int kt) { return kRows * (kt + 8) * 2; }
    static constexpr int fixed_bytes(int kt) { return kQBytes + p_bytes(kt) + kStatBytes; }
    static constexpr int kKBytes = k_bytes(kKT);
    static constexpr int kPBytes = p_bytes(kKT);
    static constexpr int kFixedBytes = fixed_bytes(kKT);  // then the K stages
    static_assert(kFixedBytes % 128 == 0, "K stages stay 128-byte aligned");
    static_assert(fixed_bytes(32) + 2 * k_bytes(32) <= 163 * 1024, "two 32-token stages must fit the A100's 163 KB");
    static_assert(fixed_bytes(64) + 2 * k_bytes(64) <= 227 * 1024, "two 64-token stages must fit Hopper's 227 KB");
    // Swizzled offset (elements) of 16-byte chunk `ck` of row `row` in a tile: rows are a multiple of 128 B apart,
    // so without the XOR the 8 rows of an ldmatrix would all hit the same banks.
    __device__ __forceinline__ static int swz(int row, int ck) { return row * kStride + ((ck ^ (row & 7)) << 3); }
};
using DeepSeek = Dims<MLA4J_D_V, MLA4J_D_QK - MLA4J_D_V>;
constexpr int kPStride = kKT + 8;         // padded P row (bf16 elements)
static_assert(kKT == 32 || kKT == 64, "stage must be 32 or 64 tokens");
static_assert(MLA4J_TILE % kKT == 0, "a schedule tile holds whole stages");

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    // src-size 0 zero-fills the 16 bytes without reading: used past seqlen and past p.rows
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t addr, uint32_t (&r)[4]) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

template <typename T> struct Mma;
template <> struct Mma<__nv_bfloat16> {
    __device__ __forceinline__ static void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    __device__ __forceinline__ static uint32_t pack(float x, float y) {
        __nv_bfloat162 v = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
};
template <> struct Mma<__half> {
    __device__ __forceinline__ static void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    __device__ __forceinline__ static uint32_t pack(float x, float y) {
        __half2 v = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
};

__device__ __forceinline__ float ex2(float x) {  // ex2.approx(-inf) = +0, which the masking relies on
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

struct Smem {
    uint16_t* q;     // [64][kStride] swizzled
    uint16_t* k;     // stages x [KT][kStride] swizzled
    int stages;      // K buffers (2..4), from the dynamic smem size of the launch
    uint16_t* p;     // [64][kPStride]
    float* red_max;  // [2][64] row max of each key half
    float* red_sum;  // [2][64] row sum of each key half
    float* alpha;    // [64] rescale of the running output for this stage
    float* fin_m;    // [64] final running max (log2 units)
    float* fin_l;    // [64] final row sum
};

template <class D>
__device__ __forceinline__ Smem carve(unsigned char* base) {
    Smem s;
    uint32_t dyn;
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(dyn));
    s.stages = min(kMaxStages, (int)(dyn - D::kFixedBytes) / D::kKBytes);  // the host guarantees >= 2
    s.q = reinterpret_cast<uint16_t*>(base);
    s.p = reinterpret_cast<uint16_t*>(base + D::kQBytes);
    float* f = reinterpret_cast<float*>(base + D::kQBytes + D::kPBytes);
    s.red_max = f; s.red_sum = f + 2 * kRows; s.alpha = f + 4 * kRows; s.fin_m = f + 5 * kRows; s.fin_l = f + 6 * kRows;
    s.k = reinterpret_cast<uint16_t*>(base + D::kFixedBytes);
    return s;
}

// Wait until at most stages-2 cp.async groups are pending (the count must be an immediate).
__device__ __forceinline__ void cp_async_wait_stage(int stages) {
    if (stages >= 4) asm volatile("cp.async.wait_group 2;\n" ::);
    else if (stages == 3) asm volatile("cp.async.wait_group 1;\n" ::);
    else asm volatile("cp.async.wait_group 0;\n" ::);
}

// Query rows [row0, row0 + 64) of sequence s into smem; rows past p.rows are zero-filled.
template <typename T, class D>
__device__ __forceinline__ void load_q(const MlaParams& p, const Smem& sm, int s, int row0) {
    const T* q = reinterpret_cast<const T*>(p.q);
    for (int c = threadIdx.x; c < kRows * D::kChunks; c += kThreads) {
        const int r = c / D::kChunks, ck = c % D::kChunks, gr = row0 + r;
        const bool ok = gr < p.rows;
        const T* src = q + ((size_t)s * p.rows + (ok ? gr : 0)) * D::kDQ + ck * 8;
        cp_async16(smem_u32(sm.q + D::swz(r, ck)), src, ok);
    }
}

// Keys [tok0, tok0 + KT) of sequence s into one stage, through the block table (mla4j/paging.h); keys >= seqlen
// are zero-filled (never read: the page may hold garbage, even NaN, and P = 0 times NaN would poison O). A stage
// lies in one page when pages hold >= KT tokens (one table read); smaller pages are looked up per row. Of the
// three shapes timed on the H200 this one costs 64-token pages least (0.98-1.00x of the page-64-only kernel at
// b = 128, 0.87-0.97x at b <= 16): the small-page loop out of line (__noinline__) ran 0.88-0.98x, one loop with a
// predicated per-row read 0.84-0.89x (lab/results/bench/gpu/2026-12-03-pages-final/, -sm80-noinline/,
// -sm80-predicated/).
template <typename T, class D>
__device__ __forceinline__ void load_k(const MlaParams& p, uint16_t* dst, int s, int tok0, int seqlen) {
    const T* kc = reinterpret_cast<const T*>(p.k_cache);
    if ((1 << p.page_shift) >= kKT) {
        const size_t row0 = mla4j_cache_row(p, s, tok0);
        for (int c = threadIdx.x; c < kKT * D::kChunks; c += kThreads) {
            const int r = c / D::kChunks, ck = c % D::kChunks;
            const bool ok = tok0 + r < seqlen;
            const T* src = kc + (ok ? row0 + r : 0) * D::kDQ + ck * 8;
            cp_async16(smem_u32(dst + D::swz(r, ck)), src, ok);
        }
    } else {
        for (int c = threadIdx.x; c < kKT * D::kChunks; c += kThreads) {
            const int r = c / D::kChunks, ck = c % D::kChunks;
            const bool ok = tok0 + r < seqlen;
            const T* src = kc + (ok ? mla4j_cache_row(p, s, tok0 + r) : 0) * D::kDQ + ck * 8;
            cp_async16(smem_u32(dst + D::swz(r, ck)), src, ok);
        }
    }
}

// Eight e4m3 codes (one 8-byte chunk of a cached row) as eight 16-bit values of T, exactly: the code's 7 magnitude
// bits land on the low exponent and high mantissa bits of T, which reads as the code's value times 2^-8 (fp16) or
// 2^-120 (bf16), subnormal codes included, then one exact multiply by the power of two (in fp32 for bf16, so that
// bf16 subnormals are never flushed). The e4m3 NaN codes (0x7F, 0xFF) read as +-480: quantisers saturate to +-448.
template <typename T> __device__ __forceinline__ uint4 widen_e4m3x8(uint2 raw);
template <> __device__ __forceinline__ uint4 widen_e4m3x8<__half>(uint2 raw) {
    uint32_t w[4];
    const __half2 k = __float2half2_rn(256.f);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t b = (i < 2 ? raw.x : raw.y) >> (16 * (i & 1));  // two codes: bytes 0, 1 of b
        const uint32_t lo = b & 0xFFu, hi = (b >> 8) & 0xFFu;
        const uint32_t h = ((lo & 0x80u) << 8) | ((lo & 0x7Fu) << 7) | ((((hi & 0x80u) << 8) | ((hi & 0x7Fu) << 7)) << 16);
        __half2 v = __hmul2(*reinterpret_cast<const __half2*>(&h), k);
        w[i] = *reinterpret_cast<uint32_t*>(&v);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}
template <> __device__ __forceinline__ uint4 widen_e4m3x8<__nv_bfloat16>(uint2 raw) {
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const uint32_t b = (i < 2 ? raw.x : raw.y) >> (16 * (i & 1));
        const uint32_t lo = b & 0xFFu, hi = (b >> 8) & 0xFFu;
        const float flo = __uint_as_float((((lo & 0x80u) << 8) | ((lo & 0x7Fu) << 4)) << 16) * 0x1p120f;
        const float fhi = __uint_as_float((((hi & 0x80u) << 8) | ((hi & 0x7Fu) << 4)) << 16) * 0x1p120f;
        w[i] = Mma<__nv_bfloat16>::pack(flo, fhi);  // exact: every e4m3 value is a bf16 value
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

// The fp8 kernel's load_k: keys [tok0, tok0 + KT) of an fp8_e4m3 cache (d_qk bytes a token) widened into one stage,
// register-staged (cp.async cannot convert): every thread issues its chunks' loads first, then widens and stores
// them. Keys >= seqlen are zeros. Any page size (a table read per row below KT-token pages).
template <typename T, class D>
__device__ __forceinline__ void load_k_fp8(const MlaParams& p, uint16_t* dst, int s, int tok0, int seqlen) {
    const uint8_t* kc = static_cast<const uint8_t*>(p.k_cache);
    constexpr int kPer = kKT * D::kChunks / kThreads;
    static_assert(kPer * kThreads == kKT * D::kChunks, "every thread widens the same number of chunks");
    const bool one_page = (1 << p.page_shift) >= kKT;
    const size_t row0 = one_page && tok0 < seqlen ? mla4j_cache_row(p, s, tok0) : 0;
    // batches of 9 chunks in flight (18 registers): 18 at KT = 64 spilled 264 bytes beside the 252 the kernel holds
    constexpr int kBatch = 9;
    static_assert(kPer % kBatch == 0, "whole batches");
#pragma unroll 1
    for (int i0 = 0; i0 < kPer; i0 += kBatch) {
        uint2 raw[kBatch];
#pragma unroll
        for (int i = 0; i < kBatch; ++i) {
            const int c = threadIdx.x + (i0 + i) * kThreads, r = c / D::kChunks, ck = c % D::kChunks;
            raw[i] = make_uint2(0u, 0u);
            if (tok0 + r < seqlen) {
                const size_t row = one_page ? row0 + r : mla4j_cache_row(p, s, tok0 + r);
                raw[i] = *reinterpret_cast<const uint2*>(kc + row * D::kDQ + ck * 8);
            }
        }
#pragma unroll
        for (int i = 0; i < kBatch; ++i) {
            const int c = threadIdx.x + (i0 + i) * kThreads, r = c / D::kChunks, ck = c % D::kChunks;
            *reinterpret_cast<uint4*>(dst + D::swz(r, ck)) = widen_e4m3x8<T>(raw[i]);
        }
    }
}

// kFp8: the instantiation for an fp8_e4m3 cache (mla4j_decode_sm80_fp8, DeepSeek's widths): its stages are widened by
// load_k_fp8 and o is scaled by the cache's scale (p.v_scale; its share of the scores is in p.scale_log2).
template <typename T, class D, bool kFp8>
__device__ void decode_split(const MlaParams& p, const Smem& sm, int s, int row0, int blk_begin, int blk_end,
                             int slot, bool direct) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int seqlen = p.seqlens[s];
    const int valid_rows = min(kRows, p.rows - row0);
    const int valid_mt = (valid_rows + 15) >> 4;

    // stages of this split: tokens [blk_begin*64, min(blk_end*64, seqlen)) in KT steps
    const int tok_begin = blk_begin * MLA4J_TILE;
    const int tok_end = min(blk_end * MLA4J_TILE, seqlen);
    const int n_stages = tok_end > tok_begin ? (tok_end - tok_begin + kKT - 1) / kKT : 0;

    // ---- QK^T / softmax role: row group rg (16 rows), key half kh (KT/2 keys)
    const int rg = warp & 3, kh = warp >> 2;
    constexpr int kNT = kKT / 16;  // m16n8 tiles per warp in S (KT/2 keys / 8)
    const int qrow[2] = {rg * 16 + g, rg * 16 + g + 8};
    // last key a packed row may see (causal bottom-right), or seqlen-1
    int last_key[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int gr = row0 + qrow[i];
        const int iq = gr / p.h_q;
        last_key[i] = p.causal ? min(seqlen - 1, seqlen - p.s_q + iq) : seqlen - 1;
    }
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f}, alpha_reg[2] = {1.f, 1.f};

    // ---- P.V role: output columns [warp*64, warp*64+64), all 64 rows
    float acc[4][D::kVNT][4];
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < D::kVNT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mt][nt][e] = 0.f;

    // prologue: Q with stage 0, then stages 1 .. stages-2, one cp.async group each (empty groups keep the count)
    constexpr int kKElems = D::kKBytes / 2;
    auto load_stage = [&](uint16_t* dst, int tok0) {
        if constexpr (kFp8) load_k_fp8<T, D>(p, dst, s, tok0, seqlen);
        else load_k<T, D>(p, dst, s, tok0, seqlen);
    };
    load_q<T, D>(p, sm, s, row0);
    if (n_stages > 0) load_stage(sm.k, tok_begin);
    cp_async_commit();
    for (int j = 1; j < sm.stages - 1; ++j) {
        if (j < n_stages) load_stage(sm.k + j * kKElems, tok_begin + j * kKT);
        cp_async_commit();
    }

    const uint32_t q_base = smem_u32(sm.q), p_base = smem_u32(sm.p);
    int buf = 0, buf_next = sm.stages - 1;  // ring slots of stage st and of stage st + stages - 1
    for (int st = 0; st < n_stages; ++st) {
        cp_async_wait_stage(sm.stages);
        __syncthreads();  // stage st landed for everyone; every warp is done with stage st-1's buffer (= buf_next)
        const int nxt = st + sm.stages - 1;
        if (nxt < n_stages) load_stage(sm.k + buf_next * kKElems, tok_begin + nxt * kKT);
        cp_async_commit();
        const uint32_t k_base = smem_u32(sm.k) + buf * D::kKBytes;
        buf = buf + 1 == sm.stages ? 0 : buf + 1;
        buf_next = buf_next + 1 == sm.stages ? 0 : buf_next + 1;
        const int tok0 = tok_begin + st * kKT;

        // S = Q K^T for 16 rows x KT/2 keys
        float sc[kNT][4];
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) sc[nt][e] = 0.f;
        if (rg < valid_mt) {
            const int a_row = rg * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, a_ck = lane >> 4;
            const int b_row = kh * (kKT / 2) + (lane & 7) + (lane >> 4) * 8, b_ck = (lane >> 3) & 1;
#pragma unroll 4
            for (int kk = 0; kk < D::kDQ / 16; ++kk) {
                uint32_t a[4];
                ldsm_x4(q_base + 2 * D::swz(a_row, kk * 2 + a_ck), a);
#pragma unroll
                for (int np = 0; np < kNT / 2; ++np) {
                    uint32_t b[4];
                    ldsm_x4(k_base + 2 * D::swz(b_row + np * 16, kk * 2 + b_ck), b);
                    Mma<T>::run(sc[2 * np], a, b[0], b[1]);
                    Mma<T>::run(sc[2 * np + 1], a, b[2], b[3]);
                }
            }
        }
        // scale into log2 units, mask, row max over this warp's keys
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int i = e >> 1;
                const int key = tok0 + kh * (kKT / 2) + nt * 8 + 2 * t + (e & 1);
                const float v = key <= last_key[i] ? sc[nt][e] * p.scale_log2 : -INFINITY;
                sc[nt][e] = v;
                mx[i] = fmaxf(mx[i], v);
            }
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
            if (t == 0) sm.red_max[kh * kRows + qrow[i]] = mx[i];
        }
        __syncthreads();  // both key halves' maxima are in
        float sum[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const float m_new = fmaxf(m_run[i], fmaxf(sm.red_max[qrow[i]], sm.red_max[kRows + qrow[i]]));
            // a row that has seen no key yet keeps m = -inf: exponentiate against 0 so masked keys give 0, not NaN
            const float m_use = m_new == -INFINITY ? 0.f : m_new;
            alpha_reg[i] = ex2(m_run[i] - m_use);  // m_run = -inf -> 0 (acc is 0 anyway)
            m_run[i] = m_new;
            sum[i] = 0.f;
#pragma unroll
            for (int nt = 0; nt < kNT; ++nt) {
                const float p0 = ex2(sc[nt][2 * i] - m_use), p1 = ex2(sc[nt][2 * i + 1] - m_use);
                sum[i] += p0 + p1;
                const int col = kh * (kKT / 2) + nt * 8 + 2 * t;
                *reinterpret_cast<uint32_t*>(sm.p + qrow[i] * kPStride + col) = Mma<T>::pack(p0, p1);
            }
            sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], 1);
            sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], 2);
            if (t == 0) {
                sm.red_sum[kh * kRows + qrow[i]] = sum[i];
                if (kh == 0) sm.alpha[qrow[i]] = alpha_reg[i];
            }
        }
        __syncthreads();  // P, alpha and the half sums are in
        if (kh == 0) {
#pragma unroll
            for (int i = 0; i < 2; ++i)
                l_run[i] = l_run[i] * alpha_reg[i] + sm.red_sum[qrow[i]] + sm.red_sum[kRows + qrow[i]];
        }

        // O = O * alpha + P V over this warp's d_v / 8 columns
#pragma unroll
        for (int mt = 0; mt < 4; ++mt) {
            if (mt < valid_mt) {
                const float a0 = sm.alpha[mt * 16 + g], a1 = sm.alpha[mt * 16 + g + 8];
#pragma unroll
                for (int nt = 0; nt < D::kVNT; ++nt) {
                    acc[mt][nt][0] *= a0; acc[mt][nt][1] *= a0;
                    acc[mt][nt][2] *= a1; acc[mt][nt][3] *= a1;
                }
            }
        }
        const int v_row = (lane & 7) + ((lane >> 3) & 1) * 8, v_ck = warp * (D::kVCols / 8) + (lane >> 4);
        const int pa_row = (lane & 7) + ((lane >> 3) & 1) * 8, pa_col = (lane >> 4) * 8;
#pragma unroll
        for (int kk = 0; kk < kKT / 16; ++kk) {
            uint32_t b[D::kVNT / 2][4];  // the warp's n-tiles of V (16 keys x d_v / 8 columns)
#pragma unroll
            for (int np = 0; np < D::kVNT / 2; ++np) ldsm_x4_t(k_base + 2 * D::swz(kk * 16 + v_row, v_ck + np * 2), b[np]);
#pragma unroll
            for (int mt = 0; mt < 4; ++mt) {
                if (mt < valid_mt) {
                    uint32_t a[4];
                    ldsm_x4(p_base + 2 * ((mt * 16 + pa_row) * kPStride + kk * 16 + pa_col), a);
#pragma unroll
                    for (int np = 0; np < D::kVNT / 2; ++np) {
                        Mma<T>::run(acc[mt][2 * np], a, b[np][0], b[np][1]);
                        Mma<T>::run(acc[mt][2 * np + 1], a, b[np][2], b[np][3]);
                    }
                }
            }
        }
    }
    cp_async_wait_all();  // an empty split still committed its Q group

    if (kh == 0 && t == 0) {
#pragma unroll
        for (int i = 0; i < 2; ++i) { sm.fin_m[qrow[i]] = m_run[i]; sm.fin_l[qrow[i]] = l_run[i]; }
    }
    __syncthreads();  // final row stats are in

    // epilogue: normalise and write o/lse directly (one split) or the partial slot
    constexpr float kLn2 = 0.6931471805599453f;
#pragma unroll
    for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int r = mt * 16 + g + 8 * i, gr = row0 + r;
            if (gr >= p.rows) continue;
            const float l = sm.fin_l[r];
            const bool empty = !(l > 0.f);
            const float inv = empty ? 0.f : (kFp8 ? p.v_scale : 1.f) / l;
            if (direct) {
                T* o = reinterpret_cast<T*>(p.o) + ((size_t)s * p.rows + gr) * D::kDV + warp * D::kVCols + 2 * t;
#pragma unroll
                for (int nt = 0; nt < D::kVNT; ++nt)
                    *reinterpret_cast<uint32_t*>(o + nt * 8) =
                        Mma<T>::pack(acc[mt][nt][2 * i] * inv, acc[mt][nt][2 * i + 1] * inv);
                if (warp == 0 && t == 0) {
                    const int iq = gr / p.h_q, h = gr % p.h_q;
                    p.lse[((size_t)s * p.h_q + h) * p.s_q + iq] = empty ? INFINITY : (sm.fin_m[r] + log2f(l)) * kLn2;
                }
            } else {
                float* o = p.o_accum + ((size_t)slot * p.rows + gr) * D::kDV + warp * D::kVCols + 2 * t;
#pragma unroll
                for (int nt = 0; nt < D::kVNT; ++nt)
                    *reinterpret_cast<float2*>(o + nt * 8) = make_float2(acc[mt][nt][2 * i] * inv, acc[mt][nt][2 * i + 1] * inv);
                if (warp == 0 && t == 0)
                    p.lse_accum[(size_t)slot * p.rows + gr] = empty ? -INFINITY : (sm.fin_m[r] + log2f(l)) * kLn2;
            }
        }
    }
    __syncthreads();  // the next split reuses Q, K and the row stats
}

template <typename T, class D, bool kFp8>
__device__ __forceinline__ void run_part(const MlaParams& p, unsigned char* smem_raw) {
    const Smem sm = carve<D>(smem_raw);
    const int part = blockIdx.x, row0 = blockIdx.y * kRows;
    const int* m = p.sched + part * MLA4J_SCHED_INTS;
    const int begin_idx = m[0], begin_blk = m[1], end_idx = m[2], end_blk = m[3], begin_split = m[4];
    for (int s = begin_idx; s <= end_idx; ++s) {
        const int blocks = mla4j_tiles(p.seqlens[s]);
        const int b0 = s == begin_idx ? begin_blk : 0;
        const int b1 = s == end_idx ? end_blk : blocks;
        const int first = p.split_offsets[s], n_splits = p.split_offsets[s + 1] - first;
        const int slot = first + (s == begin_idx ? begin_split : 0);
        decode_split<T, D, kFp8>(p, sm, s, row0, b0, b1, slot, n_splits == 1);
    }
}
}  // namespace mla4j_sm80

// The width pairs (d_c, d_r) the portable kernel is instantiated for besides DeepSeek's 512 + 64 (the entry
// mla4j_decode_sm80): include/mla4j/widths.h, entry mla4j_decode_sm80_<d_c>x<d_r> each. They launch with two
// K stages like DeepSeek's: rings as deep as shared memory holds (4 stages at 256 latents, 8 at 128) measured level on
// the H200 (within 2%): these entries are bound by the per-stage softmax and barriers, whose cost is per key whatever
// the width, not by bytes in flight (docs/PERF.md, "the width entries with the stages that fit").
#define MLA4J_SM80_OTHER_WIDTHS(X) MLA4J_OTHER_WIDTHS(X)

// Dynamic shared memory for a launch with `stages` K buffers (2..4) of the image's stage size kt (stage_tokens) and
// widths D: the kernel derives the count from it.
namespace mla4j_sm80 {
template <class D> constexpr int smem_bytes(int kt, int stages) { return D::fixed_bytes(kt) + stages * D::k_bytes(kt); }
}  // namespace mla4j_sm80
#define MLA4J_SM80_SMEM_BYTES(kt, stages) mla4j_sm80::smem_bytes<mla4j_sm80::DeepSeek>(kt, stages)

namespace mla4j_sm80 {
// One entry's body: a launch for other widths than the entry's (a host bug) writes nothing, which poisoned outputs
// show, rather than reading rows of the wrong stride.
template <class D, bool kFp8 = false>
__device__ __forceinline__ void entry(const MlaParams& p, unsigned char* smem) {
    if (p.d_qk != D::kDQ || p.d_v != D::kDV) return;
    if (p.dtype == MLA4J_BF16) run_part<__nv_bfloat16, D, kFp8>(p, smem);
    else run_part<__half, D, kFp8>(p, smem);
}
}  // namespace mla4j_sm80

extern "C" __global__ void __launch_bounds__(mla4j_sm80::kThreads, 1)
    mla4j_decode_sm80(const __grid_constant__ MlaParams p) {
    extern __shared__ __align__(128) unsigned char mla4j_sm80_smem[];
    mla4j_sm80::entry<mla4j_sm80::DeepSeek>(p, mla4j_sm80_smem);
}

// The same kernel over an fp8_e4m3 cache (MlaParams.cache_format) of DeepSeek's widths, the same launch and shared memory.
extern "C" __global__ void __launch_bounds__(mla4j_sm80::kThreads, 1)
    mla4j_decode_sm80_fp8(const __grid_constant__ MlaParams p) {
    extern __shared__ __align__(128) unsigned char mla4j_sm80_smem[];
    mla4j_sm80::entry<mla4j_sm80::DeepSeek, true>(p, mla4j_sm80_smem);
}

#define MLA4J_SM80_ENTRY(DC, DR)                                                                  \
    extern "C" __global__ void __launch_bounds__(mla4j_sm80::kThreads, 1)                          \
        mla4j_decode_sm80_##DC##x##DR(const __grid_constant__ MlaParams p) {                       \
        extern __shared__ __align__(128) unsigned char mla4j_sm80_smem[];                          \
        mla4j_sm80::entry<mla4j_sm80::Dims<DC, DR>>(p, mla4j_sm80_smem);                           \
    }
MLA4J_SM80_OTHER_WIDTHS(MLA4J_SM80_ENTRY)
#undef MLA4J_SM80_ENTRY
