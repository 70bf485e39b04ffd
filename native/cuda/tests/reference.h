// Independent float64 CPU reference of every Dense4J op and of a whole training step, for the CUDA tests.
// Written from the formulas (dense4j.h, the PyTorch documentation of torch.optim), not from either engine's code.
// reference_test.cpp checks its gradients by central finite differences.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ref {

using vec = std::vector<double>;
enum { LINEAR = 0, RELU = 1, SIGMOID = 2, TANH = 3, GELU = 4, SOFTMAX = 5 };
enum { SPARSE_CCE = 0, CCE = 1, BCE = 2, MSE = 3 };
enum { SGD = 0, ADAM = 1, ADAMW = 2, RMSPROP = 3 };

// C[M,N] = op(A) op(B); op(A)(m,k) = ta ? A[k*lda+m] : A[m*lda+k]; op(B)(k,n) = tb ? B[n*ldb+k] : B[k*ldb+n].
template <typename TA, typename TB>
inline vec gemm(bool ta, bool tb, int M, int N, int K, const TA* A, int lda, const TB* B, int ldb) {
    vec C((size_t)M * N, 0.0);
    for (int m = 0; m < M; ++m)
        for (int k = 0; k < K; ++k) {
            double a = ta ? (double)A[(size_t)k * lda + m] : (double)A[(size_t)m * lda + k];
            if (a == 0.0) continue;
            for (int n = 0; n < N; ++n) C[(size_t)m * N + n] += a * (tb ? (double)B[(size_t)n * ldb + k] : (double)B[(size_t)k * ldb + n]);
        }
    return C;
}

inline double act(int a, double v) {
    switch (a) {
        case RELU: return v > 0 ? v : 0;
        case SIGMOID: return 1.0 / (1.0 + std::exp(-v));
        case TANH: return std::tanh(v);
        case GELU: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        default: return v;
    }
}
// derivative from the pre-activation z (elementwise activations)
inline double dact(int a, double z) {
    switch (a) {
        case RELU: return z > 0 ? 1 : 0;
        case SIGMOID: { double s = act(SIGMOID, z); return s * (1 - s); }
        case TANH: { double t = std::tanh(z); return 1 - t * t; }
        case GELU: return 0.5 * (1 + std::erf(z / std::sqrt(2.0))) + z * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
        default: return 1;
    }
}
inline void softmax_row(const double* z, double* y, int k) {
    double m = -INFINITY;
    for (int c = 0; c < k; ++c) m = std::max(m, z[c]);
    double s = 0;
    for (int c = 0; c < k; ++c) s += std::exp(z[c] - m);
    for (int c = 0; c < k; ++c) y[c] = std::exp(z[c] - m) / s;
}
inline void activate(int a, const vec& z, vec& y, int n, int k) {
    y.resize(z.size());
    if (a == SOFTMAX) for (int r = 0; r < n; ++r) softmax_row(&z[(size_t)r * k], &y[(size_t)r * k], k);
    else for (size_t i = 0; i < z.size(); ++i) y[i] = act(a, z[i]);
}
// dz = (dy * mask) * act'(z) ; softmax: Jacobian-vector product
inline vec act_backward(int a, const vec& z, const vec& y, const vec* mask, const vec& dy, int n, int k) {
    vec g(dy);
    if (mask) for (size_t i = 0; i < g.size(); ++i) g[i] *= (*mask)[i];
    vec dz(g.size());
    if (a == SOFTMAX) {
        for (int r = 0; r < n; ++r) {
            double dot = 0;
            for (int c = 0; c < k; ++c) dot += g[(size_t)r * k + c] * y[(size_t)r * k + c];
            for (int c = 0; c < k; ++c) dz[(size_t)r * k + c] = y[(size_t)r * k + c] * (g[(size_t)r * k + c] - dot);
        }
    } else {
        for (size_t i = 0; i < g.size(); ++i) dz[i] = g[i] * dact(a, z[i]);
    }
    return dz;
}

// Loss over n rows of k outputs; out = logits (SPARSE_CCE, CCE, BCE) or activated output (MSE).
struct LossResult { double sum = 0; int64_t correct = 0; vec grad, probs; };
inline LossResult loss(int kind, const vec& out, const int32_t* labels, const float* targets, int n, int k,
                       double grad_scale) {
    LossResult R;
    R.grad.assign((size_t)n * k, 0);
    R.probs.assign((size_t)n * k, 0);
    for (int r = 0; r < n; ++r) {
        const double* z = &out[(size_t)r * k];
        double* g = &R.grad[(size_t)r * k];
        double* p = &R.probs[(size_t)r * k];
        if (kind == SPARSE_CCE || kind == CCE) {
            softmax_row(z, p, k);
            double m = -INFINITY;
            for (int c = 0; c < k; ++c) m = std::max(m, z[c]);
            double s = 0;
            for (int c = 0; c < k; ++c) s += std::exp(z[c] - m);
            double lse = m + std::log(s);
            int am = 0;
            for (int c = 1; c < k; ++c) if (z[c] > z[am]) am = c;
            if (kind == SPARSE_CCE) {
                int lab = labels[r];
                R.sum += lse - z[lab];
                R.correct += am == lab;
                for (int c = 0; c < k; ++c) g[c] = (p[c] - (c == lab ? 1 : 0)) * grad_scale / n;
            } else {
                const float* t = targets + (size_t)r * k;
                double ts = 0;
                int at = 0;
                for (int c = 0; c < k; ++c) { R.sum += t[c] * (lse - z[c]); ts += t[c]; if (t[c] > t[at]) at = c; }
                R.correct += am == at;
                for (int c = 0; c < k; ++c) g[c] = (p[c] * ts - t[c]) * grad_scale / n;
            }
        } else if (kind == BCE) {
            const float* t = targets + (size_t)r * k;
            double l = 0;
            for (int c = 0; c < k; ++c) {
                double v = z[c], pr = 1.0 / (1.0 + std::exp(-v));
                p[c] = pr;
                l += std::max(v, 0.0) - v * t[c] + std::log1p(std::exp(-std::fabs(v)));
                R.correct += (pr >= 0.5) == (t[c] >= 0.5);
                g[c] = (pr - t[c]) / k * grad_scale / n;
            }
            R.sum += l / k;
        } else {
            const float* t = targets + (size_t)r * k;
            double l = 0;
            for (int c = 0; c < k; ++c) {
                double d = z[c] - t[c];
                l += d * d;
                g[c] = 2 * d / k * grad_scale / n;
                p[c] = z[c];
            }
            R.sum += l / k;
        }
    }
    return R;
}

struct Hyper { int kind; double h[5]; };

// One optimizer update (t = 1 for the first), state slots as in dense4j_cuda.h: state[j*n + i].
inline void optimizer(const Hyper& H, double lr, int64_t t, vec& p, const vec& grad, vec& st) {
    const size_t n = p.size();
    for (size_t i = 0; i < n; ++i) {
        double g = grad[i];
        double& s0 = st[i];
        double& s1 = st[n + i];
        double& s2 = st[2 * n + i];
        if (H.kind == SGD) {
            double mu = H.h[0], damp = H.h[1], wd = H.h[2];
            g += wd * p[i];
            if (mu != 0) {
                s0 = t == 1 ? g : mu * s0 + (1 - damp) * g;
                g = H.h[3] != 0 ? g + mu * s0 : s0;
            }
            p[i] -= lr * g;
        } else if (H.kind == ADAM || H.kind == ADAMW) {
            double b1 = H.h[0], b2 = H.h[1], eps = H.h[2], wd = H.h[3];
            if (H.kind == ADAMW) p[i] *= 1 - lr * wd;
            else g += wd * p[i];
            s0 = b1 * s0 + (1 - b1) * g;
            s1 = b2 * s1 + (1 - b2) * g * g;
            double v = s1;
            if (H.h[4] != 0) { s2 = std::max(s2, s1); v = s2; }
            double bc1 = 1 - std::pow(b1, (double)t), bc2 = 1 - std::pow(b2, (double)t);
            p[i] -= lr / bc1 * s0 / (std::sqrt(v) / std::sqrt(bc2) + eps);
        } else {
            double alpha = H.h[0], eps = H.h[1], wd = H.h[2], mu = H.h[3];
            g += wd * p[i];
            s0 = alpha * s0 + (1 - alpha) * g * g;
            double v = s0;
            if (H.h[4] != 0) { s2 = alpha * s2 + (1 - alpha) * g; v -= s2 * s2; }
            double avg = std::sqrt(v) + eps;
            if (mu > 0) { s1 = mu * s1 + g / avg; p[i] -= lr * s1; }
            else p[i] -= lr * g / avg;
        }
    }
}

// Value clip then global-norm factor (PyTorch clip_grad_value_ + clip_grad_norm_). Returns the norm.
inline double clip(vec& g, double max_norm, double clip_value) {
    if (clip_value > 0) for (double& v : g) v = std::min(std::max(v, -clip_value), clip_value);
    double s = 0;
    for (double v : g) s += v * v;
    double norm = std::sqrt(s);
    if (max_norm > 0) {
        double f = std::min(1.0, max_norm / (norm + 1e-6));
        for (double& v : g) v *= f;
    }
    return norm;
}

// Dropout hash, re-stated from the specification in dense4j_cuda.h / dropout.cu.
inline uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
inline double dropout(uint64_t seed, int64_t step, int layer, uint64_t e, double rate) {
    uint64_t key = mix(mix(seed ^ mix((uint64_t)step)) + (uint64_t)layer);
    uint32_t u = (uint32_t)(mix(key + e) >> 40);
    return (float)u >= (float)rate * 16777216.f ? 1.0 / (1.0 - (float)rate) : 0.0;
}

// A network in float64 with the parameter layout W0[in,out], b0, W1, b1, ...
struct Net {
    std::vector<int> sizes, acts;
    std::vector<double> drop;
    int loss_kind = SPARSE_CCE;
    Hyper opt{ADAM, {0.9, 0.999, 1e-7, 0, 0}};
    double clip_norm = 0, clip_value = 0;
    vec params, state;
    int64_t step = 0;
    uint64_t seed = 0;

    int L() const { return (int)acts.size(); }
    size_t woff(int l) const {
        size_t o = 0;
        for (int i = 0; i < l; ++i) o += (size_t)sizes[i] * sizes[i + 1] + sizes[i + 1];
        return o;
    }
    static size_t count(const std::vector<int>& s) {
        size_t o = 0;
        for (size_t i = 0; i + 1 < s.size(); ++i) o += (size_t)s[i] * s[i + 1] + s[i + 1];
        return o;
    }

    // Forward + loss + gradient. Returns the loss SUM over rows; grad (if non-null) gets d(mean loss)/d(params).
    // outputs (if non-null) gets the activated outputs of the last layer.
    double run(const vec& x, int n, const int32_t* labels, const float* targets, bool train, vec* grad,
               int64_t* correct = nullptr, vec* outputs = nullptr) const {
        const int nl = L();
        std::vector<vec> in(nl + 1), z(nl), y(nl), mask(nl);
        in[0] = x;
        for (int l = 0; l < nl; ++l) {
            int a = sizes[l], b = sizes[l + 1];
            const double* W = &params[woff(l)];
            const double* B = W + (size_t)a * b;
            z[l] = gemm(false, false, n, b, a, in[l].data(), a, W, b);
            for (int r = 0; r < n; ++r) for (int c = 0; c < b; ++c) z[l][(size_t)r * b + c] += B[c];
            bool last = l == nl - 1;
            int act_l = (last && loss_kind != MSE) ? LINEAR : acts[l];
            activate(act_l, z[l], y[l], n, b);
            in[l + 1] = y[l];
            mask[l].assign(y[l].size(), 1.0);
            if (train && drop[l] > 0)
                for (size_t i = 0; i < y[l].size(); ++i) { mask[l][i] = dropout(seed, step, l, i, drop[l]); in[l + 1][i] *= mask[l][i]; }
        }
        const int k = sizes[nl];
        LossResult R = loss(loss_kind, y[nl - 1], labels, targets, n, k, 1.0);
        if (correct) *correct = R.correct;
        if (outputs) {
            *outputs = y[nl - 1];
            if (loss_kind != MSE && acts[nl - 1] != LINEAR) *outputs = R.probs;
        }
        if (!grad) return R.sum;
        grad->assign(params.size(), 0);
        vec dz = R.grad;
        if (loss_kind == MSE) dz = act_backward(acts[nl - 1], z[nl - 1], y[nl - 1], nullptr, dz, n, k);
        for (int l = nl - 1; l >= 0; --l) {
            int a = sizes[l], b = sizes[l + 1];
            vec dw = gemm(true, false, a, b, n, in[l].data(), a, dz.data(), b);
            double* G = &(*grad)[woff(l)];
            for (size_t i = 0; i < dw.size(); ++i) G[i] = dw[i];
            for (int r = 0; r < n; ++r) for (int c = 0; c < b; ++c) G[(size_t)a * b + c] += dz[(size_t)r * b + c];
            if (l > 0) {
                vec dx = gemm(false, true, n, a, b, dz.data(), b, &params[woff(l)], b);
                dz = act_backward(acts[l - 1], z[l - 1], y[l - 1], &mask[l - 1], dx, n, a);
            }
        }
        return R.sum;
    }

    // One training step; returns the loss sum of the batch.
    double train_step(const vec& x, int n, const int32_t* labels, const float* targets, double lr) {
        vec g;
        double l = run(x, n, labels, targets, true, &g);
        clip(g, clip_norm, clip_value);
        optimizer(opt, lr, step + 1, params, g, state);
        step += 1;
        return l;
    }
};

}  // namespace ref
