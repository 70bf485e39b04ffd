// Input gradient of a Dense layer with the previous layer's activation derivative folded in:
//   dZprev = (dZ . W^T) (.) dropout_mask_prev (.) act_prev'(zprev, yprev)
// dZ [n,out], W [in,out] read as W^T (B transposed: contiguous along K = out), result [n,in]. Skipped for the
// first layer, whose input gradient is never needed. Fast for the same reasons as the forward product
// (gemm_kernels.cuh); the activation derivative and the dropout mask (recomputed from the counter-based hash,
// no mask buffer) are applied in registers, so the raw dX is never stored and no elementwise kernel follows.
#include "gemm_kernels.cuh"

namespace d4j {
cudaError_t gemm_nt(const GemmCall& c, const GemmPlan& p, const GemmWorkspace& w, cudaStream_t s) {
    return gk::launch<false, true>(c, p, w, s);
}
}  // namespace d4j
