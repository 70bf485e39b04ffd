// Benchmark of the CPU engine (not a ctest), every figure issue 11 asks for from the native side, medians of
// repeated runs, with the machine state printed next to them:
//  1. peak: OpenBLAS sgemm 2048^3 at 1 and 2 threads (the "measured sgemm peak" the floors are computed from),
//     and our own forward kernel on a large 64-row product;
//  2. single ops at the reference shapes (batch 32, 784-128-10) next to a bare OpenBLAS sgemm of the same shape;
//  3. training epochs (60000 synthetic rows, learnable labels, Adam 1e-3): the reference network at batch 32
//     and 256, and 784-1024-1024-10 at batch 32 and 256, at each thread count: seconds per epoch, GFLOP/s,
//     % of the sgemm peak at the same thread count, the floor (the epoch's FLOPs at that peak), the share of
//     each phase of the step (measured inside the real step, d4j_net_phase_seconds) and the pool's counters;
//  4. inference with the reference network: one row (p50, p99), 32 and 256 rows.
//  5. no collapse: the reference network at 1, 2 and 4 threads, interleaved, without and with another
//     process spinning on a core: medians and the ratio to 1 thread (goal: never above 1.2).
//  6. (--only ref) the reference network alone at the given thread counts, interleaved, --rounds N rounds of one
//     epoch each: the 2-thread speed-up, side by side (what the no-collapse section does without a busy process),
//     with the core-to-core round trip read before each run (core_to_core_ns: the VM's placement of its vCPUs);
//     --only probe prints that round trip alone.
// Usage: bench_cpu [--threads 1,2] [--epochs N] [--rounds N] [--quick] [--only peak|ops|train|collapse|infer|ref|probe]
// D4J_BENCH_IDX=<dir> trains sections 3, 5 and 6 on real images instead of the synthetic rows: <dir> holds the
// uncompressed train-images-idx3-ubyte and train-labels-idx1-ubyte (e.g. Fashion-MNIST, `zcat` of Debian's .gz),
// pixels / 255 as the Java loader gives them (real images have zeros in runs, random rows have none).
// The kernel variant is the one d4j chose (or D4J_CPU_ISA); OpenBLAS's is whatever OPENBLAS_CORETYPE says.
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <cmath>
#include <vector>
#include "dense4j.h"

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// CPU time of the whole process (every thread of ours; a forked busy process is not included): on a machine
// shared with other work, wall time depends on the share the scheduler gives us, CPU time on what we burn.
static double process_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static std::string loadavg() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

static std::string cpuinfo(const char* key) {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(key, 0) == 0) {
            const size_t c = line.find(':');
            return c == std::string::npos ? "" : line.substr(c + 2);
        }
    return "?";
}

static const char* isa_name(int isa) { return isa == 2 ? "avx512" : isa == 1 ? "avx2" : "portable"; }

// median over `reps` repetitions of the mean time of `iters` calls, in microseconds
static double time_us(const std::function<void()>& f, int iters, int reps = 11) {
    for (int i = 0; i < iters / 4 + 1; i++) f();  // warm-up
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
        const auto a = Clock::now();
        for (int i = 0; i < iters; i++) f();
        t.push_back(1e6 * seconds_since(a) / iters);
    }
    return median(t);
}

static std::vector<float> rnd(size_t n, std::mt19937& g, float lo = -1, float hi = 1) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& e : v) e = d(g);
    return v;
}

static bool quick = false;
static double peak_gflops[3] = {0, 0, 0};  // OpenBLAS sgemm 2048^3 at 1 and 2 threads
static double fma_peak_gflops = 0;         // one core, the vector width of the kernels in use

// The core's FMA peak: 12 independent chains of vfmadd231ps (latency 4 x 2 pipes needs 8), timed in thread CPU
// time so that other processes do not lower it; zmm for the AVX-512 kernels, ymm for the others.
#define D4J_FMA12(R)                                                                                              \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "0\n vfmadd231ps %%" R "12, %%" R "13, %%" R "1\n"                     \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "2\n vfmadd231ps %%" R "12, %%" R "13, %%" R "3\n"                     \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "4\n vfmadd231ps %%" R "12, %%" R "13, %%" R "5\n"                     \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "6\n vfmadd231ps %%" R "12, %%" R "13, %%" R "7\n"                     \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "8\n vfmadd231ps %%" R "12, %%" R "13, %%" R "9\n"                     \
    "vfmadd231ps %%" R "12, %%" R "13, %%" R "10\n vfmadd231ps %%" R "12, %%" R "13, %%" R "11\n"
__attribute__((target("avx512f"))) static void fma_loop_zmm(long n) {
    __asm__ volatile("vxorps %%xmm12,%%xmm12,%%xmm12\n vxorps %%xmm13,%%xmm13,%%xmm13\n1:\n" D4J_FMA12("zmm")
                     "dec %0\n jnz 1b\n" : "+r"(n) :: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                     "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13");
}
__attribute__((target("avx2,fma"))) static void fma_loop_ymm(long n) {
    __asm__ volatile("vxorps %%xmm12,%%xmm12,%%xmm12\n vxorps %%xmm13,%%xmm13,%%xmm13\n1:\n" D4J_FMA12("ymm")
                     "dec %0\n jnz 1b\n" : "+r"(n) :: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                     "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13");
}
static double thread_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double fma_peak() {
    const bool zmm = d4j_get_isa() == D4J_ISA_AVX512;
    if (d4j_get_isa() == D4J_ISA_PORTABLE) return 0;
    const long n = quick ? 5000000 : 20000000;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        const double t0 = thread_cpu_seconds();
        if (zmm) fma_loop_zmm(n);
        else fma_loop_ymm(n);
        const double sec = thread_cpu_seconds() - t0;
        best = std::max(best, 12.0 * 2 * (zmm ? 16 : 8) * n / sec / 1e9);
    }
    return best;
}

// ---- 1. peak ----------------------------------------------------------------------------------------------
static void peak(const std::vector<int>& threads) {
    std::printf("\n## Peak\n\n| what | threads | median | GFLOP/s |\n|---|---|---|---|\n");
    fma_peak_gflops = fma_peak();
    std::printf("| FMA peak of one core, %s (12 FMA chains, thread CPU time: the clock other processes leave us) | 1 | "
                "| %.1f |\n", d4j_get_isa() == D4J_ISA_AVX512 ? "zmm" : "ymm", fma_peak_gflops);
    const int n = 2048;
    std::mt19937 g(1);
    auto a = rnd((size_t)n * n, g), b = rnd((size_t)n * n, g);
    std::vector<float> c((size_t)n * n);
    for (int t : threads) {
        if (t > 2) continue;
        openblas_set_num_threads(t);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
        std::vector<double> s;
        for (int r = 0; r < (quick ? 3 : 7); r++) {
            const auto t0 = Clock::now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a.data(), n, b.data(), n, 0, c.data(), n);
            s.push_back(seconds_since(t0));
        }
        const double sec = median(s), gf = 2.0 * n * n * n / sec / 1e9;
        peak_gflops[t] = gf;
        std::printf("| OpenBLAS sgemm 2048^3 (the peak floors use) | %d | %.1f ms | %.1f |\n", t, 1e3 * sec, gf);
    }
    openblas_set_num_threads(1);
    // our forward kernel at 64 rows x 2048 x 2048 (linear): the small-batch kernel's own ceiling
    const int m = 64;
    auto x = rnd((size_t)m * n, g), bias = rnd(n, g);
    std::vector<float> y((size_t)m * n);
    for (int t : threads) {
        d4j_set_num_threads(t);
        const double us = time_us([&] {
            d4j_dense_forward(x.data(), a.data(), bias.data(), nullptr, y.data(), m, n, n, D4J_ACT_LINEAR);
        }, quick ? 5 : 20);
        std::printf("| d4j_dense_forward 64x2048x2048 (%s kernels) | %d | %.1f us | %.1f |\n", isa_name(d4j_get_isa()), t, us,
                    2.0 * m * n * n / us / 1e3);
    }
    d4j_set_num_threads(1);
}

// ---- 2. single ops at the reference shapes --------------------------------------------------------------
static void ops(int threads) {
    d4j_set_num_threads(threads);
    std::printf("\n## Single ops, batch 32, 784-128-10, %d thread(s) (bare sgemm: OpenBLAS, 1 thread)\n\n"
                "| op | median us | GFLOP/s | bare sgemm us |\n|---|---|---|---|\n", threads);
    std::mt19937 g(1);
    const int n = 32;
    auto x = rnd(n * 784, g, 0, 1), w0 = rnd(784 * 128, g, -0.05f, 0.05f), b0 = rnd(128, g);
    auto w1 = rnd(128 * 10, g, -0.2f, 0.2f), b1 = rnd(10, g);
    std::vector<float> z0(n * 128), y0(n * 128), z1(n * 10), y1(n * 10), dz0 = rnd(n * 128, g), dz1 = rnd(n * 10, g);
    std::vector<float> dw0(784 * 128), db0(128), dw1(128 * 10), db1(10), dx1(n * 128), dx0(n * 784);
    std::vector<int32_t> labels(n);
    for (auto& l : labels) l = g() % 10;
    const int it = quick ? 50 : 200;
    auto row = [](const char* name, double us, double flops, double ref) {
        char gf[32] = "", rf[32] = "";
        if (flops > 0) std::snprintf(gf, sizeof gf, "%.1f", flops / us / 1e3);
        if (ref > 0) std::snprintf(rf, sizeof rf, "%.2f", ref);
        std::printf("| %s | %.2f | %s | %s |\n", name, us, gf, rf);
    };
    auto sgemm = [&](CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int nn, int k, const float* a, int lda,
                     const float* b, int ldb, float* c, int ldc) {
        return time_us([&] { cblas_sgemm(CblasRowMajor, ta, tb, m, nn, k, 1, a, lda, b, ldb, 0, c, ldc); }, it);
    };
    const double f0 = 2.0 * n * 784 * 128, f1 = 2.0 * n * 128 * 10;
    row("forward 32x784x128 + bias + relu", time_us([&] {
            d4j_dense_forward(x.data(), w0.data(), b0.data(), nullptr, y0.data(), n, 784, 128, D4J_ACT_RELU);
        }, it), f0, sgemm(CblasNoTrans, CblasNoTrans, n, 128, 784, x.data(), 784, w0.data(), 128, y0.data(), 128));
    row("forward 32x128x10 + bias (logits)", time_us([&] {
            d4j_dense_forward(y0.data(), w1.data(), b1.data(), nullptr, z1.data(), n, 128, 10, D4J_ACT_LINEAR);
        }, it * 10), f1, sgemm(CblasNoTrans, CblasNoTrans, n, 10, 128, y0.data(), 128, w1.data(), 10, z1.data(), 10));
    std::vector<float> grad(n * 10);
    int64_t correct;
    row("softmax + cross-entropy 32x10 (loss, grad, correct)", time_us([&] {
            d4j_loss(D4J_LOSS_SPARSE_CCE, z1.data(), labels.data(), nullptr, grad.data(), nullptr, n, 10, 1, &correct);
        }, it * 10), 0, 0);
    row("backward 32x128x10 (dW, db, dx)", time_us([&] {
            d4j_dense_backward(y0.data(), w1.data(), dz1.data(), dw1.data(), db1.data(), dx1.data(), n, 128, 10);
        }, it * 10), 2 * f1, 0);
    row("relu backward 32x128 (in place)", time_us([&] {
            d4j_activation_backward(nullptr, y0.data(), nullptr, dx1.data(), dx1.data(), n, 128, D4J_ACT_RELU);
        }, it * 10), 0, 0);
    row("backward 32x784x128 (dW, db; no dx)", time_us([&] {
            d4j_dense_backward(x.data(), w0.data(), dz0.data(), dw0.data(), db0.data(), nullptr, n, 784, 128);
        }, it), f0, sgemm(CblasTrans, CblasNoTrans, 784, 128, n, x.data(), 784, dz0.data(), 128, dw0.data(), 128));
    row("backward 32x784x128 with dx (dW, db, dx; layer 0 never needs dx)", time_us([&] {
            d4j_dense_backward(x.data(), w0.data(), dz0.data(), dw0.data(), db0.data(), dx0.data(), n, 784, 128);
        }, it), 2 * f0, sgemm(CblasNoTrans, CblasTrans, n, 784, 128, dz0.data(), 128, w0.data(), 128, dx0.data(), 784));
    const int64_t np = 784 * 128 + 128 + 128 * 10 + 10;
    auto params = rnd(np, g), grads = rnd(np, g, -0.01f, 0.01f);
    std::vector<float> state(3 * np, 0.0f);
    const float adam[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    int64_t t = 1;
    row("Adam update, 101,770 parameters (one call, 1 thread)", time_us([&] {
            d4j_optimizer_step(D4J_OPT_ADAM, adam, 1e-3f, ++t, params.data(), grads.data(), state.data(), np);
        }, it), 0, 0);
    d4j_set_num_threads(1);
}

// ---- 3. training epochs --------------------------------------------------------------------------------
struct Data {
    int N = 60000, in = 784, k = 10;
    std::vector<float> x;
    std::vector<int32_t> labels;
    bool load_idx(const std::string& dir);
    Data() {
        if (const char* dir = std::getenv("D4J_BENCH_IDX")) {  // real images: uncompressed IDX train files
            if (load_idx(dir)) return;
            std::fprintf(stderr, "D4J_BENCH_IDX=%s: no readable train-images-idx3-ubyte / train-labels-idx1-ubyte\n", dir);
            std::exit(2);
        }
        // learnable synthetic data: the label is the argmax of a fixed random linear map of the row
        std::mt19937 g(7);
        x = rnd((size_t)N * in, g, 0, 1);
        auto proj = rnd((size_t)in * k, g);
        std::vector<float> s((size_t)N * k);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, k, in, 1, x.data(), in, proj.data(), k, 0, s.data(),
                    k);
        labels.resize(N);
        for (int r = 0; r < N; r++) {
            const float* row = &s[(size_t)r * k];
            labels[r] = (int32_t)(std::max_element(row, row + k) - row);
        }
    }
};

// Reads <dir>/train-images-idx3-ubyte and train-labels-idx1-ubyte (uncompressed): pixels / 255 as float.
bool Data::load_idx(const std::string& dir) {
    auto read = [](const std::string& path) {
        std::vector<unsigned char> b;
        if (FILE* f = std::fopen(path.c_str(), "rb")) {
            unsigned char buf[1 << 16];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
            std::fclose(f);
        }
        return b;
    };
    const auto img = read(dir + "/train-images-idx3-ubyte"), lab = read(dir + "/train-labels-idx1-ubyte");
    auto be32 = [](const unsigned char* p) { return (int)((unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]); };
    if (img.size() < 16 || lab.size() < 8 || be32(img.data()) != 2051 || be32(lab.data()) != 2049) return false;
    const int n = be32(img.data() + 4), rows = be32(img.data() + 8), cols = be32(img.data() + 12);
    if (n <= 0 || rows * cols != in || img.size() != 16 + (size_t)n * in || lab.size() != 8 + (size_t)n) return false;
    N = n;
    x.resize((size_t)N * in);
    for (size_t i = 0; i < x.size(); i++) x[i] = img[16 + i] / 255.0f;
    labels.assign(lab.begin() + 8, lab.end());
    return true;
}

// A network's parameters, gradients and optimizer state as the Java API keeps them: each on a 64-byte line, the
// state's slots padded to lines (d4j_opt_state_stride), so that a column-mode network runs its column step on a team.
struct TrainBuffers {
    float *params = nullptr, *grads = nullptr, *state = nullptr;
    int64_t n = 0, stride = 0;
    static float* line(size_t n) {
        void* p = nullptr;
        if (posix_memalign(&p, 64, n * sizeof(float)) != 0) std::abort();
        std::memset(p, 0, n * sizeof(float));
        return static_cast<float*>(p);
    }
    TrainBuffers(const std::vector<float>& init) : n((int64_t)init.size()), stride(d4j_opt_state_stride(n)) {
        params = line(n);
        grads = line(n);
        state = line(3 * stride);
        std::copy(init.begin(), init.end(), params);
    }
    ~TrainBuffers() { free(params); free(grads); free(state); }
    TrainBuffers(const TrainBuffers&) = delete;
    d4j_net* create(int layers, const int32_t* sizes, const int32_t* acts, int batch, const float* hp) {
        d4j_net* net = d4j_net_create(layers, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, batch, params, grads,
                                      D4J_OPT_ADAM, hp, state, 0, 0);
        if (net) d4j_net_set_opt_stride(net, stride);
        return net;
    }
};

static double step_flops(const std::vector<int32_t>& sizes, int rows) {
    double f = 0;
    for (size_t l = 0; l + 1 < sizes.size(); l++) {
        const double mnk = 2.0 * rows * sizes[l] * sizes[l + 1];
        f += mnk * (l == 0 ? 2 : 3);  // forward, dW, and dx except for the first layer
    }
    return f;
}

static void train(const Data& d, const std::vector<int32_t>& sizes, int batch, int threads, int epochs) {
    d4j_set_num_threads(threads);
    const int L = (int)sizes.size() - 1;
    std::vector<int32_t> acts(L, D4J_ACT_RELU);
    acts.back() = D4J_ACT_SOFTMAX;
    const int64_t np = d4j_param_count(L, sizes.data());
    std::mt19937 g(11);
    std::vector<float> params(np);
    for (int l = 0, o = 0; l < L; l++) {  // Glorot uniform, zero biases
        const float lim = std::sqrt(6.0f / (sizes[l] + sizes[l + 1]));
        std::uniform_real_distribution<float> u(-lim, lim);
        for (int64_t i = 0; i < (int64_t)sizes[l] * sizes[l + 1]; i++) params[o++] = u(g);
        for (int j = 0; j < sizes[l + 1]; j++) params[o++] = 0;
    }
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    TrainBuffers buffers(params);
    d4j_net* net = buffers.create(L, sizes.data(), acts.data(), batch, hp);
    std::vector<int32_t> order(d.N);
    std::iota(order.begin(), order.end(), 0);
    const int nb = (d.N + batch - 1) / batch;
    std::vector<float> lrs(nb, 1e-3f);
    double flops = 0;
    for (int b = 0; b < nb; b++) flops += step_flops(sizes, std::min(batch, d.N - b * batch));
    int64_t step = 0;
    std::vector<double> times, cpu_times;
    double ph0[D4J_NET_PHASES] = {}, ph1[D4J_NET_PHASES] = {};
    int64_t st0[6], st1[6];
    double acc = 0;
    for (int e = 0; e <= epochs; e++) {  // epoch 0 is a warm-up
        std::shuffle(order.begin(), order.end(), g);
        if (e == 1) {
            d4j_net_phase_seconds(net, ph0, D4J_NET_PHASES);
            d4j_thread_stats(st0);
        }
        double stats[3] = {0, 0, 0};
        const double c0 = process_cpu_seconds();
        const auto a = Clock::now();
        for (int b0 = 0; b0 < nb; b0 += 64) {  // 64 steps per call, as Sequential.fit does
            const int rc = d4j_net_train(net, d.x.data(), d.labels.data(), nullptr, order.data(), d.N,
                                         (int64_t)b0 * batch, batch, std::min(64, nb - b0), lrs.data() + b0, &step, 1,
                                         stats);
            if (rc != D4J_OK) { std::printf("train failed rc=%d\n", rc); return; }
        }
        const double s = seconds_since(a);
        if (e > 0) {
            times.push_back(s);
            cpu_times.push_back(process_cpu_seconds() - c0);
        }
        acc = stats[1] / stats[2];
    }
    d4j_net_phase_seconds(net, ph1, D4J_NET_PHASES);
    d4j_thread_stats(st1);
    const double column_share = step > 0 ? 100.0 * d4j_net_column_steps(net) / step : 0.0;
    d4j_net_destroy(net);
    std::string name;
    for (size_t l = 0; l < sizes.size(); l++) name += (l ? "-" : "") + std::to_string(sizes[l]);
    const double sec = median(times), gf = flops / sec / 1e9;
    const double pk = threads <= 2 ? peak_gflops[threads] : 0;
    char peak_txt[64] = "—", floor_txt[64] = "—", fma_txt[64] = "—";
    if (pk > 0) {
        std::snprintf(peak_txt, sizeof peak_txt, "%.0f%%", 100 * gf / pk);
        std::snprintf(floor_txt, sizeof floor_txt, "%.3f", flops / pk / 1e9);
    }
    const int cores = std::min<int>(threads, (int)std::thread::hardware_concurrency());
    if (fma_peak_gflops > 0) std::snprintf(fma_txt, sizeof fma_txt, "%.0f%%", 100 * gf / (fma_peak_gflops * cores));
    const double steps = ph1[6] - ph0[6];
    auto share = [&](int p) { return steps > 0 ? 100 * (ph1[p] - ph0[p]) / steps : 0.0; };
    std::printf("| %s | %d | %d | %.3f | %.3f | %.1f | %.1f | %s | %s | %s | %.0f / %.0f / %.0f / %.0f / %.0f | %lld / %lld / %lld, column steps %.0f%% | %.4f |\n",
                name.c_str(), batch, threads, sec, median(cpu_times), 1e6 * sec / nb, gf, peak_txt, floor_txt, fma_txt, share(0), share(1), share(2),
                share(3), share(4), (long long)(st1[0] - st0[0]), (long long)(st1[1] - st0[1]),
                (long long)(st1[3] - st0[3]), column_share, acc);
    std::fflush(stdout);
    d4j_set_num_threads(1);
}

// ---- 3b. no collapse: thread counts interleaved, with and without another process burning a core ------------
// Epochs of the reference network (batch 32) at each thread count, taken in rounds (1, 2, 4, 1, 2, 4, ...) so
// that a drifting machine load hits every count alike; medians and the ratio to 1 thread. With --hog, a forked
// child process spins on a core for the whole section (another user's busy process).
// The round trip of one cache line between the first two CPUs this process may use (two threads pinned, bouncing
// an atomic), in ns: the best of 20 bursts of 1000 (a burst that a preemption hits only gets slower). Why: on the
// 2-vCPU VM the host moves the two vCPUs between a near placement (~60-140 ns) and a far one (~410-440 ns), and
// the 2-thread step's cross-core hand-offs follow it (RESULTS.md, session 7), so a 2-thread figure means little
// without this reading next to it. 0 when fewer than two CPUs can be pinned.
static double core_to_core_ns() {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return 0;
    int cpu[2] = {-1, -1};
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &allowed)) cpu[k++] = c;
    auto pin = [](int c) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(c, &one);
        return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    };
    alignas(64) static std::atomic<int> ball;
    constexpr int N = 1000, BURSTS = 20;
    double best = 0;
    std::atomic<bool> ok{true};
    std::thread other([&] {
        ok = ok && pin(cpu[1]);
        for (int b = 0; b < BURSTS; b++)
            for (int i = 0; i < N; i++) {
                const int want = 2 * (b * N + i) + 1;
                while (ball.load(std::memory_order_acquire) != want) {}
                ball.store(want + 1, std::memory_order_release);
            }
    });
    ball.store(0);
    const bool pinned = pin(cpu[0]);
    for (int b = 0; b < BURSTS; b++) {
        const auto a = Clock::now();
        for (int i = 0; i < N; i++) {
            const int v = 2 * (b * N + i) + 1;
            ball.store(v, std::memory_order_release);
            while (ball.load(std::memory_order_acquire) != v + 1) {}
        }
        const double ns = 1e9 * seconds_since(a) / N;
        best = b == 0 ? ns : std::min(best, ns);
    }
    other.join();
    sched_setaffinity(0, sizeof allowed, &allowed);
    return pinned && ok ? best : 0;
}

static void no_collapse(const Data& d, const std::vector<int>& counts, int rounds, bool hog, bool probe = false) {
    pid_t child = -1;
    if (hog) {
        child = fork();
        if (child == 0) {
            volatile uint64_t x = 1;
            for (;;) x = x * 6364136223846793005ull + 1;
        }
    }
    const std::vector<int32_t> sizes = {784, 128, 10}, acts = {D4J_ACT_RELU, D4J_ACT_SOFTMAX};
    const int64_t np = d4j_param_count(2, sizes.data());
    std::mt19937 g(5);
    std::vector<float> p0 = rnd(np, g, -0.05f, 0.05f);
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    std::vector<int32_t> order(d.N);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), g);
    const int nb = (d.N + 31) / 32;
    std::vector<float> lrs(nb, 1e-3f);
    std::vector<std::vector<double>> secs(counts.size()), cpus(counts.size());
    std::vector<int64_t> backoffs(counts.size(), 0), column_steps(counts.size(), 0), all_steps(counts.size(), 0);
    std::vector<std::string> probes(counts.size());
    for (int r = 0; r <= rounds; r++)  // round 0 warms up
        for (size_t c = 0; c < counts.size(); c++) {
            const double c2c = probe ? core_to_core_ns() : 0;
            d4j_set_num_threads(counts[c]);
            TrainBuffers buffers(p0);
            d4j_net* net = buffers.create(2, sizes.data(), acts.data(), 32, hp);
            int64_t step = 0, s0[6], s1[6];
            d4j_thread_stats(s0);
            const double c0 = process_cpu_seconds();
            const auto a = Clock::now();
            for (int b0 = 0; b0 < nb; b0 += 64)
                d4j_net_train(net, d.x.data(), d.labels.data(), nullptr, order.data(), d.N, (int64_t)b0 * 32, 32,
                              std::min(64, nb - b0), lrs.data() + b0, &step, 1, nullptr);
            const double sec = seconds_since(a);
            const double cpu = process_cpu_seconds() - c0;
            d4j_thread_stats(s1);
            const int64_t col = d4j_net_column_steps(net);
            d4j_net_destroy(net);
            if (r > 0) {
                secs[c].push_back(sec);
                cpus[c].push_back(cpu);
                backoffs[c] += s1[3] - s0[3];
                column_steps[c] += col;
                all_steps[c] += step;
                if (probe) probes[c] += (probes[c].empty() ? "" : " ") + std::to_string((int)std::lround(c2c));
            }
        }
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
    }
    const double one = median(secs[0]), one_cpu = median(cpus[0]);
    for (size_t c = 0; c < counts.size(); c++)
        std::printf("| %s | %d | %.3f | %.2fx | %.3f | %.2fx | %s | %lld (column steps %.0f%%) |%s\n", hog ? "yes" : "no", counts[c],
                    median(secs[c]), median(secs[c]) / one, median(cpus[c]), median(cpus[c]) / one_cpu, [&] {
                        std::string all;
                        for (double v : secs[c]) all += (all.empty() ? "" : " ") + std::to_string(v).substr(0, 5);
                        return all;
                    }().c_str(), (long long)backoffs[c], all_steps[c] ? 100.0 * column_steps[c] / all_steps[c] : 0.0,
                    probe ? (" " + probes[c] + " |").c_str() : "");
    std::fflush(stdout);
    d4j_set_num_threads(1);
}

// ---- 4. inference --------------------------------------------------------------------------------------
static void infer(const Data& d, int threads) {
    d4j_set_num_threads(threads);
    std::vector<int32_t> sizes = {784, 128, 10}, acts = {D4J_ACT_RELU, D4J_ACT_SOFTMAX};
    std::mt19937 g(3);
    auto params = rnd(d4j_param_count(2, sizes.data()), g, -0.05f, 0.05f);
    d4j_net* net = d4j_net_create(2, sizes.data(), acts.data(), nullptr, D4J_LOSS_SPARSE_CCE, 256, params.data(),
                                  nullptr, 0, nullptr, nullptr, 0, 0);
    std::vector<float> out(256 * 10);
    // one row: per-call latencies, p50 and p99
    std::vector<double> lat;
    const int calls = quick ? 5000 : 20000;
    for (int i = 0; i < calls + 2000; i++) {
        const float* row = d.x.data() + (size_t)(i % 1000) * 784;
        const auto a = Clock::now();
        d4j_net_forward(net, row, 1, out.data(), nullptr, nullptr, nullptr);
        if (i >= 2000) lat.push_back(1e6 * seconds_since(a));
    }
    std::sort(lat.begin(), lat.end());
    std::printf("| 1 | %d | %.2f | %.2f | %.0f |\n", threads, lat[lat.size() / 2], lat[lat.size() * 99 / 100],
                1e6 / lat[lat.size() / 2]);
    for (int rows : {32, 256}) {
        const double us = time_us([&] { d4j_net_forward(net, d.x.data(), rows, out.data(), nullptr, nullptr, nullptr); },
                                  quick ? 50 : 300);
        std::printf("| %d | %d | %.2f | | %.0f |\n", rows, threads, us, rows * 1e6 / us);
    }
    d4j_net_destroy(net);
    d4j_set_num_threads(1);
}

int main(int argc, char** argv) {
    std::vector<int> threads = {1, 2};
    int epochs = 3, rounds = 5;
    std::string only;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--quick") quick = true;
        else if (a == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
        else if (a == "--only" && i + 1 < argc) only = argv[++i];
        else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) {
            threads.clear();
            for (const char* p = argv[++i]; *p;) {
                threads.push_back(std::atoi(p));
                while (*p && *p != ',') p++;
                if (*p == ',') p++;
            }
        } else {
            std::printf("usage: bench_cpu [--threads 1,2] [--epochs N] [--rounds N] [--quick] [--only peak|ops|train|collapse|infer|ref|probe]\n");
            return 2;
        }
    }
    if (quick) epochs = std::min(epochs, 1);
    if (only == "probe") {  // one line, for scripts that read the VM's placement next to another program's figures
        std::printf("core-to-core round trip %.0f ns\n", core_to_core_ns());
        return 0;
    }
    openblas_set_num_threads(1);  // the bare sgemm columns are one thread; peak() sets its own counts
    const char* ct = std::getenv("OPENBLAS_CORETYPE");
    const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
    std::printf("# bench_cpu\n\nCPU: %s (family %s, model %s), %s CPUs\n", cpuinfo("model name").c_str(),
                cpuinfo("cpu family").c_str(), cpuinfo("model\t").c_str(), std::to_string(std::thread::hardware_concurrency()).c_str());
    std::printf("Dense4J kernels: %s; OpenBLAS %s, core %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n",
                isa_name(d4j_get_isa()), openblas_get_config(), openblas_get_corename(), ct ? ct : "(unset)",
                l2 ? l2 : "(unset)");
    std::printf("load average at start: %s\n", loadavg().c_str());
    if (only.empty() || only == "peak" || only == "train") peak(threads);
    if (only.empty() || only == "ops")
        for (int t : threads) ops(t);
    if (only.empty() || only == "train" || only == "infer" || only == "collapse" || only == "ref") {
        const Data d;
        if (only == "ref") {
            std::printf("\n## Reference network (784-128-10, batch 32), one epoch per run, thread counts interleaved (%d "
                        "rounds after a warm-up round)\n\n| busy process | threads | median s/epoch | vs %d thread(s) | CPU "
                        "s/epoch | CPU vs %d thread(s) | all runs (s) | pool switches to serial | core-to-core round trip "
                        "before each run (ns) |\n|---|---|---|---|---|---|---|---|---|\n",
                        rounds, threads[0], threads[0]);
            no_collapse(d, threads, rounds, false, true);
        }
        if (only.empty() || only == "train") {
            std::printf("\n## Training epochs (60000 rows, Adam; floor = the epoch's GEMM FLOPs at the sgemm peak of the"
                        " same thread count; phases = %% of the step in gather / forward / loss / input grads / weight"
                        " grads + update; pool = parallel regions / serial regions / switches to serial; CPU s = all our threads)\n\n"
                        "| network | batch | threads | s/epoch | CPU s/epoch | us/step | GFLOP/s | %% of sgemm peak | floor s |"
                        " %% of FMA peak | phases %% | pool | train acc |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            const std::vector<int32_t> ref = {784, 128, 10}, big = {784, 1024, 1024, 10};
            for (int batch : {32, 256})
                for (int t : threads) train(d, ref, batch, t, epochs);
            for (int batch : {32, 256})
                for (int t : threads) train(d, big, batch, t, quick ? 1 : std::max(1, epochs - 1));
        }
        if (only.empty() || only == "collapse") {
            std::printf("\n## No collapse: reference network (784-128-10, batch 32), one epoch per run, thread counts "
                        "interleaved (%d rounds), without and with another process spinning on a core\n\n"
                        "| busy process | threads | median s/epoch | vs 1 thread | CPU s/epoch | CPU vs 1 thread | all runs (s) |"
                        " pool switches to serial |\n|---|---|---|---|---|---|---|---|\n", quick ? 2 : 5);
            std::vector<int> counts = {1};
            for (int t : threads)
                if (t != 1) counts.push_back(t);
            if (std::find(counts.begin(), counts.end(), 4) == counts.end()) counts.push_back(4);
            no_collapse(d, counts, quick ? 2 : 5, false);
            no_collapse(d, counts, quick ? 2 : 5, true);
        }
        if (only.empty() || only == "infer") {
            std::printf("\n## Inference, 784-128-10 (d4j_net_forward)\n\n| rows | threads | median us | p99 us | rows/s |\n"
                        "|---|---|---|---|---|\n");
            for (int t : threads) infer(d, t);
        }
    }
    std::printf("\nload average at end: %s\n", loadavg().c_str());
    return 0;
}
