// Reference workload driver for the GPU check: trains the 784-128-10 MLP (ReLU, softmax, sparse CCE, Adam
// lr 1e-3, batch 32) for E epochs on an MNIST-shaped data set (60000 x 784 uint8 training rows, 10000 test rows)
// with the Dense4J CUDA engine, data resident on the device, shuffled on the device each epoch, one
// d4j_cuda_net_train call per epoch (graph replay). Prints per-epoch loss/accuracy/time, the test accuracy and
// one "RESULT ..." line for scripts/gpu-check.sh.
//   train_cuda [--epochs 5] [--batch 32] [--precision fp32|tf32] [--variant auto|t128|t64|t32] [--data FILE]
//              [--save-data FILE]
// Without --data it makes a synthetic, learnable data set (class prototypes + noise, fixed seed); --save-data
// writes the data set it used so that the PyTorch comparison trains on exactly the same rows.
// File format: "D4JDATA1", int32 n_train, n_test, width, classes, then x_train u8, y_train int32, x_test u8,
// y_test int32.
#include "dense4j_cuda.h"
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

struct Data {
    int n_train = 60000, n_test = 10000, width = 784, classes = 10;
    std::vector<uint8_t> xtr, xte;
    std::vector<int32_t> ytr, yte;
};

static void synth(Data& d) {
    std::mt19937 rng(12345);
    std::vector<std::vector<float>> proto(d.classes, std::vector<float>(d.width));
    for (auto& p : proto)
        for (auto& v : p) v = (rng() % 100 < 25) ? 120.f + (float)(rng() % 136) : 0.f;
    std::normal_distribution<float> noise(0.f, 70.f);
    auto make = [&](int n, std::vector<uint8_t>& x, std::vector<int32_t>& y) {
        x.resize((size_t)n * d.width);
        y.resize(n);
        for (int r = 0; r < n; ++r) {
            int c = (int)(rng() % d.classes), o = (int)(rng() % d.classes);
            y[r] = c;
            float mix = 0.55f + 0.45f * (float)(rng() % 1000) / 1000.f;
            for (int i = 0; i < d.width; ++i) {
                float v = mix * proto[c][i] + (1 - mix) * proto[o][i] + noise(rng);
                x[(size_t)r * d.width + i] = (uint8_t)std::min(255.f, std::max(0.f, v));
            }
        }
    };
    make(d.n_train, d.xtr, d.ytr);
    make(d.n_test, d.xte, d.yte);
}

static bool load(Data& d, const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return false;
    char magic[8];
    int32_t h[4];
    bool ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "D4JDATA1", 8) && fread(h, 4, 4, f) == 4;
    if (ok) {
        d.n_train = h[0]; d.n_test = h[1]; d.width = h[2]; d.classes = h[3];
        d.xtr.resize((size_t)d.n_train * d.width); d.ytr.resize(d.n_train);
        d.xte.resize((size_t)d.n_test * d.width); d.yte.resize(d.n_test);
        ok = fread(d.xtr.data(), 1, d.xtr.size(), f) == d.xtr.size() && fread(d.ytr.data(), 4, d.n_train, f) == (size_t)d.n_train &&
             fread(d.xte.data(), 1, d.xte.size(), f) == d.xte.size() && fread(d.yte.data(), 4, d.n_test, f) == (size_t)d.n_test;
    }
    fclose(f);
    return ok;
}

static bool save(const Data& d, const char* path) {
    FILE* f = fopen(path, "wb");
    if (!f) return false;
    int32_t h[4] = {d.n_train, d.n_test, d.width, d.classes};
    bool ok = fwrite("D4JDATA1", 1, 8, f) == 8 && fwrite(h, 4, 4, f) == 4 && fwrite(d.xtr.data(), 1, d.xtr.size(), f) == d.xtr.size() &&
              fwrite(d.ytr.data(), 4, d.n_train, f) == (size_t)d.n_train && fwrite(d.xte.data(), 1, d.xte.size(), f) == d.xte.size() &&
              fwrite(d.yte.data(), 4, d.n_test, f) == (size_t)d.n_test;
    return fclose(f) == 0 && ok;
}

#define CHECK(call)                                                                                        \
    do {                                                                                                   \
        int rc_ = (call);                                                                                  \
        if (rc_) { fprintf(stderr, "%s failed (%d): %s\n", #call, rc_, d4j_cuda_last_error()); return 1; } \
    } while (0)

int main(int argc, char** argv) {
    int epochs = 5, batch = 32, precision = 0, variant = D4J_CUDA_GEMM_AUTO;
    const char* data_path = nullptr;
    const char* save_path = nullptr;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--epochs" && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (a == "--batch" && i + 1 < argc) batch = atoi(argv[++i]);
        else if (a == "--precision" && i + 1 < argc) precision = std::string(argv[++i]) == "tf32";
        else if (a == "--variant" && i + 1 < argc) {
            std::string v = argv[++i];
            if (v == "auto") variant = D4J_CUDA_GEMM_AUTO;
            else if (v == "t128") variant = D4J_CUDA_GEMM_TILE_L;
            else if (v == "t64") variant = D4J_CUDA_GEMM_TILE_M;
            else if (v == "t32") variant = D4J_CUDA_GEMM_TILE_S;
            else { fprintf(stderr, "unknown variant %s (auto, t128, t64, t32)\n", v.c_str()); return 2; }
        }
        else if (a == "--data" && i + 1 < argc) data_path = argv[++i];
        else if (a == "--save-data" && i + 1 < argc) save_path = argv[++i];
        else { fprintf(stderr, "unknown argument %s\n", a.c_str()); return 2; }
    }
    Data d;
    if (data_path) {
        if (!load(d, data_path)) { fprintf(stderr, "cannot read %s\n", data_path); return 1; }
    } else {
        synth(d);
    }
    if (save_path && !save(d, save_path)) { fprintf(stderr, "cannot write %s\n", save_path); return 1; }
    int count = 0;
    if (d4j_cuda_device_count(&count)) { printf("SKIPPED: %s\n", d4j_cuda_last_error()); return 77; }
    CHECK(d4j_cuda_set_precision(precision));
    CHECK(d4j_cuda_set_gemm_variant(variant));

    auto t_setup = std::chrono::steady_clock::now();
    uint8_t* xtr = (uint8_t*)d4j_cuda_malloc(d.xtr.size());
    uint8_t* xte = (uint8_t*)d4j_cuda_malloc(d.xte.size());
    int32_t* ytr = (int32_t*)d4j_cuda_malloc(d.ytr.size() * 4);
    int32_t* yte = (int32_t*)d4j_cuda_malloc(d.yte.size() * 4);
    int32_t* order = (int32_t*)d4j_cuda_malloc(d.ytr.size() * 4);
    if (!xtr || !xte || !ytr || !yte || !order) { fprintf(stderr, "malloc: %s\n", d4j_cuda_last_error()); return 1; }
    CHECK(d4j_cuda_memcpy_h2d(xtr, d.xtr.data(), d.xtr.size()));
    CHECK(d4j_cuda_memcpy_h2d(xte, d.xte.data(), d.xte.size()));
    CHECK(d4j_cuda_memcpy_h2d(ytr, d.ytr.data(), d.ytr.size() * 4));
    CHECK(d4j_cuda_memcpy_h2d(yte, d.yte.data(), d.yte.size() * 4));

    const int32_t sizes[3] = {d.width, 128, d.classes}, acts[2] = {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SOFTMAX};
    const float drop[2] = {0, 0}, hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    const int64_t P = d4j_cuda_param_count(2, sizes);
    // Glorot-uniform weights, zero biases (Keras defaults)
    std::vector<float> p0(P, 0.f);
    std::mt19937 rng(7);
    int64_t o = 0;
    for (int l = 0; l < 2; ++l) {
        float lim = std::sqrt(6.f / (sizes[l] + sizes[l + 1]));
        std::uniform_real_distribution<float> u(-lim, lim);
        for (int64_t i = 0; i < (int64_t)sizes[l] * sizes[l + 1]; ++i) p0[o + i] = u(rng);
        o += (int64_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    }
    float* params = (float*)d4j_cuda_malloc(P * 4);
    float* grads = (float*)d4j_cuda_malloc(P * 4);
    float* state = (float*)d4j_cuda_malloc(3 * P * 4);
    CHECK(d4j_cuda_memcpy_h2d(params, p0.data(), P * 4));
    CHECK(d4j_cuda_memset(state, 0, 3 * P * 4));
    d4j_cuda_net* net = d4j_cuda_net_create(2, sizes, acts, drop, D4J_CUDA_LOSS_SPARSE_CCE, std::max(batch, 1000), params,
                                            grads, D4J_CUDA_OPT_ADAM, hp, state, 0, 0);
    if (!net) { fprintf(stderr, "net_create: %s\n", d4j_cuda_last_error()); return 1; }
    CHECK(d4j_cuda_synchronize());
    double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();

    const int steps = (d.n_train + batch - 1) / batch;
    std::vector<float> lrs(steps, 1e-3f);
    int64_t step = 0;
    double total = 0;
    for (int e = 0; e < epochs; ++e) {
        auto t0 = std::chrono::steady_clock::now();
        CHECK(d4j_cuda_permutation(order, d.n_train, 1000 + e));
        double stats[3] = {0, 0, 0};
        CHECK(d4j_cuda_net_train(net, xtr, D4J_CUDA_DATA_U8, 1.f / 255.f, ytr, nullptr, order, d.n_train, 0, batch, steps,
                                 lrs.data(), &step, 99, stats));
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        total += s;
        printf("epoch %d: loss %.4f accuracy %.4f  %.3f s (%.2f us/step)\n", e + 1, stats[0] / stats[2],
               stats[1] / stats[2], s, 1e6 * s / steps);
    }
    double st[3] = {0, 0, 0};
    auto t0 = std::chrono::steady_clock::now();
    CHECK(d4j_cuda_net_forward(net, xte, D4J_CUDA_DATA_U8, 1.f / 255.f, d.n_test, nullptr, yte, nullptr, st));
    double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // one-row inference latency (device input, host round trip of the result)
    float* out = (float*)d4j_cuda_malloc(d.classes * 4);
    float host_out[64];
    for (int i = 0; i < 10; ++i) d4j_cuda_net_forward(net, xte, D4J_CUDA_DATA_U8, 1.f / 255.f, 1, out, nullptr, nullptr, nullptr);
    auto t1 = std::chrono::steady_clock::now();
    const int reps = 200;
    for (int i = 0; i < reps; ++i) {
        CHECK(d4j_cuda_net_forward(net, xte, D4J_CUDA_DATA_U8, 1.f / 255.f, 1, out, nullptr, nullptr, nullptr));
        CHECK(d4j_cuda_memcpy_d2h(host_out, out, d.classes * 4));
    }
    double one_row_us = 1e6 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() / reps;
    printf("test: loss %.4f accuracy %.4f (%.3f s); setup %.3f s; one-row inference %.1f us\n", st[0] / st[2],
           st[1] / st[2], eval_s, setup_s, one_row_us);
    printf("RESULT workload=dense4j_cuda precision=%s epochs=%d train_s=%.4f test_acc=%.4f one_row_us=%.1f\n",
           precision ? "tf32" : "fp32", epochs, total, st[1] / st[2], one_row_us);
    d4j_cuda_net_destroy(net);
    return 0;
}
