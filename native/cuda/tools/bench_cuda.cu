// Benchmark of the Dense4J CUDA kernels (not a test): each GEMM variant and precision at the shapes that
// matter (32x784x128 and 32x128x10: the reference network's batch; 256x1024x1024; 4096^3) in the three layouts
// the engine uses, plus the fused loss, the optimizer and a whole training step. Timed with CUDA events: after
// warm-up, each sample times a loop of launches sized to last >= ~2 ms, and the median of the samples is
// reported in microseconds per call and GFLOP/s.
// Output: a human-readable table and one "RESULT kernel=... shape=... variant=... us=... gflops=..." line per
// measurement (parsed by scripts/gpu-check.sh). Options: --quick (fewer samples), --no-simple (skip the
// simple kernel at 4096^3).
#include "dense4j_cuda.h"
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

static int g_samples = 15;

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        if (rc_) { fprintf(stderr, "%s:%d %s failed: %s\n", __FILE__, __LINE__, #call, d4j_cuda_last_error()); exit(1); } \
    } while (0)

static float* dev_random(size_t n, float sd = 1.f) {
    std::vector<float> h(n);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0, sd);
    for (auto& v : h) v = d(rng);
    float* p = (float*)d4j_cuda_malloc(n * sizeof(float));
    if (!p) { fprintf(stderr, "malloc: %s\n", d4j_cuda_last_error()); exit(1); }
    CHECK(d4j_cuda_memcpy_h2d(p, h.data(), n * sizeof(float)));
    return p;
}

// Median time of one call of f in microseconds.
static double time_us(const std::function<void()>& f) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; ++i) f();
    cudaDeviceSynchronize();
    // calibrate the loop length
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    int reps = std::max(1, std::min(2000, (int)(2.0 / std::max(ms, 1e-4f))));
    std::vector<double> samples;
    for (int s = 0; s < g_samples; ++s) {
        cudaEventRecord(a);
        for (int i = 0; i < reps; ++i) f();
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        cudaEventElapsedTime(&ms, a, b);
        samples.push_back(1000.0 * ms / reps);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(samples.begin(), samples.end());
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) { fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(e)); exit(1); }
    return samples[samples.size() / 2];
}

static void report(const char* kernel, const std::string& shape, const char* variant, double us, double flops) {
    double gf = flops > 0 ? flops / us / 1e3 : 0;
    printf("%-22s %-18s %-14s %12.2f us %10.1f GFLOP/s\n", kernel, shape.c_str(), variant, us, gf);
    printf("RESULT kernel=%s shape=%s variant=%s us=%.3f gflops=%.1f\n", kernel, shape.c_str(), variant, us, gf);
    fflush(stdout);
}

int main(int argc, char** argv) {
    bool skip_simple_big = false;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick")) g_samples = 5;
        if (!strcmp(argv[i], "--no-simple")) skip_simple_big = true;
    }
    int count = 0;
    if (d4j_cuda_device_count(&count)) { printf("SKIPPED: %s\n", d4j_cuda_last_error()); return 77; }
    char name[256];
    int64_t info[6];
    CHECK(d4j_cuda_device_info(0, name, sizeof name, info));
    printf("device: %s, %lld SMs, compute capability %lld.%lld\n", name, (long long)info[4], (long long)info[2],
           (long long)info[3]);
    printf("%-22s %-18s %-14s %15s %18s\n", "kernel", "shape MxNxK", "variant", "time", "throughput");

    struct Shape { int M, N, K; };
    const Shape shapes[] = {{32, 128, 784}, {32, 10, 128}, {256, 1024, 1024}, {4096, 4096, 4096}};
    struct Var { int variant, precision; const char* name; };
    const Var vars[] = {{D4J_CUDA_GEMM_SIMPLE, 0, "simple"},   {D4J_CUDA_GEMM_AUTO, 0, "auto-fp32"},
                        {D4J_CUDA_GEMM_TILE_L, 0, "t128-fp32"}, {D4J_CUDA_GEMM_TILE_M, 0, "t64-fp32"},
                        {D4J_CUDA_GEMM_TILE_S, 0, "t32-fp32"},  {D4J_CUDA_GEMM_AUTO, 1, "auto-tf32"},
                        {D4J_CUDA_GEMM_TILE_L, 1, "t128-tf32"}};
    for (const Shape& s : shapes) {
        const bool big = s.M >= 4096;
        float* A = dev_random((size_t)s.M * s.K);
        float* B = dev_random((size_t)s.K * s.N);
        float* C = dev_random((size_t)s.M * s.N);
        // NN: forward; NT and TN: the backward products, for the training shapes
        for (int layout = 0; layout < 3; ++layout) {
            if (layout > 0 && big) continue;
            const bool ta = layout == 2, tb = layout == 1;
            char shape[64];
            snprintf(shape, sizeof shape, "%dx%dx%d", s.M, s.N, s.K);
            const char* kname = layout == 0 ? "gemm_nn" : layout == 1 ? "gemm_nt" : "gemm_tn";
            for (const Var& v : vars) {
                if (big && v.variant == D4J_CUDA_GEMM_SIMPLE && skip_simple_big) continue;
                CHECK(d4j_cuda_set_gemm_variant(v.variant));
                CHECK(d4j_cuda_set_precision(v.precision));
                const int lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
                double us = time_us([&] { d4j_cuda_gemm(ta, tb, s.M, s.N, s.K, A, lda, B, ldb, C, s.N); });
                report(kname, shape, v.name, us, 2.0 * s.M * s.N * s.K);
            }
        }
        CHECK(d4j_cuda_set_gemm_variant(D4J_CUDA_GEMM_AUTO));
        CHECK(d4j_cuda_set_precision(0));
        if (!big) {
            // forward with the fused bias + ReLU epilogue
            float* bias = dev_random(s.N);
            char shape[64];
            snprintf(shape, sizeof shape, "%dx%dx%d", s.M, s.N, s.K);
            double us = time_us([&] { d4j_cuda_dense_forward(A, B, bias, nullptr, C, s.M, s.K, s.N, D4J_CUDA_ACT_RELU); });
            report("dense_fwd_relu", shape, "auto-fp32", us, 2.0 * s.M * s.N * s.K);
            d4j_cuda_free(bias);
        }
        d4j_cuda_free(A);
        d4j_cuda_free(B);
        d4j_cuda_free(C);
    }

    // fused softmax + cross-entropy (includes the host round trip of the single-op API)
    {
        const int n = 32, k = 10;
        float* logits = dev_random((size_t)n * k);
        float* grad = dev_random((size_t)n * k);
        std::vector<int32_t> lab(n, 3);
        int32_t* dl = (int32_t*)d4j_cuda_malloc(n * 4);
        CHECK(d4j_cuda_memcpy_h2d(dl, lab.data(), n * 4));
        double sum;
        double us = time_us([&] { d4j_cuda_loss(0, logits, dl, nullptr, grad, nullptr, n, k, 1.f, &sum, nullptr); });
        report("softmax_xent+sync", "32x10", "single-op", us, 0);
        d4j_cuda_free(logits); d4j_cuda_free(grad); d4j_cuda_free(dl);
    }
    // Adam over the reference network's 101,770 parameters
    {
        const int64_t n = 101770;
        float* p = dev_random(n);
        float* g = dev_random(n, 0.01f);
        float* st = (float*)d4j_cuda_malloc(3 * n * 4);
        CHECK(d4j_cuda_memset(st, 0, 3 * n * 4));
        const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
        int64_t t = 1;
        double us = time_us([&] { d4j_cuda_optimizer_step(1, hp, 1e-3f, t++, p, g, st, n); });
        report("adam", "101770", "single-op", us, 0);
        d4j_cuda_free(p); d4j_cuda_free(g); d4j_cuda_free(st);
    }
    // a whole training step of 784-128-10 (graph replay), per step, FP32 and TF32
    for (int prec = 0; prec < 2; ++prec) {
        CHECK(d4j_cuda_set_precision(prec));
        const int N = 60000, batch = 32, steps = N / batch;
        std::vector<uint8_t> x((size_t)N * 784);
        std::vector<int32_t> y(N);
        std::mt19937 rng(5);
        for (auto& v : x) v = (uint8_t)(rng() & 255);
        for (auto& v : y) v = (int32_t)(rng() % 10);
        uint8_t* dx = (uint8_t*)d4j_cuda_malloc(x.size());
        int32_t* dy = (int32_t*)d4j_cuda_malloc(N * 4);
        CHECK(d4j_cuda_memcpy_h2d(dx, x.data(), x.size()));
        CHECK(d4j_cuda_memcpy_h2d(dy, y.data(), N * 4));
        const int32_t sizes[3] = {784, 128, 10}, acts[2] = {1, 5};
        const float drop[2] = {0, 0}, hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
        int64_t P = d4j_cuda_param_count(2, sizes);
        float* params = dev_random(P, 0.05f);
        float* grads = (float*)d4j_cuda_malloc(P * 4);
        float* st = (float*)d4j_cuda_malloc(3 * P * 4);
        CHECK(d4j_cuda_memset(st, 0, 3 * P * 4));
        d4j_cuda_net* net = d4j_cuda_net_create(2, sizes, acts, drop, 0, batch, params, grads, 1, hp, st, 0, 0);
        if (!net) { fprintf(stderr, "net_create: %s\n", d4j_cuda_last_error()); return 1; }
        std::vector<float> lrs(steps, 1e-3f);
        int64_t step = 0;
        double stats[3] = {0, 0, 0};
        CHECK(d4j_cuda_net_train(net, dx, D4J_CUDA_DATA_U8, 1.f / 255, dy, nullptr, nullptr, N, 0, batch, 64, lrs.data(),
                                 &step, 1, stats));  // capture + warm-up
        cudaEvent_t a, b;
        cudaEventCreate(&a);
        cudaEventCreate(&b);
        cudaEventRecord(a);
        CHECK(d4j_cuda_net_train(net, dx, D4J_CUDA_DATA_U8, 1.f / 255, dy, nullptr, nullptr, N, 0, batch, steps,
                                 lrs.data(), &step, 1, stats));
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        report("train_step_784_128_10", "batch32", prec ? "graph-tf32" : "graph-fp32", 1000.0 * ms / steps,
               13.0e6 / 1.0);
        d4j_cuda_net_destroy(net);
        d4j_cuda_free(params); d4j_cuda_free(grads); d4j_cuda_free(st); d4j_cuda_free(dx); d4j_cuda_free(dy);
    }
    CHECK(d4j_cuda_set_precision(0));
    return 0;
}
