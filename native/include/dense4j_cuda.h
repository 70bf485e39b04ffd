/*
 * Dense4J CUDA kernel API (C ABI, bound to Java by JavaCPP in io.dense4j.nativelib.CudaKernels).
 * Library: libdense4j_cuda (separate from libdense4j_cpu; cudart linked statically, so it loads on machines
 * without a GPU or driver, and every call then reports D4J_CUDA_ERR_NO_DEVICE). A build on a machine without a
 * CUDA compiler produces a placeholder library of the same name with the same functions: every call that needs
 * CUDA returns D4J_CUDA_ERR_NO_DEVICE saying "this build has no CUDA library" (see d4j_cuda_built_with_cuda).
 *
 * It mirrors dense4j.h (same layouts, enums and formulas) with these differences:
 *  - every tensor pointer (x, w, b, params, grads, opt_state, labels, targets, order, out...) is DEVICE memory,
 *    allocated with d4j_cuda_malloc; host pointers are said so explicitly (sizes, acts, dropout, hp, lrs,
 *    step, stats, and the small out-parameters of the query functions);
 *  - every function returns a D4J_CUDA_* code (or a value plus an out-parameter) and, on failure, sets a
 *    thread-local message readable with d4j_cuda_last_error();
 *  - single ops run asynchronously on the legacy default stream, in order with d4j_cuda_memcpy_* (which are
 *    synchronous); call d4j_cuda_synchronize() to wait and to collect asynchronous kernel errors;
 *  - a network owns its stream, workspace and CUDA graphs; d4j_cuda_net_train returns once its steps are done.
 *    Each network call first waits for all work already enqueued on the legacy default stream (single ops,
 *    d4j_cuda_memset, the tail of a pageable host-to-device copy), so no extra d4j_cuda_synchronize is needed
 *    between preparing buffers and training on them.
 *
 * Layout (as dense4j.h): row-major float32; a Dense layer has W float[in*out] (y = x.W + b) and b float[out];
 * the parameter buffer is ONE contiguous array W0, b0, W1, b1, ...; gradients use the same layout;
 * optimizer state holds D4J_CUDA_OPT_STATE_PER_PARAM * n floats: slot j of parameter i is state[j*n + i].
 */
#ifndef DENSE4J_CUDA_H
#define DENSE4J_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activations, losses and optimizers: the same numbers as D4J_ACT_*, D4J_LOSS_*, D4J_OPT_* in dense4j.h. */
enum {
    D4J_CUDA_ACT_LINEAR = 0, D4J_CUDA_ACT_RELU = 1, D4J_CUDA_ACT_SIGMOID = 2,
    D4J_CUDA_ACT_TANH = 3, D4J_CUDA_ACT_GELU = 4, D4J_CUDA_ACT_SOFTMAX = 5
};
enum { D4J_CUDA_LOSS_SPARSE_CCE = 0, D4J_CUDA_LOSS_CCE = 1, D4J_CUDA_LOSS_BCE = 2, D4J_CUDA_LOSS_MSE = 3 };
/* hp arrays (host, 5 floats) exactly as dense4j.h:
 *  SGD {momentum, dampening, weight_decay, nesterov}; ADAM/ADAMW {beta1, beta2, eps, weight_decay, amsgrad};
 *  RMSPROP {alpha, eps, weight_decay, momentum, centered}. Formulas as the PyTorch documentation gives them. */
enum { D4J_CUDA_OPT_SGD = 0, D4J_CUDA_OPT_ADAM = 1, D4J_CUDA_OPT_ADAMW = 2, D4J_CUDA_OPT_RMSPROP = 3 };
#define D4J_CUDA_OPT_HP_COUNT 5
#define D4J_CUDA_OPT_STATE_PER_PARAM 3

/* Return codes: 0..3 as D4J_OK, D4J_ERR_ARGUMENT, D4J_ERR_NONFINITE, D4J_ERR_MEMORY in dense4j.h. */
enum {
    D4J_CUDA_OK = 0,
    D4J_CUDA_ERR_ARGUMENT = 1,  /* a size, enum or pointer argument is invalid */
    D4J_CUDA_ERR_NONFINITE = 2, /* the loss became NaN or infinite: training stopped before that update */
    D4J_CUDA_ERR_MEMORY = 3,    /* device (or pinned host) allocation failed */
    D4J_CUDA_ERR_NO_DEVICE = 4, /* no usable CUDA driver or device (the message says which) */
    D4J_CUDA_ERR_CUDA = 5       /* any other CUDA runtime error (the message names the call and the error) */
};

/* Precision of the GEMMs (forward and both backward products). */
enum {
    D4J_CUDA_PRECISION_FP32 = 0, /* default: FP32 FMA on the CUDA cores */
    D4J_CUDA_PRECISION_TF32 = 1  /* tensor cores, mma.sync m16n8k8 TF32 inputs (10-bit mantissa), FP32 accumulation */
};

/* GEMM kernel variant, for benchmarks and comparisons. */
enum {
    D4J_CUDA_GEMM_AUTO = 0,   /* default: fast tiled kernel, tile shape and split-K chosen from the problem size */
    D4J_CUDA_GEMM_SIMPLE = 1, /* reference kernel: one thread per output, no shared memory (always FP32) */
    D4J_CUDA_GEMM_TILE_L = 2, /* fast kernel forced to 128x128 tiles */
    D4J_CUDA_GEMM_TILE_M = 3, /* fast kernel forced to 64x64 tiles */
    D4J_CUDA_GEMM_TILE_S = 4  /* fast kernel forced to 32x32 tiles */
};

/* ---- errors, devices, settings ------------------------------------------------------------------------ */

/* Message of the last failed call on this thread ("" if none). Valid until the next call on this thread. */
const char* d4j_cuda_last_error(void);

/* 1 in the library compiled with nvcc; 0 in the placeholder built without a CUDA compiler, whose every CUDA call
 * returns D4J_CUDA_ERR_NO_DEVICE with a message starting "this build has no CUDA library". */
int d4j_cuda_built_with_cuda(void);

/* *count gets the number of CUDA devices. Returns D4J_CUDA_ERR_NO_DEVICE (and *count = 0) when there is no
 * driver (cudaGetDeviceCount error 35 "insufficient driver" on machines without one), the driver is too old or
 * mismatched, or there is no device; any other CUDA failure (a driver that fails to initialise, say) is
 * D4J_CUDA_ERR_CUDA with the CUDA error named. */
int d4j_cuda_device_count(int* count);

/* Properties of device `device`: name (host char[name_capacity], NUL-terminated), info (host int64[6]):
 * {total global memory bytes, free memory bytes, compute capability major, minor, multiprocessor count,
 *  driver version (e.g. 13000)}. */
int d4j_cuda_device_info(int device, char* name, int name_capacity, int64_t* info);

/* Selects the device used by this thread's subsequent calls (default 0). A network stays on the device that
 * was current when it was created. */
int d4j_cuda_set_device(int device);
int d4j_cuda_get_device(int* device);

/* Process-wide settings, read when an op or a training call starts. Return D4J_CUDA_ERR_ARGUMENT if unknown. */
int d4j_cuda_set_precision(int precision);
int d4j_cuda_get_precision(void);
int d4j_cuda_set_gemm_variant(int variant);
int d4j_cuda_get_gemm_variant(void);

/* ---- memory --------------------------------------------------------------------------------------------- */

/* Device allocation (cudaMalloc, 256-byte aligned). Returns NULL on failure (see d4j_cuda_last_error). */
void* d4j_cuda_malloc(int64_t bytes);
int d4j_cuda_free(void* device_ptr);
/* Synchronous copies. h2d: host -> device; d2h: device -> host; d2d: device -> device. */
int d4j_cuda_memcpy_h2d(void* device_dst, const void* host_src, int64_t bytes);
int d4j_cuda_memcpy_d2h(void* host_dst, const void* device_src, int64_t bytes);
int d4j_cuda_memcpy_d2d(void* device_dst, const void* device_src, int64_t bytes);
/* Sets bytes of device memory to value (cudaMemset semantics), asynchronously on the default stream. */
int d4j_cuda_memset(void* device_ptr, int value, int64_t bytes);
/* Waits for all work on the current device; returns any asynchronous error of earlier kernels. */
int d4j_cuda_synchronize(void);

/* ---- single ops (device pointers; asynchronous on the default stream unless they return a host value) ---- */

/* General product for tests and benchmarks: C[M,N] = op(A) op(B), op(A) = A [M,K] (lda) or, when trans_a,
 * A^T with A stored [K,M] (lda); op(B) = B [K,N] (ldb) or, when trans_b, B^T with B stored [N,K] (ldb).
 * trans_a and trans_b may not both be set. Uses the precision and GEMM variant settings. */
int d4j_cuda_gemm(int trans_a, int trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                  float* c, int ldc);

/* As d4j_dense_forward: z = x.W + b (kept when z != NULL), y = act(z). */
int d4j_cuda_dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                           int n, int in, int out, int act);

/* As d4j_activation_backward: dz = (dy (.) mask) (.) act'(z, y); mask and z may be NULL (z not for GELU). */
int d4j_cuda_activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                                 int n, int k, int act);

/* As d4j_dense_backward: dW = x^T.dz, db = column sums of dz, dx = dz.W^T when dx != NULL. */
int d4j_cuda_dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                            int n, int in, int out);

/* As d4j_loss (labels int32 [n] on the device for SPARSE_CCE, else targets float [n,k] on the device).
 * Synchronous: *loss_sum (host) gets the SUM over rows of the per-sample loss, *correct (host, may be NULL)
 * the number of correct predictions. grad / probs (device, may be NULL) as in dense4j.h. */
int d4j_cuda_loss(int loss, const float* out, const int32_t* labels, const float* targets, float* grad,
                  float* probs, int n, int k, float grad_scale, double* loss_sum, int64_t* correct);

/* As d4j_clip_gradients. Synchronous: *norm (host, may be NULL) gets the norm after value clipping. */
int d4j_cuda_clip_gradients(float* grads, int64_t n, float max_norm, float clip_value, float* norm);

/* As d4j_optimizer_step: hp is a host float[5]; step is 1 for the first update. */
int d4j_cuda_optimizer_step(int kind, const float* hp, float lr, int64_t step, float* params, const float* grads,
                            float* state, int64_t n);

/* Gathers rows: out[r, :] = scale * data[row(r), :] for r < rows, where row(r) = order[first + r] (or first + r
 * when order is NULL) and data is uint8 [N, width] (gather_u8) or float [N, width] (gather_f32). */
int d4j_cuda_gather_u8(const uint8_t* data, float scale, int width, const int32_t* order, int64_t first, int rows,
                       float* out);
int d4j_cuda_gather_f32(const float* data, float scale, int width, const int32_t* order, int64_t first, int rows,
                        float* out);

/* Fills order[0..n) with a pseudo-random permutation of 0..n-1 drawn from seed, on the device (a keyed
 * Feistel bijection with cycle walking: one kernel, no sort, no host round trip). */
int d4j_cuda_permutation(int32_t* order, int64_t n, uint64_t seed);

/* Writes the dropout mask the networks use (float [rows*width], 0 or 1/(1-rate)) for (seed, step, layer):
 * the function of dense4j_dropout.h, the CPU engine's too (step: the updates done before the training step). */
int d4j_cuda_dropout_mask(float* mask, int rows, int width, float rate, uint64_t seed, int64_t step, int layer);

/* ---- whole network (the training engine) ------------------------------------------------------------- */

typedef struct d4j_cuda_net d4j_cuda_net;

/* Input data formats of d4j_cuda_net_train / d4j_cuda_net_forward: the data set is resident on the device,
 * either as uint8 (converted with x_scale while gathered, e.g. 1/255 for images) or as float (times x_scale). */
enum { D4J_CUDA_DATA_F32 = 0, D4J_CUDA_DATA_U8 = 1 };

/* As d4j_net_create, with params / grads / opt_state in DEVICE memory (borrowed, never freed here; opt_state
 * zeroed by the caller) and sizes, acts, dropout, opt_hp on the host. The last layer may not have dropout;
 * SPARSE_CCE / CCE need a softmax or linear last layer, BCE a sigmoid or linear one.
 * Returns NULL on failure (see d4j_cuda_last_error). */
d4j_cuda_net* d4j_cuda_net_create(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout,
                                  int loss, int max_batch, float* params, float* grads,
                                  int optimizer, const float* opt_hp, float* opt_state,
                                  float clip_norm, float clip_value);
void d4j_cuda_net_destroy(d4j_cuda_net* net);

/* Number of floats in the parameter buffer for these layer sizes (host computation, no device needed). */
int64_t d4j_cuda_param_count(int n_layers, const int32_t* sizes);

/* As d4j_net_train. x is the device data set [N, in] in format x_type scaled by x_scale; labels (int32 [N]) or
 * targets (float [N, out]) and order (int32, NULL = identity) are device arrays. lrs (host float[n_batches]),
 * step (host, in/out) and stats (host double[3], ACCUMULATED: loss sum, correct, rows) as in dense4j.h.
 * Each full-size step is replayed from a CUDA graph (one step captured once per data/shape/setting and replayed;
 * the step counter, batch position and learning rate live on the device), so the host never waits inside the
 * call's steps; it synchronises once at the end to read the statistics. */
int d4j_cuda_net_train(d4j_cuda_net* net, const void* x, int x_type, float x_scale, const int32_t* labels,
                       const float* targets, const int32_t* order, int64_t n_order, int64_t first, int batch,
                       int n_batches, const float* lrs, int64_t* step, uint64_t seed, double* stats);

/* As d4j_net_forward: n rows of x (device, format x_type, times x_scale), processed in chunks of max_batch.
 * out (device, may be NULL) gets the activated outputs [n, out_last]; with labels / targets (device), stats
 * (host double[3]) is ACCUMULATED. Synchronous. */
int d4j_cuda_net_forward(d4j_cuda_net* net, const void* x, int x_type, float x_scale, int64_t n, float* out,
                         const int32_t* labels, const float* targets, double* stats);

#ifdef __cplusplus
}
#endif

#endif /* DENSE4J_CUDA_H */
