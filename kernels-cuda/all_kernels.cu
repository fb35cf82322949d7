// The one translation unit behind mla4j_kernels.fatbin. A fatbin holds one image per architecture and
// the driver loads exactly one of them, so every kernel must live in the same image: this file gathers
// them. The Hopper kernel uses sm_90a-only instructions (wgmma, setmaxnreg), so it is compiled only in
// the sm_90a pass; the sm_80 image simply has no mla4j_decode_sm90 / mla4j_decode_sm90_etap (the Java side looks
// them up optionally).
#include "common/scheduler.cu"
#include "common/combine.cu"
#if __has_include("sm80/decode_sm80.cu")
#include "sm80/decode_sm80.cu"
#endif
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "sm90/decode_sm90.cu"
#include "sm90_etap/decode_sm90_etap.cu"
#endif
