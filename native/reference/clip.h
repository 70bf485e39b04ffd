// Float64 reference of gradient clipping (d4j_clip_gradients, d4j_cuda_clip_gradients): PyTorch's
// clip_grad_value_ then clip_grad_norm_ (factor max_norm / (norm + 1e-6) when below 1). Returns the norm
// after value clipping, before the norm factor.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace ref {

inline double clip(std::vector<double>& g, double max_norm, double clip_value) {
    if (clip_value > 0) for (auto& v : g) v = std::min(std::max(v, -clip_value), clip_value);
    double s = 0;
    for (double v : g) s += v * v;
    const double norm = std::sqrt(s);
    if (max_norm > 0) {
        const double c = max_norm / (norm + 1e-6);
        if (c < 1) for (auto& v : g) v *= c;
    }
    return norm;
}

}  // namespace ref
