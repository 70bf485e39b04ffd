// Stubs for column_update_microbench.cpp: the optimizer units without the rest of the library (AVX-512 variant,
// the pool replaced by a serial loop; the microbenchmark runs its own two threads).
#include "gemm_kernels.h"
#include "thread_pool.h"
namespace d4j {
static GemmKernels k{ISA_AVX512, "avx512", 0, 0, nullptr, nullptr, nullptr, nullptr};
const GemmKernels& gemm_kernels() { return k; }
int team_size() { return 1; }
void parallel(const Region& r) {
    for (int i = 0; i < r.chunks; i++) r.run(r.ctx, i);
}
}  // namespace d4j
