// PTX wrappers only the lab's kernel variants use (the shipped kernel's are in kernels-cuda/sm90/sm90_ptx.cuh):
// 2-CTA clusters sharing KV loads by multicast (MLA4J_SM90_MULTICAST), and the one-way named-barrier arrive of
// the seesaw schedule.
#pragma once
#include <stdint.h>

namespace mla4j_sm90 {

// ---- clusters (pairs of CTAs sharing KV loads by multicast) ----
__device__ __forceinline__ uint32_t cluster_nctarank() {
    uint32_t n;
    asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(n));
    return n;
}
__device__ __forceinline__ uint32_t cluster_ctarank() {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return r;
}
// All threads of all CTAs of the cluster; orders shared-memory state (barrier inits) cluster-wide.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
// The same shared-memory offset in CTA `rank` of the cluster.
__device__ __forceinline__ uint32_t map_to_cta(uint32_t saddr, uint32_t rank) {
    uint32_t r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(saddr), "r"(rank));
    return r;
}
__device__ __forceinline__ void mbar_arrive_cluster(uint32_t cluster_bar) {
    asm volatile("mbarrier.arrive.release.cluster.shared::cluster.b64 _, [%0];" ::"r"(cluster_bar) : "memory");
}
// Like tma_load_2d, but the box lands at the same offset in every CTA of cta_mask, each completing
// bytes on its own barrier at offset bar.
__device__ __forceinline__ void tma_load_2d_multicast(uint32_t dst, const void* tmap, int32_t c0, int32_t c1, uint32_t bar,
                                                      uint16_t cta_mask) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
        " [%0], [%1, {%2, %3}], [%4], %5;"
        ::"r"(dst), "l"(reinterpret_cast<uint64_t>(tmap)), "r"(c0), "r"(c1), "r"(bar), "h"(cta_mask)
        : "memory");
}

// Signals a named barrier without waiting (the producer side of a producer/consumer handoff).
__device__ __forceinline__ void named_barrier_arrive(uint32_t id, uint32_t threads) {
    asm volatile("barrier.arrive %0, %1;" ::"r"(id), "r"(threads) : "memory");
}
}  // namespace mla4j_sm90
