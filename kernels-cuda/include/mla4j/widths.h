// The width pairs (d_c, d_r) the CUDA kernels are instantiated for besides DeepSeek's 512 + 64: the models' pairs
// (MiniCPM3's 256 + 32, converted models' 256/128 latents with 64 or 32 RoPE dims). The one place the list is
// written: the portable kernel's entries mla4j_decode_sm80_<d_c>x<d_r> (sm80/decode_sm80.cu) and the transposed
// kernel's mla4j_decode_sm90_etap_<d_c>x<d_r> (sm90_etap/decode_sm90_etap.cu) expand it; io.mla4j.cuda learns it
// from mla4j_kernels.properties (sm80.widths, printed by scripts/gpu-launch-props.sh).
#pragma once
#define MLA4J_OTHER_WIDTHS(X) X(256, 64) X(256, 32) X(128, 64) X(128, 32)
