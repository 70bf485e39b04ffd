// d4j_cuda_loss (every loss) against ref::loss; labels out of range reported as bad arguments (also in training).
#include "cuda_test.h"

// ---- losses -----------------------------------------------------------------------------------------------------
void test_losses() {
    struct Shape { int n, k; };
    std::vector<Shape> shapes = {{1, 1}, {31, 10}, {33, 33}, {1000, 10}, {127, 1000}};
    if (g_quick) shapes = {{31, 10}};
    for (const Shape& s : shapes) {
        for (int kind = 0; kind <= 3; ++kind) {
            auto out = randn((size_t)s.n * s.k, 2.0);
            if (kind == D4J_CUDA_LOSS_MSE) for (auto& v : out) v = std::tanh(v);
            std::vector<int32_t> labels(s.n);
            std::vector<float> targets((size_t)s.n * s.k);
            for (int r = 0; r < s.n; ++r) {
                labels[r] = (int)(g_rng() % s.k);
                for (int c = 0; c < s.k; ++c)
                    targets[(size_t)r * s.k + c] = kind == D4J_CUDA_LOSS_CCE ? (float)(g_rng() % 3) / 4.f
                                                 : kind == D4J_CUDA_LOSS_BCE ? (float)(g_rng() % 2)
                                                                    : (float)std::normal_distribution<double>(0, 1)(g_rng);
            }
            const double gs = 0.5;
            const ref::V od = to_d(out), td = to_d(targets);
            ref::V want_grad((size_t)s.n * s.k), want_probs((size_t)s.n * s.k);
            int64_t want_correct = -1;
            const double want_sum = ref::loss(kind, od.data(), labels.data(), td.data(), want_grad.data(),
                                              want_probs.data(), s.n, s.k, gs, &want_correct);
            Dev<float> dout(out), dt(targets), dgrad((size_t)s.n * s.k), dprob((size_t)s.n * s.k);
            Dev<int32_t> dl(labels);
            dgrad.poison();
            dprob.poison();
            double sum = 0;
            int64_t correct = -1;
            API(d4j_cuda_loss(kind, dout.p, dl.p, dt.p, dgrad.p, kind == D4J_CUDA_LOSS_MSE ? nullptr : dprob.p, s.n, s.k,
                              (float)gs, &sum, &correct));
            char what[160];
            static const char* kn[] = {"sparse_cce", "cce", "bce", "mse"};
            snprintf(what, sizeof what, "loss %s %dx%d: grad", kn[kind], s.n, s.k);
            // p - t cancels when p is near t: each row's gradient is accurate to ~1e-7 of its natural size
            // (grad_scale / n per element for CE, / (n k) for BCE and MSE)
            const double unit = gs / s.n / (kind <= D4J_CUDA_LOSS_CCE ? 1.0 : s.k) * std::sqrt((double)s.n * s.k);
            compare(what, dgrad.down(), want_grad, 1e-6, unit);
            if (kind != D4J_CUDA_LOSS_MSE) {
                snprintf(what, sizeof what, "loss %s %dx%d: probs", kn[kind], s.n, s.k);
                compare(what, dprob.down(), want_probs, 1e-6);
            }
            snprintf(what, sizeof what, "loss %s %dx%d: sum", kn[kind], s.n, s.k);
            compare(what, {(float)sum}, {want_sum}, 1e-5);
            snprintf(what, sizeof what, "loss %s %dx%d: correct %lld == %lld", kn[kind], s.n, s.k, (long long)correct,
                     (long long)want_correct);
            expect(correct == want_correct, what);
        }
    }
}

// A label outside [0, k) is a bad argument, as on the CPU: reported with its row, nothing updated, nothing counted.
void test_bad_labels() {
    const int n = 7, k = 5;
    auto logits = randn((size_t)n * k);
    std::vector<int32_t> labels(n);
    for (auto& l : labels) l = (int)(g_rng() % k);
    labels[3] = k;
    labels[5] = -1;
    Dev<float> dz(logits), dg((size_t)n * k);
    Dev<int32_t> dl(labels);
    double sum = -1;
    int rc = d4j_cuda_loss(D4J_CUDA_LOSS_SPARSE_CCE, dz.p, dl.p, nullptr, dg.p, nullptr, n, k, 1.f, &sum, nullptr);
    std::string msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && msg.find("label 5 of row 3") != std::string::npos && sum == -1,
           "loss: label k is a bad argument naming the first bad row (rc " + std::to_string(rc) + "): " + msg);

    // training: one bad label among the rows of the call -> no step at all, parameters bit-identical
    NetSpec spec{"bad labels", {6, 5, 3}, {D4J_CUDA_ACT_RELU, D4J_CUDA_ACT_SOFTMAX}, {0, 0}, D4J_CUDA_LOSS_SPARSE_CCE, D4J_CUDA_OPT_ADAM,
                 {0.9f, 0.999f, 1e-7f, 0, 0}, 0, 0, 4, 3, DATA_F32, 1e-2};
    const int rows = 12, bad_row = 7;
    auto p0 = randn(d4j_cuda_param_count(2, std::vector<int32_t>{6, 5, 3}.data()), 0.3);
    GpuNet A(spec, p0, 4);
    if (!A.net) return;
    auto x = randn((size_t)rows * 6);
    std::vector<int32_t> lab(rows);
    for (auto& l : lab) l = (int)(g_rng() % 3);
    lab[bad_row] = 3;
    Dev<float> dx(x);
    Dev<int32_t> dlab(lab), dord(rows);
    API(d4j_cuda_permutation(dord.p, rows, 5));
    std::vector<float> lrs(3, 1e-2f);
    int64_t step = 0;
    double st[3] = {0, 0, 0};
    rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, dord.p, rows, 0, 4, 3, lrs.data(),
                            &step, 1, st);
    msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && step == 0 && st[2] == 0 && A.params.down() == p0 &&
               msg.find("of row " + std::to_string(bad_row)) != std::string::npos,
           "train: a bad label rejects the whole call, parameters and step untouched (rc " + std::to_string(rc) +
               ", step " + std::to_string(step) + "): " + msg);
    double fs[3] = {0, 0, 0};
    rc = d4j_cuda_net_forward(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, rows, nullptr, dlab.p, nullptr, fs);
    msg = d4j_cuda_last_error();
    expect(rc == D4J_CUDA_ERR_ARGUMENT && fs[2] == 0 && msg.find("of row " + std::to_string(bad_row)) != std::string::npos,
           "forward with labels: a bad label is a bad argument, nothing counted: " + msg);
    lab[bad_row] = 2;
    dlab.up(lab);
    rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, dlab.p, nullptr, dord.p, rows, 0, 4, 3, lrs.data(),
                            &step, 1, st);
    expect(rc == D4J_CUDA_OK && step == 3 && st[2] == rows, "train after the label is fixed: 3 steps");
}
