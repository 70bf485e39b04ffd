// The GEMM kernels of gemm_tiles.inc for AVX-512 (F, VL, BW, DQ): 32 zmm registers hold a 6 x 64 forward tile
// (24 accumulators) and a 6 x 64 weight-gradient tile; the tails of a column block use mask registers (no
// scalar loops, no stores outside the block). This unit alone is compiled with -mavx512* (CMakeLists.txt);
// it runs only where isa.cpp found avx512f/vl/bw/dq in CPUID.
// GCC 12's AVX-512 headers trip -Wuninitialized on their own placeholder vectors (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include "gemm_kernels.h"

namespace d4j {
namespace {

struct V {
    typedef __m512 T;
    typedef __mmask16 M;
    enum { W = 16, TILE_REDUCE = 1 };
    static inline T zero() { return _mm512_setzero_ps(); }
    static inline T load(const float* p) { return _mm512_loadu_ps(p); }
    static inline T loadm(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
    static inline void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    static inline void storem(float* p, T v, M m) { _mm512_mask_storeu_ps(p, m, v); }
    static inline T set1(float x) { return _mm512_set1_ps(x); }
    static inline T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
    static inline T add(T a, T b) { return _mm512_add_ps(a, b); }
    // max(0, v) with v second: maxps returns its second operand when one is NaN, so NaN propagates like relu()
    static inline T relu(T v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
    static inline M mask(int n) { return (M)((1u << n) - 1u); }
    // sparse_input.inc: bit `bit` of acc set in every lane where v is not +-0 (NaN included)
    typedef __m512i I;
    static inline I izero() { return _mm512_setzero_si512(); }
    static inline I col_bits(I acc, T v, unsigned bit) {
        const M nonzero = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        return _mm512_mask_or_epi32(acc, nonzero, acc, _mm512_set1_epi32((int)bit));
    }
    static inline void istore(uint32_t* p, I v) { _mm512_storeu_si512(p, v); }
    static inline float hsum(T v) {  // fixed tree: halves, then quarters, ...
        const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
        const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        const __m128 e = _mm_add_ps(q, _mm_movehl_ps(q, q));
        return _mm_cvtss_f32(_mm_add_ss(e, _mm_movehdup_ps(e)));
    }
    // The 16 sums of a 4 x 4 tile of input-gradient accumulators, a[c * 4 + r] for row r and column c, with the
    // tree of hsum (halves, quarters, pairs, last pair: the same bits) but shared shuffles: row r of the result
    // is 128-bit lane r of e.
    __attribute__((always_inline)) static inline void reduce_tile(const T* a, float* dx, int64_t ld) {
        T b[8], c[4];
        for (int i = 0; i < 8; i++)
            b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                                 _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
        for (int i = 0; i < 4; i++)
            c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                                 _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
        const T d0 = _mm512_add_ps(_mm512_unpacklo_ps(c[0], c[1]), _mm512_unpackhi_ps(c[0], c[1]));
        const T d1 = _mm512_add_ps(_mm512_unpacklo_ps(c[2], c[3]), _mm512_unpackhi_ps(c[2], c[3]));
        const T e = _mm512_add_ps(_mm512_shuffle_ps(d0, d1, 0x44), _mm512_shuffle_ps(d0, d1, 0xEE));
        _mm_storeu_ps(dx, _mm512_castps512_ps128(e));
        _mm_storeu_ps(dx + ld, _mm512_extractf32x4_ps(e, 1));
        _mm_storeu_ps(dx + 2 * ld, _mm512_extractf32x4_ps(e, 2));
        _mm_storeu_ps(dx + 3 * ld, _mm512_extractf32x4_ps(e, 3));
    }
};

constexpr int NN_MR = 6, NN_NV = 4, NN_NV1 = 8, NN_KC = 512;
constexpr int TN_KR = 6, TN_NV = 4;
constexpr int NT_MR = 4, NT_KR = 4;
constexpr int SX_NV = 8;  // sparse_input.inc: a row of 128 weight-gradient outputs in 8 zmm accumulators
constexpr bool SX_PAIRS = true;  // two rows of dw at a time (sparse_input.inc)

#include "gemm_tiles.inc"
typedef V::I VI;
#include "sparse_input.inc"
#include "weight_grad_narrow.inc"

}  // namespace

const GemmKernels& gemm_kernels_avx512() {
    static const GemmKernels k = {ISA_AVX512, "avx512", NN_NV * V::W, 128, nn_block, tn_any, nt_block,
                                   sx_weight_grad};
    return k;
}

}  // namespace d4j
