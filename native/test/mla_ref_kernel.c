/*
 * A stand-in kernel binary for testing the Java -> FFM -> ACL emulator path independently of the real
 * Ascend C kernel: a plain C, fp32-accumulating MLA decode exporting the kernel-binary ABI
 * (ascendc_emu_launch / ascendc_emu_has_kernel) with kernel `mla4j_mla_decode` and the 8 GM_ADDR
 * parameters documented in kernels-ascend/README.md (ABI). It reads only the ABI: the MlaTiling
 * header fields (b, s_q, h_q, max_blocks, dtype, causal, scale, the geometry) and the input tensors. It ignores the
 * schedule and the workspace (it does poison the workspace's first bytes, to prove nothing relies on
 * them). Test-only; never packed into the jar.
 */
#include "mla4j_ascend_tiling.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;     /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                        /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static float load(const uint16_t *p, long i, int dtype) {
    if (dtype == MLA4J_DT_BF16) return bf16_to_f32(p[i]);
    _Float16 h;
    memcpy(&h, &p[i], 2);
    return (float)h;
}

static void store(uint16_t *p, long i, float v, int dtype) {
    if (dtype == MLA4J_DT_BF16) {
        p[i] = f32_to_bf16(v);
    } else {
        _Float16 h = (_Float16)v;
        memcpy(&p[i], &h, 2);
    }
}

EXPORT int32_t ascendc_emu_has_kernel(const char *name) { return strcmp(name, "mla4j_mla_decode") == 0; }

EXPORT int32_t ascendc_emu_launch(const char *name, uint32_t block_dim, void *const *args, uint32_t nargs, char *err, size_t errLen) {
    (void)block_dim;
    if (strcmp(name, "mla4j_mla_decode") != 0) { snprintf(err, errLen, "no kernel '%s'", name); return 1; }
    if (nargs != 8) { snprintf(err, errLen, "mla4j_mla_decode takes 8 GM_ADDR arguments, got %u", nargs); return 2; }
    const uint16_t *q = args[0], *kv = args[1];
    const int32_t *table = args[2], *seqlens = args[3];
    uint16_t *o = args[4];
    float *lse = args[5];
    const MlaTiling *t = args[7];
    if (getenv("MLA4J_REF_KERNEL_DEBUG"))
        fprintf(stderr, "ref kernel: b=%d sq=%d hq=%d maxb=%d dtype=%d causal=%d scale=%g ws=%llu args %p %p %p %p %p %p %p %p\n", t->batch, t->q_len,
                t->num_heads, t->max_blocks, t->dtype, t->causal, t->scale, (unsigned long long)t->workspace_bytes, args[0], args[1], args[2],
                args[3], args[4], args[5], args[6], args[7]);
    if (t->workspace_bytes >= 8) memset(args[6], 0xFF, 8);
    const int b = t->batch, sq = t->q_len, hq = t->num_heads, dt = t->dtype;
    const int page = t->page_size, dqk = t->d_qk, dv = t->d_c;
    float *scores = malloc(sizeof(float) * (size_t)(t->max_blocks > 0 ? t->max_blocks : 1) * page);
    float *acc = malloc(sizeof(float) * (size_t)dv);
    if (!scores || !acc) {
        free(scores);
        free(acc);
        snprintf(err, errLen, "out of memory");
        return 3;
    }
    for (int s = 0; s < b; s++) {
        int sk = seqlens[s];
        for (int i = 0; i < sq; i++) {
            int visible = sk;
            if (t->causal && sq > 1) {
                visible = sk - sq + i + 1;
                if (visible < 0) visible = 0;
                if (visible > sk) visible = sk;
            }
            for (int h = 0; h < hq; h++) {
                long qb = (((long)s * sq + i) * hq + h) * dqk;
                float mx = -INFINITY;
                for (int j = 0; j < visible; j++) {
                    long kb = ((long)table[(long)s * t->max_blocks + j / page] * page + j % page) * dqk;
                    float dot = 0;
                    for (int d = 0; d < dqk; d++) dot += load(q, qb + d, dt) * load(kv, kb + d, dt);
                    scores[j] = dot * t->scale;
                    if (scores[j] > mx) mx = scores[j];
                }
                float sum = 0;
                memset(acc, 0, sizeof(float) * (size_t)dv);
                for (int j = 0; j < visible; j++) {
                    long kb = ((long)table[(long)s * t->max_blocks + j / page] * page + j % page) * dqk;
                    float p = expf(scores[j] - mx);
                    sum += p;
                    for (int d = 0; d < dv; d++) acc[d] += p * load(kv, kb + d, dt);
                }
                long ob = (((long)s * sq + i) * hq + h) * dv;
                for (int d = 0; d < dv; d++) store(o, ob + d, visible ? acc[d] / sum : 0.0f, dt);
                lse[((long)s * hq + h) * sq + i] = visible ? mx + logf(sum) : INFINITY;
            }
        }
    }
    free(scores);
    free(acc);
    return 0;
}
