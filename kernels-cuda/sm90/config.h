// Tile sizes, thread roles and pipeline depth of mla4j_decode_sm90 (the numbers every other file derives from).
#pragma once
#include "mla4j/params.h"
#include "sm90_launch.h"

namespace mla4j_sm90 {

constexpr int kRowsPerTile = 64;                // packed query rows (i_q * h_q + head) per CTA: one wgmma M
constexpr int kBoxBytes = 64 * 128;             // one TMA box: 64 rows x 64 16-bit columns, 128-byte swizzle
constexpr int kBoxes = MLA4J_D_QK / 64;         // 9 boxes per 576-wide row block (boxes 0..7 are V, box 8 RoPE)
constexpr int kTileBytes = kBoxes * kBoxBytes;  // 73728: a Q tile or one 64-token KV block
// KV ring depth: two 72 KiB stages are what fits beside the Q tile (and in the lab a one-stage ring, and a
// three-stage ring without the Q tile, streamed slower than two).
constexpr int kStages = 2;

// Threads 0..255 are the two consumer warpgroups (warpgroup 0: V columns 0..255, warpgroup 1: 256..511);
// threads 256..383 the producer warpgroup, of which one thread issues every TMA load.
constexpr int kConsumerThreads = 256;
constexpr int kThreads = kConsumerThreads + 128;
static_assert(kThreads == MLA4J_SM90_THREADS, "update sm90_launch.h");
static_assert(kRowsPerTile == MLA4J_SM90_ROWS_PER_CTA, "update sm90_launch.h");

// Pages of >= 16 tokens (page_shift >= 4) reach shared memory by TMA, one load of a page's rows per box; smaller
// pages are gathered with cp.async by the whole producer warpgroup. Measured on the H200 against 64-token pages
// (b = 128, h_q = 16; lab/results/bench/gpu/2026-12-03-pages-tma/, -pages-gather/): TMA at page 1 (576 loads of
// 128 B a tile) 0.15x, at page 8 (72 loads) 0.80-0.83x, at page 16 (36 loads) 0.96-0.98x; the gather at pages
// 1-4 0.96-1.01x.
constexpr int kTmaMinPageShift = 4;
constexpr int kProducerThreads = 128;

// The fp8 ring: an e4m3 tile (36 KiB, 576 bytes a token) is half a 16-bit one, so the ring's second stage holds two
// raw tiles (TMA, unswizzled, 9 boxes of 64 tokens x 64 bytes each) and the first the one widened tile the consumers
// read (kFp8WideStages). Two raw tiles in flight keep as many bytes loading as the 16-bit ring does; the first build
// widened in place in a two-stage ring and had at most one 36 KiB tile loading: 2.2x slower than bf16 (docs/PERF.md).
constexpr int kRawBoxBytes = 64 * 64;
constexpr int kRawTileBytes = kBoxes * kRawBoxBytes;  // 36864
static_assert(2 * kRawTileBytes == kTileBytes && kStages == 2, "two raw tiles fill the second stage");
constexpr int kFp8WideStages = 1;
// Who widens an fp8 tile: the producer warpgroup and consumer warpgroup 1 (produce_fp8 says why).
constexpr int kFp8Wideners = 256;

// setmaxnreg split of the 64K registers: the producer needs almost none, each consumer holds 128 fp32
// accumulators plus the S scores and P fragments of a block.
constexpr unsigned kProducerRegs = 24;
constexpr unsigned kConsumerRegs = 240;
// The fp8 kernel's producer widens bytes and keeps the loader's walk: it gets more (the CTA's pool is 384 x 168
// registers; 40 / 232 spilled 28 bytes once warpgroup 1 widened too, 56 / 224 spills none).
constexpr unsigned kFp8ProducerRegs = 56;
constexpr unsigned kFp8ConsumerRegs = 224;
static_assert(kFp8ProducerRegs * kProducerThreads + kFp8ConsumerRegs * kConsumerThreads <= 168 * kThreads, "register pool");

// Lazy running max: it moves only when a row's maximum grows by more than this (log2 units), so p <= 2^8 and
// most blocks skip the accumulator rescale.
constexpr float kLazyMax = 8.f;

}  // namespace mla4j_sm90
