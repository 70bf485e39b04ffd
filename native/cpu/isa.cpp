// Which GEMM kernel variant runs: the best this CPU supports (AVX-512 F/VL/BW/DQ, else AVX2 + FMA, else the
// portable one), chosen once from CPUID when the library loads. D4J_CPU_ISA=portable|avx2|avx512|auto in the
// environment, or d4j_set_isa at run time, forces one (tests run every variant the CPU has; benchmarks compare
// them). The library does not use OpenBLAS: OPENBLAS_CORETYPE has no say in any of this.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "dense4j.h"
#include "gemm_kernels.h"

namespace d4j {

bool isa_supported(int isa) {
    __builtin_cpu_init();
    switch (isa) {
        case ISA_PORTABLE: return true;
        case ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case ISA_AVX512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   isa_supported(ISA_AVX2);
        default: return false;
    }
}

static const GemmKernels* table_of(int isa) {
    switch (isa) {
        case ISA_AVX512: return &gemm_kernels_avx512();
        case ISA_AVX2: return &gemm_kernels_avx2();
        default: return &gemm_kernels_portable();
    }
}

static int best_isa() {
    for (int isa = ISA_AVX512; isa > ISA_PORTABLE; isa--)
        if (isa_supported(isa)) return isa;
    return ISA_PORTABLE;
}

// D4J_CPU_ISA, when set to a variant this CPU runs; otherwise the best one (an unknown or unsupported name is
// reported once on stderr rather than silently running something else than asked).
static int initial_isa() {
    const char* env = std::getenv("D4J_CPU_ISA");
    if (!env || !*env || std::strcmp(env, "auto") == 0) return best_isa();
    static const char* names[] = {"portable", "avx2", "avx512"};
    for (int isa = 0; isa < 3; isa++)
        if (std::strcmp(env, names[isa]) == 0) {
            if (isa_supported(isa)) return isa;
            std::fprintf(stderr, "dense4j: D4J_CPU_ISA=%s is not supported by this CPU; using %s\n", env,
                         names[best_isa()]);
            return best_isa();
        }
    std::fprintf(stderr, "dense4j: unknown D4J_CPU_ISA=%s (portable|avx2|avx512|auto); using %s\n", env,
                 names[best_isa()]);
    return best_isa();
}

static std::atomic<const GemmKernels*>& current() {
    static std::atomic<const GemmKernels*> k{table_of(initial_isa())};
    return k;
}

const GemmKernels& gemm_kernels() { return *current().load(std::memory_order_acquire); }

}  // namespace d4j

extern "C" int d4j_set_isa(int isa) {
    if (isa == D4J_ISA_AUTO) isa = d4j::best_isa();
    if (!d4j::isa_supported(isa)) return D4J_ERR_ARGUMENT;
    d4j::current().store(d4j::table_of(isa), std::memory_order_release);
    return D4J_OK;
}

extern "C" int d4j_get_isa(void) { return d4j::gemm_kernels().isa; }

extern "C" int d4j_isa_supported(int isa) { return d4j::isa_supported(isa) ? 1 : 0; }
