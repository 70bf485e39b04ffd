// The column-parallel ("Megatron") training step of a two-layer network (column_step.cpp): each chunk owns a slice
// of the hidden units, layer 0's output columns in blocks of COLUMN_BLOCK, and everything that belongs to them
// (their panels of W0, its gradient and optimizer state, their columns of b0, the rows of W1, their part of every
// activation and gradient, and its own copy of the batch rows), so that only layer 1's partial logits cross between
// the cores. W0 lives in PANELS for the call: block j = W0[:, 64j : 64j + w_j] as a dense [in0][w_j] array, then
// the block's columns of b0 and its rows of W1 ([w_j][out1]), block after block (net_state.h pan_*), and layer 0's
// activations are block-major [nb][rows][w_j], so each chunk's data is one contiguous range and layer 0 is nb narrow
// layers on which every kernel runs unchanged. A guard of GUARD_FLOATS follows every block's panel and activations
// (and every piece of the workspace), so that no chunk writes near what another chunk writes. The caller's buffers
// stay canonical: the panels are the engine's own copies, loaded at the start of each d4j_net_train_data call made
// at 2+ threads and stored back at its end (column_load / column_store). A 1-thread call runs the per-op step on
// the caller's buffers with the same arithmetic (column_logits): no copies, the same bits.
//
// ON BY DEFAULT since session 11 (D4J_COLUMN_STEP=0 when a network is created turns it off): with its steps run
// in runs of RUN_STEPS per pool region (column_run) and layer 0's weight gradient fused with its update, it is at
// least as fast as the per-op step in every case measured on the 2-vCPU VM (RESULTS.md, "Session 11"): byte rows
// ~3% faster when the two vCPUs are near and ~0.78-0.80x per call when far, float rows ~1% faster near, one thread
// ~1.5% faster (column_logits). In session 10, as two regions a step, it only tied near and lost 3-6% with float
// rows. Its first version (column-owned rows of the row-major W0, before panels) was far slower (~70 us): two cores
// updating interleaved 256-byte pieces of every row of W0, dW0, m and v interfered even on separate cache lines.
#pragma once
#include <cstdint>
#include "gemm_kernels.h"
#include "optimizer.h"

struct d4j_net;

#pragma GCC visibility push(hidden)
namespace d4j {

struct GatherRows;

// Layer 0's output is owned in blocks of this many columns: a multiple of the kernels' column blocking, and with
// out0 a multiple of 16 every block starts on a 64-byte line in every row of every row-major buffer.
constexpr int COLUMN_BLOCK = 64;
// Layer 0's weight gradient is formed and applied (with the update) in bands of this many rows of a panel
// (column_step.cpp Step::backward): a multiple of every weight-gradient kernel's rows per tile (4 or 6)
constexpr int GRAD_BAND = 48;

// A run of column steps in one pool region (column_run) has at most this many steps: short enough that the pool
// still times and judges its regions every millisecond or so (thread_pool.cpp), long enough that the region
// hand-off (~0.4 us near, ~1.1 us far) is paid once per many steps.
constexpr int RUN_STEPS = 16;

// Column mode, decided by the network's shape alone (so the arithmetic never depends on the buffers or the
// threads): two layers, layer 0 not softmax (its columns are independent), out0 a multiple of 16 of at least two
// full blocks, layer 0 tall (in0 >= 256 and >= 4 * out0: its weights are what is worth keeping in one core's cache),
// and a narrow last layer (4 * out1 <= out0: its partial logits are what crosses) whose loss takes its
// pre-activation or that is linear. Such a network's training forward is, at EVERY thread count, layer 0 with its
// full reduction and layer 1 as the fixed-order sum of its per-block partial products (column_logits on one
// thread, the column step's in-memory sum on a team): results do not depend on the thread count or the step taken.
bool column_shape(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout, int loss);
// Unless D4J_COLUMN_STEP=0 in the environment, read when a network is created (see above: on by default)
bool column_enabled();

// Layer 1's training output (logits, or y of a linear last layer) on one thread from layer 0's output h in the
// caller's layout (the per-op step of a column network at one thread): the same sum of block partials as the
// column step forms in memory, chained through the kernel's addend epilogue (the same bits).
void column_logits(const GemmKernels& k, d4j_net* net, const float* h, int rows, float* out);

// The optimizer state slots that optimizer `kind` with hyperparameters hp reads and writes (the panels keep only
// those in step with the caller's buffers)
int column_state_slots(int kind, const float* hp);

// The panels (net_state.h pan_*) and the caller's buffers: column_load copies W0 and its used state slots into the
// panels (at the start of every d4j_net_train_data call: the caller may have changed them), column_store copies W0,
// its gradient and its state slots back (at every return after the call's first step), each chunk its own blocks.
void column_load(d4j_net* net);
void column_store(d4j_net* net);
// Global-norm clipping: W0's gradient panels to the caller's layout and back (one thread), so that the norm is
// summed in the caller's order as on every other path, and the update after it (panels for W0, the rest in place)
void column_gradient_out(d4j_net* net);
void column_gradient_in(d4j_net* net);
void column_update_all(d4j_net* net, const OptStep& o);

// One step's rows and settings, as d4j_net_train_data has them.
struct ColumnStepArgs {
    const GemmKernels* k;
    const GatherRows* gather;  // the step's gather (copy 0); a chunk gathers into its own copy with it
    const char* x;           // the training rows, row_bytes each (for the next rows' prefetch)
    int64_t row_bytes;
    const int32_t* order;
    int64_t pos;             // the step's first position in order
    int rows;
    bool gather_next;        // the next step's rows (at next_pos), gathered by every chunk into its own copy
    int64_t next_pos;
    int next_rows;
    uint64_t seed;
    int64_t t;               // the step number (1-based)
    bool update;             // per-block update (no global-norm clipping)
    OptStep opt;
};

// The two regions of a step (the calls with global-norm clipping; the others run column_run), each cut for the
// pool's team as it is when the region starts (one chunk while the pool
// runs serially). Region A: each chunk's
// rows (gathered first if its copy lacks them), layer 0's forward for its columns, layer 1's partial product of each
// of its blocks. Region B: every chunk sums the partials into its own logits and loss gradient, then for its own
// hidden units: layer 1's weight gradient, the gradient into layer 0 (with the old W1), layer 0's weight gradient,
// their update (unless global-norm clipping), and the next step's rows into its own copy. Returns false when the
// loss is not finite (nothing updated); else the step's loss sum and correct count.
void column_forward(d4j_net* net, const ColumnStepArgs& a);
bool column_backward(d4j_net* net, const ColumnStepArgs& a, double* loss, int64_t* correct);

// Up to RUN_STEPS steps of the column step (per-block update: no global-norm clipping) in ONE pool region
// (column_step.cpp "A run of steps"): each chunk runs its own steps' forward and backward on the thread that owns
// it, and waits only where the arithmetic does, for the other chunks' partial products of the same step. Why: the
// two regions a step (column_forward, column_backward) hand off twice a step through the pool, and each time the
// workers re-read what the caller wrote for it; measured when the host places the two vCPUs far apart, a 2-thread
// step lost ~13 us to ~1.3 KB of partial products crossing. The same bits as column_forward + column_backward.
struct alignas(64) ColumnRun {  // (every thread of the run reads the inputs: the results, which chunk 0 writes every
                                // step, on lines of their own)
    const GemmKernels* k;
    const GatherRows* gather;  // the call's gather (copy 0, rows of the run's first step already in one buffer)
    const char* x;             // the training rows, row_bytes each
    int64_t row_bytes;
    const int32_t* order;
    int64_t n_order;
    int batch;
    int64_t pos0;              // the first step's first position in order
    int steps;                 // 1 .. RUN_STEPS
    bool gather_after;         // the last step gathers the rows at pos0 + steps * batch (the call goes on)
    const float* lrs;          // each step's learning rate
    int64_t t0;                // the first step's number (1-based)
    uint64_t seed;
    // results: steps finished (all of them unless a loss was not finite: then the steps before that one), and
    // each finished step's loss sum, correct count and whether it skipped zeros in the first layer's weight gradient
    alignas(64) int finished;
    bool nonfinite;
    double loss[RUN_STEPS];
    int64_t correct[RUN_STEPS];
    bool skipped[RUN_STEPS];
};
void column_run(d4j_net* net, ColumnRun& r);

}  // namespace d4j
#pragma GCC visibility pop
