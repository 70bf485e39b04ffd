// Dropout mask of dense4j_dropout.h (one counter-based hash for the CPU and CUDA engines): the keep/drop decision
// for element e (row * width + col of the batch) of layer `layer` at step `step` is a pure function of
// (seed, step, layer, e), kept elements scaled by 1 / (1 - rate). Being a pure function, the mask is never
// stored: the forward GEMM epilogue applies it to the layer output and the input-gradient GEMM epilogue
// recomputes it for the gradient (gemm_kernels.cuh). This kernel materialises the mask for the single-op API and
// for tests.
#include "reduce.cuh"

namespace d4j {

__global__ void dropout_mask_kernel(float* mask, int64_t total, float rate, uint64_t key) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        mask[i] = rate > 0.f ? dropout_factor(key, (uint64_t)i, rate) : 1.f;
}

cudaError_t dropout_mask(float* mask, int rows, int width, float rate, uint64_t seed, int64_t step, int layer,
                         cudaStream_t s) {
    int64_t total = (int64_t)rows * width;
    if (total <= 0) return cudaSuccess;
    D4J_LAUNCH(grid_for(total, 256 * 4, 4096), 256, 0, s, dropout_mask_kernel)(mask, total, rate,
                                                                        dropout_key(seed, step, layer));
    return cudaGetLastError();
}

}  // namespace d4j
