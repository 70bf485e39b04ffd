// libdense4j_cuda as built WITHOUT a CUDA compiler (no nvcc when CMake ran; see native/CMakeLists.txt): every
// entry point of dense4j_cuda.h exists, so the JNI binding links and loads and the jar works on the CPU, and every
// call that needs CUDA returns D4J_CUDA_ERR_NO_DEVICE with kNoCuda as its message, which Java shows as
// "CUDA device cuda:0 is not available: this build has no CUDA library: ...". The host-only functions (settings,
// parameter count, last error) are the real ones (host_api.cpp). d4j_cuda_built_with_cuda() tells the two apart.
#include "dense4j_cuda.h"

namespace d4j {
int set_error(int code, const char* fmt, ...);
}
using d4j::set_error;

static const char kNoCuda[] =
    "this build has no CUDA library: libdense4j_cuda was built without a CUDA compiler (nvcc was not found when the "
    "native module was compiled), so only the CPU device works; rebuild with the CUDA toolkit installed to use a GPU";

static int no_cuda() { return set_error(D4J_CUDA_ERR_NO_DEVICE, "%s", kNoCuda); }

extern "C" {

int d4j_cuda_built_with_cuda(void) { return 0; }

int d4j_cuda_device_count(int* count) {
    if (count) *count = 0;
    return no_cuda();
}
int d4j_cuda_device_info(int, char* name, int name_capacity, int64_t*) {
    if (name && name_capacity > 0) name[0] = 0;
    return no_cuda();
}
int d4j_cuda_set_device(int) { return no_cuda(); }
int d4j_cuda_get_device(int*) { return no_cuda(); }

void* d4j_cuda_malloc(int64_t) { no_cuda(); return nullptr; }
int d4j_cuda_free(void* p) { return p ? no_cuda() : D4J_CUDA_OK; }
int d4j_cuda_memcpy_h2d(void*, const void*, int64_t) { return no_cuda(); }
int d4j_cuda_memcpy_d2h(void*, const void*, int64_t) { return no_cuda(); }
int d4j_cuda_memcpy_d2d(void*, const void*, int64_t) { return no_cuda(); }
int d4j_cuda_memset(void*, int, int64_t) { return no_cuda(); }
int d4j_cuda_synchronize(void) { return no_cuda(); }

int d4j_cuda_gemm(int, int, int, int, int, const float*, int, const float*, int, float*, int) { return no_cuda(); }
int d4j_cuda_dense_forward(const float*, const float*, const float*, float*, float*, int, int, int, int) {
    return no_cuda();
}
int d4j_cuda_activation_backward(const float*, const float*, const float*, const float*, float*, int, int, int) {
    return no_cuda();
}
int d4j_cuda_dense_backward(const float*, const float*, const float*, float*, float*, float*, int, int, int) {
    return no_cuda();
}
int d4j_cuda_loss(int, const float*, const int32_t*, const float*, float*, float*, int, int, float, double*,
                  int64_t*) {
    return no_cuda();
}
int d4j_cuda_clip_gradients(float*, int64_t, float, float, float*) { return no_cuda(); }
int d4j_cuda_optimizer_step(int, const float*, float, int64_t, float*, const float*, float*, int64_t) {
    return no_cuda();
}
int d4j_cuda_gather_u8(const uint8_t*, float, int, const int32_t*, int64_t, int, float*) { return no_cuda(); }
int d4j_cuda_gather_f32(const float*, float, int, const int32_t*, int64_t, int, float*) { return no_cuda(); }
int d4j_cuda_permutation(int32_t*, int64_t, uint64_t) { return no_cuda(); }
int d4j_cuda_dropout_mask(float*, int, int, float, uint64_t, int64_t, int) { return no_cuda(); }

d4j_cuda_net* d4j_cuda_net_create(int, const int32_t*, const int32_t*, const float*, int, int, float*, float*, int,
                                  const float*, float*, float, float) {
    no_cuda();
    return nullptr;
}
void d4j_cuda_net_destroy(d4j_cuda_net*) {}
int d4j_cuda_net_train(d4j_cuda_net*, const void*, int, float, const int32_t*, const float*, const int32_t*, int64_t,
                       int64_t, int, int, const float*, int64_t*, uint64_t, double*) {
    return no_cuda();
}
int d4j_cuda_net_forward(d4j_cuda_net*, const void*, int, float, int64_t, float*, const int32_t*, const float*,
                         double*) {
    return no_cuda();
}

}  // extern "C"
