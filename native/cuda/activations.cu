// Activations outside the GEMM epilogues:
//  - forward over rows: y = act(z) and, with dropout, yd = y * mask (mask from the counter-based hash, element
//    r*k + c); for SOFTMAX (a row operation the elementwise epilogue cannot do) one warp per row: max, sum of
//    exponentials and normalisation with warp shuffles, z read from L1 after the first pass; z may alias y;
//  - backward: dz = (dy (.) mask) (.) act'(z, y), elementwise with a grid-stride loop; for SOFTMAX the
//    Jacobian-vector product dz_i = y_i (g_i - sum_j g_j y_j), g = dy (.) mask, one warp per row. dz may alias dy.
// The training network fuses the elementwise cases into the GEMM epilogues; these kernels serve softmax
// layers and the single-op API.
#include "reduce.cuh"

namespace d4j {

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__global__ void act_forward_elem(const float* z, float* y, float* yd, long long total, int act, float drop,
                                 int layer, const DevState* st) {
    uint64_t key = drop > 0.f ? dropout_key(st->seed, st->step, layer) : 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        float a = act_forward(act, z[i]);
        y[i] = a;
        if (yd) yd[i] = drop > 0.f ? a * dropout_factor(key, (uint64_t)i, drop) : a;
    }
}

__global__ void softmax_rows(const float* z, float* y, float* yd, int n, int k, float drop, int layer,
                             const DevState* st) {
    const int lane = threadIdx.x % 32;
    const int warps = gridDim.x * (blockDim.x / 32);
    uint64_t key = drop > 0.f ? dropout_key(st->seed, st->step, layer) : 0;
    for (int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < n; r += warps) {
        const float* zr = z + (size_t)r * k;
        float m = -INFINITY;
        for (int c = lane; c < k; c += 32) m = fmaxf(m, zr[c]);
        m = warp_max(m);
        float s = 0.f;
        for (int c = lane; c < k; c += 32) s += expf(zr[c] - m);
        s = warp_sum(s);
        float inv = 1.f / s;
        for (int c = lane; c < k; c += 32) {
            float a = expf(zr[c] - m) * inv;
            y[(size_t)r * k + c] = a;
            if (yd) yd[(size_t)r * k + c] = drop > 0.f ? a * dropout_factor(key, (uint64_t)r * k + c, drop) : a;
        }
    }
}

cudaError_t activation_forward_rows(const float* z, float* y, float* yd, int n, int k, int act, float drop,
                                    int layer, const DevState* st, cudaStream_t s) {
    if (n <= 0 || k <= 0) return cudaSuccess;
    if (act == D4J_CUDA_ACT_SOFTMAX)
        D4J_LAUNCH(grid_for(n, 8, 4096), 256, 0, s, softmax_rows)(z, y, yd, n, k, drop, layer, st);
    else {
        long long total = (long long)n * k;
        D4J_LAUNCH(grid_for(total, 256 * 4, 4096), 256, 0, s, act_forward_elem)(z, y, yd, total, act, drop, layer, st);
    }
    return cudaGetLastError();
}

__global__ void act_backward_elem(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                                  long long total, int act) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        float g = dy[i];
        if (mask) g *= mask[i];
        if (act != D4J_CUDA_ACT_LINEAR) g *= act_grad(act, z ? z[i] : 0.f, y[i]);
        dz[i] = g;
    }
}

__global__ void softmax_backward_rows(const float* y, const float* mask, const float* dy, float* dz, int n, int k) {
    const int lane = threadIdx.x % 32;
    const int warps = gridDim.x * (blockDim.x / 32);
    for (int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < n; r += warps) {
        size_t o = (size_t)r * k;
        float dot = 0.f;
        for (int c = lane; c < k; c += 32) dot += (mask ? dy[o + c] * mask[o + c] : dy[o + c]) * y[o + c];
        dot = warp_sum(dot);
        for (int c = lane; c < k; c += 32) {
            float g = mask ? dy[o + c] * mask[o + c] : dy[o + c];
            dz[o + c] = y[o + c] * (g - dot);
        }
    }
}

cudaError_t activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                                int n, int k, int act, cudaStream_t s) {
    if (n <= 0 || k <= 0) return cudaSuccess;
    if (act == D4J_CUDA_ACT_SOFTMAX)
        D4J_LAUNCH(grid_for(n, 8, 4096), 256, 0, s, softmax_backward_rows)(y, mask, dy, dz, n, k);
    else {
        long long total = (long long)n * k;
        D4J_LAUNCH(grid_for(total, 256 * 4, 4096), 256, 0, s, act_backward_elem)(z, y, mask, dy, dz, total, act);
    }
    return cudaGetLastError();
}

}  // namespace d4j
