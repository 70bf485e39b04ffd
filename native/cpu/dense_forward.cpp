// Dense layer forward: z = x.W + b, y = act(z), x [n,in], W [in,out] (Keras layout), row-major.
// Fast because the GEMM is OpenBLAS sgemm written straight into z or y (split for small batches so that
// OpenBLAS skips operand packing, see gemm.h) and the bias add and the activation are fused into a single
// pass over the [n,out] result while it is still in cache; the linear/relu passes vectorise 8 wide,
// softmax is a max / exp-sum / divide per row (stable: x - max).
#include <algorithm>
#include "activations.h"
#include "gemm.h"
#include "internal.h"

namespace d4j {

void dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                   int n, int in, int out, int act) {
    float* c = z ? z : y;  // the GEMM lands in z when it is kept, else directly in y
    gemm_forward(x, w, c, n, in, out);
    for (int64_t r = 0; r < n; r++) {
        float* zr = c + r * out;
        float* yr = y + r * out;
        switch (act) {
            case D4J_ACT_LINEAR:
                for (int j = 0; j < out; j++) { const float v = zr[j] + b[j]; zr[j] = v; yr[j] = v; }
                break;
            case D4J_ACT_RELU:
                for (int j = 0; j < out; j++) { const float v = zr[j] + b[j]; zr[j] = v; yr[j] = relu(v); }
                break;
            case D4J_ACT_SIGMOID:
                for (int j = 0; j < out; j++) { const float v = zr[j] + b[j]; zr[j] = v; yr[j] = sigmoid(v); }
                break;
            case D4J_ACT_TANH:
                for (int j = 0; j < out; j++) { const float v = zr[j] + b[j]; zr[j] = v; yr[j] = std::tanh(v); }
                break;
            case D4J_ACT_GELU:
                for (int j = 0; j < out; j++) { const float v = zr[j] + b[j]; zr[j] = v; yr[j] = gelu(v); }
                break;
            case D4J_ACT_SOFTMAX: {
                float mx = -INFINITY;
                bool nan = false;
                for (int j = 0; j < out; j++) {
                    const float v = zr[j] + b[j];
                    zr[j] = v;
                    mx = std::max(mx, v);
                    nan |= v != v;
                }
                if (nan || mx == INFINITY) mx = 0.0f;  // let NaN / inf propagate instead of inf - inf
                double sum = 0.0;
                for (int j = 0; j < out; j++) { const float e = std::exp(zr[j] - mx); yr[j] = e; sum += e; }
                const float s = (float)sum;
                for (int j = 0; j < out; j++) yr[j] = yr[j] / s;
                break;
            }
        }
    }
}

}  // namespace d4j

extern "C" void d4j_dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                                  int n, int in, int out, int act) {
    if (!x || !w || !b || !y || n <= 0 || in <= 0 || out <= 0 || !d4j::valid_act(act)) return;
    d4j::dense_forward(x, w, b, z, y, n, in, out, act);
}
