/* mla4j native CPU decode kernel: the functions the Java side (io.mla4j.cpu.NativeKernel) binds through FFM. */
#ifndef MLA4J_CPU_KERNEL_H
#define MLA4J_CPU_KERNEL_H
#include <stdint.h>

/* Paths (the first argument of mla4j_cpu_split). The -emu paths run the same kernel source with the
 * matrix instructions emulated in C: for tests on machines without them, never picked automatically. */
#define MLA4J_PATH_AMX 0
#define MLA4J_PATH_AVX512BF16 1
#define MLA4J_PATH_AMX_EMU 2
#define MLA4J_PATH_AVX512BF16_EMU 3

/* Bits of mla4j_cpu_features. */
#define MLA4J_F_AVX512BF16 1   /* CPU has AVX512F/BW/VL + AVX512_BF16 and the OS saves zmm/opmask state */
#define MLA4J_F_AMX 2          /* CPU has AMX-TILE + AMX-BF16 (+ the above), the OS enables tile state and
                                  granted this process tile data (arch_prctl ARCH_REQ_XCOMP_PERM) */
#define MLA4J_F_AVX512FP16 4   /* reported only: fp16 is converted with integer code (see layout.h) */
#define MLA4J_F_AMX_DENIED 8   /* the CPU has AMX but the OS refused tile data to this process */
#define MLA4J_F_X86 16         /* built for x86-64 (the real paths are compiled in) */

int32_t mla4j_cpu_features(void);
int32_t mla4j_cpu_abi_version(void);
int64_t mla4j_cpu_scratch_bytes(int32_t rows);
/* cache (fp8 = MLA4J_CACHE_*): 16-bit rows (0); e4m3 rows of 576 bytes (1, bf16 q only; scale already holds the
 * cache's per-tensor scale, v_scale multiplies o); DeepSeek-V3.2's block-scaled rows of 656 bytes (2, bf16 q only:
 * 512 e4m3, 4 fp32 scales per 128 of them, 64 bf16 RoPE values; v_scale 1). v_scale is 1 for a 16-bit cache. */
#define MLA4J_CACHE_16BIT 0
#define MLA4J_CACHE_E4M3 1
#define MLA4J_CACHE_E4M3_BLOCKSCALE 2
int32_t mla4j_cpu_split(int32_t path, int32_t fp16, const uint16_t *q, const void *cache, int32_t fp8, float v_scale,
                        const int32_t *blocks, int32_t sk, int32_t hq, int32_t sq, int32_t causal, float scale,
                        int32_t block_begin, int32_t block_end, void *scratch, float *partial_o, float *partial_lse);
void mla4j_cpu_combine(int32_t fp16, int32_t nsplits, const float *partial_lse, const float *partial_o, int32_t hq,
                       int32_t sq, uint16_t *out, float *lse);
int64_t mla4j_cpu_dp_loop(int32_t path, int64_t iterations);
#endif
