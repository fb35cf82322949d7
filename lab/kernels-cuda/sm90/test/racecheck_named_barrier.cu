// Test-only: does compute-sanitizer racecheck honour a named barrier that 256 of a block's 384 threads
// meet at? The sm90 kernel's consumer warpgroups hand data over this way (threads 0..127 write shared
// memory, barrier.sync id, 256, threads 128..255 read). The kernels below reproduce that handoff in steps
// towards the relay schedule's exact shape (same / separate barrier instructions, aligned / non-aligned,
// the two-barrier loop, one writing lane in four plus the async-proxy fence, register operands and
// setmaxnreg), all correctly ordered. racecheck reports none of them except relay_loop_reg<1>, where one
// warpgroup alone also meets a barrier: that is what made it report hazards on the r12 kernel (docs/PERF.md r13).
// Build: nvcc -gencode=arch=compute_90a,code=sm_90a -lineinfo -o racecheck_named_barrier racecheck_named_barrier.cu
// Run:   compute-sanitizer --tool racecheck ./racecheck_named_barrier
#include <cstdint>
#include <cstdio>

template <bool ALIGNED>
__global__ void handoff(float* out) {
    __shared__ float buf[128];
    const int t = threadIdx.x;
    if (t < 128) buf[t] = 1.0f + t;  // warpgroup 0 writes
    if (t < 256) {
        if (ALIGNED) asm volatile("bar.sync 1, 256;" ::: "memory");
        else asm volatile("barrier.sync 1, 256;" ::: "memory");
    }
    if (t >= 128 && t < 256) out[t - 128] = buf[t - 128];  // warpgroup 1 reads after the barrier
}
// The kernel's actual shape: the two warpgroups reach barrier 1 through different instructions
// (writer and reader branches each have their own barrier.sync), as in the relay schedule's handoffs.
__global__ void handoff_split(float* out) {
    __shared__ float buf[128];
    const int t = threadIdx.x;
    if (t < 128) {
        buf[t] = 1.0f + t;
        asm volatile("barrier.sync 1, 256;" ::: "memory");
    } else if (t < 256) {
        asm volatile("barrier.sync 1, 256;" ::: "memory");
        out[t - 128] = buf[t - 128];
    }
}
// The relay schedule's loop: per iteration WG0 publishes (barrier A), WG1 consumes and then lets WG0
// overwrite (barrier B, skipped after the last iteration and, on WG0's side, before the first).
// FENCED: as the kernel writes it, one lane in four writes (a row's maximum), then the async-proxy fence
// the P tile needs, then the barrier.
template <bool FENCED>
__global__ void relay_loop(float* out) {
    __shared__ float buf[128];
    const int t = threadIdx.x;
    float acc = 0.f;
    for (int i = 0; i < 8; ++i) {
        if (t < 128) {
            if (i > 0) asm volatile("barrier.sync 2, 256;" ::: "memory");
            if (!FENCED || (t & 3) == 0) buf[t] = 1.0f + t + i;
            if (FENCED) asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
            asm volatile("barrier.sync 1, 256;" ::: "memory");
        } else if (t < 256) {
            asm volatile("barrier.sync 1, 256;" ::: "memory");
            acc += buf[FENCED ? (t - 128) & ~3 : t - 128];
            if (i < 7) asm volatile("barrier.sync 2, 256;" ::: "memory");
        }
    }
    if (t >= 128 && t < 256) out[t - 128] = acc;
}
// relay_loop<true> with the barrier id and count as register operands (the kernel's named_barrier helper)
// and setmaxnreg, as in the kernel's consumer warpgroups (the third warpgroup gives registers back).
// SUB (r13): 1 adds a warpgroup-0-only barrier (id 7, 128 threads) in the last iteration before WG0's write,
// as the r12 relay ran it on a split's partly used last block; 2 also gives warpgroup 1 a barrier of its own
// (id 8) there. racecheck reports SUB = 1 (a false hazard: the order is the same as with SUB = 0), not 0 or 2.
__device__ __forceinline__ void nbar(uint32_t id, uint32_t n) { asm volatile("barrier.sync %0, %1;" ::"r"(id), "r"(n) : "memory"); }
template <int SUB>
__global__ void __launch_bounds__(384, 1) relay_loop_reg(float* out, uint32_t a, uint32_t b) {
    __shared__ float buf[128];
    const int t = threadIdx.x;
    if (t >= 256) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;");
        return;
    }
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;");
    float acc = 0.f;
    for (int i = 0; i < 8; ++i) {
        if (t < 128) {
            if (SUB >= 1 && i == 7) nbar(7, 128);
            if (i > 0) nbar(b, 256);
            if ((t & 3) == 0) buf[t] = 1.0f + t + i;
            asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
            nbar(a, 256);
        } else {
            if (SUB == 2 && i == 7) nbar(8, 128);
            nbar(a, 256);
            acc += buf[(t - 128) & ~3];
            if (i < 7) nbar(b, 256);
        }
    }
    if (t >= 128) out[t - 128] = acc;
}
// Same, with the whole block at the barrier (__syncthreads): the reference racecheck must accept.
__global__ void handoff_all(float* out) {
    __shared__ float buf[128];
    const int t = threadIdx.x;
    if (t < 128) buf[t] = 1.0f + t;
    __syncthreads();
    if (t >= 128 && t < 256) out[t - 128] = buf[t - 128];
}

int main() {
    float* d;
    cudaMalloc(&d, 128 * sizeof(float));
    handoff<false><<<1, 384>>>(d);
    handoff<true><<<1, 384>>>(d);
    handoff_split<<<1, 384>>>(d);
    relay_loop<false><<<1, 384>>>(d);
    relay_loop<true><<<1, 384>>>(d);
    relay_loop_reg<0><<<1, 384>>>(d, 5, 6);
    relay_loop_reg<1><<<1, 384>>>(d, 5, 6);  // reported by racecheck (r13): the tool's false positive
    relay_loop_reg<2><<<1, 384>>>(d, 5, 6);
    handoff_all<<<1, 384>>>(d);
    float h[128];
    cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
    const cudaError_t e = cudaDeviceSynchronize();
    printf("handoff kernels ran: %s, out[127] = %g (expect 128)\n", cudaGetErrorString(e), h[127]);
    cudaFree(d);
    return e == cudaSuccess && h[127] == 128.f ? 0 : 1;
}
