// d4j_net_set_opt_stride: a network whose optimizer state slots lie `stride` floats apart (the CPU backend pads
// them to 64-byte lines, d4j_opt_state_stride) trains to the same bits as one with the slots back to back, and
// never touches the padding between the slots. Checked for the per-layer update (Adam with amsgrad: all three slots
// in use) and for the update after global-norm clipping (a separate code path), at 1 and 2 threads, on awkward
// sizes; plus the argument checks of both functions.
#include <cstring>
#include <string>
#include "net_util.h"

namespace {

constexpr float SENTINEL = -12345.5f;

struct Run {
    std::vector<float> params, state;  // state as 3 back-to-back slots, for the comparison
};

// Trains `steps` steps of `sizes` with the state slots `stride` floats apart (0: back to back, no call) and returns
// the final parameters and state; every float of the padding must still hold SENTINEL.
Run train(const std::vector<int32_t>& sizes, const std::vector<int32_t>& acts, int64_t stride, int threads,
          float clip_norm, const Problem& pb, const std::vector<int32_t>& order, int batch, int steps,
          const std::string& name) {
    t::Rng rng(7);  // the same initial weights for every run
    NativeNet nn;
    const float adam[5] = {0.9f, 0.999f, 1e-7f, 0.0f, 1.0f};
    if (!nn.create(sizes, acts, {}, D4J_LOSS_SPARSE_CCE, batch, D4J_OPT_ADAM,
                   std::vector<float>(adam, adam + 5), rng, clip_norm, 0.0f)) {
        t::fail(name + ": create failed");
        return {};
    }
    const int64_t n = d4j_param_count((int)acts.size(), sizes.data());
    const int64_t s = stride > 0 ? stride : n;
    // the network was created over nn.state (3n floats): move it onto a padded buffer of our own
    std::vector<float> padded(3 * s, SENTINEL);
    for (int slot = 0; slot < 3; slot++) std::fill(padded.begin() + slot * s, padded.begin() + slot * s + n, 0.0f);
    d4j_net_destroy(nn.net);
    nn.net = d4j_net_create((int)acts.size(), sizes.data(), acts.data(), nullptr, D4J_LOSS_SPARSE_CCE, batch,
                            nn.params.data(), nn.grads.data(), D4J_OPT_ADAM, adam, padded.data(), clip_norm, 0.0f);
    if (!nn.net) {
        t::fail(name + ": create over the padded state failed");
        return {};
    }
    if (stride > 0) t::expect(d4j_net_set_opt_stride(nn.net, stride) == D4J_OK, name + ": stride refused");
    d4j_set_num_threads(threads);
    std::vector<float> lrs(steps, 1e-3f);
    int64_t step = 0;
    const int rc = d4j_net_train(nn.net, pb.x.data(), pb.labels.data(), nullptr, order.data(), (int64_t)order.size(),
                                 0, batch, steps, lrs.data(), &step, 1, nullptr);
    t::expect(rc == D4J_OK && step == steps, name + ": training failed");
    Run r;
    r.params = nn.params;
    r.state.resize(3 * n);
    bool pad_ok = true;
    for (int slot = 0; slot < 3; slot++) {
        std::memcpy(r.state.data() + slot * n, padded.data() + slot * s, sizeof(float) * n);
        for (int64_t i = slot * s + n; i < (slot + 1) * s; i++) pad_ok &= padded[i] == SENTINEL;
    }
    t::expect(pad_ok, name + ": the padding between the state slots was written");
    return r;
}

}  // namespace

int main() {
    t::Rng rng(11);
    // argument checks
    t::expect(d4j_opt_state_stride(1) == 16, "stride of 1 parameter");
    t::expect(d4j_opt_state_stride(16) == 16, "stride of 16 parameters");
    t::expect(d4j_opt_state_stride(101770) == 101776, "stride of the reference network");
    t::expect(d4j_opt_state_stride(0) == -1 && d4j_opt_state_stride(-5) == -1, "stride of no parameters");
    t::expect(d4j_net_set_opt_stride(nullptr, 100) == D4J_ERR_ARGUMENT, "stride on no network");
    {
        NativeNet nn;
        t::expect(nn.create({31, 33, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, 8, D4J_OPT_ADAM,
                            {0.9f, 0.999f, 1e-7f, 0.0f, 0.0f}, rng), "create");
        const int64_t n = d4j_param_count(2, nn.sizes.data());
        t::expect(d4j_net_set_opt_stride(nn.net, n - 1) == D4J_ERR_ARGUMENT, "a stride below n_params is refused");
        t::expect(d4j_net_set_opt_stride(nn.net, n) == D4J_OK, "stride n_params");
        std::vector<float> params(nn.params);
        d4j_net* inf = d4j_net_create(2, nn.sizes.data(), nn.acts.data(), nullptr, D4J_LOSS_SPARSE_CCE, 8,
                                      params.data(), nullptr, 0, nullptr, nullptr, 0, 0);
        t::expect(inf && d4j_net_set_opt_stride(inf, d4j_opt_state_stride(n)) == D4J_ERR_ARGUMENT,
                  "an inference-only network has no optimizer state");
        d4j_net_destroy(inf);
    }
    const int saved = d4j_get_num_threads();
    struct Shape { std::vector<int32_t> sizes, acts; };
    const Shape shapes[] = {
        {{784, 128, 10}, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}},        // the reference network (n = 101770)
        {{33, 31, 1}, {D4J_ACT_TANH, D4J_ACT_LINEAR}},            // n = 1087
        {{1000, 144, 31, 10}, {D4J_ACT_RELU, D4J_ACT_GELU, D4J_ACT_SOFTMAX}},
    };
    for (const Shape& sh : shapes) {
        const int in = sh.sizes.front(), k = sh.sizes.back();
        Problem pb;
        pb.make(rng, 200, in, k, D4J_LOSS_SPARSE_CCE);
        const auto order = permutation(rng, 200);
        const int64_t n = d4j_param_count((int)sh.acts.size(), sh.sizes.data());
        for (float clip : {0.0f, 1.0f})
            for (int threads : {1, 2}) {
                const std::string name = "sizes " + std::to_string(in) + "..." + std::to_string(k) + " clip_norm " +
                                         std::to_string(clip) + " threads " + std::to_string(threads);
                const Run flat = train(sh.sizes, sh.acts, 0, threads, clip, pb, order, 32, 6, name + " flat");
                for (int64_t stride : {d4j_opt_state_stride(n), n + 37}) {
                    const Run pad = train(sh.sizes, sh.acts, stride, threads, clip, pb, order, 32, 6,
                                          name + " stride " + std::to_string(stride));
                    t::expect(pad.params == flat.params, name + " stride " + std::to_string(stride) +
                                                             ": parameters differ from the back-to-back state's");
                    t::expect(pad.state == flat.state, name + " stride " + std::to_string(stride) +
                                                           ": optimizer state differs from the back-to-back state's");
                }
            }
    }
    d4j_set_num_threads(saved);
    return t::finish("opt_stride_test");
}
