// The training engine: a stack of Dense layers over ONE contiguous parameter buffer (W0,b0,W1,b1,...).
// d4j_net_train runs whole steps without returning to Java and without allocating: gather the batch rows by
// index, forward (sgemm + fused bias/activation, fused dropout mask), fused loss/grad/accuracy on the
// logits, backward (sgemm for dW and dx, the activation derivative and the dropout mask folded into the
// gradient flowing back, no dx for layer 0), optional clipping, optimizer update.
// Why it is fast: all workspace is allocated once in d4j_net_create (one 64-byte aligned block); the loss
// works on the pre-activation so the output softmax/sigmoid is never materialised in training; and, unless
// global-norm clipping needs every gradient first, each layer's parameters are updated right after its
// backward, while its freshly written dW is still in cache (same arithmetic as one pass over the buffer). The first
// layer's weight gradient leaves out the exact zeros of the input rows (image data: half the pixels), with the
// same bits as the dense kernel (sparse_input.inc; d4j_net_set_sparse_input).
// At 2+ threads each thread keeps the same rows of a tall layer's W in its core's cache from step to step: the
// training forward of such a layer runs in two slices of its inputs (ForwardSplitK), and its weight gradient and
// update in row bands inside the same slices, on the same threads (split.h SliceBands); the next batch's rows are
// prefetched and gathered in the matching column slices, so each core copies the inputs its own slice reads.
// What still crosses between the cores per step on that path: the second slice's partial product (to be summed) and
// the first layer's output gradient (for its weight gradient), batch x width floats each, and the next rows that a
// thread gathers for the other's slice.
// A two-layer network of the right shape (column mode, column_step.h: the reference network 784-128-10; on unless
// D4J_COLUMN_STEP=0 at creation) does not take that path: a call at 2+ threads runs column_step.cpp's runs of up to
// RUN_STEPS steps, one pool region each, W0 in the engine's own per-block panels (copied from and back to the
// caller's buffers once per call), each chunk owning a slice of layer 0's output columns, so only layer 1's
// per-block partial logits cross (~1.3 KB per block); a call at one thread runs the step below on the caller's
// buffers with the same arithmetic (layer 0 full-K, layer 1 summed by 64-row blocks). (Global-norm clipping needs
// every gradient before any update: those calls run the column step as two regions a step, column_forward and
// column_backward, with the clipping and update between steps.)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <xmmintrin.h>
#include "activations.h"
#include "column_step.h"
#include "dense4j_dropout.h"
#include "gather_u8.h"
#include "internal.h"
#include "net_state.h"
#include "thread_pool.h"

using d4j::Layer;
using d4j::NextRows;
using d4j::GatherRows;
using d4j::WeightGradPlan;
using d4j::dropout_block;
using d4j::round_up;
using d4j::GATHER_COST;
using d4j::SPLIT_K_MIN_IN;

// Inverted dropout fused with mask generation over a block of the layer's output: yd = y * mask, the mask of
// dense4j_dropout.h (the CUDA engine's too). It is a function of the element's flat index, so any block split
// gives the same.
void d4j::dropout_block(const Layer& L, uint64_t seed, int64_t step, int layer, const d4j::Block& blk) {
    const uint64_t key = d4j::dropout_key(seed, step, layer);
    const float threshold = d4j::dropout_threshold(L.rate), scale = d4j::dropout_scale(L.rate);
    for (int r = blk.r0; r < blk.r1; r++)
        for (int64_t i = (int64_t)r * L.out + blk.c0, e = (int64_t)r * L.out + blk.c1; i < e; i++) {
            const float m = d4j::dropout_mask(key, (uint64_t)i, threshold, scale);
            L.mask[i] = m;
            L.yd[i] = L.y[i] * m;
        }
}

extern "C" int64_t d4j_param_count(int n_layers, const int32_t* sizes) {
    if (n_layers <= 0 || !sizes) return -1;
    int64_t total = 0;
    for (int l = 0; l < n_layers; l++) {
        if (sizes[l] <= 0 || sizes[l + 1] <= 0) return -1;
        total += (int64_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    }
    return total;
}

static bool loss_accepts(int loss, int act) {
    switch (loss) {
        case D4J_LOSS_SPARSE_CCE:
        case D4J_LOSS_CCE: return act == D4J_ACT_SOFTMAX || act == D4J_ACT_LINEAR;
        case D4J_LOSS_BCE: return act == D4J_ACT_SIGMOID || act == D4J_ACT_LINEAR;
        default: return true;
    }
}

extern "C" d4j_net* d4j_net_create(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout,
                                   int loss, int max_batch, float* params, float* grads,
                                   int optimizer, const float* opt_hp, float* opt_state,
                                   float clip_norm, float clip_value) {
    using namespace d4j;
    if (n_layers <= 0 || n_layers > 4096 || !sizes || !acts || !params || max_batch <= 0 || !valid_loss(loss))
        return nullptr;
    const int64_t n_params = d4j_param_count(n_layers, sizes);
    if (n_params <= 0) return nullptr;
    for (int l = 0; l < n_layers; l++) {
        if (!valid_act(acts[l])) return nullptr;
        if (dropout && !(dropout[l] >= 0.0f && dropout[l] < 1.0f)) return nullptr;  // also rejects NaN
    }
    const int last_act = acts[n_layers - 1];
    if (!loss_accepts(loss, last_act)) return nullptr;
    if (dropout && dropout[n_layers - 1] != 0.0f) return nullptr;  // dropout of the network's output: meaningless
    const bool trainable = grads && opt_state;
    if (trainable && !valid_hp(optimizer, opt_hp)) return nullptr;
    if (!(clip_norm >= 0.0f) || !(clip_value >= 0.0f) || std::isinf(clip_norm) || std::isinf(clip_value))
        return nullptr;

    d4j_net* net = new (std::nothrow) d4j_net();
    if (!net) return nullptr;
    net->layers = new (std::nothrow) Layer[n_layers];
    if (!net->layers) { delete net; return nullptr; }
    net->n_layers = n_layers;
    net->loss = loss;
    net->max_batch = max_batch;
    net->logits = loss != D4J_LOSS_MSE;
    net->trainable = trainable;
    net->params = params;
    net->grads = grads;
    net->opt_state = opt_state;
    net->optimizer = optimizer;
    if (trainable) std::copy(opt_hp, opt_hp + D4J_OPT_HP_COUNT, net->hp);
    net->clip_norm = clip_norm;
    net->clip_value = clip_value;
    net->n_params = n_params;
    net->opt_stride = n_params;
    // up to 4 chunks per thread per layer (split.h), no more threads than CPUs, and up to 4 pieces of gather
    net->max_chunks = (int)std::min<int64_t>(d4j::MAX_CHUNKS, (int64_t)n_layers * 4 * d4j::pool_max_team() + 4);
    net->bands = new (std::nothrow) d4j::SliceBands[n_layers];
    net->chunk_first = new (std::nothrow) int[n_layers + 1];
    net->chunk_cost = new (std::nothrow) float[net->max_chunks];
    net->chunk_id = new (std::nothrow) int[net->max_chunks];
    net->max_team = d4j::pool_max_team();
    net->split = new (std::nothrow) int[net->max_team + 1];
    net->thread_cost = new (std::nothrow) float[net->max_team];
    net->thread_next = new (std::nothrow) int[net->max_team];
    net->chunk_owner = new (std::nothrow) int[net->max_chunks];
    // column mode: decided by the shape alone (and the opt-in, column_step.h), so that the arithmetic never depends
    // on the buffers or the threads
    net->column = trainable && d4j::column_enabled() && d4j::column_shape(n_layers, sizes, acts, dropout, loss);
    net->col_blocks = net->column ? (sizes[1] + d4j::COLUMN_BLOCK - 1) / d4j::COLUMN_BLOCK : 0;
    // one chunk per thread, at most one per block; D4J_COLUMN_CHUNKS=n (tests): n chunks whenever the step runs on
    // a team, even more than the CPUs (the results must not depend on the chunking)
    const char* forced = std::getenv("D4J_COLUMN_CHUNKS");
    net->col_forced = net->column && forced && std::atoi(forced) > 0;
    net->n_copies = !net->column ? 1 : std::min(net->col_forced ? std::atoi(forced) : net->max_team, net->col_blocks);
    net->copies = new (std::nothrow) d4j::BatchCopy[net->n_copies];
    net->col = net->column ? new (std::nothrow) d4j::ColumnChunk[net->n_copies] : nullptr;
    if (!net->bands || !net->chunk_first || !net->chunk_cost || !net->chunk_id || !net->split || !net->thread_cost ||
        !net->thread_next || !net->chunk_owner || !net->copies || (net->column && !net->col)) {
        d4j_net_destroy(net);
        return nullptr;
    }

    const size_t mb = (size_t)max_batch;
    int64_t off = 0;
    for (int l = 0; l < n_layers; l++) {
        Layer& L = net->layers[l];
        L.in = sizes[l];
        L.out = sizes[l + 1];
        L.act = acts[l];
        L.rate = dropout ? dropout[l] : 0.0f;
        L.off = off;
        off += (int64_t)L.in * L.out + L.out;
        L.split_k = !net->column && trainable && l < n_layers - 1 && (L.act == D4J_ACT_RELU || L.act == D4J_ACT_LINEAR) &&
                    L.in >= SPLIT_K_MIN_IN && L.in >= 4 * L.out;
    }
    // A column network's pieces that different cores write each get GUARD_FLOATS of their own after them: its layer
    // 0 activations per block (act_block), its panels per block (pan_block: W0's panel, then b0's columns and W1's
    // rows of the block), and every piece of the workspace (net_state.h GUARD_FLOATS says why).
    const size_t guard = net->column ? d4j::GUARD_FLOATS : 0;
    if (net->column) {
        net->act_block = (int64_t)(round_up(mb * d4j::COLUMN_BLOCK) + guard);
        net->pan_b0 = (int64_t)round_up((size_t)sizes[0] * d4j::COLUMN_BLOCK);
        net->pan_w1 = net->pan_b0 + (int64_t)round_up(d4j::COLUMN_BLOCK);
        net->pan_block = net->pan_w1 + (int64_t)(round_up((size_t)d4j::COLUMN_BLOCK * sizes[2]) + guard);
    }
    // W0's panels (5 per weight of layer 0, with b0 and W1 alike) only where a call can run at 2+ threads: a process
    // on one CPU never loads them (d4j_net_train_data: panels), and column mode's arithmetic does not depend on them
    const size_t panel_floats = net->column && net->max_team > 1 ? (size_t)net->pan_block * net->col_blocks : 0;
    const size_t logits_floats = round_up(mb * (size_t)sizes[n_layers]);
    // The workspace, in floats, each piece rounded up to 64 bytes: carve() lays it out from `base`, or only counts it
    // when base is null; then one allocation carved into pieces.
    const auto carve = [&](float* base) {
        size_t used = 0;
        auto take = [&](size_t n) {
            float* r = base ? base + used : nullptr;
            used += round_up(n) + guard;
            return r;
        };
        for (int l = 0; l < n_layers; l++) {
            Layer& L = net->layers[l];
            const size_t k = net->column && l == 0 ? (size_t)net->act_block * net->col_blocks : mb * (size_t)L.out;
            const bool need_z = L.act == D4J_ACT_GELU || (l == n_layers - 1 && net->logits);
            if (need_z) L.z = take(k);
            if (L.split_k) L.part = take(2 * k);
            L.y = take(k);
            if (trainable) L.dz = take(k);
            if (trainable && L.rate > 0.0f) { L.mask = take(k); L.yd = take(k); }
        }
        for (int c = 0; c < net->n_copies; c++)
            for (int b = 0; b < 2; b++) {
                d4j::BatchCopy& to = net->copies[c];
                to.x[b] = take(mb * (size_t)sizes[0]);
                if (loss == D4J_LOSS_SPARSE_CCE) to.labels[b] = reinterpret_cast<int32_t*>(take(mb));
                else to.targets[b] = take(mb * (size_t)sizes[n_layers]);
            }
        if (net->column) {  // the partial products and the bias snapshot (two sets), each chunk's logits and their
                            // gradient, and the panels of W0 (b0, W1), of its gradient and of its state slots
            net->col_part = take(2 * (size_t)d4j::column_part_stride(net) * net->col_blocks);
            net->col_bias = take(2 * round_up(sizes[n_layers]));
            for (int c = 0; c < net->n_copies; c++) {
                net->col[c].logits = take(logits_floats);
                net->col[c].dlogits = take(logits_floats);
            }
            if (panel_floats > 0) {
                net->pan_w = take(panel_floats);
                net->pan_g = take(panel_floats);
                net->pan_stride = (int64_t)panel_floats;
                net->pan_state = take(D4J_OPT_STATE_PER_PARAM * panel_floats);
            }
        }
        return used;
    };
    const size_t total = carve(nullptr);
    if (total > ((size_t)1 << 40) || posix_memalign(&net->mem, 64, total * sizeof(float)) != 0) {
        net->mem = nullptr;
        d4j_net_destroy(net);
        return nullptr;
    }
    carve(static_cast<float*>(net->mem));
    return net;
}

extern "C" void d4j_net_destroy(d4j_net* net) {
    if (!net) return;
    free(net->mem);
    delete[] net->layers;
    delete[] net->bands;
    delete[] net->chunk_first;
    delete[] net->chunk_cost;
    delete[] net->chunk_id;
    delete[] net->split;
    delete[] net->thread_cost;
    delete[] net->thread_next;
    delete[] net->chunk_owner;
    delete[] net->copies;
    delete[] net->col;
    delete net;
}

// One layer's forward as a parallel region: blocks of the output (see split.h), each with its bias, activation
// and dropout. Small layers run on the calling thread (plan() gives one chunk).
namespace {
struct ForwardLayer {
    const d4j::GemmKernels* k;
    const Layer* L;
    const float *a, *w, *b;
    float *z, *y;
    int act, layer;
    bool dropout;
    uint64_t seed;
    int64_t step;
    d4j::Grid g;
    const NextRows* next;  // or nullptr
    static void run(void* p, int i) {
        const ForwardLayer& f = *static_cast<const ForwardLayer*>(p);
        if (f.next) f.next->prefetch(i, f.g.count());
        const d4j::Block blk = f.g.block(i);
        d4j::dense_forward_block(*f.k, f.a, f.w, f.b, f.z, f.y, f.L->in, f.L->out, f.act, blk);
        if (f.dropout) dropout_block(*f.L, f.seed, f.step, f.layer, blk);
    }
};
}  // namespace

static void forward_layer(const d4j::GemmKernels& k, const Layer& L, int layer, const float* a, const float* w,
                          const float* b, float* z, float* y, int act, int rows, bool dropout, uint64_t seed,
                          int64_t step, const NextRows* next) {
    ForwardLayer f{&k, &L, a, w, b, z, y, act, layer, dropout, seed, step,
                   d4j::forward_grid(k, rows, L.in, L.out, act, d4j::team_size()), next};
    d4j::parallel(d4j::Region{ForwardLayer::run, &f, f.g.count(), nullptr, 2.0 * rows * L.in * L.out});
}

// Forward of one batch of rows already in `x`. Training: dropout on, and the last layer stops at its
// pre-activation when the loss takes logits. Inference: y_last, when not NULL, receives the activated output.
// A tall layer's training forward in two slices of its inputs (split-K): thread t of two computes the partial
// product over the rows of W whose weight gradient and optimizer update it does (the weight-gradient region's
// row bands, WeightGradStep), then y = act(p0 + p1 + b). Why: split by output columns, each thread read the half
// of its columns that the other thread had just updated, so every step ~100 KB of W crossed between the cores
// twice (to be read, then to be written again); now a thread reads only the weights in its own core's cache.
// The slice boundary depends on the batch rows and the layer's shape only (the bands of a 2-thread weight
// gradient), never on the thread count or on the pool's mode, so every element gets the same arithmetic at any
// thread count: results stay bit-identical across thread counts (and differ from the one-chain forward of
// inference by rounding only).
namespace {
struct ForwardSplitK {
    const d4j::GemmKernels* k;
    const float *a, *w;
    float* part;       // slice s at part + s * stride
    int64_t stride;
    int in, out, kmid;
    d4j::Grid g;       // blocks of the output, the same for both slices
    const NextRows* next;  // or nullptr
    static void run(void* p, int i) {
        const ForwardSplitK& f = *static_cast<const ForwardSplitK*>(p);
        const int s = i / f.g.count();
        if (f.next && f.next->mid > 0)
            f.next->prefetch(i % f.g.count(), f.g.count(), s ? f.next->mid : 0, s ? f.next->in : f.next->mid);
        else if (f.next)
            f.next->prefetch(i, 2 * f.g.count());
        const d4j::Block blk = f.g.block(i % f.g.count());
        const int k0 = s ? f.kmid : 0, k1 = s ? f.in : f.kmid;
        d4j::NNArgs n;
        n.a = f.a + (int64_t)blk.r0 * f.in + k0;
        n.lda = f.in;
        n.b = f.w + (int64_t)k0 * f.out + blk.c0;
        n.ldb = f.out;
        n.bias = nullptr;
        n.z = nullptr;
        n.y = f.part + s * f.stride + (int64_t)blk.r0 * f.out + blk.c0;
        n.ldc = f.out;
        n.m = blk.r1 - blk.r0;
        n.n = blk.c1 - blk.c0;
        n.k = k1 - k0;
        n.relu = 0;
        f.k->nn(n);
    }
};
// y = act(p0 + p1 + b) (and z, dropout) over blocks of rows
struct SumSplitK {
    const Layer* L;
    const float* b;
    float *z, *y;
    int64_t stride;
    int rows, rows_per_chunk, layer;
    bool dropout;
    uint64_t seed;
    int64_t step;
    static void run(void* p, int i) {
        const SumSplitK& f = *static_cast<const SumSplitK*>(p);
        const int out = f.L->out;
        const int r0 = i * f.rows_per_chunk, r1 = std::min(f.rows, r0 + f.rows_per_chunk);
        const bool relu = f.L->act == D4J_ACT_RELU;
        for (int r = r0; r < r1; r++) {
            const float* p0 = f.L->part + (int64_t)r * out;
            const float* p1 = p0 + f.stride;
            float* y = f.y + (int64_t)r * out;
            float* z = f.z ? f.z + (int64_t)r * out : nullptr;
            for (int j = 0; j < out; j++) {
                const float v = (p0[j] + p1[j]) + f.b[j];
                if (z) z[j] = v;
                y[j] = relu ? d4j::relu(v) : v;
            }
        }
        if (f.dropout) dropout_block(*f.L, f.seed, f.step, f.layer, d4j::Block{r0, r1, 0, out});
    }
};
}  // namespace

// The input row where the second slice of a split-K forward starts: half-way, on a multiple of 12 rows (the
// weight gradient's band unit), so that the two threads get the same work; the weight-gradient region at 2+
// threads cuts its bands of this layer at the same row (d4j::SliceBands). 0: too small to split (the same threshold
// as any parallel product, split.h).
static int split_k_row(const Layer& L, int rows) {
    if (2.0 * rows * L.in * L.out < d4j::PAR_MIN_FLOPS) return 0;
    return (L.in / 2 + 6) / 12 * 12;
}

// The column of the gathered batch rows where the second slice of a 2+ thread gather starts: the first layer's
// split-K row on a 64-byte line (a batch row is on a line when its length is a multiple of 16 floats), so that
// the two threads never write one line, and each reads the other's writes in at most one line per row. 0: no
// column slices (the first layer is not split, or too small).
static int gather_split_col(const Layer& L0, int rows) {
    const int mid = L0.split_k ? split_k_row(L0, rows) : 0;
    const int col = (mid + 8) / 16 * 16;
    return mid > 0 && col > 0 && col < L0.in ? col : 0;
}

// The same two slices on one thread, with the sum fused into the second slice's epilogue (NNArgs::addend): the
// kernel forms (p0 + p1) + b and the activation in registers, as SumSplitK does in memory, so the same bits at any
// thread count, without SumSplitK's pass over three [rows, out] blocks (~0.4 us of a ~78 us reference step).
static void forward_split_k_serial(const d4j::GemmKernels& k, const Layer& L, int layer, const float* a,
                                   const float* w, const float* b, float* z, float* y, int rows, int kmid,
                                   bool dropout, uint64_t seed, int64_t step) {
    d4j::NNArgs n;
    n.a = a;
    n.lda = L.in;
    n.b = w;
    n.ldb = L.out;
    n.bias = nullptr;
    n.z = nullptr;
    n.y = L.part;
    n.ldc = L.out;
    n.m = rows;
    n.n = L.out;
    n.k = kmid;
    n.relu = 0;
    k.nn(n);  // p0
    n.a = a + kmid;
    n.b = w + (int64_t)kmid * L.out;
    n.k = L.in - kmid;
    n.addend = L.part;
    n.bias = b;
    n.z = z;
    n.y = y;
    n.relu = L.act == D4J_ACT_RELU;
    k.nn(n);  // (p0 + p1) + b, activated
    if (dropout) dropout_block(L, seed, step, layer, d4j::Block{0, rows, 0, L.out});
}

static bool forward_split_k(const d4j::GemmKernels& k, const Layer& L, int layer, const float* a, const float* w,
                            const float* b, float* z, float* y, int rows, bool dropout, uint64_t seed, int64_t step,
                            int64_t stride, const NextRows* next) {
    const int kmid = split_k_row(L, rows);
    if (kmid <= 0 || kmid >= L.in) return false;
    if (d4j::team_size() <= 1 && !next) {
        forward_split_k_serial(k, L, layer, a, w, b, z, y, rows, kmid, dropout, seed, step);
        return true;
    }
    ForwardSplitK f{&k, a, w, L.part, stride, L.in, L.out, kmid,
                    d4j::forward_grid(k, rows, L.in / 2, L.out, L.act, std::max(1, d4j::team_size() / 2)), next};
    d4j::parallel(d4j::Region{ForwardSplitK::run, &f, 2 * f.g.count(), nullptr, 2.0 * rows * L.in * L.out});
    constexpr int SUM_ROWS = 32;
    SumSplitK sum{&L, b, z, y, stride, rows, SUM_ROWS, layer, dropout, seed, step};
    d4j::parallel(d4j::Region{SumSplitK::run, &sum, (rows + SUM_ROWS - 1) / SUM_ROWS, nullptr, 3.0 * rows * L.out});
    return true;
}

// next (training, or nullptr): the next step's rows, prefetched by the first layer's chunks.
static const float* forward_rows(d4j_net* net, const d4j::GemmKernels& k, const float* x, int rows, bool train,
                                 uint64_t seed, int64_t step, float* y_last, const NextRows* next) {
    const float* a = x;
    for (int l = 0; l < net->n_layers; l++) {
        Layer& L = net->layers[l];
        const NextRows* pf = l == 0 ? next : nullptr;
        const float* w = net->params + L.off;
        const float* b = w + (int64_t)L.in * L.out;
        if (l < net->n_layers - 1) {
            if (!(train && L.split_k &&
                  forward_split_k(k, L, l, a, w, b, L.z, L.y, rows, L.rate > 0.0f, seed, step,
                                  (int64_t)net->max_batch * L.out, pf)))
                forward_layer(k, L, l, a, w, b, train ? L.z : nullptr, L.y, L.act, rows, train && L.rate > 0.0f,
                              seed, step, pf);
            a = L.input(train);
            continue;
        }
        float* y = y_last ? y_last : L.y;
        if (train && net->column) {  // the fixed-order sum of its per-block partial products (column_step.h)
            float* o = net->logits ? L.z : y;
            d4j::column_logits(k, net, a, rows, o);
            return o;
        }
        if (train && net->logits) {
            forward_layer(k, L, l, a, w, b, nullptr, L.z, D4J_ACT_LINEAR, rows, false, 0, 0, pf);
            return L.z;
        }
        forward_layer(k, L, l, a, w, b, L.z, y, L.act, rows, false, 0, 0, pf);
        return net->logits ? L.z : y;
    }
    return nullptr;  // unreachable
}

// Denormals flushed to zero (FTZ + DAZ in MXCSR) for the duration of a call, the caller's mode restored on
// return (the pool's workers take the caller's mode for each region). Why: optimizer state of weights whose
// gradient is exactly 0 (dead relu units) decays geometrically (Adam m *= 0.9 per step) into the subnormal
// range, where every operation takes a microcode assist: measured 0.43 -> 0.58 s per reference epoch after a
// few hundred steps without this.
namespace {
struct FlushDenormals {
    unsigned saved;
    FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
    ~FlushDenormals() { _mm_setcsr(saved); }
};


// The input gradient of layer l (dx = dz_l . W_l^T, into layer l-1's dz) with layer l-1's activation
// derivative and dropout mask applied to the same block: one region per layer, last layer first.
struct InputGradLayer {
    const d4j::GemmKernels* k;
    const Layer *L, *P;  // layer l and layer l-1
    const float* w;
    d4j::Grid g;
    bool packed;
    static void run(void* p, int i) {
        const InputGradLayer& j = *static_cast<const InputGradLayer*>(p);
        const d4j::Block blk = j.g.block(i);
        d4j::input_grad_block(*j.k, j.w, j.L->dz, j.P->dz, j.L->in, j.L->out, blk, j.packed);
        d4j::activation_backward_block(*j.P, blk);
    }
};
}  // namespace

// A block of P.dz (the gradient flowing into layer P's output) turned into the gradient of its pre-activation, in
// place: P's activation derivative and its dropout mask.
void d4j::activation_backward_block(const Layer& P, const d4j::Block& blk) {
    if (P.act == D4J_ACT_LINEAR && !(P.rate > 0.0f)) return;
    if (blk.c0 == 0 && blk.c1 == P.out) {  // whole rows: one contiguous pass
        const int64_t o = (int64_t)blk.r0 * P.out;
        d4j::activation_backward(P.z ? P.z + o : nullptr, P.y + o, P.rate > 0.0f ? P.mask + o : nullptr, P.dz + o,
                                 P.dz + o, blk.r1 - blk.r0, P.out, P.act);
        return;
    }
    for (int r = blk.r0; r < blk.r1; r++) {
        const int64_t o = (int64_t)r * P.out + blk.c0;
        d4j::activation_backward(P.z ? P.z + o : nullptr, P.y + o, P.rate > 0.0f ? P.mask + o : nullptr, P.dz + o,
                                 P.dz + o, 1, blk.c1 - blk.c0, P.act);
    }
}

namespace {
using d4j::UPDATE_PIECES;
using d4j::PREFETCH_PIECES;

// Every layer's weight gradient (dW, db) in ONE region (they are independent once every dz is known), each
// block followed, unless global-norm clipping needs the whole gradient first, by value clipping and the
// optimizer update of the same block of parameters while its gradient is still in cache. The blocks of a
// layer are the same columns as its forward blocks, so on a quiet machine each thread keeps updating (and
// reading in the next forward) the same part of the weights, in its own core's cache.
struct WeightGradStep {
    const d4j::GemmKernels* k;
    d4j_net* net;
    const float* x0;     // the gathered input batch (layer 0's input)
    int rows;
    bool update;
    d4j::OptStep opt;
    int n_layers;
    const int* first;    // first chunk of each layer, n_layers + 1 entries
    const d4j::SliceBands* bands;
    const GatherRows* gather;  // the next step's rows (chunks after the layers'), or nullptr
    const NextRows* next;      // the same rows to prefetch during the first layer's update (one thread), or nullptr
    bool reverse;              // the first layer's update pieces in reverse order (one thread, every other step)
    int gather_chunks;
    int gather_mid;            // 0: the gather's pieces are whole rows; else the column of its second slice
    const int* id;             // position in the region -> chunk
    static void run(void* p, int pos) {
        const WeightGradStep& j = *static_cast<const WeightGradStep*>(p);
        run_id(j, j.id[pos]);
    }
    static void run_id(const WeightGradStep& j, int i) {
        if (i >= j.first[j.n_layers]) {
            j.gather->run_part(i - j.first[j.n_layers], j.gather_chunks, j.gather_mid);
            return;
        }
        int l = 0;
        while (i >= j.first[l + 1]) l++;
        d4j_net* net = j.net;
        const Layer& L = net->layers[l];
        const d4j::Block blk = j.bands[l].block(i - j.first[l]);
        const float* a = l == 0 ? j.x0 : net->layers[l - 1].input(true);
        const int64_t nw = (int64_t)L.in * L.out;
        float* dw = net->grads + L.off;
        float* db = dw + nw;
        const int skipped = d4j::weight_grad_block(*j.k, a, L.dz, dw, db, j.rows, L.in, L.out, blk,
                                                   l == 0 && net->sx_dense_run == 0 ? net->sx_max_density : 0.0f);
        if (skipped) __atomic_fetch_add(&net->sx_blocks, skipped, __ATOMIC_RELAXED);
        if (!j.update) return;
        const int64_t N = net->opt_stride;
        const int cols = blk.c1 - blk.c0;
        for (int part = 0; part < 2; part++) {  // the block of W, then (first row block only) its part of b
            if (part == 1 && blk.r0 != 0) break;
            const int64_t off = part == 0 ? L.off + (int64_t)blk.r0 * L.out + blk.c0 : L.off + nw + blk.c0;
            const int64_t nrows = part == 0 ? blk.r1 - blk.r0 : 1;
            float* g = net->grads + off;
            if (net->clip_value > 0.0f)
                for (int64_t r = 0; r < nrows; r++) d4j::clip_values(g + r * L.out, cols, net->clip_value);
            float* s = net->opt_state;
            // One thread: the first layer's update (a stream of its weights, gradient and moments through the L2,
            // larger than the L2) in pieces of rows, in reverse order every other step, so that it starts with the
            // rows it updated last in the step before (the most likely still in L2); and the next step's rows
            // prefetched during the last pieces: they arrive while it computes and are still in cache for the
            // gather right after (see the step: prefetched at the step's start, they were gone by then)
            const bool whole = part == 0 && l == 0 && j.bands[0].count() == 1;
            const int pieces = whole ? UPDATE_PIECES : 1;
            for (int q = 0; q < pieces; q++) {
                if (whole && j.next && q >= UPDATE_PIECES - PREFETCH_PIECES)
                    j.next->prefetch_near(q - (UPDATE_PIECES - PREFETCH_PIECES), PREFETCH_PIECES);
                const int at = j.reverse ? pieces - 1 - q : q;
                const int64_t r0 = nrows * at / pieces, r1 = nrows * (at + 1) / pieces, o = off + r0 * L.out;
                j.opt.fn(j.opt, net->params + o, g + r0 * L.out, s + o, s + N + o, s + 2 * N + o, r1 - r0, cols, L.out);
            }
        }
    }
};

// The weight-gradient region of a step: every layer's bands (net->bands, net->chunk_first), the next step's gather
// pieces after them, and the order in which the threads start on them (net->chunk_id, chunk_cost, split). Made
// again only when the step's rows, the team or the next step's rows change (within an epoch: never), so that the
// caller does not rewrite, every step, the lines the other threads read it from (each rewrite, even with the same
// values, sends those lines across the cores again).
static const WeightGradPlan& plan_weight_grads(d4j_net* net, const d4j::GemmKernels& kern, int rows, int team,
                                               const GatherRows* next, bool per_layer) {
    WeightGradPlan& plan = net->plan;
    const int next_rows = next ? next->rows() : 0;
    if (plan.rows == rows && plan.team == team && plan.next_rows == next_rows) return plan;
    plan.rows = rows;
    plan.team = team;
    plan.next_rows = next_rows;
    const int L_count = net->n_layers;
    const bool slices = team > 1;  // split-K layers' bands by slice (d4j::SliceBands)
    int chunks = 0;
    for (int l = 0; l < L_count; l++) {
        const Layer& L = net->layers[l];
        d4j::SliceBands& wb = net->bands[l];
        wb = d4j::weight_grad_bands(kern, rows, L.in, L.out, slices && L.split_k ? split_k_row(L, rows) : 0, team);
        net->chunk_first[l] = chunks;
        chunks += wb.count();
    }
    net->chunk_first[L_count] = chunks;
    // the next step's rows, gathered alongside (they go into the other buffer): random rows of x are usually not
    // in cache, and a thread waiting on memory here overlaps another's arithmetic; in two column slices, one per
    // half of the team, when the first layer's bands are cut by slice
    const int gather_mid = next && net->bands[0].mid ? gather_split_col(net->layers[0], rows) : 0;
    const int gather_chunks = gather_mid ? 2 * std::max(1, next->chunks() / 2) : next && team > 1 ? next->chunks()
                              : next ? 1 : 0;
    plan.gather_mid = gather_mid;
    plan.gather_chunks = gather_chunks;
    chunks += gather_chunks;
    plan.chunks = chunks;
    plan.fits = chunks <= net->max_chunks;
    if (!plan.fits) return plan;
    // Positions grouped by thread: thread t starts with the t-th share of each layer's row bands (the same rows
    // every step, so the part of dW and of the optimizer state it updates stays in its core's cache; a split-K
    // layer's slices to the halves of the team that computed them), then the layers cut in one band to the
    // caller's thread (which ran their forward, loss and input gradient, so their weights, activations and
    // gradients are in its cache), and the gather pieces each to the thread with least work so far (of the half of
    // the team that computed its column slice, when cut by slice). Imbalance that this leaves is evened out by
    // the pool, which moves unstarted chunks to idle threads.
    const int T = std::min({team, chunks, net->max_team});
    plan.threads = T;
    const int gfirst = net->chunk_first[L_count];
    auto layer_of = [&](int id) {
        int l = 0;
        while (id >= net->chunk_first[l + 1]) l++;
        return l;
    };
    auto cost_of = [&](int id) -> float {
        if (id >= gfirst) return (float)next->cost(id - gfirst, gather_chunks, gather_mid);
        const int l = layer_of(id);
        const d4j::Block b = net->bands[l].block(id - net->chunk_first[l]);
        return (float)((2.0 * rows + (per_layer ? 12.0 : 0.0)) * (b.r1 - b.r0) * (b.c1 - b.c0));
    };
    // each chunk's thread (net->chunk_owner), then the chunks grouped by thread (a counting sort)
    int* owner = net->chunk_owner;
    float* load = net->thread_cost;
    for (int t = 0; t < T; t++) load[t] = 0;
    for (int l = 0; l < L_count; l++)
        for (int c = 0, n = net->bands[l].count(); n > 1 && c < n; c++) {
            const int id = net->chunk_first[l] + c;
            owner[id] = net->bands[l].home(c, T);
            load[owner[id]] += cost_of(id);
        }
    for (int id = 0; id < gfirst; id++)
        if (net->bands[layer_of(id)].count() == 1) {
            owner[id] = 0;
            load[0] += cost_of(id);
        }
    for (int id = gfirst; id < chunks; id++) {
        int lo = 0, hi = T;  // the threads it may go to
        if (gather_mid) (id - gfirst < gather_chunks / 2 ? hi : lo) = T / 2;
        int best = lo;
        for (int t = lo + 1; t < hi; t++) if (load[t] < load[best]) best = t;
        owner[id] = best;
        load[best] += cost_of(id);
    }
    for (int t = 0; t <= T; t++) net->split[t] = 0;
    for (int id = 0; id < chunks; id++) net->split[owner[id] + 1]++;
    for (int t = 0; t < T; t++) net->split[t + 1] += net->split[t];
    int* pos = net->thread_next;
    for (int t = 0; t < T; t++) pos[t] = net->split[t];
    plan.work = 0;
    for (int id = 0; id < chunks; id++) {
        const int p = pos[owner[id]]++;
        net->chunk_id[p] = id;
        net->chunk_cost[p] = cost_of(id);
        plan.work += net->chunk_cost[p];
    }
    return plan;
}

// Seconds per phase of the training step, accumulated in the network (d4j_net_phase_seconds): a handful of
// clock reads per step (~0.2 us), so it is always on and the benchmarks read the share of each phase of the
// real step at any thread count.
enum { PHASE_GATHER, PHASE_FORWARD, PHASE_LOSS, PHASE_INPUT_GRAD, PHASE_WEIGHT_GRAD, PHASE_CLIP_UPDATE, PHASE_STEP };
struct PhaseClock {
    double* acc;
    std::chrono::steady_clock::time_point step0, last;
    explicit PhaseClock(double* a) : acc(a) {}
    void start() { step0 = last = std::chrono::steady_clock::now(); }
    void lap(int phase) {
        const auto now = std::chrono::steady_clock::now();
        acc[phase] += std::chrono::duration<double>(now - last).count();
        last = now;
    }
    void step_done() { acc[PHASE_STEP] += std::chrono::duration<double>(last - step0).count(); }
};

}  // namespace

// The rows' format: floats as they are, or bytes with their conversion (false: an unknown format or a bad divisor).
static bool data_format(int x_type, float x_divisor, d4j::ByteScale* u8) {
    if (x_type == D4J_DATA_F32) return x_divisor == 1.0f;
    return x_type == D4J_DATA_U8 && d4j::make_byte_scale(x_divisor, u8);
}

extern "C" int d4j_net_train(d4j_net* net, const float* x, const int32_t* labels, const float* targets,
                             const int32_t* order, int64_t n_order, int64_t first, int batch, int n_batches,
                             const float* lrs, int64_t* step, uint64_t seed, double* stats) {
    return d4j_net_train_data(net, x, D4J_DATA_F32, 1.0f, labels, targets, order, n_order, first, batch, n_batches,
                              lrs, step, seed, stats);
}

extern "C" int d4j_net_train_data(d4j_net* net, const void* x, int x_type, float x_divisor, const int32_t* labels,
                                  const float* targets, const int32_t* order, int64_t n_order, int64_t first,
                                  int batch, int n_batches, const float* lrs, int64_t* step, uint64_t seed,
                                  double* stats) {
    if (!net || !net->trainable || !x || !order || !step || *step < 0 || n_batches < 0) return D4J_ERR_ARGUMENT;
    d4j::ByteScale byte_scale;
    if (!data_format(x_type, x_divisor, &byte_scale)) return D4J_ERR_ARGUMENT;
    const bool bytes = x_type == D4J_DATA_U8;
    if (n_batches == 0) return D4J_OK;
    if (!lrs || batch <= 0 || batch > net->max_batch || first < 0 || n_order <= 0) return D4J_ERR_ARGUMENT;
    const bool sparse = net->loss == D4J_LOSS_SPARSE_CCE;
    if (sparse ? !labels : !targets) return D4J_ERR_ARGUMENT;
    // every step >= 1 row: first + (n_batches - 1) * batch < n_order, in a form that cannot overflow (a first near
    // INT64_MAX wrapped the sum negative, and the rows past the end were gathered unchecked)
    if (first >= n_order || (int64_t)(n_batches - 1) > (n_order - 1 - first) / batch) return D4J_ERR_ARGUMENT;
    const int in0 = net->layers[0].in;
    const int k = net->layers[net->n_layers - 1].out;
    // Validate every row this call touches before any update (indices >= 0, labels in range, finite lr).
    const int64_t end = std::min(n_order, first + (int64_t)n_batches * batch);
    for (int64_t i = first; i < end; i++) {
        const int32_t r = order[i];
        if (r < 0 || (sparse && (labels[r] < 0 || labels[r] >= k))) return D4J_ERR_ARGUMENT;
    }
    for (int s = 0; s < n_batches; s++) if (!std::isfinite(lrs[s])) return D4J_ERR_ARGUMENT;

    const d4j::GemmKernels& kern = d4j::gemm_kernels();
    const bool per_layer = !(net->clip_norm > 0.0f);
    const int L_count = net->n_layers;
    FlushDenormals ftz;
    PhaseClock clock(net->phase_seconds);
    GatherRows gather{net, bytes ? nullptr : static_cast<const float*>(x), bytes ? &byte_scale : nullptr,
                      bytes ? static_cast<const uint8_t*>(x) : nullptr, labels, targets, order, n_order, batch, 0, 0};
    const int64_t row_bytes = (int64_t)in0 * (bytes ? 1 : (int64_t)sizeof(float));
    for (int c = 0; c < net->n_copies; c++) net->copies[c].pos[0] = net->copies[c].pos[1] = -1;  // another order
    gather.into(first, 0);  // step 0's rows; every later step's rows are gathered during the step before it
    d4j::parallel(d4j::Region{GatherRows::run, &gather, gather.chunks(), nullptr,
                              GATHER_COST * in0 * gather.rows()});
    // A column-mode network asked for 2+ threads trains this call with the column step, W0 in its panels
    // (column_step.h): loaded from the caller's buffers now (they may have changed since the last call), stored back
    // on every return from here on (a non-finite loss mid-call included: the steps before it count). At one thread
    // it runs the per-op step below on the caller's buffers, with the same arithmetic (column_logits), no copies.
    const bool panels = net->column && net->pan_w &&  // (none when the process had one CPU at creation)
                        std::min(d4j::pool_requested_threads(), d4j::pool_max_team()) > 1;
    struct StorePanels {
        d4j_net* net;
        ~StorePanels() { if (net) d4j::column_store(net); }
    } store_panels{panels ? net : nullptr};
    if (panels) d4j::column_load(net);
    // every step's end, after its weight gradients: the sparse-input bookkeeping, global-norm clipping and the
    // update after it, the step count and the stats
    auto count_step = [&](int64_t t, int rows, double ls, int64_t correct) {
        if (net->sx_blocks) net->sx_steps++;
        net->sx_dense_run = net->sx_blocks ? 0 : (net->sx_dense_run + 1) % 16;
        net->sx_blocks = 0;
        *step = t;
        if (stats) { stats[0] += ls; stats[1] += (double)correct; stats[2] += rows; }
    };
    auto finish_step = [&](int s, int64_t t, int rows, double ls, int64_t correct) {
        if (!per_layer && panels) {  // the norm in the caller's order, the update over W0's panels
            d4j::column_gradient_out(net);
            d4j_clip_gradients(net->grads, net->n_params, net->clip_norm, net->clip_value);
            d4j::column_gradient_in(net);
            d4j::column_update_all(net, d4j::optimizer_prepare(net->optimizer, net->hp, lrs[s], t));
        } else if (!per_layer) {
            d4j_clip_gradients(net->grads, net->n_params, net->clip_norm, net->clip_value);
            d4j::optimizer_update(d4j::optimizer_prepare(net->optimizer, net->hp, lrs[s], t), net->params,
                                  net->grads, net->opt_state, net->n_params, net->opt_stride);
        }
        clock.lap(PHASE_CLIP_UPDATE);
        clock.step_done();
        count_step(t, rows, ls, correct);
    };
    for (int s = 0; s < n_batches; s++) {
        clock.start();
        const int64_t pos = first + (int64_t)s * batch;
        const int rows = (int)std::min<int64_t>(batch, n_order - pos);
        const int64_t t = *step + 1;
        const bool gather_next = s + 1 < n_batches;
        int64_t correct = 0;
        double ls = 0;
        // A column-mode network on 2+ threads: runs of steps in one region each (column_step.h column_run) when
        // the update is per block, else the two-region step; each region cut for the team it gets (one chunk while
        // the pool runs serially)
        if (panels && per_layer) {
            d4j::ColumnRun run{&kern, &gather, static_cast<const char*>(x), row_bytes, order, n_order, batch, pos,
                               std::min(n_batches - s, d4j::RUN_STEPS), false, lrs + s, t, seed, 0, false, {}, {}, {}};
            run.gather_after = s + run.steps < n_batches;
            clock.lap(PHASE_GATHER);
            d4j::column_run(net, run);
            clock.lap(PHASE_WEIGHT_GRAD);  // (the run's phases are not timed apart)
            clock.step_done();
            for (int i = 0; i < run.finished; i++) {
                const int64_t p = pos + (int64_t)i * batch;
                net->sx_blocks = run.skipped[i] ? 1 : 0;
                count_step(t + i, (int)std::min<int64_t>(batch, n_order - p), run.loss[i], run.correct[i]);
            }
            if (run.nonfinite) return D4J_ERR_NONFINITE;
            s += run.steps - 1;
            continue;
        }
        if (panels) {
            const int next_rows = gather_next ? (int)std::min<int64_t>(batch, n_order - pos - batch) : 0;
            const d4j::OptStep opt =
                per_layer ? d4j::optimizer_prepare(net->optimizer, net->hp, lrs[s], t) : d4j::OptStep{};
            d4j::ColumnStepArgs ca{&kern, &gather, static_cast<const char*>(x), row_bytes, order, pos, rows,
                                   gather_next, pos + batch, next_rows, seed, t, per_layer, opt};
            clock.lap(PHASE_GATHER);
            d4j::column_forward(net, ca);
            clock.lap(PHASE_FORWARD);
            if (!d4j::column_backward(net, ca, &ls, &correct)) return D4J_ERR_NONFINITE;
            clock.lap(PHASE_WEIGHT_GRAD);
            finish_step(s, t, rows, ls, correct);
            continue;
        }
        // this step's rows: in buffer s % 2 of copy 0 (step 0's gathered above, every later one by the step before;
        // a call runs either this step throughout or the column step throughout)
        const int cur = s % 2;
        float* xb = net->copies[0].x[cur];
        const int32_t* lb = net->copies[0].labels[cur];
        const float* tb = net->copies[0].targets[cur];
        // Prefetch the next step's rows (random rows of x, usually not in cache), so that the gather at the end of
        // the step copies from cache. On a team, in pieces by the first layer's forward chunks (NextRows: measured
        // at 2 threads, loaded machine, a 2-thread epoch 0.159 -> 0.142 s); on one thread during the last quarter
        // of the first layer's update, just before the gather (WeightGradStep): prefetched here, at the step's
        // start, in one burst, they were out of the cache again by the time of the copy (the update streams ~2 MB
        // through the 1 MB L2), so the step paid the burst's stall and a cold copy (RESULTS.md, "Session 9: weight
        // gradient, Adam and gather": the reference step 1.5-3% shorter with byte rows).
        if (gather_next) gather.into(pos + batch, 1 - cur);
        const bool prefetch_in_forward = gather_next && d4j::team_size() > 1;
        const NextRows next{static_cast<const char*>(x), order + pos + batch, gather_next ? gather.rows() : 0, in0,
                            row_bytes, prefetch_in_forward ? gather_split_col(net->layers[0], rows) : 0};
        // one thread: during the first layer's update (WeightGradStep), which global-norm clipping leaves out of
        // the region: then here, in one burst, as before
        const bool prefetch_in_update = gather_next && !prefetch_in_forward && per_layer;
        if (gather_next && !prefetch_in_forward && !prefetch_in_update) next.prefetch(0, 1);
        clock.lap(PHASE_GATHER);
        // forward + fused loss (gradient straight into the last layer's dz)
        const float* out = forward_rows(net, kern, xb, rows, true, seed, t - 1, nullptr,  // masks: updates before
                                        prefetch_in_forward ? &next : nullptr);
        clock.lap(PHASE_FORWARD);
        Layer& last = net->layers[L_count - 1];
        ls = d4j::loss(net->loss, out, lb, tb, last.dz, nullptr, rows, k, 1.0f, &correct);
        if (!std::isfinite(ls)) return D4J_ERR_NONFINITE;
        if (!net->logits && last.act != D4J_ACT_LINEAR)  // MSE: d/dy -> d/dz
            d4j::activation_backward(last.z, last.y, nullptr, last.dz, last.dz, rows, k, last.act);
        clock.lap(PHASE_LOSS);
        // backward: input gradients, last layer first (each needs the one after it), with the old weights
        for (int l = L_count - 1; l >= 1; l--) {
            const Layer& L = net->layers[l];
            const Layer& P = net->layers[l - 1];
            InputGradLayer j{&kern, &L, &P, net->params + L.off, d4j::Grid{},
                             d4j::input_grad_packs(kern, rows, L.out)};
            j.g = d4j::plan(rows, L.in, 2.0 * rows * L.in * L.out, 16, P.act == D4J_ACT_SOFTMAX, d4j::team_size());
            d4j::parallel(d4j::Region{InputGradLayer::run, &j, j.g.count(), nullptr, 2.0 * rows * L.in * L.out});
        }
        clock.lap(PHASE_INPUT_GRAD);
        // then every weight gradient, with the update when it can be done per block
        WeightGradStep wg;
        wg.k = &kern;
        wg.net = net;
        wg.x0 = xb;
        wg.gather = gather_next ? &gather : nullptr;
        wg.next = prefetch_in_update ? &next : nullptr;
        wg.reverse = (t & 1) != 0;
        wg.rows = rows;
        wg.update = per_layer;
        if (per_layer) wg.opt = d4j::optimizer_prepare(net->optimizer, net->hp, lrs[s], t);
        wg.n_layers = L_count;
        wg.first = net->chunk_first;
        wg.bands = net->bands;
        // Every region is cut for the team it will run with, read just before it: the pool may switch between
        // serial and parallel after any region, and a region cut for one thread but run on two leaves one thread
        // waiting for the other's coarse chunk (which the pool used to take for a descheduled worker).
        const int team = std::min(d4j::team_size(), net->max_team);
        const WeightGradPlan& plan = plan_weight_grads(net, kern, rows, team, gather_next ? &gather : nullptr, per_layer);
        wg.gather_chunks = plan.gather_chunks;
        wg.gather_mid = plan.gather_mid;
        wg.id = net->chunk_id;
        if (plan.fits) {
            d4j::Region region{WeightGradStep::run, &wg, plan.chunks, net->chunk_cost, plan.work};
            region.split = net->split;
            region.split_threads = plan.threads;
            d4j::parallel(region);
        } else {  // (not with plan()'s chunk counts) serially, in order
            for (int c = 0; c < plan.chunks; c++) WeightGradStep::run_id(wg, c);
        }
        clock.lap(PHASE_WEIGHT_GRAD);
        finish_step(s, t, rows, ls, correct);
    }
    return D4J_OK;
}

extern "C" int d4j_net_forward(d4j_net* net, const float* x, int64_t n, float* out,
                               const int32_t* labels, const float* targets, double* stats) {
    return d4j_net_forward_data(net, x, D4J_DATA_F32, 1.0f, n, out, labels, targets, stats);
}

extern "C" int d4j_net_forward_data(d4j_net* net, const void* x, int x_type, float x_divisor, int64_t n, float* out,
                                    const int32_t* labels, const float* targets, double* stats) {
    if (!net || !x || n < 0) return D4J_ERR_ARGUMENT;
    d4j::ByteScale byte_scale;
    if (!data_format(x_type, x_divisor, &byte_scale)) return D4J_ERR_ARGUMENT;
    const bool bytes = x_type == D4J_DATA_U8;
    const int in0 = net->layers[0].in;
    const int k = net->layers[net->n_layers - 1].out;
    const bool sparse = net->loss == D4J_LOSS_SPARSE_CCE;
    const bool want_stats = stats && (sparse ? labels != nullptr : targets != nullptr);
    if (want_stats && sparse)
        for (int64_t i = 0; i < n; i++) if (labels[i] < 0 || labels[i] >= k) return D4J_ERR_ARGUMENT;
    double loss_sum = 0.0, correct_sum = 0.0;
    const d4j::GemmKernels& kern = d4j::gemm_kernels();
    FlushDenormals ftz;
    for (int64_t pos = 0; pos < n; pos += net->max_batch) {
        const int rows = (int)std::min<int64_t>(net->max_batch, n - pos);
        // byte rows: converted a chunk at a time into the first batch buffer (free outside training)
        if (bytes)
            d4j::byte_rows(byte_scale, static_cast<const uint8_t*>(x) + pos * in0, in0, nullptr, rows,
                           net->copies[0].x[0], in0);
        const float* xs = bytes ? net->copies[0].x[0] : static_cast<const float*>(x) + pos * in0;
        const float* o = forward_rows(net, kern, xs, rows, false, 0, 0, out ? out + pos * k : nullptr, nullptr);
        if (want_stats) {
            int64_t correct = 0;
            loss_sum += d4j::loss(net->loss, o, sparse ? labels + pos : nullptr, sparse ? nullptr : targets + pos * k,
                                  nullptr, nullptr, rows, k, 1.0f, &correct);
            correct_sum += (double)correct;
        }
    }
    if (want_stats) { stats[0] += loss_sum; stats[1] += correct_sum; stats[2] += (double)n; }
    return D4J_OK;
}

extern "C" int d4j_net_set_sparse_input(d4j_net* net, float max_density) {
    if (!net || !(max_density >= 0.0f && max_density <= 1.0f)) return D4J_ERR_ARGUMENT;  // also rejects NaN
    net->sx_max_density = max_density;
    return D4J_OK;
}

extern "C" int64_t d4j_opt_state_stride(int64_t n_params) {
    return n_params > 0 && n_params <= INT64_MAX - 15 ? (n_params + 15) / 16 * 16 : -1;
}

extern "C" int d4j_net_set_opt_stride(d4j_net* net, int64_t stride) {
    if (!net || !net->trainable || stride < net->n_params) return D4J_ERR_ARGUMENT;
    net->opt_stride = stride;
    return D4J_OK;
}

extern "C" int64_t d4j_net_sparse_steps(d4j_net* net) { return net ? net->sx_steps : 0; }

extern "C" int64_t d4j_net_column_steps(d4j_net* net) { return net ? net->col_steps : 0; }

extern "C" int d4j_net_phase_seconds(d4j_net* net, double* out, int n) {
    if (!net || !out || n <= 0) return 0;
    const int m = std::min(n, (int)D4J_NET_PHASES);
    std::copy(net->phase_seconds, net->phase_seconds + m, out);
    return m;
}
