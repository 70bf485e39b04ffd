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
#include <algorithm>
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

namespace {
// A piece of the buffer for the pool: pieces start at multiples of 16 floats (64 bytes), so that two threads never
// write one cache line and every piece but the last is whole vectors; any cut gives the same bits (see above).
struct UpdatePieces {
    const OptStep* o;
    float *p, *state;
    const float* g;
    int64_t n, stride;
    int pieces;
    static void run(void* ctx, int i) {
        const UpdatePieces& u = *static_cast<const UpdatePieces*>(ctx);
        const int64_t lines = (u.n + 15) / 16;
        const int64_t b = std::min(u.n, lines * i / u.pieces * 16), e = std::min(u.n, lines * (i + 1) / u.pieces * 16);
        if (e > b)
            u.o->fn(*u.o, u.p + b, u.g + b, u.state + b, u.state + u.stride + b, u.state + 2 * u.stride + b, 1, e - b, 0);
    }
};
}  // namespace

void optimizer_update(const OptStep& o, float* p, const float* g, float* state, int64_t n, int64_t stride) {
    // ~12 flop-like operations per element (the pool's yardstick); pieces of at least OPT_PIECE_MIN elements
    // (a couple of microseconds each, against about one of hand-off), up to 4 per thread
    constexpr int64_t OPT_PIECE_MIN = 8192;
    const double work = 12.0 * (double)n;
    const int team = team_size();
    int pieces = 1;
    if (team > 1 && work >= PAR_MIN_FLOPS) pieces = (int)std::max<int64_t>(1, std::min<int64_t>(4 * team, n / OPT_PIECE_MIN));
    UpdatePieces u{&o, p, state, g, n, stride, pieces};
    parallel(Region{UpdatePieces::run, &u, pieces, nullptr, work});
}

}  // namespace d4j

extern "C" void d4j_optimizer_step(int kind, const float* hp, float lr, int64_t step, float* params,
                                   const float* grads, float* state, int64_t n) {
    if (!d4j::valid_opt(kind) || !hp || !params || !grads || !state || n <= 0 || step < 1) return;
    const d4j::OptStep o = d4j::optimizer_prepare(kind, hp, lr, step);
    d4j::optimizer_update(o, params, grads, state, n, n);
}
