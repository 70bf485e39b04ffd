// d4j_loss for every loss kind against the float64 reference: loss sum, gradient (with grad_scale),
// probabilities and correct count, on awkward sizes; plus numerical stability at extreme logits.
#include <string>
#include "reference.h"
#include "test_util.h"

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
    return t::finish("loss_test");
}
