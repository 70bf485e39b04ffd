// Dense layer backward: dW = x^T.dz, db = column sums of dz, dx = dz.W^T (skipped for the first layer).
// Fast because both products are OpenBLAS sgemm calls on the row-major buffers (transposes are expressed
// through the GEMM flags, nothing is copied; dW is split for small batches so that OpenBLAS skips packing,
// see gemm.h) and db is one streaming pass over dz that adds whole
// rows into a block of double accumulators: vectorised, deterministic and accurate for any batch size.
#include <cblas.h>
#include <algorithm>
#include "gemm.h"
#include "internal.h"

namespace d4j {

void dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                    int n, int in, int out) {
    gemm_weight_grad(x, dz, dw, n, in, out);
    constexpr int BLOCK = 256;
    for (int j0 = 0; j0 < out; j0 += BLOCK) {
        const int m = std::min(BLOCK, out - j0);
        double acc[BLOCK];
        for (int j = 0; j < m; j++) acc[j] = 0.0;
        for (int64_t r = 0; r < n; r++) {
            const float* row = dz + r * out + j0;
            for (int j = 0; j < m; j++) acc[j] += row[j];
        }
        for (int j = 0; j < m; j++) db[j0 + j] = (float)acc[j];
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, in, out, 1.0f, dz, out, w, out, 0.0f, dx, in);
}

}  // namespace d4j

extern "C" void d4j_dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db,
                                   float* dx, int n, int in, int out) {
    if (!x || !dz || !dw || !db || (dx && !w) || n <= 0 || in <= 0 || out <= 0) return;
    d4j::dense_backward(x, w, dz, dw, db, dx, n, in, out);
}
