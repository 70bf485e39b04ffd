// Whole networks (d4j_cuda_net_*) against ref::Net: step by step, in one call with CUDA graphs (bit for bit),
// evaluation, the simple GEMMs and TF32; a non-finite loss reported.
#include "cuda_test.h"

void test_net(const NetSpec& s) {
    const int in = s.sizes.front(), k = s.sizes.back(), L = (int)s.acts.size();
    const int rows = s.batch * s.steps + s.batch / 2 + 1;  // a partial last batch
    const int n_batches = s.steps + 1;
    std::vector<int32_t> sz(s.sizes.begin(), s.sizes.end());
    const int64_t P = d4j_cuda_param_count(L, sz.data());
    // data: uint8 images scaled by 1/255 or floats scaled by 0.5
    std::vector<uint8_t> xu((size_t)rows * in);
    std::vector<float> xf = randn((size_t)rows * in);
    for (auto& v : xu) v = (uint8_t)(g_rng() & 255);
    const bool u8 = s.data == DATA_U8;
    const float scale = u8 ? 1.f / 255.f : s.data == DATA_F32 ? 1.f : 0.5f;
    std::vector<int32_t> labels(rows);
    std::vector<float> targets((size_t)rows * k);
    for (int r = 0; r < rows; ++r) {
        labels[r] = (int)(g_rng() % k);
        for (int c = 0; c < k; ++c)
            targets[(size_t)r * k + c] = s.loss == D4J_CUDA_LOSS_CCE ? (c == labels[r] ? 0.9f : 0.1f / (k - 1))
                                       : s.loss == D4J_CUDA_LOSS_BCE ? (float)(g_rng() % 2)
                                                            : (float)std::normal_distribution<double>(0, 0.5)(g_rng);
    }
    Dev<uint8_t> dxu(xu);
    Dev<float> dxf(xf), dt(targets);
    Dev<int32_t> dl(labels), dord(rows);
    API(d4j_cuda_permutation(dord.p, rows, 7));
    auto order = dord.down();
    const void* X = u8 ? (const void*)dxu.p : (const void*)dxf.p;
    const int xtype = u8 ? D4J_CUDA_DATA_U8 : D4J_CUDA_DATA_F32;
    // initial parameters (Glorot-like), the reference starts from the same floats
    std::vector<float> p0((size_t)P);
    {
        size_t o = 0;
        for (int l = 0; l < L; ++l) {
            auto w = randn((size_t)s.sizes[l] * s.sizes[l + 1], std::sqrt(2.0 / (s.sizes[l] + s.sizes[l + 1])));
            std::copy(w.begin(), w.end(), p0.begin() + o);
            o += w.size();
            auto b = randn(s.sizes[l + 1], 0.05);
            std::copy(b.begin(), b.end(), p0.begin() + o);
            o += b.size();
        }
    }
    ref::Net R;
    R.sizes = s.sizes; R.acts = s.acts; R.rates.assign(s.drop.begin(), s.drop.end()); R.loss_kind = s.loss;
    R.params = to_d(p0);
    ref::Optimizer R_opt(s.opt, s.hp, (size_t)P);
    const uint64_t seed = 2024;
    auto batch_x = [&](int64_t first, int n) {
        ref::V x((size_t)n * in);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < in; ++c)
                x[(size_t)r * in + c] = u8 ? (double)(float)(xu[(size_t)order[first + r] * in + c] * scale)
                                             : (double)(float)(xf[(size_t)order[first + r] * in + c] * scale);
        return x;
    };
    auto batch_lab = [&](int64_t first, int n, std::vector<int32_t>& lb, std::vector<float>& tg) {
        lb.resize(n); tg.resize((size_t)n * k);
        for (int r = 0; r < n; ++r) {
            lb[r] = labels[order[first + r]];
            for (int c = 0; c < k; ++c) tg[(size_t)r * k + c] = targets[(size_t)order[first + r] * k + c];
        }
    };
    std::vector<float> lrs(n_batches);
    for (int i = 0; i < n_batches; ++i) lrs[i] = (float)(s.lr * (1.0 - 0.5 * i / n_batches));

    // (1) step by step, one call per step: loss of every step, gradients of the first step, params at the end
    GpuNet A(s, p0, s.batch);
    if (!A.net) return;
    int64_t step = 0;
    double max_loss_rel = 0;
    int worst = -1;
    bool all_ok = true;
    for (int i = 0; i < n_batches; ++i) {
        const int64_t first = (int64_t)i * s.batch;
        const int n = (int)std::min<int64_t>(s.batch, rows - first);
        std::vector<int32_t> lb; std::vector<float> tg;
        batch_lab(first, n, lb, tg);
        ref::V x = batch_x(first, n);
        ref::V rg;
        const ref::V tgd = to_d(tg);
        if (i == 0) rg = R.backward(x.data(), n, lb.data(), tgd.data(), seed, i + 1);
        double rl = R.train_step(R_opt, s.clip_norm, s.clip_value, x.data(), n, lb.data(), tgd.data(), lrs[i], seed,
                                 i + 1) / n;
        double stats[3] = {0, 0, 0};
        int rc = d4j_cuda_net_train(A.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, first, s.batch, 1, &lrs[i], &step,
                                    seed, stats);
        if (rc) { all_ok = false; printf("FAIL net_train rc %d: %s\n", rc, d4j_cuda_last_error()); ++g_fail; break; }
        double gl = stats[0] / stats[2];
        double rel = std::fabs(gl - rl) / std::max(1e-12, std::fabs(rl));
        if (rel > max_loss_rel) { max_loss_rel = rel; worst = i; }
        if (stats[2] != n) all_ok = false;
        if (i == 0) {
            compare(std::string(s.name) + ": step 1 loss", {(float)gl}, {rl}, 1e-5);
            compare(std::string(s.name) + ": step 1 gradients [dW; db]", A.grads.down(), rg, 1e-5);
            // Adam and RMSprop divide by sqrt(v) + eps: for a gradient element near eps, the FP32 gradient's last
            // bits move that element's first step by up to a few 1e-3 of lr (the gradients match at ~1e-7 above)
            compare(std::string(s.name) + ": step 1 params", A.params.down(), R.params, s.opt == D4J_CUDA_OPT_SGD ? 1e-6 : 1e-4);
            compare(std::string(s.name) + ": step 1 optimizer state", A.state.down(), R_opt.state, 1e-5);
        }
    }
    expect(all_ok && step == n_batches, std::string(s.name) + ": every step trained, step counter " + std::to_string(step));
    char what[200];
    snprintf(what, sizeof what, "%s: loss of %d steps (worst step %d rel %.2e)", s.name, n_batches, worst, max_loss_rel);
    expect(max_loss_rel <= 1e-4, what);
    auto pA = A.params.down();
    compare(std::string(s.name) + ": params after " + std::to_string(n_batches) + " steps", pA, R.params, 1e-4);

    // (2) the same steps in ONE call (CUDA graphs of 8 and 1 steps + the uncaptured tail): bit-identical params
    GpuNet B(s, p0, s.batch);
    if (!B.net) return;
    int64_t stepB = 0;
    double statsB[3] = {0, 0, 0};
    API(d4j_cuda_net_train(B.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, 0, s.batch, n_batches, lrs.data(), &stepB,
                           seed, statsB));
    auto pB = B.params.down();
    expect(pB == pA && stepB == n_batches && statsB[2] == rows,
           std::string(s.name) + ": one call with graphs == step-by-step calls, bit for bit");

    // (3) evaluation forward over all rows, outputs and statistics
    {
        Dev<float> out((size_t)rows * k);
        out.poison();
        double st[3] = {0, 0, 0};
        std::vector<float> xs((size_t)rows * in);
        for (size_t i = 0; i < xs.size(); ++i) xs[i] = u8 ? xu[i] * scale : xf[i] * scale;
        API(d4j_cuda_net_forward(B.net, X, xtype, scale, rows, out.p, dl.p, dt.p, st));
        ref::Net E = R;
        E.params = to_d(pB);
        int64_t corr = 0;
        ref::V outs;
        const ref::V xsd = to_d(xs), tgd = to_d(targets);
        double rl = E.forward(xsd.data(), rows, labels.data(), tgd.data(), false, seed, 0, &corr);
        outs = E.y.back();
        compare(std::string(s.name) + ": forward outputs", out.down(), outs, 1e-5);
        compare(std::string(s.name) + ": forward loss", {(float)(st[0] / rows)}, {rl / rows}, 1e-5);
        expect(std::fabs(st[1] - corr) <= std::max(1.0, rows * 0.002) && st[2] == rows,
               std::string(s.name) + ": forward correct " + std::to_string((long long)st[1]) + " vs " + std::to_string(corr));
    }

    // (4) the simple GEMM variant and TF32 give the same training within their tolerances
    for (int mode = 0; mode < 2; ++mode) {
        if (g_quick) break;
        API(d4j_cuda_set_gemm_variant(mode == 0 ? D4J_CUDA_GEMM_SIMPLE : D4J_CUDA_GEMM_AUTO));
        API(d4j_cuda_set_precision(mode == 0 ? D4J_CUDA_PRECISION_FP32 : D4J_CUDA_PRECISION_TF32));
        GpuNet C(s, p0, s.batch);
        int64_t stepC = 0;
        double statsC[3] = {0, 0, 0};
        API(d4j_cuda_net_train(C.net, X, xtype, scale, dl.p, dt.p, dord.p, rows, 0, s.batch, n_batches, lrs.data(),
                               &stepC, seed, statsC));
        compare(std::string(s.name) + (mode == 0 ? ": simple GEMMs, loss sum" : ": TF32, loss sum"), {(float)statsC[0]},
                {statsB[0]}, mode == 0 ? 1e-4 : 2e-2);
        // TF32 vs FP32 after up to 101 steps: Adam's normalised steps turn the ~1e-3 gradient differences of
        // parameters with tiny gradients into full-size differences, so the parameters drift by a few percent
        compare(std::string(s.name) + (mode == 0 ? ": simple GEMMs, params" : ": TF32, params"), C.params.down(),
                to_d(pB), mode == 0 ? 1e-4 : 5e-2);
    }
    API(d4j_cuda_set_gemm_variant(D4J_CUDA_GEMM_AUTO));
    API(d4j_cuda_set_precision(D4J_CUDA_PRECISION_FP32));
}

void test_nonfinite() {
    NetSpec s{"nonfinite", {4, 3, 2}, {D4J_CUDA_ACT_LINEAR, D4J_CUDA_ACT_LINEAR}, {0, 0}, D4J_CUDA_LOSS_MSE, D4J_CUDA_OPT_SGD,
              {0, 0, 0, 0, 0}, 0, 0, 4, 4, DATA_HALF, 1e30};
    std::vector<float> p0(d4j_cuda_param_count(2, std::vector<int32_t>{4, 3, 2}.data()), 1.f);
    GpuNet A(s, p0, 4);
    if (!A.net) return;
    std::vector<float> x(64, 1e10f), t(32, 0.f);
    Dev<float> dx(x), dt(t);
    std::vector<float> lrs(8, 1e30f);
    int64_t step = 0;
    double st[3] = {0, 0, 0};
    int rc = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, nullptr, dt.p, nullptr, 16, 0, 4, 4, lrs.data(), &step,
                                1, st);
    expect(rc == D4J_CUDA_ERR_NONFINITE && step < 4,
           "non-finite loss reported (rc " + std::to_string(rc) + ", step " + std::to_string(step) + "): " + d4j_cuda_last_error());
    int bad = d4j_cuda_net_train(A.net, dx.p, D4J_CUDA_DATA_F32, 1.f, nullptr, dt.p, nullptr, 16, 0, 5, 1, lrs.data(), &step, 1, st);
    expect(bad == D4J_CUDA_ERR_ARGUMENT, "batch above max_batch rejected");
}
