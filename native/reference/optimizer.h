// Float64 reference of one optimizer update (d4j_optimizer_step, d4j_cuda_optimizer_step), as the torch.optim
// documentation states each: SGD (momentum, dampening, nesterov, weight decay), Adam / AdamW (weight decay,
// amsgrad), RMSprop (momentum, centered, weight decay). hp and the state layout are those of dense4j.h:
// hp[5], state[j * n + i] for the j-th state buffer of parameter i (SGD: b | Adam: m, v, vmax | RMSprop: v, b, g_avg).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "dense4j.h"

namespace ref {

// Update t (t = 1 for the first) of p given grad; state holds 3 * p.size() values.
inline void optimizer_step(int kind, const double h[5], double lr, int64_t t, std::vector<double>& p,
                           const std::vector<double>& grad, std::vector<double>& state) {
    const size_t n = p.size();
    for (size_t i = 0; i < n; i++) {
        double g = grad[i];
        double& s0 = state[i];
        double& s1 = state[n + i];
        double& s2 = state[2 * n + i];
        if (kind == D4J_OPT_SGD) {
            const double mu = h[0], damp = h[1], wd = h[2];
            if (wd != 0) g += wd * p[i];
            if (mu != 0) {
                s0 = t == 1 ? g : mu * s0 + (1 - damp) * g;
                g = h[3] != 0 ? g + mu * s0 : s0;
            }
            p[i] -= lr * g;
        } else if (kind == D4J_OPT_ADAM || kind == D4J_OPT_ADAMW) {
            const double b1 = h[0], b2 = h[1], eps = h[2], wd = h[3];
            if (kind == D4J_OPT_ADAMW) p[i] -= lr * wd * p[i];
            else if (wd != 0) g += wd * p[i];
            s0 = b1 * s0 + (1 - b1) * g;
            s1 = b2 * s1 + (1 - b2) * g * g;
            const double mhat = s0 / (1 - std::pow(b1, (double)t));
            double v = s1;
            if (h[4] != 0) { s2 = std::max(s2, s1); v = s2; }
            const double vhat = v / (1 - std::pow(b2, (double)t));
            p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
        } else {
            const double alpha = h[0], eps = h[1], wd = h[2], mu = h[3];
            if (wd != 0) g += wd * p[i];
            s0 = alpha * s0 + (1 - alpha) * g * g;
            double vt = s0;
            if (h[4] != 0) { s2 = alpha * s2 + (1 - alpha) * g; vt -= s2 * s2; }
            if (mu > 0) { s1 = mu * s1 + g / (std::sqrt(vt) + eps); p[i] -= lr * s1; }
            else p[i] -= lr * g / (std::sqrt(vt) + eps);
        }
    }
}

// An optimizer with its own state, for a sequence of updates.
struct Optimizer {
    int kind;
    double h[5];
    std::vector<double> state;  // 3 * n, the layout of dense4j.h
    Optimizer(int kind_, const float* hp, size_t n) : kind(kind_), state(3 * n, 0.0) {
        for (int i = 0; i < 5; i++) h[i] = hp[i];
    }
    void step(std::vector<double>& p, const std::vector<double>& grad, double lr, int64_t t) {
        optimizer_step(kind, h, lr, t, p, grad, state);
    }
};

}  // namespace ref
