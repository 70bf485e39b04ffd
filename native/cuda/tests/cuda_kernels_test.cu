// Checks every CUDA kernel of libdense4j_cuda against the float64 CPU reference (reference.h) on random inputs
// of awkward sizes (1 to 1000, leading dimensions that are not multiples of 4, operands 4 bytes off a 16-byte
// boundary, split-K up to 16 ways, more than 65535 row tiles), outputs poisoned (NaN) before each kernel runs, with
// the tolerances of shared/docs/kernels.md; then whole training steps and many steps of loss of several networks,
// and bad input (labels out of range) reported as such.
// Without a CUDA device or driver it prints why and exits 77, which ctest reports as skipped (never passed); with
// D4J_REQUIRE_GPU=1 (scripts/gpu-check.sh on the GPU machine) a missing device is a failure (exit 1).
// `cuda_kernels_test --probe` only reports the device (exit 0) or why there is none (exit 77).
// The same file, compiled as C++ over the CPU execution harness (D4J_CUDA_EMULATION, cuda/emu/), runs as
// cuda_kernels_emu_test in every build: an emulation profile of sizes that runs in about a minute on one core,
// plus checks only an emulator can make (injected CUDA failures, the harness's own problem reports).
// Environment: D4J_TEST_SEED fixes the random seed (printed at start); D4J_TEST_QUICK=1 runs a short subset
// (used under compute-sanitizer).
#include "dense4j_cuda.h"
#include "reference.h"
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

static int g_fail = 0, g_checks = 0;
static std::mt19937_64 g_rng;
static bool g_quick = false;
#ifdef D4J_CUDA_EMULATION
#include "cuda_runtime.h"  // the harness's d4j_emu_* test hooks
static const bool g_emulated = true;
#else
static const bool g_emulated = false;
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

static std::vector<float> randn(size_t n, double sd = 1.0) {
    std::normal_distribution<double> d(0, sd);
    std::vector<float> v(n);
    for (auto& x : v) x = (float)d(g_rng);
    return v;
}
static ref::vec to_d(const std::vector<float>& v) { return ref::vec(v.begin(), v.end()); }

// Compares got against want: NaN never passes; relative error ||got-want|| / max(||want||, scale) <= tol
// (or max |err| <= tol when both are 0). scale: the size of the inputs the result was computed from, where the
// result itself can be much smaller than they are (an element of a single-element update that cancels).
static bool compare(const std::string& what, const std::vector<float>& got, const ref::vec& want, double tol,
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
static void expect(bool ok, const std::string& what) {
    ++g_checks;
    if (!ok) ++g_fail;
    printf("%-4s %s\n", ok ? "ok" : "FAIL", what.c_str());
}

static const char* act_name(int a) {
    static const char* n[] = {"linear", "relu", "sigmoid", "tanh", "gelu", "softmax"};
    return n[a];
}

// ---- GEMM: every layout, variant and precision --------------------------------------------------------------
// pad: added to every leading dimension; off: floats by which A, B and C start past a 16-byte boundary (the
// float4 paths must fall back to scalar loads); K = 1100 against 2 output tiles gives 16-way split-K.
struct GemmShape { int M, N, K, pad, off; };

static void check_gemm(const GemmShape& s, int layout, const int* variants, int n_variants, bool tf32_too) {
    static const char* vname[] = {"auto", "simple", "tile128", "tile64", "tile32"};
    const bool ta = layout == 2, tb = layout == 1;
    const int lda = (ta ? s.M : s.K) + s.pad, ldb = (tb ? s.K : s.N) + s.pad, ldc = s.N + s.pad;
    const size_t a_rows = ta ? s.K : s.M, b_rows = tb ? s.N : s.K;
    auto A = randn(a_rows * lda), B = randn(b_rows * ldb);
    ref::vec want = ref::gemm(ta, tb, s.M, s.N, s.K, A.data(), lda, B.data(), ldb);
    std::vector<float> A0(s.off, 0.f), B0(s.off, 0.f);
    A0.insert(A0.end(), A.begin(), A.end());
    B0.insert(B0.end(), B.begin(), B.end());
    Dev<float> dA(A0), dB(B0), dC((size_t)s.M * ldc + s.off);
    for (int vi = 0; vi < n_variants; ++vi) {
        const int v = variants[vi];
        for (int prec = 0; prec < 2; ++prec) {
            if (prec == 1 && (v == D4J_CUDA_GEMM_SIMPLE || !tf32_too)) continue;
            API(d4j_cuda_set_gemm_variant(v));
            API(d4j_cuda_set_precision(prec));
            dC.poison();
            API(d4j_cuda_gemm(ta, tb, s.M, s.N, s.K, dA.p + s.off, lda, dB.p + s.off, ldb, dC.p + s.off, ldc));
            API(d4j_cuda_synchronize());
            auto C = dC.down();
            std::vector<float> got((size_t)s.M * s.N);
            for (int r = 0; r < s.M; ++r)
                for (int c = 0; c < s.N; ++c) got[(size_t)r * s.N + c] = C[s.off + (size_t)r * ldc + c];
            char what[160];
            snprintf(what, sizeof what, "gemm %s %dx%dx%d ld+%d off+%d %s %s", ta ? "TN" : tb ? "NT" : "NN", s.M, s.N,
                     s.K, s.pad, s.off, vname[v], prec ? "tf32" : "fp32");
            compare(what, got, want, prec ? 2e-3 : 1e-5);
        }
    }
}

static void test_gemm() {
    std::vector<GemmShape> shapes = {{1, 1, 1, 0, 0}, {31, 33, 127, 0, 1}, {33, 31, 784, 1, 0}, {127, 1000, 33, 0, 3},
                                     {32, 128, 784, 0, 0}, {32, 10, 128, 0, 2}, {784, 128, 32, 0, 0},
                                     {1000, 127, 31, 3, 1}, {4096, 33, 127, 0, 0}, {31, 4096, 64, 0, 0},
                                     {256, 1024, 1024, 0, 0}, {33, 31, 1100, 1, 1}, {130, 129, 65, 2, 3}};
    if (g_emulated)
        shapes = {{1, 1, 1, 0, 0}, {31, 33, 127, 0, 1}, {33, 31, 785, 1, 0}, {127, 1000, 33, 0, 3},
                  {32, 128, 784, 0, 0}, {32, 10, 128, 0, 2}, {784, 128, 32, 0, 0}, {1000, 127, 31, 3, 1},
                  {4096, 33, 127, 0, 0}, {130, 129, 65, 2, 3}, {33, 31, 1100, 1, 1}, {7, 5, 1024, 0, 2}};
    const int all[] = {D4J_CUDA_GEMM_SIMPLE, D4J_CUDA_GEMM_AUTO, D4J_CUDA_GEMM_TILE_L, D4J_CUDA_GEMM_TILE_M,
                       D4J_CUDA_GEMM_TILE_S};
    if (g_quick) shapes = {{31, 33, 127, 0, 1}, {130, 129, 65, 2, 3}};  // every kernel, small (sanitizers)
    for (const GemmShape& s : shapes)
        for (int layout = 0; layout < 3; ++layout) check_gemm(s, layout, all, 5, true);
    // More than 65535 tiles of rows (gridDim.y stopped at 65535): 32-row tiles and the 16-row simple kernel.
    if (!g_quick) {
        const int tile_s[] = {D4J_CUDA_GEMM_TILE_S}, simple[] = {D4J_CUDA_GEMM_SIMPLE};
        check_gemm({65535 * 32 + 33, 3, 2, 0, 1}, 0, tile_s, 1, false);
        check_gemm({65535 * 16 + 5, 2, 3, 1, 0}, 1, simple, 1, false);
    }
    API(d4j_cuda_set_gemm_variant(D4J_CUDA_GEMM_AUTO));
    API(d4j_cuda_set_precision(D4J_CUDA_PRECISION_FP32));
}

// ---- dense forward / activation backward / dense backward ---------------------------------------------------
static void test_dense() {
    struct Shape { int n, in, out; };
    std::vector<Shape> shapes = {{1, 1, 1}, {31, 784, 127}, {33, 33, 10}, {127, 1, 1000}, {32, 784, 128}, {1000, 31, 33}};
    if (g_quick) shapes = {{31, 784, 127}};
    for (const Shape& s : shapes) {
        auto x = randn((size_t)s.n * s.in), w = randn((size_t)s.in * s.out, 1.0 / std::sqrt(s.in)), b = randn(s.out);
        ref::vec z = ref::gemm(false, false, s.n, s.out, s.in, x.data(), s.in, w.data(), s.out);
        for (int r = 0; r < s.n; ++r) for (int c = 0; c < s.out; ++c) z[(size_t)r * s.out + c] += b[c];
        Dev<float> dx(x), dw(w), db(b), dz((size_t)s.n * s.out), dy((size_t)s.n * s.out);
        for (int act = 0; act <= 5; ++act) {
            ref::vec y;
            ref::activate(act, z, y, s.n, s.out);
            dz.poison();
            dy.poison();
            API(d4j_cuda_dense_forward(dx.p, dw.p, db.p, dz.p, dy.p, s.n, s.in, s.out, act));
            char what[160];
            snprintf(what, sizeof what, "dense_forward %dx%dx%d %s: z", s.n, s.in, s.out, act_name(act));
            compare(what, dz.down(), z, 1e-5);
            snprintf(what, sizeof what, "dense_forward %dx%dx%d %s: y", s.n, s.in, s.out, act_name(act));
            // GELU's 1 + erf(z / sqrt 2) cancels for z << 0 (in float, as in PyTorch): accurate to ~1e-7 |z|
            double z2 = 0;
            for (double v : z) z2 += v * v;
            compare(what, dy.down(), y, 1e-5, act == D4J_CUDA_ACT_GELU ? std::sqrt(z2) : 0.0);
            // activation backward (float inputs: the computed z and y, a random dy and a dropout-like mask)
            auto zf = dz.down(), yf = dy.down();
            auto g = randn((size_t)s.n * s.out);
            std::vector<float> mask(g.size());
            for (auto& m : mask) m = (g_rng() % 4 == 0) ? 0.f : 1.f / 0.75f;
            ref::vec md = to_d(mask);
            ref::vec want = ref::act_backward(act, to_d(zf), to_d(yf), &md, to_d(g), s.n, s.out);
            Dev<float> dg(g), dm(mask), dd((size_t)s.n * s.out);
            dd.poison();
            API(d4j_cuda_activation_backward(dz.p, dy.p, dm.p, dg.p, dd.p, s.n, s.out, act));
            snprintf(what, sizeof what, "activation_backward %dx%d %s (mask)", s.n, s.out, act_name(act));
            // act' computed from the float output (1 - y^2, y (1 - y)) cancels where the activation saturates: it
            // is accurate to ~1e-7 absolute, so the error is measured against the incoming gradient g (.) mask
            double gm2 = 0;
            for (size_t i = 0; i < g.size(); ++i) gm2 += (double)g[i] * mask[i] * g[i] * mask[i];
            compare(what, dd.down(), want, 1e-6, std::sqrt(gm2));
        }
        // dense backward
        auto g = randn((size_t)s.n * s.out);
        Dev<float> dg(g), dW((size_t)s.in * s.out), dB(s.out), dX((size_t)s.n * s.in);
        dW.poison(); dB.poison(); dX.poison();
        API(d4j_cuda_dense_backward(dx.p, dw.p, dg.p, dW.p, dB.p, dX.p, s.n, s.in, s.out));
        ref::vec wantW = ref::gemm(true, false, s.in, s.out, s.n, x.data(), s.in, g.data(), s.out);
        ref::vec wantX = ref::gemm(false, true, s.n, s.in, s.out, g.data(), s.out, w.data(), s.out);
        ref::vec wantB(s.out, 0.0);
        for (int r = 0; r < s.n; ++r) for (int c = 0; c < s.out; ++c) wantB[c] += g[(size_t)r * s.out + c];
        char what[160];
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: dW", s.n, s.in, s.out);
        compare(what, dW.down(), wantW, 1e-5);
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: db", s.n, s.in, s.out);
        compare(what, dB.down(), wantB, 1e-5);
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: dx", s.n, s.in, s.out);
        compare(what, dX.down(), wantX, 1e-5);
    }
}

// ---- losses -----------------------------------------------------------------------------------------------------
static void test_losses() {
    struct Shape { int n, k; };
    std::vector<Shape> shapes = {{1, 1}, {31, 10}, {33, 33}, {1000, 10}, {127, 1000}};
    if (g_quick) shapes = {{31, 10}};
    for (const Shape& s : shapes) {
        for (int kind = 0; kind <= 3; ++kind) {
            auto out = randn((size_t)s.n * s.k, 2.0);
            if (kind == ref::MSE) for (auto& v : out) v = std::tanh(v);
            std::vector<int32_t> labels(s.n);
            std::vector<float> targets((size_t)s.n * s.k);
            for (int r = 0; r < s.n; ++r) {
                labels[r] = (int)(g_rng() % s.k);
                for (int c = 0; c < s.k; ++c)
                    targets[(size_t)r * s.k + c] = kind == ref::CCE ? (float)(g_rng() % 3) / 4.f
                                                 : kind == ref::BCE ? (float)(g_rng() % 2)
                                                                    : (float)std::normal_distribution<double>(0, 1)(g_rng);
            }
            const double gs = 0.5;
            ref::LossResult R = ref::loss(kind, to_d(out), labels.data(), targets.data(), s.n, s.k, gs);
            Dev<float> dout(out), dt(targets), dgrad((size_t)s.n * s.k), dprob((size_t)s.n * s.k);
            Dev<int32_t> dl(labels);
            dgrad.poison();
            dprob.poison();
            double sum = 0;
            int64_t correct = -1;
            API(d4j_cuda_loss(kind, dout.p, dl.p, dt.p, dgrad.p, kind == ref::MSE ? nullptr : dprob.p, s.n, s.k,
                              (float)gs, &sum, &correct));
            char what[160];
            static const char* kn[] = {"sparse_cce", "cce", "bce", "mse"};
            snprintf(what, sizeof what, "loss %s %dx%d: grad", kn[kind], s.n, s.k);
            // p - t cancels when p is near t: each row's gradient is accurate to ~1e-7 of its natural size
            // (grad_scale / n per element for CE, / (n k) for BCE and MSE)
            const double unit = gs / s.n / (kind <= ref::CCE ? 1.0 : s.k) * std::sqrt((double)s.n * s.k);
            compare(what, dgrad.down(), R.grad, 1e-6, unit);
            if (kind != ref::MSE) {
                snprintf(what, sizeof what, "loss %s %dx%d: probs", kn[kind], s.n, s.k);
                compare(what, dprob.down(), R.probs, 1e-6);
            }
            snprintf(what, sizeof what, "loss %s %dx%d: sum", kn[kind], s.n, s.k);
            compare(what, {(float)sum}, {R.sum}, 1e-5);
            snprintf(what, sizeof what, "loss %s %dx%d: correct %lld == %lld", kn[kind], s.n, s.k, (long long)correct,
                     (long long)R.correct);
            expect(correct == R.correct, what);
        }
    }
}

// ---- optimizers and clipping ---------------------------------------------------------------------------------------
static void test_optimizers() {
    struct Case { int kind; float hp[5]; const char* name; };
    const Case cases[] = {
        {ref::SGD, {0, 0, 0, 0, 0}, "sgd"},
        {ref::SGD, {0.9f, 0.1f, 1e-2f, 0, 0}, "sgd momentum dampening wd"},
        {ref::SGD, {0.9f, 0, 0, 1, 0}, "sgd nesterov"},
        {ref::ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, "adam"},
        {ref::ADAM, {0.8f, 0.99f, 1e-8f, 1e-2f, 1}, "adam wd amsgrad"},
        {ref::ADAMW, {0.9f, 0.999f, 1e-8f, 1e-2f, 0}, "adamw"},
        {ref::ADAMW, {0.9f, 0.999f, 1e-8f, 1e-2f, 1}, "adamw amsgrad"},
        {ref::RMSPROP, {0.99f, 1e-8f, 0, 0, 0}, "rmsprop"},
        {ref::RMSPROP, {0.9f, 1e-7f, 1e-2f, 0.9f, 1}, "rmsprop wd momentum centered"},
    };
    std::vector<int> sizes = {1, 1000, 101770};
    if (g_quick) sizes = {1000};
    for (int n : sizes) {
        for (const Case& c : cases) {
            auto p = randn(n), st0 = std::vector<float>(3 * (size_t)n, 0.f);
            Dev<float> dp(p), dg(n), ds(st0);
            ref::vec rp = to_d(p), rs(3 * (size_t)n, 0.0);
            ref::Hyper H{c.kind, {c.hp[0], c.hp[1], c.hp[2], c.hp[3], c.hp[4]}};
            const double lr = 1e-2;
            for (int t = 1; t <= 3; ++t) {
                auto g = randn(n, 0.1);
                dg.up(g);
                // the reference starts from the GPU's float state, so each step is checked on its own
                rp = to_d(dp.down());
                auto sf = ds.down();
                rs = to_d(sf);
                ref::vec before = rp;
                ref::optimizer(H, lr, t, rp, to_d(g), rs);
                API(d4j_cuda_optimizer_step(c.kind, c.hp, (float)lr, t, dp.p, dg.p, ds.p, n));
                auto got = dp.down();
                std::vector<float> dgot(n);
                ref::vec dwant(n);
                double err2 = 0, want2 = 0, p2 = 0, before2 = 0, inputs2 = 0;
                for (size_t i = 0; i < rs.size(); ++i) inputs2 += (double)sf[i] * sf[i];
                for (int i = 0; i < n; ++i) {
                    before2 += before[i] * before[i];
                    inputs2 += (double)g[i] * g[i];
                    dgot[i] = (float)((double)got[i] - before[i]);
                    dwant[i] = rp[i] - before[i];
                    err2 += (dgot[i] - dwant[i]) * (dgot[i] - dwant[i]);
                    want2 += dwant[i] * dwant[i];
                    p2 += rp[i] * rp[i];
                }
                char what[160];
                // relative to the larger of p and its update: a single element of p can be near 0
                snprintf(what, sizeof what, "optimizer %s n=%d step %d: params", c.name, n, t);
                compare(what, got, rp, 1e-6, std::max(std::sqrt(before2), std::sqrt(want2)));
                // the update as the float p shows it: within 2e-4 of the reference, plus the rounding of p to float
                // (half an ulp per element, at most 2^-24 |p|), which dominates when one element moves little
                const double allowed = 2e-4 * std::sqrt(want2) + std::ldexp(std::sqrt(p2), -24);
                snprintf(what, sizeof what, "optimizer %s n=%d step %d: update error %.2e <= %.2e", c.name, n, t,
                         std::sqrt(err2), allowed);
                expect(std::isfinite(err2) && std::sqrt(err2) <= allowed && dgot.size() == dwant.size(), what);
                // relative to the state and gradient it was computed from: one element of mu b + (1 - d) g (or of
                // a centered average) can cancel to almost nothing in FP32
                snprintf(what, sizeof what, "optimizer %s n=%d step %d: state", c.name, n, t);
                compare(what, ds.down(), rs, 1e-6, std::sqrt(inputs2));
            }
        }
        // clipping
        auto g = randn(n);
        for (int mode = 0; mode < 3; ++mode) {
            double max_norm = mode == 1 ? 0.0 : 0.5, cv = mode == 0 ? 0.0 : 0.3;
            ref::vec rg = to_d(g);
            double rn = ref::clip(rg, max_norm, cv);
            Dev<float> dg(g);
            float norm = -1;
            API(d4j_cuda_clip_gradients(dg.p, n, (float)max_norm, (float)cv, &norm));
            char what[160];
            snprintf(what, sizeof what, "clip n=%d max_norm %.1f clip_value %.1f: grads", n, max_norm, cv);
            compare(what, dg.down(), rg, 1e-6);
            snprintf(what, sizeof what, "clip n=%d max_norm %.1f clip_value %.1f: norm", n, max_norm, cv);
            compare(what, {norm}, {rn}, 1e-6);
        }
    }
}

// ---- gather, permutation, dropout -----------------------------------------------------------------------------------
static void test_data() {
    const int N = 1000, width = 784;
    std::vector<uint8_t> u8((size_t)N * width);
    for (auto& v : u8) v = (uint8_t)(g_rng() & 255);
    std::vector<float> f32 = randn((size_t)N * width);
    Dev<uint8_t> du8(u8);
    Dev<float> df(f32);
    for (int64_t n : {1LL, 31LL, 1000LL, 60000LL}) {
        Dev<int32_t> order(n);
        order.poison();
        API(d4j_cuda_permutation(order.p, n, 42 + n));
        auto o = order.down();
        std::vector<char> seen(n, 0);
        bool ok = true;
        for (int32_t v : o) { if (v < 0 || v >= n || seen[v]) { ok = false; break; } seen[v] = 1; }
        int fixed = 0;
        for (int64_t i = 0; i < n; ++i) fixed += o[i] == i;
        expect(ok && (n < 1000 || fixed < n / 100), "permutation n=" + std::to_string(n) + " is a shuffled permutation (fixed points " + std::to_string(fixed) + ")");
        Dev<int32_t> order2(n);
        API(d4j_cuda_permutation(order2.p, n, 43 + n));
        expect(n < 31 || order2.down() != o, "permutation n=" + std::to_string(n) + " changes with the seed");
    }
    for (int w : {1, 31, 784}) {
        const int rows = 33, first = 5;
        std::vector<int32_t> ord(N);
        for (int i = 0; i < N; ++i) ord[i] = (int32_t)((i * 7919) % N);
        Dev<int32_t> dord(ord);
        Dev<float> out((size_t)rows * w);
        ref::vec want((size_t)rows * w), wantf((size_t)rows * w);
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < w; ++c) {
                want[(size_t)r * w + c] = u8[(size_t)ord[first + r] * w + c] / 255.0;
                wantf[(size_t)r * w + c] = f32[(size_t)ord[first + r] * w + c] * 0.5;
            }
        out.poison();
        API(d4j_cuda_gather_u8(du8.p, 1.f / 255.f, w, dord.p, first, rows, out.p));
        compare("gather_u8 width " + std::to_string(w), out.down(), want, 1e-6);
        out.poison();
        API(d4j_cuda_gather_f32(df.p, 0.5f, w, dord.p, first, rows, out.p));
        compare("gather_f32 width " + std::to_string(w), out.down(), wantf, 1e-6);
    }
    for (float rate : {0.f, 0.1f, 0.5f}) {
        const int rows = 127, w = 33;
        Dev<float> m((size_t)rows * w);
        m.poison();
        API(d4j_cuda_dropout_mask(m.p, rows, w, rate, 99, 12, 3));
        ref::vec want((size_t)rows * w);
        for (size_t i = 0; i < want.size(); ++i) want[i] = rate > 0 ? ref::dropout(99, 12, 3, i, rate) : 1.0;
        auto got = m.down();
        double kept = 0;
        for (float v : got) kept += v != 0.f;
        compare("dropout mask rate " + std::to_string(rate), got, want, 1e-7);
        expect(std::fabs(kept / got.size() - (1 - rate)) < 0.05, "dropout keep fraction " + std::to_string(kept / got.size()));
    }
}

// ---- whole networks ----------------------------------------------------------------------------------------------------
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

static void test_net(const NetSpec& s) {
    const int in = s.sizes.front(), k = s.sizes.back(), L = (int)s.acts.size();
    const int rows = s.batch * s.steps + s.batch / 2 + 1;  // a partial last batch
    const int n_batches = s.steps + 1;
    std::vector<int32_t> sz(s.sizes.begin(), s.sizes.end());
    const int64_t P = d4j_cuda_param_count(L, sz.data());
    // data: uint8 images scaled by 1/255 or floats scaled by 0.5
    std::vector<uint8_t> xu((size_t)rows * in);
    std::vector<float> xf = randn((size_t)rows * in);
    for (auto& v : xu) v = (uint8_t)(g_rng() & 255);
    const bool u8 = s.data == DATA_U8;
    const float scale = u8 ? 1.f / 255.f : s.data == DATA_F32 ? 1.f : 0.5f;
    std::vector<int32_t> labels(rows);
    std::vector<float> targets((size_t)rows * k);
    for (int r = 0; r < rows; ++r) {
        labels[r] = (int)(g_rng() % k);
        for (int c = 0; c < k; ++c)
            targets[(size_t)r * k + c] = s.loss == ref::CCE ? (c == labels[r] ? 0.9f : 0.1f / (k - 1))
                                       : s.loss == ref::BCE ? (float)(g_rng() % 2)
                                                            : (float)std::normal_distribution<double>(0, 0.5)(g_rng);
    }
    Dev<uint8_t> dxu(xu);
    Dev<float> dxf(xf), dt(targets);
    Dev<int32_t> dl(labels), dord(rows);
    API(d4j_cuda_permutation(dord.p, rows, 7));
    auto order = dord.down();
    const void* X = u8 ? (const void*)dxu.p : (const void*)dxf.p;
    const int xtype = u8 ? D4J_CUDA_DATA_U8 : D4J_CUDA_DATA_F32;
    // initial parameters (Glorot-like), the reference starts from the same floats
    std::vector<float> p0((size_t)P);
    {
        size_t o = 0;
        for (int l = 0; l < L; ++l) {
            auto w = randn((size_t)s.sizes[l] * s.sizes[l + 1], std::sqrt(2.0 / (s.sizes[l] + s.sizes[l + 1])));
            std::copy(w.begin(), w.end(), p0.begin() + o);
            o += w.size();
            auto b = randn(s.sizes[l + 1], 0.05);
            std::copy(b.begin(), b.end(), p0.begin() + o);
            o += b.size();
        }
    }
    ref::Net R;
    R.sizes = s.sizes; R.acts = s.acts; R.drop.assign(s.drop.begin(), s.drop.end()); R.loss_kind = s.loss;
    R.opt = {s.opt, {s.hp[0], s.hp[1], s.hp[2], s.hp[3], s.hp[4]}};
    R.clip_norm = s.clip_norm; R.clip_value = s.clip_value;
    R.params = to_d(p0); R.state.assign(3 * (size_t)P, 0.0);
    R.seed = 2024;
    auto batch_x = [&](int64_t first, int n) {
        ref::vec x((size_t)n * in);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < in; ++c)
                x[(size_t)r * in + c] = u8 ? (double)(float)(xu[(size_t)order[first + r] * in + c] * scale)
                                             : (double)(float)(xf[(size_t)order[first + r] * in + c] * scale);
        return x;
    };
    auto batch_lab = [&](int64_t first, int n, std::vector<int32_t>& lb, std::vector<float>& tg) {
        lb.resize(n); tg.resize((size_t)n * k);
        for (int r = 0; r < n; ++r) {
            lb[r] = labels[order[first + r]];
            for (int c = 0; c < k; ++c) tg[(size_t)r * k + c] = targets[(size_t)order[first + r] * k + c];
        }
    };
    std::vector<float> lrs(n_batches);
    for (int i = 0; i < n_batches; ++i) lrs[i] = (float)(s.lr * (1.0 - 0.5 * i / n_batches));

    // (1) step by step, one call per step: loss of every step, gradients of the first step, params at the end
    GpuNet A(s, p0, s.batch);
    if (!A.net) return;
    int64_t step = 0;
    double max_loss_rel = 0;
    int worst = -1;
    bool all_ok = true;
    for (int i = 0; i < n_batches; ++i) {
        const int64_t first = (int64_t)i * s.batch;
        const int n = (int)std::min<int64_t>(s.batch, rows - first);
        std::vector<int32_t> lb; std::vector<float> tg;
        batch_lab(first, n, lb, tg);
        ref::vec x = batch_x(first, n);
        ref::vec rg;
        if (i == 0) R.run(x, n, lb.data(), tg.data(), true, &rg);
        double rl = R.train_step(x, n, lb.data(), tg.data(), lrs[i]) / n;
        double stats[3] = {0, 0, 0};
        int rc = d4j_cuda_net_train(A.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, first, s.batch, 1, &lrs[i], &step,
                                    R.seed, stats);
        if (rc) { all_ok = false; printf("FAIL net_train rc %d: %s\n", rc, d4j_cuda_last_error()); ++g_fail; break; }
        double gl = stats[0] / stats[2];
        double rel = std::fabs(gl - rl) / std::max(1e-12, std::fabs(rl));
        if (rel > max_loss_rel) { max_loss_rel = rel; worst = i; }
        if (stats[2] != n) all_ok = false;
        if (i == 0) {
            compare(std::string(s.name) + ": step 1 loss", {(float)gl}, {rl}, 1e-5);
            compare(std::string(s.name) + ": step 1 gradients [dW; db]", A.grads.down(), rg, 1e-5);
            // Adam and RMSprop divide by sqrt(v) + eps: for a gradient element near eps, the FP32 gradient's last
            // bits move that element's first step by up to a few 1e-3 of lr (the gradients match at ~1e-7 above)
            compare(std::string(s.name) + ": step 1 params", A.params.down(), R.params, s.opt == ref::SGD ? 1e-6 : 1e-4);
            compare(std::string(s.name) + ": step 1 optimizer state", A.state.down(), R.state, 1e-5);
        }
    }
    expect(all_ok && step == n_batches, std::string(s.name) + ": every step trained, step counter " + std::to_string(step));
    char what[200];
    snprintf(what, sizeof what, "%s: loss of %d steps (worst step %d rel %.2e)", s.name, n_batches, worst, max_loss_rel);
    expect(max_loss_rel <= 1e-4, what);
    auto pA = A.params.down();
    compare(std::string(s.name) + ": params after " + std::to_string(n_batches) + " steps", pA, R.params, 1e-4);

    // (2) the same steps in ONE call (CUDA graphs of 8 and 1 steps + the uncaptured tail): bit-identical params
    GpuNet B(s, p0, s.batch);
    if (!B.net) return;
    int64_t stepB = 0;
    double statsB[3] = {0, 0, 0};
    API(d4j_cuda_net_train(B.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, 0, s.batch, n_batches, lrs.data(), &stepB,
                           R.seed, statsB));
    auto pB = B.params.down();
    expect(pB == pA && stepB == n_batches && statsB[2] == rows,
           std::string(s.name) + ": one call with graphs == step-by-step calls, bit for bit");

    // (3) evaluation forward over all rows, outputs and statistics
    {
        Dev<float> out((size_t)rows * k);
        out.poison();
        double st[3] = {0, 0, 0};
        std::vector<float> xs((size_t)rows * in);
        for (size_t i = 0; i < xs.size(); ++i) xs[i] = u8 ? xu[i] * scale : xf[i] * scale;
        API(d4j_cuda_net_forward(B.net, X, xtype, scale, rows, out.p, dl.p, dt.p, st));
        ref::Net E = R;
        E.params = to_d(pB);
        int64_t corr = 0;
        ref::vec outs;
        double rl = E.run(to_d(xs), rows, labels.data(), targets.data(), false, nullptr, &corr, &outs);
        compare(std::string(s.name) + ": forward outputs", out.down(), outs, 1e-5);
        compare(std::string(s.name) + ": forward loss", {(float)(st[0] / rows)}, {rl / rows}, 1e-5);
        expect(std::fabs(st[1] - corr) <= std::max(1.0, rows * 0.002) && st[2] == rows,
               std::string(s.name) + ": forward correct " + std::to_string((long long)st[1]) + " vs " + std::to_string(corr));
    }

    // (4) the simple GEMM variant and TF32 give the same training within their tolerances
    for (int mode = 0; mode < 2; ++mode) {
        if (g_quick) break;
        API(d4j_cuda_set_gemm_variant(mode == 0 ? D4J_CUDA_GEMM_SIMPLE : D4J_CUDA_GEMM_AUTO));
        API(d4j_cuda_set_precision(mode == 0 ? D4J_CUDA_PRECISION_FP32 : D4J_CUDA_PRECISION_TF32));
        GpuNet C(s, p0, s.batch);
        int64_t stepC = 0;
        double statsC[3] = {0, 0, 0};
        API(d4j_cuda_net_train(C.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, 0, s.batch, n_batches, lrs.data(),
                               &stepC, R.seed, statsC));
        compare(std::string(s.name) + (mode == 0 ? ": simple GEMMs, loss sum" : ": TF32, loss sum"), {(float)statsC[0]},
                {statsB[0]}, mode == 0 ? 1e-4 : 2e-2);
        // TF32 vs FP32 after up to 101 steps: Adam's normalised steps turn the ~1e-3 gradient differences of
        // parameters with tiny gradients into full-size differences, so the parameters drift by a few percent
        compare(std::string(s.name) + (mode == 0 ? ": simple GEMMs, params" : ": TF32, params"), C.params.down(),
                to_d(pB), mode == 0 ? 1e-4 : 5e-2);
    }
    API(d4j_cuda_set_gemm_variant(D4J_CUDA_GEMM_AUTO));
    API(d4j_cuda_set_precision(D4J_CUDA_PRECISION_FP32));
}

static void test_nonfinite() {
    NetSpec s{"nonfinite", {4, 3, 2}, {D4J_CUDA_ACT_LINEAR, D4J_CUDA_ACT_LINEAR}, {0, 0}, ref::MSE, ref::SGD,
              {0, 0, 0, 0, 0}, 0, 0, 4, 4, DATA_HALF, 1e30};
    std::vector<float> p0(d4j_cuda_param_count(2, std::vector<int32_t>{4, 3, 2}.data()), 1.f);
    GpuNet A(s, p0, 4);
    if (!A.net) return;
    std::vector<float> x(64, 1e10f), t(32, 0.f);
    Dev<float> dx(x), dt(t);
    std::vector<float> lrs(8, 1e30f);
    int64_t step = 0;
    double st[3] = {0, 0, 0};
    int rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, nullptr, dt.p, nullptr, 16, 0, 4, 4, lrs.data(), &step,
                                1, st);
    expect(rc == D4J_CUDA_ERR_NONFINITE && step < 4,
           "non-finite loss reported (rc " + std::to_string(rc) + ", step " + std::to_string(step) + "): " + d4j_cuda_last_error());
    int bad = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, nullptr, dt.p, nullptr, 16, 0, 5, 1, lrs.data(), &step, 1, st);
    expect(bad == D4J_CUDA_ERR_ARGUMENT, "batch above max_batch rejected");
}

// A label outside [0, k) is a bad argument, as on the CPU: reported with its row, nothing updated, nothing counted.
static void test_bad_labels() {
    const int n = 7, k = 5;
    auto logits = randn((size_t)n * k);
    std::vector<int32_t> labels(n);
    for (auto& l : labels) l = (int)(g_rng() % k);
    labels[3] = k;
    labels[5] = -1;
    Dev<float> dz(logits), dg((size_t)n * k);
    Dev<int32_t> dl(labels);
    double sum = -1;
    int rc = d4j_cuda_loss(D4J_CUDA_LOSS_SPARSE_CCE, dz.p, dl.p, nullptr, dg.p, nullptr, n, k, 1.f, &sum, nullptr);
    std::string msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && msg.find("label 5 of row 3") != std::string::npos && sum == -1,
           "loss: label k is a bad argument naming the first bad row (rc " + std::to_string(rc) + "): " + msg);

    // training: one bad label among the rows of the call -> no step at all, parameters bit-identical
    NetSpec spec{"bad labels", {6, 5, 3}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SOFTMAX}, {0, 0}, ref::SPARSE_CCE, ref::ADAM,
                 {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 4, 3, DATA_F32, 1e-2};
    const int rows = 12, bad_row = 7;
    auto p0 = randn(d4j_cuda_param_count(2, std::vector<int32_t>{6, 5, 3}.data()), 0.3);
    GpuNet A(spec, p0, 4);
    if (!A.net) return;
    auto x = randn((size_t)rows * 6);
    std::vector<int32_t> lab(rows);
    for (auto& l : lab) l = (int)(g_rng() % 3);
    lab[bad_row] = 3;
    Dev<float> dx(x);
    Dev<int32_t> dlab(lab), dord(rows);
    API(d4j_cuda_permutation(dord.p, rows, 5));
    std::vector<float> lrs(3, 1e-2f);
    int64_t step = 0;
    double st[3] = {0, 0, 0};
    rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, dord.p, rows, 0, 4, 3, lrs.data(),
                            &step, 1, st);
    msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && step == 0 && st[2] == 0 && A.params.down() == p0 &&
               msg.find("of row " + std::to_string(bad_row)) != std::string::npos,
           "train: a bad label rejects the whole call, parameters and step untouched (rc " + std::to_string(rc) +
               ", step " + std::to_string(step) + "): " + msg);
    double fs[3] = {0, 0, 0};
    rc = d4j_cuda_net_forward(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, rows, nullptr, dlab.p, nullptr, fs);
    msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && fs[2] == 0 && msg.find("of row " + std::to_string(bad_row)) != std::string::npos,
           "forward with labels: a bad label is a bad argument, nothing counted: " + msg);
    lab[bad_row] = 2;
    dlab.up(lab);
    rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, dord.p, rows, 0, 4, 3, lrs.data(),
                            &step, 1, st);
    expect(rc == D4J_CUDA_OK && step == 3 && st[2] == rows, "train after the label is fixed: 3 steps");
}

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
    NetSpec spec{"capture failure", {12, 9, 4}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_SOFTMAX}, {0, 0}, ref::SPARSE_CCE,
                 ref::SGD, {0, 0, 0, 0, 0}, 0, 0, 8, 2, DATA_F32, 1e-2};
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
         {0, 0}, ref::SPARSE_CCE, ref::ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 32, 100, DATA_U8, 1e-3},
        {"mlp 37-64-33-5 gelu+drop/tanh+drop/linear MSE sgd-nesterov clip", {37, 64, 33, 5},
         {D4J_CUDA_ACT_GELU, D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_LINEAR}, {0.2f, 0.1f, 0}, ref::MSE, ref::SGD,
         {0.9f, 0, 1e-3f, 1, 0}, 1.0f, 0.5f, 31, 20, DATA_HALF, 1e-2},
        {"mlp 20-16-3 sigmoid/sigmoid BCE rmsprop-centered", {20, 16, 3}, {D4J_CUDA_ACT_SIGMOID, D4J_CUDA_ACT_SIGMOID},
         {0, 0}, ref::BCE, ref::RMSPROP, {0.9f, 1e-7f, 1e-3f, 0.5f, 1}, 0, 0, 33, 20, DATA_HALF, 1e-3},
        {"mlp 12-9-4 softmax+drop/linear CCE adamw-amsgrad", {12, 9, 4}, {D4J_CUDA_ACT_SOFTMAX, D4J_CUDA_ACT_LINEAR},
         {0.3f, 0}, ref::CCE, ref::ADAMW, {0.9f, 0.99f, 1e-8f, 1e-2f, 1}, 0, 0, 16, 20, DATA_HALF, 1e-2},
        {"mlp 1-127-1 relu/sigmoid-output MSE adam", {1, 127, 1}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SIGMOID},
         {0, 0}, ref::MSE, ref::ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 1, 10, DATA_HALF, 1e-3},
        {"mlp 37-33-6 tanh/softmax-output MSE adam, f32 data", {37, 33, 6}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_SOFTMAX},
         {0, 0}, ref::MSE, ref::ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 29, 12, DATA_F32, 1e-2},
        {"mlp 9-17-4 relu/gelu-output MSE sgd, f32 data", {9, 17, 4}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_GELU},
         {0, 0}, ref::MSE, ref::SGD, {0.5f, 0, 0, 0, 0}, 0, 0, 13, 12, DATA_F32, 1e-2},
        {"mlp 20-16-3 tanh/linear-output BCE adam", {20, 16, 3}, {D4J_CUDA_ACT_TANH, D4J_CUDA_ACT_LINEAR},
         {0, 0}, ref::BCE, ref::ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 17, 12, DATA_F32, 1e-2},
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
