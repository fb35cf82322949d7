package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Each register-blocked micro-kernel against a plain scalar loop over the same arrays (fp64 sums). */
class KernelsTest {
    private static final int D = Kernels.D, DV = Kernels.DV, T = 64, L = Convert.L;
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

    private void checkScores(int vecs, boolean pairs) {
        int rp = vecs * L;
        float[] kv = random(T * D), qt = random(D * rp), st = new float[T * rp];
        if (pairs) {
            for (int j0 = 0; j0 < T; j0 += 8) Kernels.qk2x8(kv, qt, st, rp, j0, 0);
        } else {
            for (int j0 = 0; j0 < T; j0 += 16) Kernels.qk1x16(kv, qt, st, rp, j0, 0);
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

    @Test void qk2x8MatchesScalar() { checkScores(2, true); }

    @Test void qk1x16MatchesScalar() { checkScores(1, false); }

    private void checkPv() {
        int rp = 2 * L, n = 61; // a partial block: tokens past n must not count
        float[] kv = random(T * D), st = random(T * rp), o = random(rp * DV), o0 = o.clone();
        float[] alpha = new float[rp];
        for (int r = 0; r < rp; r++) alpha[r] = r == 0 ? 0f : rnd.nextFloat(); // 0: a row's first block
        for (int c0 = 0; c0 < DV; c0 += 4 * L)
            for (int r0 = 0; r0 < rp; r0 += 4) Kernels.pv4x4(kv, st, o, rp, r0, c0, n, alpha);
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

    @Test void pv4x4MatchesScalar() { checkPv(); }
}
