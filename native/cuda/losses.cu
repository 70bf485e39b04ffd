// The other losses, each fused with its gradient and correct count, one warp per row of k outputs:
//  - BCE on logits z (sigmoid applied here, stable form): per element max(z,0) - z t + log1p(exp(-|z|)),
//    per-sample loss = mean over k; gradient (sigmoid(z) - t) / k * grad_scale / n; probabilities sigmoid(z);
//    correct = elements with (p >= 0.5) == (t >= 0.5);
//  - MSE on the activated output y: per-sample loss = mean_k (y - t)^2, gradient 2 (y - t) / k * grad_scale / n,
//    then, when act != LINEAR (training network), the output activation's derivative is folded in on the spot
//    (elementwise act'(z, y), or the softmax Jacobian-vector product using a warp-shuffle dot product), so the
//    gradient w.r.t. the pre-activation leaves this kernel ready for the weight-gradient GEMM.
// Totals are reduced deterministically and, in training, the last block does the step bookkeeping
// (reduce.cuh), as in softmax_xent.cu.
#include "reduce.cuh"

namespace d4j {

__global__ void __launch_bounds__(256) bce_mse_kernel(int loss, const float* __restrict__ out,
        const float* __restrict__ zpre, int act, const float* __restrict__ targets, float* grad, float* probs,
        int n, int k, float grad_scale, LossWork w, LossSink sink) {
    const int lane = threadIdx.x % 32;
    const int warps = gridDim.x * (blockDim.x / 32);
    const float gs = grad_scale / (float)n / (float)k;
    double loss_acc = 0.0, correct_acc = 0.0;
    for (int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < n; r += warps) {
        const size_t o = (size_t)r * k;
        float l = 0.f, corr = 0.f, dot = 0.f;
        for (int c = lane; c < k; c += 32) {
            float v = out[o + c], t = targets[o + c];
            if (loss == D4J_CUDA_LOSS_BCE) {
                float p = 1.f / (1.f + expf(-v));
                l += fmaxf(v, 0.f) - v * t + log1pf(expf(-fabsf(v)));
                corr += ((p >= 0.5f) == (t >= 0.5f)) ? 1.f : 0.f;
                if (probs) probs[o + c] = p;
                if (grad) grad[o + c] = (p - t) * gs;
            } else {
                float d = v - t;
                l += d * d;
                float g = 2.f * d * gs;
                if (act == D4J_CUDA_ACT_SOFTMAX) dot += g * v;
                else if (act != D4J_CUDA_ACT_LINEAR) g *= act_grad(act, zpre ? zpre[o + c] : 0.f, v);
                if (grad) grad[o + c] = g;
            }
        }
        if (loss == D4J_CUDA_LOSS_MSE && act == D4J_CUDA_ACT_SOFTMAX && grad) {
            dot = warp_sum(dot);
            for (int c = lane; c < k; c += 32) grad[o + c] = out[o + c] * (grad[o + c] - dot);
        }
        l = warp_sum(l);
        corr = warp_sum(corr);
        if (lane == 0) { loss_acc += (double)(l / (float)k); correct_acc += corr; }
    }
    if (grid_sum2_last(w, loss_acc, correct_acc)) loss_sink(sink, loss_acc, correct_acc, n);
}

cudaError_t loss_bce_mse(int loss, const float* out, const float* z, int act, const float* targets, float* grad,
                         float* probs, int n, int k, float grad_scale, LossWork w, LossSink sink, cudaStream_t s) {
    if (n <= 0 || k <= 0) return cudaErrorInvalidValue;
    D4J_LAUNCH(grid_for(n, 8), 256, 0, s, bce_mse_kernel)(loss, out, z, act, targets, grad, probs, n, k, grad_scale, w,
                                                  sink);
    return cudaGetLastError();
}

}  // namespace d4j
