// The column-parallel training step of a two-layer network (column_step.h), on 2+ threads.
// Chunk c of C owns layer 0's output blocks [nb*c/C, nb*(c+1)/C) of COLUMN_BLOCK columns: the columns [c0, c1) of
// W0, b0, z0, y0, the dropout mask, dz0 and their gradients and optimizer state, and the rows [c0, c1) of W1. Why:
// today's per-op regions cut layer 0 by K (forward) and by rows (weight gradient), so every step 16 KB of partial
// product, 16 KB of dz0 and ~25 KB of the next input rows crossed between the cores: ~22 us of a ~71 us step when
// the host places the two vCPUs far apart (RESULTS.md, "Session 9: two threads after the one-thread gains"). Here a
// chunk reads only what its own core wrote: its own copy of the batch rows (each chunk gathers the WHOLE batch, a
// duplicated ~1-2 us), its weights, its activations. What crosses: layer 1's partial logits, one [rows, out1]
// block per COLUMN_BLOCK (~1.3 KB each for the reference network), and layer 1's bias (40 bytes).
// Results are the same bits at any thread count and any chunking: every element of every product is computed by
// exactly one chunk with the same arithmetic, and the one reduction that crosses the chunks (layer 1's sum over the
// hidden units) is always formed per fixed block in fixed order, ((p0 + p1) + p2 ...) + b1, also on one thread
// (column_logits); every chunk computes the loss and its gradient from the same partials, so all see the same.
#include "column_step.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
    return v && std::strcmp(v, "1") == 0;
}

bool column_buffers_aligned(const d4j_net* net) {
    const auto line = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; };
    return line(net->params) && line(net->grads) && line(net->opt_state) && net->opt_stride % 16 == 0;
}

// Layer 1's partial product over its input block j (layer 0's columns [j * COLUMN_BLOCK, ...)): out = h[:, block j] .
// W1[block j rows, :], plus `addend` (the sum of the blocks before it) and the bias when given.
static void block_product(const GemmKernels& k, const d4j_net* net, const float* h, int rows, int j,
                          const float* addend, const float* bias, float* out) {
    const Layer& L = net->layers[1];
    const int r0 = j * COLUMN_BLOCK, r1 = std::min(L.in, r0 + COLUMN_BLOCK);
    NNArgs n;
    n.a = h + r0;
    n.lda = L.in;
    n.b = net->params + L.off + (int64_t)r0 * L.out;
    n.ldb = L.out;
    n.bias = bias;
    n.z = nullptr;
    n.y = out;
    n.ldc = L.out;
    n.m = rows;
    n.n = L.out;
    n.k = r1 - r0;
    n.relu = 0;
    n.addend = addend;
    k.nn(n);
}

// One thread: block 0's product, then each next block's with the sum so far as its addend (the kernel forms
// addend + product, then + bias on the last, exactly the in-memory sum of column_backward). The running sum
// alternates between two of the partial-product buffers (never read and written by one call).
void column_logits(const GemmKernels& k, d4j_net* net, const float* h, int rows, float* out) {
    const Layer& L = net->layers[1];
    const int64_t stride = (int64_t)net->max_batch * L.out;
    const float* b = net->params + L.off + (int64_t)L.in * L.out;
    const float* sum = nullptr;
    for (int j = 0; j < net->col_blocks; j++) {
        const bool last = j == net->col_blocks - 1;
        float* dst = last ? out : net->col_part + (j % 2) * stride;
        block_product(k, net, h, rows, j, sum, last ? b : nullptr, dst);
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
    bool reverse;  // the first layer's update pieces in reverse order (every other step, as on one thread)
    float sparse;  // the first layer's weight gradient skips exact zeros below this density (0: never)
    bool packed;   // the input gradient's kernel form for this product (decided once, for every block)

    static void forward(void* p, int c) {
        const Step& s = *static_cast<const Step*>(p);
        d4j_net* net = s.net;
        const ColumnStepArgs& a = *s.a;
        const int buf = net->col[c].buf = own_rows(net, a, c, a.pos, 0);
        const Layer& L0 = net->layers[0];
        const Slice sl = slice_of(net, c, s.chunks);
        const Block blk{0, a.rows, sl.c0, sl.c1};
        const float* w0 = net->params + L0.off;
        dense_forward_block(*a.k, net->copies[c].x[buf], w0, w0 + (int64_t)L0.in * L0.out, L0.z, L0.y, L0.in,
                            L0.out, L0.act, blk);
        if (L0.rate > 0.0f) dropout_block(L0, a.seed, a.t - 1, 0, blk);
        const Layer& L1 = net->layers[1];
        const int64_t stride = (int64_t)net->max_batch * L1.out;
        for (int j = sl.b0; j < sl.b1; j++)
            block_product(*a.k, net, L0.input(true), a.rows, j, nullptr, nullptr, net->col_part + j * stride);
        if (c == 0)  // b1 as this step reads it: chunk 0 updates b1 in region B while the others may still read it
            std::copy_n(net->params + L1.off + (int64_t)L1.in * L1.out, L1.out, net->col_bias);
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
        const int rows = a.rows, out0 = L0.out, out1 = L1.out;
        // logits = ((p0 + p1) + ...) + b1, in the order of column_logits
        const int64_t stride = (int64_t)net->max_batch * out1;
        const int n = rows * out1;
        std::copy_n(net->col_part, n, me.logits);
        for (int j = 1; j < net->col_blocks; j++) {
            const float* pj = net->col_part + j * stride;
            for (int i = 0; i < n; i++) me.logits[i] = me.logits[i] + pj[i];
        }
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out1; o++) me.logits[r * out1 + o] = me.logits[r * out1 + o] + net->col_bias[o];
        me.correct = 0;
        me.loss = loss(net->loss, me.logits, rows_of.labels[me.buf], rows_of.targets[me.buf], me.dlogits, nullptr, rows,
                       out1, 1.0f, &me.correct);
        if (!std::isfinite(me.loss)) return;  // every chunk sees the same: nobody updates
        const Slice sl = slice_of(net, c, s.chunks);
        const float* h = L0.input(true);
        float* const w1 = net->params + L1.off;
        float* const g1 = net->grads + L1.off;
        // layer 1: dW1 for its hidden rows (db1 with the first), then dh for its columns with the OLD W1 rows
        weight_grad_block(k, h, me.dlogits, g1, g1 + (int64_t)out0 * out1, rows, out0, out1,
                          Block{sl.c0, sl.c1, 0, out1});
        const Block cols{0, rows, sl.c0, sl.c1};
        input_grad_block(k, w1, me.dlogits, L0.dz, out0, out1, cols, s.packed);
        activation_backward_block(L0, cols);
        // layer 0: dW0 and db0 for its columns
        const float* x = rows_of.x[me.buf];
        float* const g0 = net->grads + L0.off;
        const int skipped = weight_grad_block(k, x, L0.dz, g0, g0 + (int64_t)L0.in * out0, rows, L0.in, out0,
                                              Block{0, L0.in, sl.c0, sl.c1}, s.sparse);
        if (skipped) __atomic_fetch_add(&net->sx_blocks, skipped, __ATOMIC_RELAXED);
        const NextRows next{a.x, a.order + a.next_pos, a.gather_next ? a.next_rows : 0, L0.in, a.row_bytes, 0};
        if (a.update) {
            const int64_t N = net->opt_stride;
            float* st = net->opt_state;
            // rows x cols of the parameters at offset off (row stride ld): value clipping, then the optimizer
            const auto update = [&](int64_t off, int64_t nrows, int64_t ncols, int64_t ld) {
                float* g = net->grads + off;
                if (net->clip_value > 0.0f)
                    for (int64_t r = 0; r < nrows; r++) clip_values(g + r * ld, ncols, net->clip_value);
                a.opt.fn(a.opt, net->params + off, g, st + off, st + N + off, st + 2 * N + off, nrows, ncols, ld);
            };
            const int own = sl.c1 - sl.c0;
            update(L1.off + (int64_t)sl.c0 * out1, 1, (int64_t)own * out1, (int64_t)own * out1);  // W1 rows: contiguous
            if (c == 0) update(L1.off + (int64_t)out0 * out1, 1, out1, out1);                     // b1
            update(L0.off + (int64_t)L0.in * out0 + sl.c0, 1, own, own);                          // b0 columns
            // W0 columns, in pieces of rows as on one thread, the next rows prefetched during the last pieces
            for (int q = 0; q < UPDATE_PIECES; q++) {
                if (a.gather_next && q >= UPDATE_PIECES - PREFETCH_PIECES)
                    next.prefetch_near(q - (UPDATE_PIECES - PREFETCH_PIECES), PREFETCH_PIECES);
                const int at = s.reverse ? UPDATE_PIECES - 1 - q : q;
                const int64_t r0 = (int64_t)L0.in * at / UPDATE_PIECES, r1 = (int64_t)L0.in * (at + 1) / UPDATE_PIECES;
                update(L0.off + r0 * out0 + sl.c0, r1 - r0, own, out0);
            }
        } else if (a.gather_next) {
            next.prefetch_near(0, 1);
        }
        // the next rows into the buffer this step used (its last reader was the weight gradient above)
        if (a.gather_next) own_rows(net, a, c, a.next_pos, me.buf);
    }
};

int team_chunks(const d4j_net* net) {
    const int team = team_size();
    if (team <= 1) return 1;
    return net->col_forced ? net->n_copies : std::max(1, std::min({team, net->max_team, net->n_copies}));
}

}  // namespace

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
    net->col_steps++;
    *loss_sum = first.loss;
    *correct = first.correct;
    return true;
}

}  // namespace d4j
