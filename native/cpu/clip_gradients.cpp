// Gradient clipping as in PyTorch: clamp every element to [-clip_value, clip_value], then scale the whole
// buffer by max_norm / (norm + 1e-6) when that is < 1 (clip_grad_norm_). Fast because each part is a single
// streaming pass; the squared norm uses 16 independent double accumulators (an order fixed at compile time,
// so deterministic) which the compiler turns into four 4-wide AVX2 chains instead of one serial add chain.
#include <cmath>
#include "internal.h"

namespace d4j {

void clip_values(float* g, int64_t n, float c) {
    for (int64_t i = 0; i < n; i++) {
        const float v = g[i];
        g[i] = v > c ? c : (v < -c ? -c : v);  // NaN stays NaN
    }
}

double sum_squares(const float* g, int64_t n) {
    constexpr int L = 16;
    double acc[L] = {};
    int64_t i = 0;
    for (; i + L <= n; i += L)
        for (int l = 0; l < L; l++) acc[l] += (double)g[i + l] * (double)g[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += (double)g[i] * (double)g[i];
    double s = 0.0;
    for (int l = 0; l < L; l++) s += acc[l];
    return s;
}

void scale(float* g, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) g[i] *= s;
}

}  // namespace d4j

extern "C" float d4j_clip_gradients(float* grads, int64_t n, float max_norm, float clip_value) {
    if (n < 0 || (n > 0 && !grads)) return NAN;
    if (clip_value > 0.0f) d4j::clip_values(grads, n, clip_value);
    const double norm = std::sqrt(d4j::sum_squares(grads, n));
    if (max_norm > 0.0f) {
        const double coef = (double)max_norm / (norm + 1e-6);
        if (coef < 1.0) d4j::scale(grads, n, (float)coef);
    }
    return (float)norm;
}
