// d4j_loss for every loss kind against the float64 reference: loss sum, gradient (with grad_scale),
// probabilities and correct count, on awkward sizes; plus numerical stability at extreme logits, rows with
// non-finite logits among finite ones, very wide rows; and the inline exp the categorical losses use against the
// float64 exp.
#include <cstring>
#include <string>
#include "../cpu/exp_nonpositive.h"
#include "reference.h"
#include "test_util.h"

// exp_nonpositive over a sweep of every 61st float <= 0 (and the edges): within 0.51 ulp of exp in double (0.502
// is the method's bound), exactly 0 below log(2^-150), 1 at 0, 0 at -inf; subnormal results within half a step.
static void inline_exp() {
    double worst = 0;
    float at = 0;
    auto check = [&](float x) {
        const float got = d4j::exp_nonpositive(x);
        const double ref = std::exp((double)x);
        const double step = ref >= 0x1p-126 ? std::ldexp(1.0, std::ilogb(ref) - 23) : 0x1p-149;
        const double err = std::fabs((double)got - ref) / step;
        if (!(err <= worst)) { worst = err; at = x; }
    };
    for (uint32_t u = 0x80000000u; u < 0xff800000u; u += 61) {
        float x;
        std::memcpy(&x, &u, 4);
        check(x);
    }
    for (float x : {-0.0f, 0.0f, -1e-30f, -0x1.9fe368p6f, std::nextafter(-0x1.9fe368p6f, 0.0f), -87.33654f,
                    -103.28f, -88.72f, -1.0f, -0.5f, -0x1p-25f})
        check(x);
    t::expect(worst <= 0.51, "inline exp: worst error " + std::to_string(worst) + " steps at x=" + std::to_string(at));
    t::expect(d4j::exp_nonpositive(0.0f) == 1.0f && d4j::exp_nonpositive(-0.0f) == 1.0f, "inline exp(0) == 1");
    t::expect(d4j::exp_nonpositive(-INFINITY) == 0.0f && d4j::exp_nonpositive(-1e30f) == 0.0f &&
                  d4j::exp_nonpositive(-104.0f) == 0.0f,
              "inline exp underflows to 0");
    t::expect(std::isnan(d4j::exp_nonpositive(NAN)), "inline exp keeps NaN");
}

int main() {
    t::Rng rng(11);
    const int ns[] = {1, 31, 33, 1000};
    const int ks[] = {1, 2, 10, 31, 33, 784};
    for (int kind = 0; kind <= D4J_LOSS_MSE; kind++)
        for (int n : ns)
            for (int k : ks) {
                const size_t c = (size_t)n * k;
                auto out = rng.vec(c, -5, 5);
                std::vector<int32_t> labels(n);
                std::vector<float> targets(c);
                for (int r = 0; r < n; r++) {
                    labels[r] = rng.integer(0, k - 1);
                    if (kind == D4J_LOSS_CCE) {  // probability rows (soft labels), every element non-zero
                        double s = 0;
                        for (int j = 0; j < k; j++) s += targets[r * k + j] = rng.nonzero(0.01, 1);
                        for (int j = 0; j < k; j++) targets[r * k + j] = (float)(targets[r * k + j] / s);
                    } else if (kind == D4J_LOSS_BCE) {  // half the rows hard 0/1, half soft
                        for (int j = 0; j < k; j++)
                            targets[r * k + j] = r % 2 ? (float)rng.integer(0, 1) : rng.nonzero(0, 1);
                    } else {
                        for (int j = 0; j < k; j++) targets[r * k + j] = rng.nonzero(-2, 2);
                    }
                }
                if (kind == D4J_LOSS_MSE) for (auto& v : out) v = v / 5;
                const float scale = 0.7f;
                auto od = t::widen(out), td = t::widen(targets);
                ref::V gr(c), pr(c);
                int64_t cr = -1;
                const double lr = ref::loss(kind, od.data(), labels.data(), td.data(), gr.data(), pr.data(), n, k,
                                            scale, &cr);
                auto g = t::poisoned(c), p = t::poisoned(c);
                int64_t cn = -1;
                const double ln = d4j_loss(kind, out.data(), labels.data(), targets.data(), g.data(),
                                           kind == D4J_LOSS_MSE ? nullptr : p.data(), n, k, scale, &cn);
                const std::string name = std::string("loss ") + t::loss_name(kind) + " " + std::to_string(n) + "x" +
                                         std::to_string(k);
                t::close_scalar(name + " value", ln, lr, 1e-6);
                t::close(name + " grad", g, gr, 1e-6);
                if (kind != D4J_LOSS_MSE) t::close(name + " probs", p, pr, 1e-6);
                t::expect(cn == (kind == D4J_LOSS_MSE ? 0 : cr),
                          name + " correct " + std::to_string(cn) + " vs " + std::to_string(cr));
                // grad / probs / correct are optional
                const double l2 = d4j_loss(kind, out.data(), labels.data(), targets.data(), nullptr, nullptr, n, k,
                                           scale, nullptr);
                t::expect(l2 == ln, name + ": value differs without grad/probs");
                auto g3 = t::poisoned(c);
                d4j_loss(kind, out.data(), labels.data(), targets.data(), g3.data(), nullptr, n, k, scale, nullptr);
                t::expect(g3 == g, name + ": grad differs without probs");
            }
    // stability: huge logits give finite, exact losses
    {
        std::vector<float> z = {1000, -1000, 0, 500, -500, 0};
        std::vector<int32_t> lab = {1, 0};
        std::vector<float> t01 = {0, 1, 1, 1, 0, 0};
        for (int kind : {D4J_LOSS_SPARSE_CCE, D4J_LOSS_CCE, D4J_LOSS_BCE}) {
            std::vector<float> tt = kind == D4J_LOSS_CCE ? std::vector<float>{0, 1, 0, 1, 0, 0} : t01;
            auto zd = t::widen(z), td = t::widen(tt);
            ref::V gr(6);
            const double lr = ref::loss(kind, zd.data(), lab.data(), td.data(), gr.data(), nullptr, 2, 3, 1.0, nullptr);
            auto g = t::poisoned(6);
            const double ln = d4j_loss(kind, z.data(), lab.data(), tt.data(), g.data(), nullptr, 2, 3, 1.0f, nullptr);
            const std::string name = std::string("stability ") + t::loss_name(kind);
            t::close_scalar(name + " value", ln, lr, 1e-6);
            t::close(name + " grad", g, gr, 1e-6);
        }
        // a label trailing by 3e4: the loss is 3e4 (not inf), the gradient finite
        std::vector<float> huge = {1000, -1000, 0, 3e4f};
        std::vector<int32_t> zeros = {0, 0};
        auto hd = t::widen(huge);
        ref::V gr(4);
        const double lr = ref::loss(D4J_LOSS_SPARSE_CCE, hd.data(), zeros.data(), nullptr, gr.data(), nullptr, 2, 2,
                                    1.0, nullptr);
        auto g = t::poisoned(4);
        const double ln = d4j_loss(D4J_LOSS_SPARSE_CCE, huge.data(), zeros.data(), nullptr, g.data(), nullptr, 2, 2,
                                   1.0f, nullptr);
        t::close_scalar("stability sparse_cce label trailing by 3e4: value", ln, lr, 1e-6);
        t::expect(std::fabs(ln - 3e4) < 1e-2, "stability sparse_cce label trailing by 3e4: loss " + std::to_string(ln));
        t::close("stability sparse_cce label trailing by 3e4: grad", g, gr, 1e-6);
        // non-finite logits give a non-finite loss (the trainer stops on it)
        std::vector<float> bad = {NAN, 0, 1};
        std::vector<int32_t> l0 = {0};
        std::vector<float> t3 = {1, 0, 0};
        for (int kind = 0; kind <= D4J_LOSS_MSE; kind++) {
            auto g = t::poisoned(3);
            const double v = d4j_loss(kind, bad.data(), l0.data(), t3.data(), g.data(), nullptr, 1, 3, 1.0f, nullptr);
            t::expect(!std::isfinite(v), std::string("NaN logit must give a non-finite loss: ") + t::loss_name(kind));
        }
    }
    // a row of NaN and a row with a -inf label logit between finite rows: those rows poisoned and the loss not
    // finite, the other rows' gradients as the reference's
    for (int kind : {D4J_LOSS_SPARSE_CCE, D4J_LOSS_CCE}) {
        const int n = 40, k = 7;
        auto z = rng.vec((size_t)n * k, -4, 4);
        std::vector<int32_t> lab(n);
        std::vector<float> tt((size_t)n * k, 0.0f);
        for (int r = 0; r < n; r++) tt[(size_t)r * k + (lab[r] = rng.integer(0, k - 1))] = 1.0f;
        z[5 * k + 2] = NAN;
        z[33 * k + lab[33]] = -INFINITY;
        auto zd = t::widen(z), td = t::widen(tt);
        ref::V gr((size_t)n * k);
        ref::loss(kind, zd.data(), lab.data(), td.data(), gr.data(), nullptr, n, k, 1.0, nullptr);
        auto g = t::poisoned((size_t)n * k);
        const double v = d4j_loss(kind, z.data(), lab.data(), tt.data(), g.data(), nullptr, n, k, 1.0f, nullptr);
        const std::string name = std::string("non-finite rows ") + t::loss_name(kind);
        t::expect(!std::isfinite(v), name + ": loss must not be finite");
        bool poisoned = true;
        for (int j = 0; j < k; j++) poisoned = poisoned && std::isnan(g[5 * k + j]) && std::isnan(g[33 * k + j]);
        t::expect(poisoned, name + ": the bad rows' gradients must be NaN");
        std::vector<float> gf;
        ref::V grf;
        for (int r = 0; r < n; r++)
            if (r != 5 && r != 33)
                for (int j = 0; j < k; j++) { gf.push_back(g[(size_t)r * k + j]); grf.push_back(gr[(size_t)r * k + j]); }
        t::close(name + ": the other rows' gradients", gf, grf, 1e-6);
    }
    // very wide rows of equal logits: each row's sum is k (the largest a row sum can be), 33 rows
    {
        const int n = 33, k = 100000;
        std::vector<float> z((size_t)n * k, 2.5f);
        std::vector<int32_t> lab(n);
        for (int r = 0; r < n; r++) lab[r] = rng.integer(0, k - 1);
        auto zd = t::widen(z);
        const double lr = ref::loss(D4J_LOSS_SPARSE_CCE, zd.data(), lab.data(), nullptr, nullptr, nullptr, n, k, 1.0,
                                    nullptr);
        const double ln = d4j_loss(D4J_LOSS_SPARSE_CCE, z.data(), lab.data(), nullptr, nullptr, nullptr, n, k, 1.0f,
                                   nullptr);
        t::close_scalar("sparse_cce 33 rows of 100000 equal logits", ln, lr, 1e-9);
        t::close_scalar("sparse_cce 33 rows of 100000 equal logits = 33 log(1e5)", ln, n * std::log((double)k), 1e-9);
    }
    inline_exp();
    return t::finish("loss_test");
}
