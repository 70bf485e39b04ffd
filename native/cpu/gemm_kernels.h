// The three GEMM-shaped products of a dense layer, written by hand for small batches (M = 1..64 rows against
// layers of up to a few thousand units), in one variant per instruction set:
//   nn: c[m,n] = (addend[m,n] +) a[m,k] . b[k,n] (+ bias[n]), then z = c and y = relu(c) or c   (forward, fused epilogue)
//   tn: dw[k,n] = x[m,k]^T . dz[m,n]                                           (weight gradient)
//   nt: dx[m,k] = dz[m,n] . w[k,n]^T                                           (input gradient)
// and tn again for an x with many exact zeros, leaving them out (sx_weight_grad, sparse_input.inc: same bits).
// All operands are row-major with explicit leading dimensions, so a caller hands a kernel any rectangular
// block (a thread's share of a product) without copying; the weights are read in the layout they are kept in
// (Keras [in, out]), so nothing outside the kernels depends on which variant runs.
//
// Every variant computes each element of nn and tn as ONE fused multiply-add chain over the reduction index
// in increasing order, starting from 0 (bias added after the chain): the result of an element does not depend
// on the tiling, the block a thread was given or the vector width. So the AVX-512, AVX2 and portable variants
// give bit-identical nn/tn results, and so does any split of the outputs across threads. nt's dot-product form
// reduces over n in vector lanes and then a fixed tree, so it is deterministic per variant, and equal across
// variants within rounding; its packed form (large batches) is one FMA chain per element like nn.
//
// Variants live in their own translation units compiled with their own ISA flags (gemm_avx512.cpp,
// gemm_avx2.cpp, gemm_portable.cpp), with every helper in an anonymous namespace: nothing inline is shared
// between them, so the linker can never keep an AVX-512 copy of a function that baseline code calls
// (see ../shared/docs/cpu-kernels.md section 4). The variant is chosen once by CPUID (isa.cpp) and can be
// forced with D4J_CPU_ISA=portable|avx2|avx512 or d4j_set_isa.
#pragma once
#include <cstdint>

#pragma GCC visibility push(hidden)
namespace d4j {

struct NNArgs {
    const float* a;      // [m, k], row stride lda
    const float* b;      // [k, n], row stride ldb
    const float* bias;   // [n] or nullptr
    float* z;            // [m, n] row stride ldc, or nullptr: a + b product plus bias
    float* y;            // [m, n] row stride ldc, or nullptr: relu(z) when relu, else z
    int64_t lda, ldb, ldc;
    int m, n, k;
    int relu;
    const float* addend = nullptr;  // [m, n] row stride ldc, or nullptr: added to the product before the bias,
                                    // (addend + a.b) + bias, as the sum of two split-K slices (net.cpp)
};

struct TNArgs {
    const float* x;      // [m, k], row stride ldx
    const float* dz;     // [m, n], row stride lddz
    float* dw;           // [k, n], row stride lddw (overwritten)
    int64_t ldx, lddz, lddw;
    int m, k, n;
};

struct NTArgs {
    const float* dz;     // [m, n], row stride lddz
    const float* w;      // [k, n], row stride ldw
    float* dx;           // [m, k], row stride lddx (overwritten)
    int64_t lddz, ldw, lddx;
    int m, n, k;
    bool packed;         // the packed form (one FMA chain per element, as nn) instead of dot products; chosen per
                         // product by the caller (input_grad_packs), never per block, so any split gives the same bits
};

enum Isa { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

struct GemmKernels {
    int isa;
    const char* name;
    int col_block;       // column width the kernels are blocked by (floats): split outputs on multiples of it
    int nt_pack_rows;    // batch rows from which nt's packed form beats its dot-product form (0: never), measured
                         // by tests/bench_input_grad.cpp
    void (*nn)(const NNArgs&);
    void (*tn)(const TNArgs&);
    void (*nt)(const NTArgs&);
    // tn skipping the exact zeros of x (sparse_input.inc), for m <= SX_MAX_ROWS batch rows: the same bits as tn;
    // blocks of inputs whose share of non-zero x is above max_density go to tn. Returns the blocks it skipped zeros
    // in.
    int (*sx_weight_grad)(const TNArgs&, float max_density);
};
constexpr int SX_MAX_ROWS = 256;  // batch rows sx_weight_grad takes (8 masks of 32 rows per input)

const GemmKernels& gemm_kernels_portable();
const GemmKernels& gemm_kernels_avx2();
const GemmKernels& gemm_kernels_avx512();

// The variant in use (chosen at load, or forced); see isa.cpp.
const GemmKernels& gemm_kernels();
bool isa_supported(int isa);

}  // namespace d4j
#pragma GCC visibility pop
