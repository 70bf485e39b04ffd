// Whole-network gradient check: for small networks (7-5-4-3) with every hidden activation and every
// loss / output activation pair, the gradient the native engine computes in d4j_net_train (left in the
// caller's grads buffer) is compared with central finite differences of the float64 reference loss, and
// with the reference backward pass (itself checked against the finite differences). Dropout included,
// with the masks the documented hash defines. Relu kinks are avoided by rejecting draws with |z| < 1e-3.
#include <string>
#include "net_util.h"

static bool near_kink(const ref::Net& r) {
    for (int l = 0; l < r.L(); l++)
        if (r.acts[l] == D4J_ACT_RELU)
            for (double z : r.z[l]) if (std::fabs(z) < 1e-3) return true;
    return false;
}

static void check(int hidden, int last, int loss, float rate, uint64_t seed) {
    t::Rng rng(seed);
    const int rows = 5;
    const uint64_t dseed = 1234;
    for (int attempt = 0; attempt < 20; attempt++) {
        Problem pb;
        pb.make(rng, 9, 7, 3, loss);
        NativeNet nn;
        const float sgd_hp[5] = {0, 0, 0, 0, 0};
        if (!nn.create({7, 5, 4, 3}, {hidden, hidden, last}, {rate, rate, 0}, loss, 8, D4J_OPT_SGD,
                       std::vector<float>(sgd_hp, sgd_hp + 5), rng)) {
            t::fail("net_create failed");
            return;
        }
        auto order = permutation(rng, pb.N);
        ref::V xo, to;
        std::vector<int32_t> lo;
        pb.gather(order.data(), rows, xo, lo, to);
        ref::Net r = nn.twin();
        const int64_t step_before = 3;  // the masks depend on the step number of the update (4)
        r.forward(xo.data(), rows, lo.data(), to.data(), true, dseed, step_before + 1);
        if (near_kink(r)) continue;
        const std::string name = std::string("gradcheck hidden=") + t::act_name(hidden) + " last=" +
                                 t::act_name(last) + " loss=" + t::loss_name(loss) + " dropout=" + std::to_string(rate);
        // native gradient: one step with lr = 0 leaves the params and writes the gradient into grads
        int64_t step = step_before;
        const float lr0 = 0.0f;
        double stats[3] = {0, 0, 0};
        const auto p0 = nn.params;
        int rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(), pb.N, 0, rows,
                               1, &lr0, &step, dseed, stats);
        t::expect(rc == D4J_OK && step == step_before + 1 && stats[2] == rows, name + ": train rc/step/rows");
        t::expect(nn.params == p0, name + ": lr = 0 changed the params");
        // reference backward and finite differences of the mean loss
        const ref::V g_ref = r.backward(xo.data(), rows, lo.data(), to.data(), dseed, step_before + 1);
        ref::V g_fd(r.params.size());
        for (size_t i = 0; i < r.params.size(); i++) {
            const double p = r.params[i], h = 1e-6;
            r.params[i] = p + h;
            const double lp = r.forward(xo.data(), rows, lo.data(), to.data(), true, dseed, step_before + 1);
            r.params[i] = p - h;
            const double lm = r.forward(xo.data(), rows, lo.data(), to.data(), true, dseed, step_before + 1);
            r.params[i] = p;
            g_fd[i] = (lp - lm) / (2 * h) / rows;
        }
        const double loss_ref = r.forward(xo.data(), rows, lo.data(), to.data(), true, dseed, step_before + 1);
        t::close_scalar(name + " loss", stats[0], loss_ref, 1e-6);
        std::vector<float> gref_f(g_ref.begin(), g_ref.end());
        t::close(name + " reference backward vs finite differences", gref_f.data(), g_fd.data(), g_fd.size(), 1e-5);
        t::close(name + " native vs finite differences", nn.grads, g_fd, 1e-5);
        t::close(name + " native vs reference backward", nn.grads, g_ref, 2e-6);
        // and the SGD step itself moves the params by -lr * grad
        const float lr = 0.5f;
        step = step_before;
        rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(), pb.N, 0, rows, 1,
                           &lr, &step, dseed, nullptr);
        ref::V expect(p0.size());
        for (size_t i = 0; i < p0.size(); i++) expect[i] = (double)p0[i] - lr * (double)nn.grads[i];
        t::close(name + " sgd step", nn.params, expect, 1e-6);
        return;
    }
    t::fail("could not draw a kink-free problem");
}

int main() {
    d4j_set_num_threads(1);
    uint64_t seed = 100;
    const int pairs[][2] = {{D4J_LOSS_SPARSE_CCE, D4J_ACT_SOFTMAX}, {D4J_LOSS_SPARSE_CCE, D4J_ACT_LINEAR},
                            {D4J_LOSS_CCE, D4J_ACT_SOFTMAX},        {D4J_LOSS_CCE, D4J_ACT_LINEAR},
                            {D4J_LOSS_BCE, D4J_ACT_SIGMOID},        {D4J_LOSS_BCE, D4J_ACT_LINEAR},
                            {D4J_LOSS_MSE, D4J_ACT_LINEAR},         {D4J_LOSS_MSE, D4J_ACT_RELU},
                            {D4J_LOSS_MSE, D4J_ACT_SIGMOID},        {D4J_LOSS_MSE, D4J_ACT_TANH},
                            {D4J_LOSS_MSE, D4J_ACT_GELU},           {D4J_LOSS_MSE, D4J_ACT_SOFTMAX}};
    for (int hidden = 0; hidden <= D4J_ACT_SOFTMAX; hidden++)
        for (const auto& p : pairs) check(hidden, p[1], p[0], 0.0f, seed++);
    for (int hidden : {D4J_ACT_RELU, D4J_ACT_TANH, D4J_ACT_GELU, D4J_ACT_LINEAR})
        for (const auto& p : pairs) check(hidden, p[1], p[0], 0.3f, seed++);
    return t::finish("net_gradcheck_test");
}
