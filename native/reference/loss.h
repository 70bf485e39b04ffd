// Float64 reference of the fused losses (d4j_loss, d4j_cuda_loss): sparse / dense categorical cross-entropy on
// logits (softmax inside), binary cross-entropy on logits (sigmoid inside), mean squared error on outputs; with
// the gradient, the probabilities and the count of correct rows. tests/reference_test.cpp checks the gradient
// against central finite differences of the value.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "activation.h"

namespace ref {

// Returns the loss summed over rows (each row's loss is a mean over its k outputs for BCE and MSE).
// grad (optional) = d(mean over rows)/d(out) * scale; probs (optional, CE and BCE) = softmax / sigmoid of the
// logits; correct (optional): argmax of logits == label (or argmax of the target row) for CE, per element
// (p >= 0.5) == (t >= 0.5) for BCE, 0 for MSE. labels are read for sparse CE, targets t [n,k] otherwise.
inline double loss(int kind, const double* out, const int32_t* labels, const double* t, double* grad,
                   double* probs, int n, int k, double scale, int64_t* correct) {
    double total = 0;
    int64_t ok = 0;
    std::vector<double> p(k), tt(k);
    for (int r = 0; r < n; r++) {
        const double* z = out + (int64_t)r * k;
        const int64_t o = (int64_t)r * k;
        if (kind == D4J_LOSS_SPARSE_CCE || kind == D4J_LOSS_CCE) {
            act_rows(z, p.data(), 1, k, D4J_ACT_SOFTMAX);
            int am = 0;
            for (int j = 1; j < k; j++) if (z[j] > z[am]) am = j;
            std::fill(tt.begin(), tt.end(), 0.0);
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
                // -t log p - (1-t) log(1-p) = max(z, 0) - z t + log(1 + e^-|z|), exact at any z
                row += std::max(zj, 0.0) - zj * tj + std::log1p(std::exp(-std::fabs(zj)));
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

}  // namespace ref
