// The one-thread floor of the reference training step (784-128 relu-10 softmax, Adam, batch 32) on THIS machine,
// op by op, next to the step as the engine runs it (not a ctest). What bounds each op, measured here:
//  - the two big products (forward 32x784x128 and its weight gradient, 6.4 MFLOP each) and the small layer: the
//    core's FMA throughput (independent vector FMA chains, no memory), i.e. what a perfect GEMM would reach;
//  - Adam over 101,770 parameters: its square root and divide per parameter (Keras's float32 formula, exact
//    IEEE operations, so no approximation may replace them), i.e. the divider's throughput; next to it the
//    engine's own update (d4j_optimizer_step);
//  - the batch gather: 32 random rows of 784 floats out of a 188 MB training set (60,000 rows: DRAM), after 2 MB
//    of other traffic as in a step, copied cold, copied after a burst of software prefetches (the burst timed on
//    its own: a core stalls while its miss buffers are full), and copied hot (the copy's own cost); in 4 KB pages
//    and, where the kernel grants them (madvise), in 2 MB pages;
//  - the step itself: epochs of the reference network on one thread (process CPU time per step; the parameters,
//    gradients and optimizer state on 64-byte lines as the Java API allocates them, D4J_BENCH_MISALIGN=1: 16 bytes
//    off) and the engine's phase shares (d4j_net_phase_seconds), A/B against the same network with the first layer's
//    exact-zero skipping off (d4j_net_set_sparse_input), and against the same network reading its rows from the
//    copy in 2 MB pages (d4j_alloc_pages, as the Java API allocates a training set): calls of the three alternating
//    in one process.
// Usage: bench_step_floor [--rounds N]  (default 5 epochs of the step; D4J_BENCH_IDX as for bench_cpu: real rows)
// GCC 12's AVX-512 headers trip -Wuninitialized on their own placeholder vectors (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <new>
#include <vector>
#include "dense4j.h"

namespace {

// Floats on a 64-byte line, as the Java API allocates its tensors (io.dense4j.tensor.Tensor); D4J_BENCH_MISALIGN=1:
// 16 bytes after one, as malloc gives (and the Java API gave before session 7).
template <class T>
struct LineAligned {
    typedef T value_type;
    LineAligned() = default;
    template <class U>
    LineAligned(const LineAligned<U>&) {}
    T* allocate(size_t n) {
        void* p = nullptr;
        if (posix_memalign(&p, 64, n * sizeof(T) + 64) != 0) throw std::bad_alloc();
        return reinterpret_cast<T*>(static_cast<char*>(p) + (std::getenv("D4J_BENCH_MISALIGN") ? 16 : 0));
    }
    void deallocate(T* p, size_t) {
        free(reinterpret_cast<char*>(p) - (std::getenv("D4J_BENCH_MISALIGN") ? 16 : 0));
    }
    template <class U>
    bool operator==(const LineAligned<U>&) const { return true; }
    template <class U>
    bool operator!=(const LineAligned<U>&) const { return false; }
};
typedef std::vector<float, LineAligned<float>> Floats;

double thread_cpu() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

double pct(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[(size_t)(p * (v.size() - 1))];
}

// ---- the core's arithmetic ceilings -----------------------------------------------------------------------
// 24 independent FMA chains (the engine's 6 x 4 tiles keep 24 accumulators), 20,000 rounds: FLOP per second.
__attribute__((target("avx512f"), noinline)) double fma_gflops_avx512() {
    __m512 a[24];
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps(1.0f + 1e-3f * i);
    const __m512 m = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    double best = 1e9;
    for (int r = 0; r < 30; r++) {
        const double t0 = thread_cpu();
        for (int i = 0; i < 20000; i++)
#pragma GCC unroll 24
            for (int j = 0; j < 24; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
        best = std::min(best, thread_cpu() - t0);
    }
    float sink[16];
    __m512 s = a[0];
    for (int j = 1; j < 24; j++) s = _mm512_add_ps(s, a[j]);
    _mm512_storeu_ps(sink, s);
    if (sink[0] == 12345.0f) std::puts("");
    return 20000.0 * 24 * 16 * 2 / best * 1e-9;
}

// One Adam parameter's divider work, 16 at a time: sqrt(v) then m / (sqrt(v) * c + eps), from and to memory
// that stays in L1 (so nothing but the divider bounds it). Seconds per parameter.
__attribute__((target("avx512f"), noinline)) double divider_seconds_per_param_avx512() {
    alignas(64) static float v[4096], m[4096], out[4096];
    for (int i = 0; i < 4096; i++) v[i] = 1e-4f * (i + 1), m[i] = 1e-3f * (i % 7 + 1);
    const __m512 c = _mm512_set1_ps(1.1f), eps = _mm512_set1_ps(1e-7f);
    double best = 1e9;
    for (int r = 0; r < 30; r++) {
        const double t0 = thread_cpu();
        for (int rep = 0; rep < 20; rep++) {
            asm volatile("" ::: "memory");  // every repetition reads and writes memory again
            for (int i = 0; i < 4096; i += 16) {
                const __m512 d = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(_mm512_load_ps(v + i)), c), eps);
                _mm512_store_ps(out + i, _mm512_div_ps(_mm512_load_ps(m + i), d));
            }
        }
        best = std::min(best, thread_cpu() - t0);
    }
    if (out[5] == 12345.0f) std::puts("");
    return best / (20.0 * 4096);
}

// ---- the batch gather ---------------------------------------------------------------------------------------
struct GatherFigures {
    double cold, burst, after_burst, hot;  // microseconds per step (medians)
};

GatherFigures gather(const float* x, int n_rows, int in, int steps) {
    std::vector<float> other(1 << 19, 1.0f);  // 2 MB: the weights, moments and gradients a step moves
    std::vector<float> xb((size_t)32 * in);
    std::vector<int32_t> order(n_rows);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(11));
    volatile float sink = 0;
    auto traffic = [&] {
        float s = 0;
        for (size_t i = 0; i < other.size(); i += 16) s += other[i], other[i] = s;
        sink = s;
    };
    auto copy = [&](const int32_t* rows) {
        for (int r = 0; r < 32; r++) std::memcpy(&xb[(size_t)r * in], x + (size_t)rows[r] * in, sizeof(float) * in);
    };
    std::vector<double> cold, burst, after, hot;
    // two disjoint halves of the rows: the cold copies take theirs from the first, the prefetched ones from the
    // second; `steps` <= half / 32, so no row is used twice
    const int half = n_rows / 2;
    for (int s = 0; s < steps && (s + 1) * 32 <= half; s++) {
        const int32_t* rows = &order[s * 32];
        traffic();
        double t0 = thread_cpu();
        copy(rows);
        cold.push_back(thread_cpu() - t0);
        t0 = thread_cpu();
        copy(rows);
        hot.push_back(thread_cpu() - t0);
        const int32_t* next = &order[half + s * 32];
        t0 = thread_cpu();
        for (int r = 0; r < 32; r++) {
            const char* row = reinterpret_cast<const char*>(x + (size_t)next[r] * in);
            for (int b = 0; b < in * 4; b += 64) _mm_prefetch(row + b, _MM_HINT_T2);
        }
        burst.push_back(thread_cpu() - t0);
        traffic();
        t0 = thread_cpu();
        copy(next);
        after.push_back(thread_cpu() - t0);
    }
    return {1e6 * pct(cold, 0.5), 1e6 * pct(burst, 0.5), 1e6 * pct(after, 0.5), 1e6 * pct(hot, 0.5)};
}

long anon_huge_kb() {
    std::ifstream f("/proc/self/smaps_rollup");
    std::string k;
    long v;
    while (f >> k) {
        if (k == "AnonHugePages:" && f >> v) return v;
    }
    return -1;
}

// ---- the step as the engine runs it -------------------------------------------------------------------------
bool load_idx(const std::string& dir, std::vector<unsigned char>& x, std::vector<int32_t>& labels) {
    auto read = [](const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        return std::vector<unsigned char>(std::istreambuf_iterator<char>(f), {});
    };
    const auto img = read(dir + "/train-images-idx3-ubyte"), lab = read(dir + "/train-labels-idx1-ubyte");
    if (img.size() != 16 + (size_t)60000 * 784 || lab.size() != 8 + (size_t)60000) return false;
    std::copy(img.begin() + 16, img.end(), x.begin());
    for (int i = 0; i < 60000; i++) labels[i] = lab[8 + i];
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 5;
    for (int i = 1; i < argc; i++)
        if (std::string(argv[i]) == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    if (!__builtin_cpu_supports("avx512f")) {
        std::printf("bench_step_floor: this CPU has no AVX-512; the floors below are measured with AVX-512 only\n");
        return 0;
    }
    const int N = 60000, IN = 784;
    std::ifstream la("/proc/loadavg");
    std::string l1, l2, l3;
    la >> l1 >> l2 >> l3;
    std::printf("# One-thread floor of the reference step (784-128-10, batch 32, Adam), load average %s %s %s\n\n",
                l1.c_str(), l2.c_str(), l3.c_str());

    // the training rows, in 2 MB pages where the kernel grants them: our allocator, as the Java API's large tensors
    // (d4j_alloc_pages: 2 MB aligned, madvise before the first touch)
    const size_t bytes = (size_t)N * IN * 4;
    const long huge0 = anon_huge_kb();
    void* mem = d4j_alloc_pages(bytes);
    if (!mem) return 1;
    float* x = static_cast<float*>(mem);
    std::vector<float> x4k((size_t)N * IN);  // 4 KB pages (the usual allocation)
    std::vector<int32_t> labels(N);
    std::vector<unsigned char> pixels((size_t)N * IN);
    const char* dir = std::getenv("D4J_BENCH_IDX");
    if (!(dir && load_idx(dir, pixels, labels))) {
        if (dir) std::printf("D4J_BENCH_IDX=%s: no 60,000-row IDX train files there; synthetic rows instead\n\n", dir);
        std::mt19937 g(7);
        for (auto& b : pixels) b = (unsigned char)(g() % 3 == 0 ? 0 : g() % 256);
        for (int i = 0; i < N; i++) labels[i] = i % 10;
    }
    for (size_t i = 0; i < x4k.size(); i++) x4k[i] = pixels[i] / 255.0f;  // what the IDX reader gives
    std::memcpy(x, x4k.data(), (size_t)N * IN * 4);  // the first touch of the advised pages
    // the same rows as bytes (a quarter of the size), in 2 MB pages as the Java API allocates them: trained with
    // d4j_net_train_data(D4J_DATA_U8, 255), converted while gathered
    const size_t u8_bytes = (size_t)N * IN;
    uint8_t* xu8 = static_cast<uint8_t*>(d4j_alloc_pages(u8_bytes));
    if (!xu8) return 1;
    std::memcpy(xu8, pixels.data(), u8_bytes);
    const long huge = anon_huge_kb() - huge0;

    const double peak = fma_gflops_avx512();
    const double div_s = divider_seconds_per_param_avx512();
    const GatherFigures g4 = gather(x4k.data(), N, IN, 900);
    const GatherFigures g2 = gather(x, N, IN, 900);

    // the step: the engine on one thread, rows from the 4 KB-page copy (what a JVM's malloc gives)
    d4j_set_num_threads(1);
    const int32_t sizes[3] = {784, 128, 10}, acts[2] = {D4J_ACT_RELU, D4J_ACT_SOFTMAX};
    const int64_t np = d4j_param_count(2, sizes);
    std::mt19937 gen(5);
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    Floats params(np), grads(np), state(3 * np, 0.0f);
    for (auto& p : params) p = u(gen);
    std::vector<int32_t> order(N);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), gen);
    const int nb = N / 32;
    std::vector<float> lrs(nb, 1e-3f);
    const float hp[5] = {0.9f, 0.999f, 1e-7f, 0, 0};
    // A/B in one process: the engine as it runs (the first layer's weight gradient skipping exact zeros where the
    // batch is sparse enough, the default) and the same network with that off (d4j_net_set_sparse_input 0),
    // alternating every call of 64 steps, so both see the same machine; same initial weights, same data, and the
    // same bits at the end (checked).
    // A third network, the same as the first, reads its rows from the copy in 2 MB pages: the page size's A/B.
    Floats params_b = params, grads_b(np), state_b(3 * np, 0.0f);
    Floats params_h = params, grads_h(np), state_h(3 * np, 0.0f);
    Floats params_u = params, grads_u(np), state_u(3 * np, 0.0f);
    d4j_net* net = d4j_net_create(2, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, 32, params.data(), grads.data(),
                                  D4J_OPT_ADAM, hp, state.data(), 0, 0);
    d4j_net* dense = d4j_net_create(2, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, 32, params_b.data(), grads_b.data(),
                                    D4J_OPT_ADAM, hp, state_b.data(), 0, 0);
    d4j_net* huge_rows = d4j_net_create(2, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, 32, params_h.data(),
                                        grads_h.data(), D4J_OPT_ADAM, hp, state_h.data(), 0, 0);
    d4j_net* byte_rows = d4j_net_create(2, sizes, acts, nullptr, D4J_LOSS_SPARSE_CCE, 32, params_u.data(),
                                        grads_u.data(), D4J_OPT_ADAM, hp, state_u.data(), 0, 0);
    d4j_net_set_sparse_input(dense, 0.0f);
    std::vector<double> per_step, per_step_dense, per_step_huge, per_step_u8, per_call[4];
    double phases[8] = {}, phases0[8] = {}, phases_u[8] = {}, phases_u0[8] = {};
    int64_t step = 0, step_b = 0, step_h = 0, step_u = 0;
    for (int r = 0; r <= rounds; r++) {  // round 0 warms up
        d4j_net_phase_seconds(net, phases0, 8);
        d4j_net_phase_seconds(byte_rows, phases_u0, 8);
        double spent[4] = {0, 0, 0, 0};
        for (int b0 = 0; b0 < nb; b0 += 64)
            for (int v = 0; v < 4; v++) {
                const int n = std::min(64, nb - b0);
                d4j_net* which[4] = {net, dense, huge_rows, byte_rows};
                int64_t* steps[4] = {&step, &step_b, &step_h, &step_u};
                const double t0 = thread_cpu();
                if (v == 3)
                    d4j_net_train_data(byte_rows, xu8, D4J_DATA_U8, 255.0f, labels.data(), nullptr, order.data(), N,
                                       (int64_t)b0 * 32, 32, n, lrs.data() + b0, steps[v], 1, nullptr);
                else
                    d4j_net_train(which[v], v == 2 ? x : x4k.data(), labels.data(), nullptr, order.data(), N,
                                  (int64_t)b0 * 32, 32, n, lrs.data() + b0, steps[v], 1, nullptr);
                const double dt = thread_cpu() - t0;
                spent[v] += dt;
                if (r > 0) per_call[v].push_back(dt / n * 1e6);
            }
        if (r > 0) {
            per_step.push_back(spent[0] / nb * 1e6);
            per_step_dense.push_back(spent[1] / nb * 1e6);
            per_step_huge.push_back(spent[2] / nb * 1e6);
            per_step_u8.push_back(spent[3] / nb * 1e6);
        }
    }
    const bool same_bits = std::memcmp(params.data(), params_b.data(), np * 4) == 0 &&
                           std::memcmp(state.data(), state_b.data(), 3 * np * 4) == 0;
    const bool same_bits_huge = std::memcmp(params.data(), params_h.data(), np * 4) == 0 &&
                                std::memcmp(state.data(), state_h.data(), 3 * np * 4) == 0;
    const bool same_bits_u8 = std::memcmp(params.data(), params_u.data(), np * 4) == 0 &&
                              std::memcmp(state.data(), state_u.data(), 3 * np * 4) == 0;
    d4j_net_destroy(huge_rows);
    d4j_net_phase_seconds(byte_rows, phases_u, 8);
    {
        double d[8];
        for (int i = 0; i < 8; i++) d[i] = phases_u[i] - phases_u0[i];
        for (int i = 0; i < 8; i++) phases_u[i] = d[6] > 0 ? d[i] / d[6] * per_step_u8.back() : 0;
    }
    d4j_net_destroy(byte_rows);
    const long long sparse_steps = (long long)d4j_net_sparse_steps(net);
    d4j_net_destroy(dense);
    d4j_net_phase_seconds(net, phases, 8);
    // the last round's phase shares (wall clock inside the step) applied to its CPU time per step: on a loaded
    // machine wall time includes waits for the CPU, the shares are still each phase's part of the step
    {
        double d[8];
        for (int i = 0; i < 8; i++) d[i] = phases[i] - phases0[i];
        for (int i = 0; i < 8; i++) phases[i] = d[6] > 0 ? d[i] / d[6] * per_step.back() : 0;
    }
    d4j_net_destroy(net);
    // Adam as the engine does it, alone, on the same parameter count
    std::vector<double> adam;
    for (int i = 0; i < 300; i++) {
        const double t0 = thread_cpu();
        d4j_optimizer_step(D4J_OPT_ADAM, hp, 1e-3f, i + 2, params.data(), grads.data(), state.data(), np);
        adam.push_back(thread_cpu() - t0);
    }

    const double gemm_flops = 2.0 * 32 * 784 * 128, small_flops = 3 * 2.0 * 32 * 128 * 10;
    const double f_gemm = gemm_flops / (peak * 1e3), f_small = small_flops / (peak * 1e3);
    const double f_adam = div_s * np * 1e6;
    std::printf("FMA peak of one core: %.0f GFLOP/s (24 independent zmm FMA chains). Divider: %.3f ns per Adam "
                "parameter (sqrt + div, 16 wide, in L1).\n",
                peak, div_s * 1e9);
    std::printf("Training rows in 2 MB pages: %s (%ld kB AnonHugePages gained)\n\n",
                huge > 0 ? "yes" : "no (the kernel did not grant them: the 2 MB columns repeat 4 KB)",
                huge);
    std::printf("| op | work per step | floor us (what bounds it) | measured us |\n|---|---|---|---|\n");
    std::printf("| forward 32x784x128 | 6.42 MFLOP | %.1f (FMA peak) | in forward phase %.1f |\n", f_gemm,
                phases[1]);
    std::printf("| weight gradient 32x784x128 | 6.42 MFLOP | %.1f (FMA peak) | in dW + update + gather phase %.1f |\n",
                f_gemm, phases[4]);
    std::printf("| Adam, %lld parameters | %lld sqrt + div | %.1f (divider) | %.1f alone (d4j_optimizer_step, p50) |\n",
                (long long)np, (long long)np, f_adam, 1e6 * pct(adam, 0.5));
    std::printf("| small layer 128->10 (forward, dW, dx), loss | %.2f MFLOP | %.1f (FMA peak) | loss phase %.1f, input grad %.1f |\n",
                small_flops * 1e-6, f_small, phases[2], phases[3]);
    std::printf("| gather 32 rows x 784 floats, 4 KB pages | 100 KB from DRAM | %.1f hot copy | alone: cold %.1f; prefetch burst %.1f + copy %.1f |\n",
                g4.hot, g4.cold, g4.burst, g4.after_burst);
    std::printf("| gather, 2 MB pages | 100 KB from DRAM | %.1f hot copy | alone: cold %.1f; prefetch burst %.1f + copy %.1f |\n",
                g2.hot, g2.cold, g2.burst, g2.after_burst);
    const double floor_sum = 2 * f_gemm + f_small + f_adam + g4.hot;
    const double cold_sum = floor_sum - g4.hot + std::min(g4.cold, g2.cold);
    std::printf("\nSum of the floors (no overlap between ops): %.1f us per step = %.3f s per epoch of %d steps with the "
                "gather at its hot-copy cost; %.1f us = %.3f s with the rows copied cold from DRAM (the better page size).\n",
                floor_sum, floor_sum * nb * 1e-6, nb, cold_sum, cold_sum * nb * 1e-6);
    std::printf("Step as the engine runs it (1 thread, CPU time, %d epochs): median %.1f us = %.3f s per epoch "
                "(min %.1f); phases (us, last epoch, the step clock's shares of its CPU time): prefetch %.1f, forward %.1f, loss %.1f, input grads %.1f, "
                "dW + update + next gather %.1f, step %.1f\n",
                rounds, pct(per_step, 0.5), pct(per_step, 0.5) * nb * 1e-6, pct(per_step, 0.0), phases[0], phases[1],
                phases[2], phases[3], phases[4], phases[6]);
    std::printf("A/B, alternating calls of 64 steps: the step with the first layer's weight gradient skipping exact "
                "zeros (%lld of %lld steps did) median %.1f us (calls: p10 %.1f, p50 %.1f); with it off median %.1f us "
                "(calls: p10 %.1f, p50 %.1f): %.3fx; final weights and optimizer state %s\n",
                sparse_steps, (long long)step, pct(per_step, 0.5), pct(per_call[0], 0.1), pct(per_call[0], 0.5),
                pct(per_step_dense, 0.5), pct(per_call[1], 0.1), pct(per_call[1], 0.5),
                pct(per_step_dense, 0.5) / pct(per_step, 0.5), same_bits ? "bit-identical" : "DIFFER (a bug)");
    std::printf("A/B, the same alternating calls: the training rows in 4 KB pages (std::vector) median %.1f us "
                "(calls: p10 %.1f, p50 %.1f); in 2 MB pages (d4j_alloc_pages%s) median %.1f us (calls: p10 %.1f, "
                "p50 %.1f): %.3fx; final weights and optimizer state %s\n",
                pct(per_step, 0.5), pct(per_call[0], 0.1), pct(per_call[0], 0.5),
                huge > 0 ? "" : ", NOT granted here: both 4 KB", pct(per_step_huge, 0.5), pct(per_call[2], 0.1),
                pct(per_call[2], 0.5), pct(per_step, 0.5) / pct(per_step_huge, 0.5),
                same_bits_huge ? "bit-identical" : "DIFFER (a bug)");
    std::printf("A/B, the same alternating calls: the training rows as floats in 2 MB pages median %.1f us (calls: p10 "
                "%.1f, p50 %.1f); as bytes in 2 MB pages (d4j_net_train_data, D4J_DATA_U8 / 255, converted while "
                "gathered) median %.1f us (calls: p10 %.1f, p50 %.1f): %.3fx; final weights and optimizer state %s\n",
                pct(per_step_huge, 0.5), pct(per_call[2], 0.1), pct(per_call[2], 0.5), pct(per_step_u8, 0.5),
                pct(per_call[3], 0.1), pct(per_call[3], 0.5), pct(per_step_huge, 0.5) / pct(per_step_u8, 0.5),
                same_bits_u8 ? "bit-identical" : "DIFFER (a bug)");
    std::printf("Phases of the byte-row step (us, last epoch, as above): prefetch %.1f, forward %.1f, loss %.1f, input "
                "grads %.1f, dW + update + next gather %.1f, step %.1f\n",
                phases_u[0], phases_u[1], phases_u[2], phases_u[3], phases_u[4], phases_u[6]);
    d4j_free_pages(mem, bytes);
    d4j_free_pages(xu8, u8_bytes);
    return same_bits && same_bits_huge && same_bits_u8 ? 0 : 1;
}
