// mla4j: merging split-KV partials, the arithmetic of the combine kernel (common/combine.cu) in one place
// (r13 also used it for an in-launch merge in the sm90 decode, measured slower: docs/PERF.md r13).
//   lse = log(sum_j exp(lse_j)),  o = sum_j exp(lse_j - lse) * o_j   (o_j already normalised by its split)
// A split with lse_j = -inf saw no key and has weight 0; when every split has -inf the row saw no key at
// all: o = 0, lse = +inf. LSEs are natural logs.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "mla4j/params.h"

namespace mla4j {

// Running merge of 4 columns over some splits: acc = sum_j exp(lse_j - m) * o_j, sum = sum_j exp(lse_j - m),
// m = the largest lse_j seen (-inf while none had a key). Single pass: a batch rescales the state once.
struct PartialSum {
    float m = -INFINITY, sum = 0.f;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);

    __device__ __forceinline__ void rescale_to(float m_new) {
        const float f = __expf(m - m_new);  // m = -inf: 0 (sum and acc are 0 then anyway)
        sum *= f;
        acc.x *= f; acc.y *= f; acc.z *= f; acc.w *= f;
        m = m_new;
    }
    // Adds N splits whose loads were issued together (entries past the end: l = -inf, v = 0).
    template <int N>
    __device__ __forceinline__ void add(const float (&l)[N], const float4 (&v)[N]) {
        float mb = m;
#pragma unroll
        for (int b = 0; b < N; ++b) mb = fmaxf(mb, l[b]);
        if (mb == -INFINITY) return;  // nothing with a key yet
        rescale_to(mb);
#pragma unroll
        for (int b = 0; b < N; ++b) {
            const float e = __expf(l[b] - mb);
            sum += e;
            acc.x += e * v[b].x; acc.y += e * v[b].y; acc.z += e * v[b].z; acc.w += e * v[b].w;
        }
    }
    // Merges another state over other splits into this one.
    __device__ __forceinline__ void merge(const PartialSum& o) {
        const float mn = fmaxf(m, o.m);
        if (mn == -INFINITY) return;
        rescale_to(mn);
        const float f = __expf(o.m - mn);
        sum += f * o.sum;
        acc.x += f * o.acc.x; acc.y += f * o.acc.y; acc.z += f * o.acc.z; acc.w += f * o.acc.w;
    }
};

template <typename T> struct Pack4;
template <> struct Pack4<__nv_bfloat16> {
    __device__ static uint2 pack(float4 v) {
        __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), b = __floats2bfloat162_rn(v.z, v.w);
        return make_uint2(*reinterpret_cast<uint32_t*>(&a), *reinterpret_cast<uint32_t*>(&b));
    }
};
template <> struct Pack4<__half> {
    __device__ static uint2 pack(float4 v) {
        __half2 a = __floats2half2_rn(v.x, v.y), b = __floats2half2_rn(v.z, v.w);
        return make_uint2(*reinterpret_cast<uint32_t*>(&a), *reinterpret_cast<uint32_t*>(&b));
    }
};

// Writes o[s, row r, columns col..col+3] (r = i_q * h_q + head) from the merged state, and the row's LSE
// when col == 0.
template <typename T>
__device__ __forceinline__ void store_merged(const MlaParams& p, int s, int r, int col, const PartialSum& st) {
    uint2* out = reinterpret_cast<uint2*>(static_cast<T*>(p.o) + (static_cast<size_t>(s) * p.rows + r) * p.d_v + col);
    float* lse = p.lse + (static_cast<size_t>(s) * p.h_q + r % p.h_q) * p.s_q + r / p.h_q;
    if (st.m == -INFINITY) {  // the row saw no key in any split
        *out = make_uint2(0u, 0u);
        if (col == 0) *lse = INFINITY;
        return;
    }
    const float inv = 1.f / st.sum;  // sum >= 1: the split holding the max has weight 1
    *out = Pack4<T>::pack(make_float4(st.acc.x * inv, st.acc.y * inv, st.acc.z * inv, st.acc.w * inv));
    if (col == 0) *lse = st.m + __logf(st.sum);
}

}  // namespace mla4j
