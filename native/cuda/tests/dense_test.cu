// d4j_cuda_dense_forward (every activation), d4j_cuda_activation_backward (with a dropout-like mask) and
// d4j_cuda_dense_backward against ref::dense_forward, ref::act_backward, ref::dense_backward.
#include "cuda_test.h"

// ---- dense forward / activation backward / dense backward ---------------------------------------------------
void test_dense() {
    struct Shape { int n, in, out; };
    std::vector<Shape> shapes = {{1, 1, 1}, {31, 784, 127}, {33, 33, 10}, {127, 1, 1000}, {32, 784, 128}, {1000, 31, 33}};
    if (g_quick) shapes = {{31, 784, 127}};
    for (const Shape& s : shapes) {
        auto x = randn((size_t)s.n * s.in), w = randn((size_t)s.in * s.out, 1.0 / std::sqrt(s.in)), b = randn(s.out);
        ref::V z((size_t)s.n * s.out), y((size_t)s.n * s.out);
        ref::dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), s.n, s.in, s.out, D4J_CUDA_ACT_LINEAR);
        Dev<float> dx(x), dw(w), db(b), dz((size_t)s.n * s.out), dy((size_t)s.n * s.out);
        for (int act = 0; act <= 5; ++act) {
            ref::act_rows(z.data(), y.data(), s.n, s.out, act);
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
            ref::V md = to_d(mask);
            const ref::V zd = to_d(zf), yd = to_d(yf), gd = to_d(g);
            ref::V want(g.size());
            ref::act_backward(zd.data(), yd.data(), md.data(), gd.data(), want.data(), s.n, s.out, act);
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
        ref::V wantW((size_t)s.in * s.out), wantB(s.out), wantX((size_t)s.n * s.in);
        ref::dense_backward(x.data(), w.data(), g.data(), wantW.data(), wantB.data(), wantX.data(), s.n, s.in, s.out);
        char what[160];
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: dW", s.n, s.in, s.out);
        compare(what, dW.down(), wantW, 1e-5);
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: db", s.n, s.in, s.out);
        compare(what, dB.down(), wantB, 1e-5);
        snprintf(what, sizeof what, "dense_backward %dx%dx%d: dx", s.n, s.in, s.out);
        compare(what, dX.down(), wantX, 1e-5);
    }
}
