// Whole training runs of d4j_net_train against the float64 reference training loop (same data order,
// same learning-rate schedule, partial last batches): loss curve and final parameters agree; one call of
// many steps equals many calls of one step bit for bit; the same with layers wide enough that every product
// is split across 2 threads; at 1, 2, 3, 4 and 8 threads two identical runs are bit-identical and equal to
// the 1-thread run (within float tolerance, and bit for bit); a non-finite loss stops training before its
// update; d4j_net_forward (chunked inference) and its stats match the reference; inputs with many exact zeros,
// whose first-layer weight gradient skips them (d4j_net_set_sparse_input), train the same as the reference and
// bit for bit as with the dense kernel, at every thread count.
#include <cstring>
#include <string>
#include "net_util.h"

using Config = NetConfig;

static const Config configs[] = {
    {"relu-tanh-softmax sparse_cce adam", {20, 16, 8, 5}, {1, 3, 5}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM,
     {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0},
    {"gelu-sigmoid mse rmsprop centered momentum dropout clip_norm", {20, 16, 8, 5}, {4, 2, 2}, {0.2f, 0.1f, 0},
     D4J_LOSS_MSE, D4J_OPT_RMSPROP, {0.9f, 1e-6f, 1e-3f, 0.5f, 1}, 1.0f, 0},
    {"relu-linear bce(logits) sgd nesterov clip_value", {20, 12, 5}, {1, 0}, {0.25f, 0}, D4J_LOSS_BCE, D4J_OPT_SGD,
     {0.9f, 0, 1e-4f, 1, 0}, 0, 0.05f},
    {"tanh-softmax cce adamw amsgrad", {20, 12, 5}, {3, 5}, {}, D4J_LOSS_CCE, D4J_OPT_ADAMW,
     {0.9f, 0.99f, 1e-6f, 0.01f, 1}, 0, 0},
};

static std::vector<float> schedule(int steps) {
    std::vector<float> lrs(steps);
    for (int s = 0; s < steps; s++) lrs[s] = 0.01f * (1.0f - 0.5f * s / steps);
    return lrs;
}

// Native run: epochs over N rows in batches of `batch`; one call per step or one call per epoch.
static void run_native(NativeNet& nn, const Problem& pb, const std::vector<std::vector<int32_t>>& orders, int batch,
                       const std::vector<float>& lrs, bool per_step, std::vector<double>& losses) {
    int64_t step = 0;
    size_t s = 0;
    for (const auto& order : orders) {
        const int nb = (pb.N + batch - 1) / batch;
        if (per_step) {
            for (int b = 0; b < nb; b++, s++) {
                double st[3] = {0, 0, 0};
                const int rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(),
                                             pb.N, (int64_t)b * batch, batch, 1, &lrs[s], &step, 77, st);
                if (rc != D4J_OK) { t::fail("train rc " + std::to_string(rc)); return; }
                losses.push_back(st[0] / st[2]);
            }
        } else {
            double st[3] = {0, 0, 0};
            const int rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(),
                                         pb.N, 0, batch, nb, &lrs[s], &step, 77, st);
            if (rc != D4J_OK) { t::fail("train rc " + std::to_string(rc)); return; }
            t::expect(st[2] == pb.N, "epoch rows");
            s += nb;
        }
    }
}

// Sets a share `zeros` of the inputs to exactly 0 (and the first input of every row to -0.0): image-like data. A
// row keeps at least one non-zero input.
static void zero_inputs(t::Rng& rng, Problem& pb, double zeros) {
    for (int r = 0; r < pb.N; r++) {
        float* x = pb.x.data() + (size_t)r * pb.in;
        for (int i = 0; i < pb.in; i++)
            if (rng.uniform(0, 1) < zeros) x[i] = 0.0f;
        x[0] = -0.0f;
        if (pb.in > 1 && x[pb.in - 1] == 0.0f) x[pb.in - 1] = rng.nonzero(-1, 1);
    }
}

// zeros > 0: that share of the inputs is exactly 0 (zero_inputs), net a skips them in every block of its first
// layer's weight gradient (max density 1), net b at the default density, net d never; all three bit-identical.
static void training_vs_reference(const Config& c, uint64_t seed, int epochs = 15, double zeros = 0) {
    t::Rng rng(seed);
    Problem pb;
    pb.make(rng, 200, c.sizes[0], c.sizes.back(), c.loss);
    if (zeros > 0) zero_inputs(rng, pb, zeros);
    const int batch = 32, nb = 7;  // 200 = 6 * 32 + 8: the last step of each epoch has 8 rows
    std::vector<std::vector<int32_t>> orders;
    for (int e = 0; e < epochs; e++) orders.push_back(permutation(rng, pb.N));
    auto lrs = schedule(epochs * nb);
    if (c.opt == D4J_OPT_SGD) for (auto& l : lrs) l *= 20;
    NativeNet a, b;
    t::Rng init(seed + 1), init2(seed + 1);
    if (!a.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, init, c.clip_norm, c.clip_value) ||
        !b.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, init2, c.clip_norm, c.clip_value)) {
        t::fail(std::string(c.name) + ": create");
        return;
    }
    NativeNet d;
    if (zeros > 0) {
        t::Rng init3(seed + 1);
        if (!d.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, init3, c.clip_norm, c.clip_value)) {
            t::fail(std::string(c.name) + ": create");
            return;
        }
        t::expect(d4j_net_set_sparse_input(a.net, 1.0f) == D4J_OK && d4j_net_set_sparse_input(d.net, 0.0f) == D4J_OK,
                  "set_sparse_input");
    }
    ref::Net r = a.twin();
    ref::Optimizer opt(c.opt, c.hp.data(), r.params.size());
    std::vector<double> ref_losses, nat_losses, unused;
    int64_t step = 0;
    for (const auto& order : orders)
        for (int bi = 0; bi < nb; bi++) {
            const int rows = std::min(batch, pb.N - bi * batch);
            ref::V xo, to;
            std::vector<int32_t> lo;
            pb.gather(order.data() + bi * batch, rows, xo, lo, to);
            step++;
            const double l = r.train_step(opt, c.clip_norm, c.clip_value, xo.data(), rows, lo.data(), to.data(),
                                          lrs[step - 1], 77, step);
            ref_losses.push_back(l / rows);
        }
    run_native(a, pb, orders, batch, lrs, true, nat_losses);
    run_native(b, pb, orders, batch, lrs, false, unused);
    std::string name = std::string("train ") + c.name;
    if (zeros > 0) {
        run_native(d, pb, orders, batch, lrs, false, unused);
        name += " (" + std::to_string((int)(zeros * 100)) + "% zero inputs)";
        const int64_t steps = (int64_t)epochs * nb;
        t::expect(d4j_net_sparse_steps(a.net) == steps && d4j_net_sparse_steps(d.net) == 0,
                  name + ": steps that skipped zeros " + std::to_string(d4j_net_sparse_steps(a.net)) + " of " +
                      std::to_string(steps) + ", and " + std::to_string(d4j_net_sparse_steps(d.net)) + " with it off");
        t::expect(a.params == d.params && a.state == d.state, name + ": skipping zeros changed the results");
    }
    std::vector<float> nl(nat_losses.begin(), nat_losses.end());
    t::close(name + ": loss curve (" + std::to_string(nl.size()) + " steps)", nl, ref_losses, 1e-5);
    t::close(name + ": final params", a.params, r.params, 1e-5);
    double first = 0, last = 0;  // mean loss of the first and of the last epoch
    for (int i = 0; i < nb; i++) { first += ref_losses[i]; last += ref_losses[ref_losses.size() - 1 - i]; }
    t::expect(last < 0.95 * first, name + ": the reference loss did not decrease");
    t::expect(a.params == b.params && a.state == b.state, name + ": one call per epoch != one call per step");
    if (t::verbose())
        std::printf("  %s: loss %.5f -> %.5f (native %.5f)\n", c.name, ref_losses.front(), ref_losses.back(),
                    nat_losses.back());
}

// The same config with layers wide enough that the engine splits every product across threads.
static Config wide(const Config& c) {
    Config w = c;
    w.sizes.front() = 160;
    for (size_t l = 1; l + 1 < w.sizes.size(); l++) w.sizes[l] = l == 1 ? 192 : 96;
    return w;
}

// zeros > 0: that share of the inputs exactly 0, and the first layer's weight gradient skips them at max density
// `sparse` (0: never); *sparse_steps: the steps that did
static std::vector<float> trained(const Config& c, int threads, std::vector<float>* state, int64_t* parallel,
                                  double zeros = 0, float sparse = 0, int64_t* sparse_steps = nullptr) {
    d4j_set_num_threads(threads);
    int64_t before[6], after[6];
    d4j_thread_stats(before);
    t::Rng rng(3);
    Problem pb;
    pb.make(rng, 640, c.sizes[0], c.sizes.back(), c.loss);
    if (zeros > 0) zero_inputs(rng, pb, zeros);
    NativeNet nn;
    nn.create(c.sizes, c.acts, c.dropout, c.loss, 64, c.opt, c.hp, rng, c.clip_norm, c.clip_value);
    if (zeros > 0) d4j_net_set_sparse_input(nn.net, sparse);
    auto order = permutation(rng, pb.N);
    std::vector<float> lrs(10, 0.01f);
    int64_t step = 0;
    const int rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(), pb.N, 0, 64,
                                 10, lrs.data(), &step, 99, nullptr);
    t::expect(rc == D4J_OK, std::string(c.name) + ": rc at " + std::to_string(threads) + " threads");
    d4j_thread_stats(after);
    if (parallel) *parallel = after[0] - before[0];
    if (state) *state = nn.state;
    if (sparse_steps) *sparse_steps = d4j_net_sparse_steps(nn.net);
    d4j_set_num_threads(1);
    return nn.params;
}

// Per thread count: two runs are bit-identical (determinism), and equal to the 1-thread run, within float
// tolerance as promised and in fact bit for bit (blocks of outputs, never of a reduction, are split).
static void thread_counts() {
    for (size_t ci = 0; ci < sizeof(configs) / sizeof(configs[0]); ci++) {
        Config c = wide(configs[ci]);
        if (ci == 1) c.sizes = {200, 256, 128, 5};  // clip_norm: the whole-buffer update is split too (>= 64K params)
        std::vector<float> s1;
        const auto p1 = trained(c, 1, &s1, nullptr);
        const auto p1ref = t::widen(p1);
        for (int threads : {2, 3, 4, 8}) {
            std::vector<float> sa, sb;
            int64_t parallel = 0;
            const auto pa = trained(c, threads, &sa, &parallel);
            const auto pb = trained(c, threads, &sb, nullptr);
            const std::string name = std::string(c.name) + " at " + std::to_string(threads) + " threads";
            t::expect(pa == pb && sa == sb, "determinism: two identical runs differ, " + name);
            t::close(name + ": params vs 1 thread", pa, p1ref, 1e-6);
            t::expect(std::memcmp(pa.data(), p1.data(), pa.size() * 4) == 0 &&
                          std::memcmp(sa.data(), s1.data(), sa.size() * 4) == 0,
                      name + ": not bit-identical to 1 thread");
            t::expect(parallel > 0, name + ": no region ran in parallel (the test would prove nothing)");
        }
    }
}

static void nonfinite() {
    t::Rng rng(8);
    Problem pb;
    pb.make(rng, 64, 20, 5, D4J_LOSS_SPARSE_CCE);
    auto order = permutation(rng, pb.N);
    pb.x[(size_t)order[5 * 8 + 3] * 20 + 7] = INFINITY;  // a row of batch 5 (batch size 8)
    const Config& c = configs[0];
    NativeNet a, b;
    t::Rng i1(9), i2(9);
    a.create(c.sizes, c.acts, c.dropout, c.loss, 8, c.opt, c.hp, i1);
    b.create(c.sizes, c.acts, c.dropout, c.loss, 8, c.opt, c.hp, i2);
    std::vector<float> lrs(8, 0.01f);
    int64_t sa = 0, sb = 0;
    double st_a[3] = {0, 0, 0}, st_b[3] = {0, 0, 0};
    const int ra = d4j_net_train(a.net, pb.x.data(), pb.labels.data(), nullptr, order.data(), pb.N, 0, 8, 5,
                                 lrs.data(), &sa, 1, st_a);
    const int rb = d4j_net_train(b.net, pb.x.data(), pb.labels.data(), nullptr, order.data(), pb.N, 0, 8, 8,
                                 lrs.data(), &sb, 1, st_b);
    t::expect(ra == D4J_OK && rb == D4J_ERR_NONFINITE, "nonfinite: return codes " + std::to_string(ra) + ", " +
                                                           std::to_string(rb));
    t::expect(sb == 5 && a.params == b.params && a.state == b.state,
              "nonfinite: the failing step must not be applied (step " + std::to_string(sb) + ")");
    t::expect(st_b[2] == 40 && st_a[0] == st_b[0], "nonfinite: stats of the applied steps only");
    // a NaN label-free target (MSE) is caught as well
    Problem pm;
    pm.make(rng, 16, 20, 5, D4J_LOSS_MSE);
    pm.targets[3] = NAN;
    NativeNet m;
    m.create({20, 8, 5}, {1, 0}, {}, D4J_LOSS_MSE, 16, D4J_OPT_SGD, {0, 0, 0, 0, 0}, rng);
    const auto p0 = m.params;
    int64_t sm = 0;
    const int rm = d4j_net_train(m.net, pm.x.data(), nullptr, pm.targets.data(), permutation(rng, 16).data(), 16, 0,
                                 16, 1, lrs.data(), &sm, 1, nullptr);
    t::expect(rm == D4J_ERR_NONFINITE && sm == 0 && m.params == p0, "nonfinite: NaN target");
}

static void inference() {
    for (const Config& c : configs) {
        t::Rng rng(21);
        Problem pb;
        pb.make(rng, 70, c.sizes[0], c.sizes.back(), c.loss);
        NativeNet nn;
        nn.create(c.sizes, c.acts, c.dropout, c.loss, 32, c.opt, c.hp, rng);
        ref::Net r = nn.twin();
        const int k = c.sizes.back();
        auto xd = t::widen(pb.x), td = t::widen(pb.targets);
        int64_t correct = 0;
        const double lref = r.forward(xd.data(), pb.N, pb.labels.data(), td.data(), false, 0, 0, &correct);
        auto out = t::poisoned((size_t)pb.N * k);
        double st[3] = {1, 2, 3};  // accumulated into
        const int rc = d4j_net_forward(nn.net, pb.x.data(), pb.N, out.data(), pb.labels.data(), pb.targets.data(), st);
        const std::string name = std::string("forward ") + c.name;
        t::expect(rc == D4J_OK, name + ": rc");
        t::close(name + ": outputs (70 rows, chunks of 32)", out, r.y.back(), 1e-5);
        t::close_scalar(name + ": loss sum", st[0] - 1, lref, 1e-5);
        t::expect(st[1] - 2 == (c.loss == D4J_LOSS_MSE ? 0 : correct) && st[2] == 3 + pb.N, name + ": correct/rows");
        // inference-only network over the same params, out = NULL, stats only
        NativeNet inf;
        inf.params = nn.params;
        inf.net = d4j_net_create((int)c.acts.size(), c.sizes.data(), c.acts.data(), nullptr, c.loss, 16,
                                 inf.params.data(), nullptr, 0, nullptr, nullptr, 0, 0);
        double st2[3] = {0, 0, 0};
        t::expect(inf.net && d4j_net_forward(inf.net, pb.x.data(), pb.N, nullptr, pb.labels.data(), pb.targets.data(),
                                             st2) == D4J_OK && st2[2] == pb.N,
                  name + ": inference-only network");
        t::close_scalar(name + ": loss sum (inference-only, out=NULL)", st2[0], lref, 1e-5);
        int64_t s0 = 0;
        float lr = 0.1f;
        t::expect(d4j_net_train(inf.net, pb.x.data(), pb.labels.data(), pb.targets.data(), nullptr, 1, 0, 1, 1, &lr,
                                &s0, 0, nullptr) == D4J_ERR_ARGUMENT,
                  name + ": training an inference-only network");
    }
}

static void dropout_statistics() {
    // the mask itself is the reference's (training_vs_reference; its statistics: reference_test)
    // different seeds give different masks, the same seed the same result (checked through training)
    const Config& c = configs[2];
    std::vector<float> p[3];
    for (int run = 0; run < 3; run++) {
        t::Rng rng(4);
        Problem pb;
        pb.make(rng, 64, 20, 5, c.loss);
        NativeNet nn;
        nn.create(c.sizes, c.acts, c.dropout, c.loss, 64, c.opt, c.hp, rng);
        auto order = permutation(rng, pb.N);
        float lr = 0.1f;
        int64_t step = 0;
        d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), pb.targets.data(), order.data(), pb.N, 0, 64, 1, &lr,
                      &step, run == 2 ? 2 : 1, nullptr);
        p[run] = nn.params;
    }
    t::expect(p[0] == p[1] && p[0] != p[2], "dropout seed: same seed same update, other seed other update");
}

// Tall layers (inputs >= 256 and >= 4x the width, relu or linear, not the last) are computed in training as two
// partial products over halves of the inputs, summed (net.cpp ForwardSplitK); the last, partial batch of each
// epoch here is too small to split and takes the one-chain forward. Both against the float64 reference, with
// and without dropout on the split layer, at 1 and 2 threads; and bit-identical at 1..4 threads (one thread fuses
// the sum into the second product's epilogue, net.cpp forward_split_k_serial; 1100 inputs: a second slice deeper
// than the kernels' reduction slice).
static const Config split_configs[] = {
    {"split-K relu-softmax sparse_cce adam", {300, 24, 5}, {1, 5}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM,
     {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0},
    {"split-K linear(dropout)-relu-sigmoid bce adam clip_value", {300, 40, 31, 1}, {0, 1, 2}, {0.2f, 0, 0},
     D4J_LOSS_BCE, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0.5f},
};

static void split_k() {
    uint64_t seed = 2000;
    for (int threads : {1, 2}) {
        d4j_set_num_threads(threads);
        for (const Config& c : split_configs) training_vs_reference(c, seed++, 6);
    }
    for (const Config& base : split_configs)
        for (const auto& tall : {std::pair<int, int>{784, 128}, std::pair<int, int>{1100, 48}}) {
            Config c = base;
            c.sizes.front() = tall.first;
            c.sizes[1] = tall.second;
            const std::string shape = " " + std::to_string(tall.first) + "-" + std::to_string(tall.second);
            std::vector<float> s1;
            const auto p1 = trained(c, 1, &s1, nullptr);
            for (int threads : {2, 3, 4}) {
                std::vector<float> sa;
                const auto pa = trained(c, threads, &sa, nullptr);
                t::expect(pa == p1 && sa == s1, std::string(c.name) + shape + ": " + std::to_string(threads) +
                                                    " threads not bit-identical to 1 thread");
            }
        }
    d4j_set_num_threads(1);
}

// Inputs with exact zeros (image-like): the first layer's weight gradient skipping them trains like the float64
// reference, and bit for bit like the dense kernel; the 784-128 layer (weight gradient cut in row bands at 2+
// threads, each band's blocks deciding on their own) bit-identical at 1..4 threads with and without skipping.
static void sparse_inputs() {
    uint64_t seed = 3000;
    for (double zeros : {0.5, 0.8, 0.2}) {
        for (const Config& c : configs) training_vs_reference(c, seed++, 15, zeros);
        for (const Config& c : split_configs) training_vs_reference(c, seed++, 6, zeros);
    }
    d4j_set_num_threads(2);
    for (const Config& c : configs) training_vs_reference(wide(c), seed++, 3, 0.5);
    d4j_set_num_threads(1);
    for (const Config& base : split_configs) {
        Config c = base;
        c.sizes.front() = 784;
        c.sizes[1] = 128;
        std::vector<float> s0;
        const auto p0 = trained(c, 1, &s0, nullptr, 0.5, 0.0f);
        for (int threads : {1, 2, 3, 4}) {
            std::vector<float> sa;
            int64_t sparse_steps = 0;
            const auto pa = trained(c, threads, &sa, nullptr, 0.5, 1.0f, &sparse_steps);
            const std::string name = std::string(c.name) + " 784-128, 50% zero inputs, " + std::to_string(threads) +
                                     " threads";
            t::expect(sparse_steps == 10, name + ": steps that skipped zeros " + std::to_string(sparse_steps));
            t::expect(pa == p0 && sa == s0, name + ": not bit-identical to the dense kernel at 1 thread");
        }
    }
    // the setting: [0, 1] only
    t::Rng rng(5);
    NativeNet nn;
    nn.create({8, 4, 3}, {1, 5}, {}, D4J_LOSS_SPARSE_CCE, 8, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, rng);
    for (float bad : {-0.1f, 1.5f, NAN, INFINITY})
        t::expect(d4j_net_set_sparse_input(nn.net, bad) == D4J_ERR_ARGUMENT, "set_sparse_input rejects " +
                                                                                std::to_string(bad));
    t::expect(d4j_net_set_sparse_input(nullptr, 0.5f) == D4J_ERR_ARGUMENT && d4j_net_sparse_steps(nullptr) == 0,
              "set_sparse_input / sparse_steps of NULL");
}

int main() {
    d4j_set_num_threads(1);
    uint64_t seed = 1000;
    for (const Config& c : configs) training_vs_reference(c, seed++);
    d4j_set_num_threads(2);  // again with every product split across threads
    for (const Config& c : configs) training_vs_reference(wide(c), seed++, 3);
    d4j_set_num_threads(1);
    thread_counts();
    split_k();
    nonfinite();
    inference();
    dropout_statistics();
    sparse_inputs();
    return t::finish("net_train_test");
}
