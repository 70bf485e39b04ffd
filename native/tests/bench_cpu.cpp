// Benchmark of the CPU kernels (not a ctest): every op at the reference shapes (batch 32, 784-128-10),
// compared with the bare OpenBLAS sgemm calls at the same shapes, and a full epoch of d4j_net_train
// (60000 x 784 synthetic rows with learnable labels, batch 32 = 1875 steps, Adam lr 1e-3) with 1 and 2
// OpenBLAS threads. Medians.
// Usage: bench_cpu [epochs per thread count, default 5] [threads: run only the epochs with this count]
#include <cblas.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <vector>
#include "dense4j.h"

using Clock = std::chrono::steady_clock;

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// median over `reps` repetitions of the mean time of `iters` calls, in microseconds
static double time_us(const std::function<void()>& f, int iters = 200, int reps = 15) {
    for (int i = 0; i < iters / 4 + 1; i++) f();  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
        const auto a = Clock::now();
        for (int i = 0; i < iters; i++) f();
        t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count() / iters);
    }
    return median(t);
}

static std::vector<float> rnd(size_t n, std::mt19937& g, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& e : v) e = d(g);
    return v;
}

static void ops(int threads) {
    d4j_set_num_threads(threads);
    std::printf("\n-- single ops, %d OpenBLAS thread(s): median us per call --\n", threads);
    std::mt19937 g(1);
    const int n = 32;
    auto x = rnd(n * 784, g, 0, 1), w0 = rnd(784 * 128, g, -0.05f, 0.05f), b0 = rnd(128, g);
    auto w1 = rnd(128 * 10, g, -0.2f, 0.2f), b1 = rnd(10, g);
    std::vector<float> z0(n * 128), y0(n * 128), z1(n * 10), y1(n * 10), dz0 = rnd(n * 128, g), dz1 = rnd(n * 10, g);
    std::vector<float> dw0(784 * 128), db0(128), dw1(128 * 10), db1(10), dx1(n * 128), dx0(n * 784);
    std::vector<int32_t> labels(n);
    for (auto& l : labels) l = g() % 10;
    auto row = [](const char* name, double us, double ref = -1) {
        if (ref > 0) std::printf("  %-46s %9.2f us   (bare sgemm %7.2f us, overhead %+5.1f%%)\n", name, us, ref,
                                 100 * (us / ref - 1));
        else std::printf("  %-46s %9.2f us\n", name, us);
    };
    const double s0 = time_us([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, 128, 784, 1, x.data(), 784, w0.data(), 128, 0,
                    y0.data(), 128);
    });
    row("dense_forward 32x784x128 relu", time_us([&] {
            d4j_dense_forward(x.data(), w0.data(), b0.data(), nullptr, y0.data(), n, 784, 128, D4J_ACT_RELU);
        }), s0);
    row("dense_forward 32x784x128 gelu (keeps z)", time_us([&] {
            d4j_dense_forward(x.data(), w0.data(), b0.data(), z0.data(), y0.data(), n, 784, 128, D4J_ACT_GELU);
        }), s0);
    const double s1 = time_us([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, 10, 128, 1, y0.data(), 128, w1.data(), 10, 0,
                    z1.data(), 10);
    });
    row("dense_forward 32x128x10 softmax", time_us([&] {
            d4j_dense_forward(y0.data(), w1.data(), b1.data(), z1.data(), y1.data(), n, 128, 10, D4J_ACT_SOFTMAX);
        }), s1);
    row("dense_forward 32x128x10 linear (logits)", time_us([&] {
            d4j_dense_forward(y0.data(), w1.data(), b1.data(), nullptr, z1.data(), n, 128, 10, D4J_ACT_LINEAR);
        }), s1);
    const double sb0 = time_us([&] {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 784, 128, n, 1, x.data(), 784, dz0.data(), 128, 0,
                    dw0.data(), 128);
    });
    row("dense_backward 32x784x128 (dW, db; no dx)", time_us([&] {
            d4j_dense_backward(x.data(), w0.data(), dz0.data(), dw0.data(), db0.data(), nullptr, n, 784, 128);
        }), sb0);
    const double sdx0 = time_us([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, 784, 128, 1, dz0.data(), 128, w0.data(), 128, 0,
                    dx0.data(), 784);
    });
    row("  (dx GEMM 32x128 . 128x784, not used by layer 0)", sdx0);
    const double sb1 = time_us([&] {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 128, 10, n, 1, y0.data(), 128, dz1.data(), 10, 0,
                    dw1.data(), 10);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, 128, 10, 1, dz1.data(), 10, w1.data(), 10, 0,
                    dx1.data(), 128);
    });
    row("dense_backward 32x128x10 (dW, db, dx)", time_us([&] {
            d4j_dense_backward(y0.data(), w1.data(), dz1.data(), dw1.data(), db1.data(), dx1.data(), n, 128, 10);
        }), sb1);
    row("activation_backward relu 32x128 (in place)", time_us([&] {
            d4j_activation_backward(nullptr, y0.data(), nullptr, dx1.data(), dx1.data(), n, 128, D4J_ACT_RELU);
        }, 2000));
    row("activation_backward gelu 32x128", time_us([&] {
            d4j_activation_backward(z0.data(), y0.data(), nullptr, dz0.data(), dx1.data(), n, 128, D4J_ACT_GELU);
        }, 500));
    std::vector<float> grad(n * 10);
    int64_t correct;
    row("loss sparse CCE 32x10 (loss+grad+correct)", time_us([&] {
            d4j_loss(D4J_LOSS_SPARSE_CCE, z1.data(), labels.data(), nullptr, grad.data(), nullptr, n, 10, 1,
                     &correct);
        }, 2000));
    const int64_t np = 784 * 128 + 128 + 128 * 10 + 10;
    auto params = rnd(np, g), grads = rnd(np, g, -0.01f, 0.01f);
    std::vector<float> state(3 * np, 0.0f);
    row("clip_gradients n=101770 (norm 1.0)", time_us([&] { d4j_clip_gradients(grads.data(), np, 1e9f, 0); }));
    const float adam[5] = {0.9f, 0.999f, 1e-7f, 0, 0}, sgd[5] = {0.9f, 0, 0, 0, 0}, rms[5] = {0.9f, 1e-7f, 0, 0, 0};
    int64_t t = 1;
    row("optimizer_step Adam n=101770", time_us([&] {
            d4j_optimizer_step(D4J_OPT_ADAM, adam, 1e-3f, ++t, params.data(), grads.data(), state.data(), np);
        }));
    row("optimizer_step SGD momentum n=101770", time_us([&] {
            d4j_optimizer_step(D4J_OPT_SGD, sgd, 1e-3f, ++t, params.data(), grads.data(), state.data(), np);
        }));
    row("optimizer_step RMSprop n=101770", time_us([&] {
            d4j_optimizer_step(D4J_OPT_RMSPROP, rms, 1e-3f, ++t, params.data(), grads.data(), state.data(), np);
        }));
}

static void epoch(int threads, int epochs) {
    d4j_set_num_threads(threads);
    const int N = 60000, in = 784, k = 10, batch = 32;
    static std::vector<float> x;
    static std::vector<int32_t> labels;
    std::mt19937 g(7);
    if (x.empty()) {
        // learnable synthetic data: the label is the argmax of a fixed random linear map of the row
        x = rnd((size_t)N * in, g, 0, 1);
        auto proj = rnd((size_t)in * k, g);
        std::vector<float> s((size_t)N * k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, k, in, 1, x.data(), in, proj.data(), k, 0, s.data(), k);
        labels.resize(N);
        for (int r = 0; r < N; r++) labels[r] = (int32_t)(std::max_element(&s[(size_t)r * k], &s[(size_t)r * k] + k) - &s[(size_t)r * k]);
    }
    std::vector<int32_t> sizes = {in, 128, k}, acts = {D4J_ACT_RELU, D4J_ACT_SOFTMAX};
    const int64_t np = d4j_param_count(2, sizes.data());
    std::vector<float> params = rnd(np, g, -0.05f, 0.05f), grads(np), state(3 * np, 0.0f);
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    d4j_net* net = d4j_net_create(2, sizes.data(), acts.data(), nullptr, D4J_LOSS_SPARSE_CCE, batch, params.data(),
                                  grads.data(), D4J_OPT_ADAM, hp, state.data(), 0, 0);
    std::vector<int32_t> order(N);
    std::iota(order.begin(), order.end(), 0);
    const int nb = (N + batch - 1) / batch;
    std::vector<float> lrs(nb, 1e-3f);
    int64_t step = 0;
    std::vector<double> times;
    for (int e = 0; e <= epochs; e++) {  // epoch 0 is a warm-up
        std::shuffle(order.begin(), order.end(), g);
        double stats[3] = {0, 0, 0};
        const auto a = Clock::now();
        const int rc = d4j_net_train(net, x.data(), labels.data(), nullptr, order.data(), N, 0, batch, nb, lrs.data(),
                                     &step, 1, stats);
        const double s = std::chrono::duration<double>(Clock::now() - a).count();
        if (rc != D4J_OK) { std::printf("train failed rc=%d\n", rc); break; }
        if (e > 0) times.push_back(s);
        std::printf("  %d thread(s) epoch %d: %.3f s (%.1f us/step) loss %.4f acc %.4f\n", threads, e, s,
                    1e6 * s / nb, stats[0] / stats[2], stats[1] / stats[2]);
    }
    std::printf("== epoch 60000x784, 784-128(relu)-10(softmax), Adam, batch 32 (%d steps), %d thread(s): median "
                "%.3f s = %.1f us/step\n", nb, threads, median(times), 1e6 * median(times) / nb);
    d4j_net_destroy(net);
}

int main(int argc, char** argv) {
    const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
    std::printf("OpenBLAS: %s\n", openblas_get_config());
    if (argc > 2) {  // epochs only, one thread count (for profiling)
        epoch(std::atoi(argv[2]), epochs);
        return 0;
    }
    ops(1);
    ops(2);
    std::printf("\n-- full epochs of d4j_net_train --\n");
    epoch(1, epochs);
    epoch(2, epochs);
    return 0;
}
