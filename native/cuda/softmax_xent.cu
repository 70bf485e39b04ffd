// Fused softmax + cross-entropy over logits z [n,k] (SPARSE_CCE with int32 labels, or CCE with float targets):
// in one pass per row it computes the row max (and argmax), log-sum-exp, the loss (lse - z[label], or
// sum_c t_c (lse - z_c)), the gradient d(mean loss)/dz = (softmax(z) * sum(t) - t) * grad_scale / n written once
// (never the probabilities and then the gradient), optionally the probabilities, and the correct-prediction
// count (argmax z == label, or == argmax t; first maximum wins on ties).
// One warp per row: for k <= 32 (the 10 classes of the reference workload) each lane keeps its logit in a
// register and every reduction is a 5-step warp shuffle; wider rows loop over columns (re-read from L1).
// Totals are reduced deterministically (reduce.cuh) and, in training, the last block does the step's
// bookkeeping on the device (loss check, step counter, learning rate, Adam bias corrections), so no host
// round trip is needed between the forward and the optimizer.
#include "reduce.cuh"

namespace d4j {

__device__ __forceinline__ void argmax_merge(float& v, int& i, float ov, int oi) {
    if (ov > v || (ov == v && oi < i) || (v != v && ov == ov)) { v = ov; i = oi; }
}
__device__ __forceinline__ void warp_argmax(float& v, int& i) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, i, o);
        argmax_merge(v, i, ov, oi);
    }
}

template <bool SMALL>
__global__ void __launch_bounds__(256) softmax_xent_kernel(bool sparse, const float* __restrict__ logits,
        const int32_t* __restrict__ labels, const float* __restrict__ targets, float* __restrict__ grad,
        float* __restrict__ probs, int n, int k, float grad_scale, LossWork w, LossSink sink) {
    const int lane = threadIdx.x % 32;
    const int warps = gridDim.x * (blockDim.x / 32);
    const float gs = grad_scale / (float)n;
    double loss_acc = 0.0, correct_acc = 0.0;
    for (int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; r < n; r += warps) {
        const float* z = logits + (size_t)r * k;
        const float* t = sparse ? nullptr : targets + (size_t)r * k;
        float zr = -INFINITY;
        float mx = -INFINITY; int ai = 0x7fffffff;
        float tmx = -INFINITY; int ti = 0x7fffffff;
        float tsum = 0.f, tz = 0.f;
        if (SMALL) {
            if (lane < k) { zr = z[lane]; mx = zr; ai = lane; }
            if (!sparse && lane < k) { float tv = t[lane]; tmx = tv; ti = lane; tsum = tv; tz = tv * zr; }
        } else {
            for (int c = lane; c < k; c += 32) {
                float v = z[c];
                argmax_merge(mx, ai, v, c);
                if (!sparse) { float tv = t[c]; argmax_merge(tmx, ti, tv, c); tsum += tv; tz += tv * v; }
            }
        }
        warp_argmax(mx, ai);
        float s = 0.f;
        if (SMALL) s = lane < k ? expf(zr - mx) : 0.f;
        else for (int c = lane; c < k; c += 32) s += expf(z[c] - mx);
        s = warp_sum(s);
        const float lse = mx + logf(s), inv = 1.f / s;
        float row_loss;
        int label = -1;
        bool ok;
        if (sparse) {
            label = labels[r];
            bool valid = label >= 0 && label < k;
            float zl = valid ? z[valid ? label : 0] : NAN;
            row_loss = lse - zl;
            ok = valid && ai == label;
        } else {
            warp_argmax(tmx, ti);
            tsum = warp_sum(tsum);
            tz = warp_sum(tz);
            row_loss = lse * tsum - tz;
            ok = ai == ti;
        }
        if (grad || probs) {
            if (SMALL) {
                if (lane < k) {
                    float p = expf(zr - mx) * inv;
                    if (probs) probs[(size_t)r * k + lane] = p;
                    if (grad) {
                        float tv = sparse ? (lane == label ? 1.f : 0.f) : t[lane];
                        float ts = sparse ? 1.f : tsum;
                        grad[(size_t)r * k + lane] = (p * ts - tv) * gs;
                    }
                }
            } else {
                for (int c = lane; c < k; c += 32) {
                    float p = expf(z[c] - mx) * inv;
                    if (probs) probs[(size_t)r * k + c] = p;
                    if (grad) {
                        float tv = sparse ? (c == label ? 1.f : 0.f) : t[c];
                        float ts = sparse ? 1.f : tsum;
                        grad[(size_t)r * k + c] = (p * ts - tv) * gs;
                    }
                }
            }
        }
        if (lane == 0) { loss_acc += (double)row_loss; correct_acc += ok ? 1.0 : 0.0; }
    }
    if (grid_sum2_last(w, loss_acc, correct_acc)) loss_sink(sink, loss_acc, correct_acc, n);
}

__global__ void check_labels_kernel(const int32_t* __restrict__ labels, const int32_t* __restrict__ order,
                                    int64_t first, int64_t count, int k, DevState* st) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t pos = first + i;
        const int32_t label = labels[order ? (int64_t)order[pos] : pos];
        // ~pos: the largest key is the first position, whatever order the threads run in
        if (label < 0 || label >= k) atomicMax((unsigned long long*)&st->bad_label, ~(unsigned long long)pos);
    }
}

cudaError_t check_labels(const int32_t* labels, const int32_t* order, int64_t first, int64_t count, int k,
                         DevState* st, cudaStream_t s) {
    if (count <= 0) return cudaSuccess;
    D4J_LAUNCH(grid_for(count, 256 * 4, 4096), 256, 0, s, check_labels_kernel)(labels, order, first, count, k, st);
    return cudaGetLastError();
}

cudaError_t softmax_xent(bool sparse, const float* logits, const int32_t* labels, const float* targets,
                         float* grad, float* probs, int n, int k, float grad_scale, LossWork w, LossSink sink,
                         cudaStream_t s) {
    if (n <= 0 || k <= 0) return cudaErrorInvalidValue;
    int blocks = grid_for(n, 8);
    if (k <= 32)
        D4J_LAUNCH(blocks, 256, 0, s, softmax_xent_kernel<true>)(sparse, logits, labels, targets, grad, probs, n, k,
                                                         grad_scale, w, sink);
    else
        D4J_LAUNCH(blocks, 256, 0, s, softmax_xent_kernel<false>)(sparse, logits, labels, targets, grad, probs, n, k,
                                                          grad_scale, w, sink);
    return cudaGetLastError();
}

}  // namespace d4j
