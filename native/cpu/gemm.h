// Row-major sgemm for the two products of a small batch with a large layer, split into a few OpenBLAS calls.
// Why: OpenBLAS's AVX-512 kernels (SkylakeX / Cooperlake, picked at run time) multiply GEMMs with
// M*N*K <= 1e6 with an unpacked "small matrix" kernel and pack both operands above that. At batch 32 the
// packing of a 784x128 weight matrix costs about as much as the multiplication itself, so cutting the
// product into pieces under that bound, along a dimension whose pieces pack independently, is faster:
// forward 32x784x128 91 -> 56 us (split over K, accumulated with beta = 1), weight gradient 76 -> 59 us
// (split over the rows of dW). On kernels without that path it is neutral: the data packed in total is the
// same. The split depends only on the shapes, so results stay deterministic. Only for batches <= 64 rows,
// where packing dominates (measured: no gain at 128+ rows); dx = dz.W^T is not split (it gets slower).
#pragma once
#include <cblas.h>
#include <cstdint>

namespace d4j {

constexpr int64_t SMALL_GEMM_MNK = 1000000;  // OpenBLAS gemm_small_kernel_permit bound
constexpr int SPLIT_MAX_ROWS = 64;

// number of pieces of `len` so that each piece times `rest` is <= SMALL_GEMM_MNK (1 = no split)
inline int gemm_pieces(int64_t rest, int len, int min_piece) {
    const int64_t pieces = (rest * len + SMALL_GEMM_MNK - 1) / SMALL_GEMM_MNK;
    if (pieces < 2) return 1;
    if ((len + pieces - 1) / pieces < min_piece) return 1;
    return (int)pieces;
}

// c[n,out] = a[n,in] . w[in,out]
inline void gemm_forward(const float* a, const float* w, float* c, int n, int in, int out) {
    const int pieces = n <= SPLIT_MAX_ROWS ? gemm_pieces((int64_t)n * out, in, 32) : 1;
    const int len = (in + pieces - 1) / pieces;
    for (int k0 = 0; k0 < in; k0 += len) {
        const int kl = in - k0 < len ? in - k0 : len;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out, kl, 1.0f, a + k0, in, w + (int64_t)k0 * out,
                    out, k0 == 0 ? 0.0f : 1.0f, c, out);
    }
}

// dw[in,out] = x[n,in]^T . dz[n,out]
inline void gemm_weight_grad(const float* x, const float* dz, float* dw, int n, int in, int out) {
    const int pieces = n <= SPLIT_MAX_ROWS ? gemm_pieces((int64_t)n * out, in, 16) : 1;
    const int len = (in + pieces - 1) / pieces;
    for (int i0 = 0; i0 < in; i0 += len) {
        const int il = in - i0 < len ? in - i0 : len;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, il, out, n, 1.0f, x + i0, in, dz, out, 0.0f,
                    dw + (int64_t)i0 * out, out);
    }
}

}  // namespace d4j
