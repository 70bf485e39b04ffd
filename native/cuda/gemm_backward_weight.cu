// Weight gradient of a Dense layer: dW = x^T . dZ, x [n,in] read transposed (A^T: contiguous along M = in),
// dZ [n,out], result [in,out]; K is the batch. With the net's contiguous [W; b] gradient layout, op(A) gets an
// implicit last row of ones, so the same product also writes db = column sums of dZ into the row after dW
// (one kernel for both). Split-K over the batch when the output tiles alone cannot fill the GPU (large batches
// against small layers), reduced deterministically: partial tiles in a workspace summed in split order by the
// last block to arrive (integer arrival counter, no float atomics), so gradients repeat bit for bit.
#include "gemm_kernels.cuh"

namespace d4j {
cudaError_t gemm_tn(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s) {
    return gk::launch<true, false>(c, p, w, s);
}
}  // namespace d4j
