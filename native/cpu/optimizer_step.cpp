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
// no branches and vectorise 8 wide (sqrt and div included); each element is read and written exactly once.
#include <cmath>
#include <algorithm>
#include <type_traits>
#include "activations.h"
#include "internal.h"

namespace d4j {

// The kernels take the per-step constants from an OptStep prepared once per update (optimizer_prepare) and
// update a rows x n block with row stride ld (a thread's columns of a layer's weights), so that the buffer
// can be updated piecewise, in parallel, with exactly the arithmetic of one pass over it.
template <bool MOM, bool NEST, bool FIRST, bool WD>
static void sgd(const OptStep& o, float* p, const float* g, float* b, float*, float*, int64_t rows, int64_t n,
                int64_t ld) {
    const float lr = o.lr, mu = o.mu, keep = o.keep, wd = o.wd;
    for (int64_t row = 0; row < rows; row++, p += ld, g += ld, b += ld)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        if (WD) gi += wd * p[i];
        if (MOM) {
            const float bi = FIRST ? gi : mu * b[i] + keep * gi;
            b[i] = bi;
            gi = NEST ? gi + mu * bi : bi;
        }
        p[i] -= lr * gi;
    }
}

template <bool DECOUPLED, bool AMS, bool WD>
static void adam(const OptStep& o, float* p, const float* g, float* m, float* v, float* vmax, int64_t rows, int64_t n,
                 int64_t ld) {
    const float b1 = o.b1, b2 = o.b2, c1 = o.c1, c2 = o.c2, eps = o.eps, wd = o.wd;
    const float step_size = o.step_size, inv_bc2_sqrt = o.inv_bc2_sqrt, decay = o.decay;
    for (int64_t row = 0; row < rows; row++, p += ld, g += ld, m += ld, v += ld, vmax += ld)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float pi = p[i];
        if (WD) {
            if (DECOUPLED) pi *= decay;
            else gi += wd * pi;
        }
        const float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        if (AMS) { vi = std::max(vmax[i], vi); vmax[i] = vi; }
        const float denom = std::sqrt(vi) * inv_bc2_sqrt + eps;
        p[i] = pi - step_size * (mi / denom);
    }
}

template <bool CENTERED, bool MOM, bool WD>
static void rmsprop(const OptStep& o, float* p, const float* g, float* v, float* b, float* ga, int64_t rows,
                    int64_t n, int64_t ld) {
    const float lr = o.lr, alpha = o.alpha, c = o.c2, eps = o.eps, wd = o.wd, mu = o.mu;
    for (int64_t row = 0; row < rows; row++, p += ld, g += ld, v += ld, b += ld, ga += ld)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        if (WD) gi += wd * p[i];
        const float vi = alpha * v[i] + c * (gi * gi);
        v[i] = vi;
        float var = vi;
        if (CENTERED) {
            const float gai = alpha * ga[i] + c * gi;
            ga[i] = gai;
            var = std::max(vi - gai * gai, 0.0f);  // >= 0 mathematically; rounding must not give sqrt(<0)
        }
        const float d = std::sqrt(var) + eps;
        if (MOM) {
            const float bi = mu * b[i] + gi / d;
            b[i] = bi;
            p[i] -= lr * bi;
        } else {
            p[i] -= lr * (gi / d);
        }
    }
}

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

// Calls f(std::bool_constant<a>, std::bool_constant<b>, std::bool_constant<c>): runtime flags -> template flags.
template <class F>
static void dispatch3(bool a, bool b, bool c, F&& f) {
    using T = std::true_type;
    using N = std::false_type;
    if (a) {
        if (b) { if (c) f(T{}, T{}, T{}); else f(T{}, T{}, N{}); }
        else { if (c) f(T{}, N{}, T{}); else f(T{}, N{}, N{}); }
    } else {
        if (b) { if (c) f(N{}, T{}, T{}); else f(N{}, T{}, N{}); }
        else { if (c) f(N{}, N{}, T{}); else f(N{}, N{}, N{}); }
    }
}
#define D4J_V(x) decltype(x)::value

OptStep optimizer_prepare(int kind, const float* hp, float lr, int64_t step) {
    OptStep o;
    o.lr = lr;
    switch (kind) {
        case D4J_OPT_SGD: {
            o.mu = hp[0];
            o.keep = 1.0f - hp[1];
            o.wd = hp[2];
            const bool nest = hp[3] != 0.0f, wdb = o.wd != 0.0f;
            if (o.mu == 0.0f) {
                o.fn = wdb ? sgd<false, false, false, true> : sgd<false, false, false, false>;
            } else {
                dispatch3(nest, step <= 1, wdb, [&](auto a, auto b, auto c) {
                    o.fn = sgd<true, D4J_V(a), D4J_V(b), D4J_V(c)>;
                });
            }
            break;
        }
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
            dispatch3(kind == D4J_OPT_ADAMW, hp[4] != 0.0f, hp[3] != 0.0f, [&](auto a, auto b, auto c) {
                o.fn = adam<D4J_V(a), D4J_V(b), D4J_V(c)>;
            });
            break;
        }
        default:  // RMSprop
            o.alpha = hp[0];
            o.c2 = 1.0f - o.alpha;
            o.eps = hp[1];
            o.wd = hp[2];
            o.mu = hp[3];
            dispatch3(hp[4] != 0.0f, hp[3] > 0.0f, hp[2] != 0.0f, [&](auto a, auto b, auto c) {
                o.fn = rmsprop<D4J_V(a), D4J_V(b), D4J_V(c)>;
            });
            break;
    }
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
