// Shared by the CUDA kernel test program (cuda_kernels_test: one file per op in cuda/tests/, main in
// cuda_kernels_test.cu): device buffers, random inputs, the comparison against the float64 reference
// (native/reference/) and the run's counters. Compiled by nvcc for the GPU, and as C++ over the CPU execution
// harness (D4J_CUDA_EMULATION, cuda/emu/).
#pragma once
#include "dense4j_cuda.h"
#include "reference.h"
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

inline int g_fail = 0, g_checks = 0;
inline std::mt19937_64 g_rng;  // one generator for the whole run, seeded in main (D4J_TEST_SEED)
inline bool g_quick = false;   // D4J_TEST_QUICK=1: a short subset (compute-sanitizer)
#ifdef D4J_CUDA_EMULATION
#include "cuda_runtime.h"  // the harness's d4j_emu_* test hooks
inline constexpr bool g_emulated = true;
#else
inline constexpr bool g_emulated = false;
#endif

#define API(call)                                                                                    \
    do {                                                                                             \
        int rc_ = (call);                                                                            \
        if (rc_ != 0) {                                                                              \
            ++g_fail;                                                                                \
            printf("FAIL %s:%d %s -> %d: %s\n", __FILE__, __LINE__, #call, rc_, d4j_cuda_last_error()); \
        }                                                                                            \
    } while (0)

template <typename T>
struct Dev {
    T* p = nullptr;
    size_t n = 0;
    explicit Dev(size_t count) : n(count) {
        p = (T*)d4j_cuda_malloc((int64_t)(count ? count : 1) * sizeof(T));
        if (!p) { printf("FATAL d4j_cuda_malloc: %s\n", d4j_cuda_last_error()); exit(1); }
    }
    Dev(const std::vector<T>& v) : Dev(v.size()) { up(v); }
    ~Dev() { d4j_cuda_free(p); }
    Dev(const Dev&) = delete;
    void up(const std::vector<T>& v) { API(d4j_cuda_memcpy_h2d(p, v.data(), (int64_t)(v.size() * sizeof(T)))); }
    std::vector<T> down() const {
        std::vector<T> v(n);
        API(d4j_cuda_memcpy_d2h(v.data(), p, (int64_t)(n * sizeof(T))));
        return v;
    }
    void poison() { API(d4j_cuda_memset(p, 0xFF, (int64_t)(n * sizeof(T)))); }  // NaN for floats
    void zero() { API(d4j_cuda_memset(p, 0, (int64_t)(n * sizeof(T)))); }
};

inline std::vector<float> randn(size_t n, double sd = 1.0) {
    std::normal_distribution<double> d(0, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = (float)d(g_rng);
    return v;
}
inline ref::V to_d(const std::vector<float>& v) { return ref::V(v.begin(), v.end()); }

// Compares got against want: NaN never passes; relative error ||got-want|| / max(||want||, scale) <= tol
// (or max |err| <= tol when both are 0). scale: the size of the inputs the result was computed from, where the
// result itself can be much smaller than they are (an element of a single-element update that cancels).
inline bool compare(const std::string& what, const std::vector<float>& got, const ref::V& want, double tol,
                    double scale = 0) {
    ++g_checks;
    double num = 0, den = 0, maxabs = 0;
    size_t bad = 0;
    bool ok = got.size() == want.size();
    for (size_t i = 0; ok && i < got.size(); ++i) {
        if (!std::isfinite(got[i]) && std::isfinite(want[i])) { ++bad; continue; }
        double e = (double)got[i] - want[i];
        num += e * e;
        den += want[i] * want[i];
        maxabs = std::max(maxabs, std::fabs(e));
    }
    const double norm = std::max(std::sqrt(den), scale);
    double rel = norm > 0 ? std::sqrt(num) / norm : maxabs;
    ok = ok && bad == 0 && rel <= tol && std::isfinite(rel);
    if (!ok) ++g_fail;
    printf("%-4s %-72s rel %.2e max|err| %.2e%s\n", ok ? "ok" : "FAIL", what.c_str(), rel, maxabs,
           bad ? (" non-finite: " + std::to_string(bad)).c_str() : "");
    return ok;
}
inline void expect(bool ok, const std::string& what) {
    ++g_checks;
    if (!ok) ++g_fail;
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what.c_str());
}

inline const char* act_name(int a) {
    static const char* n[] = {"linear", "relu", "sigmoid", "tanh", "gelu", "softmax"};
    return n[a];
}

// ---- networks (net_test.cu, loss_test.cu, cuda_kernels_test.cu) ----------------------------------------------
struct NetSpec {
    const char* name;
    std::vector<int> sizes, acts;
    std::vector<float> drop;
    int loss, opt;
    float hp[5];
    float clip_norm, clip_value;
    int batch, steps;  // steps full batches + a partial tail
    int data;          // DATA_HALF: float data times 0.5; DATA_U8: uint8 times 1/255; DATA_F32: float times 1
    double lr;
};
enum { DATA_HALF = 0, DATA_U8 = 1, DATA_F32 = 2 };  // DATA_F32 is the direct path (no gather) of forward

struct GpuNet {
    Dev<float> params, grads, state;
    d4j_cuda_net* net = nullptr;
    GpuNet(const NetSpec& s, const std::vector<float>& p0, int max_batch)
        : params(p0), grads(p0.size()), state(3 * p0.size()) {
        state.zero();
        std::vector<int32_t> sz(s.sizes.begin(), s.sizes.end()), ac(s.acts.begin(), s.acts.end());
        net = d4j_cuda_net_create((int)s.acts.size(), sz.data(), ac.data(), s.drop.data(), s.loss, max_batch, params.p,
                                  grads.p, s.opt, s.hp, state.p, s.clip_norm, s.clip_value);
        if (!net) { ++g_fail; printf("FAIL d4j_cuda_net_create: %s\n", d4j_cuda_last_error()); }
    }
    ~GpuNet() { d4j_cuda_net_destroy(net); }
};

// one function per op family, called in this order by main (the order of the random draws)
void test_gemm();
void test_dense();
void test_losses();
void test_optimizers();
void test_data();
void test_net(const NetSpec& s);
void test_nonfinite();
void test_bad_labels();

