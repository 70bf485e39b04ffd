// d4j_cuda_permutation, d4j_cuda_gather_u8 / _f32 and d4j_cuda_dropout_mask (against ref::dropout_mask, the CPU
// engine's mask too: every keep/drop decision equal).
#include "cuda_test.h"

// ---- gather, permutation, dropout -----------------------------------------------------------------------------------
void test_data() {
    const int N = 1000, width = 784;
    std::vector<uint8_t> u8((size_t)N * width);
    for (auto& v : u8) v = (uint8_t)(g_rng() & 255);
    std::vector<float> f32 = randn((size_t)N * width);
    Dev<uint8_t> du8(u8);
    Dev<float> df(f32);
    for (int64_t n : {1LL, 31LL, 1000LL, 60000LL}) {
        Dev<int32_t> order(n);
        order.poison();
        API(d4j_cuda_permutation(order.p, n, 42 + n));
        auto o = order.down();
        std::vector<char> seen(n, 0);
        bool ok = true;
        for (int32_t v : o) { if (v < 0 || v >= n || seen[v]) { ok = false; break; } seen[v] = 1; }
        int fixed = 0;
        for (int64_t i = 0; i < n; ++i) fixed += o[i] == i;
        expect(ok && (n < 1000 || fixed < n / 100), "permutation n=" + std::to_string(n) + " is a shuffled permutation (fixed points " + std::to_string(fixed) + ")");
        Dev<int32_t> order2(n);
        API(d4j_cuda_permutation(order2.p, n, 43 + n));
        expect(n < 31 || order2.down() != o, "permutation n=" + std::to_string(n) + " changes with the seed");
    }
    for (int w : {1, 31, 784}) {
        const int rows = 33, first = 5;
        std::vector<int32_t> ord(N);
        for (int i = 0; i < N; ++i) ord[i] = (int32_t)((i * 7919) % N);
        Dev<int32_t> dord(ord);
        Dev<float> out((size_t)rows * w);
        ref::V want((size_t)rows * w), wantf((size_t)rows * w);
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < w; ++c) {
                want[(size_t)r * w + c] = u8[(size_t)ord[first + r] * w + c] / 255.0;
                wantf[(size_t)r * w + c] = f32[(size_t)ord[first + r] * w + c] * 0.5;
            }
        out.poison();
        API(d4j_cuda_gather_u8(du8.p, 1.f / 255.f, w, dord.p, first, rows, out.p));
        compare("gather_u8 width " + std::to_string(w), out.down(), want, 1e-6);
        out.poison();
        API(d4j_cuda_gather_f32(df.p, 0.5f, w, dord.p, first, rows, out.p));
        compare("gather_f32 width " + std::to_string(w), out.down(), wantf, 1e-6);
    }
    for (float rate : {0.f, 0.1f, 0.5f, 0.9f})
        for (auto rw : {std::pair<int, int>{127, 33}, {1, 784}}) {
            const int rows = rw.first, w = rw.second;
            Dev<float> m((size_t)rows * w);
            m.poison();
            API(d4j_cuda_dropout_mask(m.p, rows, w, rate, 99, 12, 3));
            ref::V want((size_t)rows * w);
            for (size_t i = 0; i < want.size(); ++i) want[i] = rate > 0 ? ref::dropout_mask(99, 12, 3, (int64_t)i, rate) : 1.0;
            auto got = m.down();
            double kept = 0;
            size_t decisions_differ = 0;
            for (size_t i = 0; i < got.size(); ++i) {
                kept += got[i] != 0.f;
                decisions_differ += (got[i] != 0.f) != (want[i] != 0.0);
            }
            const std::string what = "dropout mask rate " + std::to_string(rate) + " " + std::to_string(rows) + "x" +
                                     std::to_string(w);
            compare(what, got, want, 1e-7);
            expect(decisions_differ == 0, what + ": every keep/drop decision the reference's");
            expect(std::fabs(kept / got.size() - (1 - rate)) < 0.05, "dropout keep fraction " + std::to_string(kept / got.size()));
        }
}
