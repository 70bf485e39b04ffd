// The host-only part of the C API of dense4j_cuda.h, shared by the CUDA library and by the no-CUDA placeholder
// (no_cuda.cpp): the thread-local error message, the process-wide GEMM settings and the parameter count. Plain
// C++ (no CUDA header), so that a build without a CUDA compiler still has one copy of these rules.
#include "dense4j_cuda.h"
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace d4j {

static thread_local std::string g_error;

int set_error(int code, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_error = buf;
    return code;
}

static std::atomic<int> g_precision{D4J_CUDA_PRECISION_FP32};
static std::atomic<int> g_variant{D4J_CUDA_GEMM_AUTO};
int current_precision() { return g_precision.load(); }
int current_variant() { return g_variant.load(); }

}  // namespace d4j

using namespace d4j;

extern "C" {

const char* d4j_cuda_last_error(void) { return g_error.c_str(); }

int d4j_cuda_set_precision(int precision) {
    if (precision != D4J_CUDA_PRECISION_FP32 && precision != D4J_CUDA_PRECISION_TF32)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "unknown precision %d", precision);
    g_precision = precision;
    return D4J_CUDA_OK;
}
int d4j_cuda_get_precision(void) { return g_precision.load(); }

int d4j_cuda_set_gemm_variant(int variant) {
    if (variant < D4J_CUDA_GEMM_AUTO || variant > D4J_CUDA_GEMM_TILE_S)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "unknown GEMM variant %d", variant);
    g_variant = variant;
    return D4J_CUDA_OK;
}
int d4j_cuda_get_gemm_variant(void) { return g_variant.load(); }

int64_t d4j_cuda_param_count(int n_layers, const int32_t* sizes) {
    if (n_layers <= 0 || !sizes) return 0;
    int64_t c = 0;
    for (int l = 0; l < n_layers; ++l) c += (int64_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    return c;
}

}  // extern "C"
