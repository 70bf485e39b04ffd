// The column-parallel training step of two-layer networks (cpu/column_step.cpp; on unless D4J_COLUMN_STEP=0, which
// is unset here for every network): a network of the right shape (column_shape) runs every call made at 2+ threads as column
// steps, W0, its gradient and its optimizer state in private panels (loaded from the caller's buffers at the call's
// start, stored back at its end), over any buffers; a call at one thread runs the per-op step on the caller's
// buffers with the same arithmetic. Checked here, always on the caller's (canonical) buffers:
// - training against the float64 reference (ref::Net::train_step) on awkward shapes (784/1000/1100/800 inputs,
//   128/144/192/256 hidden units, 1/7/10/31 outputs) and partial batches (1, 8, 31, 33 rows), at 1 and 2 threads;
// - the same bits at 1, 2, 3 and 4 threads, over buffers off a 64-byte line, with 3 and 4 chunks forced
//   (D4J_COLUMN_CHUNKS: more chunks than this machine's CPUs), and with the thread count changed between calls
//   (each call's chunks then gather their own rows again), for dropout on layer 0, value clipping, global-norm
//   clipping, float and byte rows, and the first layer's sparse-input weight gradient;
// - a non-finite loss mid-call (1 and 2 threads) leaves the caller's buffers holding exactly the steps before it;
//   params and optimizer state changed by the caller between calls are what the next call trains;
// - the shapes that are not column mode never take the step.
// Every run counts the steps that took the column step (d4j_net_column_steps): exactly those of its 2+ thread calls.
#include <sched.h>
#include <atomic>
#include <thread>
#include <cstdlib>
#include <cstring>
#include <string>
#include "net_util.h"

namespace {

using Case = NetConfig;

const std::vector<float> ADAM = {0.9f, 0.999f, 1e-7f, 0, 0};

// float buffer starting on a 64-byte line, or `skew` floats after one
struct Buffer {
    float* base = nullptr;
    float* p = nullptr;
    Buffer(size_t n, float fill, int skew) {
        if (posix_memalign(reinterpret_cast<void**>(&base), 64, (n + 16) * sizeof(float)) != 0) std::abort();
        p = base + skew;
        std::fill(p, p + n, fill);
    }
    ~Buffer() { free(base); }
    Buffer(const Buffer&) = delete;
};

enum Layout { ALIGNED, SKEWED };  // SKEWED: params, grads and state one float off a line, slots back to back

struct Data {
    Problem pb;
    std::vector<uint8_t> bytes;  // the same rows as bytes: pb.x = bytes / 255 exactly
};

// Rows of bytes (a share `zeros` of them exactly 0), and the same rows as floats, (float)(b / 255.0): the byte path
// converts to the same floats.
Data make_data(t::Rng& rng, int N, int in, int k, int loss, double zeros) {
    Data d;
    d.pb.make(rng, N, in, k, loss);
    d.bytes.resize((size_t)N * in);
    for (size_t i = 0; i < d.bytes.size(); i++) {
        d.bytes[i] = rng.uniform(0, 1) < zeros ? 0 : (uint8_t)rng.integer(1, 255);
        d.pb.x[i] = (float)((double)d.bytes[i] / 255.0);
    }
    return d;
}

struct Run {
    std::vector<float> params, state;  // state as 3 back-to-back slots
    std::vector<double> losses;        // per step
    int64_t column_steps = 0;
    int64_t team_steps = 0;            // steps of the calls made at 2+ threads on a machine that has 2+ CPUs
    int64_t sparse_steps = 0;          // steps whose first-layer weight gradient skipped zeros
    int rc = D4J_OK;
    int64_t steps = 0;
};

int64_t g_column_steps = 0;  // over every run at 2+ threads

int cpus() {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
}

// A column network takes the column step in exactly the calls made at 2+ threads (when the process has 2+ CPUs)
void expect_column_steps(const Run& r, const std::string& name) {
    t::expect(r.column_steps == r.team_steps, name + ": " + std::to_string(r.column_steps) + " steps by the column " +
                                                  "step, expected " + std::to_string(r.team_steps));
}

struct Options {
    Layout layout = ALIGNED;
    bool bytes = false;
    float sparse = 0.0f;     // the first layer's weight gradient skips zeros below this density (0: never)
    int chunks = 0;          // D4J_COLUMN_CHUNKS at creation (0: unset)
    std::vector<int> thread_per_call;  // threads of each call (one call per epoch), else `threads` for all
    bool per_step = false;   // one call per step (the loss curve)
    int max_steps = 0;       // (one call per epoch) at most this many steps in the first call, and no more calls
};

// Trains c over `orders` (one call per epoch, or per step) from the initial weights of seed `init`.
Run train(const Case& c, const Data& d, const std::vector<std::vector<int32_t>>& orders, int batch,
          const std::vector<float>& lrs, int threads, uint64_t init, const Options& o) {
    Run r;
    t::Rng rng(init);
    NativeNet nn;  // for its initial weights
    if (!nn.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, rng, c.clip_norm, c.clip_value)) {
        t::fail(std::string(c.name) + ": create");
        r.rc = -1;
        return r;
    }
    const int64_t n = (int64_t)nn.params.size();
    const int skew = o.layout == SKEWED ? 1 : 0;
    const int64_t stride = o.layout == ALIGNED ? d4j_opt_state_stride(n) : n;
    Buffer params(n, 0, skew), grads(n, NAN, skew), state(3 * stride, 0, skew);
    std::copy(nn.params.begin(), nn.params.end(), params.p);
    if (o.chunks > 0) setenv("D4J_COLUMN_CHUNKS", std::to_string(o.chunks).c_str(), 1);
    d4j_net* net = d4j_net_create((int)c.acts.size(), c.sizes.data(), c.acts.data(),
                                  c.dropout.empty() ? nullptr : c.dropout.data(), c.loss, batch, params.p, grads.p,
                                  c.opt, c.hp.data(), state.p, c.clip_norm, c.clip_value);
    unsetenv("D4J_COLUMN_CHUNKS");
    if (!net || d4j_net_set_opt_stride(net, stride) != D4J_OK) {
        t::fail(std::string(c.name) + ": create over our buffers");
        d4j_net_destroy(net);
        r.rc = -1;
        return r;
    }
    if (o.sparse > 0) d4j_net_set_sparse_input(net, o.sparse);
    const Problem& pb = d.pb;
    const void* x = o.bytes ? static_cast<const void*>(d.bytes.data()) : static_cast<const void*>(pb.x.data());
    const int type = o.bytes ? D4J_DATA_U8 : D4J_DATA_F32;
    const float divisor = o.bytes ? 255.0f : 1.0f;
    int64_t step = 0;
    size_t s = 0;
    const int nb = (pb.N + batch - 1) / batch;
    for (size_t e = 0; e < orders.size() && r.rc == D4J_OK; e++) {
        const int th = e < o.thread_per_call.size() ? o.thread_per_call[e] : threads;
        d4j_set_num_threads(th);
        const int64_t col_before = d4j_net_column_steps(net);
        for (int b = 0; b < (o.per_step ? nb : 1) && r.rc == D4J_OK; b++) {
            double st[3] = {0, 0, 0};
            const int count = o.per_step ? 1 : o.max_steps > 0 ? std::min(nb, o.max_steps) : nb;
            r.rc = d4j_net_train_data(net, x, type, divisor, pb.labels.data(), pb.targets.data(), orders[e].data(),
                                      pb.N, (int64_t)b * batch, batch, count, &lrs[s], &step, 77, st);
            if (r.rc == D4J_OK && o.per_step) r.losses.push_back(st[0] / st[2]);
            s += count;
            if (r.rc == D4J_OK && th > 1 && cpus() > 1) r.team_steps += count;
        }
        if (th > 1) g_column_steps += d4j_net_column_steps(net) - col_before;
        if (o.max_steps > 0) break;
    }
    d4j_set_num_threads(1);
    r.column_steps = d4j_net_column_steps(net);
    r.sparse_steps = d4j_net_sparse_steps(net);
    r.steps = step;
    r.params.assign(params.p, params.p + n);
    r.state.resize(3 * n);
    for (int slot = 0; slot < 3; slot++)
        std::copy(state.p + slot * stride, state.p + slot * stride + n, r.state.begin() + slot * n);
    d4j_net_destroy(net);
    return r;
}

std::vector<std::vector<int32_t>> orders_for(t::Rng& rng, int N, int epochs) {
    std::vector<std::vector<int32_t>> o;
    for (int e = 0; e < epochs; e++) o.push_back(permutation(rng, N));
    return o;
}

// Loss curve and final weights against the float64 reference, at 1 and 2 threads.
void against_reference(const Case& c, int N, int batch, int epochs, uint64_t seed) {
    t::Rng rng(seed);
    const Data d = make_data(rng, N, c.sizes[0], c.sizes.back(), c.loss, 0.3);
    const auto orders = orders_for(rng, N, epochs);
    const int nb = (N + batch - 1) / batch;
    std::vector<float> lrs(epochs * nb);
    for (size_t s = 0; s < lrs.size(); s++) lrs[s] = (c.opt == D4J_OPT_SGD ? 0.05f : 2e-3f) * (1.0f - 0.3f * s / lrs.size());
    // the reference, from the same initial weights
    t::Rng rng_init(seed + 1);
    NativeNet twin_src;
    twin_src.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, rng_init, c.clip_norm, c.clip_value);
    ref::Net r = twin_src.twin();
    ref::Optimizer opt(c.opt, c.hp.data(), r.params.size());
    std::vector<double> ref_losses;
    int64_t step = 0;
    for (const auto& order : orders)
        for (int b = 0; b < nb; b++) {
            const int rows = std::min(batch, N - b * batch);
            ref::V xo, to;
            std::vector<int32_t> lo;
            d.pb.gather(order.data() + b * batch, rows, xo, lo, to);
            step++;
            ref_losses.push_back(r.train_step(opt, c.clip_norm, c.clip_value, xo.data(), rows, lo.data(), to.data(),
                                              lrs[step - 1], 77, step) / rows);
        }
    for (int threads : {1, 2}) {
        Options o;
        o.per_step = true;
        const Run run = train(c, d, orders, batch, lrs, threads, seed + 1, o);
        const std::string name = std::string(c.name) + " vs reference at " + std::to_string(threads) + " threads";
        if (run.rc != D4J_OK) { t::fail(name + ": rc " + std::to_string(run.rc)); continue; }
        std::vector<float> nl(run.losses.begin(), run.losses.end());
        t::close(name + ": loss curve", nl, ref_losses, 1e-5);
        t::close(name + ": final params", run.params, r.params, 1e-5);
        expect_column_steps(run, name);
    }
    double moved = 0;  // the updates were not negligible (else agreeing with the reference would say little)
    for (size_t i = 0; i < r.params.size(); i++) moved = std::max(moved, std::fabs(r.params[i] - twin_src.params[i]));
    t::expect(moved > 1e-3, std::string(c.name) + ": the weights hardly moved (" + std::to_string(moved) + ")");
}

const Case reference_cases[] = {
    {"784-128-10 relu softmax sparse_cce adam", {784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {},
     D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM, 0, 0},
    {"1000-144-31 tanh softmax cce adamw amsgrad", {1000, 144, 31}, {D4J_ACT_TANH, D4J_ACT_SOFTMAX}, {},
     D4J_LOSS_CCE, D4J_OPT_ADAMW, {0.9f, 0.99f, 1e-6f, 0.01f, 1}, 0, 0},
    {"1100-256-1 gelu(dropout 0.2) sigmoid bce adam clip_value", {1100, 256, 1}, {D4J_ACT_GELU, D4J_ACT_SIGMOID},
     {0.2f, 0}, D4J_LOSS_BCE, D4J_OPT_ADAM, ADAM, 0, 0.01f},
    {"800-192-7 relu linear mse sgd nesterov clip_norm", {800, 192, 7}, {D4J_ACT_RELU, D4J_ACT_LINEAR}, {},
     D4J_LOSS_MSE, D4J_OPT_SGD, {0.9f, 0, 1e-4f, 1, 0}, 1.0f, 0},
    {"1000-128-31 relu(dropout 0.25) softmax sparse_cce adam", {1000, 128, 31}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX},
     {0.25f, 0}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM, 0, 0},
};

// Same bits whatever runs the step: 1 thread, the column step on 2 threads, the per-op step on 2 threads (buffers
// off a line), 3 and 4 chunks, threads changed between calls, byte rows.
void same_bits(const Case& c, uint64_t seed, bool sparse_data) {
    t::Rng rng(seed);
    const int N = 200, batch = 32, epochs = 3;  // 7 steps per epoch, the last of 8 rows
    const Data d = make_data(rng, N, c.sizes[0], c.sizes.back(), c.loss, sparse_data ? 0.5 : 0.0);
    const auto orders = orders_for(rng, N, epochs);
    const std::vector<float> lrs(epochs * 7, 1e-3f);
    Options base;
    base.sparse = sparse_data ? 1.0f : 0.0f;
    const Run one = train(c, d, orders, batch, lrs, 1, seed + 1, base);
    const std::string tag = std::string(c.name) + (sparse_data ? " (50% zero inputs, skipped)" : "");
    if (one.rc != D4J_OK || one.steps != epochs * 7) { t::fail(tag + ": 1-thread run failed"); return; }
    struct Variant { const char* what; int threads; Options o; };
    std::vector<Variant> variants;
    variants.push_back({"2 threads", 2, base});
    Options skewed = base;
    skewed.layout = SKEWED;
    variants.push_back({"2 threads, buffers off a line", 2, skewed});
    variants.push_back({"3 threads", 3, base});
    variants.push_back({"4 threads", 4, base});
    for (int chunks : {1, 3, 4}) {  // 1: the column step as it runs while the pool is serial (one chunk)
        Options o = base;
        o.chunks = chunks;
        variants.push_back({chunks == 1 ? "1 chunk" : chunks == 3 ? "3 chunks" : "4 chunks", 2, o});
    }
    Options mixed = base;
    mixed.thread_per_call = {2, 1, 2};
    variants.push_back({"2, 1, 2 threads by epoch", 2, mixed});
    Options bytes = base;
    bytes.bytes = true;
    variants.push_back({"byte rows, 1 thread", 1, bytes});
    variants.push_back({"byte rows, 2 threads", 2, bytes});
    Options steps = base;
    steps.per_step = true;
    variants.push_back({"2 threads, one call per step", 2, steps});
    if (sparse_data) {
        Options dense = base;
        dense.sparse = 0.0f;
        variants.push_back({"2 threads, zeros not skipped", 2, dense});
    }
    for (const Variant& v : variants) {
        const Run r = train(c, d, orders, batch, lrs, v.threads, seed + 1, v.o);
        const std::string name = tag + ", " + v.what;
        t::expect(r.rc == D4J_OK && r.steps == one.steps, name + ": rc " + std::to_string(r.rc));
        t::expect(r.params == one.params && r.state == one.state, name + ": not bit-identical to 1 thread");
        if (v.o.sparse > 0)
            t::expect(r.sparse_steps == r.steps, name + ": " + std::to_string(r.sparse_steps) + " of " +
                                                     std::to_string(r.steps) + " steps skipped zeros");
        expect_column_steps(r, name);
        if (t::verbose())
            std::printf("  %s: %lld of %lld steps by the column step\n", name.c_str(), (long long)r.column_steps,
                        (long long)r.steps);
    }
}

const Case bit_cases[] = {
    {"784-128-10 relu(dropout 0.3) softmax sparse_cce adam", {784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX},
     {0.3f, 0}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM, 0, 0},
    {"784-144-31 relu softmax sparse_cce adam amsgrad clip_value", {784, 144, 31}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX},
     {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 1}, 0, 0.002f},
    {"1100-256-1 tanh sigmoid bce rmsprop clip_norm", {1100, 256, 1}, {D4J_ACT_TANH, D4J_ACT_SIGMOID}, {},
     D4J_LOSS_BCE, D4J_OPT_RMSPROP, {0.9f, 1e-6f, 1e-3f, 0.5f, 1}, 0.5f, 0},
    {"784-128-16 relu softmax sparse_cce sgd (no state)", {784, 128, 16}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {},
     D4J_LOSS_SPARSE_CCE, D4J_OPT_SGD, {0, 0, 0, 0, 0}, 0, 0},
};

// A non-finite loss at step 3 of a call (1 and 2 threads): D4J_ERR_NONFINITE, and exactly the first 3 steps in the
// caller's buffers (the same params and state as a clean run of 3 steps: the panels were stored back).
void nonfinite() {
    const Case& c = reference_cases[0];
    t::Rng rng(41);
    Data d = make_data(rng, 256, 784, 10, c.loss, 0.0);
    const auto orders = orders_for(rng, 256, 1);
    const std::vector<float> lrs(8, 1e-3f);
    Options three;
    three.max_steps = 3;
    for (int threads : {1, 2}) {
        const std::string at = " at " + std::to_string(threads) + " threads";
        const Run ok = train(c, d, orders, 32, lrs, threads, 42, three);
        Data bad_d = d;
        bad_d.pb.x[(size_t)orders[0][3 * 32 + 5] * 784 + 100] = INFINITY;  // a row of step 3 (0-based)
        const Run bad = train(c, bad_d, orders, 32, lrs, threads, 42, Options{});
        t::expect(ok.rc == D4J_OK && ok.steps == 3, "nonfinite: the clean run" + at);
        t::expect(bad.rc == D4J_ERR_NONFINITE && bad.steps == 3, "nonfinite" + at + ": rc " + std::to_string(bad.rc) +
                                                                     " after " + std::to_string(bad.steps) + " steps");
        t::expect(bad.params == ok.params && bad.state == ok.state,
                  "nonfinite" + at + ": the caller's buffers do not hold exactly the 3 steps before it");
    }
}

// The caller changes params and optimizer state between two calls: the second call trains what the caller wrote.
// Net A trains call 1, its buffers are then changed (weights of another init, the moments halved), and call 2 runs;
// net B, created fresh over the changed buffers (same step count), runs the same call 2: the same bits.
void caller_changes() {
    const Case& c = reference_cases[0];
    t::Rng rng(71);
    const int N = 96, batch = 32;
    const Data d = make_data(rng, N, 784, 10, c.loss, 0.3);
    const auto orders = orders_for(rng, N, 2);
    const std::vector<float> lrs(3, 1e-3f);
    for (int threads : {1, 2}) {
        d4j_set_num_threads(threads);
        const std::string at = " at " + std::to_string(threads) + " threads";
        t::Rng r1(72), r2(73);
        NativeNet a, other;
        if (!a.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, r1, 0, 0) ||
            !other.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, r2, 0, 0)) {
            t::fail("caller_changes: create");
            return;
        }
        int64_t step = 0;
        int rc = d4j_net_train_data(a.net, d.pb.x.data(), D4J_DATA_F32, 1.0f, d.pb.labels.data(), nullptr,
                                    orders[0].data(), N, 0, batch, 3, lrs.data(), &step, 5, nullptr);
        t::expect(rc == D4J_OK && step == 3, "caller_changes: call 1" + at);
        std::copy(other.params.begin(), other.params.end(), a.params.begin());
        for (float& v : a.state) v *= 0.5f;
        NativeNet b;
        t::Rng r3(72);
        b.create(c.sizes, c.acts, c.dropout, c.loss, batch, c.opt, c.hp, r3, 0, 0);
        std::copy(a.params.begin(), a.params.end(), b.params.begin());  // (into the buffers b's net trains)
        std::copy(a.state.begin(), a.state.end(), b.state.begin());
        int64_t step_b = step;
        rc = d4j_net_train_data(a.net, d.pb.x.data(), D4J_DATA_F32, 1.0f, d.pb.labels.data(), nullptr,
                                orders[1].data(), N, 0, batch, 3, lrs.data(), &step, 5, nullptr);
        const int rc_b = d4j_net_train_data(b.net, d.pb.x.data(), D4J_DATA_F32, 1.0f, d.pb.labels.data(), nullptr,
                                            orders[1].data(), N, 0, batch, 3, lrs.data(), &step_b, 5, nullptr);
        t::expect(rc == D4J_OK && rc_b == D4J_OK && step == 6 && step_b == 6, "caller_changes: call 2" + at);
        t::expect(a.params == b.params && a.state == b.state,
                  "caller_changes" + at + ": the second call did not train the caller's new params and state");
        t::expect(d4j_net_column_steps(a.net) == (threads > 1 && cpus() > 1 ? 6 : 0),
                  "caller_changes" + at + ": " + std::to_string(d4j_net_column_steps(a.net)) + " column steps");
    }
    d4j_set_num_threads(1);
}

// Calls of more steps than one run (column_run: RUN_STEPS steps a region), at 2 threads, while the machine works
// against the run: (a) quiet; (b) another thread burns a CPU (the worker is descheduled in the middle of runs: its
// phases are taken over by the caller, and given back when it returns); (c) another thread predicts on the shared
// pool without pause (its regions hold the pool, so some of the training's runs go serially on the calling thread
// with two chunks: it must run both chunks' phases itself). Every time: the same bits as 1 thread, every step by the
// column step.
void runs_under_interference() {
    const Case& c = reference_cases[0];
    t::Rng rng(81);
    const int N = 300, batch = 8, epochs = 2;  // 38 steps a call: runs of 16, 16 and 6
    const Data d = make_data(rng, N, 784, 10, c.loss, 0.4);
    const auto orders = orders_for(rng, N, epochs);
    const std::vector<float> lrs(epochs * 38, 1e-3f);
    Options o;
    o.sparse = 1.0f;
    const Run one = train(c, d, orders, batch, lrs, 1, 82, o);
    t::expect(one.rc == D4J_OK && one.steps == epochs * 38, "runs: 1-thread run failed");
    for (int mode = 0; mode < 3; mode++) {
        std::atomic<bool> stop{false};
        std::thread other;
        NativeNet predictor;
        t::Rng pr(83);
        if (mode == 1) {
            other = std::thread([&] {
                volatile double x = 1;
                while (!stop.load(std::memory_order_relaxed)) x = x * 1.0000001 + 1e-9;
            });
        } else if (mode == 2) {
            if (!predictor.create({784, 256, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, 64,
                                  D4J_OPT_ADAM, ADAM, pr)) {
                t::fail("runs: predictor");
                continue;
            }
            other = std::thread([&] {
                std::vector<float> out(64 * 10);
                while (!stop.load(std::memory_order_relaxed))
                    d4j_net_forward(predictor.net, d.pb.x.data(), 64, out.data(), nullptr, nullptr, nullptr);
            });
        }
        d4j_set_num_threads(2);  // (the predictor's regions use the shared pool too)
        const Run r = train(c, d, orders, batch, lrs, 2, 82, o);
        stop.store(true);
        if (other.joinable()) other.join();
        const char* what[] = {"quiet", "a CPU burned", "predicts on the shared pool"};
        const std::string name = std::string("runs of 38-step calls at 2 threads, ") + what[mode];
        t::expect(r.rc == D4J_OK && r.steps == one.steps, name + ": rc " + std::to_string(r.rc));
        t::expect(r.params == one.params && r.state == one.state, name + ": not bit-identical to 1 thread");
        t::expect(r.sparse_steps == one.sparse_steps, name + ": " + std::to_string(r.sparse_steps) + " steps skipped zeros, " +
                                                          std::to_string(one.sparse_steps) + " at 1 thread");
        expect_column_steps(r, name);
    }
    d4j_set_num_threads(1);
}

// Networks that are not column mode never take the column step (a third layer, a width that is not a multiple of
// 16 or under two blocks, a short layer 0, a wide last layer, a softmax hidden layer, an MSE loss on a non-linear
// output; and the reference network itself with the column step turned off).
void not_column() {
    const Case cases[] = {
        {"three layers", {784, 128, 32, 10}, {D4J_ACT_RELU, D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE,
         D4J_OPT_ADAM, ADAM, 0, 0},
        {"width 120", {784, 120, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM,
         0, 0},
        {"width 64", {784, 64, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM, 0, 0},
        {"300 inputs", {300, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM,
         0, 0},
        {"40 outputs", {784, 128, 40}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM,
         0, 0},
        {"softmax hidden", {784, 128, 10}, {D4J_ACT_SOFTMAX, D4J_ACT_LINEAR}, {}, D4J_LOSS_MSE, D4J_OPT_ADAM, ADAM,
         0, 0},
        {"mse sigmoid output", {784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SIGMOID}, {}, D4J_LOSS_MSE, D4J_OPT_ADAM, ADAM,
         0, 0},
        {"the reference network with D4J_COLUMN_STEP=0", {784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {},
         D4J_LOSS_SPARSE_CCE, D4J_OPT_ADAM, ADAM, 0, 0},
    };
    for (const Case& c : cases) {
        const bool opt_out = std::strstr(c.name, "D4J_COLUMN_STEP=0") != nullptr;
        if (opt_out) setenv("D4J_COLUMN_STEP", "0", 1);
        t::Rng rng(61);
        const Data d = make_data(rng, 64, c.sizes[0], c.sizes.back(), c.loss, 0.0);
        const Run r = train(c, d, orders_for(rng, 64, 1), 32, std::vector<float>(2, 1e-3f), 2, 62, Options{});
        t::expect(r.rc == D4J_OK && r.column_steps == 0, std::string("not column mode: ") + c.name);
        if (opt_out) unsetenv("D4J_COLUMN_STEP");
    }
}

}  // namespace

int main() {
    unsetenv("D4J_COLUMN_STEP");  // the column step is on unless D4J_COLUMN_STEP=0 (column_step.h)
    const int saved = d4j_get_num_threads();
    uint64_t seed = 500;
    const int batches[] = {32, 33, 31, 32, 32};
    const int rows[] = {95, 100, 93, 97, 65};  // last batches of 31, 1, 0 (93 = 3 * 31), 1, 1 rows
    for (size_t i = 0; i < sizeof(reference_cases) / sizeof(reference_cases[0]); i++)
        against_reference(reference_cases[i], rows[i], batches[i], 2, seed++);
    for (const Case& c : bit_cases) same_bits(c, seed++, false);
    same_bits(reference_cases[0], seed++, true);
    nonfinite();
    caller_changes();
    runs_under_interference();
    not_column();
    t::expect(g_column_steps > 0, "no step at 2 threads took the column step (the file proves nothing about it)");
    std::printf("column_step_test: %lld steps at 2+ threads took the column step\n", (long long)g_column_steps);
    d4j_set_num_threads(saved);
    return t::finish("column_step_test");
}
