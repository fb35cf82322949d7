// Test-only: does compute-sanitizer racecheck honour a named barrier that 256 of a block's 384 threads
// meet at? The sm90 kernel's consumer warpgroups hand data over exactly this way (threads 0..127 write
// shared memory, barrier.sync id, 256, threads 128..255 read). This kernel does only that, correctly
// ordered, in the aligned and non-aligned barrier forms; racecheck hazards here are the tool's, not ours.
// Build: nvcc -arch=sm_90a -lineinfo -o racecheck_named_barrier racecheck_named_barrier.cu
// Run:   compute-sanitizer --tool racecheck ./racecheck_named_barrier   (r12: see docs/PERF.md)
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
    handoff_all<<<1, 384>>>(d);
    float h[128];
    cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
    const cudaError_t e = cudaDeviceSynchronize();
    printf("handoff kernels ran: %s, out[127] = %g (expect 128)\n", cudaGetErrorString(e), h[127]);
    cudaFree(d);
    return e == cudaSuccess && h[127] == 128.f ? 0 : 1;
}
