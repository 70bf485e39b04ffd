// The GEMM kernels of gemm_tiles.inc for AVX2 + FMA: 16 ymm registers hold a 6 x 16 forward tile (12
// accumulators, 2 weight vectors, 1 broadcast: BLIS's Haswell/Zen shape) and a 6 x 16 weight-gradient tile.
// Tails of a column block use vmaskmov (only the last vector of a block; masked stores are slow on AMD but
// rare here). Compiled with -mavx2 -mfma whatever the library's baseline is (CMakeLists.txt); chosen by
// isa.cpp where CPUID reports avx2 and fma.
#include <immintrin.h>
#include "gemm_kernels.h"

namespace d4j {
namespace {

struct V {
    typedef __m256 T;
    typedef __m256i M;
    enum { W = 8, TILE_REDUCE = 1 };
    static inline T zero() { return _mm256_setzero_ps(); }
    static inline T load(const float* p) { return _mm256_loadu_ps(p); }
    static inline T loadm(const float* p, M m) { return _mm256_maskload_ps(p, m); }
    static inline void store(float* p, T v) { _mm256_storeu_ps(p, v); }
    static inline void storem(float* p, T v, M m) { _mm256_maskstore_ps(p, m, v); }
    static inline T set1(float x) { return _mm256_set1_ps(x); }
    static inline T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
    static inline T add(T a, T b) { return _mm256_add_ps(a, b); }
    // max(0, v) with v second: maxps returns its second operand when one is NaN, so NaN propagates like relu()
    static inline T relu(T v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
    static inline M mask(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    // sparse_input.inc: bit `bit` of acc set in every lane where v is not +-0 (NaN included)
    typedef __m256i I;
    static inline I izero() { return _mm256_setzero_si256(); }
    static inline I col_bits(I acc, T v, unsigned bit) {
        const __m256i nonzero = _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
        return _mm256_or_si256(acc, _mm256_and_si256(nonzero, _mm256_set1_epi32((int)bit)));
    }
    static inline void istore(uint32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
    static inline float hsum(T v) {  // fixed tree: halves, then quarters, ...
        const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        const __m128 e = _mm_add_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_add_ss(e, _mm_movehdup_ps(e)));
    }
    // The 8 sums of a 2 x 4 tile of input-gradient accumulators, a[c * 2 + r] for row r and column c, with the
    // tree of hsum (the same bits) but shared shuffles: row r of the result is 128-bit lane r of e.
    __attribute__((always_inline)) static inline void reduce_tile(const T* a, float* dx, int64_t ld) {
        T b[4];
        for (int i = 0; i < 4; i++)
            b[i] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * i], a[2 * i + 1], 0x20),
                                 _mm256_permute2f128_ps(a[2 * i], a[2 * i + 1], 0x31));
        const T d0 = _mm256_add_ps(_mm256_unpacklo_ps(b[0], b[1]), _mm256_unpackhi_ps(b[0], b[1]));
        const T d1 = _mm256_add_ps(_mm256_unpacklo_ps(b[2], b[3]), _mm256_unpackhi_ps(b[2], b[3]));
        const T e = _mm256_add_ps(_mm256_shuffle_ps(d0, d1, 0x44), _mm256_shuffle_ps(d0, d1, 0xEE));
        _mm_storeu_ps(dx, _mm256_castps256_ps128(e));
        _mm_storeu_ps(dx + ld, _mm256_extractf128_ps(e, 1));
    }
};

constexpr int NN_MR = 6, NN_NV = 2, NN_NV1 = 8, NN_KC = 512;
constexpr int TN_KR = 6, TN_NV = 2;
constexpr int NT_MR = 2, NT_KR = 4;
constexpr int SX_NV = 8;  // sparse_input.inc: a row of 64 weight-gradient outputs in 8 ymm accumulators
constexpr bool SX_PAIRS = false;  // two rows of dw at a time (sparse_input.inc)

#include "gemm_tiles.inc"
typedef V::I VI;
#include "sparse_input.inc"
#include "weight_grad_narrow.inc"

}  // namespace

const GemmKernels& gemm_kernels_avx2() {
    static const GemmKernels k = {ISA_AVX2, "avx2", NN_NV * V::W, 32, nn_block, tn_any, nt_block,
                                   sx_weight_grad};
    return k;
}

}  // namespace d4j
