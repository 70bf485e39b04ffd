// d4j_cuda_optimizer_step (every optimizer variant) against ref::optimizer_step and d4j_cuda_clip_gradients
// against ref::clip.
#include "cuda_test.h"

// ---- optimizers and clipping ---------------------------------------------------------------------------------------
void test_optimizers() {
    struct Case { int kind; float hp[5]; const char* name; };
    const Case cases[] = {
        {D4J_CUDA_OPT_SGD, {0, 0, 0, 0, 0}, "sgd"},
        {D4J_CUDA_OPT_SGD, {0.9f, 0.1f, 1e-2f, 0, 0}, "sgd momentum dampening wd"},
        {D4J_CUDA_OPT_SGD, {0.9f, 0, 0, 1, 0}, "sgd nesterov"},
        {D4J_CUDA_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, "adam"},
        {D4J_CUDA_OPT_ADAM, {0.8f, 0.99f, 1e-8f, 1e-2f, 1}, "adam wd amsgrad"},
        {D4J_CUDA_OPT_ADAMW, {0.9f, 0.999f, 1e-8f, 1e-2f, 0}, "adamw"},
        {D4J_CUDA_OPT_ADAMW, {0.9f, 0.999f, 1e-8f, 1e-2f, 1}, "adamw amsgrad"},
        {D4J_CUDA_OPT_RMSPROP, {0.99f, 1e-8f, 0, 0, 0}, "rmsprop"},
        {D4J_CUDA_OPT_RMSPROP, {0.9f, 1e-7f, 1e-2f, 0.9f, 1}, "rmsprop wd momentum centered"},
    };
    std::vector<int> sizes = {1, 1000, 101770};
    if (g_quick) sizes = {1000};
    for (int n : sizes) {
        for (const Case& c : cases) {
            auto p = randn(n), st0 = std::vector<float>(3 * (size_t)n, 0.f);
            Dev<float> dp(p), dg(n), ds(st0);
            ref::V rp = to_d(p), rs(3 * (size_t)n, 0.0);
            const double h[5] = {c.hp[0], c.hp[1], c.hp[2], c.hp[3], c.hp[4]};
            const double lr = 1e-2;
            for (int t = 1; t <= 3; ++t) {
                auto g = randn(n, 0.1);
                dg.up(g);
                // the reference starts from the GPU's float state, so each step is checked on its own
                rp = to_d(dp.down());
                auto sf = ds.down();
                rs = to_d(sf);
                ref::V before = rp;
                ref::optimizer_step(c.kind, h, lr, t, rp, to_d(g), rs);
                API(d4j_cuda_optimizer_step(c.kind, c.hp, (float)lr, t, dp.p, dg.p, ds.p, n));
                auto got = dp.down();
                std::vector<float> dgot(n);
                ref::V dwant(n);
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
            ref::V rg = to_d(g);
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
