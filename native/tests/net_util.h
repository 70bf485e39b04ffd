// Helpers for the network tests: random problems, and a native network plus its float64 twin.
#pragma once
#include <numeric>
#include "reference.h"
#include "test_util.h"

struct Problem {
    int N = 0, in = 0, k = 0, loss = 0;
    std::vector<float> x, targets;
    std::vector<int32_t> labels;
    void make(t::Rng& rng, int N_, int in_, int k_, int loss_) {
        N = N_; in = in_; k = k_; loss = loss_;
        x = rng.vec((size_t)N * in, -1, 1);
        labels.resize(N);
        targets.assign((size_t)N * k, 0.0f);
        for (int r = 0; r < N; r++) {
            labels[r] = rng.integer(0, k - 1);
            for (int j = 0; j < k; j++) {
                float& tv = targets[(size_t)r * k + j];
                if (loss == D4J_LOSS_CCE) tv = j == labels[r] ? 0.85f : 0.15f / (k - 1);  // label smoothing
                else if (loss == D4J_LOSS_BCE) tv = (float)rng.integer(0, 1);
                else tv = rng.nonzero(-1, 1);
            }
        }
    }
    // rows gathered by `order`, widened for the reference
    void gather(const int32_t* order, int rows, ref::V& xo, std::vector<int32_t>& lo, ref::V& to) const {
        xo.resize((size_t)rows * in); lo.resize(rows); to.resize((size_t)rows * k);
        for (int r = 0; r < rows; r++) {
            const int src = order[r];
            for (int i = 0; i < in; i++) xo[(size_t)r * in + i] = x[(size_t)src * in + i];
            lo[r] = labels[src];
            for (int j = 0; j < k; j++) to[(size_t)r * k + j] = targets[(size_t)src * k + j];
        }
    }
};

// A network to train in a test: its layers, loss, optimizer (hp: D4J_OPT_HP_COUNT floats) and clipping.
struct NetConfig {
    const char* name;
    std::vector<int32_t> sizes, acts;
    std::vector<float> dropout;
    int loss, opt;
    std::vector<float> hp;
    float clip_norm, clip_value;
};

struct NativeNet {
    std::vector<int32_t> sizes, acts;
    std::vector<float> dropout, params, grads, state, hp;
    int loss = 0, opt = 0;
    d4j_net* net = nullptr;
    NativeNet() = default;
    NativeNet(const NativeNet&) = delete;
    ~NativeNet() { d4j_net_destroy(net); }
    bool create(std::vector<int32_t> s, std::vector<int32_t> a, std::vector<float> drop, int loss_, int max_batch,
                int opt_, std::vector<float> hp_, t::Rng& rng, float clip_norm = 0, float clip_value = 0) {
        sizes = s; acts = a; dropout = drop; loss = loss_; opt = opt_; hp = hp_;
        const int64_t np = d4j_param_count((int)a.size(), s.data());
        params.resize(np);
        for (int l = 0, o = 0; l < (int)a.size(); l++) {  // Glorot-ish uniform weights, small random biases
            const double lim = std::sqrt(6.0 / (s[l] + s[l + 1]));
            for (int i = 0; i < s[l] * s[l + 1]; i++) params[o++] = rng.nonzero(-lim, lim);
            for (int j = 0; j < s[l + 1]; j++) params[o++] = rng.nonzero(-0.1, 0.1);
        }
        grads.assign(np, NAN);
        state.assign(3 * np, 0.0f);
        net = d4j_net_create((int)a.size(), s.data(), a.data(), drop.empty() ? nullptr : drop.data(), loss, max_batch,
                             params.data(), grads.data(), opt, hp.data(), state.data(), clip_norm, clip_value);
        return net != nullptr;
    }
    ref::Net twin() const {
        ref::Net r;
        r.sizes.assign(sizes.begin(), sizes.end());
        r.acts.assign(acts.begin(), acts.end());
        r.rates.assign(acts.size(), 0.0);
        for (size_t l = 0; l < dropout.size(); l++) r.rates[l] = dropout[l];
        r.loss_kind = loss;
        r.params = t::widen(params);
        return r;
    }
};

inline std::vector<int32_t> permutation(t::Rng& rng, int n) {
    std::vector<int32_t> o(n);
    std::iota(o.begin(), o.end(), 0);
    std::shuffle(o.begin(), o.end(), rng.g);
    return o;
}
