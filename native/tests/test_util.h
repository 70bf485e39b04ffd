// Shared test utilities: a seeded RNG, NaN poisoning, and comparisons that report max abs error and
// relative L2 error against a float64 reference (NaN never passes). Each test program returns
// `failures() != 0` from main, so ctest sees a non-zero exit code on any failure.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstdint>
#include <random>
#include <string>
#include <vector>
#include "dense4j.h"

namespace t {

inline int& failures() { static int f = 0; return f; }
inline int& checks() { static int c = 0; return c; }
inline bool& verbose() { static bool v = std::getenv("D4J_TEST_VERBOSE") != nullptr; return v; }

inline void fail(const std::string& msg) {
    failures()++;
    std::printf("FAIL: %s\n", msg.c_str());
}
inline void expect(bool ok, const std::string& msg) {
    checks()++;
    if (!ok) fail(msg);
}

struct Rng {
    std::mt19937_64 g;
    explicit Rng(uint64_t seed) : g(seed) {}
    double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g); }
    // uniform in [lo, hi] but never (nearly) zero: random data must not hide unwritten outputs or relu kinks
    float nonzero(double lo, double hi) {
        for (;;) { float v = (float)uniform(lo, hi); if (std::fabs(v) > 1e-3f) return v; }
    }
    int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
    std::vector<float> vec(size_t n, double lo = -1.0, double hi = 1.0) {
        std::vector<float> v(n);
        for (auto& e : v) e = nonzero(lo, hi);
        return v;
    }
};

inline std::vector<float> poisoned(size_t n) { return std::vector<float>(n, NAN); }
inline std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

struct Err { double max_abs = 0, rel_l2 = 0; bool finite = true; };

inline Err error(const float* got, const double* ref, size_t n) {
    Err e;
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!std::isfinite(got[i]) || !std::isfinite(ref[i])) { e.finite = false; continue; }
        const double d = (double)got[i] - ref[i];
        e.max_abs = std::max(e.max_abs, std::fabs(d));
        num += d * d;
        den += ref[i] * ref[i];
    }
    e.rel_l2 = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    return e;
}

// Passes when every element is finite (so every poisoned element was written), the relative L2 error is at
// most tol and no single element is off by more than tol_abs (default: 20 tol times the largest |ref|, min 1).
inline bool close(const std::string& what, const float* got, const double* ref, size_t n, double tol,
                  double tol_abs = -1) {
    checks()++;
    const Err e = error(got, ref, n);
    if (tol_abs < 0) {
        double mx = 1.0;
        for (size_t i = 0; i < n; i++) mx = std::max(mx, std::fabs(ref[i]));
        tol_abs = 20 * tol * mx;
    }
    const bool ok = e.finite && e.rel_l2 <= tol && e.max_abs <= tol_abs;
    if (!ok || verbose())
        std::printf("%s: %s n=%zu max_abs=%.3g rel_l2=%.3g%s (tol %.1g)\n", ok ? "ok" : "FAIL", what.c_str(), n,
                    e.max_abs, e.rel_l2, e.finite ? "" : " NON-FINITE/UNWRITTEN", tol);
    if (!ok) failures()++;
    return ok;
}
inline bool close(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref,
                  double tol, double tol_abs = -1) {
    if (got.size() != ref.size()) { fail(what + ": size mismatch"); return false; }
    return close(what, got.data(), ref.data(), got.size(), tol, tol_abs);
}
inline bool close_scalar(const std::string& what, double got, double ref, double tol) {
    checks()++;
    const double err = std::fabs(got - ref) / std::max(1.0, std::fabs(ref));
    const bool ok = std::isfinite(got) && err <= tol;
    if (!ok || verbose()) std::printf("%s: %s got=%.9g ref=%.9g rel=%.3g\n", ok ? "ok" : "FAIL", what.c_str(), got,
                                      ref, err);
    if (!ok) failures()++;
    return ok;
}

// the kernel variants (D4J_ISA_*), as D4J_CPU_ISA spells them
inline const char* isa_name(int isa) {
    return isa == D4J_ISA_PORTABLE ? "portable" : isa == D4J_ISA_AVX2 ? "avx2" : isa == D4J_ISA_AVX512 ? "avx512" : "?";
}
inline const char* act_name(int a) {
    static const char* n[] = {"linear", "relu", "sigmoid", "tanh", "gelu", "softmax"};
    return a >= 0 && a <= 5 ? n[a] : "?";
}
inline const char* loss_name(int l) {
    static const char* n[] = {"sparse_cce", "cce", "bce", "mse"};
    return l >= 0 && l <= 3 ? n[l] : "?";
}

inline int finish(const char* name) {
    std::printf("%s: %d checks, %d failures\n", name, checks(), failures());
    return failures() != 0;
}

}  // namespace t
