// The optimizer loops of optimizer_kernels.inc compiled for AVX-512 (16 floats per divide and square root);
// this unit alone gets -mavx512* (CMakeLists.txt) and runs only where isa.cpp chose the AVX-512 variant.
#include "dense4j.h"
#include "optimizer.h"

namespace d4j {
namespace {
#include "optimizer_kernels.inc"
}  // namespace

OptFn optimizer_kernel_avx512(int kind, unsigned flags) { return opt_pick(kind, flags); }

}  // namespace d4j
