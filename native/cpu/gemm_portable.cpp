// The GEMM kernels of gemm_tiles.inc over plain floats (a "vector" of one lane, fused multiply-add through
// __builtin_fmaf): the fallback for a CPU without AVX2/FMA and the variant the others are tested against.
// Compiled with the library's baseline flags only. Same tiles and the same FMA chain per element as the SIMD
// variants, so its forward and weight-gradient results are bit-identical to theirs.
#include "gemm_kernels.h"

namespace d4j {
namespace {

struct V {
    typedef float T;
    typedef int M;
    enum { W = 1, TILE_REDUCE = 0 };
    static inline T zero() { return 0.0f; }
    static inline T load(const float* p) { return *p; }
    static inline T loadm(const float* p, M m) { return m ? *p : 0.0f; }
    static inline void store(float* p, T v) { *p = v; }
    static inline void storem(float* p, T v, M m) { if (m) *p = v; }
    static inline T set1(float x) { return x; }
    static inline T fma(T a, T b, T c) { return __builtin_fmaf(a, b, c); }
    static inline T add(T a, T b) { return a + b; }
    static inline T relu(T v) { return v < 0.0f ? 0.0f : v; }  // keeps NaN, like relu()
    static inline M mask(int n) { return n > 0; }
    // sparse_input.inc: bit `bit` of acc set where v is not +-0 (NaN included)
    typedef uint32_t I;
    static inline I izero() { return 0; }
    static inline I col_bits(I acc, T v, unsigned bit) { return v != 0.0f ? acc | bit : acc; }
    static inline void istore(uint32_t* p, I v) { *p = v; }
    static inline float hsum(T v) { return v; }
    static inline void reduce_tile(const T*, float*, int64_t) {}
};

constexpr int NN_MR = 4, NN_NV = 8, NN_NV1 = 16, NN_KC = 256;
constexpr int TN_KR = 4, TN_NV = 8;
constexpr int NT_MR = 2, NT_KR = 4;
constexpr int SX_NV = 16;  // sparse_input.inc: 16 weight-gradient outputs of a row in scalar accumulators
constexpr bool SX_PAIRS = false;  // two rows of dw at a time (sparse_input.inc)

#include "gemm_tiles.inc"
typedef V::I VI;
#include "sparse_input.inc"
#include "weight_grad_narrow.inc"

}  // namespace

const GemmKernels& gemm_kernels_portable() {
    static const GemmKernels k = {ISA_PORTABLE, "portable", NN_NV * V::W, 0, nn_block, tn_any, nt_block,
                                   sx_weight_grad};
    return k;
}

}  // namespace d4j
