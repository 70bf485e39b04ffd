// Checks the float64 reference itself (reference/), on the CPU, in every build (no library, no GPU):
//  - each derivative the reference states against central finite differences of its own value: the activation
//    backward of every activation, the gradient of every loss, and the parameter gradients of whole networks
//    (every activation, every loss, dropout);
//  - the dropout mask's hash against the published splitmix64 outputs, its keep fraction and scale;
//  - the optimizer formulas and clipping against values worked out by hand for the first steps.
// Every kernel test (tests/*_test.cpp on the CPU, cuda/tests/cuda_kernels_test.cu on the GPU and in cuda/emu/)
// compares against this reference, so a wrong derivative here would be a wrong oracle everywhere.
#include "reference.h"
#include <cstdio>
#include <random>
#include <string>

static int failures = 0;
static void check(bool ok, const std::string& what, double a, double b) {
    if (!ok) ++failures;
    printf("%-4s %-72s %.3e %.3e\n", ok ? "ok" : "FAIL", what.c_str(), a, b);
}
static const char* act_name(int a) {
    static const char* n[] = {"linear", "relu", "sigmoid", "tanh", "gelu", "softmax"};
    return n[a];
}
static const char* loss_name(int l) {
    static const char* n[] = {"sparse_cce", "cce", "bce", "mse"};
    return n[l];
}

// act_backward (no mask) == d/dz of sum(dy . act(z)) by central differences, n x k random z (relu: off the kink)
static void fd_activation(int act) {
    const int n = 33, k = 31;
    std::mt19937 rng(100 + act);
    std::uniform_real_distribution<double> U(-2, 2);
    ref::V z((size_t)n * k), dy(z.size()), y(z.size()), dz(z.size()), yp(z.size()), ym(z.size());
    for (auto& v : z) { do v = U(rng); while (act == D4J_ACT_RELU && std::fabs(v) < 1e-2); }
    for (auto& v : dy) v = U(rng) / 2;
    ref::act_rows(z.data(), y.data(), n, k, act);
    ref::act_backward(z.data(), y.data(), nullptr, dy.data(), dz.data(), n, k, act);
    const double h = 1e-6;
    double max_err = 0, max_g = 0;
    for (int r = 0; r < n; r++)
        for (int j = 0; j < k; j++) {  // a row's outputs depend only on that row
            const size_t i = (size_t)r * k + j, o = (size_t)r * k;
            const double keep = z[i];
            z[i] = keep + h;
            ref::act_rows(&z[o], &yp[o], 1, k, act);
            z[i] = keep - h;
            ref::act_rows(&z[o], &ym[o], 1, k, act);
            z[i] = keep;
            double fd = 0;
            for (int c = 0; c < k; c++) fd += dy[o + c] * (yp[o + c] - ym[o + c]) / (2 * h);
            max_err = std::max(max_err, std::fabs(fd - dz[i]));
            max_g = std::max(max_g, std::fabs(dz[i]));
        }
    check(max_err <= 1e-7 * std::max(1.0, max_g) && max_g > 0,
          std::string("finite differences: activation backward ") + act_name(act) + " 33x31 (max |err|, max |grad|)",
          max_err, max_g);
}

// loss gradient == d(mean loss)/d(out) * scale by central differences (each row through its own loss)
static void fd_loss(int kind, int n, int k) {
    std::mt19937 rng(200 + 10 * kind + n + k);
    std::uniform_real_distribution<double> U(-3, 3);
    ref::V out((size_t)n * k), t((size_t)n * k), grad((size_t)n * k);
    std::vector<int32_t> labels(n);
    for (auto& v : out) v = U(rng);
    for (int r = 0; r < n; r++) {
        labels[r] = (int)(rng() % k);
        double s = 0;
        for (int j = 0; j < k; j++) {
            double& v = t[(size_t)r * k + j];
            v = kind == D4J_LOSS_CCE ? 0.05 + (rng() % 100) / 100.0 : kind == D4J_LOSS_BCE ? (rng() % 3) / 2.0 : U(rng);
            s += v;
        }
        if (kind == D4J_LOSS_CCE) for (int j = 0; j < k; j++) t[(size_t)r * k + j] /= s;  // soft labels
    }
    const double scale = 0.7, h = 1e-6;
    ref::loss(kind, out.data(), labels.data(), t.data(), grad.data(), nullptr, n, k, scale, nullptr);
    double max_err = 0, max_g = 0;
    for (int r = 0; r < n; r++)
        for (int j = 0; j < k; j++) {
            const size_t i = (size_t)r * k + j, o = (size_t)r * k;
            const double keep = out[i];
            out[i] = keep + h;
            const double up = ref::loss(kind, &out[o], &labels[r], &t[o], nullptr, nullptr, 1, k, 1, nullptr);
            out[i] = keep - h;
            const double down = ref::loss(kind, &out[o], &labels[r], &t[o], nullptr, nullptr, 1, k, 1, nullptr);
            out[i] = keep;
            const double fd = (up - down) / (2 * h) / n * scale;
            max_err = std::max(max_err, std::fabs(fd - grad[i]));
            max_g = std::max(max_g, std::fabs(grad[i]));
        }
    check(max_err <= 1e-7 * std::max(max_g, 1.0 / n) && max_g > 0,
          std::string("finite differences: loss ") + loss_name(kind) + " " + std::to_string(n) + "x" +
              std::to_string(k) + " gradient (max |err|, max |grad|)",
          max_err, max_g);
}

static void fd_net(const char* name, std::vector<int> sizes, std::vector<int> acts, std::vector<double> drop,
                   int loss, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> N01(0, 1);
    ref::Net net;
    net.sizes = sizes; net.acts = acts; net.rates = drop; net.loss_kind = loss;
    net.params.resize(ref::Net::count(sizes));
    for (double& p : net.params) p = 0.5 * N01(rng);
    const int n = 5, in = sizes[0], k = sizes.back();
    const uint64_t dseed = 1234;
    const int64_t update = 8;
    ref::V x((size_t)n * in), targets((size_t)n * k);
    for (double& v : x) v = N01(rng);
    std::vector<int32_t> labels(n);
    for (int r = 0; r < n; ++r) {
        labels[r] = (int)(rng() % k);
        for (int c = 0; c < k; ++c) {
            if (loss == D4J_LOSS_CCE) targets[(size_t)r * k + c] = (float)(rng() % 3) / 2.f;
            else if (loss == D4J_LOSS_BCE) targets[(size_t)r * k + c] = (float)(rng() % 2);
            else targets[(size_t)r * k + c] = (float)N01(rng);
        }
    }
    const ref::V g = net.backward(x.data(), n, labels.data(), targets.data(), dseed, update);
    double max_err = 0, max_g = 0;
    const double h = 1e-6;
    for (size_t i = 0; i < net.params.size(); ++i) {
        const double p0 = net.params[i];
        net.params[i] = p0 + h;
        const double lp = net.forward(x.data(), n, labels.data(), targets.data(), true, dseed, update) / n;
        net.params[i] = p0 - h;
        const double lm = net.forward(x.data(), n, labels.data(), targets.data(), true, dseed, update) / n;
        net.params[i] = p0;
        const double fd = (lp - lm) / (2 * h);
        max_err = std::max(max_err, std::fabs(fd - g[i]));
        max_g = std::max(max_g, std::fabs(g[i]));
    }
    check(max_err <= 1e-6 * std::max(1.0, max_g) && max_g > 0,
          std::string("finite differences: net ") + name +
              " (max |err|, max |grad|)",
          max_err, max_g);
}

// The dropout mask: the hash is splitmix64 (checked against the outputs published with its reference code for the
// generator seeded with 1234567), the mask keeps a fraction 1 - rate (to the 2^-24 step of its threshold) scaled
// by 1 / (1 - rate), and each of seed, step, layer and element changes it.
static void dropout_mask() {
    const uint64_t published[] = {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                                  4593380528125082431ull, 16408922859458223821ull};
    uint64_t state = 1234567;
    bool same = true;
    for (uint64_t want : published) {
        same &= ref::splitmix64(state) == want;  // the generator's state advances by its golden gamma
        state += 0x9E3779B97F4A7C15ull;
    }
    check(same, "dropout hash: splitmix64 published outputs", (double)ref::splitmix64(1234567), 6457827717110365317.0);
    for (double rate : {0.1, 0.5, 0.9}) {
        const int n = 200000;
        int64_t kept = 0;
        bool scale_ok = true;
        for (int e = 0; e < n; e++) {
            const double m = ref::dropout_mask(5, 17, 1, e, rate);
            kept += m != 0;
            scale_ok &= m == 0 || std::fabs(m * (1 - rate) - 1) < 1e-6;
        }
        check(std::fabs((double)kept / n - (1 - rate)) < 0.005 && scale_ok,
              "dropout mask: keep fraction for rate " + std::to_string(rate), (double)kept / n, 1 - rate);
    }
    int differ[4] = {0, 0, 0, 0};
    for (int e = 0; e < 1000; e++) {
        const double m = ref::dropout_mask(5, 17, 1, e, 0.5);
        differ[0] += m != ref::dropout_mask(6, 17, 1, e, 0.5);
        differ[1] += m != ref::dropout_mask(5, 18, 1, e, 0.5);
        differ[2] += m != ref::dropout_mask(5, 17, 2, e, 0.5);
        differ[3] += m != ref::dropout_mask(5, 17, 1, e + 1000, 0.5);
    }
    bool independent = true;
    for (int d : differ) independent &= d > 400 && d < 600;  // about half of the decisions differ
    check(independent, "dropout mask: seed, step, layer and element each draw another mask", differ[0], differ[1]);
}

static void optimizer(int kind, std::vector<double> h, double lr, int64_t t, ref::V& p, const ref::V& g, ref::V& s) {
    ref::optimizer_step(kind, h.data(), lr, t, p, g, s);
}

int main() {
    for (int act = D4J_ACT_LINEAR; act <= D4J_ACT_SOFTMAX; act++) fd_activation(act);
    for (int kind = D4J_LOSS_SPARSE_CCE; kind <= D4J_LOSS_MSE; kind++)
        for (auto nk : {std::pair<int, int>{1, 2}, {31, 10}, {33, 1}, {1000, 33}})
            if (nk.second > 1 || kind > D4J_LOSS_CCE) fd_loss(kind, nk.first, nk.second);  // one-class CE: grad 0

    fd_net("relu/softmax sparse-CCE", {6, 7, 4}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {0, 0}, D4J_LOSS_SPARSE_CCE, 1);
    fd_net("tanh+dropout/linear CCE", {5, 8, 3}, {D4J_ACT_TANH, D4J_ACT_LINEAR}, {0.3, 0}, D4J_LOSS_CCE, 2);
    fd_net("sigmoid/sigmoid BCE", {4, 6, 3}, {D4J_ACT_SIGMOID, D4J_ACT_SIGMOID}, {0, 0}, D4J_LOSS_BCE, 3);
    fd_net("gelu/softmax-hidden/linear MSE", {5, 6, 4, 3}, {D4J_ACT_GELU, D4J_ACT_SOFTMAX, D4J_ACT_LINEAR},
           {0.2, 0.25, 0}, D4J_LOSS_MSE, 4);
    fd_net("relu/tanh MSE", {3, 5, 2}, {D4J_ACT_RELU, D4J_ACT_TANH}, {0, 0}, D4J_LOSS_MSE, 5);
    fd_net("linear/gelu MSE", {3, 4, 2}, {D4J_ACT_LINEAR, D4J_ACT_GELU}, {0, 0}, D4J_LOSS_MSE, 6);
    fd_net("softmax output MSE", {4, 5, 3}, {D4J_ACT_TANH, D4J_ACT_SOFTMAX}, {0, 0}, D4J_LOSS_MSE, 7);

    dropout_mask();

    // Optimizers, first steps by hand.
    {
        ref::V p{1.0}, g{0.5}, s(3, 0.0);
        optimizer(D4J_OPT_ADAM, {0.9, 0.999, 1e-8, 0, 0}, 0.1, 1, p, g, s);  // m^=g, v^=g^2: p -= lr * g/(|g|+eps)
        check(std::fabs(p[0] - (1.0 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-12, "Adam step 1", p[0], 0.9);
        ref::V q{1.0}, s2(3, 0.0);
        optimizer(D4J_OPT_SGD, {0.9, 0.0, 0.0, 0, 0}, 0.1, 1, q, g, s2);   // buf = g
        optimizer(D4J_OPT_SGD, {0.9, 0.0, 0.0, 0, 0}, 0.1, 2, q, g, s2);   // buf = 0.9*0.5+0.5 = 0.95
        check(std::fabs(q[0] - (1.0 - 0.05 - 0.095)) < 1e-12, "SGD momentum 2 steps", q[0], 0.855);
        ref::V r{1.0}, s3(3, 0.0);
        optimizer(D4J_OPT_SGD, {0.9, 0.0, 0.0, 1, 0}, 0.1, 1, r, g, s3);   // nesterov: g + mu*buf = 0.5 + 0.45
        check(std::fabs(r[0] - (1.0 - 0.095)) < 1e-12, "SGD nesterov step 1", r[0], 0.905);
        ref::V w{2.0}, s4(3, 0.0);
        optimizer(D4J_OPT_ADAMW, {0.9, 0.999, 1e-8, 0.1, 0}, 0.1, 1, w, g, s4);  // p *= 0.99 then -lr*~1
        check(std::fabs(w[0] - (2.0 * 0.99 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-12, "AdamW step 1", w[0], 1.88);
        ref::V m{1.0}, s5(3, 0.0);
        optimizer(D4J_OPT_RMSPROP, {0.99, 1e-8, 0, 0, 0}, 0.01, 1, m, g, s5);   // v = 0.01*0.25
        check(std::fabs(m[0] - (1.0 - 0.01 * 0.5 / (std::sqrt(0.0025) + 1e-8))) < 1e-12, "RMSprop step 1", m[0], 0.9);
        ref::V c{1.0}, s6(3, 0.0);
        optimizer(D4J_OPT_RMSPROP, {0.99, 1e-8, 0, 0, 1}, 0.01, 1, c, g, s6);  // centered: v - ga^2 = 0.0025 - 0.000025
        check(std::fabs(c[0] - (1.0 - 0.01 * 0.5 / (std::sqrt(0.0025 - 0.000025) + 1e-8))) < 1e-12,
              "RMSprop centered step 1", c[0], 0.9);
        ref::V gg{3.0, 4.0};
        const double nrm = ref::clip(gg, 1.0, 0.0);
        check(std::fabs(nrm - 5.0) < 1e-12 && std::fabs(gg[0] - 3.0 / (5.0 + 1e-6)) < 1e-12, "clip by norm", nrm, gg[0]);
    }
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
