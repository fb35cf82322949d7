/*
 * mla4j_mla_decode: MLA (DeepSeek latent attention) decode on Ascend, in the AMLA design
 * (arXiv 2509.25224): a mixed Cube:Vector = 1:2 kernel.
 *
 *   Cube (AIC)   S = Q K^T over d_qk = d_c + d_r dims, O += P V over d_v = d_c dims, through L1 -> L0A/L0B -> L0C,
 *                S and P V leave through Fixpipe (P V with atomic add into a GM fp32 accumulator).
 *   Vector (AIV) online softmax in base 2 with the running max rounded to an integer N, so the
 *                rescale between KV tiles is an exact power of two 2^dn; the GM accumulator is
 *                rescaled by adding dn << 23 to its int32 bit pattern (AMLA), not by a multiply.
 *   Preload pipeline: the Cube computes S for tile g while the Vector turns S(g-1) into P(g-1);
 *                the Cube's P V for tile g-1 follows, and the Vector finalises a finished task
 *                while the Cube already starts the next one. Cross-core flags order every handoff.
 *
 * Work split: the host tiling cuts all (sequence, 64-token tile) pairs into one contiguous range
 * per AI core (io.mla4j.SplitSchedule); a sequence cut across cores is merged by LSE at the end
 * (all AIV cores, after SyncAll). Each core's range is walked as tasks = (split, 64-row tile of
 * the packed s_q * h_q query rows), each task as steps of 128 KV tokens.
 * The cache is read in its ND layout and turned into NZ fractals on the way into L1 (Nd2Nz).
 *
 * Geometry (tiling fields page_size, d_c, d_r): the kernel's units do not move with it. A 128-token
 * step is gathered through the block table run by run (one Nd2Nz copy per page it touches: 128 of
 * one row at page 1, part of one page at page 256); S loops over d_qk in K = 64 steps (the last one
 * 16, 32 or 48 deep when d_qk is no multiple of 64); P V over d_v in passes of up to 256 columns.
 * Buffer sizes come from mla4j_ascend_budget.h, which the tiling checks against the core's memory.
 * The AMLA argument does not depend on the geometry: N = round(M) and the 2^dn rescale are per row,
 * d_v only sets how many accumulator elements a row has (the zero / subnormal guard is per element),
 * and the page size only where a key comes from.
 */
#include "kernel_operator.h"
#include "mla4j_ascend_tiling.h"
#include "mla4j_ascend_budget.h"

using namespace AscendC;

namespace mla4j {

constexpr uint32_t SCHED = MLA4J_SCHED_TILE;  // 64 tokens per schedule unit (any page size)
constexpr uint32_t TM = MLA4J_TILE_M;          // 64 query rows per task
constexpr uint32_t TN = MLA4J_TILE_N;          // 128 KV tokens per step
constexpr uint32_t K_STEP = MLA4J_K_STEP;      // K of one L0 Mmad (both matmuls)
constexpr uint32_t V_PASS = MLA4J_V_PASS;      // P V output columns per L0C pass
constexpr uint32_t ROWS_AIV = MLA4J_ROWS_AIV;  // rows per Vector core
constexpr uint32_t C0 = 16;                    // 2-byte elements per 32-byte block / fractal row
constexpr uint32_t FRAC = 256;                 // elements per 16x16 fractal
constexpr float LN2 = 0.69314718055994531f;
constexpr int32_t RESCALE_FLOOR = -64;         // 2^-64: older tiles no longer matter (see README)

// MTE1_MTE2 events guarding L1 buffers against being overwritten while LoadData still reads them.
constexpr int32_t EV_K0 = 0, EV_Q = 2, EV_P = 3;

// Cross-core flags (mode 2, AIC <-> its two AIV).
constexpr uint16_t FLAG_S_READY = 0;   // AIC -> AIV: S(g) is in the workspace
constexpr uint16_t FLAG_P_READY = 1;   // AIV -> AIC: P(g) is in the workspace, O rescaled for it
constexpr uint16_t FLAG_PV_DONE = 2;   // AIC -> AIV: P(g) V has landed in the O accumulator

__aicore__ inline uint32_t Ceil16(uint32_t v) { return (v + 15) / 16 * 16; }

// 2^n as a float, for n in [-126, 127] (the exponent field, built directly).
__aicore__ inline float Pow2(int32_t n) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)(n + 127) << 23;
    return v.f;
}

// A pipe-to-pipe barrier: the later pipe waits until the earlier one has finished what it was given.
template <HardEvent e>
__aicore__ inline void Sync(int32_t id = 0) {
    SetFlag<e>(id);
    WaitFlag<e>(id);
}

// log2 of a power of two (the page size): token -> page is a shift.
__aicore__ inline int32_t Log2(int32_t p) {
    int32_t n = 0;
    while ((1 << n) < p) n++;
    return n;
}

__aicore__ inline int32_t RoundNearest(float x) { return (int32_t)(x >= 0.0f ? x + 0.5f : x - 0.5f); }

// The tiling blob, copied word by word from GM (what GET_TILING_DATA does).
__aicore__ inline void LoadTiling(MlaTiling &t, GM_ADDR tiling) {
    GlobalTensor<uint32_t> g;
    g.SetGlobalBuffer((__gm__ uint32_t *)tiling, sizeof(MlaTiling) / 4);
    uint32_t *dst = reinterpret_cast<uint32_t *>(&t);
    for (uint32_t i = 0; i < sizeof(MlaTiling) / 4; i++) dst[i] = g.GetValue(i);
}

// One task: rows [row0, row0 + rows) of sequence seq against its tokens [tok0, tok1).
struct Task {
    int32_t seq, row0, rows, tok0, tok1, slot, steps;
    bool single;  // the sequence has one split: write o / lse directly
};

// Walks the tasks of one AI core in the same order on the Cube and on both Vector cores.
class TaskWalker {
public:
    __aicore__ inline void Init(const MlaTiling &t, GM_ADDR tiling, GM_ADDR seqlens, int32_t part) {
        t_ = &t;
        GlobalTensor<int32_t> blob;
        blob.SetGlobalBuffer((__gm__ int32_t *)tiling, t.tiling_bytes / 4);
        sched_ = blob[t.sched_off + (uint32_t)part * MLA4J_META_INTS];
        splits_ = blob[t.split_off];
        seqlens_.SetGlobalBuffer((__gm__ int32_t *)seqlens, t.batch);
        seq_ = sched_.GetValue(0);
        end_seq_ = sched_.GetValue(2);
        row_tile_ = 0;
    }
    __aicore__ inline bool Next(Task &k) {
        if (seq_ > end_seq_) return false;
        int32_t begin_seq = sched_.GetValue(0), len = seqlens_.GetValue(seq_);
        int32_t blk0 = seq_ == begin_seq ? sched_.GetValue(1) : 0;
        int32_t blk1 = seq_ == end_seq_ ? sched_.GetValue(3) : (len + (int32_t)SCHED - 1) / (int32_t)SCHED;
        int32_t first = splits_.GetValue(seq_), count = splits_.GetValue(seq_ + 1) - first;
        k.seq = seq_;
        k.row0 = row_tile_ * (int32_t)TM;
        k.rows = t_->rows - k.row0 < (int32_t)TM ? t_->rows - k.row0 : (int32_t)TM;
        k.tok0 = blk0 * (int32_t)SCHED;
        k.tok1 = blk1 * (int32_t)SCHED < len ? blk1 * (int32_t)SCHED : len;
        k.steps = k.tok1 > k.tok0 ? (k.tok1 - k.tok0 + (int32_t)TN - 1) / (int32_t)TN : 0;
        k.slot = first + (seq_ == begin_seq ? sched_.GetValue(4) : 0);
        k.single = count == 1;
        if (++row_tile_ == t_->row_tiles) { row_tile_ = 0; seq_++; }
        return true;
    }
    __aicore__ inline int32_t SeqLen(int32_t s) const { return seqlens_.GetValue(s); }

private:
    const MlaTiling *t_ = nullptr;
    GlobalTensor<int32_t> sched_, splits_, seqlens_;
    int32_t seq_ = 0, end_seq_ = -1, row_tile_ = 0;
};

// ================================ Cube (AIC) ================================

template <class T>
class MlaCube {
public:
    __aicore__ inline void Init(const MlaTiling &t, GM_ADDR q, GM_ADDR kv, GM_ADDR bt, GM_ADDR seqlens, GM_ADDR ws,
                                GM_ADDR tiling) {
        t_ = &t;
        dqk_ = (uint32_t)t.d_qk;
        dv_ = (uint32_t)t.d_c;
        page_ = t.page_size;
        int32_t core = (int32_t)GetBlockIdx();
        walker_.Init(t, tiling, seqlens, core);
        qGm_.SetGlobalBuffer((__gm__ T *)q, (uint64_t)t.batch * t.rows * dqk_);
        kvGm_.SetGlobalBuffer((__gm__ T *)kv, (uint64_t)t.num_cache_blocks * page_ * dqk_);
        btGm_.SetGlobalBuffer((__gm__ int32_t *)bt, (uint64_t)t.batch * t.max_blocks);
        sWs_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_s_off + t.ws_s_core * core), 2 * TM * TN);
        pWs_.SetGlobalBuffer((__gm__ T *)(ws + t.ws_p_off + t.ws_p_core * core), 2 * TM * TN);
        oWs_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_o_off + t.ws_o_core * core), TM * dv_);
        // L1: Q tile, two K tiles (the P V of tile g-1 reads one while tile g loads the other), P tile;
        // sized by the widths (mla4j_ascend_budget.h; the tiling refused widths that overflow L1).
        pipe_.InitBuffer(qL1_, mla4j_l1_q_bytes(dqk_));
        pipe_.InitBuffer(kL1_[0], mla4j_l1_k_bytes(dqk_));
        pipe_.InitBuffer(kL1_[1], mla4j_l1_k_bytes(dqk_));
        pipe_.InitBuffer(pL1_, mla4j_l1_p_bytes());
        // L0A / L0B / L0C: two buffers each (ping-pong), the same for every geometry.
        pipe_.InitBuffer(a2Q_, 2, TM * K_STEP * sizeof(T));
        pipe_.InitBuffer(b2Q_, 2, K_STEP * V_PASS * sizeof(T));
        pipe_.InitBuffer(c1Q_, 2, TM * V_PASS * sizeof(float));
    }

    __aicore__ inline void Process() {
        // Every L1 buffer starts free: pre-set its "reads done" event; each use waits for it first.
        SetFlag<HardEvent::MTE1_MTE2>(EV_K0);
        SetFlag<HardEvent::MTE1_MTE2>(EV_K0 + 1);
        SetFlag<HardEvent::MTE1_MTE2>(EV_Q);
        SetFlag<HardEvent::MTE1_MTE2>(EV_P);
        Task cur, prev;
        int32_t g = 0, prevStep = 0;
        bool havePrev = false;
        while (walker_.Next(cur)) {
            if (cur.steps == 0) continue;  // nothing for the Cube: the Vector writes the empty result
            for (int32_t st = 0; st < cur.steps; st++, g++) {
                ComputeS(cur, st, g);
                if (havePrev) ComputePV(prev, prevStep, g - 1);
                prev = cur;
                prevStep = st;
                havePrev = true;
            }
        }
        if (havePrev) ComputePV(prev, prevStep, g - 1);
        WaitFlag<HardEvent::MTE1_MTE2>(EV_K0);
        WaitFlag<HardEvent::MTE1_MTE2>(EV_K0 + 1);
        WaitFlag<HardEvent::MTE1_MTE2>(EV_Q);
        WaitFlag<HardEvent::MTE1_MTE2>(EV_P);
    }

private:
    // K tile of step st (up to 128 tokens) into L1 as NZ [d_qk/16][128][16], gathered through the block
    // table: one Nd2Nz copy per run of tokens that lie in one page (many small pages, or part of a large one).
    __aicore__ inline void LoadK(const Task &k, int32_t st, const LocalTensor<T> &kL1) {
        int32_t tok = k.tok0 + st * (int32_t)TN;
        int32_t valid = k.tok1 - tok < (int32_t)TN ? k.tok1 - tok : (int32_t)TN;
        if (valid < (int32_t)TN) {
            // Tokens past the end must be zeros, not stale data: P is 0 there but 0 * NaN is NaN.
            InitConstValueParams<T> z;
            z.repeatTimes = 1;
            z.blockNum = (uint16_t)(TN * dqk_ * sizeof(T) / 32);
            z.initValue = T(0.0f);
            InitConstValue(kL1, z);
        }
        const int32_t shift = Log2(page_);
        for (int32_t j = 0; j < valid;) {
            int32_t pos = tok + j, row = pos & (page_ - 1);
            int32_t run = page_ - row < valid - j ? page_ - row : valid - j;  // tokens left in this page
            int32_t block = btGm_.GetValue((uint64_t)k.seq * t_->max_blocks + (pos >> shift));
            Nd2NzParams p;
            p.nValue = (uint16_t)run;
            p.dValue = (uint16_t)dqk_;
            p.srcDValue = (uint16_t)dqk_;
            p.dstNzC0Stride = TN;
            p.dstNzNStride = 1;
            DataCopy(kL1[(uint32_t)j * C0], kvGm_[((uint64_t)block * page_ + row) * dqk_], p);
            j += run;
        }
    }

    __aicore__ inline void LoadQ(const Task &k) {
        uint32_t m16 = Ceil16(k.rows);
        Nd2NzParams p;
        p.nValue = (uint16_t)k.rows;
        p.dValue = (uint16_t)dqk_;
        p.srcDValue = (uint16_t)dqk_;
        p.dstNzC0Stride = (uint16_t)m16;
        p.dstNzNStride = 1;
        DataCopy(qL1_.Get<T>(), qGm_[((uint64_t)k.seq * t_->rows + k.row0) * dqk_], p);
    }

    // S = Q K^T: ceil(d_qk / 64) steps of K = 64 (the last 16 to 64 deep) through L0A/L0B, accumulated in L0C,
    // then Fixpipe to the workspace.
    __aicore__ inline void ComputeS(const Task &k, int32_t st, int32_t g) {
        LocalTensor<T> kL1 = kL1_[g % 2].Get<T>();
        WaitFlag<HardEvent::MTE1_MTE2>(EV_Q);
        WaitFlag<HardEvent::MTE1_MTE2>(EV_K0 + g % 2);  // set again after P V of this tile
        if (st == 0) LoadQ(k);
        LoadK(k, st, kL1);
        SetFlag<HardEvent::MTE2_MTE1>(0);
        WaitFlag<HardEvent::MTE2_MTE1>(0);
        LocalTensor<T> qL1 = qL1_.Get<T>();
        uint32_t m16 = Ceil16(k.rows);
        LocalTensor<float> c = c1Q_.AllocTensor<float>();
        for (uint32_t kc = 0; kc * K_STEP < dqk_; kc++) {
            uint32_t kk = dqk_ - kc * K_STEP < K_STEP ? dqk_ - kc * K_STEP : K_STEP;  // depth of this step
            LocalTensor<T> a = a2Q_.AllocTensor<T>();
            for (uint32_t mb = 0; mb < m16 / 16; mb++) {  // zZ: each 16-row band gets its kk/16 fractals
                LoadData2DParams p;
                p.startIndex = (uint16_t)(kc * (K_STEP / 16) * (m16 / 16) + mb);
                p.repeatTimes = (uint8_t)(kk / 16);
                p.srcStride = (uint16_t)(m16 / 16);
                LoadData(a[mb * (kk / 16) * FRAC], qL1, p);
            }
            a2Q_.EnQue(a);
            LocalTensor<T> b = b2Q_.AllocTensor<T>();
            LoadData2DParams pb;  // K's NZ fractals already have the (token, dim) order L0B wants for K^T
            pb.startIndex = (uint16_t)(kc * (K_STEP / 16) * (TN / 16));
            pb.repeatTimes = (uint8_t)((kk / 16) * (TN / 16));
            pb.srcStride = 1;
            LoadData(b, kL1, pb);
            b2Q_.EnQue(b);
            a = a2Q_.DeQue<T>();
            b = b2Q_.DeQue<T>();
            MmadParams mp;
            mp.m = (uint16_t)k.rows;
            mp.n = TN;
            mp.k = (uint16_t)kk;
            mp.cmatrixInitVal = kc == 0;
            Mmad(c, a, b, mp);
            a2Q_.FreeTensor(a);
            b2Q_.FreeTensor(b);
        }
        SetFlag<HardEvent::MTE1_MTE2>(EV_Q);
        c1Q_.EnQue(c);
        c = c1Q_.DeQue<float>();
        FixpipeParamsV220 fp;
        fp.nSize = TN;
        fp.mSize = (uint16_t)k.rows;
        fp.srcStride = (uint16_t)m16;
        fp.dstStride = TN;
        Fixpipe<float, float, CFG_ROW_MAJOR>(sWs_[(uint32_t)(g % 2) * TM * TN], c, fp);
        c1Q_.FreeTensor(c);
        CrossCoreSetFlag<2, PIPE_FIX>(FLAG_S_READY);
    }

    // O (+)= P V for step g (the V of tile g is the first d_c dims of the K tile still in L1), in passes of up to
    // 256 output columns.
    __aicore__ inline void ComputePV(const Task &k, int32_t st, int32_t g) {
        CrossCoreWaitFlag(FLAG_P_READY);
        uint32_t m16 = Ceil16(k.rows);
        LocalTensor<T> pL1 = pL1_.Get<T>();
        WaitFlag<HardEvent::MTE1_MTE2>(EV_P);
        Nd2NzParams np;
        np.nValue = (uint16_t)k.rows;
        np.dValue = TN;
        np.srcDValue = TN;
        np.dstNzC0Stride = (uint16_t)m16;
        np.dstNzNStride = 1;
        DataCopy(pL1, pWs_[(uint32_t)(g % 2) * TM * TN], np);
        SetFlag<HardEvent::MTE2_MTE1>(1);
        WaitFlag<HardEvent::MTE2_MTE1>(1);
        LocalTensor<T> kL1 = kL1_[g % 2].Get<T>();
        for (uint32_t h = 0; h * V_PASS < dv_; h++) {
            uint32_t nv = dv_ - h * V_PASS < V_PASS ? dv_ - h * V_PASS : V_PASS;  // columns of this pass
            LocalTensor<float> c = c1Q_.AllocTensor<float>();
            for (uint32_t kc = 0; kc < TN / K_STEP; kc++) {
                LocalTensor<T> a = a2Q_.AllocTensor<T>();
                for (uint32_t mb = 0; mb < m16 / 16; mb++) {
                    LoadData2DParams p;
                    p.startIndex = (uint16_t)(kc * (K_STEP / 16) * (m16 / 16) + mb);
                    p.repeatTimes = K_STEP / 16;
                    p.srcStride = (uint16_t)(m16 / 16);
                    LoadData(a[mb * (K_STEP / 16) * FRAC], pL1, p);
                }
                a2Q_.EnQue(a);
                LocalTensor<T> b = b2Q_.AllocTensor<T>();
                for (uint32_t tb = 0; tb < K_STEP / 16; tb++) {  // V's NZ fractals, transposed into (dim, token)
                    LoadData2DParams p;
                    p.startIndex = (uint16_t)(h * (V_PASS / 16) * (TN / 16) + kc * (K_STEP / 16) + tb);
                    p.repeatTimes = (uint8_t)(nv / 16);
                    p.srcStride = TN / 16;
                    p.ifTranspose = true;
                    LoadData(b[tb * (nv / 16) * FRAC], kL1, p);
                }
                b2Q_.EnQue(b);
                a = a2Q_.DeQue<T>();
                b = b2Q_.DeQue<T>();
                MmadParams mp;
                mp.m = (uint16_t)k.rows;
                mp.n = (uint16_t)nv;
                mp.k = K_STEP;
                mp.cmatrixInitVal = kc == 0;
                Mmad(c, a, b, mp);
                a2Q_.FreeTensor(a);
                b2Q_.FreeTensor(b);
            }
            c1Q_.EnQue(c);
            c = c1Q_.DeQue<float>();
            FixpipeParamsV220 fp;
            fp.nSize = (uint16_t)nv;
            fp.mSize = (uint16_t)k.rows;
            fp.srcStride = (uint16_t)m16;
            fp.dstStride = (uint16_t)dv_;
            if (st > 0) SetAtomicAdd<float>();  // the first tile of a task overwrites the accumulator
            Fixpipe<float, float, CFG_ROW_MAJOR>(oWs_[h * V_PASS], c, fp);
            SetAtomicNone();
            c1Q_.FreeTensor(c);
        }
        SetFlag<HardEvent::MTE1_MTE2>(EV_P);
        SetFlag<HardEvent::MTE1_MTE2>(EV_K0 + g % 2);
        CrossCoreSetFlag<2, PIPE_FIX>(FLAG_PV_DONE);
    }

    const MlaTiling *t_ = nullptr;
    uint32_t dqk_ = 0, dv_ = 0;
    int32_t page_ = 1;
    TaskWalker walker_;
    TPipe pipe_;
    TBuf<TPosition::A1> qL1_, pL1_;
    TBuf<TPosition::B1> kL1_[2];
    TQue<TPosition::A2, 1> a2Q_;
    TQue<TPosition::B2, 1> b2Q_;
    TQue<TPosition::CO1, 1> c1Q_;
    GlobalTensor<T> qGm_, kvGm_, pWs_;
    GlobalTensor<int32_t> btGm_;
    GlobalTensor<float> sWs_, oWs_;
};

// ================================ Vector (AIV) ================================

// Per-row online-softmax state of one task, in base-2 units: running max M, its rounding N, and the
// row sum twice: l of the P the Cube multiplied (rounded to T; normalises o) and le in fp32 (for lse).
struct RowStats {
    float m[ROWS_AIV];
    int32_t n[ROWS_AIV];
    float l[ROWS_AIV];
    float le[ROWS_AIV];
    bool has[ROWS_AIV];  // the row has seen a key (n is set)
    __aicore__ inline void Reset() {
        for (uint32_t i = 0; i < ROWS_AIV; i++) {
            m[i] = -__builtin_inff();
            n[i] = 0;
            l[i] = 0.0f;
            le[i] = 0.0f;
            has[i] = false;
        }
    }
};

template <class T>
class MlaVector {
public:
    __aicore__ inline void Init(const MlaTiling &t, GM_ADDR o, GM_ADDR lse, GM_ADDR seqlens, GM_ADDR ws,
                                GM_ADDR tiling) {
        t_ = &t;
        dv_ = (uint32_t)t.d_c;
        sub_ = (int32_t)GetSubBlockIdx();
        core_ = (int32_t)(GetBlockIdx() / GetTaskRation());  // AIV index -> its AI core
        walker_.Init(t, tiling, seqlens, core_);
        oGm_.SetGlobalBuffer((__gm__ T *)o, (uint64_t)t.batch * t.rows * dv_);
        lseGm_.SetGlobalBuffer((__gm__ float *)lse, (uint64_t)t.batch * t.rows);
        sWs_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_s_off + t.ws_s_core * core_), 2 * TM * TN);
        pWs_.SetGlobalBuffer((__gm__ T *)(ws + t.ws_p_off + t.ws_p_core * core_), 2 * TM * TN);
        oWs_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_o_off + t.ws_o_core * core_), TM * dv_);
        partO_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_part_o_off), (uint64_t)t.total_splits * t.rows * dv_);
        partLse_.SetGlobalBuffer((__gm__ float *)(ws + t.ws_part_lse_off), (uint64_t)t.total_splits * t.rows);
        splits_.SetGlobalBuffer((__gm__ int32_t *)tiling + t.split_off, t.batch + 1);
        pipe_.InitBuffer(sQ_, 1, ROWS_AIV * TN * sizeof(float));
        pipe_.InitBuffer(pQ_, 1, ROWS_AIV * TN * sizeof(T));
        // d_v-sized buffers from mla4j_ascend_budget.h (the tiling refused a d_c whose UB total overflows)
        pipe_.InitBuffer(oInQ_, 1, mla4j_ub_o_in_bytes(dv_));
        pipe_.InitBuffer(oOutQ_, 1, mla4j_ub_o_out_bytes(dv_));
        pipe_.InitBuffer(tmp_, mla4j_ub_tmp_bytes(dv_));
        pipe_.InitBuffer(idx_, TN * sizeof(float));
        pipe_.InitBuffer(mask_, mla4j_ub_mask_bytes(dv_));
        pipe_.InitBuffer(slots_, ROWS_AIV * 8 * sizeof(float));
        pipe_.InitBuffer(exact_, ROWS_AIV * 8 * sizeof(float));
        pipe_.InitBuffer(work_, mla4j_ub_work_bytes(dv_));
        pipe_.InitBuffer(vec_, 256 * sizeof(float));
        pipe_.InitBuffer(lseStage_, ROWS_AIV * 8 * sizeof(float));
        CreateVecIndex(idx_.Get<float>(), 0.0f, TN);  // token offsets 0..127 for the masks
    }

    __aicore__ inline void Process() {
        Task cur, prev;
        int32_t g = 0;
        bool havePrev = false;
        while (walker_.Next(cur)) {
            if (cur.steps == 0) {  // empty split: o = 0 / lse = +inf (or an empty partial)
                RowStats none;
                none.Reset();
                Finalize(cur, none, false);
                continue;
            }
            for (int32_t st = 0; st < cur.steps; st++, g++) {
                if (st == 0) {
                    prevStats_ = stats_;
                    stats_.Reset();
                }
                Softmax(cur, st, g);
                if (g > 0) {
                    CrossCoreWaitFlag(FLAG_PV_DONE);  // P V of step g-1 is in the accumulator
                    if (st == 0) Finalize(prev, prevStats_, true);
                    else Rescale(cur);
                }
                CrossCoreSetFlag<2, PIPE_MTE3>(FLAG_P_READY);
                prev = cur;
                havePrev = true;
            }
        }
        if (havePrev) {
            CrossCoreWaitFlag(FLAG_PV_DONE);
            Finalize(prev, stats_, true);
        }
        SyncAll();  // every split's partial is written
        Combine();
    }

private:
    __aicore__ inline int32_t RowOff() const { return sub_ * (int32_t)ROWS_AIV; }
    __aicore__ inline int32_t MyRows(const Task &k) const {
        int32_t r = k.rows - RowOff();
        return r <= 0 ? 0 : (r > (int32_t)ROWS_AIV ? (int32_t)ROWS_AIV : r);
    }
    // Keys [0, limit) are visible to packed row r (bottom-right causal mask when s_q > 1).
    __aicore__ inline int32_t Limit(int32_t seq, int32_t r) const {
        int32_t len = walker_.SeqLen(seq);
        if (!t_->causal) return len;
        return len - t_->q_len + r / t_->num_heads + 1;
    }

    // S(g) -> P(g) = round(2^(t - M) * c), c = 2^(M - N); dn = N_old - N_new per row.
    __aicore__ inline void Softmax(const Task &k, int32_t st, int32_t g) {
        CrossCoreWaitFlag(FLAG_S_READY);
        int32_t rv = MyRows(k);
        if (rv == 0) return;
        uint32_t cnt = (uint32_t)rv * TN;
        LocalTensor<float> s = sQ_.AllocTensor<float>();
        DataCopy(s, sWs_[(uint32_t)(g % 2) * TM * TN + (uint32_t)RowOff() * TN], cnt);
        sQ_.EnQue(s);
        s = sQ_.DeQue<float>();
        Muls(s, s, t_->scale_log2, cnt);  // scores in base-2 units
        LocalTensor<float> slots = slots_.Get<float>(), work = work_.Get<float>(), idx = idx_.Get<float>();
        LocalTensor<uint8_t> mask = mask_.Get<uint8_t>();
        int32_t tok = k.tok0 + st * (int32_t)TN;
        for (int32_t i = 0; i < rv; i++) {
            int32_t lim = Limit(k.seq, k.row0 + RowOff() + i);
            if (lim > k.tok1) lim = k.tok1;
            int32_t vis = lim - tok;
            vis = vis < 0 ? 0 : (vis > (int32_t)TN ? (int32_t)TN : vis);
            if (vis < (int32_t)TN) {  // keys past the limit (or past the split) get -inf
                CompareScalar(mask, idx, (float)vis, CMPMODE::LT, TN);
                Select(s[i * TN], mask, s[i * TN], -__builtin_inff(), SELMODE::VSEL_TENSOR_SCALAR_MODE, TN);
            }
            ReduceMax(slots[i * 8], s[i * TN], work, TN);
        }
        SetFlag<HardEvent::V_S>(0);
        WaitFlag<HardEvent::V_S>(0);
        LocalTensor<float> r = vec_.Get<float>();
        for (int32_t i = 0; i < rv; i++) {
            float mNew = slots.GetValue(i * 8);
            if (stats_.m[i] > mNew) mNew = stats_.m[i];
            alive_[i] = mNew != -__builtin_inff();
            dn_[i] = 0;
            if (alive_[i]) {
                int32_t nNew = RoundNearest(mNew);
                if (stats_.has[i]) dn_[i] = stats_.n[i] - nNew;  // <= 0: the max only grows
                stats_.n[i] = nNew;
                stats_.has[i] = true;
                stats_.m[i] = mNew;
                r.SetValue(i, (mNew - (float)nNew) * LN2);  // ln c, |.| <= ln2 / 2
            } else {
                r.SetValue(i, 0.0f);
            }
        }
        SetFlag<HardEvent::S_V>(0);
        WaitFlag<HardEvent::S_V>(0);
        Exp(r, r, rv);  // c = 2^(M - N) per row
        for (int32_t i = 0; i < rv; i++)
            if (alive_[i]) Adds(s[i * TN], s[i * TN], -stats_.m[i], TN);
        Muls(s, s, LN2, cnt);
        Exp(s, s, cnt);  // 2^(t - M) in (0, 1]
        SetFlag<HardEvent::V_S>(1);
        WaitFlag<HardEvent::V_S>(1);
        for (int32_t i = 0; i < rv; i++) {
            if (alive_[i]) Muls(s[i * TN], s[i * TN], r.GetValue(i), TN);  // P carries c: the matmul applies it
            else Duplicate(s[i * TN], 0.0f, TN);                            // no key yet: P = 0
        }
        LocalTensor<float> exact = exact_.Get<float>();
        for (int32_t i = 0; i < rv; i++) ReduceSum(exact[i * 8], s[i * TN], work, TN);
        LocalTensor<T> p = pQ_.AllocTensor<T>();
        Cast(p, s, RoundMode::CAST_RINT, cnt);
        pQ_.EnQue(p);
        p = pQ_.DeQue<T>();
        DataCopy(pWs_[(uint32_t)(g % 2) * TM * TN + (uint32_t)RowOff() * TN], p, cnt);
        // Compensation for rounding P (which carries c) to T: o is normalised by the sum of exactly the
        // rounded values the Cube multiplied, so o's weights sum to 1; lse uses the fp32 sum.
        LocalTensor<float> pf = tmp_.Get<float>();
        Cast(pf, p, RoundMode::CAST_NONE, cnt);
        for (int32_t i = 0; i < rv; i++) ReduceSum(slots[i * 8], pf[i * TN], work, TN);
        Sync<HardEvent::V_S>(2);
        for (int32_t i = 0; i < rv; i++) {
            if (!alive_[i]) continue;
            float f = dn_[i] <= RESCALE_FLOOR ? 0.0f : Pow2(dn_[i]);
            stats_.l[i] = stats_.l[i] * f + slots.GetValue(i * 8);
            stats_.le[i] = stats_.le[i] * f + exact.GetValue(i * 8);
        }
        pQ_.FreeTensor(p);
        sQ_.FreeTensor(s);
        Sync<HardEvent::S_V>(3);  // the scalar reads above are done before the vector rewrites slots
    }

    // AMLA: O *= 2^dn per row as an int32 add of dn << 23 on the fp32 accumulator. The add is exact
    // while the result stays normal; elements that would leave the normal range (|x| < 2^(-126-dn),
    // which includes +-0) take the multiply instead (a plain int add would turn 0 into -inf).
    __aicore__ inline void Rescale(const Task &k) {
        int32_t rv = MyRows(k);
        bool any = false;
        for (int32_t i = 0; i < rv; i++) any |= dn_[i] != 0;
        if (!any) return;  // the common case once the max settles: the accumulator is not touched
        uint32_t cnt = (uint32_t)rv * dv_;
        GlobalTensor<float> rows = oWs_[(uint32_t)RowOff() * dv_];
        LocalTensor<float> o = oInQ_.AllocTensor<float>();
        DataCopy(o, rows, cnt);
        oInQ_.EnQue(o);
        o = oInQ_.DeQue<float>();
        // |x| row padded to 64 elements: CompareScalar takes 256-byte multiples; the pad compares zeros whose
        // mask bits Select never reads (it covers d_v only).
        const uint32_t pad = mla4j_dv_pad(dv_);
        LocalTensor<float> mul = tmp_.Get<float>(), absv = mul[pad];
        if (pad > dv_) Duplicate(absv[dv_], 0.0f, pad - dv_);
        LocalTensor<uint8_t> mask = mask_.Get<uint8_t>();
        for (int32_t i = 0; i < rv; i++) {
            int32_t dn = dn_[i];
            if (dn == 0) continue;
            LocalTensor<float> row = o[i * dv_];
            if (dn <= RESCALE_FLOOR) {
                Duplicate(row, 0.0f, dv_);
                continue;
            }
#ifdef MLA4J_RESCALE_BY_MULTIPLY  // test build only: the plain multiply, to show the int add is bit-identical
            Muls(row, row, Pow2(dn), dv_);
            continue;
#endif
            Muls(mul, row, Pow2(dn), dv_);
            Abs(absv, row, dv_);
            CompareScalar(mask, absv, Pow2(-126 - dn), CMPMODE::GE, pad);
            LocalTensor<int32_t> bits = row.template ReinterpretCast<int32_t>();
            Adds(bits, bits, (int32_t)((uint32_t)dn << 23), dv_);  // exponent field += dn
            Select(row, mask, row, mul, SELMODE::VSEL_TENSOR_TENSOR_MODE, dv_);
        }
        SetFlag<HardEvent::V_MTE3>(0);
        WaitFlag<HardEvent::V_MTE3>(0);
        DataCopy(rows, o, cnt);
        oInQ_.FreeTensor(o);
    }

    // o = O / l, lse = ln(l) + N ln2 for this core's rows of a finished task; to o / lse directly,
    // or to the partial slot when the sequence was split across cores.
    __aicore__ inline void Finalize(const Task &k, const RowStats &st, bool fromAcc) {
        int32_t rv = MyRows(k);
        if (rv == 0) return;
        uint32_t cnt = (uint32_t)rv * dv_;
        LocalTensor<float> o = oInQ_.AllocTensor<float>();
        if (fromAcc) DataCopy(o, oWs_[(uint32_t)RowOff() * dv_], cnt);
        else Duplicate(o, 0.0f, cnt);
        oInQ_.EnQue(o);
        o = oInQ_.DeQue<float>();
        LocalTensor<float> lv = vec_.Get<float>();
        for (int32_t i = 0; i < rv; i++) lv.SetValue(i, st.l[i] > 0.0f ? st.le[i] : 1.0f);
        SetFlag<HardEvent::S_V>(1);
        WaitFlag<HardEvent::S_V>(1);
        Ln(lv, lv, rv);
        for (int32_t i = 0; i < rv; i++) {
            if (st.l[i] > 0.0f) Muls(o[i * dv_], o[i * dv_], 1.0f / st.l[i], dv_);
            else Duplicate(o[i * dv_], 0.0f, dv_);
        }
        SetFlag<HardEvent::V_S>(3);
        WaitFlag<HardEvent::V_S>(3);
        LocalTensor<float> ls = lseStage_.Get<float>();
        const float inf = __builtin_inff();
        Sync<HardEvent::MTE3_S>(0);  // the previous lse copies have left the staging buffer
        for (int32_t i = 0; i < rv; i++) {
            float v = st.l[i] > 0.0f ? lv.GetValue(i) + (float)st.n[i] * LN2 : (k.single ? inf : -inf);
            ls.SetValue(k.single ? (uint32_t)i * 8 : (uint32_t)i, v);
        }
        int32_t row0 = k.row0 + RowOff();
        if (k.single) {
            LocalTensor<T> out = oOutQ_.AllocTensor<T>();
            Cast(out, o, RoundMode::CAST_RINT, cnt);
            oOutQ_.EnQue(out);
            out = oOutQ_.DeQue<T>();
            DataCopy(oGm_[((uint64_t)k.seq * t_->rows + row0) * dv_], out, cnt);
            oOutQ_.FreeTensor(out);
            SetFlag<HardEvent::S_MTE3>(0);
            WaitFlag<HardEvent::S_MTE3>(0);
            for (int32_t i = 0; i < rv; i++) WriteLse(k.seq, row0 + i, ls[i * 8]);
        } else {
            SetFlag<HardEvent::V_MTE3>(1);
            WaitFlag<HardEvent::V_MTE3>(1);
            DataCopy(partO_[((uint64_t)k.slot * t_->rows + row0) * dv_], o, cnt);
            SetFlag<HardEvent::S_MTE3>(1);
            WaitFlag<HardEvent::S_MTE3>(1);
            DataCopyExtParams p;
            p.blockCount = 1;
            p.blockLen = (uint32_t)rv * sizeof(float);
            DataCopyPad(partLse_[(uint64_t)k.slot * t_->rows + row0], ls, p);
        }
        oInQ_.FreeTensor(o);
        Sync<HardEvent::S_V>(4);
    }

    // lse is [b, h_q, s_q]: packed row r = i_q * h_q + head.
    __aicore__ inline void WriteLse(int32_t seq, int32_t r, const LocalTensor<float> &v) {
        int32_t head = r % t_->num_heads, iq = r / t_->num_heads;
        DataCopyExtParams p;
        p.blockCount = 1;
        p.blockLen = sizeof(float);
        DataCopyPad(lseGm_[((uint64_t)seq * t_->num_heads + head) * t_->q_len + iq], v, p);
    }

    // Merge the partials of split sequences: lse = log sum exp(lse_j), o = sum exp(lse_j - lse) o_j.
    // Rows are dealt round-robin over all AIV cores.
    __aicore__ inline void Combine() {
        int32_t me = (int32_t)GetBlockIdx(), all = 2 * (int32_t)GetBlockNum(), item = 0;
        for (int32_t seq = 0; seq < t_->batch; seq++) {
            int32_t first = splits_.GetValue(seq), count = splits_.GetValue(seq + 1) - first;
            if (count <= 1) continue;
            for (int32_t r = 0; r < t_->rows; r++)
                if (item++ % all == me) CombineRow(seq, r, first, count);
        }
    }

    __aicore__ inline void CombineRow(int32_t seq, int32_t r, int32_t first, int32_t count) {
        const float inf = __builtin_inff();
        float mx = -inf;
        for (int32_t j = 0; j < count; j++) {
            float v = partLse_.GetValue((uint64_t)(first + j) * t_->rows + r);
            if (v > mx) mx = v;
        }
        LocalTensor<float> e = vec_.Get<float>();
        Sync<HardEvent::V_S>(7);     // the vector is done with e / sum from the previous row
        Sync<HardEvent::MTE3_S>(1);  // and the previous lse left the staging buffer
        LocalTensor<float> acc = oInQ_.AllocTensor<float>();
        LocalTensor<float> part = tmp_.Get<float>();
        LocalTensor<float> ls = lseStage_.Get<float>();
        if (mx == -inf) {  // no split saw a key
            Duplicate(acc, 0.0f, dv_);
            ls.SetValue(0, inf);
        } else {
            for (int32_t j = 0; j < count; j++) e.SetValue(j, partLse_.GetValue((uint64_t)(first + j) * t_->rows + r) - mx);
            SetFlag<HardEvent::S_V>(2);
            WaitFlag<HardEvent::S_V>(2);
            Exp(e, e, count);
            LocalTensor<float> sum = slots_.Get<float>();
            ReduceSum(sum, e, work_.Get<float>(), count);
            SetFlag<HardEvent::V_S>(4);
            WaitFlag<HardEvent::V_S>(4);
            float total = sum.GetValue(0);
            sum.SetValue(8, total);
            SetFlag<HardEvent::S_V>(3);
            WaitFlag<HardEvent::S_V>(3);
            Ln(sum[8], sum[8], 1);
            Duplicate(acc, 0.0f, dv_);
            for (int32_t j = 0; j < count; j++) {
                SetFlag<HardEvent::V_MTE2>(0);  // the previous partial row is consumed
                WaitFlag<HardEvent::V_MTE2>(0);
                DataCopy(part, partO_[((uint64_t)(first + j) * t_->rows + r) * dv_], dv_);
                SetFlag<HardEvent::MTE2_V>(0);
                WaitFlag<HardEvent::MTE2_V>(0);
                SetFlag<HardEvent::V_S>(5);
                WaitFlag<HardEvent::V_S>(5);
                Muls(part, part, e.GetValue(j) / total, dv_);
                Add(acc, acc, part, dv_);
            }
            SetFlag<HardEvent::V_S>(6);
            WaitFlag<HardEvent::V_S>(6);
            ls.SetValue(0, mx + sum.GetValue(8));
        }
        LocalTensor<T> out = oOutQ_.AllocTensor<T>();
        Cast(out, acc, RoundMode::CAST_RINT, dv_);
        oOutQ_.EnQue(out);
        out = oOutQ_.DeQue<T>();
        DataCopy(oGm_[((uint64_t)seq * t_->rows + r) * dv_], out, dv_);
        oOutQ_.FreeTensor(out);
        oInQ_.FreeTensor(acc);
        SetFlag<HardEvent::S_MTE3>(2);
        WaitFlag<HardEvent::S_MTE3>(2);
        WriteLse(seq, r, ls);
        Sync<HardEvent::S_V>(5);
    }

    const MlaTiling *t_ = nullptr;
    uint32_t dv_ = 0;
    int32_t sub_ = 0, core_ = 0;
    TaskWalker walker_;
    RowStats stats_, prevStats_;
    int32_t dn_[ROWS_AIV];
    bool alive_[ROWS_AIV];
    TPipe pipe_;
    TQue<TPosition::VECIN, 1> sQ_, oInQ_;
    TQue<TPosition::VECOUT, 1> pQ_, oOutQ_;
    TBuf<TPosition::VECCALC> tmp_, idx_, mask_, slots_, exact_, work_, vec_, lseStage_;
    GlobalTensor<T> oGm_, pWs_;
    GlobalTensor<float> lseGm_, sWs_, oWs_, partO_, partLse_;
    GlobalTensor<int32_t> splits_;
};

template <class T>
__aicore__ inline void Run(const MlaTiling &t, GM_ADDR q, GM_ADDR kv, GM_ADDR bt, GM_ADDR seqlens, GM_ADDR o, GM_ADDR lse,
                           GM_ADDR ws, GM_ADDR tiling) {
    if ASCEND_IS_AIC {
        MlaCube<T> op;
        op.Init(t, q, kv, bt, seqlens, ws, tiling);
        op.Process();
    } else {
        MlaVector<T> op;
        op.Init(t, o, lse, seqlens, ws, tiling);
        op.Process();
    }
}

}  // namespace mla4j

extern "C" __global__ __aicore__ void mla4j_mla_decode(GM_ADDR q, GM_ADDR kv_cache, GM_ADDR block_table, GM_ADDR seqlens,
                                                       GM_ADDR o, GM_ADDR lse, GM_ADDR workspace, GM_ADDR tiling) {
    KERNEL_TASK_TYPE_DEFAULT(KERNEL_TYPE_MIX_AIC_1_2);
    MlaTiling t;
    mla4j::LoadTiling(t, tiling);
    if (t.dtype == MLA4J_DT_BF16)
        mla4j::Run<bfloat16_t>(t, q, kv_cache, block_table, seqlens, o, lse, workspace, tiling);
    else
        mla4j::Run<half>(t, q, kv_cache, block_table, seqlens, o, lse, workspace, tiling);
}
