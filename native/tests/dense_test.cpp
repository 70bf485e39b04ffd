// d4j_dense_forward (every activation) and d4j_dense_backward against the float64 reference, on random
// inputs of awkward sizes, with every output poisoned (NaN) first so that an unwritten element fails.
#include <string>
#include "reference.h"
#include "test_util.h"

static std::string shape(int n, int in, int out) {
    return std::to_string(n) + "x" + std::to_string(in) + "x" + std::to_string(out);
}

// Float32 GEMM error grows with K: ~1e-5 relative at K = 784 is the agreed bound; elementwise ops 1e-6.
static double gemm_tol(int k) { return k >= 512 ? 1e-5 : (k >= 30 ? 3e-6 : 1e-6); }

static void check(t::Rng& rng, int n, int in, int out) {
    auto x = rng.vec((size_t)n * in), w = rng.vec((size_t)in * out, -0.2, 0.2), b = rng.vec(out);
    auto xd = t::widen(x), wd = t::widen(w), bd = t::widen(b);
    ref::V zr((size_t)n * out), yr((size_t)n * out);
    for (int act = 0; act <= D4J_ACT_SOFTMAX; act++) {
        ref::dense_forward(xd.data(), wd.data(), bd.data(), zr.data(), yr.data(), n, in, out, act);
        const std::string name = std::string("dense_forward ") + t::act_name(act) + " " + shape(n, in, out);
        auto z = t::poisoned(zr.size()), y = t::poisoned(yr.size());
        d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), n, in, out, act);
        t::close(name + " z", z, zr, gemm_tol(in));
        t::close(name + " y", y, yr, gemm_tol(in));
        auto y2 = t::poisoned(yr.size());  // z = NULL: the GEMM lands in y
        d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y2.data(), n, in, out, act);
        t::expect(y2 == y, name + ": z=NULL gives a different y");
    }
    // backward
    auto dz = rng.vec((size_t)n * out);
    auto dzd = t::widen(dz);
    ref::V dwr((size_t)in * out), dbr(out), dxr((size_t)n * in);
    ref::dense_backward(xd.data(), wd.data(), dzd.data(), dwr.data(), dbr.data(), dxr.data(), n, in, out);
    auto dw = t::poisoned(dwr.size()), db = t::poisoned(out), dx = t::poisoned(dxr.size());
    d4j_dense_backward(x.data(), w.data(), dz.data(), dw.data(), db.data(), dx.data(), n, in, out);
    const std::string name = "dense_backward " + shape(n, in, out);
    t::close(name + " dW", dw, dwr, gemm_tol(n));
    t::close(name + " db", db, dbr, 1e-6);
    t::close(name + " dx", dx, dxr, gemm_tol(out));
    auto dw2 = t::poisoned(dwr.size()), db2 = t::poisoned(out);
    d4j_dense_backward(x.data(), w.data(), dz.data(), dw2.data(), db2.data(), nullptr, n, in, out);
    t::expect(std::equal(dw2.begin(), dw2.end(), dw.begin()) && db2 == db,
              name + ": dx=NULL changes dW/db");
}

int main() {
    d4j_set_num_threads(1);
    t::Rng rng(42);
    const int ns[] = {1, 31, 33, 1000};
    const int ins[] = {1, 31, 33, 784};
    const int outs[] = {1, 10, 31, 33, 128};
    for (int n : ns)
        for (int in : ins)
            for (int out : outs) check(rng, n, in, out);
    // the reference layer (batch 32) and one row through a 1000-wide layer
    check(rng, 32, 784, 128);
    check(rng, 1, 784, 1000);
    return t::finish("dense_test");
}
