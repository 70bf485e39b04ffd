// Argument validation: invalid pointers, sizes, enums and combinations never crash and never write; the
// network functions return D4J_ERR_ARGUMENT (or NULL from create), d4j_loss / d4j_clip_gradients NaN.
#include <cstring>
#include <string>
#include "net_util.h"

static bool all_nan(const std::vector<float>& v) {
    for (float f : v) if (f == f) return false;
    return true;
}

int main() {
    t::Rng rng(1);
    auto x = rng.vec(64), w = rng.vec(64), b = rng.vec(8);
    auto y = t::poisoned(64), z = t::poisoned(64);
    // single ops: no write on invalid input
    d4j_dense_forward(nullptr, w.data(), b.data(), z.data(), y.data(), 2, 4, 4, 0);
    d4j_dense_forward(x.data(), nullptr, b.data(), z.data(), y.data(), 2, 4, 4, 0);
    d4j_dense_forward(x.data(), w.data(), nullptr, z.data(), y.data(), 2, 4, 4, 0);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), nullptr, 2, 4, 4, 0);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), 0, 4, 4, 0);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), 2, -1, 4, 0);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), 2, 4, 0, 0);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), 2, 4, 4, 6);
    d4j_dense_forward(x.data(), w.data(), b.data(), z.data(), y.data(), 2, 4, 4, -1);
    t::expect(all_nan(y) && all_nan(z), "dense_forward wrote on invalid arguments");
    d4j_activation_backward(nullptr, nullptr, nullptr, x.data(), y.data(), 2, 4, D4J_ACT_GELU);  // GELU needs z
    d4j_activation_backward(nullptr, nullptr, nullptr, x.data(), y.data(), 2, 4, D4J_ACT_SIGMOID);  // needs y
    d4j_activation_backward(z.data(), z.data(), nullptr, nullptr, y.data(), 2, 4, 0);
    d4j_activation_backward(z.data(), z.data(), nullptr, x.data(), y.data(), 2, 4, 9);
    d4j_activation_backward(z.data(), z.data(), nullptr, x.data(), y.data(), -2, 4, 0);
    t::expect(all_nan(y), "activation_backward wrote on invalid arguments");
    d4j_dense_backward(nullptr, w.data(), x.data(), y.data(), z.data(), nullptr, 2, 4, 4);
    d4j_dense_backward(x.data(), nullptr, x.data(), y.data(), z.data(), z.data(), 2, 4, 4);  // dx needs W
    d4j_dense_backward(x.data(), w.data(), x.data(), y.data(), z.data(), nullptr, 2, 0, 4);
    t::expect(all_nan(y) && all_nan(z), "dense_backward wrote on invalid arguments");
    std::vector<int32_t> lab = {0, 5};
    t::expect(std::isnan(d4j_loss(7, x.data(), lab.data(), x.data(), y.data(), nullptr, 2, 4, 1, nullptr)), "loss enum");
    t::expect(std::isnan(d4j_loss(0, x.data(), nullptr, x.data(), y.data(), nullptr, 2, 4, 1, nullptr)), "loss labels");
    t::expect(std::isnan(d4j_loss(3, x.data(), lab.data(), nullptr, y.data(), nullptr, 2, 4, 1, nullptr)),
              "loss targets");
    t::expect(std::isnan(d4j_loss(0, x.data(), lab.data(), nullptr, nullptr, nullptr, 0, 4, 1, nullptr)), "loss n=0");
    t::expect(all_nan(y), "loss wrote on invalid arguments");
    t::expect(!std::isfinite(d4j_loss(0, x.data(), lab.data(), nullptr, nullptr, nullptr, 2, 4, 1, nullptr)),
              "loss with a label out of range must not be finite");
    t::expect(std::isnan(d4j_clip_gradients(nullptr, 5, 1, 1)) && std::isnan(d4j_clip_gradients(x.data(), -1, 1, 1)),
              "clip_gradients on invalid arguments");
    const float hp[5] = {0.9f, 0.999f, 1e-8f, 0, 0};
    auto p = rng.vec(8);
    const auto p0 = p;
    std::vector<float> st(24, 0.0f);
    d4j_optimizer_step(9, hp, 0.1f, 1, p.data(), x.data(), st.data(), 8);
    d4j_optimizer_step(1, nullptr, 0.1f, 1, p.data(), x.data(), st.data(), 8);
    d4j_optimizer_step(1, hp, 0.1f, 0, p.data(), x.data(), st.data(), 8);
    d4j_optimizer_step(1, hp, 0.1f, 1, p.data(), nullptr, st.data(), 8);
    d4j_optimizer_step(1, hp, 0.1f, 1, p.data(), x.data(), nullptr, 8);
    d4j_optimizer_step(1, hp, 0.1f, 1, p.data(), x.data(), st.data(), 0);
    t::expect(p == p0, "optimizer_step wrote on invalid arguments");
    t::expect(d4j_param_count(0, nullptr) < 0 && d4j_param_count(2, std::vector<int32_t>{3, 0, 2}.data()) < 0 &&
                  d4j_param_count(2, std::vector<int32_t>{3, 4, 2}.data()) == 3 * 4 + 4 + 4 * 2 + 2,
              "param_count");

    // network creation: NULL on anything invalid, including meaningless loss / activation pairs
    std::vector<int32_t> sizes = {6, 5, 3}, acts = {1, 5};
    std::vector<float> params(d4j_param_count(2, sizes.data()), 0.1f), grads(params.size()), state(3 * params.size());
    std::vector<float> drop = {0.5f, 0.0f};
    auto create = [&](int nl, const int32_t* s, const int32_t* a, const float* d, int loss, int mb, float* pp, int opt,
                      const float* h, float cn, float cv) {
        d4j_net* n = d4j_net_create(nl, s, a, d, loss, mb, pp, grads.data(), opt, h, state.data(), cn, cv);
        const bool ok = n != nullptr;
        d4j_net_destroy(n);
        return ok;
    };
    const float sgd[5] = {0, 0, 0, 0, 0}, nest_bad[5] = {0, 0, 0, 1, 0}, nan_hp[5] = {NAN, 0, 0, 0, 0};
    t::expect(create(2, sizes.data(), acts.data(), drop.data(), 0, 4, params.data(), 0, sgd, 0, 0), "valid net");
    t::expect(!create(0, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, sgd, 0, 0), "n_layers 0");
    t::expect(!create(2, nullptr, acts.data(), nullptr, 0, 4, params.data(), 0, sgd, 0, 0), "sizes NULL");
    t::expect(!create(2, sizes.data(), nullptr, nullptr, 0, 4, params.data(), 0, sgd, 0, 0), "acts NULL");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 0, params.data(), 0, sgd, 0, 0), "max_batch 0");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, nullptr, 0, sgd, 0, 0), "params NULL");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 4, 4, params.data(), 0, sgd, 0, 0), "loss enum");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 4, sgd, 0, 0), "optimizer enum");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, nullptr, 0, 0), "hp NULL");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, nest_bad, 0, 0),
              "nesterov without momentum");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, nan_hp, 0, 0), "NaN hp");
    t::expect(!create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, sgd, NAN, 0), "NaN clip");
    const float bad_drop[][2] = {{1.0f, 0}, {-0.1f, 0}, {NAN, 0}, {0, 0.5f}};
    for (const auto& d : bad_drop)
        t::expect(!create(2, sizes.data(), acts.data(), d, 0, 4, params.data(), 0, sgd, 0, 0), "dropout rate");
    std::vector<int32_t> bad_sizes = {6, 0, 3}, bad_act = {1, 6};
    t::expect(!create(2, bad_sizes.data(), acts.data(), nullptr, 0, 4, params.data(), 0, sgd, 0, 0), "size 0");
    t::expect(!create(2, sizes.data(), bad_act.data(), nullptr, 0, 4, params.data(), 0, sgd, 0, 0), "act enum");
    for (int loss = 0; loss <= D4J_LOSS_MSE; loss++)
        for (int act = 0; act <= D4J_ACT_SOFTMAX; act++) {
            std::vector<int32_t> a2 = {1, act};
            const bool expected = loss == D4J_LOSS_MSE || act == D4J_ACT_LINEAR ||
                                  (loss <= D4J_LOSS_CCE ? act == D4J_ACT_SOFTMAX : act == D4J_ACT_SIGMOID);
            t::expect(create(2, sizes.data(), a2.data(), nullptr, loss, 4, params.data(), 0, sgd, 0, 0) == expected,
                      std::string("loss/activation pair ") + t::loss_name(loss) + "/" + t::act_name(act));
        }

    // training arguments
    d4j_net* net = d4j_net_create(2, sizes.data(), acts.data(), nullptr, 0, 4, params.data(), grads.data(), 0, sgd,
                                  state.data(), 0, 0);
    auto xs = rng.vec(10 * 6);
    std::vector<int32_t> labels = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, order = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::vector<float> lrs(4, 0.1f);
    int64_t step = 0;
    const auto before = params;
    auto train = [&](d4j_net* n, const float* xx, const int32_t* lab, const int32_t* ord, int64_t n_order,
                     int64_t first, int batch, int nb, const float* lr, int64_t* s) {
        return d4j_net_train(n, xx, lab, nullptr, ord, n_order, first, batch, nb, lr, s, 0, nullptr);
    };
    t::expect(train(nullptr, xs.data(), labels.data(), order.data(), 10, 0, 4, 1, lrs.data(), &step) == 1, "net NULL");
    t::expect(train(net, nullptr, labels.data(), order.data(), 10, 0, 4, 1, lrs.data(), &step) == 1, "x NULL");
    t::expect(train(net, xs.data(), nullptr, order.data(), 10, 0, 4, 1, lrs.data(), &step) == 1, "labels NULL");
    t::expect(train(net, xs.data(), labels.data(), nullptr, 10, 0, 4, 1, lrs.data(), &step) == 1, "order NULL");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 1, nullptr, &step) == 1, "lrs NULL");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 1, lrs.data(), nullptr) == 1, "step NULL");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 5, 1, lrs.data(), &step) == 1,
              "batch > max_batch");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 0, 1, lrs.data(), &step) == 1, "batch 0");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 4, lrs.data(), &step) == 1,
              "steps past the end of order");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, -1, 4, 1, lrs.data(), &step) == 1, "first < 0");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 10, 4, 1, lrs.data(), &step) == 1,
              "first == n_order");
    // first + (n_batches - 1) * batch overflows int64 (it wrapped negative and passed, rows past the end gathered)
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, INT64_MAX - 5, 4, 2, lrs.data(), &step) == 1,
              "first near INT64_MAX");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, -1, lrs.data(), &step) == 1,
              "n_batches < 0");
    std::vector<int32_t> bad_order = order, bad_labels = labels;
    bad_order[9] = -3;
    bad_labels[8] = 3;
    t::expect(train(net, xs.data(), labels.data(), bad_order.data(), 10, 0, 4, 3, lrs.data(), &step) == 1,
              "negative row index");
    t::expect(train(net, xs.data(), bad_labels.data(), order.data(), 10, 0, 4, 3, lrs.data(), &step) == 1,
              "label out of range (checked before the first step)");
    std::vector<float> nan_lr = {0.1f, NAN};
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 2, nan_lr.data(), &step) == 1, "NaN lr");
    t::expect(step == 0 && params == before, "a rejected call changed the params or the step");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 0, lrs.data(), &step) == 0 && step == 0,
              "zero steps is a no-op");
    t::expect(train(net, xs.data(), labels.data(), order.data(), 10, 0, 4, 3, lrs.data(), &step) == 0 && step == 3,
              "a valid call (last batch of 2 rows)");
    t::expect(d4j_net_train(net, xs.data(), nullptr, xs.data(), order.data(), 10, 0, 4, 1, lrs.data(), &step, 0,
                            nullptr) == 1,
              "targets instead of labels for sparse CCE");
    // inference arguments
    auto out = t::poisoned(30);
    double stats[3] = {0, 0, 0};
    t::expect(d4j_net_forward(nullptr, xs.data(), 10, out.data(), nullptr, nullptr, nullptr) == 1, "forward NULL net");
    t::expect(d4j_net_forward(net, nullptr, 10, out.data(), nullptr, nullptr, nullptr) == 1, "forward x NULL");
    t::expect(d4j_net_forward(net, xs.data(), -1, out.data(), nullptr, nullptr, nullptr) == 1, "forward n < 0");
    t::expect(d4j_net_forward(net, xs.data(), 10, out.data(), bad_labels.data(), nullptr, stats) == 1,
              "forward label out of range");
    t::expect(all_nan(out) && stats[2] == 0, "a rejected forward wrote");
    t::expect(d4j_net_forward(net, xs.data(), 0, out.data(), nullptr, nullptr, nullptr) == 0, "forward n = 0");
    d4j_net_destroy(net);
    d4j_net_destroy(nullptr);

    // threads
    d4j_set_num_threads(2);
    t::expect(d4j_get_num_threads() == 2, "set/get threads");
    d4j_set_num_threads(0);
    t::expect(d4j_get_num_threads() >= 1, "threads <= 0: one per core");
    return t::finish("validation_test");
}
