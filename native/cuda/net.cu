// The training engine on the GPU: a network of Dense layers over caller-owned device buffers (one contiguous
// parameter buffer W0, b0, W1, b1...; gradients and optimizer state likewise), mirroring d4j_net_* of dense4j.h.
//
// One training step, all on the network's own stream, 7 kernels for the 784-128-10 reference network:
//   gather (uint8 -> float, labels) | forward GEMM per layer (bias + activation + dropout in the epilogue) |
//   fused loss (softmax + cross-entropy: gradient, loss, correct count, step bookkeeping) |
//   per layer, last to first: weight-gradient GEMM writing [dW; db] at once (implicit ones row), and except for
//   the first layer the input-gradient GEMM with the previous activation derivative and dropout mask folded in |
//   [global-norm clipping] | one optimizer kernel over the whole buffer (advances the device step counter).
// Every per-step value (rows position, step counter, learning rate, bias corrections, dropout step) is read
// from a DevState in device memory, so a full-size step is captured ONCE in a CUDA graph (8 unrolled steps and
// a single step) and replayed: the host only enqueues graph launches and synchronises once per call to read
// the statistics. The last, partial batch of an epoch runs the same kernels uncaptured.
#include "reduce.cuh"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace d4j {
int current_precision();
int current_variant();
}  // namespace d4j

using namespace d4j;

struct GraphKey {
    const void* x = nullptr; int x_type = -1; float x_scale = 0.f;
    const int32_t* labels = nullptr; const float* targets = nullptr; const int32_t* order = nullptr;
    int batch = 0; int precision = -1; int variant = -1; const float* lrs = nullptr;
    bool operator==(const GraphKey& o) const {
        return x == o.x && x_type == o.x_type && x_scale == o.x_scale && labels == o.labels && targets == o.targets &&
               order == o.order && batch == o.batch && precision == o.precision && variant == o.variant && lrs == o.lrs;
    }
};

struct d4j_cuda_net {
    int device = 0;
    int L = 0;
    std::vector<int> sizes, acts;
    std::vector<float> drop;
    int loss = 0, max_batch = 0, optimizer = 0;
    float hp[5] = {0, 0, 0, 0, 0};
    float clip_norm = 0.f, clip_value = 0.f;
    float* params = nullptr; float* grads = nullptr; float* state = nullptr;
    int64_t n_params = 0;
    std::vector<int64_t> woff;
    cudaStream_t stream = nullptr;
    cudaEvent_t legacy_done = nullptr;  // orders the stream after earlier legacy-default-stream work (see join_legacy)
    float* xb = nullptr;
    std::vector<float*> y, yd, z, dz;
    int32_t* lab = nullptr; float* tgt = nullptr;
    DevState* st = nullptr; DevState* st_eval = nullptr; DevState* st_host = nullptr;
    LossWork lw{};
    unsigned* opt_counter = nullptr;
    GemmWorkspace gw;
    float* lrs_dev = nullptr; size_t lrs_cap = 0;
    GraphKey key;
    cudaGraphExec_t graph1 = nullptr, graph8 = nullptr;
    std::vector<void*> allocs;
};

namespace {

#define CK(call)                                   \
    do {                                           \
        cudaError_t e_ = (call);                   \
        if (e_ != cudaSuccess) return e_;          \
    } while (0)

template <typename T>
cudaError_t dalloc(d4j_cuda_net* n, T** p, size_t count) {
    void* v = nullptr;
    CK(cudaMalloc(&v, std::max<size_t>(count, 1) * sizeof(T)));
    n->allocs.push_back(v);
    *p = (T*)v;
    return cudaSuccess;
}

void free_graphs(d4j_cuda_net* n) {
    if (n->graph1) cudaGraphExecDestroy(n->graph1);
    if (n->graph8) cudaGraphExecDestroy(n->graph8);
    n->graph1 = n->graph8 = nullptr;
    n->key = GraphKey();
}

void destroy(d4j_cuda_net* n) {
    if (!n) return;
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(n->device);
    if (n->stream) cudaStreamSynchronize(n->stream);
    free_graphs(n);
    if (n->legacy_done) cudaEventDestroy(n->legacy_done);
    for (void* p : n->allocs) cudaFree(p);
    if (n->st_host) cudaFreeHost(n->st_host);
    if (n->stream) cudaStreamDestroy(n->stream);
    cudaSetDevice(prev);
    delete n;
}

int in_of(const d4j_cuda_net* n, int l) { return n->sizes[l]; }
int out_of(const d4j_cuda_net* n, int l) { return n->sizes[l + 1]; }
// Input of layer l: the batch for layer 0, else the previous output (after dropout when training).
const float* layer_input(const d4j_cuda_net* n, int l, const float* x0, bool train) {
    if (l == 0) return x0;
    return train && n->drop[l - 1] > 0.f ? n->yd[l - 1] : n->y[l - 1];
}

GemmCall base_call(const d4j_cuda_net* n, int precision, int variant) {
    GemmCall c;
    c.precision = precision;
    c.variant = variant;
    return c;
}

// Forward pass of hidden layer / final layer l over `rows` rows. train: dropout on, DevState for the hash.
// final_dst: where the last layer's GEMM writes (logits for CE/BCE, activated output for MSE).
cudaError_t forward_layers(d4j_cuda_net* n, const float* x0, int rows, bool train, float* final_dst, int prec,
                           int var, cudaStream_t s) {
    for (int l = 0; l < n->L; ++l) {
        const int in = in_of(n, l), out = out_of(n, l), act = n->acts[l];
        const bool last = l == n->L - 1;
        const float drop = train ? n->drop[l] : 0.f;
        GemmCall c = base_call(n, prec, var);
        c.M = rows; c.N = out; c.K = in;
        c.A = layer_input(n, l, x0, train); c.lda = in;
        c.B = n->params + n->woff[l]; c.ldb = out;
        c.ldc = out;
        c.ep.mode = EPI_FORWARD;
        c.ep.bias = n->params + n->woff[l] + (int64_t)in * out;
        c.ep.layer = l;
        c.ep.st = n->st;
        bool logits_only = last && n->loss != D4J_CUDA_LOSS_MSE;
        if (logits_only) {
            c.ep.act = D4J_CUDA_ACT_LINEAR;
            c.C = final_dst;
            CK(gemm(c, n->gw, s));
        } else if (act == D4J_CUDA_ACT_SOFTMAX) {
            c.ep.act = D4J_CUDA_ACT_LINEAR;
            c.C = n->z[l];
            CK(gemm(c, n->gw, s));
            float* dst = last ? final_dst : n->y[l];
            CK(activation_forward_rows(n->z[l], dst, drop > 0.f ? n->yd[l] : nullptr, rows, out, act, drop, l, n->st, s));
        } else {
            c.ep.act = act;
            c.ep.z = act == D4J_CUDA_ACT_GELU ? n->z[l] : nullptr;
            if (drop > 0.f) {
                c.C = n->yd[l];
                c.ep.y_keep = n->y[l];
                c.ep.drop = drop;
            } else {
                c.C = last ? final_dst : n->y[l];
            }
            CK(gemm(c, n->gw, s));
        }
    }
    return cudaSuccess;
}

struct TrainArgs {
    const void* x; int x_type; float x_scale;
    const int32_t* labels; const float* targets; const int32_t* order;
    int batch;
};

// Enqueues one whole training step of `rows` rows (rows == batch in graphs; the partial tail otherwise).
cudaError_t enqueue_step(d4j_cuda_net* n, const TrainArgs& a, int rows, int prec, int var, cudaStream_t s) {
    const int L = n->L, k = n->sizes[L];
    const bool sparse = n->loss == D4J_CUDA_LOSS_SPARSE_CCE;
    CK(gather(a.x, a.x_type == D4J_CUDA_DATA_U8, a.x_scale, n->sizes[0], a.order, 0, a.batch, n->st, rows, n->xb,
              sparse ? a.labels : nullptr, n->lab, sparse ? nullptr : a.targets, k, n->tgt, s));
    CK(forward_layers(n, n->xb, rows, true, n->y[L - 1], prec, var, s));
    LossSink sink{n->st, n->lrs_dev, n->optimizer, n->hp[0], n->hp[1]};
    if (n->loss <= D4J_CUDA_LOSS_CCE)
        CK(softmax_xent(sparse, n->y[L - 1], n->lab, n->tgt, n->dz[L - 1], nullptr, rows, k, 1.f, n->lw, sink, s));
    else
        CK(loss_bce_mse(n->loss, n->y[L - 1], n->z[L - 1], n->loss == D4J_CUDA_LOSS_MSE ? n->acts[L - 1] : 0, n->tgt,
                        n->dz[L - 1], nullptr, rows, k, 1.f, n->lw, sink, s));
    for (int l = L - 1; l >= 0; --l) {
        const int in = in_of(n, l), out = out_of(n, l);
        GemmCall w = base_call(n, prec, var);
        w.ta = true; w.a_ones_row = true;
        w.M = in + 1; w.N = out; w.K = rows;
        w.A = layer_input(n, l, n->xb, true); w.lda = in;
        w.B = n->dz[l]; w.ldb = out;
        w.C = n->grads + n->woff[l]; w.ldc = out;
        CK(gemm(w, n->gw, s));
        if (l > 0) {
            const int pact = n->acts[l - 1];
            GemmCall d = base_call(n, prec, var);
            d.tb = true;
            d.M = rows; d.N = in; d.K = out;
            d.A = n->dz[l]; d.lda = out;
            d.B = n->params + n->woff[l]; d.ldb = out;
            d.C = n->dz[l - 1]; d.ldc = in;
            d.ep.mode = EPI_BACKWARD;
            d.ep.act = pact == D4J_CUDA_ACT_SOFTMAX ? D4J_CUDA_ACT_LINEAR : pact;
            d.ep.y = n->y[l - 1];
            d.ep.zin = n->z[l - 1];
            d.ep.drop = n->drop[l - 1];
            d.ep.layer = l - 1;
            d.ep.st = n->st;
            CK(gemm(d, n->gw, s));
            if (pact == D4J_CUDA_ACT_SOFTMAX)
                CK(activation_backward(nullptr, n->y[l - 1], nullptr, n->dz[l - 1], n->dz[l - 1], rows, in, pact, s));
        }
    }
    if (n->clip_norm > 0.f) CK(grad_norm(n->grads, n->n_params, n->clip_norm, n->clip_value, n->lw, n->st, s));
    OptHyper oh;
    oh.kind = n->optimizer;
    for (int i = 0; i < 5; ++i) oh.h[i] = n->hp[i];
    oh.clip_value = n->clip_value;
    CK(optimizer_update(oh, n->params, n->grads, n->state, n->n_params, n->st, n->opt_counter, s));
    return cudaSuccess;
}

cudaError_t capture(d4j_cuda_net* n, const TrainArgs& a, int steps, int prec, int var, cudaGraphExec_t* out) {
    cudaGraph_t g = nullptr;
    CK(cudaStreamBeginCapture(n->stream, cudaStreamCaptureModeThreadLocal));
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < steps && e == cudaSuccess; ++i) e = enqueue_step(n, a, a.batch, prec, var, n->stream);
    cudaError_t e2 = cudaStreamEndCapture(n->stream, &g);
    if (e == cudaSuccess) e = e2;
    if (e == cudaSuccess) e = cudaGraphInstantiate(out, g, 0);
    if (g) cudaGraphDestroy(g);
    return e;
}

bool act_ok(int a) { return a >= D4J_CUDA_ACT_LINEAR && a <= D4J_CUDA_ACT_SOFTMAX; }

// The network's stream is non-blocking (so that graph capture never meets the legacy stream's implicit
// synchronisation), hence NOT ordered after the caller's single ops, d4j_cuda_memset, the DMA tail of a pageable
// d4j_cuda_memcpy_h2d, or the cudaMemsets of d4j_cuda_net_create, all on the legacy default stream. Every network
// call therefore first makes its stream wait for everything enqueued on the legacy stream so far (never inside a
// capture: it runs before any).
cudaError_t join_legacy(d4j_cuda_net* n) {
    CK(cudaEventRecord(n->legacy_done, cudaStreamLegacy));
    return cudaStreamWaitEvent(n->stream, n->legacy_done, 0);
}

// Every failure of a network call after its first enqueue: first wait for what this call already put on the
// stream (above all the asynchronous copy to or from the pinned st_host, which the next call clears and refills
// on the host), then report the original error. The stream's own error, if any, is this failure or a later one.
int sync_and_fail(d4j_cuda_net* n, cudaError_t e, const char* what) {
    cudaStreamSynchronize(n->stream);
    return cuda_fail(e, what);
}

}  // namespace

extern "C" {

d4j_cuda_net* d4j_cuda_net_create(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout,
                                  int loss, int max_batch, float* params, float* grads, int optimizer,
                                  const float* opt_hp, float* opt_state, float clip_norm, float clip_value) {
    if (n_layers <= 0 || !sizes || !acts || max_batch <= 0 || !params || loss < 0 || loss > D4J_CUDA_LOSS_MSE) {
        set_error(D4J_CUDA_ERR_ARGUMENT, "invalid network arguments");
        return nullptr;
    }
    for (int l = 0; l <= n_layers; ++l)
        if (sizes[l] <= 0) { set_error(D4J_CUDA_ERR_ARGUMENT, "layer size %d is %d", l, sizes[l]); return nullptr; }
    for (int l = 0; l < n_layers; ++l) {
        if (!act_ok(acts[l])) { set_error(D4J_CUDA_ERR_ARGUMENT, "unknown activation %d", acts[l]); return nullptr; }
        float d = dropout ? dropout[l] : 0.f;
        if (!(d >= 0.f && d < 1.f) || (d > 0.f && l == n_layers - 1)) {
            set_error(D4J_CUDA_ERR_ARGUMENT, "dropout %g of layer %d not supported (must be in [0,1), none on the last layer)", d, l);
            return nullptr;
        }
    }
    const int last_act = acts[n_layers - 1];
    if ((loss <= D4J_CUDA_LOSS_CCE && last_act != D4J_CUDA_ACT_SOFTMAX && last_act != D4J_CUDA_ACT_LINEAR) ||
        (loss == D4J_CUDA_LOSS_BCE && last_act != D4J_CUDA_ACT_SIGMOID && last_act != D4J_CUDA_ACT_LINEAR)) {
        set_error(D4J_CUDA_ERR_ARGUMENT, "loss %d needs a softmax/sigmoid or linear last layer, not activation %d", loss, last_act);
        return nullptr;
    }
    if (grads && (optimizer < D4J_CUDA_OPT_SGD || optimizer > D4J_CUDA_OPT_RMSPROP || !opt_hp || !opt_state)) {
        set_error(D4J_CUDA_ERR_ARGUMENT, "a trainable network needs a valid optimizer, hp and state");
        return nullptr;
    }
    auto* n = new d4j_cuda_net();
    n->L = n_layers;
    n->sizes.assign(sizes, sizes + n_layers + 1);
    n->acts.assign(acts, acts + n_layers);
    n->drop.assign(n_layers, 0.f);
    if (dropout) n->drop.assign(dropout, dropout + n_layers);
    n->loss = loss; n->max_batch = max_batch; n->optimizer = optimizer;
    if (opt_hp) for (int i = 0; i < 5; ++i) n->hp[i] = opt_hp[i];
    n->clip_norm = clip_norm; n->clip_value = clip_value;
    n->params = params; n->grads = grads; n->state = opt_state;
    n->n_params = d4j_cuda_param_count(n_layers, sizes);
    int64_t off = 0;
    for (int l = 0; l < n_layers; ++l) { n->woff.push_back(off); off += (int64_t)sizes[l] * sizes[l + 1] + sizes[l + 1]; }

    cudaError_t e = cudaGetDevice(&n->device);
    sm_count();  // cache the SM count now: GEMM planning must not query the device while a graph is captured
    auto fail = [&](cudaError_t err, const char* what) -> d4j_cuda_net* { cuda_fail(err, what); destroy(n); return nullptr; };
    if (e != cudaSuccess) return fail(e, "cudaGetDevice");
    if ((e = cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking)) != cudaSuccess) return fail(e, "cudaStreamCreate");
    if ((e = cudaEventCreateWithFlags(&n->legacy_done, cudaEventDisableTiming)) != cudaSuccess) return fail(e, "cudaEventCreate");
    const size_t B = (size_t)max_batch;
    if ((e = dalloc(n, &n->xb, B * sizes[0])) != cudaSuccess) return fail(e, "cudaMalloc");
    size_t ws = 0;
    n->y.assign(n_layers, nullptr); n->yd.assign(n_layers, nullptr); n->z.assign(n_layers, nullptr); n->dz.assign(n_layers, nullptr);
    for (int l = 0; l < n_layers; ++l) {
        const size_t out = sizes[l + 1], in = sizes[l];
        if ((e = dalloc(n, &n->y[l], B * out)) != cudaSuccess) return fail(e, "cudaMalloc");
        if ((e = dalloc(n, &n->dz[l], B * out)) != cudaSuccess) return fail(e, "cudaMalloc");
        if (n->drop[l] > 0.f && (e = dalloc(n, &n->yd[l], B * out)) != cudaSuccess) return fail(e, "cudaMalloc");
        if ((acts[l] == D4J_CUDA_ACT_GELU || acts[l] == D4J_CUDA_ACT_SOFTMAX) && (e = dalloc(n, &n->z[l], B * out)) != cudaSuccess)
            return fail(e, "cudaMalloc");
        ws = std::max(ws, gemm_workspace_floats(max_batch, (int)out, (int)in));
        ws = std::max(ws, gemm_workspace_floats((int)in + 1, (int)out, max_batch));
        ws = std::max(ws, gemm_workspace_floats(max_batch, (int)in, (int)out));
    }
    if ((e = dalloc(n, &n->lab, B)) != cudaSuccess) return fail(e, "cudaMalloc");
    if ((e = dalloc(n, &n->tgt, B * sizes[n_layers])) != cudaSuccess) return fail(e, "cudaMalloc");
    if ((e = dalloc(n, &n->st, 1)) != cudaSuccess) return fail(e, "cudaMalloc");
    if ((e = dalloc(n, &n->st_eval, 1)) != cudaSuccess) return fail(e, "cudaMalloc");
    if ((e = dalloc(n, &n->lw.partial, 2 * kLossBlocksMax)) != cudaSuccess) return fail(e, "cudaMalloc");
    unsigned* counters = nullptr;
    if ((e = dalloc(n, &counters, kGemmCounters + 2)) != cudaSuccess) return fail(e, "cudaMalloc");
    if ((e = cudaMemset(counters, 0, (kGemmCounters + 2) * sizeof(unsigned))) != cudaSuccess) return fail(e, "cudaMemset");
    n->lw.counter = counters;
    n->opt_counter = counters + 1;
    n->gw.counters = counters + 2;
    n->gw.n_counters = kGemmCounters;
    if ((e = dalloc(n, &n->gw.ws, ws)) != cudaSuccess) return fail(e, "cudaMalloc(workspace)");
    n->gw.ws_floats = ws;
    if ((e = cudaMallocHost(&n->st_host, sizeof(DevState))) != cudaSuccess) return fail(e, "cudaMallocHost");
    memset(n->st_host, 0, sizeof(DevState));
    if ((e = cudaMemset(n->st, 0, sizeof(DevState))) != cudaSuccess) return fail(e, "cudaMemset");
    return n;
}

void d4j_cuda_net_destroy(d4j_cuda_net* net) { destroy(net); }

int d4j_cuda_net_train(d4j_cuda_net* n, const void* x, int x_type, float x_scale, const int32_t* labels,
                       const float* targets, const int32_t* order, int64_t n_order, int64_t first, int batch,
                       int n_batches, const float* lrs, int64_t* step, uint64_t seed, double* stats) {
    if (!n || !n->grads || !x || (x_type != D4J_CUDA_DATA_F32 && x_type != D4J_CUDA_DATA_U8) || batch <= 0 ||
        batch > n->max_batch || n_batches < 0 || first < 0 || !step || *step < 0 || (n_batches > 0 && !lrs) ||
        (n->loss == D4J_CUDA_LOSS_SPARSE_CCE ? !labels : !targets))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid train arguments");
    if (n_batches == 0) return D4J_CUDA_OK;
    // As d4j_net_train: a non-finite learning rate is an argument error, never an update that poisons the
    // parameters (the loss check only sees it one step later).
    for (int i = 0; i < n_batches; ++i)
        if (!std::isfinite(lrs[i])) return set_error(D4J_CUDA_ERR_ARGUMENT, "learning rate %d is not finite", i);
    if (first >= n_order || (int64_t)(n_batches - 1) > (n_order - 1 - first) / batch)  // (the sum could overflow)
        return set_error(D4J_CUDA_ERR_ARGUMENT, "%d batches of %d from position %lld run past the %lld rows of order",
                         n_batches, batch, (long long)first, (long long)n_order);
    int64_t last_rows = std::min<int64_t>(batch, n_order - (first + (int64_t)(n_batches - 1) * batch));
    const int full = last_rows == batch ? n_batches : n_batches - 1;
    const int tail = last_rows == batch ? 0 : (int)last_rows;
    cudaError_t e;
    if ((e = cudaSetDevice(n->device)) != cudaSuccess) return sync_and_fail(n, e, "cudaSetDevice");
    if ((e = join_legacy(n)) != cudaSuccess) return sync_and_fail(n, e, "cudaStreamWaitEvent(legacy stream)");
    const int prec = current_precision(), var = current_variant();
    // Learning rates of this call, to the device (read by the loss kernel's bookkeeping).
    if ((size_t)n_batches > n->lrs_cap) {
        cudaStreamSynchronize(n->stream);
        free_graphs(n);  // the graphs point at the old buffer
        if (n->lrs_dev) {
            cudaFree(n->lrs_dev);
            n->allocs.erase(std::find(n->allocs.begin(), n->allocs.end(), (void*)n->lrs_dev));
            n->lrs_dev = nullptr;
        }
        size_t cap = std::max<size_t>(n_batches, 2048);
        if ((e = dalloc(n, &n->lrs_dev, cap)) != cudaSuccess) { n->lrs_cap = 0; return sync_and_fail(n, e, "cudaMalloc(lrs)"); }
        n->lrs_cap = cap;
    }
    if ((e = cudaMemcpyAsync(n->lrs_dev, lrs, sizeof(float) * n_batches, cudaMemcpyHostToDevice, n->stream)) != cudaSuccess)
        return sync_and_fail(n, e, "cudaMemcpyAsync(lrs)");
    DevState* h = n->st_host;
    memset(h, 0, sizeof *h);
    h->seed = seed; h->step = *step; h->t = *step; h->first = first; h->clip_factor = 1.f; h->bc1 = h->bc2 = 1.0;
    if ((e = cudaMemcpyAsync(n->st, h, sizeof *h, cudaMemcpyHostToDevice, n->stream)) != cudaSuccess)
        return sync_and_fail(n, e, "cudaMemcpyAsync(state)");
    if (n->loss == D4J_CUDA_LOSS_SPARSE_CCE &&
        (e = check_labels(labels, order, first, (int64_t)(n_batches - 1) * batch + last_rows, n->sizes[n->L], n->st,
                          n->stream)) != cudaSuccess)
        return sync_and_fail(n, e, "label check kernel");
    TrainArgs a{x, x_type, x_scale, labels, targets, order, batch};
    if (full > 0) {
        GraphKey k;
        k.x = x; k.x_type = x_type; k.x_scale = x_scale; k.labels = labels; k.targets = targets; k.order = order;
        k.batch = batch; k.precision = prec; k.variant = var; k.lrs = n->lrs_dev;
        if (!(k == n->key)) { free_graphs(n); n->key = k; }
        int done = 0;
        if (full >= 8) {
            if (!n->graph8 && (e = capture(n, a, 8, prec, var, &n->graph8)) != cudaSuccess) {
                free_graphs(n);
                return sync_and_fail(n, e, "CUDA graph capture (8 steps)");
            }
            for (; done + 8 <= full; done += 8)
                if ((e = cudaGraphLaunch(n->graph8, n->stream)) != cudaSuccess) return sync_and_fail(n, e, "cudaGraphLaunch");
        }
        if (done < full) {
            if (!n->graph1 && (e = capture(n, a, 1, prec, var, &n->graph1)) != cudaSuccess) {
                free_graphs(n);
                return sync_and_fail(n, e, "CUDA graph capture");
            }
            for (; done < full; ++done)
                if ((e = cudaGraphLaunch(n->graph1, n->stream)) != cudaSuccess) return sync_and_fail(n, e, "cudaGraphLaunch");
        }
    }
    if (tail > 0 && (e = enqueue_step(n, a, tail, prec, var, n->stream)) != cudaSuccess) return sync_and_fail(n, e, "training step");
    if ((e = cudaMemcpyAsync(h, n->st, sizeof *h, cudaMemcpyDeviceToHost, n->stream)) != cudaSuccess)
        return sync_and_fail(n, e, "cudaMemcpyAsync(state)");
    if ((e = cudaStreamSynchronize(n->stream)) != cudaSuccess) return sync_and_fail(n, e, "training step (asynchronous error)");
    if (h->bad_label) return bad_label_error(h->bad_label, labels, order, n->sizes[n->L]);
    *step = h->step;
    if (stats) { stats[0] += h->loss_sum; stats[1] += h->correct; stats[2] += h->rows; }
    if (h->nonfinite)
        return set_error(D4J_CUDA_ERR_NONFINITE, "the loss became NaN or infinite at step %lld; training stopped before that update",
                         (long long)h->step + 1);
    return D4J_CUDA_OK;
}

int d4j_cuda_net_forward(d4j_cuda_net* n, const void* x, int x_type, float x_scale, int64_t rows_total, float* out,
                         const int32_t* labels, const float* targets, double* stats) {
    if (!n || !x || rows_total < 0 || (x_type != D4J_CUDA_DATA_F32 && x_type != D4J_CUDA_DATA_U8))
        return set_error(D4J_CUDA_ERR_ARGUMENT, "invalid forward arguments");
    const bool sparse = n->loss == D4J_CUDA_LOSS_SPARSE_CCE;
    const bool with_loss = stats && (sparse ? labels != nullptr : targets != nullptr);
    cudaError_t e;
    if ((e = cudaSetDevice(n->device)) != cudaSuccess) return sync_and_fail(n, e, "cudaSetDevice");
    cudaStream_t s = n->stream;
    if ((e = join_legacy(n)) != cudaSuccess) return sync_and_fail(n, e, "cudaStreamWaitEvent(legacy stream)");
    const int prec = current_precision(), var = current_variant();
    const int L = n->L, k = n->sizes[L], in0 = n->sizes[0], last_act = n->acts[L - 1];
    if (with_loss && (e = cudaMemsetAsync(n->st_eval, 0, sizeof(DevState), s)) != cudaSuccess) return sync_and_fail(n, e, "cudaMemsetAsync");
    if (with_loss && sparse && (e = check_labels(labels, nullptr, 0, rows_total, k, n->st_eval, s)) != cudaSuccess)
        return sync_and_fail(n, e, "label check kernel");
    // The eval loss kernel accumulates into st_eval; forward_layers uses n->st only for dropout (off here).
    for (int64_t start = 0; start < rows_total; start += n->max_batch) {
        const int rows = (int)std::min<int64_t>(n->max_batch, rows_total - start);
        const float* x0;
        if (x_type == D4J_CUDA_DATA_F32 && x_scale == 1.f) {
            x0 = (const float*)x + start * in0;
        } else {
            if ((e = gather(x, x_type == D4J_CUDA_DATA_U8, x_scale, in0, nullptr, start, 0, nullptr, rows, n->xb, nullptr,
                            nullptr, nullptr, 0, nullptr, s)) != cudaSuccess)
                return sync_and_fail(n, e, "gather kernel");
            x0 = n->xb;
        }
        float* out_chunk = out ? out + start * k : nullptr;
        const bool ce = n->loss != D4J_CUDA_LOSS_MSE;
        float* dst = (out_chunk && (!ce || last_act == D4J_CUDA_ACT_LINEAR)) ? out_chunk : n->y[L - 1];
        if ((e = forward_layers(n, x0, rows, false, dst, prec, var, s)) != cudaSuccess) return sync_and_fail(n, e, "forward pass");
        float* probs = (out_chunk && ce && last_act != D4J_CUDA_ACT_LINEAR) ? out_chunk : nullptr;
        if (with_loss) {
            LossSink sink{n->st_eval, nullptr, 0, 0.f, 0.f};
            const int32_t* lab = sparse ? labels + start : nullptr;
            const float* tg = sparse ? nullptr : targets + start * k;
            if (n->loss <= D4J_CUDA_LOSS_CCE)
                e = softmax_xent(sparse, dst, lab, tg, nullptr, probs, rows, k, 1.f, n->lw, sink, s);
            else
                e = loss_bce_mse(n->loss, dst, nullptr, 0, tg, nullptr, probs, rows, k, 1.f, n->lw, sink, s);
            if (e != cudaSuccess) return sync_and_fail(n, e, "loss kernel");
        } else if (probs) {
            if ((e = activation_forward_rows(dst, probs, nullptr, rows, k, last_act, 0.f, 0, nullptr, s)) != cudaSuccess)
                return sync_and_fail(n, e, "output activation");
        }
    }
    DevState* h = n->st_host;
    if (with_loss && (e = cudaMemcpyAsync(h, n->st_eval, sizeof *h, cudaMemcpyDeviceToHost, s)) != cudaSuccess)
        return sync_and_fail(n, e, "cudaMemcpyAsync(stats)");
    if ((e = cudaStreamSynchronize(s)) != cudaSuccess) return sync_and_fail(n, e, "forward pass (asynchronous error)");
    if (with_loss && h->bad_label) return bad_label_error(h->bad_label, labels, nullptr, k);
    if (with_loss) { stats[0] += h->loss_sum; stats[1] += h->correct; stats[2] += h->rows; }
    return D4J_CUDA_OK;
}

}  // extern "C"
