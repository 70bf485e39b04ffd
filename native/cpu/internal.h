// Internal entry points of the CPU kernels, without argument checks: the public C functions validate and
// forward here, and the network engine (net.cpp) calls these directly on its preallocated workspace.
#pragma once
#include <cstdint>
#include "gemm_kernels.h"
#include "optimizer.h"
#include "split.h"

#pragma GCC visibility push(hidden)  // internal: not exported from libdense4j_cpu
namespace d4j {

void dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                   int n, int in, int out, int act);
void activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                         int n, int k, int act);
void dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                    int n, int in, int out);
double loss(int kind, const float* out, const int32_t* labels, const float* targets, float* grad,
            float* probs, int n, int k, float grad_scale, int64_t* correct);
void clip_values(float* g, int64_t n, float clip_value);
double sum_squares(const float* g, int64_t n);
void scale(float* g, int64_t n, float s);
// One optimizer update of a whole buffer p[0,n) (state: three slices of n floats, `stride` floats apart), cut into
// pieces across the thread pool: each element is updated by exactly one thread with the same arithmetic, so the result is the same
// bits at any thread count (d4j_optimizer_step, and the network's update after global-norm clipping).
void optimizer_update(const OptStep& o, float* p, const float* g, float* state, int64_t n, int64_t stride);
bool valid_hp(int kind, const float* hp);

// Blocks of the products of a dense layer, for the thread pool (dense_forward.cpp, dense_backward.cpp): each
// computes its block of the output completely, with the same arithmetic whatever the block.
void dense_forward_block(const GemmKernels& k, const float* x, const float* w, const float* b, float* z, float* y,
                         int in, int out, int act, const Block& blk);
// dW rows [r0,r1) x columns [c0,c1); db for those columns when r0 == 0 and db != nullptr. skip_zeros_below > 0
// (and n <= SX_MAX_ROWS): blocks of x with at most that share of non-zeros skip them (k.sx_weight_grad: the same
// bits, except that a zero x times an infinite or NaN dz is left out instead of giving NaN). Returns the blocks
// that did.
int weight_grad_block(const GemmKernels& k, const float* x, const float* dz, float* dw, float* db, int n, int in,
                      int out, const Block& blk, float skip_zeros_below = 0.0f);
// dx batch rows [r0,r1) x input features [c0,c1); packed: the packed kernel form (decided per product by
// input_grad_packs, so that every block of one product is computed the same way)
void input_grad_block(const GemmKernels& k, const float* w, const float* dz, float* dx, int in, int out,
                      const Block& blk, bool packed);
bool input_grad_packs(const GemmKernels& k, int n, int out);
void column_sums(const float* dz, int64_t ld, int rows, int c0, int c1, float* db);
Grid forward_grid(const GemmKernels& k, int n, int in, int out, int act, int team);
Grid weight_grad_grid(const GemmKernels& k, int n, int in, int out, int team);
// the same bands cut at row mid of W (a layer whose training forward runs in two input slices), split.h SliceBands
SliceBands weight_grad_bands(const GemmKernels& k, int n, int in, int out, int mid, int team);
Grid input_grad_grid(int n, int in, int out, int team);

}  // namespace d4j
#pragma GCC visibility pop
