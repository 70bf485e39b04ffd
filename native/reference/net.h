// Float64 reference of a whole network (d4j_net_*, d4j_cuda_net_*): forward with dropout, the loss, the backward
// pass and a training step (clip + optimizer), composed only of the reference ops. Parameter layout as in the
// native buffers: W0 [in,out], b0, W1, b1, ... tests/reference_test.cpp checks its gradient against central
// finite differences of its loss.
#pragma once
#include <vector>
#include "clip.h"
#include "dense.h"
#include "dropout.h"
#include "loss.h"
#include "optimizer.h"

namespace ref {

struct Net {
    std::vector<int> sizes, acts;
    std::vector<double> rates;  // dropout on each layer's output (training only); empty or 0: none
    int loss_kind = D4J_LOSS_SPARSE_CCE;
    V params;
    std::vector<V> z, y, a, mask;  // per layer, from the last forward: pre-activation, activation, next input, mask

    int L() const { return (int)acts.size(); }
    static int64_t count(const std::vector<int>& s) {
        int64_t o = 0;
        for (size_t i = 0; i + 1 < s.size(); i++) o += (int64_t)s[i] * s[i + 1] + s[i + 1];
        return o;
    }
    int64_t w_off(int l) const {
        int64_t o = 0;
        for (int i = 0; i < l; i++) o += (int64_t)sizes[i] * sizes[i + 1] + sizes[i + 1];
        return o;
    }
    // the CE and BCE losses take the last layer's logits z, MSE its activated output y
    bool logits() const { return loss_kind != D4J_LOSS_MSE; }
    // mask element e of layer l for the update numbered `update` (1 for the first optimizer step)
    double mask_of(uint64_t seed, int64_t update, int l, int64_t e) const {
        return dropout_mask(seed, update - 1, l, e, rates[l]);
    }

    // Forward of n rows; returns the loss sum. labels for sparse CE, targets t [n,k] otherwise. train: dropout on
    // with the masks of (seed, update). grad_out (optional): d(mean loss)/d(loss input), see loss.h.
    // Afterwards y.back() holds the network's outputs.
    double forward(const double* x, int n, const int32_t* labels, const double* t, bool train, uint64_t seed,
                   int64_t update, int64_t* correct = nullptr, double* grad_out = nullptr) {
        z.assign(L(), V()); y.assign(L(), V()); a.assign(L(), V()); mask.assign(L(), V());
        const double* in = x;
        for (int l = 0; l < L(); l++) {
            const int ni = sizes[l], no = sizes[l + 1];
            z[l].resize((size_t)n * no); y[l].resize((size_t)n * no);
            const double* w = params.data() + w_off(l);
            dense_forward(in, w, w + (int64_t)ni * no, z[l].data(), y[l].data(), n, ni, no, acts[l]);
            a[l] = y[l];
            if (train && l < (int)rates.size() && rates[l] > 0) {
                mask[l].resize(y[l].size());
                for (size_t e = 0; e < y[l].size(); e++) {
                    mask[l][e] = mask_of(seed, update, l, (int64_t)e);
                    a[l][e] *= mask[l][e];
                }
            }
            in = a[l].data();
        }
        const int k = sizes.back();
        return loss(loss_kind, logits() ? z.back().data() : y.back().data(), labels, t, grad_out, nullptr, n, k,
                    1.0, correct);
    }

    // Gradient of the mean loss over the n rows w.r.t. params (runs the training forward itself).
    V backward(const double* x, int n, const int32_t* labels, const double* t, uint64_t seed, int64_t update) {
        const int k = sizes.back();
        V dz((size_t)n * k);
        forward(x, n, labels, t, true, seed, update, nullptr, dz.data());
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
            dense_backward(in, params.data() + w_off(l), dz.data(), gw, gw + (int64_t)ni * no,
                           l > 0 ? dx.data() : nullptr, n, ni, no);
            if (l > 0) {
                V d2(dx.size());
                act_backward(z[l - 1].data(), y[l - 1].data(), mask[l - 1].empty() ? nullptr : mask[l - 1].data(),
                             dx.data(), d2.data(), n, ni, acts[l - 1]);
                dz = d2;
            }
        }
        return grad;
    }

    // One training step, update number `update`: gradient, clipping, optimizer. Returns the loss sum of the batch.
    double train_step(Optimizer& opt, double clip_norm, double clip_value, const double* x, int n,
                      const int32_t* labels, const double* t, double lr, uint64_t seed, int64_t update) {
        const double l = forward(x, n, labels, t, true, seed, update);
        V g = backward(x, n, labels, t, seed, update);
        clip(g, clip_norm, clip_value);
        opt.step(params, g, lr, update);
        return l;
    }
};

}  // namespace ref
