// CPU execution harness of the Dense4J CUDA kernels: this header stands in for <cuda_runtime.h> when the kernel
// sources (native/cuda/*.cu) are compiled as plain C++ with D4J_CUDA_EMULATION (see CMakeLists.txt beside it).
// It provides what those sources use and nothing more:
//  - the qualifiers (__global__, __device__, __shared__ = per-block storage, ...), dim3 / float4 / uchar4;
//  - the built-ins: threadIdx, blockIdx, blockDim, gridDim (set per emulated thread), __syncthreads (a barrier
//    over the emulated threads of one block), __shfl_xor_sync (exchanged among the 32 lanes of one warp),
//    atomics, __ldg / __ldcg, __threadfence, and the two PTX instructions of the TF32 GEMM (cvt.rna.tf32.f32 and
//    mma.sync.m16n8k8 with its documented fragment layout, emu.cpp);
//  - the runtime calls: memory (host memory with guard bytes), streams and events (executed in order at once),
//    graph capture (launches recorded and replayed), device queries (one emulated sm_90 device, 132 SMs), and
//    error injection and checks for the tests (d4j_emu_* below).
// Each CUDA thread of a block runs as a user-level thread (its own stack) on one host thread; a barrier or a warp
// operation switches to the next one. See emu.cpp for the schedule and for what this cannot catch.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <math.h>

// ---- qualifiers -------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local  // one copy per host thread = per block being run (blocks never interleave)
#define __align__(n) __attribute__((aligned(n)))

// ---- vector types -------------------------------------------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(4))) uchar4 { unsigned char x, y, z, w; };
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

// ---- built-in variables: written by the scheduler before it resumes an emulated thread ----------------------
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

// ---- device functions ---------------------------------------------------------------------------------------
void __syncthreads();
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
    unsigned long long old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    return old;
}
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

namespace d4j_emu {
// Warp exchange: every lane of the warp posts 8 bytes and receives those of lane (its lane ^ lane_mask).
uint64_t shfl_xor(unsigned mask, uint64_t bits, int lane_mask);
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 d, a, b, d for the calling lane (a warp-wide operation).
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
// cvt.rna.tf32.f32: to the 10-bit mantissa of TF32, nearest, ties away from zero; low 13 bits zero.
float cvt_rna_tf32(float x);
}  // namespace d4j_emu

template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
    static_assert(sizeof(T) <= 8, "8 bytes at most");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    bits = d4j_emu::shfl_xor(mask, bits, lane_mask);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

// ---- runtime API (the subset the sources use; numbering of the error codes as in CUDA) ---------------------------
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorStubLibrary = 34,
    cudaErrorInsufficientDriver = 35,
    cudaErrorCallRequiresNewerDriver = 36,
    cudaErrorDevicesUnavailable = 46,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchFailure = 719,
    cudaErrorNotSupported = 801,
    cudaErrorSystemDriverMismatch = 803,
    cudaErrorCompatNotSupportedOnDevice = 804,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorStreamCaptureInvalidated = 901,
    cudaErrorStreamCaptureImplicit = 906,
    cudaErrorUnknown = 999,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
                             cudaStreamCaptureModeRelaxed = 2 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
typedef CUgraph_st* cudaGraph_t;
typedef CUgraphExec_st* cudaGraphExec_t;
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaStreamNonBlocking 0x01
#define cudaEventDisableTiming 0x02
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major, minor, multiProcessorCount;
};

cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** p, size_t bytes);
cudaError_t cudaMallocHost(void** p, size_t bytes);
template <typename T> inline cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc((void**)p, bytes); }
template <typename T> inline cudaError_t cudaMallocHost(T** p, size_t bytes) { return cudaMallocHost((void**)p, bytes); }
cudaError_t cudaFree(void* p);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

// ---- kernel launch: D4J_LAUNCH(grid, block, smem, stream, kernel)(args...) (common.cuh) --------------------------
namespace d4j_emu {
// Runs body once per thread of every block (or records it into the graph being captured on s).
void submit(dim3 grid, dim3 block, size_t smem, cudaStream_t s, std::function<void()> body);

template <typename... P>
struct Launch {
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    void (*kernel)(P...);
    void operator()(P... args) const {
        void (*k)(P...) = kernel;
        submit(grid, block, smem, stream, [=]() { k(args...); });
    }
};
template <typename... P>
Launch<P...> launch(dim3 grid, dim3 block, size_t smem, cudaStream_t s, void (*kernel)(P...)) {
    return Launch<P...>{grid, block, smem, s, kernel};
}
}  // namespace d4j_emu

// ---- for the tests (emu.cpp) ------------------------------------------------------------------------------------
extern "C" {
// The next call of the runtime function `api` (e.g. "cudaGraphInstantiate") fails with `error`.
void d4j_emu_fail_next(const char* api, int error);
// Problems the emulator found so far (barrier or warp divergence, writes past an allocation, host writes to a
// pinned buffer while an asynchronous copy from or into it was in flight...), each printed once when found.
int d4j_emu_problems(void);
}
