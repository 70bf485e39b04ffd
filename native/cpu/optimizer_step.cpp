// Optimizer updates, formulas as the PyTorch documentation (and implementation) of torch.optim gives them:
//  SGD     hp = {momentum, dampening, weight_decay, nesterov}: g += wd p; b = t==1 ? g : mu b + (1-damp) g;
//          g = nesterov ? g + mu b : b; p -= lr g.                      state: b [0,n)
//  Adam    hp = {b1, b2, eps, wd, amsgrad}: g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//          vmax = max(vmax, v); p -= lr/(1-b1^t) * m / (sqrt(v or vmax)/sqrt(1-b2^t) + eps)
//                                                                        state: m [0,n) v [n,2n) vmax [2n,3n)
//  AdamW   as Adam but decoupled decay, p *= 1 - lr wd first, no L2 term in g.
//  RMSprop hp = {alpha, eps, wd, momentum, centered}: g += wd p; v = a v + (1-a) g^2;
//          c: ga = a ga + (1-a) g, d = sqrt(v - ga^2) + eps else sqrt(v) + eps;
//          mu > 0: b = mu b + g/d, p -= lr b else p -= lr g/d.          state: v [0,n) b [n,2n) ga [2n,3n)
// Fast because every variant is one fused streaming pass over (p, g, state) with the per-step scalars
// (bias corrections, flags) hoisted and the flags turned into template parameters, so the inner loops have
// no branches and vectorise (sqrt and div included; 16 wide on AVX-512, see optimizer_kernels.inc); each
// element is read and written exactly once.
#include <cmath>
#include "activations.h"
#include "internal.h"

namespace d4j {
namespace {
#include "optimizer_kernels.inc"
}  // namespace

OptFn optimizer_kernel_baseline(int kind, unsigned flags) { return opt_pick(kind, flags); }


bool valid_hp(int kind, const float* hp) {
    if (!hp || !valid_opt(kind)) return false;
    for (int i = 0; i < D4J_OPT_HP_COUNT; i++) if (!std::isfinite(hp[i])) return false;
    switch (kind) {
        case D4J_OPT_SGD:  // as torch.optim.SGD: nesterov needs momentum > 0 and zero dampening
            return hp[0] >= 0 && hp[2] >= 0 && (hp[3] == 0 || (hp[0] > 0 && hp[1] == 0));
        case D4J_OPT_ADAM:
        case D4J_OPT_ADAMW:
            return hp[0] >= 0 && hp[0] < 1 && hp[1] >= 0 && hp[1] < 1 && hp[2] >= 0 && hp[3] >= 0;
        default:
            return hp[0] >= 0 && hp[1] >= 0 && hp[2] >= 0 && hp[3] >= 0;
    }
}

OptStep optimizer_prepare(int kind, const float* hp, float lr, int64_t step) {
    OptStep o;
    o.lr = lr;
    unsigned flags = 0;
    switch (kind) {
        case D4J_OPT_SGD:
            o.mu = hp[0];
            o.keep = 1.0f - hp[1];
            o.wd = hp[2];
            flags = o.wd != 0.0f ? 1 : 0;
            if (o.mu != 0.0f) flags |= 8 | (hp[3] != 0.0f ? 4 : 0) | (step <= 1 ? 2 : 0);
            break;
        case D4J_OPT_ADAM:
        case D4J_OPT_ADAMW: {
            o.b1 = hp[0];
            o.b2 = hp[1];
            o.eps = hp[2];
            o.wd = hp[3];
            o.c1 = 1.0f - o.b1;
            o.c2 = 1.0f - o.b2;
            const double bc1 = 1.0 - std::pow((double)o.b1, (double)step);
            const double bc2 = 1.0 - std::pow((double)o.b2, (double)step);
            o.step_size = (float)((double)lr / bc1);
            o.inv_bc2_sqrt = (float)(1.0 / std::sqrt(bc2));
            o.decay = (float)(1.0 - (double)lr * o.wd);
            flags = (kind == D4J_OPT_ADAMW ? 4 : 0) | (hp[4] != 0.0f ? 2 : 0) | (hp[3] != 0.0f ? 1 : 0);
            break;
        }
        default:  // RMSprop
            o.alpha = hp[0];
            o.c2 = 1.0f - o.alpha;
            o.eps = hp[1];
            o.wd = hp[2];
            o.mu = hp[3];
            flags = (hp[4] != 0.0f ? 4 : 0) | (hp[3] > 0.0f ? 2 : 0) | (hp[2] != 0.0f ? 1 : 0);
            break;
    }
    // the optimizer follows the GEMM kernels' variant (forced variants are tested op by op)
    o.fn = gemm_kernels().isa == ISA_AVX512 ? optimizer_kernel_avx512(kind, flags) : optimizer_kernel_baseline(kind, flags);
    return o;
}

void optimizer_segment(int kind, const float* hp, float lr, int64_t step, float* p, const float* g,
                       float* s0, float* s1, float* s2, int64_t n) {
    const OptStep o = optimizer_prepare(kind, hp, lr, step);
    o.fn(o, p, g, s0, s1, s2, 1, n, n);
}

}  // namespace d4j

extern "C" void d4j_optimizer_step(int kind, const float* hp, float lr, int64_t step, float* params,
                                   const float* grads, float* state, int64_t n) {
    if (!d4j::valid_opt(kind) || !hp || !params || !grads || !state || n <= 0 || step < 1) return;
    d4j::optimizer_segment(kind, hp, lr, step, params, grads, state, state + n, state + 2 * n, n);
}
