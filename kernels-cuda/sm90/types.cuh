// What the consumer code is written against: the input dtype's wgmmas and packing, and each consumer
// thread's fixed coordinates and shared-memory addresses.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "smem_plan.cuh"
#include "sm90_ptx.cuh"
#include "sm90_wgmma.cuh"

namespace mla4j_sm90 {

// qk64: S (+)= Q K^T for 64 keys, both operands from shared memory (K-major). pv / pv_rs: O (+)= P V over 256
// columns, P from shared memory / from registers, V MN-major. pack: two fp32 -> the 16-bit pair wgmma reads.
struct Bf16 {
    __device__ static void qk64(float (&d)[32], uint64_t a, uint64_t b, int acc) { wgmma_m64n64k16_bf16<0>(d, a, b, acc); }
    __device__ static void pv(float (&d)[128], uint64_t a, uint64_t b) { wgmma_m64n256k16_bf16<1>(d, a, b, 1); }
    __device__ static void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { wgmma_m64n256k16_rs_bf16<1>(d, a, b, 1); }
    __device__ static uint32_t pack(float x, float y) {
        __nv_bfloat162 v = __floats2bfloat162_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
    // Four e4m3 values (low byte first) to two pairs of this type, exactly, on the integer and FMA pipes (the
    // conversion pipe's e4m3 -> f16 -> f32 -> bf16 cost 4 instructions a pair at a quarter rate: the first build's
    // bottleneck), 4 instructions a pair: prmt puts byte b in a 16-bit lane above 8 copies of its sign, a shift by 4
    // and one mask leave the sign in bf16's bit 15 and the 7 magnitude bits in bits 10..4, which read as a bf16 are
    // the value times 2^-120 (a subnormal for e4m3's subnormals), so one multiply by 2^120 finishes it. The NaN code
    // S.1111.111 becomes +-480 (quantisers never write it: they saturate to +-448).
    __device__ static void from_e4m3x4(uint32_t w, uint32_t& lo, uint32_t& hi) {
        const __nv_bfloat162 k = __halves2bfloat162(__ushort_as_bfloat16(0x7B80), __ushort_as_bfloat16(0x7B80));  // 2^120
        uint32_t t[2] = {prmt_sign(w, 0x9180), prmt_sign(w, 0xB3A2)};  // bytes 0,1 / 2,3 over their signs
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const uint32_t b = (t[i] << 4) & 0x87F087F0u;
            const __nv_bfloat162 v = __hmul2(*reinterpret_cast<const __nv_bfloat162*>(&b), k);
            t[i] = *reinterpret_cast<const uint32_t*>(&v);
        }
        lo = t[0];
        hi = t[1];
    }
};
struct Fp16 {
    __device__ static void qk64(float (&d)[32], uint64_t a, uint64_t b, int acc) { wgmma_m64n64k16_f16<0>(d, a, b, acc); }
    __device__ static void pv(float (&d)[128], uint64_t a, uint64_t b) { wgmma_m64n256k16_f16<1>(d, a, b, 1); }
    __device__ static void pv_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t b) { wgmma_m64n256k16_rs_f16<1>(d, a, b, 1); }
    __device__ static uint32_t pack(float x, float y) {
        __half2 v = __floats2half2_rn(x, y);
        return *reinterpret_cast<uint32_t*>(&v);
    }
    // four e4m3 values to two f16 pairs, exactly (the conversion pipe's one instruction a pair)
    __device__ static void from_e4m3x4(uint32_t w, uint32_t& lo, uint32_t& hi) {
        lo = e4m3x2_to_f16x2(w & 0xFFFF);
        hi = e4m3x2_to_f16x2(w >> 16);
    }
};

// Per-thread constants of a consumer thread (threads 0..255).
struct Ctx {
    int t, wg, tw, warp, lane, r0, cq, tile_row0;
    uint8_t* smem;
    float *smax, *ssum;
    uint32_t full, empty;      // the first full / empty mbarrier
    uint64_t dq, dp, dkv, dv;  // wgmma descriptors; dkv: KV stage 0 base (K-major); dv: this warpgroup's V columns (MN-major)
};
__device__ __forceinline__ Ctx make_ctx(uint8_t* smem, int tile) {
    Ctx c;
    c.t = threadIdx.x;
    c.wg = c.t >> 7;  // 0: V columns 0..255, 1: 256..511
    c.tw = c.t & 127;
    c.warp = c.tw >> 5;
    c.lane = c.tw & 31;
    c.r0 = 16 * c.warp + (c.lane >> 2);  // accumulator rows r0, r0 + 8
    c.cq = 2 * (c.lane & 3);             // accumulator columns 8j + cq, 8j + cq + 1
    c.tile_row0 = tile * kRowsPerTile;
    c.smem = smem;
    c.smax = reinterpret_cast<float*>(smem + kOffMax);
    c.ssum = reinterpret_cast<float*>(smem + kOffSum);
    c.full = smem_addr(smem + kOffBar);
    c.empty = c.full + kStages * kBoxes * 8;
    // K-major operands (Q, K, P) advance 32 B per 16-deep k step inside a 128 B row and one box
    // (64 columns, 8 KiB) every 4 steps; V is MN-major (feature contiguous): LBO = box stride.
    c.dq = make_desc_sw128(smem_addr(smem + kOffQ), 16, 1024);
    c.dp = make_desc_sw128(smem_addr(smem + kOffP), 16, 1024);
    c.dkv = make_desc_sw128(smem_addr(smem + kOffKV), 16, 1024);
    c.dv = make_desc_sw128(smem_addr(smem + kOffKV) + c.wg * 4 * kBoxBytes, kBoxBytes, 1024);
    return c;
}

}  // namespace mla4j_sm90
