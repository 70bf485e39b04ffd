// Float64 reference of GEMM (d4j_cuda_gemm; the products inside every dense op): C = op(A) op(B) with plain
// loops, written from the definition. Also the product every other reference op is built from.
#pragma once
#include <cstddef>
#include <vector>

namespace ref {

using V = std::vector<double>;

// C[M,N] = op(A) op(B); op(A)(m,k) = ta ? A[k*lda+m] : A[m*lda+k]; op(B)(k,n) = tb ? B[n*ldb+k] : B[k*ldb+n].
// Any element types (float operands as the kernels get them, or double), summed in double.
template <typename TA, typename TB>
inline V gemm(bool ta, bool tb, int M, int N, int K, const TA* A, int lda, const TB* B, int ldb) {
    V C((size_t)M * N, 0.0);
    for (int m = 0; m < M; ++m)
        for (int k = 0; k < K; ++k) {
            const double a = ta ? (double)A[(size_t)k * lda + m] : (double)A[(size_t)m * lda + k];
            for (int n = 0; n < N; ++n)
                C[(size_t)m * N + n] += a * (tb ? (double)B[(size_t)n * ldb + k] : (double)B[(size_t)k * ldb + n]);
        }
    return C;
}

}  // namespace ref
