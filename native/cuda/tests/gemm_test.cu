// d4j_cuda_gemm against ref::gemm: every layout, variant and precision at awkward and misaligned shapes.
#include "cuda_test.h"

// ---- GEMM: every layout, variant and precision --------------------------------------------------------------
// pad: added to every leading dimension; off: floats by which A, B and C start past a 16-byte boundary (the
// float4 paths must fall back to scalar loads); K = 1100 against 2 output tiles gives 16-way split-K.
struct GemmShape { int M, N, K, pad, off; };

static void check_gemm(const GemmShape& s, int layout, const int* variants, int n_variants, bool tf32_too) {
    static const char* vname[] = {"auto", "simple", "tile128", "tile64", "tile32"};
    const bool ta = layout == 2, tb = layout == 1;
    const int lda = (ta ? s.M : s.K) + s.pad, ldb = (tb ? s.K : s.N) + s.pad, ldc = s.N + s.pad;
    const size_t a_rows = ta ? s.K : s.M, b_rows = tb ? s.N : s.K;
    auto A = randn(a_rows * lda), B = randn(b_rows * ldb);
    ref::V want = ref::gemm(ta, tb, s.M, s.N, s.K, A.data(), lda, B.data(), ldb);
    std::vector<float> A0(s.off, 0.f), B0(s.off, 0.f);
    A0.insert(A0.end(), A.begin(), A.end());
    B0.insert(B0.end(), B.begin(), B.end());
    Dev<float> dA(A0), dB(B0), dC((size_t)s.M * ldc + s.off);
    for (int vi = 0; vi < n_variants; ++vi) {
        const int v = variants[vi];
        for (int prec = 0; prec < 2; ++prec) {
            if (prec == 1 && (v == D4J_CUDA_GEMM_SIMPLE || !tf32_too)) continue;
            API(d4j_cuda_set_gemm_variant(v));
            API(d4j_cuda_set_precision(prec));
            dC.poison();
            API(d4j_cuda_gemm(ta, tb, s.M, s.N, s.K, dA.p + s.off, lda, dB.p + s.off, ldb, dC.p + s.off, ldc));
            API(d4j_cuda_synchronize());
            auto C = dC.down();
            std::vector<float> got((size_t)s.M * s.N);
            for (int r = 0; r < s.M; ++r)
                for (int c = 0; c < s.N; ++c) got[(size_t)r * s.N + c] = C[s.off + (size_t)r * ldc + c];
            char what[160];
            snprintf(what, sizeof what, "gemm %s %dx%dx%d ld+%d off+%d %s %s", ta ? "TN" : tb ? "NT" : "NN", s.M, s.N,
                     s.K, s.pad, s.off, vname[v], prec ? "tf32" : "fp32");
            compare(what, got, want, prec ? 2e-3 : 1e-5);
        }
    }
}

void test_gemm() {
    std::vector<GemmShape> shapes = {{1, 1, 1, 0, 0}, {31, 33, 127, 0, 1}, {33, 31, 784, 1, 0}, {127, 1000, 33, 0, 3},
                                     {32, 128, 784, 0, 0}, {32, 10, 128, 0, 2}, {784, 128, 32, 0, 0},
                                     {1000, 127, 31, 3, 1}, {4096, 33, 127, 0, 0}, {31, 4096, 64, 0, 0},
                                     {256, 1024, 1024, 0, 0}, {33, 31, 1100, 1, 1}, {130, 129, 65, 2, 3}};
    if (g_emulated)
        shapes = {{1, 1, 1, 0, 0}, {31, 33, 127, 0, 1}, {33, 31, 785, 1, 0}, {127, 1000, 33, 0, 3},
                  {32, 128, 784, 0, 0}, {32, 10, 128, 0, 2}, {784, 128, 32, 0, 0}, {1000, 127, 31, 3, 1},
                  {4096, 33, 127, 0, 0}, {130, 129, 65, 2, 3}, {33, 31, 1100, 1, 1}, {7, 5, 1024, 0, 2}};
    const int all[] = {D4J_CUDA_GEMM_SIMPLE, D4J_CUDA_GEMM_AUTO, D4J_CUDA_GEMM_TILE_L, D4J_CUDA_GEMM_TILE_M,
                       D4J_CUDA_GEMM_TILE_S};
    if (g_quick) shapes = {{31, 33, 127, 0, 1}, {130, 129, 65, 2, 3}};  // every kernel, small (sanitizers)
    for (const GemmShape& s : shapes)
        for (int layout = 0; layout < 3; ++layout) check_gemm(s, layout, all, 5, true);
    // More than 65535 tiles of rows (gridDim.y stopped at 65535): 32-row tiles and the 16-row simple kernel.
    if (!g_quick) {
        const int tile_s[] = {D4J_CUDA_GEMM_TILE_S}, simple[] = {D4J_CUDA_GEMM_SIMPLE};
        check_gemm({65535 * 32 + 33, 3, 2, 0, 1}, 0, tile_s, 1, false);
        check_gemm({65535 * 16 + 5, 2, 3, 1, 0}, 1, simple, 1, false);
    }
    API(d4j_cuda_set_gemm_variant(D4J_CUDA_GEMM_AUTO));
    API(d4j_cuda_set_precision(D4J_CUDA_PRECISION_FP32));
}
