// Gradient clipping as PyTorch's clip_grad_value_ then clip_grad_norm_: the global L2 norm of the value-clipped
// gradients over the whole contiguous buffer, and the factor min(1, max_norm / (norm + 1e-6)).
// Deterministic: each thread accumulates squares in double over a grid-stride range, warp-shuffle and block
// trees, per-block partials summed in block order by the last block (reduce.cuh). In training only the norm
// kernel runs: the optimizer applies clip value and factor as it reads each gradient (no extra pass).
#include "reduce.cuh"

namespace d4j {

__global__ void __launch_bounds__(256) grad_norm_kernel(const float* __restrict__ g, int64_t n, float max_norm,
                                                        float cv, LossWork w, DevState* st) {
    double s = 0.0, unused = 0.0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = g[i];
        if (cv > 0.f) v = fminf(fmaxf(v, -cv), cv);
        s += (double)v * v;
    }
    if (grid_sum2_last(w, s, unused)) {
        double norm = sqrt(s);
        st->grad_norm = norm;
        float f = 1.f;
        if (max_norm > 0.f) {
            float coef = (float)(max_norm / (norm + 1e-6));
            f = coef < 1.f ? coef : 1.f;
        }
        st->clip_factor = f;
    }
}

__global__ void clip_scale_kernel(float* g, int64_t n, float cv, const DevState* st) {
    const float f = st->clip_factor;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = g[i];
        if (cv > 0.f) v = fminf(fmaxf(v, -cv), cv);
        g[i] = v * f;
    }
}

cudaError_t grad_norm(const float* g, int64_t n, float max_norm, float clip_value, LossWork w, DevState* st,
                      cudaStream_t s) {
    D4J_LAUNCH(grid_for(n, 256 * 8), 256, 0, s, grad_norm_kernel)(g, n, max_norm, clip_value, w, st);
    return cudaGetLastError();
}

cudaError_t clip_scale(float* g, int64_t n, float clip_value, const DevState* st, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    D4J_LAUNCH(grid_for(n, 256 * 4, 4096), 256, 0, s, clip_scale_kernel)(g, n, clip_value, st);
    return cudaGetLastError();
}

}  // namespace d4j
