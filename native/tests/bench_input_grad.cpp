// Benchmark (not a ctest) of the input-gradient product dx[m,k] = dz[m,n] . w[k,n]^T on one thread: our two
// forms of it (cpu/gemm_tiles.inc: the dot-product tiles, and the packed form that transposes a panel of w and
// runs the forward's broadcast-FMA tile) for every variant this CPU runs, next to OpenBLAS's sgemm (NoTrans,
// Trans) of the same shape. Each repetition times every method once, in turn (A/B interleaved), and the table
// gives medians; every result is first checked against the float64 reference. Times are the thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID), so that on a shared machine the time other processes hold the core is not counted
// (their cache traffic still is). This is the figure that decides
// input_grad_packs() in cpu/dense_backward.cpp.
// Usage: bench_input_grad [--quick]   (run it both with OPENBLAS_CORETYPE as set and unset: see benchmarks/RESULTS.md)
#include <cblas.h>
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>
#include "../cpu/gemm_kernels.h"

static double thread_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// worst |got - ref| / ((n + 2) u sum|terms|): <= 1 is within the rigorous bound of a float sum of n products
static double worst_ratio(const std::vector<float>& dx, const std::vector<float>& dz, const std::vector<float>& w,
                          int m, int n, int k) {
    double worst = 0;
    for (int i = 0; i < m; i += std::max(1, m / 16))
        for (int c = 0; c < k; c++) {
            double s = 0, a = 0;
            for (int j = 0; j < n; j++) {
                const double t = (double)dz[(size_t)i * n + j] * w[(size_t)c * n + j];
                s += t;
                a += std::fabs(t);
            }
            const double got = dx[(size_t)i * k + c];
            if (!std::isfinite(got)) return INFINITY;
            worst = std::max(worst, std::fabs(got - s) / ((n + 2) * 0x1p-24 * a + 1e-300));
        }
    return worst;
}

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const char* ct = std::getenv("OPENBLAS_CORETYPE");
    const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
    openblas_set_num_threads(1);
    std::printf("# bench_input_grad: dx = dz . W^T, one thread, GFLOP/s of thread CPU time (median of %d interleaved repetitions)\n\n"
                "OpenBLAS %s, core %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n\n",
                quick ? 3 : 9, openblas_get_config(), openblas_get_corename(), ct ? ct : "(unset)", l2 ? l2 : "(unset)");
    struct Variant { const char* name; const d4j::GemmKernels* k; bool ok; };
    __builtin_cpu_init();
    const Variant variants[] = {
        {"avx512", &d4j::gemm_kernels_avx512(), __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")},
        {"avx2", &d4j::gemm_kernels_avx2(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
    };
    std::printf("| rows m | in k | out n |");
    for (const Variant& v : variants)
        if (v.ok) std::printf(" %s dot | %s packed |", v.name, v.name);
    std::printf(" OpenBLAS | best ours / OpenBLAS |\n|---|---|---|");
    for (const Variant& v : variants)
        if (v.ok) std::printf("---|---|");
    std::printf("---|---|\n");
    std::mt19937 g(3);
    std::uniform_real_distribution<float> d(-1, 1);
    const int reps = quick ? 3 : 9;
    for (int m : {8, 16, 32, 64, 128, 256, 512})
        for (int k : {784, 1024})
            for (int n : {128, 1024}) {
                std::vector<float> dz((size_t)m * n), w((size_t)k * n), dx((size_t)m * k);
                for (float& e : dz) e = d(g);
                for (float& e : w) e = d(g) * 0.1f;
                std::vector<std::pair<std::string, std::function<void()>>> methods;
                for (const Variant& v : variants) {
                    if (!v.ok) continue;
                    for (bool packed : {false, true})
                        methods.push_back({std::string(v.name) + (packed ? " packed" : " dot"), [&, v, packed] {
                                               d4j::NTArgs a;
                                               a.dz = dz.data(); a.lddz = n;
                                               a.w = w.data(); a.ldw = n;
                                               a.dx = dx.data(); a.lddx = k;
                                               a.m = m; a.n = n; a.k = k;
                                               a.packed = packed;
                                               v.k->nt(a);
                                           }});
                }
                methods.push_back({"OpenBLAS", [&] {
                                       cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, dz.data(), n,
                                                   w.data(), n, 0.0f, dx.data(), k);
                                   }});
                const double flops = 2.0 * m * n * k;
                const int iters = std::max(1, (int)((quick ? 0.02 : 0.05) * 100e9 / flops));  // ~20-50 ms per timing
                std::vector<std::vector<double>> gf(methods.size());
                for (size_t i = 0; i < methods.size(); i++) {  // check, and warm up
                    std::fill(dx.begin(), dx.end(), NAN);
                    methods[i].second();
                    const double r = worst_ratio(dx, dz, w, m, n, k);
                    if (!(r <= 1.0)) {
                        std::printf("FAIL: %s %dx%dx%d: error / bound %.3g\n", methods[i].first.c_str(), m, k, n, r);
                        return 1;
                    }
                }
                for (int r = 0; r < reps; r++)
                    for (size_t i = 0; i < methods.size(); i++) {
                        const double t0 = thread_cpu_seconds();
                        for (int it = 0; it < iters; it++) methods[i].second();
                        const double s = thread_cpu_seconds() - t0;
                        gf[i].push_back(flops * iters / s / 1e9);
                    }
                std::printf("| %d | %d | %d |", m, k, n);
                double best = 0;
                for (size_t i = 0; i < methods.size(); i++) {
                    const double med = median(gf[i]);
                    std::printf(" %.1f |", med);
                    if (i + 1 < methods.size()) best = std::max(best, med);
                }
                std::printf(" %.2f |\n", best / median(gf.back()));
                std::fflush(stdout);
            }
    return 0;
}
