// The column-parallel training step of a two-layer network (column_step.h), at every thread count.
// Chunk c of C owns layer 0's output blocks [nb*c/C, nb*(c+1)/C) of COLUMN_BLOCK columns: their panels of W0 (and of
// its gradient and optimizer state), the columns [c0, c1) of b0, layer 0's activations of those blocks, and the rows
// [c0, c1) of W1 (b0's columns and W1's rows also in the block's panel, so that no chunk writes next to another). Why: the per-op regions cut layer 0 by K (forward) and by rows (weight gradient), so every step
// 16 KB of partial product, 16 KB of dz0 and ~25 KB of the next input rows cross between the cores: ~22 us of a
// ~71 us step when the host places the two vCPUs far apart (RESULTS.md, "Session 9: two threads after the one-thread
// gains"). Here a chunk reads only what its own core wrote: its own copy of the batch rows (each chunk gathers the
// WHOLE batch, a duplicated ~1-2 us), its panels, its activations. What crosses: layer 1's partial logits, one
// [rows, out1] block per COLUMN_BLOCK (~1.3 KB each for the reference network), and layer 1's bias (40 bytes).
// Panels, not columns of the row-major W0 (session 10's first version): two cores updating interleaved 256-byte
// pieces of every row of W0, dW0, m and v interfered even on separate cache lines (RESULTS.md, "Session 10:
// column-parallel step"). A chunk's panels are one contiguous range, layer 0 is nb independent narrow layers of
// width <= COLUMN_BLOCK on which every kernel runs unchanged (out = w_j), and its update is one flat run.
// Results are the same bits at any thread count and any chunking: every element of every product is computed by
// exactly one chunk with the same arithmetic, and the one reduction that crosses the chunks (layer 1's sum over the
// hidden units) is always formed per fixed block in fixed order, ((p0 + p1) + p2 ...) + b1; every chunk computes the
// loss and its gradient from the same partials, so all see the same.
#include "column_step.h"
#include <immintrin.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include "dense4j_dropout.h"
#include "internal.h"
#include "net_state.h"
#include "thread_pool.h"

namespace d4j {

bool column_shape(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout, int loss) {
    if (n_layers != 2) return false;
    const int in0 = sizes[0], out0 = sizes[1], out1 = sizes[2];
    if (acts[0] == D4J_ACT_SOFTMAX) return false;  // its columns are not independent
    if (out0 % 16 != 0 || out0 < 2 * COLUMN_BLOCK) return false;
    if (in0 < SPLIT_K_MIN_IN || in0 < 4 * out0) return false;
    if (4 * out1 > out0) return false;
    if (dropout && dropout[1] != 0.0f) return false;
    return loss != D4J_LOSS_MSE || acts[1] == D4J_ACT_LINEAR;
}

bool column_enabled() {
    const char* v = std::getenv("D4J_COLUMN_STEP");
    return !(v && std::strcmp(v, "0") == 0);
}

int column_state_slots(int kind, const float* hp) {
    switch (kind) {
        case D4J_OPT_SGD: return hp[0] != 0.0f ? 1 : 0;              // the momentum buffer
        case D4J_OPT_ADAM:
        case D4J_OPT_ADAMW: return hp[4] != 0.0f ? 3 : 2;            // m, v (and vmax with amsgrad)
        default: return hp[4] != 0.0f ? 3 : hp[3] != 0.0f ? 2 : 1;  // RMSprop: v (b: momentum, ga: centered)
    }
}

namespace {

// Block j of layer 0: its first column and its width (COLUMN_BLOCK, or less for the last)
struct PanelCols {
    int c0, w;
};
PanelCols panel_cols(const d4j_net* net, int j) {
    const int c0 = j * COLUMN_BLOCK;
    return {c0, std::min(COLUMN_BLOCK, net->layers[0].out - c0)};
}

// Layer 0 as the narrow layer of block j: its activations block-major, [rows][w_j] at max_batch * c0
Layer panel_layer(const d4j_net* net, int j) {
    Layer P = net->layers[0];
    const PanelCols pc = panel_cols(net, j);
    const int64_t o = net->act_block * j;
    const auto at = [o](float* q) { return q ? q + o : nullptr; };
    P.out = pc.w;
    P.z = at(P.z);
    P.y = at(P.y);
    P.yd = at(P.yd);
    P.mask = at(P.mask);
    P.dz = at(P.dz);
    return P;
}

// dropout_block on a panel: each element gets the mask of its CANONICAL index (row r, column c0 + i of layer 0's
// [rows, out0] output, dense4j_dropout.h), the same as the per-op step's and the CUDA engine's
void dropout_panel(const Layer& P, int out0, int c0, uint64_t seed, int64_t step, int rows) {
    const uint64_t key = dropout_key(seed, step, 0);
    const float threshold = dropout_threshold(P.rate), scale = dropout_scale(P.rate);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < P.out; i++) {
            const int64_t at = (int64_t)r * P.out + i;
            const float m = dropout_mask(key, (uint64_t)((int64_t)r * out0 + c0 + i), threshold, scale);
            P.mask[at] = m;
            P.yd[at] = P.y[at] * m;
        }
}

// Layer 1's partial product over its input block j: out = h_j . W1[block j's rows, :] (h_j: block j's activations,
// row stride lda: w_j in a panel, out0 in the caller's layout), plus `addend` and the bias when given.
void block_product(const GemmKernels& k, const d4j_net* net, const float* h, int64_t lda, int rows, int j,
                   const float* w1, const float* addend, const float* bias, float* out) {
    const Layer& L = net->layers[1];
    const PanelCols pc = panel_cols(net, j);
    NNArgs n;
    n.a = h;
    n.lda = lda;
    n.b = w1;
    n.ldb = L.out;
    n.bias = bias;
    n.z = nullptr;
    n.y = out;
    n.ldc = L.out;
    n.m = rows;
    n.n = L.out;
    n.k = pc.w;
    n.relu = 0;
    n.addend = addend;
    k.nn(n);
}

}  // namespace

// One thread, layer 0's output h in the caller's layout: block 0's product, then each next block's with the sum so
// far as its addend (the kernel forms addend + product, then + bias on the last: exactly the in-memory sum of
// column_backward). The running sum alternates between two of the partial-product buffers.
void column_logits(const GemmKernels& k, d4j_net* net, const float* h, int rows, float* out) {
    const Layer& L = net->layers[1];
    const int64_t stride = (int64_t)net->max_batch * L.out;
    const float* b = net->params + L.off + (int64_t)L.in * L.out;
    const float* sum = nullptr;
    for (int j = 0; j < net->col_blocks; j++) {
        const bool last = j == net->col_blocks - 1;
        float* dst = last ? out : net->col_part + (j % 2) * stride;
        const int c0 = panel_cols(net, j).c0;
        block_product(k, net, h + c0, L.in, rows, j, net->params + L.off + (int64_t)c0 * L.out, sum, last ? b : nullptr,
                      dst);
        sum = dst;
    }
}

namespace {

struct Slice {
    int b0, b1;  // blocks
    int c0, c1;  // layer 0's columns
};
Slice slice_of(const d4j_net* net, int c, int chunks) {
    const int nb = net->col_blocks;
    Slice s;
    s.b0 = (int)((int64_t)nb * c / chunks);
    s.b1 = (int)((int64_t)nb * (c + 1) / chunks);
    s.c0 = s.b0 * COLUMN_BLOCK;
    s.c1 = std::min(net->layers[0].out, s.b1 * COLUMN_BLOCK);
    return s;
}

// Step t's set of the partial products and of the bias snapshot (net_state.h: two sets, by the step's parity)
float* part_set(const d4j_net* net, int64_t t) { return net->col_part + (t % 2) * net->col_blocks * column_part_stride(net); }
float* bias_set(const d4j_net* net, int64_t t) { return net->col_bias + (t % 2) * (int64_t)round_up(net->layers[1].out); }

int team_chunks(const d4j_net* net) {
    const int team = team_size();
    if (team <= 1) return 1;
    return net->col_forced ? net->n_copies : std::max(1, std::min({team, net->max_team, net->n_copies}));
}

// The buffer of chunk c's copy that holds the rows at order position pos: gathered whole into buffer `into` by the
// chunk itself unless the copy already holds them (the step before gathered them).
int own_rows(d4j_net* net, const ColumnStepArgs& a, int c, int64_t pos, int into) {
    const BatchCopy& copy = net->copies[c];
    if (copy.pos[0] == pos) return 0;
    if (copy.pos[1] == pos) return 1;
    GatherRows g = *a.gather;
    g.copy = c;
    g.into(pos, into);
    g.run_part(0, 1);
    return into;
}

struct Step {
    d4j_net* net;
    const ColumnStepArgs* a;
    int chunks;
    bool reverse;  // the first layer's update pieces in reverse order (every other step, as the per-op step)
    float sparse;  // the first layer's weight gradient skips exact zeros below this density (0: never)
    bool packed;   // the input gradient's kernel form for this product (decided once, for every block)
    bool keep_grad = true;  // with the update: also write W0's gradient panels (the caller sees them after the call)

    static void forward(void* p, int c) {
        const Step& s = *static_cast<const Step*>(p);
        d4j_net* net = s.net;
        const ColumnStepArgs& a = *s.a;
        const int buf = net->col[c].buf = own_rows(net, a, c, a.pos, 0);
        const float* x = net->copies[c].x[buf];
        const Layer& L0 = net->layers[0];
        const Slice sl = slice_of(net, c, s.chunks);
        const int64_t stride = column_part_stride(net);
        float* const part = part_set(net, a.t);
        for (int j = sl.b0; j < sl.b1; j++) {
            const Layer P = panel_layer(net, j);
            const PanelCols pc = panel_cols(net, j);
            const float* pan = net->pan_w + net->pan_block * j;
            dense_forward_block(*a.k, x, pan, pan + net->pan_b0, P.z, P.y, L0.in, pc.w, P.act, Block{0, a.rows, 0, pc.w});
            if (P.rate > 0.0f) dropout_panel(P, L0.out, pc.c0, a.seed, a.t - 1, a.rows);
            block_product(*a.k, net, P.input(true), pc.w, a.rows, j, pan + net->pan_w1, nullptr, nullptr,
                          part + j * stride);
        }
        const Layer& L1 = net->layers[1];
        if (c == 0)  // b1 as this step reads it: chunk 0 updates b1 in its backward while the others may still read it
            std::copy_n(net->params + L1.off + (int64_t)L1.in * L1.out, L1.out, bias_set(net, a.t));
    }

    static void backward(void* p, int c) {
        const Step& s = *static_cast<const Step*>(p);
        d4j_net* net = s.net;
        const ColumnStepArgs& a = *s.a;
        const GemmKernels& k = *a.k;
        const Layer& L0 = net->layers[0];
        const Layer& L1 = net->layers[1];
        ColumnChunk& me = net->col[c];
        // (region A may have run with fewer chunks than this region, when the pool's team changed between them:
        // then this chunk's copy does not hold the step's rows yet)
        me.buf = own_rows(net, a, c, a.pos, 0);
        const BatchCopy& rows_of = net->copies[c];
        const int rows = a.rows, in0 = L0.in, out0 = L0.out, out1 = L1.out;
        // logits = ((p0 + p1) + ...) + b1
        const int64_t stride = column_part_stride(net);
        const int n = rows * out1;
        const float* const part = part_set(net, a.t);
        const float* const bias = bias_set(net, a.t);
        std::copy_n(part, n, me.logits);
        for (int j = 1; j < net->col_blocks; j++) {
            const float* pj = part + j * stride;
            for (int i = 0; i < n; i++) me.logits[i] = me.logits[i] + pj[i];
        }
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out1; o++) me.logits[r * out1 + o] = me.logits[r * out1 + o] + bias[o];
        me.correct = 0;
        me.skipped = 0;
        me.loss = loss(net->loss, me.logits, rows_of.labels[me.buf], rows_of.targets[me.buf], me.dlogits, nullptr, rows,
                       out1, 1.0f, &me.correct);
        if (!std::isfinite(me.loss)) return;  // every chunk sees the same: nobody updates
        const Slice sl = slice_of(net, c, s.chunks);
        float* const db1 = net->grads + L1.off + (int64_t)out0 * out1;
        const float* x = rows_of.x[me.buf];
        int skipped = 0;
        for (int j = sl.b0; j < sl.b1; j++) {
            const Layer P = panel_layer(net, j);
            const PanelCols pc = panel_cols(net, j);
            const int64_t at = net->pan_block * j;
            float* const g = net->pan_g + at;
            // layer 1: dW1 for block j's hidden rows (db1 with block 0), then dh for its units with the OLD W1 rows
            weight_grad_block(k, P.input(true), me.dlogits, g + net->pan_w1, j == 0 ? db1 : nullptr, rows, pc.w, out1,
                              Block{0, pc.w, 0, out1});
            const Block whole{0, rows, 0, pc.w};
            input_grad_block(k, net->pan_w + at + net->pan_w1, me.dlogits, P.dz, pc.w, out1, whole, s.packed);
            activation_backward_block(P, whole);
            // layer 0 without the update (global-norm clipping): dW0's panel j and db0's columns
            if (!a.update)
                skipped += weight_grad_block(k, x, P.dz, g, g + net->pan_b0, rows, in0, pc.w, Block{0, in0, 0, pc.w},
                                             s.sparse);
        }
        const NextRows next{a.x, a.order + a.next_pos, a.gather_next ? a.next_rows : 0, in0, a.row_bytes, 0};
        if (a.update) {
            // Layer 0's weight gradient fused with its update, in bands of GRAD_BAND rows of each panel: each band
            // of dW0 is formed in a buffer on the stack (12 KB, in L1) and applied at once, so the gradient panel
            // never streams through memory. Why: a chunk's panels of W0, m and v (600 KB for the reference
            // network) then stay in its core's 1 MB L2 with the batch rows; with the gradient panel too (800 KB)
            // they did not, and the step read them back from L3, which is slower when the host places the two
            // vCPUs far apart. The gradient panel is written only when the caller will see it (keep_grad: the
            // call's last step). The same arithmetic per element: the same bits.
            alignas(64) float band[GRAD_BAND * COLUMN_BLOCK];
            const int per_block = (in0 + GRAD_BAND - 1) / GRAD_BAND, bands = (sl.b1 - sl.b0) * per_block;
            const int prefetch_from = bands - std::max(1, bands / 4);
            const int64_t P = net->pan_stride;
            for (int q = 0; q < bands; q++) {
                if (a.gather_next && q >= prefetch_from) next.prefetch_near(q - prefetch_from, bands - prefetch_from);
                const int at = s.reverse ? bands - 1 - q : q;
                const int j = sl.b0 + at / per_block, r0 = at % per_block * GRAD_BAND;
                const int len = std::min(GRAD_BAND, in0 - r0);
                const PanelCols pc = panel_cols(net, j);
                const Layer Pj = panel_layer(net, j);
                float* const db0 = net->pan_g + net->pan_block * j + net->pan_b0;
                skipped += weight_grad_block(k, x + r0, Pj.dz, band, r0 == 0 ? db0 : nullptr, rows, in0, pc.w,
                                             Block{0, len, 0, pc.w}, s.sparse);
                const int64_t off = net->pan_block * j + (int64_t)r0 * pc.w, n = (int64_t)len * pc.w;
                if (net->clip_value > 0.0f) clip_values(band, n, net->clip_value);
                float* const ps = net->pan_state + off;
                a.opt.fn(a.opt, net->pan_w + off, band, ps, ps + P, ps + 2 * P, 1, n, n);
                if (s.keep_grad) std::memcpy(net->pan_g + off, band, sizeof(float) * n);
            }
            // a run of len parameters: value clipping, then the optimizer (state slots `stride` floats apart)
            const auto update = [&](float* w, float* g, float* st, int64_t stride, int64_t len) {
                if (net->clip_value > 0.0f) clip_values(g, len, net->clip_value);
                a.opt.fn(a.opt, w, g, st, st + stride, st + 2 * stride, 1, len, len);
            };
            for (int j = sl.b0; j < sl.b1; j++) {  // W1's rows and b0's columns of each block, in its panel
                const int64_t at = net->pan_block * j;
                const int w = panel_cols(net, j).w;
                update(net->pan_w + at + net->pan_w1, net->pan_g + at + net->pan_w1, net->pan_state + at + net->pan_w1,
                       P, (int64_t)w * out1);
                update(net->pan_w + at + net->pan_b0, net->pan_g + at + net->pan_b0, net->pan_state + at + net->pan_b0,
                       P, w);
            }
            if (c == 0) {  // b1, in the caller's buffers
                const int64_t off = L1.off + (int64_t)out0 * out1;
                update(net->params + off, net->grads + off, net->opt_state + off, net->opt_stride, out1);
            }
        } else if (a.gather_next) {
            next.prefetch_near(0, 1);
        }
        me.skipped = skipped;
        // the next rows into the buffer this step used (its last reader was the weight gradient above)
        if (a.gather_next) own_rows(net, a, c, a.next_pos, me.buf);
    }
};

// Copies between the caller's [in0, out0] W0 (and its gradient and state slots) and the panels, each chunk its own
// blocks (so that they land in the cache of the core that owns them).
struct PanelCopy {
    d4j_net* net;
    int chunks, slots;
    bool store;  // panels -> caller's buffers (else the other way)
    // W0, b0 and W1 of one of the caller's buffers (params, grads, a state slot: `canonical` at layer 0's offset)
    // <-> its panels
    void copy(float* canonical, float* panels, int b0, int b1) const {
        const int in0 = net->layers[0].in, out0 = net->layers[0].out, out1 = net->layers[1].out;
        const auto move = [this](float* caller, float* panel, int64_t n) {
            if (store) std::memcpy(caller, panel, sizeof(float) * n);
            else std::memcpy(panel, caller, sizeof(float) * n);
        };
        float* const bias0 = canonical + (int64_t)in0 * out0;
        float* const w1 = canonical + (net->layers[1].off - net->layers[0].off);
        for (int j = b0; j < b1; j++) {
            const PanelCols pc = panel_cols(net, j);
            float* pan = panels + net->pan_block * j;
            for (int r = 0; r < in0; r++) move(canonical + (int64_t)r * out0 + pc.c0, pan + (int64_t)r * pc.w, pc.w);
            move(bias0 + pc.c0, pan + net->pan_b0, pc.w);
            move(w1 + (int64_t)pc.c0 * out1, pan + net->pan_w1, (int64_t)pc.w * out1);
        }
    }
    static void run(void* p, int c) {
        const PanelCopy& pc = *static_cast<const PanelCopy*>(p);
        d4j_net* net = pc.net;
        const Slice sl = slice_of(net, c, pc.chunks);
        const int64_t off = net->layers[0].off;
        pc.copy(net->params + off, net->pan_w, sl.b0, sl.b1);
        if (pc.store) pc.copy(net->grads + off, net->pan_g, sl.b0, sl.b1);
        for (int s = 0; s < pc.slots; s++)
            pc.copy(net->opt_state + s * net->opt_stride + off, net->pan_state + s * net->pan_stride, sl.b0, sl.b1);
    }
};

void panel_copy(d4j_net* net, bool store) {
    PanelCopy pc{net, team_chunks(net), column_state_slots(net->optimizer, net->hp), store};
    const Layer& L0 = net->layers[0];
    // a float copied between two arrays in cache weighs like a few GEMM FLOPs
    const double work = 4.0 * (double)L0.in * L0.out * (pc.slots + (store ? 2 : 1));
    parallel(Region{PanelCopy::run, &pc, pc.chunks, nullptr, work});
}

}  // namespace

void column_load(d4j_net* net) { panel_copy(net, false); }
void column_store(d4j_net* net) { panel_copy(net, true); }

void column_gradient_out(d4j_net* net) {
    PanelCopy pc{net, 1, 0, true};
    pc.copy(net->grads + net->layers[0].off, net->pan_g, 0, net->col_blocks);
}
void column_gradient_in(d4j_net* net) {
    PanelCopy pc{net, 1, 0, false};
    pc.copy(net->grads + net->layers[0].off, net->pan_g, 0, net->col_blocks);
}

void column_update_all(d4j_net* net, const OptStep& o) {
    const Layer& L0 = net->layers[0];
    const Layer& L1 = net->layers[1];
    // each block's W0, b0 and W1 pieces of its panels, then b1 in the caller's buffers
    const auto update = [&](int64_t at, int64_t n) {
        optimizer_update(o, net->pan_w + at, net->pan_g + at, net->pan_state + at, n, net->pan_stride);
    };
    for (int j = 0; j < net->col_blocks; j++) {
        const int64_t at = net->pan_block * j;
        const int w = panel_cols(net, j).w;
        update(at, (int64_t)L0.in * w);
        update(at + net->pan_b0, w);
        update(at + net->pan_w1, (int64_t)w * L1.out);
    }
    const int64_t b1 = L1.off + (int64_t)L1.in * L1.out;
    optimizer_update(o, net->params + b1, net->grads + b1, net->opt_state + b1, L1.out, net->opt_stride);
}

void column_forward(d4j_net* net, const ColumnStepArgs& a) {
    Step s{net, &a, team_chunks(net), false, 0.0f, false};
    const Layer& L0 = net->layers[0];
    const double work = 2.0 * a.rows * L0.in * L0.out + 2.0 * a.rows * L0.out * net->layers[1].out;
    parallel(Region{Step::forward, &s, s.chunks, nullptr, work});
}

bool column_backward(d4j_net* net, const ColumnStepArgs& a, double* loss_sum, int64_t* correct) {
    const Layer& L0 = net->layers[0];
    const Layer& L1 = net->layers[1];
    Step s{net, &a, team_chunks(net), (a.t & 1) != 0, net->sx_dense_run == 0 ? net->sx_max_density : 0.0f,
           input_grad_packs(*a.k, a.rows, L1.out)};
    // the weight gradients and the update (~12 FLOP-like units per parameter, as the weight-gradient region weighs
    // it), and each chunk's whole-batch gather
    const double work = 2.0 * a.rows * L0.in * L0.out + 4.0 * a.rows * L0.out * L1.out +
                        (a.update ? 12.0 * L0.in * L0.out : 0.0) +
                        (a.gather_next ? GATHER_COST * a.next_rows * L0.in * s.chunks : 0.0);
    parallel(Region{Step::backward, &s, s.chunks, nullptr, work});
    const ColumnChunk& first = net->col[0];
    if (!std::isfinite(first.loss)) return false;
    for (int c = 0; c < s.chunks; c++) net->sx_blocks += net->col[c].skipped;
    net->col_steps++;
    *loss_sum = first.loss;
    *correct = first.correct;
    return true;
}

// A run of steps in one region (column_run). Chunk c's work is a chain of phases, 2i (step i's forward) and 2i + 1
// (its backward), each claimed (ColumnChunk::claimed, a CAS) and reported (ColumnChunk::done) on the chunk's own
// lines. A phase may start when its chunk's previous phase is done, and a backward also when every chunk's forward
// of the same step is (it sums their partial products). Nothing else orders the chunks: a chunk may already run
// step i + 1's forward while another still reads step i's partials and bias snapshot, which is why those come in
// two sets by the step's parity (net_state.h); it cannot get further (its next backward waits for that chunk).
// Each participating thread runs the phases of its home chunks. A thread that finds none ready takes a ready phase
// of another chunk only when that one's thread has not claimed it for STEAL_NS (its thread is late to the region,
// or descheduled: a core taken by another process), or at once when the pool runs the region on one thread: so
// the run always completes, whatever the pool does. A phase computes the same bits on any thread (it reads and
// writes only its chunk's buffers and the shared inputs), so which thread runs it never changes a result.
namespace {

struct alignas(128) RunSync {  // read by every thread, written rarely (a 128-byte pair of lines of its own)
    std::atomic<int> stop{-1};          // the first step whose loss was not finite (-1: none)
    std::atomic<int> active{0};         // threads in the run
    std::atomic<int> sleepers{0};       // threads asleep on progress
    std::atomic<uint32_t> progress{0};  // bumped after a phase while someone sleeps
};

inline int64_t clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct alignas(64) Run {  // read by every thread of the run, written by none
    d4j_net* net;
    const ColumnRun* r;  // the inputs
    ColumnRun* out;      // the results
    RunSync* sync;
    int chunks, threads;
    double work;

    // A thread that finds nothing of its own to run: spins this long before it takes another chunk's ready phase,
    // and this long before it sleeps (a phase it waits for is held by a thread that is not running: let the core go)
    static constexpr int64_t STEAL_NS = 30000, SLEEP_NS = 60000;

    int end_phase() const {
        const int st = sync->stop.load(std::memory_order_acquire);
        return 2 * (st >= 0 ? st + 1 : r->steps);
    }

    ColumnStepArgs args(int i, bool with_opt) const {
        const int64_t pos = r->pos0 + (int64_t)i * r->batch, next = pos + r->batch;
        const bool gather_next = i + 1 < r->steps || r->gather_after;
        const auto rows = [&](int64_t p) { return (int)std::min<int64_t>(r->batch, r->n_order - p); };
        const int64_t t = r->t0 + i;
        return ColumnStepArgs{r->k, r->gather, r->x, r->row_bytes, r->order, pos, rows(pos), gather_next, next,
                              gather_next ? rows(next) : 0, r->seed, t, true,
                              with_opt ? optimizer_prepare(net->optimizer, net->hp, r->lrs[i], t) : OptStep{}};
    }

    bool ready(int c, int p) const {
        if (net->col[c].done.load(std::memory_order_acquire) != p) return false;
        if (p % 2 == 0) return true;
        for (int d = 0; d < chunks; d++)
            if (net->col[d].done.load(std::memory_order_acquire) < p) return false;
        return true;
    }

    void run_phase(int c, int p) {
        const int i = p / 2;
        ColumnChunk& me = net->col[c];
        if (p % 2 == 0) {
            const ColumnStepArgs a = args(i, false);
            Step s{net, &a, chunks, false, 0.0f, false};
            Step::forward(&s, c);
        } else {
            const ColumnStepArgs a = args(i, true);
            // the sparse-input look, on this chunk's own history (the results are the same bits either way)
            if (i > 0) me.dense_run = me.skip_steps[i - 1] ? 0 : (me.dense_run + 1) % 16;
            Step s{net, &a, chunks, (a.t & 1) != 0, me.dense_run == 0 ? net->sx_max_density : 0.0f,
                   input_grad_packs(*a.k, a.rows, net->layers[1].out), i + 1 == r->steps && !r->gather_after};
            Step::backward(&s, c);
            me.skip_steps[i] = me.skipped > 0;
            if (!std::isfinite(me.loss)) {  // every chunk finds the same step (the same logits): nobody updated
                int none = -1;
                sync->stop.compare_exchange_strong(none, i, std::memory_order_acq_rel);
            } else if (c == 0) {
                out->loss[i] = me.loss;
                out->correct[i] = me.correct;
            }
        }
        // seq_cst: a thread going to sleep reads `done` after announcing itself (participate), we read `sleepers` after
        me.done.store(p + 1, std::memory_order_seq_cst);
        if (sync->sleepers.load(std::memory_order_seq_cst) > 0) {
            sync->progress.fetch_add(1, std::memory_order_seq_cst);
            futex_wake(&sync->progress, INT32_MAX);
        }
    }

    // Runs chunk c's next phase if it is ready and this thread claims it
    bool try_run(int c, int end) {
        ColumnChunk& ch = net->col[c];
        int p = ch.claimed.load(std::memory_order_acquire);
        if (p >= end || !ready(c, p)) return false;
        if (!ch.claimed.compare_exchange_strong(p, p + 1, std::memory_order_acq_rel)) return false;
        run_phase(c, p);
        return true;
    }

    int64_t done_sum() const {
        int64_t n = 0;
        for (int c = 0; c < chunks; c++) n += net->col[c].done.load(std::memory_order_seq_cst);
        return n;
    }

    void participate(int h) {
        sync->active.fetch_add(1, std::memory_order_acq_rel);
        const ChunkRange home = home_chunks(chunks, threads, h);
        const bool alone = running_serially() || threads == 1;
        int64_t idle_since = -1;
        int spins = 0;
        for (;;) {
            const int end = end_phase();
            bool ran = false;
            for (int c = home.first; c < home.end && !ran; c++) ran = try_run(c, end);
            if (!ran && (alone || (idle_since >= 0 && clock_ns() - idle_since > STEAL_NS)))
                for (int k = 1; k < chunks && !ran; k++) ran = try_run((home.first + k) % chunks, end);
            if (ran) {
                idle_since = -1;
                continue;
            }
            bool finished = true;
            for (int c = 0; c < chunks && finished; c++)
                finished = net->col[c].done.load(std::memory_order_acquire) >= end;
            if (finished) break;
            if (idle_since < 0) {
                idle_since = clock_ns();
                spins = 0;
            }
            _mm_pause();
            if (++spins % 64 != 0 || clock_ns() - idle_since < SLEEP_NS) continue;
            // every phase left is held or waits for one that is held, by a thread that has not finished it in
            // SLEEP_NS: sleep until a phase finishes (at most 1 ms: the wake-up is a courtesy, not needed)
            const int64_t seen = done_sum();
            const uint32_t v = sync->progress.load(std::memory_order_seq_cst);
            sync->sleepers.fetch_add(1, std::memory_order_seq_cst);
            if (done_sum() == seen) futex_wait(&sync->progress, v, 1000000);
            sync->sleepers.fetch_sub(1, std::memory_order_seq_cst);
            idle_since = clock_ns();
        }
        sync->active.fetch_sub(1, std::memory_order_acq_rel);
    }

    // Each thread reads its own copy of the inputs: the originals sit on the caller's stack, next to the lines the
    // caller's thread writes while it runs its own phases (reading them there cost ~2% of a step, measured near)
    static void run(void* p, int h) {
        const Run& shared = *static_cast<const Run*>(p);
        ColumnRun in = *shared.r;
        const GatherRows gather = *in.gather;
        in.gather = &gather;
        Run own = shared;
        own.r = &in;
        own.participate(h);
    }
};

}  // namespace

void column_run(d4j_net* net, ColumnRun& r) {
    RunSync sync;
    const int chunks = team_chunks(net);
    Run run{net, &r, &r, &sync, chunks, std::max(1, std::min(team_size(), chunks)), 0.0};
    for (int c = 0; c < chunks; c++) {
        ColumnChunk& ch = net->col[c];
        ch.claimed.store(0, std::memory_order_relaxed);
        ch.done.store(0, std::memory_order_relaxed);
        ch.dense_run = net->sx_dense_run;
    }
    const Layer& L0 = net->layers[0];
    const Layer& L1 = net->layers[1];
    // per step, as the two regions weigh it (column_forward, column_backward), with one gather whatever the chunks:
    // the pool compares the time per unit of work of its parallel and serial runs, so the yardstick must not grow
    // with the duplicated gathers of a team
    const double step_work = 4.0 * r.batch * L0.in * L0.out + 6.0 * r.batch * L0.out * L1.out + 12.0 * L0.in * L0.out +
                             GATHER_COST * r.batch * L0.in;
    run.work = step_work * r.steps;
    parallel(Region{Run::run, &run, run.threads, nullptr, run.work});
    const int st = sync.stop.load(std::memory_order_relaxed);
    r.nonfinite = st >= 0;
    r.finished = st >= 0 ? st : r.steps;
    for (int i = 0; i < r.finished; i++) {
        r.skipped[i] = false;
        for (int c = 0; c < chunks; c++) r.skipped[i] = r.skipped[i] || net->col[c].skip_steps[i];
    }
    net->col_steps += r.finished;
}

}  // namespace d4j
