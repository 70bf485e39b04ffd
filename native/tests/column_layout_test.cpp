// The column step's workspace layout (net_state.h GUARD_FLOATS): every range that one chunk writes during a step
// lies at least GUARD_FLOATS away from every range that another chunk writes, and the records the chunks write every
// step (ColumnChunk, BatchCopy) sit on 128-byte pairs of lines of their own. Why a test: the guards are what keep
// the two cores from taking each other's lines (bench_neighbours, RESULTS.md "Session 12"), nothing else notices
// when an allocation is reordered or a stride loses its guard, and the results stay the same bits either way.
// White-box: it reads the network's workspace pointers from net_state.h.
#include <cstdint>
#include <string>
#include <vector>
#include "net_state.h"
#include "net_util.h"

namespace {

struct Range {
    std::string what;
    int owner;  // who writes it: chunk c (c), block j's owner (1000 + j), or -1 (any: kept apart from everything)
    const float* p;
    int64_t n;   // floats written
};

// Every pair of ranges written by different chunks (or one of them by any) lies GUARD_FLOATS apart, and no two
// ranges overlap
void check_apart(const std::string& name, std::vector<Range> rs) {
    for (size_t i = 0; i < rs.size(); i++)
        for (size_t j = i + 1; j < rs.size(); j++) {
            const Range& a = rs[i].p < rs[j].p ? rs[i] : rs[j];
            const Range& b = rs[i].p < rs[j].p ? rs[j] : rs[i];
            const int64_t gap = b.p - (a.p + a.n);
            t::expect(gap >= 0, name + ": " + a.what + " overlaps " + b.what);
            if (a.owner != b.owner || a.owner < 0)
                t::expect(gap >= (int64_t)d4j::GUARD_FLOATS,
                          name + ": " + a.what + " ends " + std::to_string(gap) + " floats before " + b.what +
                              " (a guard is " + std::to_string(d4j::GUARD_FLOATS) + ")");
        }
}

void layout(const char* name, std::vector<int32_t> sizes, int max_batch, int chunks) {
    t::Rng rng(7);
    NativeNet nn;
    setenv("D4J_COLUMN_CHUNKS", std::to_string(chunks).c_str(), 1);
    const bool made = nn.create(sizes, {D4J_ACT_RELU, D4J_ACT_SOFTMAX}, {}, D4J_LOSS_SPARSE_CCE, max_batch, D4J_OPT_ADAM,
                                {1e-3f, 0.9f, 0.999f, 1e-7f, 0.0f}, rng);
    unsetenv("D4J_COLUMN_CHUNKS");
    t::expect(made, std::string(name) + ": network not created");
    if (!made) return;
    const d4j_net* net = nn.net;
    t::expect(net->column, std::string(name) + ": not a column network (the shape must allow the column step)");
    if (!net->column) return;
    const int in0 = sizes[0], out0 = sizes[1], out1 = sizes[2], nb = net->col_blocks;
    const auto block_width = [&](int j) { return std::min(d4j::COLUMN_BLOCK, out0 - j * d4j::COLUMN_BLOCK); };
    // block j's ranges: any block boundary can be a chunk boundary (the chunks are cut for the team each call gets)
    const auto owner = [](int j) { return 1000 + j; };
    std::vector<Range> rs;
    // layer 0's activations, block-major: one range per block and buffer
    const d4j::Layer& L0 = net->layers[0];
    const float* const acts[] = {L0.z, L0.y, L0.dz, L0.mask, L0.yd};
    const char* const act_names[] = {"z", "y", "dz", "mask", "yd"};
    for (int a = 0; a < 5; a++)
        for (int j = 0; acts[a] && j < nb; j++)
            rs.push_back({std::string("layer 0 ") + act_names[a] + " block " + std::to_string(j), owner(j),
                          acts[a] + net->act_block * j, (int64_t)max_batch * block_width(j)});
    // layer 1's per-op buffers (not used by the column step: written by nobody during it, kept apart all the same)
    const d4j::Layer& L1 = net->layers[1];
    if (L1.z) rs.push_back({"layer 1 z", -1, L1.z, (int64_t)max_batch * out1});
    rs.push_back({"layer 1 y", -1, L1.y, (int64_t)max_batch * out1});
    rs.push_back({"layer 1 dz", -1, L1.dz, (int64_t)max_batch * out1});
    for (int c = 0; c < net->n_copies; c++) {
        const d4j::BatchCopy& bc = net->copies[c];
        for (int b = 0; b < 2; b++) {
            rs.push_back({"copy " + std::to_string(c) + " rows " + std::to_string(b), c, bc.x[b], (int64_t)max_batch * in0});
            rs.push_back({"copy " + std::to_string(c) + " labels " + std::to_string(b), c,
                          reinterpret_cast<const float*>(bc.labels[b]), max_batch});
        }
        rs.push_back({"chunk " + std::to_string(c) + " logits", c, net->col[c].logits, (int64_t)max_batch * out1});
        rs.push_back({"chunk " + std::to_string(c) + " dlogits", c, net->col[c].dlogits, (int64_t)max_batch * out1});
    }
    // the partial products (two sets, one block each per chunk that owns it) and the bias snapshot (chunk 0)
    const int64_t ps = d4j::column_part_stride(net);
    for (int set = 0; set < 2; set++)
        for (int j = 0; j < nb; j++)
            rs.push_back({"partials set " + std::to_string(set) + " block " + std::to_string(j), owner(j),
                          net->col_part + (set * nb + j) * ps, (int64_t)max_batch * out1});
    rs.push_back({"bias snapshot", 0, net->col_bias, 2 * (int64_t)d4j::round_up(out1)});
    // the panels: per block its W0 panel, b0 columns and W1 rows, in the weights, the gradient and each state slot
    if (!net->pan_w) {
        std::printf("%s: no panels (this process may use one CPU only): their layout not checked\n", name);
    } else {
        const float* const arrays[] = {net->pan_w, net->pan_g, net->pan_state, net->pan_state + net->pan_stride,
                                       net->pan_state + 2 * net->pan_stride};
        const char* const array_names[] = {"weights", "gradient", "state 0", "state 1", "state 2"};
        for (int a = 0; a < 5; a++)
            for (int j = 0; j < nb; j++) {
                const float* at = arrays[a] + net->pan_block * j;
                const int w = block_width(j);
                const std::string blk = std::string(array_names[a]) + " block " + std::to_string(j);
                rs.push_back({blk + " W0 panel", owner(j), at, (int64_t)in0 * w});
                rs.push_back({blk + " b0 columns", owner(j), at + net->pan_b0, w});
                rs.push_back({blk + " W1 rows", owner(j), at + net->pan_w1, (int64_t)w * out1});
            }
    }
    check_apart(name, rs);
    // the records each chunk rewrites every step
    for (int c = 0; c < net->n_copies; c++) {
        t::expect(reinterpret_cast<uintptr_t>(&net->col[c]) % 128 == 0, std::string(name) + ": ColumnChunk not on 128 bytes");
        t::expect(reinterpret_cast<uintptr_t>(&net->copies[c]) % 128 == 0, std::string(name) + ": BatchCopy not on 128 bytes");
        t::expect(reinterpret_cast<uintptr_t>(&net->col[c].done) % 128 == 0 &&
                      reinterpret_cast<uintptr_t>(&net->col[c].claimed) % 128 == 0,
                  std::string(name) + ": a chunk's claim or done word not on a 128-byte pair of its own");
    }
    std::printf("%s: %zu ranges, %d blocks, %d chunks checked\n", name, rs.size(), nb, net->n_copies);
}

}  // namespace

int main() {
    unsetenv("D4J_COLUMN_STEP");  // the column step is on unless D4J_COLUMN_STEP=0 (column_step.h)
    static_assert(alignof(d4j::ColumnChunk) >= 128 && alignof(d4j::BatchCopy) >= 128, "records on 128-byte pairs");
    layout("reference 784-128-10, batch 32, 2 chunks", {784, 128, 10}, 32, 2);
    layout("800-144-12, batch 33, 3 chunks (a narrow last block)", {800, 144, 12}, 33, 3);
    layout("1400-320-31, batch 1, 4 chunks", {1400, 320, 31}, 1, 4);
    return t::finish("column_layout_test");
}
