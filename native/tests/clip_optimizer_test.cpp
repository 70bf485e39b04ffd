// d4j_clip_gradients and d4j_optimizer_step against the float64 reference (PyTorch's documented formulas),
// over several steps of every optimizer variant: SGD (momentum, dampening, nesterov, weight decay), Adam and
// AdamW (weight decay, amsgrad), RMSprop (momentum, centered, weight decay). Parameters and all state
// buffers are compared after every step.
#include <string>
#include "reference.h"
#include "test_util.h"

using t::isa_name;

struct Case { int kind; float hp[5]; const char* name; };

int main() {
    t::Rng rng(5);
    // ---- clipping
    for (int64_t n : {1, 31, 33, 1000, 101770})
        for (int mode = 0; mode < 4; mode++) {
            const float clip_value = mode & 1 ? 0.5f : 0.0f;
            auto g = rng.vec(n, -1, 1);
            for (int64_t i = 0; i < n; i += 7) g[i] *= 3;  // some beyond clip_value
            ref::V gd = t::widen(g);
            ref::V tmp = gd;
            const double norm_v = ref::clip(tmp, 0, clip_value);
            // max_norm below and above the norm, so that both "clip" and "no clip" paths run
            const float max_norm = mode & 2 ? (float)(0.5 * norm_v) : (mode == 0 ? 0.0f : (float)(2 * norm_v));
            const double nr = ref::clip(gd, max_norm, clip_value);
            const float nn = d4j_clip_gradients(g.data(), n, max_norm, clip_value);
            const std::string name = "clip n=" + std::to_string(n) + " max_norm=" + std::to_string(max_norm) +
                                     " clip_value=" + std::to_string(clip_value);
            t::close_scalar(name + " norm", nn, nr, 1e-6);
            t::close(name + " grads", g, gd, 1e-6);
        }
    t::expect(d4j_clip_gradients(nullptr, 0, 1, 1) == 0.0f, "clip of an empty buffer returns norm 0");

    // ---- optimizers
    const Case cases[] = {
        {D4J_OPT_SGD, {0, 0, 0, 0, 0}, "sgd"},
        {D4J_OPT_SGD, {0, 0, 0.01f, 0, 0}, "sgd wd"},
        {D4J_OPT_SGD, {0.9f, 0, 0, 0, 0}, "sgd momentum"},
        {D4J_OPT_SGD, {0.9f, 0.1f, 0.01f, 0, 0}, "sgd momentum dampening wd"},
        {D4J_OPT_SGD, {0.9f, 0, 0.01f, 1, 0}, "sgd nesterov wd"},
        {D4J_OPT_ADAM, {0.9f, 0.999f, 1e-8f, 0, 0}, "adam"},
        {D4J_OPT_ADAM, {0.9f, 0.999f, 1e-8f, 0.01f, 0}, "adam wd"},
        {D4J_OPT_ADAM, {0.8f, 0.99f, 1e-6f, 0.01f, 1}, "adam amsgrad wd"},
        {D4J_OPT_ADAMW, {0.9f, 0.999f, 1e-8f, 0.01f, 0}, "adamw"},
        {D4J_OPT_ADAMW, {0.9f, 0.999f, 1e-8f, 0.05f, 1}, "adamw amsgrad"},
        {D4J_OPT_RMSPROP, {0.99f, 1e-8f, 0, 0, 0}, "rmsprop"},
        {D4J_OPT_RMSPROP, {0.9f, 1e-6f, 0.01f, 0, 0}, "rmsprop wd"},
        {D4J_OPT_RMSPROP, {0.99f, 1e-8f, 0, 0.9f, 0}, "rmsprop momentum"},
        {D4J_OPT_RMSPROP, {0.99f, 1e-8f, 0, 0, 1}, "rmsprop centered"},
        {D4J_OPT_RMSPROP, {0.9f, 1e-6f, 0.01f, 0.8f, 1}, "rmsprop centered momentum wd"},
    };
    // on every optimizer variant this CPU runs (portable, AVX2, AVX-512: cpu/optimizer_kernels.inc), each
    // against the reference; the vector bodies and their scalar tails both run at these sizes
    for (int isa = D4J_ISA_PORTABLE; isa <= D4J_ISA_AVX512; isa++) {
      if (!d4j_isa_supported(isa)) {
        std::printf("clip_optimizer_test: variant %s not supported by this CPU: not tested here\n", isa_name(isa));
        continue;
      }
      t::expect(d4j_set_isa(isa) == D4J_OK, std::string("set_isa ") + isa_name(isa));
      for (const Case& c : cases)
        for (int64_t n : {1, 31, 33, 784, 1000}) {
            auto p = rng.vec(n);
            std::vector<float> state(3 * n, 0.0f);
            ref::V pd = t::widen(p);
            ref::Optimizer opt(c.kind, c.hp, n);
            for (int64_t step = 1; step <= 5; step++) {
                auto g = rng.vec(n);
                const float lr = 0.01f * (float)step;  // a schedule: lr changes every step
                opt.step(pd, t::widen(g), lr, step);
                d4j_optimizer_step(c.kind, c.hp, lr, step, p.data(), g.data(), state.data(), n);
                const std::string name = std::string(isa_name(isa)) + " " + c.name + " n=" + std::to_string(n) +
                                         " step " + std::to_string(step);
                // a single parameter's relative error is that of one value, which cancellation (p - lr * u near 0)
                // inflates: there the bound is absolute, a few ulps of the O(1) operands
                if (n == 1) t::close(name + " params", p, pd, 1e-5, 1e-6);
                else t::close(name + " params", p, pd, 1e-6);
                // the state buffers that the variant uses (unused ones stay 0 in both)
                t::close(name + " state", state.data(), opt.state.data(), 3 * n, 1e-5);
            }
        }
    }
    d4j_set_isa(D4J_ISA_AUTO);
    return t::finish("clip_optimizer_test");
}
