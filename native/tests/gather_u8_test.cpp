// Byte rows (cpu/gather_u8.cpp): d4j_gather_u8 against its float64 reference, (float)((double)b / divisor), bit for
// bit, on awkward widths and usual and unusual divisors, with every kernel variant this CPU runs (the vector forms
// and the table) and every output poisoned first; training on a byte set (d4j_net_train_data, D4J_DATA_U8) ends with
// the same bits as training on the float set a reader converting it up front gives (b / divisor), at 1 and 2 threads,
// with layers wide enough to be split across threads, zero-rich rows (the first layer's zero skipping) and a partial
// last batch; d4j_net_forward_data on bytes equals d4j_net_forward on those floats; hostile arguments (unknown
// formats, NaN, infinite, zero, negative divisors, one whose levels overflow, negative row indices) are refused with
// nothing written.
#include <cfloat>
#include <cstring>
#include <string>
#include "net_util.h"

static std::vector<uint8_t> random_bytes(t::Rng& rng, size_t n, int zero_percent) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = rng.integer(0, 99) < zero_percent ? 0 : (uint8_t)rng.integer(1, 255);
    if (n >= 2) { v[0] = 255; v[n - 1] = 1; }  // both ends of the range, whatever the draw
    return v;
}

static bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

static void gather_against_reference() {
    t::Rng rng(31);
    const float divisors[] = {255.0f, 1.0f, 3.0f, 7.0f, 10.0f, 100.0f, 127.5f, 0.3f, 65535.0f, 1e-30f, 1e30f,
                              3e38f, 1.5e-36f};
    for (int isa = D4J_ISA_PORTABLE; isa <= D4J_ISA_AVX512; isa++) {
        if (!d4j_isa_supported(isa)) continue;
        d4j_set_isa(isa);
        for (int width : {1, 31, 33, 784, 1000})
            for (int rows : {1, 5, 33}) {
                const int n_rows = 40;
                const auto data = random_bytes(rng, (size_t)n_rows * width, 30);
                std::vector<int32_t> order(rows);
                for (auto& o : order) o = rng.integer(0, n_rows - 1);  // repeats allowed
                for (float d : divisors) {
                    auto out = t::poisoned((size_t)rows * width);
                    const int rc = d4j_gather_u8(data.data(), d, width, order.data(), rows, out.data());
                    const std::string what = "gather_u8 isa " + std::to_string(isa) + " width " +
                                             std::to_string(width) + " rows " + std::to_string(rows) + " divisor " +
                                             std::to_string(d);
                    t::expect(rc == D4J_OK, what + ": rc");
                    const std::vector<float> ref = ref::byte_rows(data.data(), d, width, order.data(), rows);
                    t::expect(same_bits(out.data(), ref.data(), ref.size()), what + ": not the reference's bits");
                }
                // order NULL: rows 0..rows-1
                auto out = t::poisoned((size_t)rows * width);
                t::expect(d4j_gather_u8(data.data(), 255.0f, width, nullptr, rows, out.data()) == D4J_OK, "NULL order");
                const std::vector<float> ref = ref::byte_rows(data.data(), 255.0, width, nullptr, rows);
                t::expect(same_bits(out.data(), ref.data(), ref.size()), "gather_u8 with a NULL order: rows in order");
            }
    }
    d4j_set_isa(D4J_ISA_AUTO);
    // every byte value, for the divisor of images: the exact i / 255f the IDX reader writes
    std::vector<uint8_t> all(256);
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    auto out = t::poisoned(256);
    t::expect(d4j_gather_u8(all.data(), 255.0f, 256, nullptr, 1, out.data()) == D4J_OK, "all bytes rc");
    bool ok = true;
    for (int i = 0; i < 256; i++) ok &= out[i] == i / 255.0f;
    t::expect(ok, "every byte / 255 equals i / 255f");
}

static void hostile_gather() {
    const std::vector<uint8_t> data(64, 7);
    const int32_t order[2] = {0, 1}, bad_order[2] = {0, -1};
    const float bad[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -255.0f, 1e-40f /* 255 / it overflows */, 1e-38f};
    for (float d : bad) {
        auto out = t::poisoned(64);
        t::expect(d4j_gather_u8(data.data(), d, 32, order, 2, out.data()) == D4J_ERR_ARGUMENT,
                  "divisor " + std::to_string(d) + " refused");
        t::expect(std::isnan(out[0]) && std::isnan(out[63]), "nothing written for divisor " + std::to_string(d));
    }
    auto out = t::poisoned(64);
    t::expect(d4j_gather_u8(data.data(), 255.0f, 32, bad_order, 2, out.data()) == D4J_ERR_ARGUMENT, "negative row");
    t::expect(std::isnan(out[0]), "nothing written for a negative row");
    t::expect(d4j_gather_u8(nullptr, 255.0f, 32, order, 2, out.data()) == D4J_ERR_ARGUMENT, "NULL data");
    t::expect(d4j_gather_u8(data.data(), 255.0f, 32, order, 2, nullptr) == D4J_ERR_ARGUMENT, "NULL out");
    t::expect(d4j_gather_u8(data.data(), 255.0f, 0, order, 2, out.data()) == D4J_ERR_ARGUMENT, "width 0");
    t::expect(d4j_gather_u8(data.data(), 255.0f, 32, order, -1, out.data()) == D4J_ERR_ARGUMENT, "rows < 0");
    t::expect(d4j_gather_u8(data.data(), 255.0f, 32, order, 0, out.data()) == D4J_OK, "rows 0 is nothing to do");
}

// One configuration trained twice from the same weights, on the byte set and on its float twin, same order and
// learning rates: the final parameters and optimizer state, the loss sums and correct counts, are the same bits.
struct Run {
    std::vector<float> params, state;
    std::vector<double> stats;
};

static Run train(const std::vector<int32_t>& sizes, const std::vector<int32_t>& acts, int loss, int threads,
                 const void* x, int x_type, float divisor, const Problem& pb, int batch, int epochs) {
    t::Rng rng(5);  // same initial weights for every run
    NativeNet nn;
    Run r;
    if (!nn.create(sizes, acts, {}, loss, batch, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, rng)) {
        t::fail("create");
        return r;
    }
    d4j_set_num_threads(threads);
    t::Rng order_rng(9);
    int64_t step = 0;
    const int nb = (pb.N + batch - 1) / batch;
    std::vector<float> lrs(nb, 2e-3f);
    for (int e = 0; e < epochs; e++) {
        const auto order = permutation(order_rng, pb.N);
        // two calls per epoch (the second starts mid-epoch, ends on the partial batch)
        for (int part = 0; part < 2; part++) {
            const int b0 = part ? nb / 2 : 0, b1 = part ? nb : nb / 2;
            double st[3] = {0, 0, 0};
            const int rc = d4j_net_train_data(nn.net, x, x_type, divisor, pb.labels.data(), pb.targets.data(),
                                              order.data(), pb.N, (int64_t)b0 * batch, batch, b1 - b0, lrs.data(),
                                              &step, 3, st);
            t::expect(rc == D4J_OK, "train_data rc " + std::to_string(rc));
            r.stats.insert(r.stats.end(), st, st + 3);
        }
    }
    d4j_set_num_threads(1);
    r.params = nn.params;
    r.state = nn.state;
    return r;
}

static void training_bits() {
    struct Case {
        const char* name;
        std::vector<int32_t> sizes, acts;
        int loss;
        int zero_percent;
    };
    const Case cases[] = {
        {"784-128 relu-10 softmax, sparse CE (the reference shape), half zero pixels", {784, 128, 10}, {1, 5},
         D4J_LOSS_SPARSE_CCE, 50},
        {"33-300 relu-31 tanh-5 linear, MSE, dense bytes", {33, 300, 31, 5}, {1, 3, 0}, D4J_LOSS_MSE, 3},
    };
    for (const Case& c : cases) {
        t::Rng rng(21);
        Problem pb;
        pb.make(rng, 203, c.sizes[0], c.sizes.back(), c.loss);  // 203 rows: a partial last batch of 32
        const auto bytes = random_bytes(rng, (size_t)pb.N * pb.in, c.zero_percent);
        for (size_t i = 0; i < bytes.size(); i++) pb.x[i] = bytes[i] / 255.0f;  // the reader's floats
        for (int threads : {1, 2}) {
            const Run f = train(c.sizes, c.acts, c.loss, threads, pb.x.data(), D4J_DATA_F32, 1.0f, pb, 32, 2);
            const Run b = train(c.sizes, c.acts, c.loss, threads, bytes.data(), D4J_DATA_U8, 255.0f, pb, 32, 2);
            const std::string what = std::string(c.name) + ", " + std::to_string(threads) + " thread(s)";
            t::expect(!f.params.empty() && f.params == b.params && same_bits(f.params.data(), b.params.data(),
                                                                             f.params.size()),
                      what + ": weights trained on bytes differ from those trained on floats");
            t::expect(same_bits(f.state.data(), b.state.data(), f.state.size()), what + ": optimizer state differs");
            t::expect(f.stats == b.stats, what + ": loss sums / correct counts differ");
            // and the training did something: the weights moved from their start
            t::Rng start_rng(5);
            NativeNet start;
            start.create(c.sizes, c.acts, {}, c.loss, 32, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, start_rng);
            t::expect(start.params != f.params, what + ": training changed nothing");
        }
        // inference on the bytes: the float path's outputs and stats, bit for bit (n not a multiple of max_batch)
        t::Rng rng2(5);
        NativeNet nn;
        nn.create(c.sizes, c.acts, {}, c.loss, 16, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, rng2);
        const int k = c.sizes.back();
        auto out_f = t::poisoned((size_t)pb.N * k), out_b = t::poisoned((size_t)pb.N * k);
        double st_f[3] = {0, 0, 0}, st_b[3] = {0, 0, 0};
        t::expect(d4j_net_forward(nn.net, pb.x.data(), pb.N, out_f.data(), pb.labels.data(), pb.targets.data(),
                                  st_f) == D4J_OK, "forward rc");
        t::expect(d4j_net_forward_data(nn.net, bytes.data(), D4J_DATA_U8, 255.0f, pb.N, out_b.data(),
                                       pb.labels.data(), pb.targets.data(), st_b) == D4J_OK, "forward_data rc");
        t::expect(std::isfinite(out_b[0]) && same_bits(out_f.data(), out_b.data(), out_f.size()),
                  std::string(c.name) + ": inference on bytes differs");
        t::expect(st_f[0] == st_b[0] && st_f[1] == st_b[1] && st_f[2] == st_b[2], "forward stats differ");
    }
}

static void hostile_network() {
    t::Rng rng(3);
    Problem pb;
    pb.make(rng, 40, 12, 3, D4J_LOSS_SPARSE_CCE);
    const auto bytes = random_bytes(rng, (size_t)pb.N * pb.in, 20);
    NativeNet nn;
    nn.create({12, 8, 3}, {1, 5}, {}, D4J_LOSS_SPARSE_CCE, 8, D4J_OPT_ADAM, {0.9f, 0.999f, 1e-7f, 0, 0}, rng);
    const auto before = nn.params;
    const auto order = permutation(rng, pb.N);
    std::vector<float> lrs(5, 1e-2f);
    struct Bad {
        const void* x;
        int type;
        float divisor;
        const char* what;
    };
    const Bad bad[] = {
        {bytes.data(), D4J_DATA_U8, NAN, "NaN divisor"},
        {bytes.data(), D4J_DATA_U8, INFINITY, "infinite divisor"},
        {bytes.data(), D4J_DATA_U8, 0.0f, "zero divisor"},
        {bytes.data(), D4J_DATA_U8, -255.0f, "negative divisor"},
        {bytes.data(), D4J_DATA_U8, 1e-40f, "divisor whose levels overflow"},
        {pb.x.data(), D4J_DATA_F32, 255.0f, "float rows with a divisor"},
        {pb.x.data(), 2, 1.0f, "unknown format 2"},
        {pb.x.data(), -1, 1.0f, "unknown format -1"},
    };
    for (const Bad& b : bad) {
        int64_t step = 0;
        t::expect(d4j_net_train_data(nn.net, b.x, b.type, b.divisor, pb.labels.data(), nullptr, order.data(), pb.N, 0,
                                     8, 5, lrs.data(), &step, 0, nullptr) == D4J_ERR_ARGUMENT,
                  std::string("train_data refuses a ") + b.what);
        t::expect(step == 0 && nn.params == before, std::string("nothing trained with a ") + b.what);
        auto out = t::poisoned((size_t)pb.N * 3);
        t::expect(d4j_net_forward_data(nn.net, b.x, b.type, b.divisor, pb.N, out.data(), nullptr, nullptr,
                                       nullptr) == D4J_ERR_ARGUMENT,
                  std::string("forward_data refuses a ") + b.what);
        t::expect(std::isnan(out[0]), std::string("nothing written with a ") + b.what);
    }
    int64_t step = 0;
    t::expect(d4j_net_train_data(nn.net, nullptr, D4J_DATA_U8, 255.0f, pb.labels.data(), nullptr, order.data(), pb.N,
                                 0, 8, 5, lrs.data(), &step, 0, nullptr) == D4J_ERR_ARGUMENT, "NULL byte rows");
}

int main() {
    gather_against_reference();
    hostile_gather();
    training_bits();
    hostile_network();
    std::printf("gather_u8_test: %d checks, %d failures\n", t::checks(), t::failures());
    return t::failures() != 0;
}
