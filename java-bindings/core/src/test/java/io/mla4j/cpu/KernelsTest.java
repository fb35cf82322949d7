package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Each register-blocked micro-kernel against a plain scalar loop over the same arrays (fp64 sums), for
 * DeepSeek's widths and others (d_v a multiple of 16 but not of 4 * L: the pv4x1 and scalar tails).
 */
class KernelsTest {
    private static final int T = 64, L = Convert.L;
    /** (d_qk, d_v) pairs: 512+64, 256+32, 128+64, 80+16 (d_v = 80: 64 + 16, a tail on every vector width). */
    private static final int[][] WIDTHS = {{576, 512}, {288, 256}, {192, 128}, {96, 80}};
    private final Random rnd = new Random(7);

    private float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    /** Relative to the magnitude of the terms summed, fp32 sums of 576 products agree to ~1e-5. */
    private static void close(double want, float got, double scale, String what) {
        assertEquals(want, got, 2e-5 * scale, what);
    }

    private void checkScores(int vecs, boolean pairs, int D) {
        int rp = vecs * L;
        float[] kv = random(T * D), qt = random(D * rp), st = new float[T * rp];
        if (pairs) {
            for (int j0 = 0; j0 < T; j0 += 8) Kernels.qk2x8(kv, qt, st, rp, j0, 0, D);
        } else {
            for (int j0 = 0; j0 < T; j0 += 16) Kernels.qk1x16(kv, qt, st, rp, j0, 0, D);
        }
        for (int j = 0; j < T; j++)
            for (int r = 0; r < rp; r++) {
                double s = 0, mag = 0;
                for (int d = 0; d < D; d++) {
                    s += (double) qt[d * rp + r] * kv[j * D + d];
                    mag += Math.abs((double) qt[d * rp + r] * kv[j * D + d]);
                }
                close(s, st[j * rp + r], mag, "score token " + j + " row " + r);
            }
    }

    @Test void qk2x8MatchesScalar() { for (int[] w : WIDTHS) checkScores(2, true, w[0]); }

    @Test void qk1x16MatchesScalar() { for (int[] w : WIDTHS) checkScores(1, false, w[0]); }

    private void checkPv(int D, int DV) {
        int rp = 2 * L, n = 61; // a partial block: tokens past n must not count
        float[] kv = random(T * D), st = random(T * rp), o = random(rp * DV), o0 = o.clone();
        float[] alpha = new float[rp];
        for (int r = 0; r < rp; r++) alpha[r] = r == 0 ? 0f : rnd.nextFloat(); // 0: a row's first block
        int c0 = 0; // as Attention.accumulate: 4-vector tiles, single vectors, scalars
        for (; c0 + 4 * L <= DV; c0 += 4 * L)
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pv4x4(kv, st, o, rp, r0, c0, n, alpha, D, DV);
        for (; c0 + L <= DV; c0 += L)
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pv4x1(kv, st, o, rp, r0, c0, n, alpha, D, DV);
        if (c0 < DV)
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pvScalar(kv, st, o, rp, r0, c0, DV, n, alpha, D, DV);
        for (int r = 0; r < rp; r++)
            for (int c = 0; c < DV; c++) {
                double start = (double) o0[r * DV + c] * alpha[r];
                double s = start, mag = Math.abs(start);
                for (int j = 0; j < n; j++) {
                    s += (double) st[j * rp + r] * kv[j * D + c];
                    mag += Math.abs((double) st[j * rp + r] * kv[j * D + c]);
                }
                close(s, o[r * DV + c], mag, "o row " + r + " dim " + c);
            }
    }

    @Test void pvMatchesScalar() { for (int[] w : WIDTHS) checkPv(w[0], w[1]); }
}
