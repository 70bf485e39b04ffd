// The hand-written GEMM kernels, every variant this CPU can run (portable, AVX2+FMA, AVX-512), at 1, 2 and 3
// threads, through the public ops d4j_dense_forward / d4j_dense_backward, against the float64 reference:
// - batch sizes 1..64 around every row tile (1, 2, 3, 5, 6, 7, 13, 31, 32, 33, 64) and larger ones (784, 1000), widths
//   around every column tile of every variant (1, 7, 10, 16, 17, 31, 33, 63, 64, 65, 128, 129, 1000), depths
//   around the reduction slices (1, 31, 33, 129, 784, 1000), with operands at misaligned addresses for half of them;
//   layers whose rows are a page apart (packed operands), batches over 256 rows (weight gradient in slices) and
//   batches large enough for the input gradient's packed form (128 rows and more, panel and slice edges);
// - every output poisoned with NaN first (an unwritten element fails);
// - forward and weight gradient are bit-identical across variants (one FMA chain per element, see
//   cpu/gemm_kernels.h); every output is bit-identical across thread counts for the same variant;
// - NaN in an input reaches the outputs it should (relu keeps NaN);
// - the optimizer loops, compiled per variant as well, give the same bits on every variant.
#include <cstring>
#include <string>
#include "reference.h"
#include "test_util.h"

static std::string shape(int n, int in, int out) {
    return std::to_string(n) + "x" + std::to_string(in) + "x" + std::to_string(out);
}
static double gemm_tol(int k) { return k >= 512 ? 1e-5 : (k >= 30 ? 3e-6 : 1e-6); }

// The rigorous bound of a float sum of k products (plus a bias): |got - ref| <= (k + 2) u sum|terms|, with
// u = 2^-24 and sum|terms| from the reference on absolute values. Unlike a relative error it does not fail on
// an output that happens to cancel to nearly 0, and it is far tighter than 1e-5 on the others.
static bool bounded(const std::string& what, const std::vector<float>& got, const ref::V& r, const ref::V& absr, int k) {
    t::checks()++;
    double worst = 0;
    size_t at = 0;
    bool finite = true;
    for (size_t i = 0; i < got.size(); i++) {
        if (!std::isfinite(got[i])) { finite = false; at = i; break; }
        const double ratio = std::fabs((double)got[i] - r[i]) / ((k + 2) * 0x1p-24 * absr[i] + 1e-300);
        if (ratio > worst) { worst = ratio; at = i; }
    }
    const bool ok = finite && worst <= 1.0;
    if (!ok || t::verbose())
        std::printf("%s: %s n=%zu worst error / bound = %.3g at %zu%s\n", ok ? "ok" : "FAIL", what.c_str(), got.size(),
                    worst, at, finite ? "" : " NON-FINITE/UNWRITTEN");
    if (!ok) t::failures()++;
    return ok;
}
using t::isa_name;

static bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Buffers at an offset of `mis` floats from a 64-byte boundary.
struct Buf {
    std::vector<float> store;
    size_t off = 0, n = 0;
    Buf(size_t n_, int mis) : store(n_ + 32, NAN), off(0), n(n_) {
        const uintptr_t a = reinterpret_cast<uintptr_t>(store.data());
        off = ((64 - a % 64) % 64) / 4 + mis;
    }
    float* p() { return store.data() + off; }
    void fill(const std::vector<float>& v) { std::memcpy(p(), v.data(), n * 4); }
    void poison() { for (size_t i = 0; i < n; i++) p()[i] = NAN; }
    std::vector<float> vec() { return std::vector<float>(p(), p() + n); }
};

struct Out { std::vector<float> z, y, dw, db, dx; };

static Out run_ops(int n, int in, int out, int mis, const std::vector<float>& x, const std::vector<float>& w,
                   const std::vector<float>& b, const std::vector<float>& dz) {
    Buf X(x.size(), mis), W(w.size(), mis), B(b.size(), mis), DZ(dz.size(), mis);
    X.fill(x); W.fill(w); B.fill(b); DZ.fill(dz);
    Buf Z((size_t)n * out, mis), Y((size_t)n * out, mis), DW(w.size(), mis), DB(b.size(), mis), DX(x.size(), mis);
    d4j_dense_forward(X.p(), W.p(), B.p(), Z.p(), Y.p(), n, in, out, D4J_ACT_RELU);
    d4j_dense_backward(X.p(), W.p(), DZ.p(), DW.p(), DB.p(), DX.p(), n, in, out);
    return Out{Z.vec(), Y.vec(), DW.vec(), DB.vec(), DX.vec()};
}

int main() {
    std::vector<int> isas;
    for (int isa = D4J_ISA_PORTABLE; isa <= D4J_ISA_AVX512; isa++) {
        if (d4j_isa_supported(isa)) isas.push_back(isa);
        else std::printf("gemm_isa_test: variant %s not supported by this CPU: not tested here\n", isa_name(isa));
    }
    t::expect(d4j_set_isa(D4J_ISA_PORTABLE) == D4J_OK && d4j_get_isa() == D4J_ISA_PORTABLE, "set_isa portable");
    t::expect(d4j_set_isa(7) == D4J_ERR_ARGUMENT && d4j_get_isa() == D4J_ISA_PORTABLE, "set_isa rejects unknown");
    const int threads[] = {1, 2, 3};
    t::Rng rng(11);
    struct Shape { int n, in, out; };
    std::vector<Shape> shapes;
    for (int n : {1, 2, 3, 5, 6, 7, 13, 31, 32, 33, 64})
        for (int in : {1, 31, 33, 129, 784})
            for (int out : {1, 7, 10, 16, 17, 31, 33, 63, 64, 65, 128, 129, 1000})
                if (!(in == 784 && out == 1000 && n > 33)) shapes.push_back({n, in, out});
    shapes.push_back({200, 333, 777});
    shapes.push_back({256, 784, 128});
    shapes.push_back({97, 1000, 130});
    shapes.push_back({300, 40, 1030});  // rows of W and dz a page apart: packed operands; > 256 rows: batch slices
    shapes.push_back({513, 20, 70});
    shapes.push_back({40, 1100, 1024});
    // the input gradient's packed form (large batches): panel tails (65, 17 features), reduction slices (513, 1025)
    shapes.push_back({128, 65, 513});
    shapes.push_back({131, 17, 1025});
    shapes.push_back({1000, 784, 128});
    // 784 and 1000 in every position (batch, depth, width), against 1, 31 and 33
    for (Shape s : {Shape{784, 1000, 33}, Shape{1000, 31, 784}, Shape{1, 1000, 784}, Shape{33, 1000, 1000},
                    Shape{31, 784, 784}, Shape{1000, 1, 1}})
        shapes.push_back(s);
    int case_no = 0;
    for (const Shape& s : shapes) {
        const int n = s.n, in = s.in, out = s.out, mis = case_no++ % 2;
        auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out, -0.2, 0.2), b = rng.vec(out);
        auto dz = rng.vec((size_t)n * out);
        auto xd = t::widen(x), wd = t::widen(w), bd = t::widen(b), dzd = t::widen(dz);
        ref::V zr((size_t)n * out), yr((size_t)n * out), dwr((size_t)in * out), dbr(out), dxr((size_t)n * in);
        ref::dense_forward(xd.data(), wd.data(), bd.data(), zr.data(), yr.data(), n, in, out, D4J_ACT_RELU);
        ref::dense_backward(xd.data(), wd.data(), dzd.data(), dwr.data(), dbr.data(), dxr.data(), n, in, out);
        for (auto* v : {&xd, &wd, &bd, &dzd}) for (double& e : *v) e = std::fabs(e);
        ref::V za((size_t)n * out), ya((size_t)n * out), dwa((size_t)in * out), dba(out), dxa((size_t)n * in);
        ref::dense_forward(xd.data(), wd.data(), bd.data(), za.data(), ya.data(), n, in, out, D4J_ACT_LINEAR);
        ref::dense_backward(xd.data(), wd.data(), dzd.data(), dwa.data(), dba.data(), dxa.data(), n, in, out);
        Out first;  // first variant at 1 thread
        for (size_t vi = 0; vi < isas.size(); vi++) {
            d4j_set_isa(isas[vi]);
            Out one;
            for (int T : threads) {
                d4j_set_num_threads(T);
                const Out o = run_ops(n, in, out, mis, x, w, b, dz);
                const std::string name = std::string(isa_name(isas[vi])) + " " + shape(n, in, out) +
                                         (mis ? " misaligned" : "") + " threads " + std::to_string(T);
                if (T == 1) {
                    bounded(name + " forward z", o.z, zr, za, in);
                    bounded(name + " forward relu y", o.y, yr, za, in);
                    bounded(name + " dW", o.dw, dwr, dwa, n);
                    bounded(name + " db", o.db, dbr, dba, 1);
                    bounded(name + " dx", o.dx, dxr, dxa, out);
                    one = o;
                } else {
                    t::expect(o.z == one.z && o.y == one.y && o.dw == one.dw && o.db == one.db && o.dx == one.dx,
                              name + ": differs from 1 thread");
                }
            }
            if (vi == 0) {
                first = one;
            } else {
                // the FMA chain per element makes forward and dW exact across variants (NaN-free data here)
                t::expect(same_bits(one.z.data(), first.z.data(), one.z.size()) &&
                              same_bits(one.y.data(), first.y.data(), one.y.size()),
                          std::string(isa_name(isas[vi])) + " " + shape(n, in, out) + ": forward differs from " +
                              isa_name(isas[0]));
                t::expect(same_bits(one.dw.data(), first.dw.data(), one.dw.size()) && one.db == first.db,
                          std::string(isa_name(isas[vi])) + " " + shape(n, in, out) + ": dW differs from " +
                              isa_name(isas[0]));
            }
        }
    }
    // every activation (softmax: whole-row blocks) split across threads, every variant
    for (int isa : isas) {
        d4j_set_isa(isa);
        const int n = 70, in = 300, out = 200;
        auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out, -0.2, 0.2), b = rng.vec(out);
        auto xd = t::widen(x), wd = t::widen(w), bd = t::widen(b);
        for (int act = 0; act <= D4J_ACT_SOFTMAX; act++) {
            ref::V zr((size_t)n * out), yr((size_t)n * out);
            ref::dense_forward(xd.data(), wd.data(), bd.data(), zr.data(), yr.data(), n, in, out, act);
            std::vector<float> y1;
            for (int T : threads) {
                d4j_set_num_threads(T);
                auto z = t::poisoned(zr.size()), y = t::poisoned(yr.size());
                d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), n, in, out, act);
                const std::string name = std::string(isa_name(isa)) + " forward " + t::act_name(act) + " 70x300x200 threads " +
                                         std::to_string(T);
                t::close(name + " z", z, zr, gemm_tol(in));
                t::close(name + " y", y, yr, gemm_tol(in));
                if (T == 1) y1 = y;
                else t::expect(y == y1, name + ": differs from 1 thread");
            }
        }
    }
    // NaN propagates through every variant (a poisoned input must reach the loss and stop training)
    for (int isa : isas) {
        d4j_set_isa(isa);
        d4j_set_num_threads(1);
        const int n = 9, in = 40, out = 70;
        auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out), b = rng.vec(out);
        x[3 * in + 5] = NAN;
        std::vector<float> y((size_t)n * out, 0.0f);
        d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y.data(), n, in, out, D4J_ACT_RELU);
        bool row3 = true, others = true;
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out; j++) {
                const bool nan = std::isnan(y[(size_t)r * out + j]);
                if (r == 3) row3 &= nan;
                else others &= !nan;
            }
        t::expect(row3 && others, std::string(isa_name(isa)) + ": NaN in row 3 of x must give NaN in row 3 only");
    }
    // the optimizer loops (compiled per variant too) give the same bits on every variant
    {
        const int n = 1031;
        const float hps[4][5] = {{0.9f, 0.999f, 1e-7f, 0.01f, 0}, {0.9f, 0.99f, 1e-6f, 0.01f, 1},
                                 {0.9f, 0, 1e-4f, 1, 0}, {0.9f, 1e-6f, 1e-3f, 0.5f, 1}};
        const int kinds[4] = {D4J_OPT_ADAM, D4J_OPT_ADAMW, D4J_OPT_SGD, D4J_OPT_RMSPROP};
        for (int o = 0; o < 4; o++) {
            auto p0 = rng.vec(n), g = rng.vec(n, -0.1, 0.1);
            std::vector<float> first_p, first_s;
            for (size_t vi = 0; vi < isas.size(); vi++) {
                d4j_set_isa(isas[vi]);
                auto p = p0;
                std::vector<float> st(3 * (size_t)n, 0.0f);
                for (int64_t step = 1; step <= 3; step++)
                    d4j_optimizer_step(kinds[o], hps[o], 1e-2f, step, p.data() + 1, g.data() + 1, st.data(), n - 1);
                if (vi == 0) { first_p = p; first_s = st; continue; }
                t::expect(p == first_p && st == first_s, std::string(isa_name(isas[vi])) + ": optimizer " +
                                                             std::to_string(kinds[o]) + " differs from " + isa_name(isas[0]));
            }
        }
    }
    d4j_set_isa(D4J_ISA_AUTO);
    d4j_set_num_threads(1);
    return t::finish("gemm_isa_test");
}
