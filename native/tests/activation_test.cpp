// d4j_activation_backward for every activation, with and without a dropout mask, in place and not,
// against the float64 reference (poisoned outputs, awkward sizes).
#include <string>
#include "reference.h"
#include "test_util.h"

int main() {
    t::Rng rng(7);
    const int ns[] = {1, 31, 33, 1000};
    const int ks[] = {1, 31, 33, 784};
    for (int n : ns)
        for (int k : ks)
            for (int act = 0; act <= D4J_ACT_SOFTMAX; act++)
                for (int with_mask = 0; with_mask < 2; with_mask++) {
                    const size_t c = (size_t)n * k;
                    auto z = rng.vec(c, -4, 4), dy = rng.vec(c);
                    std::vector<float> mask(c);
                    for (auto& m : mask) m = rng.uniform(0, 1) < 0.3 ? 0.0f : 1.0f / 0.7f;
                    auto zd = t::widen(z);
                    ref::V yd(c);
                    ref::act_rows(zd.data(), yd.data(), n, k, act);
                    std::vector<float> y(yd.begin(), yd.end());  // the kernel gets y as the forward pass made it
                    auto yw = t::widen(y), dyd = t::widen(dy), md = t::widen(mask);
                    ref::V dzr(c);
                    ref::act_backward(zd.data(), yw.data(), with_mask ? md.data() : nullptr, dyd.data(), dzr.data(),
                                      n, k, act);
                    const std::string name = std::string("activation_backward ") + t::act_name(act) +
                                             (with_mask ? "+mask " : " ") + std::to_string(n) + "x" + std::to_string(k);
                    auto dz = t::poisoned(c);
                    const float* zp = act == D4J_ACT_GELU ? z.data() : nullptr;  // z only needed for GELU
                    d4j_activation_backward(zp, y.data(), with_mask ? mask.data() : nullptr, dy.data(), dz.data(),
                                            n, k, act);
                    t::close(name, dz, dzr, 1e-6);
                    auto inplace = dy;
                    d4j_activation_backward(z.data(), y.data(), with_mask ? mask.data() : nullptr, inplace.data(),
                                            inplace.data(), n, k, act);
                    t::expect(inplace == dz, name + ": in-place (dz == dy) result differs");
                }
    // forward activations at extreme inputs stay finite and exact where they saturate
    std::vector<float> x = {-1000, -100, -20, 0.5f, 20, 100, 1000}, w = {1}, b = {0};
    for (int act : {D4J_ACT_SIGMOID, D4J_ACT_TANH, D4J_ACT_GELU}) {
        auto y = t::poisoned(x.size());
        d4j_dense_forward(x.data(), w.data(), b.data(), nullptr, y.data(), (int)x.size(), 1, 1, act);
        auto xd = t::widen(x);
        ref::V yr(x.size());
        ref::act_rows(xd.data(), yr.data(), (int)x.size(), 1, act);
        t::close(std::string("extreme inputs ") + t::act_name(act), y, yr, 1e-6, 1e-6);
    }
    std::vector<float> big = {1000, -1000, 999, 0, 88, 89};
    std::vector<float> w6(36, 0.0f), b6(6, 0.0f);
    for (int i = 0; i < 6; i++) w6[i * 6 + i] = 1;
    auto ys = t::poisoned(6);
    d4j_dense_forward(big.data(), w6.data(), b6.data(), nullptr, ys.data(), 1, 6, 6, D4J_ACT_SOFTMAX);
    auto bd = t::widen(big);
    ref::V yr(6);
    ref::act_rows(bd.data(), yr.data(), 1, 6, D4J_ACT_SOFTMAX);
    t::close("softmax at logits +-1000", ys, yr, 1e-6);
    return t::finish("activation_test");
}
