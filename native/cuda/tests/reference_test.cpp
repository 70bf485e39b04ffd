// Checks the float64 reference used by the CUDA tests (reference.h) on the CPU, so it runs everywhere:
//  - parameter gradients of whole networks (every activation, every loss, dropout) against central finite
//    differences of the reference loss;
//  - optimizer formulas against values worked out by hand for the first steps.
#include "reference.h"
#include <cstdio>
#include <random>

static int failures = 0;
static void check(bool ok, const char* what, double a, double b) {
    if (!ok) ++failures;
    printf("%-4s %-60s %.3e %.3e\n", ok ? "ok" : "FAIL", what, a, b);
}

static void fd_net(const char* name, std::vector<int> sizes, std::vector<int> acts, std::vector<double> drop,
                   int loss, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> N01(0, 1);
    ref::Net net;
    net.sizes = sizes; net.acts = acts; net.drop = drop; net.loss_kind = loss; net.seed = 1234; net.step = 7;
    net.params.resize(ref::Net::count(sizes));
    for (double& p : net.params) p = 0.5 * N01(rng);
    const int n = 5, in = sizes[0], k = sizes.back();
    ref::vec x((size_t)n * in);
    for (double& v : x) v = N01(rng);
    std::vector<int32_t> labels(n);
    std::vector<float> targets((size_t)n * k);
    for (int r = 0; r < n; ++r) {
        labels[r] = (int)(rng() % k);
        for (int c = 0; c < k; ++c) {
            if (loss == ref::CCE) targets[(size_t)r * k + c] = (float)(rng() % 3) / 2.f;
            else if (loss == ref::BCE) targets[(size_t)r * k + c] = (float)(rng() % 2);
            else targets[(size_t)r * k + c] = (float)N01(rng);
        }
    }
    ref::vec g;
    net.run(x, n, labels.data(), targets.data(), true, &g);
    double max_err = 0, max_g = 0;
    const double h = 1e-6;
    for (size_t i = 0; i < net.params.size(); ++i) {
        double p0 = net.params[i];
        net.params[i] = p0 + h;
        double lp = net.run(x, n, labels.data(), targets.data(), true, nullptr) / n;
        net.params[i] = p0 - h;
        double lm = net.run(x, n, labels.data(), targets.data(), true, nullptr) / n;
        net.params[i] = p0;
        double fd = (lp - lm) / (2 * h);
        max_err = std::max(max_err, std::fabs(fd - g[i]));
        max_g = std::max(max_g, std::fabs(g[i]));
    }
    char what[128];
    snprintf(what, sizeof what, "finite differences: %s (max |err|, max |grad|)", name);
    check(max_err <= 1e-6 * std::max(1.0, max_g) && max_g > 0, what, max_err, max_g);
}

int main() {
    using namespace ref;
    fd_net("relu/softmax sparse-CCE", {6, 7, 4}, {RELU, SOFTMAX}, {0, 0}, SPARSE_CCE, 1);
    fd_net("tanh+dropout/linear CCE", {5, 8, 3}, {TANH, LINEAR}, {0.3, 0}, CCE, 2);
    fd_net("sigmoid/sigmoid BCE", {4, 6, 3}, {SIGMOID, SIGMOID}, {0, 0}, BCE, 3);
    fd_net("gelu/softmax-hidden/linear MSE", {5, 6, 4, 3}, {GELU, SOFTMAX, LINEAR}, {0.2, 0.25, 0}, MSE, 4);
    fd_net("relu/tanh MSE", {3, 5, 2}, {RELU, TANH}, {0, 0}, MSE, 5);
    fd_net("linear/gelu MSE", {3, 4, 2}, {LINEAR, GELU}, {0, 0}, MSE, 6);
    fd_net("softmax output MSE", {4, 5, 3}, {TANH, SOFTMAX}, {0, 0}, MSE, 7);

    // Optimizers, first steps by hand.
    {
        vec p{1.0}, g{0.5}, s(3, 0.0);
        optimizer({ADAM, {0.9, 0.999, 1e-8, 0, 0}}, 0.1, 1, p, g, s);  // m^=g, v^=g^2: p -= lr * g/(|g|+eps)
        check(std::fabs(p[0] - (1.0 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-12, "Adam step 1", p[0], 0.9);
        vec q{1.0}, s2(3, 0.0);
        optimizer({SGD, {0.9, 0.0, 0.0, 0, 0}}, 0.1, 1, q, g, s2);   // buf = g
        optimizer({SGD, {0.9, 0.0, 0.0, 0, 0}}, 0.1, 2, q, g, s2);   // buf = 0.9*0.5+0.5 = 0.95
        check(std::fabs(q[0] - (1.0 - 0.05 - 0.095)) < 1e-12, "SGD momentum 2 steps", q[0], 0.855);
        vec r{1.0}, s3(3, 0.0);
        optimizer({SGD, {0.9, 0.0, 0.0, 1, 0}}, 0.1, 1, r, g, s3);   // nesterov: g + mu*buf = 0.5 + 0.45
        check(std::fabs(r[0] - (1.0 - 0.095)) < 1e-12, "SGD nesterov step 1", r[0], 0.905);
        vec w{2.0}, s4(3, 0.0);
        optimizer({ADAMW, {0.9, 0.999, 1e-8, 0.1, 0}}, 0.1, 1, w, g, s4);  // p *= 0.99 then -lr*~1
        check(std::fabs(w[0] - (2.0 * 0.99 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-12, "AdamW step 1", w[0], 1.88);
        vec m{1.0}, s5(3, 0.0);
        optimizer({RMSPROP, {0.99, 1e-8, 0, 0, 0}}, 0.01, 1, m, g, s5);   // v = 0.01*0.25
        check(std::fabs(m[0] - (1.0 - 0.01 * 0.5 / (std::sqrt(0.0025) + 1e-8))) < 1e-12, "RMSprop step 1", m[0], 0.9);
        vec c{1.0}, s6(3, 0.0);
        optimizer({RMSPROP, {0.99, 1e-8, 0, 0, 1}}, 0.01, 1, c, g, s6);  // centered: v - ga^2 = 0.0025 - 0.000025
        check(std::fabs(c[0] - (1.0 - 0.01 * 0.5 / (std::sqrt(0.0025 - 0.000025) + 1e-8))) < 1e-12, "RMSprop centered step 1", c[0], 0.9);
        vec gg{3.0, 4.0};
        double nrm = clip(gg, 1.0, 0.0);
        check(std::fabs(nrm - 5.0) < 1e-12 && std::fabs(gg[0] - 3.0 / (5.0 + 1e-6)) < 1e-12, "clip by norm", nrm, gg[0]);
    }
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
