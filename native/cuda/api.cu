// The C API of dense4j_cuda.h outside the network: error classification, device query, memory helpers and the
// single-op wrappers (which run on the legacy default stream with a per-device shared workspace). The host-only
// functions (last error, settings, parameter count) are in host_api.cpp.
#include "reduce.cuh"
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace d4j {

// "No device" means no usable driver or device at all (what Java turns into "CUDA is not available"): a missing
// or stub driver, one too old or mismatched for this runtime, no device, or every device unavailable. A driver
// that fails to initialise, an invalid device ordinal or an unsupported operation are real errors, reported as
// D4J_CUDA_ERR_CUDA with their name, never hidden behind "no device".
static bool is_no_device(cudaError_t e) {
    return e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || e == cudaErrorStubLibrary ||
           e == cudaErrorCallRequiresNewerDriver || e == cudaErrorSystemDriverMismatch ||
           e == cudaErrorCompatNotSupportedOnDevice || e == cudaErrorDevicesUnavailable;
}

int cuda_fail(cudaError_t e, const char* what) {
    cudaGetLastError();  // clear a non-sticky error so later calls start clean
    if (is_no_device(e))
        return set_error(D4J_CUDA_ERR_NO_DEVICE, "no CUDA device available: %s failed: %s (CUDA error %d: %s)", what,
                         cudaGetErrorString(e), (int)e, cudaGetErrorName(e));
    if (e == cudaErrorMemoryAllocation)
        return set_error(D4J_CUDA_ERR_MEMORY, "%s: out of device memory (CUDA error %d)", what, (int)e);
    return set_error(D4J_CUDA_ERR_CUDA, "%s failed: %s (CUDA error %d: %s)", what, cudaGetErrorString(e), (int)e,
                     cudaGetErrorName(e));
}

int current_precision();  // host_api.cpp
int current_variant();

// Per-device resources of the single-op API.
struct OpCtx {
    std::mutex mu;
    std::atomic<bool> ready{false};  // set under mu once the buffers exist (two threads' first calls may race)
    GemmWorkspace gw;
    DevState* st = nullptr;
    LossWork lw{};
    unsigned* opt_counter = nullptr;
};
static OpCtx g_ops[64];

int bad_label_error(uint64_t key, const int32_t* labels, const int32_t* order, int k) {
    const int64_t pos = (int64_t)~key;
    int32_t row = (int32_t)pos, label = 0;
    if (order && cudaMemcpy(&row, order + pos, sizeof row, cudaMemcpyDeviceToHost) != cudaSuccess) row = -1;
    if (row < 0 || cudaMemcpy(&label, labels + row, sizeof label, cudaMemcpyDeviceToHost) != cudaSuccess) {
        cudaGetLastError();
        return set_error(D4J_CUDA_ERR_ARGUMENT, "a label at position %lld is outside [0, %d)", (long long)pos, k);
    }
    if (order)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "label %d of row %d (position %lld of the order) is outside [0, %d)",
                         label, row, (long long)pos, k);
    return set_error(D4J_CUDA_ERR_ARGUMENT, "label %d of row %d is outside [0, %d)", label, row, k);
}

#define D4J_TRY(call, what)                                      \
    do {                                                         \
        cudaError_t e_ = (call);                                 \
        if (e_ != cudaSuccess) return cuda_fail(e_, what);       \
    } while (0)

static int op_ctx(OpCtx** out) {
    int dev = 0;
    D4J_TRY(cudaGetDevice(&dev), "cudaGetDevice");
    if (dev < 0 || dev >= 64) return set_error(D4J_CUDA_ERR_ARGUMENT, "device %d out of range", dev);
    OpCtx& c = g_ops[dev];
    if (!c.ready.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> lock(c.mu);
        if (c.ready.load(std::memory_order_relaxed)) { *out = &c; return D4J_CUDA_OK; }
        D4J_TRY(cudaMalloc(&c.st, sizeof(DevState)), "cudaMalloc");
        D4J_TRY(cudaMalloc(&c.lw.partial, 2 * kLossBlocksMax * sizeof(double)), "cudaMalloc");
        D4J_TRY(cudaMalloc(&c.lw.counter, (kGemmCounters + 2) * sizeof(unsigned)), "cudaMalloc");
        D4J_TRY(cudaMemset(c.lw.counter, 0, (kGemmCounters + 2) * sizeof(unsigned)), "cudaMemset");
        c.gw.counters = c.lw.counter + 2;
        c.gw.n_counters = kGemmCounters;
        c.opt_counter = c.lw.counter + 1;
        c.ready.store(true, std::memory_order_release);
    }
    *out = &c;
    return D4J_CUDA_OK;
}

static int op_ws(OpCtx* c, size_t floats) {
    if (floats <= c->gw.ws_floats) return D4J_CUDA_OK;
    if (c->gw.ws) { cudaDeviceSynchronize(); cudaFree(c->gw.ws); c->gw.ws = nullptr; c->gw.ws_floats = 0; }
    D4J_TRY(cudaMalloc(&c->gw.ws, floats * sizeof(float)), "cudaMalloc(workspace)");
    c->gw.ws_floats = floats;
    return D4J_CUDA_OK;
}

static int run_gemm(GemmCall& gc) {
    OpCtx* c;
    int rc = op_ctx(&c);
    if (rc) return rc;
    std::lock_guard<std::mutex> lock(c->mu);
    rc = op_ws(c, gemm_workspace_floats(gc.M, gc.N, gc.K));
    if (rc) return rc;
    D4J_TRY(gemm(gc, c->gw, 0), "GEMM kernel launch");
    return D4J_CUDA_OK;
}

static bool act_ok(int a) { return a >= D4J_CUDA_ACT_LINEAR && a <= D4J_CUDA_ACT_SOFTMAX; }

}  // namespace d4j

using namespace d4j;

extern "C" {

int d4j_cuda_built_with_cuda(void) { return 1; }

int d4j_cuda_device_count(int* count) {
    if (!count) return set_error(D4J_CUDA_ERR_ARGUMENT, "count is NULL");
    *count = 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        if (!is_no_device(e)) return cuda_fail(e, "cudaGetDeviceCount");
        return set_error(D4J_CUDA_ERR_NO_DEVICE,
                         "no CUDA device available: cudaGetDeviceCount failed with CUDA error %d (%s: %s)%s", (int)e,
                         cudaGetErrorName(e), cudaGetErrorString(e),
                         e == cudaErrorInsufficientDriver ? "; is the NVIDIA driver (libcuda.so.1) installed?" : "");
    }
    if (n <= 0) return set_error(D4J_CUDA_ERR_NO_DEVICE, "no CUDA device available: the driver reports 0 devices");
    *count = n;
    return D4J_CUDA_OK;
}

int d4j_cuda_device_info(int device, char* name, int name_capacity, int64_t* info) {
    int count = 0;
    int rc = d4j_cuda_device_count(&count);
    if (rc) return rc;
    if (device < 0 || device >= count)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "device %d does not exist (%d devices)", device, count);
    cudaDeviceProp p;
    D4J_TRY(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
    if (name && name_capacity > 0) {
        strncpy(name, p.name, (size_t)name_capacity - 1);
        name[name_capacity - 1] = 0;
    }
    if (info) {
        int prev = 0;
        cudaGetDevice(&prev);
        size_t free_b = 0, total_b = p.totalGlobalMem;
        D4J_TRY(cudaSetDevice(device), "cudaSetDevice");
        cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
        cudaSetDevice(prev);
        if (e != cudaSuccess) return cuda_fail(e, "cudaMemGetInfo");
        int drv = 0;
        cudaDriverGetVersion(&drv);
        info[0] = (int64_t)total_b;
        info[1] = (int64_t)free_b;
        info[2] = p.major;
        info[3] = p.minor;
        info[4] = p.multiProcessorCount;
        info[5] = drv;
    }
    return D4J_CUDA_OK;
}

int d4j_cuda_set_device(int device) {
    int count = 0;
    int rc = d4j_cuda_device_count(&count);
    if (rc) return rc;
    if (device < 0 || device >= count)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "device %d does not exist (%d devices)", device, count);
    D4J_TRY(cudaSetDevice(device), "cudaSetDevice");
    return D4J_CUDA_OK;
}

int d4j_cuda_get_device(int* device) {
    if (!device) return set_error(D4J_CUDA_ERR_ARGUMENT, "device is NULL");
    D4J_TRY(cudaGetDevice(device), "cudaGetDevice");
    return D4J_CUDA_OK;
}

void* d4j_cuda_malloc(int64_t bytes) {
    if (bytes < 0) { set_error(D4J_CUDA_ERR_ARGUMENT, "negative size %lld", (long long)bytes); return nullptr; }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes == 0 ? 1 : (size_t)bytes);
    if (e != cudaSuccess) {
        char what[64];
        snprintf(what, sizeof what, "cudaMalloc(%lld bytes)", (long long)bytes);
        cuda_fail(e, what);
        return nullptr;
    }
    return p;
}

int d4j_cuda_free(void* p) {
    if (!p) return D4J_CUDA_OK;
    D4J_TRY(cudaFree(p), "cudaFree");
    return D4J_CUDA_OK;
}

int d4j_cuda_memcpy_h2d(void* dst, const void* src, int64_t bytes) {
    if (bytes < 0 || (bytes > 0 && (!dst || !src))) return set_error(D4J_CUDA_ERR_ARGUMENT, "bad memcpy arguments");
    if (bytes == 0) return D4J_CUDA_OK;
    D4J_TRY(cudaMemcpy(dst, src, (size_t)bytes, cudaMemcpyHostToDevice), "cudaMemcpy(host to device)");
    return D4J_CUDA_OK;
}
int d4j_cuda_memcpy_d2h(void* dst, const void* src, int64_t bytes) {
    if (bytes < 0 || (bytes > 0 && (!dst || !src))) return set_error(D4J_CUDA_ERR_ARGUMENT, "bad memcpy arguments");
    if (bytes == 0) return D4J_CUDA_OK;
    D4J_TRY(cudaMemcpy(dst, src, (size_t)bytes, cudaMemcpyDeviceToHost), "cudaMemcpy(device to host)");
    return D4J_CUDA_OK;
}
int d4j_cuda_memcpy_d2d(void* dst, const void* src, int64_t bytes) {
    if (bytes < 0 || (bytes > 0 && (!dst || !src))) return set_error(D4J_CUDA_ERR_ARGUMENT, "bad memcpy arguments");
    if (bytes == 0) return D4J_CUDA_OK;
    D4J_TRY(cudaMemcpy(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy(device to device)");
    return D4J_CUDA_OK;
}
int d4j_cuda_memset(void* p, int value, int64_t bytes) {
    if (bytes < 0 || (bytes > 0 && !p)) return set_error(D4J_CUDA_ERR_ARGUMENT, "bad memset arguments");
    if (bytes == 0) return D4J_CUDA_OK;
    D4J_TRY(cudaMemsetAsync(p, value, (size_t)bytes, 0), "cudaMemsetAsync");
    return D4J_CUDA_OK;
}
int d4j_cuda_synchronize(void) {
    D4J_TRY(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    D4J_TRY(cudaGetLastError(), "an earlier kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_gemm(int trans_a, int trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                  float* c, int ldc) {
    if (m < 0 || n < 0 || k < 0 || (trans_a && trans_b) || !c || (k > 0 && (!a || !b)) || ldc < n ||
        lda < (trans_a ? m : k) || ldb < (trans_b ? k : n))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid GEMM arguments");
    GemmCall gc;
    gc.ta = trans_a != 0; gc.tb = trans_b != 0;
    gc.M = m; gc.N = n; gc.K = k; gc.A = a; gc.lda = lda; gc.B = b; gc.ldb = ldb; gc.C = c; gc.ldc = ldc;
    gc.precision = current_precision();
    gc.variant = current_variant();
    return run_gemm(gc);
}

int d4j_cuda_dense_forward(const float* x, const float* w, const float* b, float* z, float* y, int n, int in,
                           int out, int act) {
    if (n < 0 || in <= 0 || out <= 0 || !act_ok(act) || !y || (n > 0 && (!x || !w || !b)))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid dense_forward arguments");
    if (n == 0) return D4J_CUDA_OK;
    GemmCall gc;
    gc.M = n; gc.N = out; gc.K = in; gc.A = x; gc.lda = in; gc.B = w; gc.ldb = out; gc.ldc = out;
    gc.precision = current_precision();
    gc.variant = current_variant();
    gc.ep.mode = EPI_FORWARD;
    gc.ep.bias = b;
    if (act == D4J_CUDA_ACT_SOFTMAX) {
        gc.ep.act = D4J_CUDA_ACT_LINEAR;
        gc.C = z ? z : y;
        int rc = run_gemm(gc);
        if (rc) return rc;
        D4J_TRY(activation_forward_rows(gc.C, y, nullptr, n, out, act, 0.f, 0, nullptr, 0), "softmax kernel");
        return D4J_CUDA_OK;
    }
    gc.ep.act = act;
    gc.ep.z = z;
    gc.C = y;
    return run_gemm(gc);
}

int d4j_cuda_activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                                 int n, int k, int act) {
    if (n < 0 || k <= 0 || !act_ok(act) || (n > 0 && (!y || !dy || !dz)) ||
        (act == D4J_CUDA_ACT_GELU && n > 0 && !z))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid activation_backward arguments");
    D4J_TRY(activation_backward(z, y, mask, dy, dz, n, k, act, 0), "activation_backward kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx, int n,
                            int in, int out) {
    if (n < 0 || in <= 0 || out <= 0 || !dw || !db || (n > 0 && (!x || !dz)) || (dx && !w))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid dense_backward arguments");
    GemmCall gc;
    gc.ta = true;
    gc.M = in; gc.N = out; gc.K = n; gc.A = x; gc.lda = in; gc.B = dz; gc.ldb = out; gc.C = dw; gc.ldc = out;
    gc.precision = current_precision();
    gc.variant = current_variant();
    int rc = run_gemm(gc);
    if (rc) return rc;
    D4J_TRY(bias_grad(dz, db, n, out, 0), "bias_grad kernel");
    if (dx && n > 0) {
        GemmCall gi;
        gi.tb = true;
        gi.M = n; gi.N = in; gi.K = out; gi.A = dz; gi.lda = out; gi.B = w; gi.ldb = out; gi.C = dx; gi.ldc = in;
        gi.precision = gc.precision;
        gi.variant = gc.variant;
        return run_gemm(gi);
    }
    return D4J_CUDA_OK;
}

int d4j_cuda_loss(int loss, const float* out, const int32_t* labels, const float* targets, float* grad, float* probs,
                  int n, int k, float grad_scale, double* loss_sum, int64_t* correct) {
    if (loss < D4J_CUDA_LOSS_SPARSE_CCE || loss > D4J_CUDA_LOSS_MSE || n <= 0 || k <= 0 || !out || !loss_sum ||
        (loss == D4J_CUDA_LOSS_SPARSE_CCE ? !labels : !targets))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid loss arguments");
    OpCtx* c;
    int rc = op_ctx(&c);
    if (rc) return rc;
    std::lock_guard<std::mutex> lock(c->mu);
    D4J_TRY(cudaMemsetAsync(c->st, 0, sizeof(DevState), 0), "cudaMemsetAsync");
    if (loss == D4J_CUDA_LOSS_SPARSE_CCE) D4J_TRY(check_labels(labels, nullptr, 0, n, k, c->st, 0), "label check kernel");
    LossSink sink{c->st, nullptr, 0, 0.f, 0.f};
    cudaError_t e;
    if (loss <= D4J_CUDA_LOSS_CCE)
        e = softmax_xent(loss == D4J_CUDA_LOSS_SPARSE_CCE, out, labels, targets, grad, probs, n, k, grad_scale, c->lw,
                         sink, 0);
    else
        e = loss_bce_mse(loss, out, nullptr, D4J_CUDA_ACT_LINEAR, targets, grad, probs, n, k, grad_scale, c->lw, sink, 0);
    if (e != cudaSuccess) return cuda_fail(e, "loss kernel");
    DevState h;
    D4J_TRY(cudaMemcpy(&h, c->st, sizeof h, cudaMemcpyDeviceToHost), "cudaMemcpy(loss)");
    if (h.bad_label) return bad_label_error(h.bad_label, labels, nullptr, k);
    *loss_sum = h.loss_sum;
    if (correct) *correct = (int64_t)h.correct;
    return D4J_CUDA_OK;
}

int d4j_cuda_clip_gradients(float* grads, int64_t n, float max_norm, float clip_value, float* norm) {
    if (n < 0 || (n > 0 && !grads)) return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid clip arguments");
    OpCtx* c;
    int rc = op_ctx(&c);
    if (rc) return rc;
    std::lock_guard<std::mutex> lock(c->mu);
    D4J_TRY(cudaMemsetAsync(c->st, 0, sizeof(DevState), 0), "cudaMemsetAsync");
    D4J_TRY(grad_norm(grads, n, max_norm, clip_value, c->lw, c->st, 0), "grad_norm kernel");
    if (max_norm > 0.f || clip_value > 0.f) D4J_TRY(clip_scale(grads, n, clip_value, c->st, 0), "clip kernel");
    DevState h;
    D4J_TRY(cudaMemcpy(&h, c->st, sizeof h, cudaMemcpyDeviceToHost), "cudaMemcpy(norm)");
    if (norm) *norm = (float)h.grad_norm;
    return D4J_CUDA_OK;
}

int d4j_cuda_optimizer_step(int kind, const float* hp, float lr, int64_t step, float* params, const float* grads,
                            float* state, int64_t n) {
    if (kind < D4J_CUDA_OPT_SGD || kind > D4J_CUDA_OPT_RMSPROP || !hp || step < 1 || n < 0 ||
        (n > 0 && (!params || !grads || !state)))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid optimizer_step arguments");
    OpCtx* c;
    int rc = op_ctx(&c);
    if (rc) return rc;
    std::lock_guard<std::mutex> lock(c->mu);
    DevState h;
    memset(&h, 0, sizeof h);
    h.step = step - 1;
    h.t = step;
    h.lr = lr;
    h.clip_factor = 1.f;
    h.bc1 = 1.0 - pow((double)hp[0], (double)step);
    h.bc2 = 1.0 - pow((double)hp[1], (double)step);
    D4J_TRY(cudaMemcpy(c->st, &h, sizeof h, cudaMemcpyHostToDevice), "cudaMemcpy(state)");
    OptHyper oh;
    oh.kind = kind;
    for (int i = 0; i < 5; ++i) oh.h[i] = hp[i];
    oh.clip_value = 0.f;
    D4J_TRY(optimizer_update(oh, params, grads, state, n, c->st, c->opt_counter, 0), "optimizer kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_gather_u8(const uint8_t* data, float scale, int width, const int32_t* order, int64_t first, int rows,
                       float* out) {
    if (width <= 0 || rows < 0 || first < 0 || (rows > 0 && (!data || !out)))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid gather arguments");
    D4J_TRY(gather(data, 1, scale, width, order, first, 0, nullptr, rows, out, nullptr, nullptr, nullptr, 0, nullptr, 0),
            "gather kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_gather_f32(const float* data, float scale, int width, const int32_t* order, int64_t first, int rows,
                        float* out) {
    if (width <= 0 || rows < 0 || first < 0 || (rows > 0 && (!data || !out)))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid gather arguments");
    D4J_TRY(gather(data, 0, scale, width, order, first, 0, nullptr, rows, out, nullptr, nullptr, nullptr, 0, nullptr, 0),
            "gather kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_permutation(int32_t* order, int64_t n, uint64_t seed) {
    if (n < 0 || n > 0x7fffffffLL || (n > 0 && !order))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid permutation arguments");
    D4J_TRY(permutation(order, n, seed, 0), "permutation kernel");
    return D4J_CUDA_OK;
}

int d4j_cuda_dropout_mask(float* mask, int rows, int width, float rate, uint64_t seed, int64_t step, int layer) {
    if (rows < 0 || width < 0 || !(rate >= 0.f && rate < 1.f) || (rows > 0 && width > 0 && !mask))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid dropout arguments");
    D4J_TRY(dropout_mask(mask, rows, width, rate, seed, step, layer, 0), "dropout kernel");
    return D4J_CUDA_OK;
}

}  // extern "C"
