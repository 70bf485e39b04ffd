/*
 * Dense4J CPU kernel API (C ABI, bound to Java by JavaCPP in io.dense4j.nativelib.CpuKernels).
 *
 * Conventions for every function here:
 *  - all matrices are row-major float32; a batch of n rows of width k is float[n*k];
 *  - a Dense layer with `in` inputs and `out` units has kernel W float[in*out] (Keras layout: y = x.W + b)
 *    and bias b float[out];
 *  - the parameter buffer of a network is ONE contiguous float array: W0, b0, W1, b1, ... in layer order;
 *    gradients and optimizer state use the same layout;
 *  - output buffers are overwritten (never accumulated into) unless said otherwise;
 *  - nothing here allocates per call except d4j_net_create and d4j_alloc_pages;
 *  - invalid arguments (NULL where required, sizes <= 0, unknown enums) never crash: the void single ops
 *    then write nothing, d4j_loss and d4j_clip_gradients return NaN, d4j_param_count -1,
 *    d4j_net_create NULL and the network calls D4J_ERR_ARGUMENT.
 */
#ifndef DENSE4J_H
#define DENSE4J_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activations. GELU is the exact (erf) form, as Keras and PyTorch default to. */
enum {
    D4J_ACT_LINEAR = 0,
    D4J_ACT_RELU = 1,
    D4J_ACT_SIGMOID = 2,
    D4J_ACT_TANH = 3,
    D4J_ACT_GELU = 4,
    D4J_ACT_SOFTMAX = 5 /* over the last axis; meant for the last layer */
};

/* Losses. Per-sample loss: CE losses sum over classes; BCE and MSE average over the last axis (Keras). */
enum {
    D4J_LOSS_SPARSE_CCE = 0, /* int32 labels, softmax (or linear = from logits) output */
    D4J_LOSS_CCE = 1,        /* float one-hot / probability targets, softmax (or linear) output */
    D4J_LOSS_BCE = 2,        /* float 0/1 targets, sigmoid (or linear = from logits) output */
    D4J_LOSS_MSE = 3         /* float targets, any output activation */
};

/* Optimizers, formulas exactly as the PyTorch documentation gives them (torch.optim.*). */
enum {
    D4J_OPT_SGD = 0,     /* hp = {momentum, dampening, weight_decay, nesterov(0|1)} */
    D4J_OPT_ADAM = 1,    /* hp = {beta1, beta2, eps, weight_decay (L2, added to the gradient), amsgrad(0|1)} */
    D4J_OPT_ADAMW = 2,   /* hp = {beta1, beta2, eps, weight_decay (decoupled), amsgrad(0|1)} */
    D4J_OPT_RMSPROP = 3  /* hp = {alpha, eps, weight_decay, momentum, centered(0|1)} */
};
#define D4J_OPT_HP_COUNT 5      /* hp arrays always hold 5 floats (unused ones 0) */
#define D4J_OPT_STATE_PER_PARAM 3 /* optimizer state buffers hold 3*n floats, zero-initialised by the caller */

/* Return codes. */
enum {
    D4J_OK = 0,
    D4J_ERR_ARGUMENT = 1,   /* a size, enum or pointer argument is invalid */
    D4J_ERR_NONFINITE = 2,  /* the loss became NaN or infinite: training stopped before the update */
    D4J_ERR_MEMORY = 3      /* allocation failed */
};

/* ---- threads ---------------------------------------------------------------------------------------- */
/* Sets the threads of the CPU kernels (our own pool, which runs every product). n <= 0 means one per
 * core. The pool never runs more threads than CPUs the process may use, and runs serially while it sees its
 * workers descheduled (another process holding a core), so any n is safe. Results depend on the kernel
 * variant (d4j_set_isa), never on the thread count. d4j_get_num_threads returns the count last set (for a thread
 * with a private team, d4j_set_caller_threads, its team's). */
void d4j_set_num_threads(int n);
int d4j_get_num_threads(void);

/* Counters of the thread pool since the library loaded, into out[6]: regions run in parallel; regions run
 * serially because parallel was measured slower (or to measure serial); regions run serially because another
 * thread was using the pool; switches to serial; parallel regions where the caller had to sleep for a
 * descheduled worker; parallel regions no worker joined. */
void d4j_thread_stats(int64_t* out);

/* Gives the CALLING thread a private team of n threads (itself and n - 1 workers it owns, parked when idle,
 * capped at the CPUs the process may use), or with n <= 0 returns it to the shared pool and ends its workers
 * (they also end with the thread). Every parallel region the thread starts then runs on its own team, so two
 * callers (two training jobs) each get exactly their threads and never turn each other serial; the shared pool
 * (d4j_set_num_threads) is left alone. While a team is set, d4j_get_num_threads and d4j_thread_stats answer for
 * it. Results stay those of every other thread count. d4j_get_caller_threads: the count set, 0 for none. */
void d4j_set_caller_threads(int n);
int d4j_get_caller_threads(void);

/* ---- kernel variant ----------------------------------------------------------------------------------- */
/* The hand-written GEMM kernels of the CPU path exist per instruction set; the best one the CPU supports is
 * chosen when the library loads, or the one named by the environment variable D4J_CPU_ISA
 * (portable|avx2|avx512|auto). */
enum {
    D4J_ISA_AUTO = -1,
    D4J_ISA_PORTABLE = 0,  /* plain C++ (fused multiply-add per element), any x86-64 */
    D4J_ISA_AVX2 = 1,      /* AVX2 + FMA */
    D4J_ISA_AVX512 = 2     /* AVX-512 F/VL/BW/DQ */
};
/* Forces a variant (D4J_ISA_AUTO: the best supported). Returns D4J_OK, or D4J_ERR_ARGUMENT when this CPU
 * cannot run it (nothing changes then). */
int d4j_set_isa(int isa);
int d4j_get_isa(void);
/* 1 when this CPU can run the variant, else 0. */
int d4j_isa_supported(int isa);

/* ---- single ops (also used by tests and benchmarks) -------------------------------------------------- */

/* z = x.W + b, y = act(z). x [n,in], W [in,out], b [out], z and y [n,out].
 * z may be NULL: then the pre-activation is not kept (only GELU's backward pass needs it). */
void d4j_dense_forward(const float* x, const float* w, const float* b, float* z, float* y,
                       int n, int in, int out, int act);

/* dz = dy (.) act'(z) given the layer's pre-activation z (may be NULL unless act is GELU) and its output y,
 * after first applying a dropout mask: dy is multiplied elementwise by mask when mask != NULL.
 * For softmax this is the Jacobian-vector product dz_i = y_i (dy_i - sum_j dy_j y_j). dz may alias dy. */
void d4j_activation_backward(const float* z, const float* y, const float* mask, const float* dy, float* dz,
                             int n, int k, int act);

/* Given dz [n,out] (gradient of the loss w.r.t. the pre-activation), x [n,in] and W [in,out]:
 *   dW = x^T.dz [in,out], db = column sums of dz [out], and, when dx != NULL, dx = dz.W^T [n,in].
 * The input gradient of the first layer is never needed: pass dx = NULL to skip that GEMM. */
void d4j_dense_backward(const float* x, const float* w, const float* dz, float* dw, float* db, float* dx,
                        int n, int in, int out);

/* Loss over a batch of n rows with k outputs, fused with its gradient.
 *  - out: for SPARSE_CCE / CCE / BCE the final layer's PRE-activation (logits; softmax or sigmoid is applied
 *    here in a numerically stable way); for MSE the final layer's activated output.
 *  - labels (SPARSE_CCE, int32 [n]) or targets (others, float [n,k]).
 *  - grad (may be NULL): written with d(mean loss)/d(out) * grad_scale, where mean is over the n rows,
 *    i.e. grad_scale = 1 for a plain batch mean. For MSE the caller still applies the activation derivative.
 *  - probs (may be NULL): the activated output (softmax / sigmoid probabilities; for MSE a copy is not made).
 * Returns the SUM over rows of the per-sample loss; *correct (may be NULL) gets the number of correct
 * predictions: argmax match for the CE losses, elements with (p >= 0.5) == (t >= 0.5) for BCE, 0 for MSE. */
double d4j_loss(int loss, const float* out, const int32_t* labels, const float* targets, float* grad,
                float* probs, int n, int k, float grad_scale, int64_t* correct);

/* Clips in place: first every element to [-clip_value, clip_value] when clip_value > 0, then the whole
 * buffer by its global L2 norm when max_norm > 0 (PyTorch clip_grad_norm_: scale by max_norm/(norm+1e-6)
 * when that is < 1). Returns the L2 norm after value clipping and before norm clipping. */
float d4j_clip_gradients(float* grads, int64_t n, float max_norm, float clip_value);

/* One optimizer update over the whole contiguous parameter buffer. step is 1 for the first update.
 * state holds D4J_OPT_STATE_PER_PARAM * n floats, zero before the first step. */
void d4j_optimizer_step(int kind, const float* hp, float lr, int64_t step, float* params, const float* grads,
                        float* state, int64_t n);

/* ---- whole network (the training engine) ------------------------------------------------------------ */

typedef struct d4j_net d4j_net;

/* Creates a network over caller-owned buffers (params, grads, opt_state are borrowed, never freed here).
 * sizes [n_layers+1], acts [n_layers], dropout [n_layers] (rate applied to each layer's output during
 * training only; 0 = none). grads / opt_state may be NULL for an inference-only network.
 * max_batch bounds the rows of one step or one forward chunk (the workspace is sized for it).
 * Returns NULL on invalid arguments or allocation failure. A network is not thread-safe: give each thread
 * its own (several networks may share one read-only params buffer for inference). */
d4j_net* d4j_net_create(int n_layers, const int32_t* sizes, const int32_t* acts, const float* dropout,
                        int loss, int max_batch, float* params, float* grads,
                        int optimizer, const float* opt_hp, float* opt_state,
                        float clip_norm, float clip_value);
void d4j_net_destroy(d4j_net* net);

/* The network's optimizer state is D4J_OPT_STATE_PER_PARAM slots of n_params floats (m, v, vmax), by default back
 * to back. d4j_net_set_opt_stride tells it that the caller's buffer holds them `stride` floats apart instead
 * (stride >= n_params; the buffer then holds D4J_OPT_STATE_PER_PARAM * stride floats); call it before the first
 * training step. d4j_opt_state_stride(n) is the stride that starts every slot on a 64-byte line when the buffer
 * does (n rounded up to 16 floats): then the threads of a step that update different columns of a layer never
 * write one cache line of the state (with n not a multiple of 16, the second slot's rows straddle lines).
 * d4j_opt_state_stride returns -1 for n <= 0; d4j_net_set_opt_stride returns D4J_ERR_ARGUMENT for a NULL or
 * inference-only network or a stride below n_params. */
int64_t d4j_opt_state_stride(int64_t n_params);
int d4j_net_set_opt_stride(d4j_net* net, int64_t stride);

/* Number of floats in the parameter buffer for these layer sizes. */
int64_t d4j_param_count(int n_layers, const int32_t* sizes);

/* Runs n_batches training steps in ONE call. Step s uses the rows order[first + s*batch ...] up to
 * order[n_order-1] (so the last batch of an epoch may be partial), gathered from x [N,in] and
 * labels [N] (SPARSE_CCE) or targets [N,out] (other losses). lrs[s] is the learning rate of step s.
 * *step is the optimizer step counter before the call and is advanced by each update. seed makes dropout
 * masks reproducible: the mask is dense4j_dropout.h's function of (seed, updates before the step, layer,
 * element), the same one the CUDA engine draws.
 * stats (double[3], may be NULL) is ACCUMULATED into: loss sum, correct count, rows.
 * Everything this call would read (row indices >= 0, labels in range, finite lrs) is checked before the first
 * step. Training and inference run with subnormal floats flushed to zero (FTZ/DAZ, the caller's floating-point
 * mode is restored on return), so that decaying optimizer state never hits the slow subnormal path. */
int d4j_net_train(d4j_net* net, const float* x, const int32_t* labels, const float* targets,
                  const int32_t* order, int64_t n_order, int64_t first, int batch, int n_batches,
                  const float* lrs, int64_t* step, uint64_t seed, double* stats);

/* Seconds spent by d4j_net_train in each phase of its steps since the network was created, accumulated:
 * out[0] gathering the batch rows, [1] forward, [2] loss and its gradient, [3] input gradients (with the
 * activation derivatives), [4] weight gradients with the optimizer update (unless global-norm clipping),
 * [5] global-norm clipping and the update after it, [6] whole steps. Writes min(n, D4J_NET_PHASES) values
 * and returns how many (0 for a NULL net or out). */
#define D4J_NET_PHASES 7
int d4j_net_phase_seconds(d4j_net* net, double* out, int n);

/* Exact-zero skipping in the first layer's weight gradient (cpu/sparse_input.inc): dW = x^T dz leaves out the
 * terms of inputs that are exactly +-0, in each block of 64 inputs where at most max_density of the batch's x are
 * non-zero (image rows: Fashion-MNIST is 50% zero pixels). The results are the same bits as without it (a zero
 * term adds nothing; except that 0 * an infinite or NaN dz, which never reaches the weight gradient of a finite
 * step, would be NaN). Applies to batches of up to 256 rows. max_density in [0, 1]: 0 never, 1 in every block;
 * the default, D4J_SPARSE_INPUT_DENSITY, is measured (above it the dense kernel is as fast). Returns D4J_OK, or
 * D4J_ERR_ARGUMENT (nothing changed). d4j_net_sparse_steps: the steps of d4j_net_train since the network was
 * created that skipped zeros in at least one block. */
#define D4J_SPARSE_INPUT_DENSITY 0.75f
int d4j_net_set_sparse_input(d4j_net* net, float max_density);
int64_t d4j_net_sparse_steps(d4j_net* net);

/* The steps of d4j_net_train since the network was created that ran the column-parallel step (cpu/column_step.h;
 * ON unless D4J_COLUMN_STEP=0 is in the environment when the network is created): a two-layer network whose shape
 * allows it (layer 0 tall, its width a multiple of 16 and at least 128, a narrow last layer), in every call made at
 * 2+ threads (layer 0's weights and bias and layer 1's weights then live in the engine's own panels during the
 * call: the caller's buffers are read at the call's start and written at its end, also when it fails with a
 * non-finite loss; the gradient buffer then holds the last step's gradient after a call that completes, and is
 * unspecified after one that fails; the panels take 5 floats per weight of layer 0 (and of b0 and W1), plus 4 KB
 * per 64 hidden units, allocated by d4j_net_create when the process may use 2+ CPUs).
 * Results are the same bits at any thread count; this says which step ran. 0 for NULL. */
int64_t d4j_net_column_steps(d4j_net* net);

/* Memory for large buffers (the Java API's tensors of 2 MB and more: training sets, big layers), in 2 MB pages
 * where the system grants them: 2 MB aligned and, on Linux, advised with madvise(MADV_HUGEPAGE) before its first
 * touch (transparent huge pages in "madvise" mode, as most distributions set it; "never" leaves 4 KB pages, no
 * error). Random row reads over a set much larger than the caches then miss the TLB far less (RESULTS.md,
 * "Session 7"). Zero-filled. Returns NULL when the memory cannot be had (or bytes overflows). Free it exactly once
 * with d4j_free_pages, passing the same byte count; d4j_free_pages(NULL, n) does nothing. */
void* d4j_alloc_pages(size_t bytes);
void d4j_free_pages(void* p, size_t bytes);

/* ---- data sets kept as bytes ------------------------------------------------------------------------ */
/* Formats of the training or inference rows x of d4j_net_train_data / d4j_net_forward_data:
 *  - D4J_DATA_F32: float [N, in], as d4j_net_train (x_divisor must be 1);
 *  - D4J_DATA_U8: uint8 [N, in], each byte b standing for b / x_divisor (IEEE float32 division, e.g. 255 for image
 *    pixels in [0, 1]: exactly the floats i / 255f a reader converting the whole set up front gives, so training on
 *    the bytes ends with the same bits as on those floats). The rows are converted while they are gathered: the set
 *    is a quarter of the float set's size, and a step reads a quarter of the bytes from memory.
 * x_divisor must be finite and > 0 and 255 / x_divisor finite (D4J_ERR_ARGUMENT otherwise). */
enum { D4J_DATA_F32 = 0, D4J_DATA_U8 = 1 };
/* d4j_net_train over rows x in format x_type (everything else, checks included, as d4j_net_train). */
int d4j_net_train_data(d4j_net* net, const void* x, int x_type, float x_divisor, const int32_t* labels,
                       const float* targets, const int32_t* order, int64_t n_order, int64_t first, int batch,
                       int n_batches, const float* lrs, int64_t* step, uint64_t seed, double* stats);
/* d4j_net_forward over rows x in format x_type. */
int d4j_net_forward_data(d4j_net* net, const void* x, int x_type, float x_divisor, int64_t n, float* out,
                         const int32_t* labels, const float* targets, double* stats);
/* The conversion alone: out[r, :] = data[order[r], :] / divisor (order NULL: row r), uint8 data of width bytes per
 * row, float out [rows, width]. Returns D4J_OK, or D4J_ERR_ARGUMENT (NULL data or out, width <= 0, rows < 0, a
 * negative index, a divisor refused as by d4j_net_train_data; nothing written). */
int d4j_gather_u8(const uint8_t* data, float divisor, int width, const int32_t* order, int rows, float* out);

/* Inference over n rows (any n; processed in chunks of max_batch), no dropout.
 * out (may be NULL) gets the activated outputs [n, out_last]. When labels or targets are given,
 * stats (double[3]) is ACCUMULATED with loss sum, correct count and rows, as in training. */
int d4j_net_forward(d4j_net* net, const float* x, int64_t n, float* out,
                    const int32_t* labels, const float* targets, double* stats);

#ifdef __cplusplus
}
#endif

#endif /* DENSE4J_H */
