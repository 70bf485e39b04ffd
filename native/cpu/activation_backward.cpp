// Activation backward: dz = (dy (.) mask) (.) act'(z), with the derivative taken from the output y where that
// is exact (relu: y > 0, sigmoid: y(1-y), tanh: 1-y^2) so z is only needed for GELU; softmax is the
// Jacobian-vector product dz_i = y_i (dy_i - sum_j dy_j y_j). One fused pass, in place allowed (dz == dy);
// the mask (inverted dropout: 0 or 1/(1-p)) is folded into the same pass, so no separate dropout kernel.
#include "activations.h"
#include "internal.h"

namespace d4j {

template <bool MASK>
static void backward_rows(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                          int64_t count, int k, int act) {
    auto g = [&](int64_t i) { return MASK ? dy[i] * mask[i] : dy[i]; };
    switch (act) {
        case D4J_ACT_LINEAR:
            for (int64_t i = 0; i < count; i++) dz[i] = g(i);
            break;
        case D4J_ACT_RELU:
            for (int64_t i = 0; i < count; i++) dz[i] = y[i] > 0.0f ? g(i) : 0.0f;
            break;
        case D4J_ACT_SIGMOID:
            for (int64_t i = 0; i < count; i++) dz[i] = g(i) * (y[i] * (1.0f - y[i]));
            break;
        case D4J_ACT_TANH:
            for (int64_t i = 0; i < count; i++) dz[i] = g(i) * (1.0f - y[i] * y[i]);
            break;
        case D4J_ACT_GELU:
            for (int64_t i = 0; i < count; i++) dz[i] = g(i) * gelu_grad(z[i]);
            break;
        case D4J_ACT_SOFTMAX:
            for (int64_t r = 0; r < count; r += k) {
                double dot = 0.0;
                for (int j = 0; j < k; j++) dot += (double)g(r + j) * y[r + j];
                const float d = (float)dot;
                for (int j = 0; j < k; j++) dz[r + j] = y[r + j] * (g(r + j) - d);
            }
            break;
    }
}

void activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                         int n, int k, int act) {
    const int64_t count = (int64_t)n * k;
    if (mask) backward_rows<true>(z, y, mask, dy, dz, count, k, act);
    else backward_rows<false>(z, y, mask, dy, dz, count, k, act);
}

}  // namespace d4j

extern "C" void d4j_activation_backward(const float* z, const float* y, const float* mask, const float* dy,
                                        float* dz, int n, int k, int act) {
    if (!dy || !dz || n <= 0 || k <= 0 || !d4j::valid_act(act)) return;
    if (act == D4J_ACT_GELU ? !z : (act != D4J_ACT_LINEAR && !y)) return;
    d4j::activation_backward(z, y, mask, dy, dz, n, k, act);
}
