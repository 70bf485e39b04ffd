// Shared device helpers of the Dense4J CUDA kernels: activation functions and derivatives, the dropout hash,
// the device-side training state, the GEMM epilogue description and the internal launcher declarations.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>
#include <math.h>
#include "dense4j_cuda.h"
#include "dense4j_dropout.h"

namespace d4j {

constexpr int kWarp = 32;

// ---- activations --------------------------------------------------------------------------------------------
__host__ __device__ inline float act_forward(int act, float v) {
    switch (act) {
        case D4J_CUDA_ACT_RELU: return v > 0.f ? v : 0.f;
        case D4J_CUDA_ACT_SIGMOID: return 1.f / (1.f + expf(-v));
        case D4J_CUDA_ACT_TANH: return tanhf(v);
        case D4J_CUDA_ACT_GELU: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
        default: return v;  // linear (softmax is a row operation, handled outside the elementwise paths)
    }
}

// d act / d z given the pre-activation z (only GELU reads it) and the activated output y.
__host__ __device__ inline float act_grad(int act, float z, float y) {
    switch (act) {
        case D4J_CUDA_ACT_RELU: return y > 0.f ? 1.f : 0.f;
        case D4J_CUDA_ACT_SIGMOID: return y * (1.f - y);
        case D4J_CUDA_ACT_TANH: return 1.f - y * y;
        case D4J_CUDA_ACT_GELU: {
            float cdf = 0.5f * (1.f + erff(z * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * z * z);
            return cdf + z * pdf;
        }
        default: return 1.f;
    }
}

// ---- dropout: splitmix64, dropout_key and dropout_factor come from dense4j_dropout.h (one hash for both engines)

// ---- device-side training state of a network ------------------------------------------------------------------
// One struct in device memory. The training step reads it instead of kernel arguments, so that one captured
// CUDA graph replays unchanged step after step (no host synchronisation, no graph update).
struct DevState {
    uint64_t seed;        // dropout seed of this call
    int64_t step;         // optimizer steps done (the "step" of dense4j.h); dropout masks use it
    int64_t t;            // step number of the pending update (step + 1), set by the loss kernel
    int64_t batch_index;  // steps run in this call (selects the rows and the learning rate)
    int64_t first;        // position in order[] of this call's first row
    int32_t nonfinite;    // sticky: a loss was NaN/inf; later updates are skipped
    int32_t pad0;
    uint64_t bad_label;   // 0, or ~position of the first label outside [0, k) (check_labels): no update is applied
    float lr;             // learning rate of the pending update
    float clip_factor;    // global-norm clipping factor of the pending update (1 = none)
    double bc1, bc2;      // Adam bias corrections 1 - beta^t of the pending update
    double loss_sum, correct, rows;  // accumulated over the call (train) or the evaluation (forward)
    double grad_norm;     // last global gradient norm (after value clipping)
};

// What a loss kernel does with its totals after the deterministic reduction.
struct LossSink {
    DevState* st;          // totals are added to st->loss_sum / correct / rows
    const float* lrs;      // when non-NULL: training bookkeeping (check, t = step + 1, lr = lrs[batch_index]...)
    int optimizer;
    float beta1, beta2;
};

// ---- GEMM ------------------------------------------------------------------------------------------------------
enum EpiMode { EPI_STORE = 0, EPI_FORWARD = 1, EPI_BACKWARD = 2 };

// Applied to each output element (r, c) of a GEMM in registers, before the only store to memory.
//  FORWARD:  v += bias[c]; z[r,c] = v (if z); a = act(v); y_keep[r,c] = a (if y_keep); a *= dropout mask; C = a
//  BACKWARD: v *= dropout mask of the previous layer; v *= act'(zin[r,c], y[r,c]); C = v
//  STORE:    C = v
// z, y_keep, y, zin share C's leading dimension. The dropout element index is r * N + c.
struct Epilogue {
    int mode = EPI_STORE;
    int act = D4J_CUDA_ACT_LINEAR;
    const float* bias = nullptr;
    float* z = nullptr;
    float* y_keep = nullptr;
    const float* y = nullptr;
    const float* zin = nullptr;
    float drop = 0.f;
    int layer = 0;
    const DevState* st = nullptr;  // seed and step of the dropout hash (required when drop > 0)
};

struct GemmWorkspace {
    float* ws = nullptr;          // split-K partial products
    size_t ws_floats = 0;
    unsigned* counters = nullptr; // per-tile arrival counters, zero between launches (the last block resets)
    int n_counters = 0;
};

struct GemmCall {
    bool ta = false, tb = false;
    int M = 0, N = 0, K = 0;
    const float* A = nullptr; int lda = 0;
    const float* B = nullptr; int ldb = 0;
    float* C = nullptr; int ldc = 0;
    // op(A) has one extra last row of ones (ta only; A itself stores M-1 rows): with C = [dW; db] this fuses the
    // bias gradient (column sums) into the weight-gradient product.
    bool a_ones_row = false;
    Epilogue ep;
    int precision = D4J_CUDA_PRECISION_FP32;
    int variant = D4J_CUDA_GEMM_AUTO;
};

// Launch plan (tile configuration and split-K) for a call, and the workspace it needs.
// cfg: 0 = 128x128 tiles, 1 = 64x64, 2 = 32x32, 3 = simple, 4 = skinny (gemm_skinny.cu, no split-K)
struct GemmPlan { int cfg; int splits; int k_chunk; int tiles_m, tiles_n; };
GemmPlan gemm_plan(const GemmCall& c, const GemmWorkspace* w);
size_t gemm_workspace_floats(int M, int N, int K);  // upper bound over precisions and variants
constexpr int kGemmCounters = 4096;

cudaError_t gemm(const GemmCall& c, const GemmWorkspace& w, cudaStream_t s);
// Per-layout entry points (gemm_forward.cu: NN, gemm_backward_input.cu: NT, gemm_backward_weight.cu: TN).
cudaError_t gemm_nn(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s);
cudaError_t gemm_nt(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s);
cudaError_t gemm_tn(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s);
int sm_count();
// Skinny GEMM (gemm_skinny.cu): few rows, untransposed A; the planner's choice for AUTO calls that fit.
bool gemm_skinny_fits(const GemmCall& c);
cudaError_t gemm_skinny(const GemmCall& c, cudaStream_t s);

// ---- other launchers ---------------------------------------------------------------------------------------
cudaError_t bias_grad(const float* dz, float* db, int n, int k, cudaStream_t s);
cudaError_t activation_forward_rows(const float* z, float* y, float* yd, int n, int k, int act, float drop,
                                    int layer, const DevState* st, cudaStream_t s);
cudaError_t activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                                int n, int k, int act, cudaStream_t s);
// Partial sums per block for the deterministic loss reductions: kLossBlocksMax doubles x 2 + counter.
constexpr int kLossBlocksMax = 1024;
struct LossWork { double* partial; unsigned* counter; };
// SPARSE_CCE / CCE on logits (softmax applied here), fused with gradient, probabilities, loss and correct count.
cudaError_t softmax_xent(bool sparse, const float* logits, const int32_t* labels, const float* targets,
                         float* grad, float* probs, int n, int k, float grad_scale, LossWork w, LossSink sink,
                         cudaStream_t s);
// BCE on logits, or MSE on the activated output y (with act' folded into grad when act != LINEAR; z for GELU).
cudaError_t loss_bce_mse(int loss, const float* out, const float* z, int act, const float* targets, float* grad,
                         float* probs, int n, int k, float grad_scale, LossWork w, LossSink sink, cudaStream_t s);
// Sparse labels must be class indices in [0, k): records in st->bad_label the first position p of
// [first, first + count) whose label labels[order ? order[p] : p] is not, so that the training step skips every
// update and the host reports a bad argument, as the CPU engine does (never a NaN loss).
cudaError_t check_labels(const int32_t* labels, const int32_t* order, int64_t first, int64_t count, int k,
                         DevState* st, cudaStream_t s);

struct OptHyper {
    int kind;
    float h[5];
    float clip_value;
};
// Global L2 norm of value-clipped gradients -> st->grad_norm and st->clip_factor (when max_norm > 0).
cudaError_t grad_norm(const float* g, int64_t n, float max_norm, float clip_value, LossWork w, DevState* st,
                      cudaStream_t s);
cudaError_t clip_scale(float* g, int64_t n, float clip_value, const DevState* st, cudaStream_t s);
// One update of the whole buffer using st->t, st->lr, st->bc1/bc2, st->clip_factor; skipped if st->nonfinite.
// The last block to finish sets st->step = st->t.
cudaError_t optimizer_update(const OptHyper& hp, float* params, const float* grads, float* state, int64_t n,
                             DevState* st, unsigned* counter, cudaStream_t s);

cudaError_t gather(const void* data, int u8, float scale, int width, const int32_t* order, int64_t first_host,
                   int batch, const DevState* st, int rows, float* out, const int32_t* labels, int32_t* labels_out,
                   const float* targets, int k, float* targets_out, cudaStream_t s);
cudaError_t permutation(int32_t* order, int64_t n, uint64_t seed, cudaStream_t s);
cudaError_t dropout_mask(float* mask, int rows, int width, float rate, uint64_t seed, int64_t step, int layer,
                         cudaStream_t s);

// Error reporting of the C API (api.cu, host_api.cpp).
int set_error(int code, const char* fmt, ...);
int cuda_fail(cudaError_t e, const char* what);
// D4J_CUDA_ERR_ARGUMENT naming the label that check_labels found (key = DevState::bad_label, nonzero), its row
// and position; reads the label back from the device (the stream that ran check_labels must be idle).
int bad_label_error(uint64_t key, const int32_t* labels, const int32_t* order, int k);

}  // namespace d4j

// Every kernel launch is written D4J_LAUNCH(grid, block, shared_bytes, stream, kernel)(arguments...): with nvcc it
// is kernel<<<grid, block, shared_bytes, stream>>>(arguments...); in the CPU execution harness (emu/, built with
// D4J_CUDA_EMULATION) the same sources compile as C++ and the launch runs the kernel on host threads.
#ifdef D4J_CUDA_EMULATION
#define D4J_LAUNCH(grid, block, smem, stream, ...) ::d4j_emu::launch(grid, block, smem, stream, __VA_ARGS__)
#else
#define D4J_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#endif
