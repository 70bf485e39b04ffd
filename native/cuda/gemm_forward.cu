// Forward product of a Dense layer with fused epilogue: y = act(x.W + b) (then dropout), x [n,in] row-major,
// W [in,out] row-major (the Keras layout), so C[n,out] = A[n,in] . B[in,out] with both operands untransposed.
// Fast because (see gemm_kernels.cuh): shared-memory tiles with double buffering, float4 loads along K of x
// and along N of W, 8x8 / 4x4 register blocks (or TF32 mma.sync), tiles of 128/64/32 picked by size, split-K
// for 32-row batches (32x784x128 runs as 40 blocks), and bias + activation + dropout applied in registers so
// the pre-activation is never written unless asked for (GELU's backward pass needs it).
#include "gemm_kernels.cuh"

namespace d4j {
cudaError_t gemm_nn(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s) {
    return gk::launch<false, false>(c, p, w, s);
}
}  // namespace d4j
