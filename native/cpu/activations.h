// Internal helpers of the CPU kernels: scalar activations, their derivatives and small utilities, all
// inline so that the elementwise loops calling them are fused and (for the branch-free ones) vectorised.
// Stable forms only: sigmoid never evaluates exp of a positive argument, softmax subtracts the row max.
#pragma once
#include <cmath>
#include <cstdint>
#include "dense4j.h"

namespace d4j {

inline bool valid_act(int a) { return a >= D4J_ACT_LINEAR && a <= D4J_ACT_SOFTMAX; }
inline bool valid_loss(int l) { return l >= D4J_LOSS_SPARSE_CCE && l <= D4J_LOSS_MSE; }
inline bool valid_opt(int o) { return o >= D4J_OPT_SGD && o <= D4J_OPT_RMSPROP; }

// x < 0 ? 0 : x keeps NaN (a NaN must reach the loss so that training stops).
inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

inline float sigmoid(float x) {
    const float e = std::exp(-std::fabs(x));  // in (0, 1]: never overflows
    const float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;             // e / (1 + e) for x < 0
}

// Exact GELU, x * Phi(x), and its derivative Phi(x) + x * phi(x).
inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
inline float gelu_grad(float x) {
    const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
    return cdf + x * pdf;
}

}  // namespace d4j
