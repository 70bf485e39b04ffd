// Losses fused with their gradient and accuracy count, one pass over the [n,k] outputs:
//  - sparse / dense categorical CE from logits: row max, log-sum-exp (stable), softmax, grad = p*sum(t) - t,
//    argmax; the loss, the gradient w.r.t. the logits and the correct count come out of the same row visit;
//  - BCE from logits: max(z,0) - z t + log1p(exp(-|z|)) (stable), grad = (sigmoid(z) - t) / k;
//  - MSE on the activated output: mean over the last axis of (y - t)^2, grad = 2 (y - t) / k.
// Per-row sums are accumulated in double; grads are scaled by grad_scale / n (mean over rows).
#include <algorithm>
#include <cmath>
#include "activations.h"
#include "internal.h"

namespace d4j {

static inline int argmax(const float* v, int k) {
    int best = 0;
    for (int j = 1; j < k; j++) if (v[j] > v[best]) best = j;
    return best;
}

// Writes exp(z - max) into e (when not NULL) and returns the log-sum-exp of the row, in double.
static inline double lse_row(const float* z, float* e, int k, double* sum_out) {
    float mx = -INFINITY;
    bool nan = false;
    for (int j = 0; j < k; j++) { mx = std::max(mx, z[j]); nan |= z[j] != z[j]; }
    if (nan) return NAN;
    if (std::isinf(mx)) return mx;  // +inf logit: the loss is not finite; -inf everywhere: same
    double sum = 0.0;
    if (e) {
        for (int j = 0; j < k; j++) { const float v = std::exp(z[j] - mx); e[j] = v; sum += v; }
    } else {
        for (int j = 0; j < k; j++) sum += std::exp(z[j] - mx);
    }
    *sum_out = sum;
    return (double)mx + std::log(sum);
}

static double categorical(bool sparse, const float* out, const int32_t* labels, const float* targets,
                          float* grad, float* probs, int n, int k, float gscale, int64_t* correct) {
    double total = 0.0;
    int64_t ok = 0;
    for (int64_t r = 0; r < n; r++) {
        const float* z = out + r * k;
        float* e = probs ? probs + r * k : (grad ? grad + r * k : nullptr);
        double sum = 1.0;
        const double lse = lse_row(z, e, k, &sum);
        const int am = argmax(z, k);
        const float inv = (float)(1.0 / sum);
        float* g = grad ? grad + r * k : nullptr;
        float* p = probs ? probs + r * k : nullptr;
        const float* t = sparse ? nullptr : targets + r * k;
        double tsum = 1.0, row = NAN;
        if (sparse) {
            const int y = labels[r];
            if (y >= 0 && y < k) {
                row = lse - (double)z[y];
                ok += am == y;
            }
        } else {
            double tz = 0.0;
            tsum = 0.0;
            for (int j = 0; j < k; j++) { tsum += t[j]; tz += (double)t[j] * z[j]; }
            row = tsum * lse - tz;
            ok += am == argmax(t, k);
        }
        total += row;
        if (!std::isfinite(row)) {  // keep every output written, and poisoned
            if (g) for (int j = 0; j < k; j++) g[j] = NAN;
            if (p) for (int j = 0; j < k; j++) p[j] = NAN;
            continue;
        }
        // e holds exp(z - max) and may alias g or p: the gradient is formed first, then p normalised.
        // The gradient is formed in double: p_y - 1 cancels badly in float when p_y is close to 1.
        if (g) {
            const double invd = 1.0 / sum, gs = gscale;
            if (sparse) {
                const int y = labels[r];
                const double ey = e[y];
                for (int j = 0; j < k; j++) g[j] = (float)((double)e[j] * invd * gs);
                g[y] = (float)(-((sum - ey) * invd) * gs);  // p_y - 1 = -(sum of the other exps) / sum
            } else {
                for (int j = 0; j < k; j++) g[j] = (float)(((double)e[j] * invd * tsum - t[j]) * gs);
            }
        }
        if (p) for (int j = 0; j < k; j++) p[j] = e[j] * inv;
    }
    if (correct) *correct = ok;
    return total;
}

static double bce(const float* out, const float* targets, float* grad, float* probs, int n, int k,
                  float gscale, int64_t* correct) {
    double total = 0.0;
    int64_t ok = 0;
    const double gs = (double)gscale / k;
    for (int64_t r = 0; r < n; r++) {
        const float* z = out + r * k;
        const float* t = targets + r * k;
        double row = 0.0;
        for (int j = 0; j < k; j++) {
            const float zj = z[j], tj = t[j];
            const float e = std::exp(-std::fabs(zj));  // in (0, 1]
            const double ed = e, q = ed / (1.0 + ed);  // q = sigmoid(-|z|), no cancellation
            row += (double)std::max(zj, 0.0f) - (double)zj * tj + std::log1p(ed);
            ok += (zj >= 0.0f) == (tj >= 0.5f);
            // p - t with p = 1 - q (z >= 0) or q (z < 0), formed in double so that p ~ t does not cancel
            const double pm = zj >= 0.0f ? (1.0 - tj) - q : q - tj;
            if (probs) probs[r * k + j] = zj >= 0.0f ? (float)(1.0 - q) : (float)q;
            if (grad) grad[r * k + j] = (float)(pm * gs);
        }
        total += row / k;
    }
    if (correct) *correct = ok;
    return total;
}

static double mse(const float* out, const float* targets, float* grad, int n, int k, float gscale) {
    double total = 0.0;
    const float gs = 2.0f * gscale / (float)k;
    for (int64_t r = 0; r < n; r++) {
        const float* y = out + r * k;
        const float* t = targets + r * k;
        double row = 0.0;
        for (int j = 0; j < k; j++) { const double d = (double)y[j] - t[j]; row += d * d; }
        if (grad) for (int j = 0; j < k; j++) grad[r * k + j] = (y[j] - t[j]) * gs;
        total += row / k;
    }
    return total;
}

double loss(int kind, const float* out, const int32_t* labels, const float* targets, float* grad,
            float* probs, int n, int k, float grad_scale, int64_t* correct) {
    const float gscale = grad_scale / (float)n;
    switch (kind) {
        case D4J_LOSS_SPARSE_CCE:
            return categorical(true, out, labels, targets, grad, probs, n, k, gscale, correct);
        case D4J_LOSS_CCE:
            return categorical(false, out, labels, targets, grad, probs, n, k, gscale, correct);
        case D4J_LOSS_BCE:
            return bce(out, targets, grad, probs, n, k, gscale, correct);
        default:
            if (correct) *correct = 0;
            return mse(out, targets, grad, n, k, gscale);
    }
}

}  // namespace d4j

extern "C" double d4j_loss(int loss, const float* out, const int32_t* labels, const float* targets, float* grad,
                           float* probs, int n, int k, float grad_scale, int64_t* correct) {
    if (!out || n <= 0 || k <= 0 || !d4j::valid_loss(loss)) return NAN;
    if (loss == D4J_LOSS_SPARSE_CCE ? !labels : !targets) return NAN;
    return d4j::loss(loss, out, labels, targets, grad, probs, n, k, grad_scale, correct);
}
