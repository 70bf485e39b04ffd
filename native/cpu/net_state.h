// The training network's state, shared by the engine (net.cpp) and the column-parallel step (column_step.cpp):
// its layers, its workspace and the pieces of a step that both run (the batch gather, the next rows' prefetch,
// the dropout mask). Internal: the C API (dense4j.h) sees d4j_net as an opaque pointer.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include "column_step.h"
#include "dense4j.h"
#include "gather_u8.h"
#include "internal.h"

// (types: default visibility like the struct that holds them; the functions below are hidden)
namespace d4j {

struct Layer {
    int in = 0, out = 0, act = 0;
    float rate = 0.0f;              // dropout on this layer's output (training only)
    int64_t off = 0;                // offset of W in the parameter buffer; b follows at off + in*out
    float* z = nullptr;             // pre-activation: GELU's backward, and the logits of the last layer
    float* y = nullptr;             // activated output
    float* yd = nullptr;            // dropped-out output (the next layer's input) when rate > 0
    float* mask = nullptr;          // 0 or 1/(1-rate) when rate > 0
    float* dz = nullptr;            // gradient w.r.t. this layer's output, then (in place) its pre-activation
    bool split_k = false;           // training forward in two slices of the inputs (see ForwardSplitK)
    float* part = nullptr;          // their partial products, two [max_batch, out] blocks
    const float* input(bool train) const { return train && rate > 0.0f ? yd : y; }
};

constexpr size_t ALIGN_FLOATS = 16;  // 64 bytes
constexpr int SPLIT_K_MIN_IN = 256;  // split-K forward (ForwardSplitK) only for layers this tall and 4x their width

inline size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }
// Floats left unused after each piece of a column network's workspace that one core writes while another core
// writes the next (each block's panel and activations, the blocks' partial products, each chunk's batch copy and
// logits). Why: two cores writing neighbouring ranges take each other's lines near the boundary, apparently through
// the hardware prefetchers, which run on past the end of a range. Measured on the 2-vCPU VM (RESULTS.md, "Session
// 12", native/tests/bench_neighbours.cpp): two threads streaming over 256 KB each, the second range right after the
// first, when the host placed the two vCPUs far apart (a ~400 ns round trip): the thread on the second range ran
// 5-15% slower, and not with 2 KB between the ranges; the column step ran ~10% faster far with these guards.
constexpr size_t GUARD_FLOATS = 1024;

// The weight-gradient region as last cut (plan_weight_grads), and what it was cut for.
struct WeightGradPlan {
    int rows = -1, team = 0, next_rows = -1;  // the key
    int chunks = 0, threads = 1, gather_chunks = 0, gather_mid = 0;
    bool fits = false;
    double work = 0;
};

// One copy of a step's gathered batch rows, twice: the per-op step computes on one while the next step's rows are
// gathered into the other (a column step's chunk, whose copy nobody else reads, gathers the next rows into the one it
// has just finished with: a smaller working set per core). pos: the order position of the rows each holds, within
// the current d4j_net_train call (-1: none).
struct alignas(128) BatchCopy {  // (a pair of lines each: chunk c rewrites its pos every step)
    float* x[2] = {};            // input rows [max_batch, in0]
    int32_t* labels[2] = {};     // labels [max_batch] (sparse CE)
    float* targets[2] = {};      // targets [max_batch, out_last] (the other losses)
    int64_t pos[2] = {-1, -1};
};

// What one chunk of a column step keeps to itself (column_step.cpp): its own logits and their gradient (every
// chunk computes both, so that nothing but the partial products crosses), and its loss. During a run
// (column_run) its phases are claimed and reported on lines of their own: `done` is what the other chunks wait
// on, so nothing else the chunk writes while they wait may share its line.
struct alignas(128) ColumnChunk {
    float* logits = nullptr;   // [max_batch, out1]
    float* dlogits = nullptr;  // [max_batch, out1]
    double loss = 0;
    int64_t correct = 0;
    int buf = 0;               // the buffer of its copy that holds the step's rows
    int skipped = 0;           // blocks of the first layer's weight gradient that skipped zeros, its last step
    int dense_run = 0;         // during a run: the sparse-input look's count (d4j_net sx_dense_run), its own
    uint8_t skip_steps[RUN_STEPS] = {};  // during a run: whether step i skipped any block
    alignas(128) std::atomic<int> claimed{0};  // during a run: its next phase to run (2i: step i's forward, 2i+1: backward)
    alignas(128) std::atomic<int> done{0};     // its phases finished
};

}  // namespace d4j

struct d4j_net {
    int n_layers = 0, loss = 0, max_batch = 0;
    bool logits = false;   // the loss takes the last layer's pre-activation (CE / BCE)
    bool trainable = false;
    d4j::Layer* layers = nullptr;
    float* params = nullptr;
    float* grads = nullptr;
    float* opt_state = nullptr;
    int64_t opt_stride = 0;       // floats from one optimizer state slot to the next (d4j_net_set_opt_stride)
    int optimizer = 0;
    float hp[D4J_OPT_HP_COUNT] = {};
    float clip_norm = 0.0f, clip_value = 0.0f;
    int64_t n_params = 0;
    // weight-gradient region of a step: each layer's block grid, its first chunk, and every chunk's cost
    d4j::WeightGradPlan plan;          // what the arrays below hold now
    d4j::SliceBands* bands = nullptr;
    int* chunk_first = nullptr;
    float* chunk_cost = nullptr;  // by position in the region
    int* chunk_id = nullptr;      // position in the region -> chunk (layers' blocks, then gather pieces)
    int* split = nullptr;         // first position of each thread, max_team + 1 entries
    float* thread_cost = nullptr; // scratch, max_team entries
    int* thread_next = nullptr;   // scratch, max_team entries
    int* chunk_owner = nullptr;   // scratch: each chunk's first thread
    int max_team = 1;             // pool_max_team() when created (the CPUs this process may use can change)
    int max_chunks = 0;
    // gathered batch rows: copy 0 for every step; a column step's chunk c >= 1 gathers into copy c (column_step.h)
    d4j::BatchCopy* copies = nullptr;
    int n_copies = 0;
    // column mode (column_step.h): a two-layer network whose shape lets a step split layer 0's output columns
    bool column = false;
    int col_blocks = 0;              // layer 0's output in blocks of COLUMN_BLOCK columns
    // layer 1's partial products, one [max_batch, out1] per block, and its bias as the step's forward read it (chunk 0
    // updates it in the backward while others may still read it), each twice: step t uses set t % 2, so that a chunk
    // already at step t + 1 of a run (column_run) never writes what a slower chunk still reads for step t
    float* col_part = nullptr;       // set p at col_part + p * col_blocks * column_part_stride, block j at + j * it
    float* col_bias = nullptr;       // set p at col_bias + p * round_up(out1)
    d4j::ColumnChunk* col = nullptr; // per chunk of a column step (at most n_copies)
    // layer 0's weights in panels (column_step.h): block j = W0[:, 64j : 64j + w_j] as a dense [in0][w_j] array at
    // pan_block * j, then its columns of b0 (at + pan_b0) and its rows of W1 (at + pan_w1), then a guard; the same
    // layout of the gradient and of each optimizer state slot (pan_state: slot s at pan_state + s * pan_stride).
    // The engine's own copies, loaded from the caller's buffers at the start of every d4j_net_train_data call made
    // at 2+ threads and stored back at its end; during such a call layer 0's activations are block-major alike
    // (block j at act_block * j).
    float* pan_w = nullptr;
    float* pan_g = nullptr;
    float* pan_state = nullptr;
    int64_t pan_stride = 0;
    int64_t pan_block = 0;   // floats from one block's panel to the next
    int64_t pan_b0 = 0, pan_w1 = 0;  // where in a block's panel its columns of b0 and its rows of W1 start
    int64_t act_block = 0;   // floats from one block's activations to the next (layer 0, block-major)
    bool col_forced = false;         // n_copies chunks on any team (D4J_COLUMN_CHUNKS, tests)
    // the first layer's weight gradient skips its input's exact zeros in blocks with at most this share of non-zeros
    // (d4j_net_set_sparse_input); the steps that did, the blocks of the step running now, and the steps since the
    // last one that found no block sparse enough, modulo 16: on dense data only every 16th step looks (the look,
    // a compare per input, costs ~4% of the dense kernel), and the results are the same bits either way
    float sx_max_density = D4J_SPARSE_INPUT_DENSITY;
    void* mem = nullptr;
    // Written every step (by the caller; sx_blocks also by the workers), so on lines of their own, after every field
    // the workers read: sharing a line with those, each write made the other core's next read of them miss, a
    // cross-core round trip each (~400 ns when the host places the two vCPUs far apart).
    alignas(64) double phase_seconds[D4J_NET_PHASES] = {};  // d4j_net_phase_seconds
    int64_t col_steps = 0;           // steps run by the column step (d4j_net_column_steps)
    int64_t sx_steps = 0;
    int sx_blocks = 0;
    int sx_dense_run = 0;
};

#pragma GCC visibility push(hidden)
namespace d4j {

// Floats from one block's partial product of layer 1 to the next (d4j_net col_part): each is written by the chunk
// that owns the block, so a guard lies between them (GUARD_FLOATS)
inline int64_t column_part_stride(const d4j_net* net) {
    return (int64_t)(round_up((size_t)net->max_batch * net->layers[1].out) + GUARD_FLOATS);
}

// The next step's batch rows (random rows of the training set, usually not in cache), prefetched in pieces by the
// chunks of the first layer's training forward: at 2+ threads each core issues its share of the misses while it
// computes (one core alone stalls on its miss buffers: the burst took ~5 us of a ~55 us 2-thread step while the
// other thread waited), and the gather later in the step copies from cache. No effect on any result.
// When the first layer's forward runs in two input slices, each slice's chunks prefetch the columns of every row
// that the same threads gather (GatherRows, column slices at `mid`), so that the rows land in the cache of the
// core that copies them.
struct NextRows {
    const char* x;         // the training rows (floats or bytes), row_bytes each
    const int32_t* order;  // the next step's row indices, rows of them
    int rows, in;
    int64_t row_bytes;
    int mid;               // 0, or the column where the gather's second slice starts
    void prefetch(int part, int parts, int c0, int c1) const {  // the columns [c0, c1) of each row
        const int64_t b0 = row_bytes * c0 / in, b1 = row_bytes * c1 / in;
        for (int r = rows * part / parts, e = rows * (part + 1) / parts; r < e; r++) {
            const char* row = x + (int64_t)order[r] * row_bytes;
            // (an asm statement: GCC 12 -O3 deleted this loop of _mm_prefetch, which has no visible effect)
            for (int64_t b = b0; b < b1; b += 64) asm volatile("prefetcht2 %0" : : "m"(row[b]));
        }
    }
    void prefetch(int part, int parts) const { prefetch(part, parts, 0, in); }
    // whole rows, into L1 (prefetcht0): for a copy that follows within microseconds (WeightGradStep, one thread)
    void prefetch_near(int part, int parts) const {
        for (int r = rows * part / parts, e = rows * (part + 1) / parts; r < e; r++) {
            const char* row = x + (int64_t)order[r] * row_bytes;
            for (int64_t b = 0; b < row_bytes; b += 64) asm volatile("prefetcht0 %0" : : "m"(row[b]));
        }
    }
};

// Inverted dropout fused with mask generation over a block of the layer's output: yd = y * mask, the mask of
// dense4j_dropout.h (the CUDA engine's too). It is a function of the element's flat index, so any block split
// gives the same.
// (net.cpp) InputGradLayer's epilogue, also a column step's: P's activation derivative and dropout mask on a block
// of P.dz, in place
void activation_backward_block(const Layer& P, const Block& blk);

// The first layer's update on one thread (a stream of its weights, gradient and moments larger than the L2) runs in
// this many pieces of rows, and the next step's rows are prefetched during the last PREFETCH_PIECES of them
constexpr int UPDATE_PIECES = 8, PREFETCH_PIECES = 2;

void dropout_block(const Layer& L, uint64_t seed, int64_t step, int layer, const d4j::Block& blk);

// Gathers one step's rows (by shuffled index) into one of the two batch buffers, in row pieces. A float copied
// from a random row in memory costs about the time of 50 GEMM FLOPs (the unit chunk costs are weighed in).
constexpr double GATHER_COST = 50.0;
struct GatherRows {
    d4j_net* net;
    const float* x;            // float rows, or nullptr when
    const d4j::ByteScale* u8;  // the rows are bytes (x_u8), converted while copied (gather_u8.cpp)
    const uint8_t* x_u8;
    const int32_t* labels;
    const float* targets;
    const int32_t* order;
    int64_t n_order;
    int batch;
    int64_t pos;  // first index into order
    int buf;
    int copy = 0;  // into net->copies[copy]
    // the rows at order position p into buffer b (the copy records it: a column step's chunk then knows it has them)
    void into(int64_t p, int b) {
        pos = p;
        buf = b;
        net->copies[copy].pos[b] = p;
    }
    int rows() const { return (int)std::min<int64_t>(batch, n_order - pos); }
    int chunks() const { return std::max(1, std::min(4, rows() / 8)); }  // at least 8 rows a piece
    // Piece c of `parts` (split.h gather_piece): whole rows, or, with mid > 0, in two column slices (each thread of
    // a 2+ thread step then gathers the columns its own slice of the first layer's split-K forward reads: gathered
    // whole by either thread, half of the batch, ~50 KB a step, crossed between the cores)
    d4j::GatherPiece piece(int c, int parts, int mid) const {
        return d4j::gather_piece(rows(), net->layers[0].in, c, parts, mid);
    }
    double cost(int c, int parts, int mid) const {
        const d4j::GatherPiece p = piece(c, parts, mid);
        return GATHER_COST * (p.r1 - p.r0) * (p.c1 - p.c0);
    }
    void run_part(int c, int parts, int mid = 0) const {
        const d4j::GatherPiece p = piece(c, parts, mid);
        const int in0 = net->layers[0].in, k = net->layers[net->n_layers - 1].out;
        const BatchCopy& to = net->copies[copy];
        float* xb = to.x[buf];
        const bool whole = p.c0 == 0 && p.c1 == in0;  // byte rows: whole ones in one call, a column slice row by row
        if (u8 && whole) d4j::byte_rows(*u8, x_u8, in0, order + pos + p.r0, p.r1 - p.r0, xb + (int64_t)p.r0 * in0, in0);
        for (int r = p.r0; r < p.r1; r++) {
            const int64_t src = order[pos + r];
            float* dst = xb + (int64_t)r * in0 + p.c0;
            if (!u8) std::memcpy(dst, x + src * in0 + p.c0, sizeof(float) * (p.c1 - p.c0));
            else if (!whole) d4j::byte_rows(*u8, x_u8 + src * in0 + p.c0, p.c1 - p.c0, nullptr, 1, dst, in0);
            if (!p.labels) continue;
            if (to.labels[buf]) to.labels[buf][r] = labels[src];
            else std::memcpy(to.targets[buf] + (int64_t)r * k, targets + src * k, sizeof(float) * k);
        }
    }
    static void run(void* p, int c) {
        const GatherRows& g = *static_cast<const GatherRows*>(p);
        g.run_part(c, g.chunks());
    }
};

}  // namespace d4j
#pragma GCC visibility pop
