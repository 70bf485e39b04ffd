// Float64 reference of GEMM (d4j_cuda_gemm; the products inside every dense op): C = op(A) op(B) with plain
// loops, written from the definition. Also the product every other reference op is built from.
#pragma once
#include <cstddef>
#include <vector>

namespace ref {

using V = std::vector<double>;

template <bool ABS, typename TA, typename TB>
inline V gemm_terms(bool ta, bool tb, int M, int N, int K, const TA* A, int lda, const TB* B, int ldb) {
    V C((size_t)M * N, 0.0);
    for (int m = 0; m < M; ++m)
        for (int k = 0; k < K; ++k) {
            double a = ta ? (double)A[(size_t)k * lda + m] : (double)A[(size_t)m * lda + k];
            if (ABS) a = a < 0 ? -a : a;
            for (int n = 0; n < N; ++n) {
                double b = tb ? (double)B[(size_t)n * ldb + k] : (double)B[(size_t)k * ldb + n];
                if (ABS) b = b < 0 ? -b : b;
                C[(size_t)m * N + n] += a * b;
            }
        }
    return C;
}

// C[M,N] = op(A) op(B); op(A)(m,k) = ta ? A[k*lda+m] : A[m*lda+k]; op(B)(k,n) = tb ? B[n*ldb+k] : B[k*ldb+n].
// Any element types (float operands as the kernels get them, or double), summed in double.
template <typename TA, typename TB>
inline V gemm(bool ta, bool tb, int M, int N, int K, const TA* A, int lda, const TB* B, int ldb) {
    return gemm_terms<false>(ta, tb, M, N, K, A, lda, B, ldb);
}

// The same product of the operands' absolute values: per element, the sum of |terms| that scales a float
// product's rounding-error bound ((K + 1) u sum|terms|).
template <typename TA, typename TB>
inline V gemm_abs(bool ta, bool tb, int M, int N, int K, const TA* A, int lda, const TB* B, int ldb) {
    return gemm_terms<true>(ta, tb, M, N, K, A, lda, B, ldb);
}

}  // namespace ref
