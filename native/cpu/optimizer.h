// An optimizer update prepared for one step: the constants hoisted, the specialised loop picked
// (optimizer_step.cpp). fn(o, p, g, s0, s1, s2, rows, n, ld) updates a block of rows x n parameters (row stride
// ld) and its three state slices; any piece of the buffer may be updated on its own, in any order, on any
// thread, with the same result. No standard headers here: the AVX-512 unit includes this.
#pragma once
#include <cstdint>

#pragma GCC visibility push(hidden)
namespace d4j {

struct OptStep;
typedef void (*OptFn)(const OptStep& o, float* p, const float* g, float* s0, float* s1, float* s2, int64_t rows,
                      int64_t n, int64_t ld);

struct OptStep {
    OptFn fn = nullptr;
    float lr = 0, mu = 0, keep = 0, wd = 0, b1 = 0, b2 = 0, c1 = 0, c2 = 0, eps = 0, alpha = 0;
    float step_size = 0, inv_bc2_sqrt = 0, decay = 0;
};

OptStep optimizer_prepare(int kind, const float* hp, float lr, int64_t step);
OptFn optimizer_kernel_baseline(int kind, unsigned flags);  // optimizer_step.cpp
OptFn optimizer_kernel_avx512(int kind, unsigned flags);    // optimizer_avx512.cpp

}  // namespace d4j
#pragma GCC visibility pop
