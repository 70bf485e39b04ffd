// The CUDA kernel test program: every CUDA kernel of libdense4j_cuda against the float64 reference
// (native/reference/, the one the CPU tests use too) on random inputs of awkward sizes (1 to 1000, leading
// dimensions that are not multiples of 4, operands 4 bytes off a 16-byte boundary, split-K up to 16 ways, more than
// 65535 row tiles), outputs poisoned (NaN) before each kernel runs, with the tolerances of shared/docs/kernels.md;
// then whole training steps and many steps of loss of several networks, and bad input (labels out of range)
// reported as such. One file per op family beside this one: gemm_test.cu, dense_test.cu, loss_test.cu,
// optimizer_test.cu, data_test.cu, net_test.cu; their shared helpers in cuda_test.h; main here.
// Without a CUDA device or driver it prints why and exits 77, which ctest reports as skipped (never passed); with
// D4J_REQUIRE_GPU=1 (scripts/gpu-check.sh on the GPU machine) a missing device is a failure (exit 1).
// `cuda_kernels_test --probe` only reports the device (exit 0) or why there is none (exit 77).
// The same files, compiled as C++ over the CPU execution harness (D4J_CUDA_EMULATION, cuda/emu/), run as
// cuda_kernels_emu_test in every build: an emulation profile of sizes that runs in about a minute on one core,
// plus checks only an emulator can make (injected CUDA failures, the harness's own problem reports).
// Environment: D4J_TEST_SEED fixes the random seed (printed at start); D4J_TEST_QUICK=1 runs a short subset
// (used under compute-sanitizer).
#include "cuda_test.h"
#include <chrono>

#ifdef D4J_CUDA_EMULATION
// Only an emulator can make the CUDA runtime fail on purpose.
static void test_emulated_failures() {
    // Error classification: only a missing (or unusable) driver or device is "no device".
    struct Case { cudaError_t e; int want; };
    const Case cases[] = {{cudaErrorInsufficientDriver, D4J_CUDA_ERR_NO_DEVICE}, {cudaErrorNoDevice, D4J_CUDA_ERR_NO_DEVICE},
                          {cudaErrorStubLibrary, D4J_CUDA_ERR_NO_DEVICE}, {cudaErrorDevicesUnavailable, D4J_CUDA_ERR_NO_DEVICE},
                          {cudaErrorInitializationError, D4J_CUDA_ERR_CUDA}, {cudaErrorInvalidDevice, D4J_CUDA_ERR_CUDA},
                          {cudaErrorNotSupported, D4J_CUDA_ERR_CUDA}};
    for (const Case& c : cases) {
        int count = -1;
        d4j_emu_fail_next("cudaGetDeviceCount", c.e);
        int rc = d4j_cuda_device_count(&count);
        std::string msg = d4j_cuda_last_error();
        expect(rc == c.want && count == 0 && msg.find(cudaGetErrorName(c.e)) != std::string::npos,
               std::string("device_count with ") + cudaGetErrorName(c.e) + " -> " + std::to_string(rc) + ": " + msg);
        d4j_emu_fail_next("cudaMalloc", c.e);
        void* p = d4j_cuda_malloc(64);
        msg = d4j_cuda_last_error();
        const bool said_no_device = msg.find("no CUDA device") != std::string::npos;
        expect(!p && said_no_device == (c.want == D4J_CUDA_ERR_NO_DEVICE),
               std::string("malloc with ") + cudaGetErrorName(c.e) + ": " + msg);
    }
    d4j_emu_fail_next("cudaMalloc", cudaErrorMemoryAllocation);
    expect(!d4j_cuda_malloc(64) && std::string(d4j_cuda_last_error()).find("out of device memory") != std::string::npos,
           std::string("malloc out of memory: ") + d4j_cuda_last_error());

    // A failed capture or graph launch returns after the stream is idle: the next call clears and refills the
    // pinned state buffer while no copy from it is in flight (else the harness reports a problem).
    NetSpec spec{"capture failure", {12, 9, 4}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_SOFTMAX}, {0, 0}, D4J_CUDA_LOSS_SPARSE_CCE,
                 D4J_CUDA_OPT_SGD, {0, 0, 0, 0, 0}, 0, 0, 8, 2, DATA_F32, 1e-2};
    auto p0 = randn(d4j_cuda_param_count(2, std::vector<int32_t>{12, 9, 4}.data()), 0.3);
    GpuNet A(spec, p0, 8);
    if (!A.net) return;
    const int rows = 16;
    Dev<float> dx(randn((size_t)rows * 12));
    std::vector<int32_t> lab(rows);
    for (auto& l : lab) l = (int)(g_rng() % 4);
    Dev<int32_t> dlab(lab);
    std::vector<float> lrs(2, 1e-2f);
    const int before = d4j_emu_problems();
    int64_t step = 0;
    uint64_t seed = 1;  // a new seed each call: the pinned state buffer then changes between calls
    for (const char* api : {"cudaStreamBeginCapture", "cudaGraphInstantiate", "cudaGraphLaunch"}) {
        d4j_emu_fail_next(api, cudaErrorUnknown);
        int rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, nullptr, rows, 0, 8, 2,
                                    lrs.data(), &step, seed++, nullptr);
        expect(rc == D4J_CUDA_ERR_CUDA && step == 0,
               std::string("train with ") + api + " failing: CUDA error reported: " + d4j_cuda_last_error());
    }
    int rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, nullptr, rows, 0, 8, 2,
                                lrs.data(), &step, seed, nullptr);
    expect(rc == D4J_CUDA_OK && step == 2 && d4j_emu_problems() == before,
           "train after failed captures and launches: 2 steps, no copy raced the host");
}
#endif

int main(int argc, char** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0);
    const bool probe = argc > 1 && !strcmp(argv[1], "--probe");
    const bool require = getenv("D4J_REQUIRE_GPU") && atoi(getenv("D4J_REQUIRE_GPU")) != 0;
    int count = 0;
    int rc = d4j_cuda_device_count(&count);
    if (rc != D4J_CUDA_OK) {
        printf("%s: %s\n", require ? "FAILED (D4J_REQUIRE_GPU=1): no usable GPU" : "SKIPPED", d4j_cuda_last_error());
        return require ? 1 : 77;
    }
    char name[256];
    int64_t info[6];
    API(d4j_cuda_device_info(0, name, sizeof name, info));
    printf("device 0: %s, %.1f GiB (%.1f free), compute capability %lld.%lld, %lld SMs, driver %lld\n", name,
           info[0] / 1073741824.0, info[1] / 1073741824.0, (long long)info[2], (long long)info[3], (long long)info[4],
           (long long)info[5]);
    if (probe) return g_fail ? 1 : 0;
    const char* seed_env = getenv("D4J_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, nullptr, 10) : (uint64_t)std::random_device{}();
    printf("random seed %llu (set D4J_TEST_SEED to repeat)\n", (unsigned long long)seed);
    g_rng.seed(seed);
    g_quick = getenv("D4J_TEST_QUICK") && atoi(getenv("D4J_TEST_QUICK")) != 0;
    auto t0 = std::chrono::steady_clock::now();

    test_gemm();
    test_dense();
    test_losses();
    test_optimizers();
    test_data();
    std::vector<NetSpec> nets = {
        {"mlp 784-128-10 relu/softmax sparse-CCE adam", {784, 128, 10}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SOFTMAX},
         {0, 0}, D4J_CUDA_LOSS_SPARSE_CCE, D4J_CUDA_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 32, 100, DATA_U8, 1e-3},
        {"mlp 37-64-33-5 gelu+drop/tanh+drop/linear MSE sgd-nesterov clip", {37, 64, 33, 5},
         {D4J_CUDA_ACT_GELU, D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_LINEAR}, {0.2f, 0.1f, 0}, D4J_CUDA_LOSS_MSE, D4J_CUDA_OPT_SGD,
         {0.9f, 0, 1e-3f, 1, 0}, 1.0f, 0.5f, 31, 20, DATA_HALF, 1e-2},
        {"mlp 20-16-3 sigmoid/sigmoid BCE rmsprop-centered", {20, 16, 3}, {D4J_CUDA_ACT_SIGMOID, D4J_CUDA_ACT_SIGMOID},
         {0, 0}, D4J_CUDA_LOSS_BCE, D4J_CUDA_OPT_RMSPROP, {0.9f, 1e-7f, 1e-3f, 0.5f, 1}, 0, 0, 33, 20, DATA_HALF, 1e-3},
        {"mlp 12-9-4 softmax+drop/linear CCE adamw-amsgrad", {12, 9, 4}, {D4J_CUDA_ACT_SOFTMAX, D4J_CUDA_ACT_LINEAR},
         {0.3f, 0}, D4J_CUDA_LOSS_CCE, D4J_CUDA_OPT_ADAMW, {0.9f, 0.99f, 1e-8f, 1e-2f, 1}, 0, 0, 16, 20, DATA_HALF, 1e-2},
        {"mlp 1-127-1 relu/sigmoid-output MSE adam", {1, 127, 1}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SIGMOID},
         {0, 0}, D4J_CUDA_LOSS_MSE, D4J_CUDA_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 1, 10, DATA_HALF, 1e-3},
        {"mlp 37-33-6 tanh/softmax-output MSE adam, f32 data", {37, 33, 6}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_SOFTMAX},
         {0, 0}, D4J_CUDA_LOSS_MSE, D4J_CUDA_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 29, 12, DATA_F32, 1e-2},
        {"mlp 9-17-4 relu/gelu-output MSE sgd, f32 data", {9, 17, 4}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_GELU},
         {0, 0}, D4J_CUDA_LOSS_MSE, D4J_CUDA_OPT_SGD, {0.5f, 0, 0, 0, 0}, 0, 0, 13, 12, DATA_F32, 1e-2},
        {"mlp 20-16-3 tanh/linear-output BCE adam", {20, 16, 3}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_LINEAR},
         {0, 0}, D4J_CUDA_LOSS_BCE, D4J_CUDA_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 17, 12, DATA_F32, 1e-2},
    };
    if (g_quick) { nets.resize(1); nets[0].steps = 9; }
    for (const auto& s : nets) test_net(s);
    test_nonfinite();
    test_bad_labels();
#ifdef D4J_CUDA_EMULATION
    test_emulated_failures();
    expect(d4j_emu_problems() == 0, "the CPU execution harness found no problem (" +
                                        std::to_string(d4j_emu_problems()) + " reported above)");
#endif

    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%s: %d of %d checks failed (%.1f s)\n", g_fail ? "FAILED" : "PASSED", g_fail, g_checks, secs);
    return g_fail ? 1 : 0;
}
