// Scalar models of the AMLA rescale and of the kernel's per-row online softmax, for the math tests
// and the CPU measurements (docs/ASCEND.md). Plain C++; not kernel or emulator code.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace amla {

inline uint32_t Bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
inline float FromBits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// The AMLA trick: x * 2^n as an integer add on the bit pattern (exponent field += n).
inline float AddExp(float x, int n) { return FromBits(Bits(x) + ((uint32_t)n << 23)); }

// When the trick is exact: x is normal and so is the result (exponent field e + n in [1, 254]).
inline bool TrickExact(float x, int n) {
    int e = (int)((Bits(x) >> 23) & 0xff);
    return e >= 1 && e <= 254 && e + n >= 1 && e + n <= 254;
}

// The kernel's guarded form: the add where exact, else the multiply (zeros, subnormal results).
inline float GuardedScale(float x, int n) {
    return std::fabs(x) >= std::ldexp(1.0f, -126 - n) ? AddExp(x, n) : std::ldexp(x, n);
}

inline float RoundBf16(float f) {
    uint32_t u = Bits(f);
    return FromBits(((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16);
}
inline float RoundFp16(float f) { return (float)(_Float16)f; }

enum class Variant {
    AMLA,          // the kernel: c = 2^(M-N) folded into P in fp32, P rounded, l sums the rounded P, O *= 2^dn by int add
    PLAIN,         // FlashAttention: P = exp(s - m) rounded, O *= exp(m_old - m_new) by fp32 multiply
    AMLA_NO_COMP,  // AMLA with c rounded to the matmul dtype on its own and l summing unrounded exp(s-m)*c
};

// One query row over n keys (scores s, values v[n][d]), tiles of `tile` keys, fp32 state.
// Returns o[d]; lp rounds to the matmul dtype.
inline std::vector<float> Row(const std::vector<double> &s, const std::vector<float> &v, int d, int tile, Variant var,
                              float (*lp)(float)) {
    const int n = (int)s.size();
    const float log2e = 1.4426950408889634f, ln2 = 0.69314718055994531f;
    std::vector<float> o(d, 0.0f), p(tile);
    float M = -INFINITY, l = 0.0f;
    int N = 0;
    bool has = false;
    for (int t0 = 0; t0 < n; t0 += tile) {
        int cnt = std::min(tile, n - t0);
        float tmax = -INFINITY;
        for (int j = 0; j < cnt; j++) tmax = std::max(tmax, (float)s[t0 + j] * log2e);
        float Mn = std::max(M, tmax);
        float sum = 0.0f;
        if (var == Variant::PLAIN) {
            if (Mn == -INFINITY) continue;
            float f = has ? std::exp((M - Mn) * ln2) : 0.0f;
            for (float &x : o) x *= f;
            l *= f;
            for (int j = 0; j < cnt; j++) { p[j] = lp(std::exp(((float)s[t0 + j] * log2e - Mn) * ln2)); sum += p[j]; }
            M = Mn;
            has = true;
        } else if (Mn == -INFINITY) {
            continue;  // no key yet: no N exists (round(-inf) has no value); state stays 0
        } else {
            int Nn = (int)std::lround(Mn);
            int dn = has ? N - Nn : 0;
            float c = std::exp((Mn - (float)Nn) * ln2);
            if (var == Variant::AMLA_NO_COMP) c = lp(c);
            for (int j = 0; j < cnt; j++) {
                float e = std::exp(((float)s[t0 + j] * log2e - Mn) * ln2);
                if (var == Variant::AMLA) { p[j] = lp(e * c); sum += p[j]; }
                else { p[j] = lp(e) * c; sum += e * c; }  // c applied outside the rounding, l from unrounded values
            }
            for (float &x : o) x = GuardedScale(x, dn);
            l = l * std::ldexp(1.0f, dn);
            M = Mn; N = Nn; has = true;
        }
        for (int j = 0; j < cnt; j++)
            for (int x = 0; x < d; x++) o[x] += p[j] * v[(size_t)(t0 + j) * d + x];
        l += sum;
    }
    for (float &x : o) x /= l;
    return o;
}

}  // namespace amla
