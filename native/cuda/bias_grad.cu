// Bias gradient: db[c] = sum over rows r of dz[r, c] (dz [n,k] row-major).
// Made fast and deterministic: a block of 32x8 threads owns 32 adjacent columns, so each warp reads one
// coalesced 128-byte segment per row; the 8 row groups accumulate rows ty, ty+8, ... in order, then the 8
// partial sums are added in fixed order through shared memory: no atomics, results repeat bit for bit.
// The training network does not launch it: there the bias gradient is fused into the weight-gradient GEMM as
// an implicit row of ones (gemm_backward_weight.cu); this kernel serves the single-op API and comparisons.
#include "common.cuh"

namespace d4j {

__global__ void bias_grad_kernel(const float* __restrict__ dz, float* __restrict__ db, int n, int k) {
    __shared__ float part[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.f;
    if (c < k)
        for (int r = threadIdx.y; r < n; r += 8) s += dz[(size_t)r * k + c];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < k) {
        float t = 0.f;
#pragma unroll
        for (int i = 0; i < 8; ++i) t += part[i][threadIdx.x];
        db[c] = t;
    }
}

cudaError_t bias_grad(const float* dz, float* db, int n, int k, cudaStream_t s) {
    if (k <= 0) return cudaSuccess;
    D4J_LAUNCH((k + 31) / 32, dim3(32, 8), 0, s, bias_grad_kernel)(dz, db, n, k);
    return cudaGetLastError();
}

}  // namespace d4j
