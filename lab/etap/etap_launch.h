// Launch geometry of mla4j_decode_sm90_etap (lab/etap/decode_sm90_etap.cu), for any host (the C++ harness now,
// io.mla4j.cuda.DecodeKernels later). Grid (num_parts, 1): one CTA per split-KV part, rows = h_q * s_q <= 64.
// Per row count the kernel picks a configuration: consumer warpgroups NWG and query columns per warpgroup NW
// (the wgmma N), N = NWG * NW >= rows:
//   rows  1..16: NWG 2, NW 16, block-parallel (the two warpgroups take alternate KV blocks, merged per split)
//   rows 17..32: NWG 2, NW 32, block-parallel     rows 33..48: NWG 2, NW 24    rows 49..64: NWG 2, NW 32
//   (column-split: warpgroup w owns query columns [w*NW, w*NW + NW)); ETAP_BP_MAX_ROWS = 0 / 16: rows <= 16 / 17..32
//   then run on one warpgroup (NWG 1) instead.
// Block = (NWG + 1) * 128 threads (the last warpgroup is the producer); dynamic shared memory: ETAP_SMEM_BYTES (all
// configurations size their KV ring to the same budget).
#pragma once
#define ETAP_MAX_ROWS 64
#ifndef ETAP_BP_MAX_ROWS
#define ETAP_BP_MAX_ROWS 16  // rows up to this (0, 16 or 32) run block-parallel: two warpgroups on alternate KV blocks
#endif
#define ETAP_SMEM_BYTES 232448  // the whole opt-in shared memory of an H100/H200 block; the ring takes what is left

#ifdef __CUDACC__
__host__ __device__
#endif
static inline int etap_consumer_wgs(int rows) { return rows <= ETAP_BP_MAX_ROWS ? 2 : rows <= 32 ? 1 : 2; }

#ifdef __CUDACC__
__host__ __device__
#endif
static inline int etap_threads(int rows) { return (etap_consumer_wgs(rows) + 1) * 128; }
