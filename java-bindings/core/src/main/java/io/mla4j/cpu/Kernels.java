package io.mla4j.cpu;

import static io.mla4j.cpu.Convert.F;
import static io.mla4j.cpu.Convert.L;

import jdk.incubator.vector.FloatVector;

/**
 * The register-blocked micro-kernels of the two small GEMMs over the shared latent. Every query row of
 * a sequence meets each cached token once per call, so both products are written as tiles that keep
 * their accumulators in vector registers (16 of them, 32 on AVX-512 leaves room for the operands):
 * <ul>
 *   <li>Q*K^T, transposed: the query is stored [576][rows], so one vector holds L query rows; each
 *       step broadcasts one cached value and does an FMA per row vector. Scores come out token-major
 *       [64][rows], which lets the softmax work on L rows at once with no horizontal reductions.</li>
 *   <li>P*V: a vector holds L consecutive value dims of one token (the natural cache layout); each
 *       step broadcasts one probability per row.</li>
 * </ul>
 * The bodies are unrolled by hand because the Vector API has no register arrays: named locals are what
 * C2 keeps in registers. Tiles stay at 16 accumulators: bigger ones (8x3 = 24 for P*V) exceed C2's
 * inlining budget, the vector operations stop being intrinsified and every FMA allocates (measured
 * 18 GFLOP/s instead of 200). For the same reason accumulators start from a local zero vector, never a
 * static final one. {@code KernelsTest} checks each kernel against a scalar loop.
 */
final class Kernels {
    private Kernels() {}

    // Widths are arguments (d = d_qk: the cache's token stride and the Q*K^T depth; dv = d_v: the output row
    // stride), so one set of kernels serves every geometry; any d works, dv must be a multiple of 4 * L for
    // pv4x4 (the caller runs pv4x1 and a scalar loop on the rest).

    /** The accumulator tile load, times its row's factor (1 in AMLA mode, whose rescale is a separate bit-add pass). */
    static FloatVector rescaled(float[] o, int off, int row, float[] alpha) {
        return FloatVector.fromArray(F, o, off).mul(alpha[row]);
    }

    /** Scores for 8 tokens x 2 row vector(s): st[j][r] = sum_d qt[d][r] * kv[j][d], tokens j0.., lanes r0... */
    static void qk2x8(float[] kv, float[] qt, float[] st, int rp, int j0, int r0, int D) {
        FloatVector Z = FloatVector.zero(F); // local, not a static constant (see the class comment)
        FloatVector a0_0 = Z, a0_1 = Z;
        FloatVector a1_0 = Z, a1_1 = Z;
        FloatVector a2_0 = Z, a2_1 = Z;
        FloatVector a3_0 = Z, a3_1 = Z;
        FloatVector a4_0 = Z, a4_1 = Z;
        FloatVector a5_0 = Z, a5_1 = Z;
        FloatVector a6_0 = Z, a6_1 = Z;
        FloatVector a7_0 = Z, a7_1 = Z;
        int kb = j0 * D;
        for (int d = 0, qo = r0; d < D; d++, qo += rp) {
            FloatVector q0 = FloatVector.fromArray(F, qt, qo);
            FloatVector q1 = FloatVector.fromArray(F, qt, qo + 1 * L);
            FloatVector k0 = FloatVector.broadcast(F, kv[kb + 0 * D + d]);
            a0_0 = q0.fma(k0, a0_0);
            a0_1 = q1.fma(k0, a0_1);
            FloatVector k1 = FloatVector.broadcast(F, kv[kb + 1 * D + d]);
            a1_0 = q0.fma(k1, a1_0);
            a1_1 = q1.fma(k1, a1_1);
            FloatVector k2 = FloatVector.broadcast(F, kv[kb + 2 * D + d]);
            a2_0 = q0.fma(k2, a2_0);
            a2_1 = q1.fma(k2, a2_1);
            FloatVector k3 = FloatVector.broadcast(F, kv[kb + 3 * D + d]);
            a3_0 = q0.fma(k3, a3_0);
            a3_1 = q1.fma(k3, a3_1);
            FloatVector k4 = FloatVector.broadcast(F, kv[kb + 4 * D + d]);
            a4_0 = q0.fma(k4, a4_0);
            a4_1 = q1.fma(k4, a4_1);
            FloatVector k5 = FloatVector.broadcast(F, kv[kb + 5 * D + d]);
            a5_0 = q0.fma(k5, a5_0);
            a5_1 = q1.fma(k5, a5_1);
            FloatVector k6 = FloatVector.broadcast(F, kv[kb + 6 * D + d]);
            a6_0 = q0.fma(k6, a6_0);
            a6_1 = q1.fma(k6, a6_1);
            FloatVector k7 = FloatVector.broadcast(F, kv[kb + 7 * D + d]);
            a7_0 = q0.fma(k7, a7_0);
            a7_1 = q1.fma(k7, a7_1);
        }
        a0_0.intoArray(st, (j0 + 0) * rp + r0);
        a0_1.intoArray(st, (j0 + 0) * rp + r0 + 1 * L);
        a1_0.intoArray(st, (j0 + 1) * rp + r0);
        a1_1.intoArray(st, (j0 + 1) * rp + r0 + 1 * L);
        a2_0.intoArray(st, (j0 + 2) * rp + r0);
        a2_1.intoArray(st, (j0 + 2) * rp + r0 + 1 * L);
        a3_0.intoArray(st, (j0 + 3) * rp + r0);
        a3_1.intoArray(st, (j0 + 3) * rp + r0 + 1 * L);
        a4_0.intoArray(st, (j0 + 4) * rp + r0);
        a4_1.intoArray(st, (j0 + 4) * rp + r0 + 1 * L);
        a5_0.intoArray(st, (j0 + 5) * rp + r0);
        a5_1.intoArray(st, (j0 + 5) * rp + r0 + 1 * L);
        a6_0.intoArray(st, (j0 + 6) * rp + r0);
        a6_1.intoArray(st, (j0 + 6) * rp + r0 + 1 * L);
        a7_0.intoArray(st, (j0 + 7) * rp + r0);
        a7_1.intoArray(st, (j0 + 7) * rp + r0 + 1 * L);
    }

    /** Scores for 16 tokens x 1 row vector: st[j][r] = sum_d qt[d][r] * kv[j][d], tokens j0.., lanes r0... */
    static void qk1x16(float[] kv, float[] qt, float[] st, int rp, int j0, int r0, int D) {
        FloatVector Z = FloatVector.zero(F); // local, not a static constant (see the class comment)
        FloatVector a0_0 = Z;
        FloatVector a1_0 = Z;
        FloatVector a2_0 = Z;
        FloatVector a3_0 = Z;
        FloatVector a4_0 = Z;
        FloatVector a5_0 = Z;
        FloatVector a6_0 = Z;
        FloatVector a7_0 = Z;
        FloatVector a8_0 = Z;
        FloatVector a9_0 = Z;
        FloatVector a10_0 = Z;
        FloatVector a11_0 = Z;
        FloatVector a12_0 = Z;
        FloatVector a13_0 = Z;
        FloatVector a14_0 = Z;
        FloatVector a15_0 = Z;
        int kb = j0 * D;
        for (int d = 0, qo = r0; d < D; d++, qo += rp) {
            FloatVector q0 = FloatVector.fromArray(F, qt, qo);
            FloatVector k0 = FloatVector.broadcast(F, kv[kb + 0 * D + d]);
            a0_0 = q0.fma(k0, a0_0);
            FloatVector k1 = FloatVector.broadcast(F, kv[kb + 1 * D + d]);
            a1_0 = q0.fma(k1, a1_0);
            FloatVector k2 = FloatVector.broadcast(F, kv[kb + 2 * D + d]);
            a2_0 = q0.fma(k2, a2_0);
            FloatVector k3 = FloatVector.broadcast(F, kv[kb + 3 * D + d]);
            a3_0 = q0.fma(k3, a3_0);
            FloatVector k4 = FloatVector.broadcast(F, kv[kb + 4 * D + d]);
            a4_0 = q0.fma(k4, a4_0);
            FloatVector k5 = FloatVector.broadcast(F, kv[kb + 5 * D + d]);
            a5_0 = q0.fma(k5, a5_0);
            FloatVector k6 = FloatVector.broadcast(F, kv[kb + 6 * D + d]);
            a6_0 = q0.fma(k6, a6_0);
            FloatVector k7 = FloatVector.broadcast(F, kv[kb + 7 * D + d]);
            a7_0 = q0.fma(k7, a7_0);
            FloatVector k8 = FloatVector.broadcast(F, kv[kb + 8 * D + d]);
            a8_0 = q0.fma(k8, a8_0);
            FloatVector k9 = FloatVector.broadcast(F, kv[kb + 9 * D + d]);
            a9_0 = q0.fma(k9, a9_0);
            FloatVector k10 = FloatVector.broadcast(F, kv[kb + 10 * D + d]);
            a10_0 = q0.fma(k10, a10_0);
            FloatVector k11 = FloatVector.broadcast(F, kv[kb + 11 * D + d]);
            a11_0 = q0.fma(k11, a11_0);
            FloatVector k12 = FloatVector.broadcast(F, kv[kb + 12 * D + d]);
            a12_0 = q0.fma(k12, a12_0);
            FloatVector k13 = FloatVector.broadcast(F, kv[kb + 13 * D + d]);
            a13_0 = q0.fma(k13, a13_0);
            FloatVector k14 = FloatVector.broadcast(F, kv[kb + 14 * D + d]);
            a14_0 = q0.fma(k14, a14_0);
            FloatVector k15 = FloatVector.broadcast(F, kv[kb + 15 * D + d]);
            a15_0 = q0.fma(k15, a15_0);
        }
        a0_0.intoArray(st, (j0 + 0) * rp + r0);
        a1_0.intoArray(st, (j0 + 1) * rp + r0);
        a2_0.intoArray(st, (j0 + 2) * rp + r0);
        a3_0.intoArray(st, (j0 + 3) * rp + r0);
        a4_0.intoArray(st, (j0 + 4) * rp + r0);
        a5_0.intoArray(st, (j0 + 5) * rp + r0);
        a6_0.intoArray(st, (j0 + 6) * rp + r0);
        a7_0.intoArray(st, (j0 + 7) * rp + r0);
        a8_0.intoArray(st, (j0 + 8) * rp + r0);
        a9_0.intoArray(st, (j0 + 9) * rp + r0);
        a10_0.intoArray(st, (j0 + 10) * rp + r0);
        a11_0.intoArray(st, (j0 + 11) * rp + r0);
        a12_0.intoArray(st, (j0 + 12) * rp + r0);
        a13_0.intoArray(st, (j0 + 13) * rp + r0);
        a14_0.intoArray(st, (j0 + 14) * rp + r0);
        a15_0.intoArray(st, (j0 + 15) * rp + r0);
    }

    /**
     * Output tile of 4 rows x 4 vectors of dims: o[r][c] = rescale(o[r][c]) + sum_(j < n) p[j][r] * v[j][c],
     * rows r0.., dims c0... The rescale by alpha[row] is applied once, at the tile load.
     */
    static void pv4x4(float[] kv, float[] st, float[] o, int rp, int r0, int c0, int n, float[] alpha, int D, int DV) {
        int o0 = (r0 + 0) * DV + c0;
        int o1 = (r0 + 1) * DV + c0;
        int o2 = (r0 + 2) * DV + c0;
        int o3 = (r0 + 3) * DV + c0;
        FloatVector a0_0 = rescaled(o, o0, r0 + 0, alpha);
        FloatVector a0_1 = rescaled(o, o0 + 1 * L, r0 + 0, alpha);
        FloatVector a0_2 = rescaled(o, o0 + 2 * L, r0 + 0, alpha);
        FloatVector a0_3 = rescaled(o, o0 + 3 * L, r0 + 0, alpha);
        FloatVector a1_0 = rescaled(o, o1, r0 + 1, alpha);
        FloatVector a1_1 = rescaled(o, o1 + 1 * L, r0 + 1, alpha);
        FloatVector a1_2 = rescaled(o, o1 + 2 * L, r0 + 1, alpha);
        FloatVector a1_3 = rescaled(o, o1 + 3 * L, r0 + 1, alpha);
        FloatVector a2_0 = rescaled(o, o2, r0 + 2, alpha);
        FloatVector a2_1 = rescaled(o, o2 + 1 * L, r0 + 2, alpha);
        FloatVector a2_2 = rescaled(o, o2 + 2 * L, r0 + 2, alpha);
        FloatVector a2_3 = rescaled(o, o2 + 3 * L, r0 + 2, alpha);
        FloatVector a3_0 = rescaled(o, o3, r0 + 3, alpha);
        FloatVector a3_1 = rescaled(o, o3 + 1 * L, r0 + 3, alpha);
        FloatVector a3_2 = rescaled(o, o3 + 2 * L, r0 + 3, alpha);
        FloatVector a3_3 = rescaled(o, o3 + 3 * L, r0 + 3, alpha);
        for (int j = 0, vb = c0, pb = r0; j < n; j++, vb += D, pb += rp) {
            FloatVector v0 = FloatVector.fromArray(F, kv, vb);
            FloatVector v1 = FloatVector.fromArray(F, kv, vb + 1 * L);
            FloatVector v2 = FloatVector.fromArray(F, kv, vb + 2 * L);
            FloatVector v3 = FloatVector.fromArray(F, kv, vb + 3 * L);
            FloatVector p0 = FloatVector.broadcast(F, st[pb + 0]);
            a0_0 = v0.fma(p0, a0_0);
            a0_1 = v1.fma(p0, a0_1);
            a0_2 = v2.fma(p0, a0_2);
            a0_3 = v3.fma(p0, a0_3);
            FloatVector p1 = FloatVector.broadcast(F, st[pb + 1]);
            a1_0 = v0.fma(p1, a1_0);
            a1_1 = v1.fma(p1, a1_1);
            a1_2 = v2.fma(p1, a1_2);
            a1_3 = v3.fma(p1, a1_3);
            FloatVector p2 = FloatVector.broadcast(F, st[pb + 2]);
            a2_0 = v0.fma(p2, a2_0);
            a2_1 = v1.fma(p2, a2_1);
            a2_2 = v2.fma(p2, a2_2);
            a2_3 = v3.fma(p2, a2_3);
            FloatVector p3 = FloatVector.broadcast(F, st[pb + 3]);
            a3_0 = v0.fma(p3, a3_0);
            a3_1 = v1.fma(p3, a3_1);
            a3_2 = v2.fma(p3, a3_2);
            a3_3 = v3.fma(p3, a3_3);
        }
        a0_0.intoArray(o, o0);
        a0_1.intoArray(o, o0 + 1 * L);
        a0_2.intoArray(o, o0 + 2 * L);
        a0_3.intoArray(o, o0 + 3 * L);
        a1_0.intoArray(o, o1);
        a1_1.intoArray(o, o1 + 1 * L);
        a1_2.intoArray(o, o1 + 2 * L);
        a1_3.intoArray(o, o1 + 3 * L);
        a2_0.intoArray(o, o2);
        a2_1.intoArray(o, o2 + 1 * L);
        a2_2.intoArray(o, o2 + 2 * L);
        a2_3.intoArray(o, o2 + 3 * L);
        a3_0.intoArray(o, o3);
        a3_1.intoArray(o, o3 + 1 * L);
        a3_2.intoArray(o, o3 + 2 * L);
        a3_3.intoArray(o, o3 + 3 * L);
    }

    /** {@link #pv4x4} for one vector of dims (the tail of a d_v that is not a multiple of 4 * L): dims c0 .. c0 + L. */
    static void pv4x1(float[] kv, float[] st, float[] o, int rp, int r0, int c0, int n, float[] alpha, int D, int DV) {
        int o0 = (r0 + 0) * DV + c0;
        int o1 = (r0 + 1) * DV + c0;
        int o2 = (r0 + 2) * DV + c0;
        int o3 = (r0 + 3) * DV + c0;
        FloatVector a0 = rescaled(o, o0, r0 + 0, alpha);
        FloatVector a1 = rescaled(o, o1, r0 + 1, alpha);
        FloatVector a2 = rescaled(o, o2, r0 + 2, alpha);
        FloatVector a3 = rescaled(o, o3, r0 + 3, alpha);
        for (int j = 0, vb = c0, pb = r0; j < n; j++, vb += D, pb += rp) {
            FloatVector v0 = FloatVector.fromArray(F, kv, vb);
            a0 = v0.fma(FloatVector.broadcast(F, st[pb + 0]), a0);
            a1 = v0.fma(FloatVector.broadcast(F, st[pb + 1]), a1);
            a2 = v0.fma(FloatVector.broadcast(F, st[pb + 2]), a2);
            a3 = v0.fma(FloatVector.broadcast(F, st[pb + 3]), a3);
        }
        a0.intoArray(o, o0);
        a1.intoArray(o, o1);
        a2.intoArray(o, o2);
        a3.intoArray(o, o3);
    }

    /** Scalar P*V for dims [c0, c1) of rows [r0, r0 + 4): the tail under one vector (only where L does not divide d_v). */
    static void pvScalar(float[] kv, float[] st, float[] o, int rp, int r0, int c0, int c1, int n, float[] alpha, int D, int DV) {
        for (int r = r0; r < r0 + 4; r++) {
            for (int c = c0; c < c1; c++) {
                float acc = o[r * DV + c] * alpha[r];
                for (int j = 0; j < n; j++) acc = Math.fma(st[j * rp + r], kv[j * D + c], acc);
                o[r * DV + c] = acc;
            }
        }
    }
}
