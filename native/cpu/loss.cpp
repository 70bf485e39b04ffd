// Losses fused with their gradient and accuracy count, one pass over the [n,k] outputs:
//  - sparse / dense categorical CE from logits: row max, log-sum-exp (stable), softmax, grad = p*sum(t) - t,
//    argmax; the loss, the gradient w.r.t. the logits and the correct count come out of the same row visit; the
//    exponentials inline (exp_nonpositive.h), and sparse CE's logs one per 32 rows (of the product of row sums);
//  - BCE from logits: max(z,0) - z t + log1p(exp(-|z|)) (stable), grad = (sigmoid(z) - t) / k;
//  - MSE on the activated output: mean over the last axis of (y - t)^2, grad = 2 (y - t) / k.
// Per-row sums are accumulated in double; grads are scaled by grad_scale / n (mean over rows).
#include <algorithm>
#include <cmath>
#include "activations.h"
#include "exp_nonpositive.h"
#include "internal.h"

namespace d4j {

static inline int argmax(const float* v, int k) {
    int best = 0;
    for (int j = 1; j < k; j++) if (v[j] > v[best]) best = j;
    return best;
}

// e = exp(z - mx), the exponentials of a row apart from their sum (independent: vectorized)
static void exp_row(const float* __restrict z, float mx, float* __restrict e, int k) {
    for (int j = 0; j < k; j++) e[j] = exp_nonpositive(z[j] - mx);
}

// A row's max and first argmax in one pass, and whether it holds a NaN (the max then stops mattering).
struct RowMax {
    float mx;
    int am;
    bool nan;
};
static inline RowMax row_max(const float* z, int k) {
    RowMax m{z[0], 0, z[0] != z[0]};
    for (int j = 1; j < k; j++) {
        m.nan |= z[j] != z[j];
        if (z[j] > m.mx) { m.mx = z[j]; m.am = j; }
    }
    return m;
}

// Sparse CE takes the log of a product of row sums (each in [1, k], k < 2^31) once per LOG_ROWS rows instead of a
// log per row: a row's log-sum-exp is max + log(sum), and the loss only needs their total (in double, the
// product of 32 sums stays below 2^992). A log call cost ~10 ns, 32 of them a training step.
constexpr int LOG_ROWS = 32;

static double categorical(bool sparse, const float* out, const int32_t* labels, const float* targets,
                          float* grad, float* probs, int n, int k, float gscale, int64_t* correct) {
    double total = 0.0, sums = 1.0;
    int in_sums = 0;
    int64_t ok = 0;
    for (int64_t r = 0; r < n; r++) {
        const float* z = out + r * k;
        float* e = probs ? probs + r * k : (grad ? grad + r * k : nullptr);
        float* g = grad ? grad + r * k : nullptr;
        float* p = probs ? probs + r * k : nullptr;
        const float* t = sparse ? nullptr : targets + r * k;
        const RowMax m = row_max(z, k);
        // exp(z - max) (into e when there is one) and its sum in double, in order
        double sum = 1.0;
        const bool finite_max = !m.nan && std::isfinite(m.mx);
        if (finite_max) {
            sum = 0.0;
            if (e) {
                exp_row(z, m.mx, e, k);
                for (int j = 0; j < k; j++) sum += e[j];
            } else {
                for (int j = 0; j < k; j++) sum += exp_nonpositive(z[j] - m.mx);
            }
        }
        // The row's loss; sparse: less log(sum), added in groups (LOG_ROWS). NaN and infinite logits: the row's
        // own non-finite value (lse = max when the max is infinite), so that the total is not finite either.
        const double lse0 = m.nan ? NAN : (double)m.mx;  // the log-sum-exp less log(sum)
        double tsum = 1.0, row = NAN;
        if (sparse) {
            const int y = labels[r];
            if (y >= 0 && y < k) {
                row = lse0 - (double)z[y];
                ok += m.am == y;
            }
        } else {
            double tz = 0.0;
            tsum = 0.0;
            for (int j = 0; j < k; j++) { tsum += t[j]; tz += (double)t[j] * z[j]; }
            row = tsum * (finite_max ? lse0 + std::log(sum) : lse0) - tz;
            ok += m.am == argmax(t, k);
        }
        total += row;
        if (!finite_max || !std::isfinite(row)) {  // keep every output written, and poisoned
            if (g) for (int j = 0; j < k; j++) g[j] = NAN;
            if (p) for (int j = 0; j < k; j++) p[j] = NAN;
            continue;
        }
        if (sparse) {
            sums *= sum;
            if (++in_sums == LOG_ROWS) { total += std::log(sums); sums = 1.0; in_sums = 0; }
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
        if (p) {
            const float inv = (float)(1.0 / sum);
            for (int j = 0; j < k; j++) p[j] = e[j] * inv;
        }
    }
    if (in_sums) total += std::log(sums);
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
