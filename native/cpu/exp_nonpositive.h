// exp(x) in float for x <= 0 (down to -inf; NaN stays NaN): the exponentials of a stable softmax, z - max.
// Inline and branch-free, so a row's exponentials vectorize (or at least overlap in the pipeline) instead of
// running one library call after another (the loss of a 32 x 10 batch spent ~0.4 of its ~1.5 us in expf calls).
// The method is the one of glibc's expf (since 2.27; also musl's and LLVM libc's): x / ln2 = k/32 + r/32 with
// |r| <= 1/2, exp(x) = 2^(k/32) * p(r) in double, p a cubic, then one rounding to float; worst error 0.5016 ulp
// over all x <= 0.
// With the same constants and the same fused multiply-adds it gives the same float as glibc's expf for every
// x <= 0 (checked for all 2^31 of them on glibc 2.36, FMA variant, scalar and vectorized, with and without
// flush-to-zero: benchmarks/RESULTS.md, "Session 9: forward and loss"): the
// gradients of the loss kept their bits, and they no longer depend on which C library the process loaded.
// tests/loss_test.cpp checks it against the float64 exp.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#pragma GCC visibility push(hidden)
namespace d4j {

struct ExpTable {
    uint64_t t[32];  // bits of 2^(i/32) in double, less i << 47 (added back with k's integer part)
    ExpTable() {
        for (int i = 0; i < 32; i++) {
            const double v = (double)std::exp2((long double)i / 32);
            std::memcpy(&t[i], &v, 8);
            t[i] -= (uint64_t)i << 47;
        }
    }
};
inline const ExpTable exp_table;

inline float exp_nonpositive(float x) {
    const double inv_ln2_32 = 0x1.71547652b82fep+0 * 32, shift = 0x1.8p+52;
    const double c0 = 0x1.c6af84b912394p-5 / (32.0 * 32 * 32), c1 = 0x1.ebfce50fac4f3p-3 / (32.0 * 32),
                 c2 = 0x1.62e42ff0c52d6p-1 / 32;
    const double z = inv_ln2_32 * (double)x;
    double kd = z + shift;  // k rounded to an integer in the low bits of kd
    uint64_t ki;
    std::memcpy(&ki, &kd, 8);
    kd -= shift;
    const double r = z - kd;
    const uint64_t sbits = exp_table.t[ki % 32] + (ki << 47);
    double s;
    std::memcpy(&s, &sbits, 8);
    const double p = __builtin_fma(__builtin_fma(c0, r, c1), r * r, __builtin_fma(c2, r, 1.0));
    // below log(2^-150) the result rounds to 0 (and the lines above computed garbage from a valid table entry);
    // NaN stays NaN. A select, not a branch: a loop of these vectorizes.
    const float y = (float)(p * s);
    return x >= -0x1.9fe368p6f || x != x ? y : 0.0f;  // (NaN: p is NaN)
}

}  // namespace d4j
#pragma GCC visibility pop
