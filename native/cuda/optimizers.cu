// Optimizer updates over the ONE contiguous parameter buffer (all layers' W and b), formulas exactly as the
// PyTorch documentation of torch.optim gives them (t = step number, 1 for the first update):
//  SGD:     g += wd p; b = (t == 1 ? g : mu b + (1 - dampening) g); g = nesterov ? g + mu b : b; p -= lr g
//  Adam:    g += wd p; m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; vmax = max(vmax, v) if amsgrad;
//           p -= (lr / (1 - b1^t)) m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)      (eps outside the sqrt)
//  AdamW:   p *= 1 - lr wd (decoupled), then Adam without the L2 term
//  RMSprop: g += wd p; v = alpha v + (1 - alpha) g^2; centered: ga = lerp(ga, g, 1 - alpha), v~ = v - ga^2;
//           d = sqrt(v~) + eps; momentum > 0: buf = mu buf + g / d, p -= lr buf; else p -= lr g / d
// State slots (state[j*n + i]): SGD {buf}, Adam/AdamW {m, v, vmax}, RMSprop {v, buf, ga}.
// Gradients are first clipped to [-clip_value, clip_value] and scaled by the global-norm factor (grad_clip.cu).
// Fast because: one launch for the whole network, one coalesced pass over params/grads/state (memory bound:
// ~20 bytes per parameter for Adam), and every per-step scalar (t, lr, bias corrections, clip factor) is read
// from the device state that the loss kernel prepared, so the captured graph replays without host work.
// The last block to finish advances the device step counter (integer arrival counter, as in split-K).
#include "reduce.cuh"

namespace d4j {

__global__ void __launch_bounds__(256) optimizer_kernel(OptHyper hp, float* __restrict__ params,
        const float* __restrict__ grads, float* __restrict__ state, int64_t n, DevState* st, unsigned* counter) {
    if (st->nonfinite || st->bad_label) return;
    const int64_t t = st->t;
    const float lr = st->lr, cf = st->clip_factor, cv = hp.clip_value;
    float* s0 = state;
    float* s1 = state + n;
    float* s2 = state + 2 * n;
    const float step_size = (float)((double)lr / st->bc1);
    const float bc2_sqrt = (float)sqrt(st->bc2);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float g = grads[i];
        if (cv > 0.f) g = fminf(fmaxf(g, -cv), cv);
        g *= cf;
        float p = params[i];
        switch (hp.kind) {
            case D4J_CUDA_OPT_SGD: {
                const float mu = hp.h[0], damp = hp.h[1], wd = hp.h[2];
                if (wd != 0.f) g = fmaf(wd, p, g);
                if (mu != 0.f) {
                    float b = t == 1 ? g : fmaf(mu, s0[i], (1.f - damp) * g);
                    s0[i] = b;
                    g = hp.h[3] != 0.f ? fmaf(mu, b, g) : b;
                }
                p = fmaf(-lr, g, p);
                break;
            }
            case D4J_CUDA_OPT_ADAM:
            case D4J_CUDA_OPT_ADAMW: {
                const float b1 = hp.h[0], b2 = hp.h[1], eps = hp.h[2], wd = hp.h[3];
                if (hp.kind == D4J_CUDA_OPT_ADAMW) p *= 1.f - lr * wd;
                else if (wd != 0.f) g = fmaf(wd, p, g);
                float m = s0[i];
                m = fmaf(1.f - b1, g - m, m);
                float v = fmaf(1.f - b2, g * g, b2 * s1[i]);
                s0[i] = m;
                s1[i] = v;
                if (hp.h[4] != 0.f) { v = fmaxf(s2[i], v); s2[i] = v; }
                float denom = sqrtf(v) / bc2_sqrt + eps;
                p = p - step_size * (m / denom);
                break;
            }
            default: {  // RMSprop
                const float alpha = hp.h[0], eps = hp.h[1], wd = hp.h[2], mu = hp.h[3];
                if (wd != 0.f) g = fmaf(wd, p, g);
                float v = fmaf(1.f - alpha, g * g, alpha * s0[i]);
                s0[i] = v;
                float avg;
                if (hp.h[4] != 0.f) {
                    float ga = s2[i];
                    ga = fmaf(1.f - alpha, g - ga, ga);
                    s2[i] = ga;
                    avg = sqrtf(fmaf(-ga, ga, v)) + eps;
                } else {
                    avg = sqrtf(v) + eps;
                }
                if (mu > 0.f) {
                    float b = fmaf(mu, s1[i], g / avg);
                    s1[i] = b;
                    p = fmaf(-lr, b, p);
                } else {
                    p = fmaf(-lr, g / avg, p);
                }
                break;
            }
        }
        params[i] = p;
    }
    // Advance the step counter once every block is done reading it.
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned prev = atomicAdd(counter, 1u);
        if (prev == gridDim.x - 1) { st->step = t; *counter = 0; }
    }
}

cudaError_t optimizer_update(const OptHyper& hp, float* params, const float* grads, float* state, int64_t n,
                             DevState* st, unsigned* counter, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    int blocks = grid_for(n, 256 * 2, 2048);
    D4J_LAUNCH(blocks, 256, 0, s, optimizer_kernel)(hp, params, grads, state, n, st, counter);
    return cudaGetLastError();
}

}  // namespace d4j
