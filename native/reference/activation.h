// Float64 reference of the activations (forward, inside d4j_dense_forward) and of d4j_activation_backward,
// written from dense4j.h and the PyTorch documentation (GELU: the exact erf form). tests/reference_test.cpp
// checks the backward against central finite differences of the forward.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "dense4j.h"

namespace ref {

// y = act(z) over n rows of k; softmax per row.
inline void act_rows(const double* z, double* y, int n, int k, int act) {
    for (int r = 0; r < n; r++) {
        const double* zr = z + (int64_t)r * k;
        double* yr = y + (int64_t)r * k;
        if (act == D4J_ACT_SOFTMAX) {
            double mx = zr[0];
            for (int j = 1; j < k; j++) mx = std::max(mx, zr[j]);
            double s = 0;
            for (int j = 0; j < k; j++) s += std::exp(zr[j] - mx);
            for (int j = 0; j < k; j++) yr[j] = std::exp(zr[j] - mx) / s;
            continue;
        }
        for (int j = 0; j < k; j++) {
            const double v = zr[j];
            switch (act) {
                case D4J_ACT_LINEAR: yr[j] = v; break;
                case D4J_ACT_RELU: yr[j] = v > 0 ? v : 0; break;
                case D4J_ACT_SIGMOID: yr[j] = 1.0 / (1.0 + std::exp(-v)); break;
                case D4J_ACT_TANH: yr[j] = std::tanh(v); break;
                case D4J_ACT_GELU: yr[j] = 0.5 * v * std::erfc(-v / std::sqrt(2.0)); break;
            }
        }
    }
}

// dz = (dy * mask) * act'(z), mask optional. As the op is defined (dense4j.h), the sigmoid, tanh and softmax
// derivatives are expressed with the layer's output y (y (1 - y), 1 - y^2, the softmax Jacobian-vector product),
// relu and GELU with z.
inline void act_backward(const double* z, const double* y, const double* mask, const double* dy, double* dz,
                         int n, int k, int act) {
    std::vector<double> g(k);
    for (int r = 0; r < n; r++) {
        const int64_t o = (int64_t)r * k;
        for (int j = 0; j < k; j++) g[j] = dy[o + j] * (mask ? mask[o + j] : 1.0);
        if (act == D4J_ACT_SOFTMAX) {
            double s = 0;
            for (int j = 0; j < k; j++) s += g[j] * y[o + j];
            for (int j = 0; j < k; j++) dz[o + j] = y[o + j] * (g[j] - s);
            continue;
        }
        for (int j = 0; j < k; j++) {
            double d = 1;
            switch (act) {
                case D4J_ACT_RELU: d = z[o + j] > 0 ? 1 : 0; break;
                case D4J_ACT_SIGMOID: d = y[o + j] * (1 - y[o + j]); break;
                case D4J_ACT_TANH: d = 1 - y[o + j] * y[o + j]; break;
                case D4J_ACT_GELU: {
                    const double x = z[o + j];
                    d = 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
                    break;
                }
            }
            dz[o + j] = g[j] * d;
        }
    }
}

}  // namespace ref
