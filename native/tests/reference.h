// Float64 reference implementation of every Dense4J op, written from the header's definitions and the
// PyTorch documentation with plain loops, independently of the kernels in native/cpu (it shares no code
// with them). Used by every test as the ground truth.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "dense4j.h"

namespace ref {

using V = std::vector<double>;

// ---- activations ------------------------------------------------------------------------------------
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

// dz = (dy * mask) * act'(z); sigmoid / tanh / softmax derivatives expressed with y as the header defines.
inline void act_backward(const double* z, const double* y, const double* mask, const double* dy, double* dz,
                         int n, int k, int act) {
    for (int r = 0; r < n; r++) {
        const int64_t o = (int64_t)r * k;
        std::vector<double> g(k);
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

// ---- dense ------------------------------------------------------------------------------------------
inline void dense_forward(const double* x, const double* w, const double* b, double* z, double* y,
                          int n, int in, int out, int act) {
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) {
            double s = b[j];
            for (int i = 0; i < in; i++) s += x[(int64_t)r * in + i] * w[(int64_t)i * out + j];
            z[(int64_t)r * out + j] = s;
        }
    act_rows(z, y, n, out, act);
}

inline void dense_backward(const double* x, const double* w, const double* dz, double* dw, double* db,
                           double* dx, int n, int in, int out) {
    for (int i = 0; i < in; i++)
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int r = 0; r < n; r++) s += x[(int64_t)r * in + i] * dz[(int64_t)r * out + j];
            dw[(int64_t)i * out + j] = s;
        }
    for (int j = 0; j < out; j++) {
        double s = 0;
        for (int r = 0; r < n; r++) s += dz[(int64_t)r * out + j];
        db[j] = s;
    }
    if (dx)
        for (int r = 0; r < n; r++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int j = 0; j < out; j++) s += dz[(int64_t)r * out + j] * w[(int64_t)i * out + j];
                dx[(int64_t)r * in + i] = s;
            }
}

// ---- losses: returns the sum over rows; grad = d(mean over rows)/d(out) * scale ----------------------
inline double loss(int kind, const double* out, const int32_t* labels, const double* t, double* grad,
                   double* probs, int n, int k, double scale, int64_t* correct) {
    double total = 0;
    int64_t ok = 0;
    std::vector<double> p(k);
    for (int r = 0; r < n; r++) {
        const double* z = out + (int64_t)r * k;
        const int64_t o = (int64_t)r * k;
        if (kind == D4J_LOSS_SPARSE_CCE || kind == D4J_LOSS_CCE) {
            act_rows(z, p.data(), 1, k, D4J_ACT_SOFTMAX);
            int am = 0;
            for (int j = 1; j < k; j++) if (z[j] > z[am]) am = j;
            std::vector<double> tt(k, 0.0);
            if (kind == D4J_LOSS_SPARSE_CCE) tt[labels[r]] = 1;
            else for (int j = 0; j < k; j++) tt[j] = t[o + j];
            int at = 0;
            for (int j = 1; j < k; j++) if (tt[j] > tt[at]) at = j;
            ok += am == at;
            // -sum t log softmax(z), with log softmax = z - max - log sum exp(z - max)
            double mx = z[0];
            for (int j = 1; j < k; j++) mx = std::max(mx, z[j]);
            double s = 0;
            for (int j = 0; j < k; j++) s += std::exp(z[j] - mx);
            double ts = 0;
            for (int j = 0; j < k; j++) { total -= tt[j] * (z[j] - mx - std::log(s)); ts += tt[j]; }
            for (int j = 0; j < k; j++) {
                if (grad) grad[o + j] = (p[j] * ts - tt[j]) * scale / n;
                if (probs) probs[o + j] = p[j];
            }
        } else if (kind == D4J_LOSS_BCE) {
            double row = 0;
            for (int j = 0; j < k; j++) {
                const double zj = z[j], tj = t[o + j];
                const double pj = 1.0 / (1.0 + std::exp(-zj));
                // -t log p - (1-t) log(1-p) written with log p = -log(1+e^-z), log(1-p) = -z - log(1+e^-z)
                const double lp = -std::log1p(std::exp(-zj)), l1p = -zj - std::log1p(std::exp(-zj));
                row += zj > -30 ? -tj * lp - (1 - tj) * l1p : -tj * zj + 0.0;  // far negative z: log(1+e^-z) ~ -z
                ok += (pj >= 0.5) == (tj >= 0.5);
                if (grad) grad[o + j] = (pj - tj) / k * scale / n;
                if (probs) probs[o + j] = pj;
            }
            total += row / k;
        } else {
            double row = 0;
            for (int j = 0; j < k; j++) {
                const double d = z[j] - t[o + j];
                row += d * d;
                if (grad) grad[o + j] = 2 * d / k * scale / n;
            }
            total += row / k;
        }
    }
    if (correct) *correct = ok;
    return total;
}

// ---- clipping -------------------------------------------------------------------------------------------
inline double clip(V& g, double max_norm, double clip_value) {
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

// ---- optimizers, as the torch.optim documentation states them -------------------------------------------
struct Optimizer {
    int kind;
    double h[5];
    V s0, s1, s2;  // SGD: b | Adam: m, v, vmax | RMSprop: v, b, g_avg
    Optimizer(int kind_, const float* hp, size_t n) : kind(kind_), s0(n, 0.0), s1(n, 0.0), s2(n, 0.0) {
        for (int i = 0; i < 5; i++) h[i] = hp[i];
    }
    void step(V& p, const V& grad, double lr, int64_t t) {
        for (size_t i = 0; i < p.size(); i++) {
            double g = grad[i];
            if (kind == D4J_OPT_SGD) {
                const double mu = h[0], damp = h[1], wd = h[2];
                if (wd != 0) g += wd * p[i];
                if (mu != 0) {
                    s0[i] = t == 1 ? g : mu * s0[i] + (1 - damp) * g;
                    g = h[3] != 0 ? g + mu * s0[i] : s0[i];
                }
                p[i] -= lr * g;
            } else if (kind == D4J_OPT_ADAM || kind == D4J_OPT_ADAMW) {
                const double b1 = h[0], b2 = h[1], eps = h[2], wd = h[3];
                if (kind == D4J_OPT_ADAMW) p[i] -= lr * wd * p[i];
                else if (wd != 0) g += wd * p[i];
                s0[i] = b1 * s0[i] + (1 - b1) * g;
                s1[i] = b2 * s1[i] + (1 - b2) * g * g;
                const double mhat = s0[i] / (1 - std::pow(b1, (double)t));
                double v = s1[i];
                if (h[4] != 0) { s2[i] = std::max(s2[i], s1[i]); v = s2[i]; }
                const double vhat = v / (1 - std::pow(b2, (double)t));
                p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
            } else {
                const double alpha = h[0], eps = h[1], wd = h[2], mu = h[3];
                if (wd != 0) g += wd * p[i];
                s0[i] = alpha * s0[i] + (1 - alpha) * g * g;
                double vt = s0[i];
                if (h[4] != 0) { s2[i] = alpha * s2[i] + (1 - alpha) * g; vt -= s2[i] * s2[i]; }
                if (mu > 0) { s1[i] = mu * s1[i] + g / (std::sqrt(vt) + eps); p[i] -= lr * s1[i]; }
                else p[i] -= lr * g / (std::sqrt(vt) + eps);
            }
        }
    }
};

// ---- dropout mask: the documented counter-based hash, written from its definition ------------------------
inline uint64_t mix(uint64_t z) {  // splitmix64
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
inline double dropout_mask(uint64_t seed, int64_t step, int layer, int64_t element, double rate) {
    const uint64_t key = mix(mix(seed) ^ ((uint64_t)step << 16) ^ (uint64_t)(uint32_t)layer);
    const double u = (double)(mix(key + (uint64_t)element) >> 40) / 16777216.0;
    return u >= std::llround(rate * 16777216.0) / 16777216.0 ? 1.0 / (1.0 - (float)rate) : 0.0;
}

// ---- a whole network in double --------------------------------------------------------------------------
struct Net {
    std::vector<int> sizes, acts;
    std::vector<double> rates;
    int loss_kind;
    V params;  // same layout as the native buffer
    std::vector<V> z, y, a, mask;  // per layer: pre-activation, activation, after dropout (next input), mask

    int L() const { return (int)acts.size(); }
    int64_t w_off(int l) const {
        int64_t o = 0;
        for (int i = 0; i < l; i++) o += (int64_t)sizes[i] * sizes[i + 1] + sizes[i + 1];
        return o;
    }
    bool logits() const { return loss_kind != D4J_LOSS_MSE; }

    // Forward of n rows; returns the loss sum; the loss takes z of the last layer for CE / BCE, y for MSE.
    double forward(const double* x, int n, const int32_t* labels, const double* t, bool train, uint64_t seed,
                   int64_t step, int64_t* correct = nullptr, double* grad_out = nullptr) {
        z.assign(L(), V()); y.assign(L(), V()); a.assign(L(), V()); mask.assign(L(), V());
        const double* in = x;
        for (int l = 0; l < L(); l++) {
            const int ni = sizes[l], no = sizes[l + 1];
            z[l].resize((size_t)n * no); y[l].resize((size_t)n * no);
            const double* w = params.data() + w_off(l);
            dense_forward(in, w, w + (int64_t)ni * no, z[l].data(), y[l].data(), n, ni, no, acts[l]);
            a[l] = y[l];
            if (train && rates[l] > 0) {
                mask[l].resize(y[l].size());
                for (size_t e = 0; e < y[l].size(); e++) {
                    mask[l][e] = dropout_mask(seed, step, l, (int64_t)e, rates[l]);
                    a[l][e] *= mask[l][e];
                }
            }
            in = a[l].data();
        }
        const int k = sizes.back();
        return loss(loss_kind, logits() ? z.back().data() : y.back().data(), labels, t, grad_out, nullptr, n, k,
                    1.0, correct);
    }

    // Gradient of the mean loss over the n rows w.r.t. params (after forward with the same arguments).
    V backward(const double* x, int n, const int32_t* labels, const double* t, uint64_t seed, int64_t step) {
        const int k = sizes.back();
        V dz((size_t)n * k);
        forward(x, n, labels, t, true, seed, step, nullptr, dz.data());
        if (!logits()) {
            V d2(dz.size());
            act_backward(z.back().data(), y.back().data(), nullptr, dz.data(), d2.data(), n, k, acts.back());
            dz = d2;
        }
        V grad(params.size());
        for (int l = L() - 1; l >= 0; l--) {
            const int ni = sizes[l], no = sizes[l + 1];
            const double* in = l == 0 ? x : a[l - 1].data();
            V dx((size_t)n * ni);
            double* gw = grad.data() + w_off(l);
            dense_backward(in, params.data() + w_off(l), dz.data(), gw, gw + (int64_t)ni * no, dx.data(), n, ni, no);
            if (l > 0) {
                V d2(dx.size());
                act_backward(z[l - 1].data(), y[l - 1].data(), mask[l - 1].empty() ? nullptr : mask[l - 1].data(),
                             dx.data(), d2.data(), n, ni, acts[l - 1]);
                dz = d2;
            }
        }
        return grad;
    }
};

}  // namespace ref
